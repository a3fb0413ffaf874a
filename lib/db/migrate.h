/* migrate.h: applies numbered SQL migration files through a db_pool. */
#ifndef DB_MIGRATE_H
#define DB_MIGRATE_H

#include "db/pool.h"

/* Caps on what a migrations directory may hold. */
#define DB_MIGRATE_MAX_FILES 10000
#define DB_MIGRATE_MAX_FILE_SIZE (16 * 1024 * 1024)
/* Cap on the detail text handed to the callback. */
#define DB_MIGRATE_MAX_DETAIL 1024

/*
 * error is 0 when every file is applied; -EIO when a file failed on the
 * server (it was rolled back whole and nothing after it ran); a negative
 * errno when a file could not be read (-EFBIG past DB_MIGRATE_MAX_FILE_SIZE)
 * or the pool failed (-ENOTCONN, -ECONNRESET: the file may or may not be
 * applied, -ECANCELED). applied counts the files applied by this run.
 * detail is NULL on success, otherwise a sentence naming the file (or
 * schema_migrations) with the server message and SQLSTATE; it is borrowed
 * and valid only during the callback.
 */
typedef void (*db_migrate_cb)(int error, unsigned applied, const char *detail,
			      void *userdata);

/*
 * Applies, in number order, the files of dir named NNNN_name.sql (one to
 * nine digits, then a name of letters, digits, '_' and '-') that are not yet
 * recorded in schema_migrations, which it creates if needed in the first
 * schema of the search_path. Other names are ignored.
 *
 * Each file runs as one simple-query script together with its
 * schema_migrations row, so it commits or rolls back whole: files must not
 * hold transaction control (BEGIN, COMMIT) nor statements that refuse to
 * run in a transaction (CREATE INDEX CONCURRENTLY). Each transaction first
 * takes a transaction-level advisory lock, so concurrent migrators apply
 * each file once: a file another migrator applied meanwhile is skipped.
 * Re-running applies nothing.
 *
 * The directory is listed synchronously before returning. Returns 0 (cb
 * runs exactly once, from the loop), -EINVAL (bad arguments, or two files
 * share a number), -E2BIG (more than DB_MIGRATE_MAX_FILES), -ENOMEM, an
 * opendir error (-ENOENT, -EACCES, -ENOTDIR), or the error of the pool's
 * first query (-ENOTCONN when no connection is up yet). pool must stay open
 * until cb runs; dir is copied.
 */
int db_migrate_run(struct db_pool *pool, const char *dir, db_migrate_cb cb,
		   void *userdata);

/*
 * error is 0 when dir and schema_migrations could be read, and pending then
 * counts the files of dir not recorded there (all of them when the table
 * does not exist), first naming the lowest of them (NULL when none;
 * borrowed, valid only during the callback). Otherwise a negative errno as
 * for db_migrate_cb, pending 0 and first NULL.
 */
typedef void (*db_migrate_check_cb)(int error, unsigned pending,
				    const char *first, void *userdata);

/*
 * Compares the files of dir (named and listed as by db_migrate_run) with
 * what schema_migrations records, and changes nothing: for a daemon whose
 * statements need the newest schema, so that it can say which migration is
 * missing. Returns like db_migrate_run, whose rules for cb and pool hold.
 */
int db_migrate_check(struct db_pool *pool, const char *dir,
		     db_migrate_check_cb cb, void *userdata);

#endif /* DB_MIGRATE_H */
