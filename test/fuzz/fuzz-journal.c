/* fuzz-journal.c: libFuzzer harness for the CDR journal reader: any bytes
 * as the journal file found at start, opened, replayed, appended to,
 * acknowledged and closed, as the CDR writer does after a crash. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "util/crc32c.h"
#include "util/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Files bigger than this teach nothing the smaller ones do not. */
#define FUZZ_FILE_MAX (64u * 1024u)
/* A small cap, so that the file-too-big and -ENOSPC paths are reached. */
#define FUZZ_CAP (16u * 1024u)

static uv_loop_t loop;
static char dir[64], path[128];

struct ctx {
	struct journal *j;
	bool opened, appended, closed;
	int status;
};

/* The first byte picks a mode: bit 0 set rewrites every CRC the bytes
 * seem to frame, so that mutations reach what lies past the checksums;
 * bit 1 opens with the small cap. */
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crcs(uint8_t *b, size_t n)
{
	size_t off = JOURNAL_HEADER_SIZE;

	for (size_t s = 0; s + 16 <= n && s < JOURNAL_HEADER_SIZE; s += 16)
		put_le32(b + s + 12, crc32c_update(0, b + s, 12));
	while (off + JOURNAL_FRAME_SIZE <= n &&
	       memcmp(b + off, "WJR\x01", 4) == 0) {
		size_t len = le32(b + off + 4);
		uint32_t crc = crc32c_update(0, b + off, 16);

		if (len > n - off - JOURNAL_FRAME_SIZE)
			break;
		crc = crc32c_update(crc, b + off + JOURNAL_FRAME_SIZE, len);
		put_le32(b + off + 16, crc);
		off += JOURNAL_FRAME_SIZE + len;
	}
}

/* Removes the "<path>.corrupt-N" copies a corrupt file leaves. */
static void clean_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
}

static void on_open(int error, struct journal *j, void *userdata)
{
	struct ctx *c = userdata;

	c->status = error;
	c->j = j;
	c->opened = true;
}

static void on_appended(int error, uint64_t seq, void *userdata)
{
	struct ctx *c = userdata;

	c->status = error;
	c->appended = true;
	(void)seq;
}

static void on_closed(void *userdata)
{
	((struct ctx *)userdata)->closed = true;
}

static bool write_file(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(data, 1, size, f) == size;

	if (f)
		ok = fclose(f) == 0 && ok;
	return ok;
}

/* Replays, appends one record, acknowledges everything and closes. */
static void exercise(struct ctx *c)
{
	uint64_t last = 0;
	size_t seen = 0;
	struct journal_stats stats;

	for (const struct journal_record *r = journal_first(c->j); r;
	     r = journal_next(c->j, r), seen++) {
		if (r->len == 0 || r->len > JOURNAL_MAX_RECORD ||
		    r->seq <= last)
			abort();
		last = r->seq;
		(void)((volatile const uint8_t *)r->data)[r->len - 1];
	}
	if (seen != journal_count(c->j) || journal_next_seq(c->j) <= last)
		abort();
	journal_get_stats(c->j, &stats);
	if (journal_append(c->j, "{}", 2, on_appended, c) == 0) {
		while (!c->appended)
			uv_run(&loop, UV_RUN_ONCE);
		last = journal_next_seq(c->j) - 1;
	}
	if (last > 0)
		(void)journal_ack(c->j, last);
	journal_close(c->j, on_closed, c);
	while (!c->closed)
		uv_run(&loop, UV_RUN_ONCE);
}

static void remove_dir(void)
{
	clean_dir();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz-journal-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir) || uv_loop_init(&loop) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/cdr.journal", dir);
	atexit(remove_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[FUZZ_FILE_MAX];
	struct journal_config cfg = {0};
	struct ctx c = {0};

	if (size < 1 || size - 1 > FUZZ_FILE_MAX)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1)
		fix_crcs(buf, size - 1);
	cfg.max_bytes = data[0] & 2 ? FUZZ_CAP : 0;
	clean_dir();
	if (!write_file(buf, size - 1))
		abort();
	if (journal_open(&loop, path, &cfg, on_open, &c) != 0)
		abort();
	while (!c.opened)
		uv_run(&loop, UV_RUN_ONCE);
	if (c.j)
		exercise(&c);
	return 0;
}
