/* journal.c: append-only, fsync'd local journal over libuv's file requests. */
#include "util/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/crc32c.h"
#include "util/log.h"

#define SLOT_SIZE 16u
#define SLOT_MAGIC "WJH\x01"
#define RECORD_MAGIC "WJR\x01"
#define MAGIC_SIZE 4u

/* Cap on the bytes gathered into one write, so that a long queue does not
 * make one huge copy; a single record always fits. */
#define JOURNAL_MAX_BATCH (8u * 1024u * 1024u)

/*
 * A record from its append to its acknowledgement. The frame is encoded
 * once, when the record is created, and copied into the batch buffer.
 */
struct node {
	struct node *next;
	journal_append_cb cb;
	void *userdata;
	struct journal_record rec;
	size_t frame_len;
	unsigned char frame[];
};

struct list {
	struct node *head;
	struct node *tail;
	size_t count;
	uint64_t bytes;
};

typedef void (*step_fn)(struct journal *j, ssize_t result);

struct journal {
	uv_loop_t *loop;
	char *path;
	char *dir;
	uv_file fd;
	uv_file aux_fd;
	int aux_error;
	uint64_t max_bytes;

	/* One file request at a time: every operation is a chain of steps,
	 * and the steps of appends, compactions and close never overlap,
	 * which keeps the file offsets simple and the writes ordered. */
	uv_fs_t req;
	step_fn then;
	step_fn after;
	bool busy;
	bool ready;
	bool closing;
	int broken;

	uint64_t next_seq;
	uint64_t durable_seq;
	uint64_t size;
	unsigned slot;
	unsigned char hdr[JOURNAL_HEADER_SIZE];
	size_t hdr_off;
	size_t hdr_len;
	uint64_t truncate_to;

	struct list pending;
	struct list queue;
	struct list batch;
	unsigned char *buf;
	size_t buf_len;
	size_t buf_done;
	/* Allocated once at open, so that starting a write cannot fail. */
	unsigned char *batch_buf;
	size_t batch_cap;

	struct journal_stats stats;

	journal_open_cb open_cb;
	void *open_userdata;
	int open_status;
	bool header_ok;
	uint64_t good_end;
	char *copy_path;
	journal_close_cb close_cb;
	void *close_userdata;
};

static void kick(struct journal *j);

static void put_u32(unsigned char *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- Records and lists ---- */

static struct node *node_new(uint64_t seq, const void *data, size_t len)
{
	struct node *n = malloc(sizeof(*n) + JOURNAL_FRAME_SIZE + len);
	uint32_t crc;

	if (!n)
		return NULL;
	memcpy(n->frame, RECORD_MAGIC, MAGIC_SIZE);
	put_u32(n->frame + 4, (uint32_t)len);
	put_u64(n->frame + 8, seq);
	crc = crc32c_update(0, n->frame, 16);
	crc = crc32c_update(crc, data, len);
	put_u32(n->frame + 16, crc);
	memcpy(n->frame + JOURNAL_FRAME_SIZE, data, len);
	n->next = NULL;
	n->cb = NULL;
	n->userdata = NULL;
	n->rec.seq = seq;
	n->rec.len = len;
	n->rec.data = n->frame + JOURNAL_FRAME_SIZE;
	n->frame_len = JOURNAL_FRAME_SIZE + len;
	return n;
}

static void list_push(struct list *l, struct node *n)
{
	n->next = NULL;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	l->count++;
	l->bytes += n->frame_len;
}

static struct node *list_shift(struct list *l)
{
	struct node *n = l->head;

	if (!n)
		return NULL;
	l->head = n->next;
	if (!l->head)
		l->tail = NULL;
	l->count--;
	l->bytes -= n->frame_len;
	n->next = NULL;
	return n;
}

/* Moves every node of from to the end of to. */
static void list_splice(struct list *to, struct list *from)
{
	struct node *n;

	while ((n = list_shift(from)))
		list_push(to, n);
}

static void list_free(struct list *l)
{
	struct node *n;

	while ((n = list_shift(l)))
		free(n);
}

/* ---- Request plumbing ---- */

static void fs_done(uv_fs_t *req)
{
	struct journal *j = req->data;
	ssize_t result = req->result;

	uv_fs_req_cleanup(req);
	j->busy = false;
	j->then(j, result);
}

/*
 * Arms the next step; call it right before a uv_fs_* call with fs_done,
 * and pass that call's return value to submitted(). A request refused at
 * submission (only possible for lack of memory) runs the step at once with
 * the error, so every chain still ends in exactly one place.
 */
static uv_fs_t *arm(struct journal *j, step_fn then)
{
	j->then = then;
	j->busy = true;
	j->req.data = j;
	return &j->req;
}

static void submitted(struct journal *j, int r)
{
	if (r < 0) {
		j->busy = false;
		j->then(j, r);
	}
}

/* ---- Chain: make a path durable (open, fsync, close) ---- */

static void sync_path_closed(struct journal *j, ssize_t result)
{
	j->aux_fd = -1;
	j->after(j, j->aux_error);
}

static void sync_path_synced(struct journal *j, ssize_t result)
{
	/* The descriptor is closed whether or not the fsync worked. */
	j->aux_error = result < 0 ? (int)result : 0;
	submitted(j, uv_fs_close(j->loop, arm(j, sync_path_closed), j->aux_fd,
				 fs_done));
}

static void sync_path_opened(struct journal *j, ssize_t result)
{
	if (result < 0) {
		j->after(j, result);
		return;
	}
	j->aux_fd = (uv_file)result;
	submitted(j, uv_fs_fsync(j->loop, arm(j, sync_path_synced), j->aux_fd,
				 fs_done));
}

/* Opens path read-only, fsyncs it and closes it, then runs after(j, error).
 * Used for the directory (so the file's entry is durable) and for the copy
 * of a corrupt file. */
static void sync_path(struct journal *j, const char *path, step_fn after)
{
	j->after = after;
	submitted(j, uv_fs_open(j->loop, arm(j, sync_path_opened), path,
				O_RDONLY | O_CLOEXEC, 0, fs_done));
}

/* ---- Chain: set the floor, then truncate (header, sync, trunc, sync) ---- */

static void encode_slot(unsigned char *p, uint64_t floor)
{
	memcpy(p, SLOT_MAGIC, MAGIC_SIZE);
	put_u64(p + 4, floor);
	put_u32(p + 12, crc32c_update(0, p, 12));
}

static void rewrite_synced(struct journal *j, ssize_t result)
{
	if (result == 0)
		j->size = j->truncate_to;
	j->after(j, result);
}

static void rewrite_truncated(struct journal *j, ssize_t result)
{
	if (result < 0) {
		j->after(j, result);
		return;
	}
	submitted(j, uv_fs_fdatasync(j->loop, arm(j, rewrite_synced), j->fd,
				     fs_done));
}

static void rewrite_header_synced(struct journal *j, ssize_t result)
{
	if (result < 0) {
		j->after(j, result);
		return;
	}
	submitted(j, uv_fs_ftruncate(j->loop, arm(j, rewrite_truncated), j->fd,
				     (int64_t)j->truncate_to, fs_done));
}

static void rewrite_header_written(struct journal *j, ssize_t result)
{
	if (result >= 0 && (size_t)result != j->hdr_len)
		result = -EIO;
	if (result < 0) {
		j->after(j, result);
		return;
	}
	submitted(j, uv_fs_fdatasync(j->loop, arm(j, rewrite_header_synced),
				     j->fd, fs_done));
}

/*
 * Makes the floor (the next sequence number) durable in the header, then
 * truncates the file to size and syncs again, then runs after(j, error).
 * The header goes first so that a crash in between leaves records whose
 * numbers lie below the floor, which open handles, rather than an empty
 * file with an old floor. full rewrites both slots, for a new file or one
 * whose header was unreadable; otherwise only the older slot is written.
 */
static void rewrite(struct journal *j, bool full, uint64_t size, step_fn after)
{
	uv_buf_t buf;

	encode_slot(j->hdr, j->next_seq);
	j->hdr_off = 0;
	j->hdr_len = SLOT_SIZE;
	if (full) {
		encode_slot(j->hdr + SLOT_SIZE, j->next_seq);
		j->hdr_len = JOURNAL_HEADER_SIZE;
	} else {
		j->hdr_off = j->slot * SLOT_SIZE;
		j->slot ^= 1u;
	}
	j->truncate_to = size;
	j->after = after;
	buf = uv_buf_init((char *)j->hdr, (unsigned)j->hdr_len);
	submitted(j, uv_fs_write(j->loop, arm(j, rewrite_header_written), j->fd,
				 &buf, 1, (int64_t)j->hdr_off, fs_done));
}

/* ---- Scanning the file at open ---- */

/* Returns the length of the valid frame at p whose sequence number is at
 * least min_seq, or 0 if there is none. */
static size_t frame_check(const unsigned char *p, size_t avail,
			  uint64_t min_seq, uint64_t *ret_seq)
{
	uint32_t len, crc;
	uint64_t seq;

	if (avail < JOURNAL_FRAME_SIZE || memcmp(p, RECORD_MAGIC, MAGIC_SIZE))
		return 0;
	len = get_u32(p + 4);
	seq = get_u64(p + 8);
	if (len == 0 || len > JOURNAL_MAX_RECORD ||
	    len > avail - JOURNAL_FRAME_SIZE || seq < min_seq || seq == 0 ||
	    seq > JOURNAL_MAX_SEQ)
		return 0;
	crc = crc32c_update(0, p, 16);
	crc = crc32c_update(crc, p + JOURNAL_FRAME_SIZE, len);
	if (crc != get_u32(p + 16))
		return 0;
	*ret_seq = seq;
	return JOURNAL_FRAME_SIZE + len;
}

/* Returns whether the slot at p is valid, with its floor in *ret_floor. */
static bool slot_check(const unsigned char *p, uint64_t *ret_floor)
{
	if (memcmp(p, SLOT_MAGIC, MAGIC_SIZE) ||
	    crc32c_update(0, p, 12) != get_u32(p + 12))
		return false;
	*ret_floor = get_u64(p + 4);
	/* The floor is the next sequence number: one past the last at most,
	 * so that the one after it cannot wrap around to 0. */
	return *ret_floor <= JOURNAL_MAX_SEQ + 1;
}

/* Reads the header: sets the floor into next_seq and picks the slot the
 * next update overwrites. Returns whether any slot was valid. */
static bool scan_header(struct journal *j, const unsigned char *buf,
			size_t size)
{
	uint64_t floor[2] = {0, 0};
	bool ok[2] = {false, false};

	if (size >= JOURNAL_HEADER_SIZE) {
		ok[0] = slot_check(buf, &floor[0]);
		ok[1] = slot_check(buf + SLOT_SIZE, &floor[1]);
	}
	/* The next update goes to the slot that is invalid or older. */
	j->slot = (!ok[1] || (ok[0] && floor[1] < floor[0])) ? 1u : 0u;
	j->next_seq = 1;
	for (unsigned i = 0; i < 2; i++) {
		if (ok[i] && floor[i] > j->next_seq)
			j->next_seq = floor[i];
	}
	return ok[0] || ok[1];
}

/*
 * Looks for any valid record in buf[off, size) after a bad one. Finding one
 * means the bad bytes sit in the middle of the file rather than being the
 * torn tail of the last write. Returns the number of valid records found
 * and raises next_seq past their sequence numbers.
 */
static uint64_t scan_beyond(struct journal *j, const unsigned char *buf,
			    size_t off, size_t size)
{
	uint64_t found = 0, seq;
	const unsigned char *p;
	size_t n;

	while (off < size) {
		p = memmem(buf + off, size - off, RECORD_MAGIC, MAGIC_SIZE);
		if (!p)
			break;
		off = (size_t)(p - buf);
		n = frame_check(p, size - off, 1, &seq);
		if (n == 0) {
			off++;
			continue;
		}
		found++;
		if (seq >= j->next_seq)
			j->next_seq = seq + 1;
		off += n;
	}
	return found;
}

/*
 * Parses the whole file image: loads the good prefix into the pending list,
 * and sets good_end (where the file is to be truncated), header_ok,
 * next_seq and open_status. Returns 0 or -ENOMEM.
 */
static int scan(struct journal *j, const unsigned char *buf, size_t size)
{
	size_t off = JOURNAL_HEADER_SIZE, n;
	uint64_t seq, last = 0, beyond;
	struct node *node;

	j->header_ok = scan_header(j, buf, size);
	while (off < size &&
	       (n = frame_check(buf + off, size - off, last + 1, &seq))) {
		node = node_new(seq, buf + off + JOURNAL_FRAME_SIZE,
				n - JOURNAL_FRAME_SIZE);
		if (!node)
			return -ENOMEM;
		list_push(&j->pending, node);
		last = seq;
		off += n;
	}
	if (last >= j->next_seq)
		j->next_seq = last + 1;
	j->durable_seq = last;
	j->good_end = off;
	if (off >= size)
		return 0;
	beyond = scan_beyond(j, buf, off + 1, size);
	if (beyond > 0)
		j->open_status = -EBADMSG;
	j->stats.dropped_records = beyond + 1;
	j->stats.dropped_bytes = size - off;
	return 0;
}

/* ---- Open ---- */

static void journal_free(struct journal *j)
{
	list_free(&j->pending);
	list_free(&j->queue);
	list_free(&j->batch);
	free(j->buf);
	free(j->batch_buf);
	free(j->copy_path);
	free(j->path);
	free(j->dir);
	free(j);
}

static void open_fail_closed(struct journal *j, ssize_t result)
{
	journal_open_cb cb = j->open_cb;
	void *userdata = j->open_userdata;
	int error = j->open_status;

	journal_free(j);
	cb(error, NULL, userdata);
}

/* Ends a failed open: closes the file if it was opened, frees j, and
 * reports error. */
static void open_fail(struct journal *j, ssize_t error)
{
	uv_file fd = j->fd;

	log_debug("journal open failed path=%s error=%zd", j->path, error);
	j->open_status = (int)error;
	j->fd = -1;
	if (fd < 0) {
		open_fail_closed(j, 0);
		return;
	}
	submitted(j,
		  uv_fs_close(j->loop, arm(j, open_fail_closed), fd, fs_done));
}

static void open_done(struct journal *j, ssize_t result)
{
	if (result < 0) {
		open_fail(j, result);
		return;
	}
	free(j->buf);
	j->buf = NULL;
	j->ready = true;
	log_debug("journal opened path=%s records=%zu next_seq=%" PRIu64
		  " dropped=%" PRIu64 " status=%d",
		  j->path, j->pending.count, j->next_seq,
		  j->stats.dropped_records, j->open_status);
	j->open_cb(j->open_status, j, j->open_userdata);
}

static void open_dir_synced(struct journal *j, ssize_t result)
{
	if (result < 0) {
		open_fail(j, result);
		return;
	}
	if (j->header_ok && j->good_end == j->size) {
		open_done(j, 0);
		return;
	}
	rewrite(j, !j->header_ok, j->good_end, open_done);
}

static void open_copy_synced(struct journal *j, ssize_t result)
{
	if (result < 0) {
		open_fail(j, result);
		return;
	}
	sync_path(j, j->dir, open_dir_synced);
}

static void open_copied(struct journal *j, ssize_t result)
{
	if (result < 0) {
		open_fail(j, result);
		return;
	}
	sync_path(j, j->copy_path, open_copy_synced);
}

/* Keeps the evidence before truncating: the whole corrupt file is copied
 * next to it as <path>.corrupt-<next seq>, and the copy made durable; the
 * directory sync that follows covers the copy's entry too. */
static void open_copy(struct journal *j)
{
	char suffix[32];
	size_t len;

	snprintf(suffix, sizeof(suffix), ".corrupt-%" PRIu64, j->next_seq);
	len = strlen(j->path) + strlen(suffix) + 1;
	j->copy_path = malloc(len);
	if (!j->copy_path) {
		open_fail(j, -ENOMEM);
		return;
	}
	snprintf(j->copy_path, len, "%s%s", j->path, suffix);
	log_debug("journal corrupt path=%s copy=%s", j->path, j->copy_path);
	submitted(j, uv_fs_copyfile(j->loop, arm(j, open_copied), j->path,
				    j->copy_path, 0, fs_done));
}

static void open_scan(struct journal *j)
{
	j->size = j->buf_len;
	if (scan(j, j->buf, j->buf_len) < 0) {
		open_fail(j, -ENOMEM);
		return;
	}
	free(j->buf);
	j->buf = NULL;
	if (j->open_status == -EBADMSG)
		open_copy(j);
	else
		sync_path(j, j->dir, open_dir_synced);
}

static void open_read(struct journal *j, ssize_t result);

static void open_read_more(struct journal *j)
{
	uv_buf_t buf = uv_buf_init((char *)j->buf + j->buf_done,
				   (unsigned)(j->buf_len - j->buf_done));

	submitted(j, uv_fs_read(j->loop, arm(j, open_read), j->fd, &buf, 1,
				(int64_t)j->buf_done, fs_done));
}

static void open_read(struct journal *j, ssize_t result)
{
	if (result < 0) {
		open_fail(j, result);
		return;
	}
	/* A file that shrank under us is read as far as it goes. */
	if (result == 0)
		j->buf_len = j->buf_done;
	j->buf_done += (size_t)result;
	if (j->buf_done < j->buf_len) {
		open_read_more(j);
		return;
	}
	open_scan(j);
}

static void open_statted(struct journal *j, ssize_t result)
{
	uint64_t size;

	if (result < 0) {
		open_fail(j, result);
		return;
	}
	size = j->req.statbuf.st_size;
	if (!S_ISREG(j->req.statbuf.st_mode)) {
		open_fail(j, -EINVAL);
		return;
	}
	if (size > JOURNAL_MAX_BYTES_LIMIT) {
		open_fail(j, -EFBIG);
		return;
	}
	j->buf_len = (size_t)size;
	j->buf_done = 0;
	j->buf = malloc(j->buf_len ? j->buf_len : 1);
	if (!j->buf) {
		open_fail(j, -ENOMEM);
		return;
	}
	if (j->buf_len == 0) {
		open_scan(j);
		return;
	}
	open_read_more(j);
}

static void open_opened(struct journal *j, ssize_t result)
{
	if (result < 0) {
		open_fail(j, result);
		return;
	}
	j->fd = (uv_file)result;
	submitted(j,
		  uv_fs_fstat(j->loop, arm(j, open_statted), j->fd, fs_done));
}

static void open_mkdired(struct journal *j, ssize_t result)
{
	if (result < 0 && result != UV_EEXIST) {
		open_fail(j, result);
		return;
	}
	submitted(j, uv_fs_open(j->loop, arm(j, open_opened), j->path,
				O_RDWR | O_CREAT | O_CLOEXEC, 0600, fs_done));
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int journal_open(uv_loop_t *loop, const char *path,
		 const struct journal_config *cfg, journal_open_cb cb,
		 void *userdata)
{
	uint64_t max_bytes =
	    cfg && cfg->max_bytes ? cfg->max_bytes : JOURNAL_MAX_BYTES;
	struct journal *j;
	int r;

	if (!loop || !path || !*path || !cb)
		return -EINVAL;
	if (max_bytes < JOURNAL_HEADER_SIZE + JOURNAL_FRAME_SIZE + 1 ||
	    max_bytes > JOURNAL_MAX_BYTES_LIMIT)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->path = strdup(path);
	j->dir = dir_of(path);
	if (!j->path || !j->dir) {
		journal_free(j);
		return -ENOMEM;
	}
	j->loop = loop;
	j->fd = -1;
	j->aux_fd = -1;
	j->max_bytes = max_bytes;
	j->batch_cap = max_bytes < JOURNAL_MAX_BATCH ? (size_t)max_bytes
						     : JOURNAL_MAX_BATCH;
	j->batch_buf = malloc(j->batch_cap);
	if (!j->batch_buf) {
		journal_free(j);
		return -ENOMEM;
	}
	j->open_cb = cb;
	j->open_userdata = userdata;
	/* Called directly rather than through submitted(), so that a
	 * refusal fails this call instead of running cb from inside it. */
	r = uv_fs_mkdir(loop, arm(j, open_mkdired), j->dir, 0700, fs_done);
	if (r < 0) {
		journal_free(j);
		return r;
	}
	return 0;
}

/* ---- Appends: batch, write, sync ---- */

static void batch_fail(struct journal *j, int error)
{
	struct list failed = {0};
	struct node *n;

	/* Later appends were queued behind the failed ones, and writing them
	 * would leave a hole in the order, so they fail too. */
	log_debug("journal write failed path=%s error=%d", j->path, error);
	j->broken = error;
	list_splice(&failed, &j->batch);
	list_splice(&failed, &j->queue);
	j->busy = true;
	while ((n = list_shift(&failed))) {
		n->cb(error, n->rec.seq, n->userdata);
		free(n);
	}
	j->busy = false;
}

/*
 * Moves the batch to the pending list, then tells each appender. A callback
 * may append, ack or close: the batch is detached first, and a node is only
 * reachable through the pending list once its callback has been read. busy
 * stays set meanwhile so that nothing starts before the whole batch is
 * pending: an ack of every record so far must not truncate the file under
 * the records whose callbacks have not run yet.
 */
static void batch_complete(struct journal *j)
{
	struct list done = {0};
	journal_append_cb cb;
	void *userdata;
	struct node *n;

	j->size += j->batch.bytes;
	j->durable_seq = j->batch.tail->rec.seq;
	list_splice(&done, &j->batch);
	j->busy = true;
	while ((n = list_shift(&done))) {
		cb = n->cb;
		userdata = n->userdata;
		n->cb = NULL;
		n->userdata = NULL;
		list_push(&j->pending, n);
		cb(0, n->rec.seq, userdata);
	}
	j->busy = false;
}

static void batch_synced(struct journal *j, ssize_t result)
{
	if (result < 0)
		batch_fail(j, (int)result);
	else
		batch_complete(j);
	kick(j);
}

static void batch_write(struct journal *j);

static void batch_written(struct journal *j, ssize_t result)
{
	/* libuv retries short writes itself and reports a short count only
	 * when an error stopped it: writing the rest surfaces that error. */
	if (result == 0)
		result = -EIO;
	if (result < 0) {
		batch_synced(j, result);
		return;
	}
	j->buf_done += (size_t)result;
	if (j->buf_done < j->batch.bytes) {
		batch_write(j);
		return;
	}
	j->stats.syncs++;
	submitted(
	    j, uv_fs_fdatasync(j->loop, arm(j, batch_synced), j->fd, fs_done));
}

static void batch_write(struct journal *j)
{
	uv_buf_t buf = uv_buf_init((char *)j->batch_buf + j->buf_done,
				   (unsigned)(j->batch.bytes - j->buf_done));

	j->stats.writes++;
	submitted(j, uv_fs_write(j->loop, arm(j, batch_written), j->fd, &buf, 1,
				 (int64_t)(j->size + j->buf_done), fs_done));
}

/* Takes queued records, oldest first, up to batch_cap bytes (a record
 * always fits), and writes their frames at the end of the file in one go. */
static void batch_start(struct journal *j)
{
	size_t off = 0;
	struct node *n;

	while (j->queue.head &&
	       j->batch.bytes + j->queue.head->frame_len <= j->batch_cap)
		list_push(&j->batch, list_shift(&j->queue));
	for (n = j->batch.head; n; n = n->next) {
		memcpy(j->batch_buf + off, n->frame, n->frame_len);
		off += n->frame_len;
	}
	j->buf_done = 0;
	batch_write(j);
}

int journal_append(struct journal *j, const void *data, size_t len,
		   journal_append_cb cb, void *userdata)
{
	struct node *n;

	if (!cb || len == 0 || !data)
		return -EINVAL;
	if (len > JOURNAL_MAX_RECORD)
		return -EMSGSIZE;
	if (j->closing)
		return -ECANCELED;
	if (j->broken)
		return j->broken;
	if (j->next_seq > JOURNAL_MAX_SEQ)
		return -EOVERFLOW;
	if (j->size + j->batch.bytes + j->queue.bytes + JOURNAL_FRAME_SIZE +
		len >
	    j->max_bytes)
		return -ENOSPC;
	n = node_new(j->next_seq, data, len);
	if (!n)
		return -ENOMEM;
	n->cb = cb;
	n->userdata = userdata;
	j->next_seq++;
	j->stats.appends++;
	list_push(&j->queue, n);
	kick(j);
	return 0;
}

/* ---- Acknowledgement and compaction ---- */

static void compact_done(struct journal *j, ssize_t result)
{
	if (result < 0) {
		log_debug("journal compaction failed path=%s error=%zd",
			  j->path, result);
		j->broken = (int)result;
	} else {
		j->stats.compactions++;
	}
	kick(j);
}

int journal_ack(struct journal *j, uint64_t seq)
{
	struct node *n;
	int released = 0;

	if (seq > j->durable_seq)
		return -EINVAL;
	while (j->pending.head && j->pending.head->rec.seq <= seq) {
		n = list_shift(&j->pending);
		free(n);
		released++;
	}
	kick(j);
	return released;
}

const struct journal_record *journal_first(const struct journal *j)
{
	return j->pending.head ? &j->pending.head->rec : NULL;
}

const struct journal_record *journal_next(const struct journal *j,
					  const struct journal_record *rec)
{
	const struct node *n =
	    (const struct node *)((const char *)rec -
				  offsetof(struct node, rec));

	return n->next ? &n->next->rec : NULL;
}

size_t journal_count(const struct journal *j)
{
	return j->pending.count;
}

uint64_t journal_bytes(const struct journal *j)
{
	return j->size;
}

uint64_t journal_next_seq(const struct journal *j)
{
	return j->next_seq;
}

void journal_get_stats(const struct journal *j, struct journal_stats *ret_stats)
{
	*ret_stats = j->stats;
}

/* ---- Close ---- */

static void close_done(struct journal *j, ssize_t result)
{
	journal_close_cb cb = j->close_cb;
	void *userdata = j->close_userdata;

	log_debug("journal closed path=%s pending=%zu", j->path,
		  j->pending.count);
	journal_free(j);
	if (cb)
		cb(userdata);
}

void journal_close(struct journal *j, journal_close_cb cb, void *userdata)
{
	if (j->closing)
		return;
	j->closing = true;
	j->close_cb = cb;
	j->close_userdata = userdata;
	kick(j);
}

/*
 * Starts the next piece of work when no request is in flight: queued
 * appends first, then the truncation once everything is acknowledged, then
 * the close. Every step that finishes calls this again.
 */
static void kick(struct journal *j)
{
	uv_file fd = j->fd;

	if (j->busy || !j->ready)
		return;
	if (j->queue.head) {
		batch_start(j);
		return;
	}
	if (!j->broken && j->pending.count == 0 &&
	    j->size > JOURNAL_HEADER_SIZE) {
		rewrite(j, false, JOURNAL_HEADER_SIZE, compact_done);
		return;
	}
	if (!j->closing)
		return;
	j->fd = -1;
	j->ready = false;
	submitted(j, uv_fs_close(j->loop, arm(j, close_done), fd, fs_done));
}
