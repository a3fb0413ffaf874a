/* migrate.c: numbered SQL files applied in order, each in one transaction. */
#include "db/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Held per transaction by every migrator of the database, whatever its
 * schema: the key is "welcome" in ASCII. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_xact_lock(33607038427688293);\n"
/* One to nine digits keep every version inside an int. */
#define MIGRATE_MAX_DIGITS 9

static const char create_sql[] =
    MIGRATE_LOCK_SQL "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
		     "    version int PRIMARY KEY,\n"
		     "    name text NOT NULL,\n"
		     "    applied_at timestamptz NOT NULL DEFAULT now()\n"
		     ");\n";

struct migration {
	int version;
	bool applied;
	char file[NAME_MAX + 1];
};

struct db_migrate {
	struct db_pool *pool;
	char *dir;
	struct migration *files;
	size_t nfiles;
	size_t next;
	char *script;      /* the script in flight, for error positions */
	size_t prefix_len; /* bytes of the script before the file's text */
	unsigned applied;
	db_migrate_cb cb;
	db_migrate_check_cb check; /* set: compare only (db_migrate_check) */
	void *userdata;
	char detail[DB_MIGRATE_MAX_DETAIL];
};

static void migrate_free(struct db_migrate *m)
{
	free(m->script);
	free(m->files);
	free(m->dir);
	free(m);
}

static void migrate_finish(struct db_migrate *m, int error)
{
	m->cb(error, m->applied, error ? m->detail : NULL, m->userdata);
	migrate_free(m);
}

/* Parses "NNNN_name.sql"; returns the version or -1 for any other name. */
static int parse_name(const char *file)
{
	size_t digits = strspn(file, "0123456789");
	const char *name;
	size_t len;

	if (digits == 0 || digits > MIGRATE_MAX_DIGITS || file[digits] != '_')
		return -1;
	name = file + digits + 1;
	len = strspn(name, "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
	if (len == 0 || strcmp(name + len, ".sql") != 0)
		return -1;
	return (int)strtol(file, NULL, 10);
}

static int compare_versions(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static int migrate_add(struct db_migrate *m, const char *file, int version)
{
	struct migration *files;

	if (m->nfiles == DB_MIGRATE_MAX_FILES)
		return -E2BIG;
	files = realloc(m->files, (m->nfiles + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	m->files = files;
	files[m->nfiles].version = version;
	files[m->nfiles].applied = false;
	snprintf(files[m->nfiles].file, sizeof(files[m->nfiles].file), "%s",
		 file);
	m->nfiles++;
	return 0;
}

static int migrate_check_unique(const struct db_migrate *m)
{
	for (size_t i = 1; i < m->nfiles; i++) {
		if (m->files[i].version == m->files[i - 1].version) {
			log_debug("db: migrations %s and %s share a number",
				  m->files[i - 1].file, m->files[i].file);
			return -EINVAL;
		}
	}
	return 0;
}

static int migrate_scan(struct db_migrate *m)
{
	DIR *d = opendir(m->dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (e = readdir(d))) {
		int version = parse_name(e->d_name);

		if (version >= 0)
			r = migrate_add(m, e->d_name, version);
	}
	closedir(d);
	if (r < 0)
		return r;
	if (m->nfiles > 0)
		qsort(m->files, m->nfiles, sizeof(*m->files), compare_versions);
	return migrate_check_unique(m);
}

/* Plain stdio on the loop thread: migrations run in `welcomedlyd migrate`
 * before any call handling, so nothing else waits on the loop, and the
 * files are small (DB_MIGRATE_MAX_FILE_SIZE). */
static int read_text(FILE *f, char **ret_text, size_t *ret_len)
{
	size_t cap = 0, len = 0;
	char *text = NULL;
	int r = 0;

	for (;;) {
		char *grown;

		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			grown = realloc(text, cap + 1);
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			text = grown;
		}
		len += fread(text + len, 1, cap - len, f);
		if (ferror(f) || len > DB_MIGRATE_MAX_FILE_SIZE) {
			r = ferror(f) ? -EIO : -EFBIG;
			break;
		}
		if (feof(f))
			break;
	}
	if (r < 0) {
		free(text);
		return r;
	}
	text[len] = '\0';
	*ret_text = text;
	*ret_len = len;
	return 0;
}

static int read_file(const char *dir, const char *file, char **ret_text,
		     size_t *ret_len)
{
	char path[PATH_MAX];
	FILE *f;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	r = read_text(f, ret_text, ret_len);
	fclose(f);
	return r;
}

/* Builds the script that applies one file: the lock, then the
 * schema_migrations row (first, so that a file another migrator applied
 * meanwhile fails on the primary key before any of its statements runs),
 * then the file. The name is safe inside quotes: parse_name allows only
 * letters, digits, '_' and '-'. */
static int migrate_build(struct db_migrate *m, const struct migration *f,
			 const char *text, size_t len)
{
	static const char suffix[] = "\n;\n";
	const char *name = strchr(f->file, '_') + 1;
	char prefix[sizeof(MIGRATE_LOCK_SQL) + NAME_MAX + 128];
	int n;

	if (memchr(text, '\0', len))
		return -EINVAL;
	n = snprintf(prefix, sizeof(prefix),
		     MIGRATE_LOCK_SQL "INSERT INTO schema_migrations "
				      "(version, name) VALUES (%d, '%.*s');\n",
		     f->version, (int)(strlen(name) - strlen(".sql")), name);
	m->script = malloc((size_t)n + len + sizeof(suffix));
	if (!m->script)
		return -ENOMEM;
	memcpy(m->script, prefix, (size_t)n);
	memcpy(m->script + n, text, len);
	memcpy(m->script + n + len, suffix, sizeof(suffix));
	m->prefix_len = (size_t)n;
	return 0;
}

/* Turns the server's error position (1-based, in characters of the whole
 * script) into a line of the file; 0 when it points elsewhere. */
static unsigned migrate_error_line(const struct db_migrate *m,
				   const PGresult *res)
{
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	long chars = pos ? strtol(pos, NULL, 10) : 0;
	size_t off = 0;
	unsigned line = 1;

	if (!m->script || chars <= 0)
		return 0;
	/* Count UTF-8 lead bytes only, so that a character is one step. */
	for (; m->script[off] && chars > 1; off++) {
		if (((unsigned char)m->script[off + 1] & 0xc0) != 0x80)
			chars--;
	}
	if (off < m->prefix_len)
		return 0;
	for (size_t i = m->prefix_len; i < off; i++)
		line += m->script[i] == '\n';
	return line;
}

static void migrate_detail(struct db_migrate *m, const char *what, int error,
			   const PGresult *res)
{
	const char *msg, *state;
	unsigned line;

	if (error != -EIO || !res) {
		snprintf(m->detail, sizeof(m->detail), "%s: %s", what,
			 strerror(-error));
		return;
	}
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	line = migrate_error_line(m, res);
	if (line > 0)
		snprintf(m->detail, sizeof(m->detail),
			 "%s: %s (SQLSTATE %s, line %u)", what,
			 msg ? msg : "error", state ? state : "?", line);
	else
		snprintf(m->detail, sizeof(m->detail), "%s: %s (SQLSTATE %s)",
			 what, msg ? msg : "error", state ? state : "?");
}

static void migrate_apply_next(struct db_migrate *m);

/* A unique violation on schema_migrations' own key means another migrator
 * applied this file between our listing and our lock. */
static bool applied_elsewhere(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *constraint =
	    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	return state && strcmp(state, "23505") == 0 && constraint &&
	       strcmp(constraint, "schema_migrations_pkey") == 0;
}

static void on_applied(int error, const PGresult *res, void *userdata)
{
	struct db_migrate *m = userdata;
	const struct migration *f = &m->files[m->next];

	if (error == -EIO && applied_elsewhere(res)) {
		log_debug("db: migration %s applied concurrently", f->file);
	} else if (error < 0) {
		migrate_detail(m, f->file, error, res);
		migrate_finish(m, error);
		return;
	} else {
		log_debug("db: migration %s applied", f->file);
		m->applied++;
	}
	free(m->script);
	m->script = NULL;
	m->next++;
	migrate_apply_next(m);
}

static int migrate_send(struct db_migrate *m, const struct migration *f)
{
	char *text;
	size_t len;
	int r = read_file(m->dir, f->file, &text, &len);

	if (r < 0)
		return r;
	r = migrate_build(m, f, text, len);
	free(text);
	if (r < 0)
		return r;
	return db_pool_script(m->pool, m->script, on_applied, m);
}

static void migrate_apply_next(struct db_migrate *m)
{
	int r;

	while (m->next < m->nfiles && m->files[m->next].applied)
		m->next++;
	if (m->next == m->nfiles) {
		migrate_finish(m, 0);
		return;
	}
	r = migrate_send(m, &m->files[m->next]);
	if (r < 0) {
		migrate_detail(m, m->files[m->next].file, r, NULL);
		migrate_finish(m, r);
	}
}

static void mark_applied(struct db_migrate *m, int version)
{
	struct migration key = {.version = version};
	struct migration *f =
	    bsearch(&key, m->files, m->nfiles, sizeof(key), compare_versions);

	if (f)
		f->applied = true;
}

static void check_finish(struct db_migrate *m, int error)
{
	const char *first = NULL;
	unsigned pending = 0;

	for (size_t i = 0; error == 0 && i < m->nfiles; i++) {
		if (m->files[i].applied)
			continue;
		if (!first)
			first = m->files[i].file;
		pending++;
	}
	m->check(error, pending, first, m->userdata);
	migrate_free(m);
}

static bool no_table(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && strcmp(state, "42P01") == 0;
}

static void on_listed(int error, const PGresult *res, void *userdata)
{
	struct db_migrate *m = userdata;

	if (m->check) {
		if (error == -EIO && no_table(res))
			error = 0;
		for (int i = 0; error == 0 && res && i < PQntuples(res); i++)
			mark_applied(m, atoi(PQgetvalue(res, i, 0)));
		check_finish(m, error);
		return;
	}
	if (error < 0) {
		migrate_detail(m, "schema_migrations", error, res);
		migrate_finish(m, error);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
		mark_applied(m, atoi(PQgetvalue(res, i, 0)));
	migrate_apply_next(m);
}

static void on_created(int error, const PGresult *res, void *userdata)
{
	struct db_migrate *m = userdata;

	if (error == 0)
		error = db_pool_query(m->pool,
				      "SELECT version FROM schema_migrations",
				      0, NULL, on_listed, m);
	if (error < 0) {
		migrate_detail(m, "schema_migrations", error, res);
		migrate_finish(m, error);
	}
}

/* A run (cb) or a check (check) of dir's files: listed, then the first
 * query sent. Returns 0, or a negative errno with nothing left behind. */
static int migrate_start(struct db_pool *pool, const char *dir,
			 db_migrate_cb cb, db_migrate_check_cb check,
			 void *userdata)
{
	struct db_migrate *m;
	int r;

	if (!pool || !dir || !(cb || check))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->pool = pool;
	m->cb = cb;
	m->check = check;
	m->userdata = userdata;
	m->dir = strdup(dir);
	r = m->dir ? migrate_scan(m) : -ENOMEM;
	if (r == 0 && check)
		r = db_pool_query(pool, "SELECT version FROM schema_migrations",
				  0, NULL, on_listed, m);
	else if (r == 0)
		r = db_pool_script(pool, create_sql, on_created, m);
	if (r < 0) {
		migrate_free(m);
		return r;
	}
	return 0;
}

int db_migrate_run(struct db_pool *pool, const char *dir, db_migrate_cb cb,
		   void *userdata)
{
	return cb ? migrate_start(pool, dir, cb, NULL, userdata) : -EINVAL;
}

int db_migrate_check(struct db_pool *pool, const char *dir,
		     db_migrate_check_cb cb, void *userdata)
{
	return cb ? migrate_start(pool, dir, NULL, cb, userdata) : -EINVAL;
}
