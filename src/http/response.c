/* response.c: writing response heads into the connection's write buffer.
 *
 * A response head is built in place, after any earlier pipelined responses
 * still waiting in the buffer. If a head cannot fit (a pathological header),
 * it is rolled back and replaced by a 500 that closes the connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/conn.h"
#include "http/date.h"
#include "http/server.h"

/* Bodies up to this size are copied into the write buffer (one write for
 * head and body, and batching across pipelined requests); larger ones go
 * out with sendfile. */
#define COPY_MAX 16384u

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static size_t copy_in(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	return n;
}

/* "404 Not Found": the status (100..599, three digits), a space and its text,
 * into out (STATUS_TITLE_MAX bytes; the longest text is 31). Its length. */
#define STATUS_TITLE_MAX 40
static size_t status_title(int status, char *out)
{
	out[0] = (char)('0' + status / 100 % 10);
	out[1] = (char)('0' + status / 10 % 10);
	out[2] = (char)('0' + status % 10);
	out[3] = ' ';
	const char *text = http_status_text(status);
	size_t tl = strlen(text);
	if (tl > STATUS_TITLE_MAX - 4)
		tl = STATUS_TITLE_MAX - 4;
	memcpy(out + 4, text, tl);
	return tl + 4;
}

static void put(struct conn *c, const char *s, size_t n)
{
	struct buf *wb = c->wbuf;
	if (!wb || (c->x->flags & XF_OVERFLOW))
		return;
	if (buf_space(wb) < n) {
		c->x->flags |= XF_OVERFLOW;
		return;
	}
	memcpy(wb->data + wb->len, s, n);
	wb->len += (uint32_t)n;
}

static void puts_(struct conn *c, const char *s)
{
	put(c, s, strlen(s));
}

void resp_start(struct conn *c, int status)
{
	struct xfer *x = c->x;
	if (!c->wbuf)
		c->wbuf = pool_get(&c->srv->bufs);
	if (!c->wbuf)
		return;
	x->status = status;
	x->resp_start = c->wbuf->len;
	x->flags &= ~XF_OVERFLOW;
	/* the hot path: no printf, just copies */
	char line[128];
	memcpy(line, "HTTP/1.1 ", 9);
	size_t n = 9 + status_title(status, line + 9);
	static const char mid[] = "\r\nServer: hearth\r\nDate: ";
	memcpy(line + n, mid, sizeof mid - 1);
	n += sizeof mid - 1;
	memcpy(line + n, clock_cache.http_date, HTTP_DATE_LEN);
	n += HTTP_DATE_LEN;
	line[n++] = '\r';
	line[n++] = '\n';
	put(c, line, n);
}

/* Decimal digits of v into out (at least 21 bytes); returns the length. */
static size_t u64_dec(uint64_t v, char *out)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void resp_header_n(struct conn *c, const char *name, const char *value, size_t n)
{
	puts_(c, name);
	put(c, ": ", 2);
	put(c, value, n);
	put(c, "\r\n", 2);
}

void resp_header(struct conn *c, const char *name, const char *value)
{
	resp_header_n(c, name, value, strlen(value));
}

/* Formatted straight into the write buffer: a value is limited only by the
 * room left for the head (a Location echoing a long query), not by a copy. */
void resp_headerf(struct conn *c, const char *name, const char *fmt, ...)
{
	puts_(c, name);
	put(c, ": ", 2);
	struct buf *wb = c->wbuf;
	if (!wb || (c->x->flags & XF_OVERFLOW))
		return;
	size_t room = buf_space(wb);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(wb->data + wb->len, room, fmt, ap); /* room counts the NUL */
	va_end(ap);
	if (n < 0 || (size_t)n + 2 > room) { /* the CRLF overwrites the NUL */
		c->x->flags |= XF_OVERFLOW;
		return;
	}
	wb->len += (uint32_t)n;
	put(c, "\r\n", 2);
}

/* Content-Length (unless the status forbids a body), Connection, blank line.
 * Returns 0, or -1 when the head overflowed and a 500 was written instead. */
static int end_head(struct conn *c, uint64_t length)
{
	return resp_end_head(c, (int64_t)length);
}

int resp_end_head(struct conn *c, int64_t length)
{
	struct xfer *x = c->x;
	char line[64];
	if (!c->wbuf)
		return -1;
	if (x->status != 204 && x->status != 304 && x->status >= 200 && length >= 0) {
		memcpy(line, "Content-Length: ", 16);
		size_t n = 16 + u64_dec((uint64_t)length, line + 16);
		line[n++] = '\r';
		line[n++] = '\n';
		put(c, line, n);
	}
	if (x->flags & XF_CLOSE)
		puts_(c, "Connection: close\r\n");
	else if (x->head.version == 10)
		puts_(c, "Connection: keep-alive\r\n");
	put(c, "\r\n", 2);
	if (!(x->flags & XF_OVERFLOW))
		return 0;
	log_error("response head for %.*s too large for the write buffer", (int)x->path_len, x->path);
	c->wbuf->len = x->resp_start;
	x->flags &= ~XF_OVERFLOW;
	x->flags |= XF_CLOSE | XF_ERROR;
	x->status = 500;
	static const char h500[] =
	    "HTTP/1.1 500 Internal Server Error\r\nServer: hearth\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n";
	put(c, h500, sizeof h500 - 1);
	return -1;
}

void resp_end_mem(struct conn *c, const char *body, size_t len)
{
	struct xfer *x = c->x;
	x->body = BODY_NONE;
	if (end_head(c, len) < 0 || (x->flags & XF_HEAD) || len == 0)
		return;
	if (buf_space(c->wbuf) >= len) {
		put(c, body, len);
		x->body_sent = len;
		return;
	}
	char *copy = malloc(len);
	if (!copy) {
		x->flags |= XF_CLOSE; /* the head promised a body we cannot give */
		return;
	}
	memcpy(copy, body, len);
	x->mem = copy;
	x->mem_off = 0;
	x->mem_len = len;
	x->body = BODY_MEM;
}

void resp_end_owned(struct conn *c, char *mem, size_t len)
{
	struct xfer *x = c->x;
	x->body = BODY_NONE;
	if (end_head(c, len) < 0 || (x->flags & XF_HEAD) || len == 0) {
		free(mem);
		return;
	}
	if (buf_space(c->wbuf) >= len) {
		put(c, mem, len);
		x->body_sent = len;
		free(mem);
		return;
	}
	x->mem = mem;
	x->mem_off = 0;
	x->mem_len = len;
	x->body = BODY_MEM;
}

void resp_end_file(struct conn *c, int fd, uint64_t off, uint64_t len)
{
	struct xfer *x = c->x;
	x->body = BODY_NONE;
	if (end_head(c, len) < 0 || (x->flags & XF_HEAD) || len == 0) {
		close(fd);
		return;
	}
	struct buf *wb = c->wbuf;
	if (len <= COPY_MAX && buf_space(wb) >= len) {
		ssize_t n = pread(fd, wb->data + wb->len, len, (off_t)off);
		close(fd);
		if (n != (ssize_t)len) {
			/* the file changed under us: the promised length cannot be met */
			log_warn("short read on %.*s", (int)x->path_len, x->path);
			x->flags |= XF_CLOSE;
			wb->len = x->resp_start; /* drop the head: the client sees a close */
			x->status = 500;
			return;
		}
		wb->len += (uint32_t)len;
		x->body_sent = len;
		return;
	}
	x->fd = fd;
	x->file_off = off;
	x->file_left = len;
	x->body = BODY_FILE;
}

void resp_end_multipart(struct conn *c, int fd)
{
	struct xfer *x = c->x;
	/* total length: every part header, every range, the closing boundary */
	uint64_t total = 0;
	char tmp[256];
	for (unsigned i = 0; i < x->nranges; i++) {
		const struct byte_range *r = &x->ranges[i];
		total += (uint64_t)snprintf(
		    tmp, sizeof tmp,
		    "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
		    c->srv->boundary, x->ctype, (unsigned long long)r->first, (unsigned long long)r->last,
		    (unsigned long long)x->fsize);
		total += r->last - r->first + 1;
	}
	total += (uint64_t)snprintf(tmp, sizeof tmp, "\r\n--%s--\r\n", c->srv->boundary);
	resp_headerf(c, "Content-Type", "multipart/byteranges; boundary=%s", c->srv->boundary);
	x->body = BODY_NONE;
	if (end_head(c, total) < 0 || (x->flags & XF_HEAD)) {
		close(fd);
		return;
	}
	x->fd = fd;
	x->part = 0;
	x->file_left = 0;
	x->body = BODY_MULTIPART;
}

void resp_end_error(struct conn *c)
{
	struct xfer *x = c->x;
	/* copied, not formatted: error pages can come in floods */
	char title[STATUS_TITLE_MAX];
	size_t tl = status_title(x->status, title);
	static const char a[] = "<!DOCTYPE html>\n<html><head><title>", b[] = "</title></head>\n<body><h1>",
	                  z[] = "</h1><hr><p>hearth</p></body></html>\n";
	char body[sizeof a + sizeof b + sizeof z + 2 * sizeof title];
	size_t n = copy_in(body, a, sizeof a - 1);
	n += copy_in(body + n, title, tl);
	n += copy_in(body + n, b, sizeof b - 1);
	n += copy_in(body + n, title, tl);
	n += copy_in(body + n, z, sizeof z - 1);
	resp_header(c, "Content-Type", "text/html; charset=utf-8");
	resp_end_mem(c, body, n);
}

void resp_error(struct conn *c, int status)
{
	resp_start(c, status);
	resp_end_error(c);
}
