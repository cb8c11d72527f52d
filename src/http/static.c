/* static.c: serving files and directories beneath the document root.
 *
 * Path safety has two layers: path_normalize() turns the request path into a
 * clean relative path (decoded once, no dot segments), and the kernel opens it
 * with openat2(RESOLVE_BENEATH) relative to the root directory's descriptor,
 * so nothing outside the root can be opened whatever the path or the symlinks
 * say. Symlinks are refused altogether (RESOLVE_NO_SYMLINKS) unless
 * --follow-symlinks, and even then they cannot leave the root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/beneath.h"
#include "http/cond.h"
#include "http/conn.h"
#include "http/date.h"
#include "http/filecache.h"
#include "http/mime.h"
#include "http/range.h"
#include "http/server.h"
#include "http/target.h"

#define ALLOW_STATIC "GET, HEAD, OPTIONS"
#define LISTING_MAX_ENTRIES 100000

static int errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR: return 404;
	case EACCES:
	case EPERM:
	case ELOOP: /* a symlink, refused */
	case EXDEV: /* would leave the root */ return 403;
	case ENAMETOOLONG: return 414;
	case EMFILE:
	case ENFILE:
	case ENOMEM: return 503;
	default: return 500;
	}
}

static void refuse(struct conn *c, int status, const char *why)
{
	struct xfer *x = c->x;
	enum log_level lvl = status == 404 ? LOG_DEBUG : status >= 500 ? LOG_ERROR : LOG_INFO;
	if (log_enabled(lvl)) { /* a 404 flood formats nothing at the default level */
		char host[64];
		conn_peer_host(c, host, sizeof host);
		char path[1024];
		log_clean(path, sizeof path, x->path_len ? x->path : x->head.path.p,
		          x->path_len ? x->path_len : x->head.path.len);
		log_msg(lvl, "client %s: %d for \"%s\": %s", host, status, path, why);
	}
	resp_error(c, status);
}

/* ---- entity tags ---- */

static void make_etag(const struct stat *st, char *out, size_t cap)
{
	snprintf(out, cap, "\"%llx.%lx-%llx\"", (unsigned long long)st->st_mtim.tv_sec,
	         (unsigned long)st->st_mtim.tv_nsec, (unsigned long long)st->st_size);
}

/* ---- directory listing ---- */

struct dstr {
	char *p;
	size_t len, cap;
	int oom;
};

static void ds_put(struct dstr *d, const char *s, size_t n)
{
	if (d->oom)
		return;
	if (d->len + n + 1 > d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 8192;
		while (nc < d->len + n + 1)
			nc *= 2;
		char *np = realloc(d->p, nc);
		if (!np) {
			d->oom = 1;
			return;
		}
		d->p = np;
		d->cap = nc;
	}
	memcpy(d->p + d->len, s, n);
	d->len += n;
}

static void ds_puts(struct dstr *d, const char *s)
{
	ds_put(d, s, strlen(s));
}

static void ds_html(struct dstr *d, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': ds_puts(d, "&amp;"); break;
		case '<': ds_puts(d, "&lt;"); break;
		case '>': ds_puts(d, "&gt;"); break;
		case '"': ds_puts(d, "&quot;"); break;
		case '\'': ds_puts(d, "&#39;"); break;
		default: ds_put(d, s + i, 1);
		}
	}
}

struct entry {
	char *name;
	int is_dir;
	off_t size;
	time_t mtime;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->is_dir != y->is_dir)
		return y->is_dir - x->is_dir;
	return strcmp(x->name, y->name);
}

static void human_size(off_t sz, char *out, size_t cap)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)sz;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%lld B", (long long)sz);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

/* Follow the symlink `name` in the listed directory the way a request for it
 * would be served: beneath the root, so a link leading out of it tells
 * nothing about its target. */
static int link_stat(const struct xfer *x, const char *name, struct stat *st)
{
	char rel[XFER_PATH_MAX + 256];
	size_t nl = strlen(name);
	if (x->path_len + nl >= sizeof rel)
		return -1;
	memcpy(rel, x->path + 1, x->path_len - 1); /* x->path is "/" or "/dir/" */
	memcpy(rel + x->path_len - 1, name, nl + 1);
	int fd = open_beneath(x->root_fd, rel, O_PATH, 1);
	if (fd < 0)
		return -1;
	int r = fstat(fd, st);
	close(fd);
	return r;
}

static char *make_listing(struct conn *c, int dirfd, size_t *len)
{
	struct xfer *x = c->x;
	const struct site_conf *cfg = x->site;
	int fd2 = dup(dirfd);
	if (fd2 < 0)
		return NULL;
	DIR *dir = fdopendir(fd2);
	if (!dir) {
		close(fd2);
		return NULL;
	}
	struct entry *ents = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir)) && n < LISTING_MAX_ENTRIES) {
		const char *name = de->d_name;
		if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
			continue;
		if (name[0] == '.' && !cfg->dotfiles)
			continue;
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && cfg->follow_symlinks && link_stat(x, name, &st) < 0)
			continue; /* a link that could not be served: not listed, its target unseen */
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue; /* symlinks (when not followed), devices, sockets */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct entry *ne = realloc(ents, nc * sizeof *ne);
			if (!ne)
				break;
			ents = ne;
			cap = nc;
		}
		ents[n].name = strdup(name);
		if (!ents[n].name)
			break;
		ents[n].is_dir = S_ISDIR(st.st_mode);
		ents[n].size = st.st_size;
		ents[n].mtime = st.st_mtime;
		n++;
	}
	closedir(dir);
	if (n > 1) /* qsort(NULL, 0, ...) is undefined: an empty directory has ents == NULL */
		qsort(ents, n, sizeof *ents, entry_cmp);

	struct dstr d = {0};
	ds_puts(&d,
	        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ");
	ds_html(&d, x->path, x->path_len);
	ds_puts(
	    &d,
	    "</title>\n<style>\n"
	    "body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222}\n"
	    "h1{font-size:1.25rem;word-break:break-all}\n"
	    "table{border-collapse:collapse;width:100%}\n"
	    "th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eee}\n"
	    "td.s,th.s{text-align:right;white-space:nowrap}td.m{white-space:nowrap;color:#666}\n"
	    "a{color:#0645ad;text-decoration:none;word-break:break-all}a:hover{text-decoration:underline}\n"
	    "@media (max-width:36rem){td.m,th.m{display:none}}\n"
	    "@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}a{color:#8ab4f8}"
	    "th,td{border-color:#333}}\n"
	    "</style></head>\n<body>\n<h1>Index of ");
	ds_html(&d, x->path, x->path_len);
	ds_puts(&d,
	        "</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"s\">Size</th><th class=\"m\">Modified "
	        "(UTC)</th></tr></thead>\n<tbody>\n");
	if (x->path_len > 1)
		ds_puts(
		    &d,
		    "<tr><td><a href=\"../\">../</a></td><td class=\"s\">-</td><td class=\"m\"></td></tr>\n");
	for (size_t i = 0; i < n; i++) {
		char href[3 * 256 + 2], size[32], date[32];
		size_t nl = strlen(ents[i].name);
		size_t hl = path_encode(ents[i].name, nl, href, sizeof href - 1);
		if (ents[i].is_dir) {
			href[hl++] = '/';
			href[hl] = '\0';
		}
		struct tm tm;
		gmtime_r(&ents[i].mtime, &tm);
		strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
		if (ents[i].is_dir)
			strcpy(size, "-");
		else
			human_size(ents[i].size, size, sizeof size);
		ds_puts(&d, "<tr><td><a href=\"");
		ds_put(&d, href, hl);
		ds_puts(&d, "\">");
		ds_html(&d, ents[i].name, nl);
		if (ents[i].is_dir)
			ds_puts(&d, "/");
		ds_puts(&d, "</a></td><td class=\"s\">");
		ds_puts(&d, size);
		ds_puts(&d, "</td><td class=\"m\">");
		ds_puts(&d, date);
		ds_puts(&d, "</td></tr>\n");
		free(ents[i].name);
	}
	free(ents);
	ds_puts(&d, "</tbody>\n</table>\n</body></html>\n");
	if (d.oom) {
		free(d.p);
		return NULL;
	}
	*len = d.len;
	return d.p;
}

/* ---- the handler ---- */

static void options_response(struct conn *c)
{
	resp_start(c, 204);
	resp_header(c, "Allow", ALLOW_STATIC);
	resp_end_mem(c, NULL, 0);
}

static void method_not_allowed(struct conn *c)
{
	resp_start(c, 405);
	resp_header(c, "Allow", ALLOW_STATIC);
	resp_end_error(c);
}

static void redirect_to_dir(struct conn *c)
{
	struct xfer *x = c->x;
	char loc[XFER_PATH_MAX + 2];
	size_t n = path_encode(x->path, x->path_len, loc, sizeof loc - 1);
	if (n == 0) {
		refuse(c, 414, "redirect location too long");
		return;
	}
	loc[n++] = '/';
	resp_start(c, 301);
	if (x->head.query.p) /* any length the head has room for (resp_headerf writes in place) */
		resp_headerf(c, "Location", "%.*s?%.*s", (int)n, loc, (int)x->head.query.len,
		             x->head.query.p);
	else
		resp_header_n(c, "Location", loc, n);
	resp_end_error(c);
}

/* What a response needs to know of a file, wherever its bytes come from. */
struct file_meta {
	uint64_t size;
	time_t mtime;
	const char *etag;
	const char *lm;
	const char *ctype;
};

/* If-Match / If-None-Match may come as several field lines, one list together
 * (RFC 9110 §5.3): the combined list matches when one line's does. The parser
 * keeps the last line; the others are found among the fields, no copy made. */
static int cond_match(const struct http_head *h, const char *name, struct span last, const char *etag,
                      int weak)
{
	if (etag_list_match(last.p, last.len, etag, weak))
		return 1;
	size_t nl = strlen(name);
	for (uint32_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];
		if (f->value.p != last.p && f->name.len == nl && strncasecmp(f->name.p, name, nl) == 0 &&
		    etag_list_match(f->value.p, f->value.len, etag, weak))
			return 1;
	}
	return 0;
}

/* Conditionals, ranges and the response for a file whose body is fd (owned)
 * or, when fd < 0, the bytes at mem (no ranges then: the cache only serves
 * requests without one). Returns -1 when fd was not used. */
static int serve_meta(struct conn *c, const struct file_meta *m, int fd, const char *mem)
{
	struct xfer *x = c->x;
	const struct http_head *h = &x->head;
	/* RFC 9110 §13.2.2: the order of evaluation */
	if (h->if_match.p) {
		if (!cond_match(h, "if-match", h->if_match, m->etag, 0)) {
			resp_error(c, 412);
			return -1;
		}
	} else if (h->if_unmodified_since.p) {
		time_t t = http_date_parse(h->if_unmodified_since.p, h->if_unmodified_since.len);
		if (t != -1 && m->mtime > t) {
			resp_error(c, 412);
			return -1;
		}
	}
	int not_modified = 0;
	if (h->if_none_match.p)
		not_modified = cond_match(h, "if-none-match", h->if_none_match, m->etag, 1);
	else if (h->if_modified_since.p) {
		time_t t = http_date_parse(h->if_modified_since.p, h->if_modified_since.len);
		not_modified = t != -1 && m->mtime <= t;
	}
	if (not_modified) {
		resp_start(c, 304);
		resp_header(c, "ETag", m->etag);
		resp_header(c, "Last-Modified", m->lm);
		resp_end_mem(c, NULL, 0);
		return -1;
	}
	int ranged = 0;
	if (h->range.p && h->method == HTTP_M_GET && fd >= 0) {
		ranged = 1;
		if (h->if_range.p) {
			struct span ir = h->if_range;
			/* an entity-tag, or a date ("Wed, ..." is one: test "W/", not 'W');
			 * a weak tag never matches, the comparison being strong (§13.1.5) */
			if (ir.len && (ir.p[0] == '"' || (ir.len > 1 && ir.p[0] == 'W' && ir.p[1] == '/')))
				ranged = ir.len == strlen(m->etag) && memcmp(ir.p, m->etag, ir.len) == 0;
			else /* a date validates only a strong Last-Modified: at least a
			      * second in the past (§13.1.5, §8.8.2.2) */
				ranged =
				    http_date_parse(ir.p, ir.len) == m->mtime && m->mtime < clock_cache.wall;
		}
	}
	if (ranged) {
		int r = range_parse(h->range.p, h->range.len, m->size, x->ranges, &x->nranges);
		if (r == RANGE_UNSATISFIABLE) {
			resp_start(c, 416);
			resp_headerf(c, "Content-Range", "bytes */%llu", (unsigned long long)m->size);
			resp_end_error(c);
			return -1;
		}
		if (r == RANGE_OK) {
			resp_start(c, 206);
			resp_header(c, "Last-Modified", m->lm);
			resp_header(c, "ETag", m->etag);
			resp_header(c, "Accept-Ranges", "bytes");
			if (x->nranges == 1) {
				const struct byte_range *br = &x->ranges[0];
				resp_header(c, "Content-Type", m->ctype);
				resp_headerf(c, "Content-Range", "bytes %llu-%llu/%llu",
				             (unsigned long long)br->first, (unsigned long long)br->last,
				             (unsigned long long)m->size);
				resp_end_file(c, fd, br->first, br->last - br->first + 1);
			} else {
				x->ctype = m->ctype;
				x->fsize = m->size;
				resp_end_multipart(c, fd);
			}
			return 0;
		}
	}
	resp_start(c, 200);
	resp_header(c, "Content-Type", m->ctype);
	resp_header(c, "Last-Modified", m->lm);
	resp_header(c, "ETag", m->etag);
	resp_header(c, "Accept-Ranges", "bytes");
	if (fd < 0) {
		resp_end_mem(c, mem, (size_t)m->size);
		return -1;
	}
	resp_end_file(c, fd, 0, m->size);
	return 0;
}

static int cacheable(const struct http_head *h)
{
	return (h->method == HTTP_M_GET || h->method == HTTP_M_HEAD) && !h->range.p;
}

/* From the cache: the bytes in memory, or a duplicate of the entry's open
 * descriptor. -1: not answered (no descriptor to spare): take the normal path. */
static int serve_cached(struct conn *c, const struct fc_entry *e)
{
	struct file_meta m = {e->size, e->mtime.tv_sec, e->etag, e->lm, e->ctype};
	if (e->fd < 0) {
		serve_meta(c, &m, -1, e->data);
		return 0;
	}
	int fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (serve_meta(c, &m, fd, NULL) < 0)
		close(fd);
	return 0;
}

/* req_len: the length of the path the client asked for (before an index
 * file's name was appended), the cache's key. */
static int serve_file(struct conn *c, int fd, const struct stat *st, size_t req_len)
{
	struct xfer *x = c->x;
	char etag[64], lm[HTTP_DATE_LEN + 1];
	make_etag(st, etag, sizeof etag);
	http_date_format(st->st_mtime, lm);
	const char *ctype = mime_for_name(x->path, x->path_len);
	if (cacheable(&x->head)) {
		const struct fc_entry *e =
		    fc_put(&c->srv->files, conf_site_index(c->srv->cfg, x->site), x->path, req_len, fd, st,
		           ctype, etag, lm, clock_cache.now_ms);
		if (e && e->fd < 0) {
			close(fd);
			serve_cached(c, e);
			return 0;
		}
		/* a descriptor entry keeps its own duplicate: this response uses fd */
	}
	struct file_meta m = {(uint64_t)st->st_size, st->st_mtime, etag, lm, ctype};
	return serve_meta(c, &m, fd, NULL);
}

/* OPTIONS (204 + Allow) and methods a file does not take (405) are answered
 * here, closing fd; 1 when they were, 0 for GET and HEAD. */
static int answered_by_method(struct conn *c, int fd)
{
	enum http_method m = c->x->head.method;
	if (m == HTTP_M_GET || m == HTTP_M_HEAD)
		return 0;
	close(fd);
	if (m == HTTP_M_OPTIONS)
		options_response(c);
	else
		method_not_allowed(c);
	return 1;
}

void static_handle(struct conn *c)
{
	struct xfer *x = c->x;
	const struct http_head *h = &x->head;
	const struct site_conf *cfg = x->site;

	if (h->flags & HTTP_F_ASTERISK) {
		options_response(c);
		return;
	}
	if (h->method == HTTP_M_OTHER) {
		refuse(c, 501, "method not implemented");
		return;
	}
	if (x->route_status >= 400) {
		refuse(c, x->route_status,
		       x->route_status == 404 ? "no such script" : "refused by the FastCGI route");
		return;
	}
	int r = x->path_status; /* path_normalize() ran when the head arrived */
	if (r != PATH_OK) {
		refuse(c, -r,
		       r == PATH_E_FORBIDDEN ? "encoded NUL or slash in the path"
		       : r == PATH_E_TOOLONG ? "path too long"
		                             : "malformed path or above the root");
		return;
	}
	if (!cfg->dotfiles && path_has_dotfile(x->path, x->path_len)) {
		refuse(c, 404, "dotfile (see --dotfiles)");
		return;
	}
	size_t req_len = x->path_len;
	if (cacheable(h)) {
		const struct fc_entry *e = fc_get(&c->srv->files, conf_site_index(c->srv->cfg, x->site),
		                                  x->path, x->path_len, clock_cache.now_ms);
		if (e && e->missing) {
			refuse(c, 404, strerror(ENOENT));
			return;
		}
		if (e && serve_cached(c, e) == 0)
			return;
	}
	const char *rel = x->path_len > 1 ? x->path + 1 : ".";
	int fd = open_beneath(x->root_fd, rel, O_RDONLY | O_NONBLOCK, cfg->follow_symlinks);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT && cacheable(h))
			fc_put_missing(&c->srv->files, conf_site_index(c->srv->cfg, x->site), x->path,
			               x->path_len, clock_cache.now_ms);
		refuse(c, errno_status(e), strerror(e));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		refuse(c, 500, strerror(e));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (x->path[x->path_len - 1] != '/') {
			close(fd);
			redirect_to_dir(c);
			return;
		}
		int ifd = -1;
		struct stat ist;
		const char *iname = NULL;
		for (unsigned i = 0; i < cfg->nindex && ifd < 0; i++) {
			ifd = open_beneath(fd, cfg->index[i], O_RDONLY | O_NONBLOCK, cfg->follow_symlinks);
			if (ifd >= 0 && (fstat(ifd, &ist) < 0 || !S_ISREG(ist.st_mode))) {
				close(ifd);
				ifd = -1;
			}
			iname = cfg->index[i];
		}
		if (ifd >= 0) {
			close(fd);
			fd = ifd;
			st = ist;
			/* the index is what is served: its type decides Content-Type */
			size_t il = strlen(iname);
			if (x->path_len + il < sizeof x->path) {
				memcpy(x->path + x->path_len, iname, il + 1);
				x->path_len += il;
			}
		} else {
			if (!cfg->listing) {
				close(fd);
				refuse(c, 403, "directory without index.html (see --listing)");
				return;
			}
			if (answered_by_method(c, fd))
				return;
			size_t len = 0;
			char *html = make_listing(c, fd, &len);
			close(fd);
			if (!html) {
				refuse(c, 500, "cannot list the directory");
				return;
			}
			resp_start(c, 200);
			resp_header(c, "Content-Type", "text/html; charset=utf-8");
			resp_end_owned(c, html, len);
			return;
		}
	} else if (!S_ISREG(st.st_mode)) {
		close(fd);
		refuse(c, 403, "not a regular file");
		return;
	}
	if (answered_by_method(c, fd))
		return;
	if (serve_file(c, fd, &st, req_len) < 0)
		close(fd);
}
