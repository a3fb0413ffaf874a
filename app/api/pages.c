/* pages.c: the browser pages (agent workstation, wallboard, the modules
 * they share, SIP.js). The tree is read once at start, so serving never
 * touches the disk while the loop runs, and answered from memory with an
 * ETag. Only GET and HEAD, only regular files, nothing outside the tree:
 * paths are looked up, never joined to a directory name. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/internal.h"
#include "api/reply.h"
#include "http/server.h"
#include "util/crc32c.h"
#include "util/log.h"
#include "util/strmap.h"

#define PAGES_MAX_BYTES (32u << 20) /* the whole tree in memory */
#define PAGES_MAX_FILES 4096u
#define PAGES_MAX_DEPTH 8

struct page_file {
	char *body;
	size_t len;
	const char *type;
	char etag[12]; /* "crc32c hex" with its quotes */
};

struct api_pages {
	struct strmap *files; /* "/agent/index.html" -> struct page_file */
	size_t bytes;
};

static const struct {
	const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".wav", "audio/wav"},
    {".txt", "text/plain; charset=utf-8"},
};

/* The content type by the name's extension; NULL: not served. */
static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

static int read_file(const char *path, struct page_file *f, size_t room)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	int r = 0;

	if (!fp)
		return -errno;
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode))
		r = -EINVAL;
	else if ((size_t)st.st_size > room)
		r = -EFBIG;
	else if (!(f->body = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	else if (fread(f->body, 1, (size_t)st.st_size, fp) !=
		 (size_t)st.st_size)
		r = -EIO;
	f->len = (size_t)st.st_size;
	fclose(fp);
	return r;
}

static int add_file(struct api_pages *p, const char *path, const char *url)
{
	struct page_file *f;
	int r;

	if (strmap_count(p->files) >= PAGES_MAX_FILES)
		return -EFBIG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->type = type_of(url);
	r = read_file(path, f, PAGES_MAX_BYTES - p->bytes);
	if (r == 0) {
		snprintf(f->etag, sizeof(f->etag), "\"%08x\"",
			 crc32c_update(0, f->body, f->len));
		r = strmap_put(p->files, url, f);
	}
	if (r < 0) {
		free(f->body);
		free(f);
		return r;
	}
	p->bytes += f->len;
	return 0;
}

/* Adds the files below dir (url is its path as served, without a
 * trailing slash; "" for the root). */
static int add_dir(struct api_pages *p, const char *dir, const char *url,
		   int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (e = readdir(d))) {
		char path[1024], sub[1024];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) >= sizeof(path) ||
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", url,
				     e->d_name) >= sizeof(sub) ||
		    stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < PAGES_MAX_DEPTH)
			r = add_dir(p, path, sub, depth + 1);
		else if (S_ISREG(st.st_mode) && type_of(e->d_name))
			r = add_file(p, path, sub);
	}
	closedir(d);
	return r;
}

void api__pages_free(struct api_pages *p)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	if (!p)
		return;
	while (strmap_next(p->files, &cursor, &key, &value)) {
		struct page_file *f = value;

		free(f->body);
		free(f);
	}
	strmap_free(p->files);
	free(p);
}

int api__pages_load(const char *dir, struct api_pages **ret)
{
	struct api_pages *p = calloc(1, sizeof(*p));
	int r;

	*ret = NULL;
	if (!p || !(p->files = strmap_new())) {
		free(p);
		return -ENOMEM;
	}
	r = add_dir(p, dir, "", 0);
	if (r < 0) {
		log_warning("pages: cannot read %s error=%s; the browser pages "
			    "are not served",
			    dir, strerror(-r));
		api__pages_free(p);
		return r;
	}
	log_info("pages: %zu files, %zu bytes from %s", strmap_count(p->files),
		 p->bytes, dir);
	*ret = p;
	return 0;
}

/* A directory's URL without its slash: redirected to the slash form. */
static bool is_dir(const struct api_pages *p, const char *path)
{
	char index[1100];

	snprintf(index, sizeof(index), "%s/index.html", path);
	return strmap_get(p->files, index) != NULL;
}

static void redirect(struct api_ctx *ctx, const char *to)
{
	char headers[1200];

	snprintf(headers, sizeof(headers), "Location: %s\r\n", to);
	api_reply_raw(ctx, 308, NULL, headers, NULL, 0);
}

/* What a page may load: itself, the API and feed (same origin), and
 * Asterisk's WebSocket, which is another origin. */
#define PAGES_HEADERS                                                          \
	"Cache-Control: no-cache\r\n"                                          \
	"X-Content-Type-Options: nosniff\r\n"                                  \
	"Referrer-Policy: no-referrer\r\n"                                     \
	"Content-Security-Policy: default-src 'self'; connect-src 'self' ws: " \
	"wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "       \
	"media-src 'self' blob: mediastream:; frame-ancestors 'none'\r\n"

bool api__pages_serve(struct api_ctx *ctx)
{
	const struct api_pages *p = ctx->api->pages;
	const char *method = http_server_request_method(ctx->req);
	const char *path = http_server_request_path(ctx->req);
	const char *inm;
	const struct page_file *f;
	char key[1100], headers[sizeof(PAGES_HEADERS) + 64], *body;
	size_t n = strlen(path);

	if (!p || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
	    n == 0 || n >= 1024 || strstr(path, "/."))
		return false;
	if (strcmp(path, "/") == 0 && is_dir(p, "/agent")) {
		redirect(ctx, "/agent/");
		return true;
	}
	if (path[n - 1] != '/' && is_dir(p, path)) {
		snprintf(key, sizeof(key), "%s/", path);
		redirect(ctx, key);
		return true;
	}
	snprintf(key, sizeof(key), "%s%s", path,
		 path[n - 1] == '/' ? "index.html" : "");
	f = strmap_get(p->files, key);
	if (!f)
		return false;
	snprintf(headers, sizeof(headers), "%sETag: %s\r\n", PAGES_HEADERS,
		 f->etag);
	inm = http_server_request_header(ctx->req, "if-none-match");
	if (inm && strcmp(inm, f->etag) == 0) {
		api_reply_raw(ctx, 304, NULL, headers, NULL, 0);
		return true;
	}
	body = malloc(f->len ? f->len : 1);
	if (!body) {
		api_problem(ctx, 500, "internal", "out of memory");
		return true;
	}
	memcpy(body, f->body, f->len);
	api_reply_raw(ctx, 200, f->type, headers, body, f->len);
	return true;
}
