/* test_parse.c: request head parser and chunked decoder (src/http/parse.h).
 *
 * Table-driven: every case is parsed from one whole buffer, then again fed one
 * byte at a time (same buffer, growing length, bytes not yet "received" zeroed)
 * and split once at every byte boundary (bytes not yet received set to '\n').
 * All three must reach the same verdict with the same spans; an intermediate
 * call may only answer HTTP_PARTIAL or, early, the final error. Buffers are
 * malloc'd at their exact size so ASan catches any read past the end.
 */
#include "check.h"
#include "http/parse.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#define W_ALL INT_MAX /* the head is the whole input */
#define W_ERR INT_MIN /* any negative status (where the RFC leaves the code open) */
#define W_400_501 (INT_MIN + 1) /* -400 or -501 */

struct pcase {
	const char *name;
	const char *in;
	size_t len;
	int want; /* expected return: W_ALL, W_ERR, HTTP_PARTIAL, a size or -status */
	const struct http_limits *lim;
	int chk_method;
	enum http_method method;
	const char *method_str, *target, *path, *query, *host; /* NULL: not checked */
	int version; /* 0: not checked */
	int chk_flags;
	uint32_t flags;
	int chk_cl;
	int64_t cl;
	int chk_nfields;
	uint32_t nfields;
	void (*extra)(const struct http_head *h);
};

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define METHOD(m) .chk_method = 1, .method = (m)
#define FLAGS(f) .chk_flags = 1, .flags = (f)
#define CL(n) .chk_cl = 1, .cl = (n)
#define NFIELDS(n) .chk_nfields = 1, .nfields = (n)

#define RL "GET / HTTP/1.1\r\n"
#define HOST "Host: a\r\n"
#define POST_RL "POST /f HTTP/1.1\r\nHost: a\r\n"

static const struct http_limits lim_line32 = {.max_request_line = 32};
static const struct http_limits lim_head64 = {.max_head = 64};
static const struct http_limits lim_fields3 = {.max_fields = 3};

/* ---- helpers ---------------------------------------------------------- */

static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	if (n)
		memcpy(p, s, n);
	else
		p[0] = '\0';
	return p;
}

static const struct http_field *field(const struct http_head *h, const char *name)
{
	return http_head_field(h, name);
}

static struct span mkspan(const char *s)
{
	struct span sp = {s, (uint32_t)strlen(s)};
	return sp;
}

/* Growable byte string for inputs built at run time. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void sb_rep(struct sbuf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sb_addn(b, &c, 1);
}

/* ---- comparing two parses of the same bytes --------------------------- */

static const struct {
	const char *name;
	size_t off;
} span_fields[] = {
    {"method_str", offsetof(struct http_head, method_str)},
    {"target", offsetof(struct http_head, target)},
    {"path", offsetof(struct http_head, path)},
    {"query", offsetof(struct http_head, query)},
    {"host", offsetof(struct http_head, host)},
    {"if_none_match", offsetof(struct http_head, if_none_match)},
    {"if_match", offsetof(struct http_head, if_match)},
    {"if_modified_since", offsetof(struct http_head, if_modified_since)},
    {"if_unmodified_since", offsetof(struct http_head, if_unmodified_since)},
    {"if_range", offsetof(struct http_head, if_range)},
    {"range", offsetof(struct http_head, range)},
    {"user_agent", offsetof(struct http_head, user_agent)},
    {"referer", offsetof(struct http_head, referer)},
    {"content_type", offsetof(struct http_head, content_type)},
};

static struct span span_at(const struct http_head *h, size_t off)
{
	struct span s;
	memcpy(&s, (const char *)h + off, sizeof s);
	return s;
}

/* Same length and, when non-empty, same offset into its own buffer. */
static bool span_same(struct span a, const char *ba, struct span b, const char *bb)
{
	if (a.len != b.len)
		return false;
	return a.len == 0 || a.p - ba == b.p - bb;
}

/* Same length and same bytes (for parses of different but equivalent inputs). */
static bool span_same_text(struct span a, struct span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Name of the first member that differs, or NULL. by_text compares span
 * contents instead of positions. */
static const char *head_diff(const struct http_head *a, const char *ba, const struct http_head *b,
                             const char *bb, bool by_text)
{
	if (a->method != b->method)
		return "method";
	if (a->version != b->version)
		return "version";
	if (a->flags != b->flags)
		return "flags";
	if (a->content_length != b->content_length)
		return "content_length";
	if (a->nfields != b->nfields)
		return "nfields";
	for (size_t i = 0; i < sizeof span_fields / sizeof span_fields[0]; i++) {
		struct span x = span_at(a, span_fields[i].off), y = span_at(b, span_fields[i].off);
		if (by_text ? !span_same_text(x, y) : !span_same(x, ba, y, bb))
			return span_fields[i].name;
	}
	for (uint32_t i = 0; i < a->nfields && i < HTTP_MAX_FIELDS_HARD; i++) {
		const struct http_field *x = &a->fields[i], *y = &b->fields[i];
		if (by_text ? !span_same_text(x->name, y->name) : !span_same(x->name, ba, y->name, bb))
			return "fields[].name";
		if (by_text ? !span_same_text(x->value, y->value) : !span_same(x->value, ba, y->value, bb))
			return "fields[].value";
	}
	return NULL;
}

/* Every span of a complete head lies inside buf[0..n). */
static void check_spans_inside(const struct http_head *h, const char *buf, size_t n)
{
	for (size_t i = 0; i < sizeof span_fields / sizeof span_fields[0]; i++) {
		struct span s = span_at(h, span_fields[i].off);
		if (s.len && !(s.p >= buf && s.p + s.len <= buf + n))
			CHECK_FAIL("span %s outside the head", span_fields[i].name);
	}
	if (!CHECK(h->nfields <= HTTP_MAX_FIELDS_HARD))
		return;
	for (uint32_t i = 0; i < h->nfields; i++) {
		struct span s = h->fields[i].name, v = h->fields[i].value;
		if (!s.len || s.p < buf || s.p + s.len > buf + n)
			CHECK_FAIL("fields[%u].name outside the head or empty", i);
		if (v.len && (v.p < buf || v.p + v.len > buf + n))
			CHECK_FAIL("fields[%u].value outside the head", i);
	}
}

static bool verdict_ok(int want, size_t len, int got)
{
	if (want == W_ALL)
		return got >= 0 && (size_t)got == len;
	if (want == W_ERR)
		return got < 0;
	if (want == W_400_501)
		return got == -400 || got == -501;
	return got == want;
}

/* Feed in[0..n) one byte at a time into a buffer whose unreceived tail is
 * filled with poison; compare with the whole-buffer result (r, h). */
static void feed_bytewise(const char *in, size_t n, const struct http_limits *lim, int r,
                          const struct http_head *h, const char *hbuf)
{
	char *buf = malloc(n ? n : 1);
	struct http_head *g = malloc(sizeof *g);
	if (!buf || !g)
		abort();
	memset(buf, 0, n ? n : 1);
	http_head_init(g);
	int got = HTTP_PARTIAL;
	size_t at = 0;
	for (size_t i = 1; i <= n; i++) {
		buf[i - 1] = in[i - 1];
		got = http_parse_head(g, buf, i, lim);
		at = i;
		if (got != HTTP_PARTIAL)
			break;
	}
	if (got < 0 && got != r)
		CHECK_FAIL("byte-by-byte: error %d after %zu bytes, whole buffer gave %d", got, at, r);
	else if (got == HTTP_PARTIAL && r != HTTP_PARTIAL)
		CHECK_FAIL("byte-by-byte: still partial after all %zu bytes, whole buffer gave %d", n, r);
	else if (got > 0) {
		if (got != r)
			CHECK_FAIL("byte-by-byte: complete (%d) after %zu bytes, whole buffer gave %d", got,
			           at, r);
		else if ((size_t)got != at)
			CHECK_FAIL("byte-by-byte: complete head of %d bytes reported after %zu bytes", got,
			           at);
		else {
			const char *d = head_diff(h, hbuf, g, buf, false);
			if (d)
				CHECK_FAIL("byte-by-byte: '%s' differs from the whole-buffer parse", d);
			else
				check_passed_++;
		}
	} else
		check_passed_++;
	free(g);
	free(buf);
}

/* Feed in[0..k) then in[0..n) for every k; unreceived bytes are '\n'. */
static void feed_split(const char *in, size_t n, const struct http_limits *lim, int r,
                       const struct http_head *h, const char *hbuf)
{
	char *buf = malloc(n ? n : 1);
	struct http_head *g = malloc(sizeof *g);
	if (!buf || !g)
		abort();
	unsigned bad = 0;
	for (size_t k = 1; k < n && bad < 3; k++) {
		memset(buf, '\n', n);
		memcpy(buf, in, k);
		http_head_init(g);
		int got = http_parse_head(g, buf, k, lim);
		size_t at = k;
		if (got == HTTP_PARTIAL) {
			memcpy(buf, in, n);
			got = http_parse_head(g, buf, n, lim);
			at = n;
		}
		const char *why = NULL;
		if (got != r && !(got == HTTP_PARTIAL && r == HTTP_PARTIAL))
			why = "verdict";
		else if (got > 0 && (size_t)got > at)
			why = "head longer than the bytes given";
		else if (got > 0)
			why = head_diff(h, hbuf, g, buf, false);
		if (why) {
			CHECK_FAIL("split at %zu: %s differs (got %d, whole buffer gave %d)", k, why, got, r);
			bad++;
		}
	}
	if (!bad)
		check_passed_++;
	free(g);
	free(buf);
}

/* Parse whole, check the verdict, then byte-by-byte and split feeding. Returns
 * the whole-buffer result; *out (if given) receives the head. */
static int run_bytes(const char *name, const char *in, size_t n, const struct http_limits *lim, int want,
                     struct http_head *out, char **outbuf)
{
	check_context("%s", name);
	char *buf = dup_exact(in, n);
	struct http_head *h = malloc(sizeof *h);
	if (!h)
		abort();
	http_head_init(h);
	int r = http_parse_head(h, buf, n, lim);
	if (!verdict_ok(want, n, r)) {
		if (want == W_ALL)
			CHECK_FAIL("http_parse_head returned %d, want %zu (whole input)", r, n);
		else if (want == W_ERR)
			CHECK_FAIL("http_parse_head returned %d, want an error", r);
		else if (want == W_400_501)
			CHECK_FAIL("http_parse_head returned %d, want -400 or -501", r);
		else
			CHECK_FAIL("http_parse_head returned %d, want %d", r, want);
	} else
		check_passed_++;
	if (r > 0) {
		CHECK((size_t)r <= n);
		check_spans_inside(h, buf, (size_t)r);
		CHECK(h->version == 10 || h->version == 11);
		CHECK(h->state == 2);
		/* calling again on a finished head must not change the verdict */
	}
	feed_bytewise(in, n, lim, r, h, buf);
	if (n <= 4096)
		feed_split(in, n, lim, r, h, buf);
	if (out)
		memcpy(out, h, sizeof *h);
	if (outbuf)
		*outbuf = buf;
	else
		free(buf);
	free(h);
	return r;
}

static void run_case(const struct pcase *c)
{
	struct http_head *h = malloc(sizeof *h);
	char *buf = NULL;
	if (!h)
		abort();
	int r = run_bytes(c->name, c->in, c->len, c->lim, c->want, h, &buf);
	check_context("%s", c->name);
	if (r > 0) {
		if (c->chk_method)
			CHECK_EQ_INT(h->method, c->method);
		if (c->method_str)
			CHECK_SPAN(h->method_str, c->method_str);
		if (c->target)
			CHECK_SPAN(h->target, c->target);
		if (c->path)
			CHECK_SPAN(h->path, c->path);
		if (c->query)
			CHECK_SPAN(h->query, c->query);
		if (c->host)
			CHECK_SPAN(h->host, c->host);
		if (c->version)
			CHECK_EQ_INT(h->version, c->version);
		if (c->chk_flags)
			CHECK_EQ_INT(h->flags, c->flags);
		if (c->chk_cl)
			CHECK_EQ_INT(h->content_length, c->cl);
		if (c->chk_nfields)
			CHECK_EQ_INT(h->nfields, c->nfields);
		if (c->extra)
			c->extra(h);
	}
	check_context(NULL);
	free(buf);
	free(h);
}

/* ---- per-case extra checks -------------------------------------------- */

static void x_basic(const struct http_head *h)
{
	CHECK_SPAN(h->user_agent, "curl/8");
	const struct http_field *f = field(h, "accept");
	if (CHECK(f != NULL)) {
		CHECK_SPAN(f->name, "Accept");
		CHECK_SPAN(f->value, "*/*");
	}
	f = field(h, "HOST");
	if (CHECK(f != NULL))
		CHECK_SPAN(f->value, "example.com");
	CHECK(field(h, "x-missing") == NULL);
	CHECK_EQ_INT(h->range.len, 0);
	CHECK_EQ_INT(h->if_none_match.len, 0);
	CHECK_EQ_INT(h->content_type.len, 0);
	if (CHECK_EQ_INT(h->nfields, 3)) {
		CHECK_SPAN(h->fields[0].name, "Host");
		CHECK_SPAN(h->fields[1].name, "User-Agent");
		CHECK_SPAN(h->fields[2].value, "*/*");
	}
}

static void x_post(const struct http_head *h)
{
	CHECK_SPAN(h->content_type, "text/plain");
}

static void x_wellknown(const struct http_head *h)
{
	CHECK_SPAN(h->range, "bytes=0-99");
	CHECK_SPAN(h->if_none_match, "\"abc\", W/\"def\"");
	CHECK_SPAN(h->if_match, "\"xyz\"");
	CHECK_SPAN(h->if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
	CHECK_SPAN(h->if_unmodified_since, "Mon, 07 Nov 1994 08:49:37 GMT");
	CHECK_SPAN(h->if_range, "\"etag\"");
	CHECK_SPAN(h->user_agent, "Mozilla/5.0 (X11; Linux)");
	CHECK_SPAN(h->referer, "http://example.com/");
	CHECK_SPAN(h->content_type, "text/html; charset=utf-8");
}

static void x_wellknown_case(const struct http_head *h)
{
	CHECK_SPAN(h->range, "bytes=1-2");
	CHECK_SPAN(h->if_none_match, "*");
	CHECK_SPAN(h->user_agent, "ua");
	CHECK_SPAN(h->referer, "r");
	CHECK_SPAN(h->content_type, "a/b");
}

static void x_trim(const struct http_head *h)
{
	const struct http_field *f;
	if (CHECK((f = field(h, "X-A")) != NULL))
		CHECK_SPAN(f->value, "v");
	if (CHECK((f = field(h, "x-b")) != NULL))
		CHECK_SPAN(f->value, "v");
	if (CHECK((f = field(h, "X-C")) != NULL))
		CHECK_SPAN(f->value, "a\tb");
	if (CHECK((f = field(h, "X-D")) != NULL))
		CHECK_EQ_INT(f->value.len, 0);
	if (CHECK((f = field(h, "X-E")) != NULL))
		CHECK_SPAN(f->value, "a b  c");
	if (CHECK((f = field(h, "X-F")) != NULL))
		CHECK_SPAN(f->value, "!#$%&'*+-.^_`|~");
}

static void x_obs_text(const struct http_head *h)
{
	const struct http_field *f = field(h, "X-U");
	if (CHECK(f != NULL))
		CHECK_SPAN(f->value, "caf\xc3\xa9");
}

static void x_absolute(const struct http_head *h)
{
	CHECK(h->flags & HTTP_F_ABSOLUTE);
}

/* ---- the table -------------------------------------------------------- */

#define PIPE1 "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
#define POSTHEAD POST_RL "Content-Length: 5\r\nContent-Type: text/plain\r\n\r\n"

static const struct pcase cases[] = {
    /* accepted */
    {.name = "GET with fields",
     IN("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_GET),
     .method_str = "GET",
     .target = "/index.html",
     .path = "/index.html",
     .query = "",
     .host = "example.com",
     .version = 11,
     FLAGS(0),
     CL(-1),
     NFIELDS(3),
     .extra = x_basic},
    {.name = "HEAD",
     IN("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_HEAD),
     .method_str = "HEAD",
     .path = "/",
     .host = "a",
     .version = 11,
     FLAGS(0),
     CL(-1)},
    {.name = "POST with Content-Length, body left",
     IN(POSTHEAD "hello"),
     .want = sizeof(POSTHEAD) - 1,
     METHOD(HTTP_M_POST),
     .path = "/f",
     FLAGS(HTTP_F_HAS_CL),
     CL(5),
     NFIELDS(3),
     .extra = x_post},
    {.name = "POST, body bytes are never looked at",
     IN(POSTHEAD "\0\r\x01 \n\r\r"),
     .want = sizeof(POSTHEAD) - 1,
     CL(5)},
    {.name = "PUT",
     IN("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_PUT),
     CL(0),
     FLAGS(HTTP_F_HAS_CL)},
    {.name = "DELETE", IN("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"), .want = W_ALL, METHOD(HTTP_M_DELETE)},
    {.name = "TRACE", IN("TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n"), .want = W_ALL, METHOD(HTTP_M_TRACE)},
    {.name = "PATCH", IN("PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n"), .want = W_ALL, METHOD(HTTP_M_PATCH)},
    {.name = "OPTIONS on a path",
     IN("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_OPTIONS),
     .path = "/x",
     FLAGS(0)},
    {.name = "unknown method is a valid token",
     IN("FOO /x HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_OTHER),
     .method_str = "FOO"},
    {.name = "methods are case-sensitive",
     IN("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_OTHER),
     .method_str = "get"},
    {.name = "method with a known prefix",
     IN("GETS / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_OTHER),
     .method_str = "GETS"},
    {.name = "method with tchars",
     IN("M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_OTHER),
     .method_str = "M-SEARCH!"},
    {.name = "absolute-form target",
     IN("GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_GET),
     .target = "http://example.com:8080/a/b?x=1",
     .path = "/a/b",
     .query = "x=1",
     .host = "example.com:8080",
     FLAGS(HTTP_F_ABSOLUTE)},
    {.name = "absolute-form authority wins over Host",
     IN("GET http://example.com/p HTTP/1.1\r\nHost: other.example\r\n\r\n"),
     .want = W_ALL,
     .path = "/p",
     .query = "",
     .host = "example.com",
     .extra = x_absolute},
    {.name = "OPTIONS *",
     IN("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     METHOD(HTTP_M_OPTIONS),
     .target = "*",
     .host = "a",
     FLAGS(HTTP_F_ASTERISK)},
    {.name = "query split",
     IN("GET /search?q=a&b=c HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     .target = "/search?q=a&b=c",
     .path = "/search",
     .query = "q=a&b=c"},
    {.name = "query keeps later '?'",
     IN("GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     .path = "/a",
     .query = "b?c"},
    {.name = "empty query",
     IN("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     .path = "/a",
     .query = ""},
    {.name = "percent escapes stay raw",
     IN("GET /a%20b/%2e%2e?x=%41 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     .path = "/a%20b/%2e%2e",
     .query = "x=%41"},
    {.name = "HTTP/1.0 without Host",
     IN("GET / HTTP/1.0\r\n\r\n"),
     .want = W_ALL,
     .version = 10,
     .host = "",
     FLAGS(0),
     NFIELDS(0)},
    {.name = "HTTP/1.0 keep-alive",
     IN("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
     .want = W_ALL,
     .version = 10,
     FLAGS(HTTP_F_KEEPALIVE)},
    {.name = "Connection: close",
     IN(RL HOST "Connection: close\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_CLOSE)},
    {.name = "Connection: Keep-Alive (case)",
     IN(RL HOST "Connection: Keep-Alive\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_KEEPALIVE)},
    {.name = "Connection list with CLOSE",
     IN(RL HOST "Connection: foo, CLOSE\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_CLOSE)},
    {.name = "Connection list no spaces",
     IN(RL HOST "Connection: upgrade,keep-alive\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_KEEPALIVE)},
    {.name = "Connection: closed is not close",
     IN(RL HOST "Connection: closed\r\n\r\n"),
     .want = W_ALL,
     FLAGS(0)},
    {.name = "Connection: xclose, close-ish",
     IN(RL HOST "Connection: xclose, close-ish\r\n\r\n"),
     .want = W_ALL,
     FLAGS(0)},
    {.name = "two Connection fields",
     IN(RL HOST "Connection: foo\r\nconnection: close\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_CLOSE)},
    {.name = "Expect: 100-continue",
     IN(POST_RL "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_HAS_CL | HTTP_F_EXPECT_100),
     CL(3)},
    {.name = "Expect: 100-Continue (case)",
     IN(POST_RL "Content-Length: 3\r\nexpect: 100-Continue\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_HAS_CL | HTTP_F_EXPECT_100)},
    {.name = "well-known fields",
     IN(RL HOST "Range: bytes=0-99\r\nIf-None-Match: \"abc\", W/\"def\"\r\nIf-Match: \"xyz\"\r\n"
                "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                "If-Unmodified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\nIf-Range: \"etag\"\r\n"
                "User-Agent: Mozilla/5.0 (X11; Linux)\r\nReferer: http://example.com/\r\n"
                "Content-Type: text/html; charset=utf-8\r\n\r\n"),
     .want = W_ALL,
     NFIELDS(10),
     .extra = x_wellknown},
    {.name = "well-known fields, any case",
     IN(RL HOST "range: bytes=1-2\r\nIF-NONE-MATCH: *\r\nuser-AGENT: ua\r\nREFERER: r\r\n"
                "content-type: a/b\r\n\r\n"),
     .want = W_ALL,
     .extra = x_wellknown_case},
    {.name = "value whitespace trimmed, inner kept",
     IN(RL HOST "X-A:   v  \r\nx-b:\tv\t\r\nX-C: a\tb\r\nX-D:\r\nX-E: a b  c \r\n"
                "X-F: !#$%&'*+-.^_`|~\r\n\r\n"),
     .want = W_ALL,
     NFIELDS(7),
     .extra = x_trim},
    {.name = "obs-text in a value",
     IN(RL HOST "X-U: caf\xc3\xa9\r\n\r\n"),
     .want = W_ALL,
     .extra = x_obs_text},
    {.name = "Content-Length with OWS",
     IN(POST_RL "Content-Length:  5  \r\n\r\n"),
     .want = W_ALL,
     CL(5),
     FLAGS(HTTP_F_HAS_CL)},
    {.name = "Content-Length trailing space", IN(POST_RL "Content-Length: 5 \r\n\r\n"), .want = W_ALL, CL(5)},
    {.name = "Content-Length tab OWS", IN(POST_RL "Content-Length:\t5\t\r\n\r\n"), .want = W_ALL, CL(5)},
    {.name = "Content-Length 0",
     IN(POST_RL "Content-Length: 0\r\n\r\n"),
     .want = W_ALL,
     CL(0),
     FLAGS(HTTP_F_HAS_CL)},
    {.name = "Content-Length leading zeros", IN(POST_RL "Content-Length: 007\r\n\r\n"), .want = W_ALL, CL(7)},
    {.name = "Content-Length beyond 32 bits",
     IN(POST_RL "Content-Length: 10000000000\r\n\r\n"),
     .want = W_ALL,
     CL(10000000000LL)},
    /* a list is not plain digits: refused, even when the values agree */
    {.name = "Content-Length list 5, 5", IN(POST_RL "Content-Length: 5, 5\r\n\r\n"), .want = -400},
    {.name = "Content-Length list 5,5", IN(POST_RL "Content-Length: 5,5\r\n\r\n"), .want = -400},
    {.name = "Content-Length twice, same",
     IN(POST_RL "Content-Length: 5\r\ncontent-length: 5\r\n\r\n"),
     .want = W_ALL,
     CL(5),
     FLAGS(HTTP_F_HAS_CL)},
    {.name = "Transfer-Encoding: chunked",
     IN(POST_RL "Transfer-Encoding: chunked\r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_CHUNKED),
     CL(-1)},
    {.name = "Transfer-Encoding: Chunked (case, OWS)",
     IN(POST_RL "transfer-encoding:   Chunked  \r\n\r\n"),
     .want = W_ALL,
     FLAGS(HTTP_F_CHUNKED)},
    {.name = "bare LF line endings",
     IN("GET /x?y HTTP/1.1\nHost: a\nX-A: b\n\n"),
     .want = W_ALL,
     .path = "/x",
     .query = "y",
     .host = "a",
     NFIELDS(2)},
    {.name = "mixed CRLF and LF",
     IN("GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\n"),
     .want = W_ALL,
     .host = "a",
     NFIELDS(2)},
    {.name = "leading CRLF ignored",
     IN("\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     .path = "/x",
     .host = "a"},
    {.name = "leading LF ignored", IN("\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"), .want = W_ALL, .path = "/x"},
    {.name = "pipelined: second request left",
     IN(PIPE1 "GET /b HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = sizeof(PIPE1) - 1,
     .path = "/a"},
    {.name = "pipelined: partial second request",
     IN(PIPE1 "GET /b HTT"),
     .want = sizeof(PIPE1) - 1,
     .path = "/a"},
    {.name = "Host [::1]:8080",
     IN("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
     .want = W_ALL,
     .host = "[::1]:8080"},
    {.name = "Host example.com:80",
     IN("GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n"),
     .want = W_ALL,
     .host = "example.com:80"},
    {.name = "Host IPv4",
     IN("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
     .want = W_ALL,
     .host = "127.0.0.1"},
    {.name = "Host port 65535",
     IN("GET / HTTP/1.1\r\nHost: h:65535\r\n\r\n"),
     .want = W_ALL,
     .host = "h:65535"},
    {.name = "Host with OWS trimmed",
     IN("GET / HTTP/1.1\r\nHost:  a.b-c_d~  \r\n\r\n"),
     .want = W_ALL,
     .host = "a.b-c_d~"},

    /* incomplete */
    {.name = "empty input", .in = "", .len = 0, .want = HTTP_PARTIAL},
    {.name = "partial request line", IN("GET / HT"), .want = HTTP_PARTIAL},
    {.name = "no blank line yet", IN(RL HOST), .want = HTTP_PARTIAL},
    {.name = "blank line CR only so far", IN(RL HOST "\r"), .want = HTTP_PARTIAL},
    {.name = "only leading CRLF", IN("\r\n"), .want = HTTP_PARTIAL},

    /* Host */
    {.name = "HTTP/1.1 without Host", IN("GET / HTTP/1.1\r\nX-A: b\r\n\r\n"), .want = -400},
    {.name = "two Host fields", IN("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), .want = -400},
    {.name = "two identical Host fields", IN("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), .want = -400},
    {.name = "two Host fields in HTTP/1.0", IN("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), .want = -400},
    {.name = "Host with userinfo", IN("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"), .want = -400},
    {.name = "Host with bad percent-encoding", IN("GET / HTTP/1.1\r\nHost: %zz\r\n\r\n"), .want = -400},
    {.name = "Host with cut percent-encoding", IN("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n"), .want = -400},
    {.name = "Host with percent before the port", IN("GET / HTTP/1.1\r\nHost: a%:80\r\n\r\n"), .want = -400},
    {.name = "Host with percent-encoding",
     IN("GET / HTTP/1.1\r\nHost: a%41b\r\n\r\n"),
     .want = W_ALL,
     .host = "a%41b"},
    {.name = "Host with inner space", IN("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), .want = -400},
    {.name = "Host list", IN("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), .want = -400},
    {.name = "Host port too big", IN("GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n"), .want = -400},
    {.name = "Host port 65536", IN("GET / HTTP/1.1\r\nHost: h:65536\r\n\r\n"), .want = -400},
    {.name = "Host port not digits", IN("GET / HTTP/1.1\r\nHost: h:x\r\n\r\n"), .want = -400},
    {.name = "Host negative port", IN("GET / HTTP/1.1\r\nHost: h:-1\r\n\r\n"), .want = -400},
    {.name = "Host two ports", IN("GET / HTTP/1.1\r\nHost: h:80:81\r\n\r\n"), .want = -400},
    {.name = "Host with slash", IN("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), .want = -400},
    {.name = "Host unterminated IPv6", IN("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), .want = -400},
    {.name = "absolute-form with userinfo", IN("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), .want = W_ERR},

    /* field syntax */
    {.name = "space before colon", IN("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), .want = -400},
    {.name = "tab before colon", IN("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), .want = -400},
    {.name = "space before colon, other field", IN(RL HOST "X-A : b\r\n\r\n"), .want = -400},
    {.name = "obs-fold SP", IN(RL HOST "X-A: b\r\n c\r\n\r\n"), .want = -400},
    {.name = "obs-fold HTAB", IN(RL HOST "X-A: b\r\n\tc\r\n\r\n"), .want = -400},
    {.name = "first field line starts with SP", IN(RL " Host: a\r\n\r\n"), .want = -400},
    {.name = "obs-fold with bare LF", IN("GET / HTTP/1.1\nHost: a\nX-A: b\n c\n\n"), .want = -400},
    {.name = "bare CR in value", IN(RL HOST "X-A: a\rb\r\n\r\n"), .want = -400},
    {.name = "CR CR LF", IN(RL "Host: a\r\r\n\r\n"), .want = -400},
    {.name = "bare CR in request line", IN("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "request line ends CR CR LF", IN("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "bare CR as blank line", IN(RL HOST "\r\r\n"), .want = -400},
    {.name = "CR then text at blank line", IN(RL HOST "\rX-A: b\r\n\r\n"), .want = -400},
    {.name = "NUL in value", IN(RL HOST "X-A: a\0b\r\n\r\n"), .want = -400},
    {.name = "SOH in value",
     IN(RL HOST "X-A: a\x01"
                "b\r\n\r\n"),
     .want = -400},
    {.name = "US in value", IN(RL HOST "X-A: a\x1f\r\n\r\n"), .want = -400},
    {.name = "DEL in value",
     IN(RL HOST "X-A: a\x7f"
                "b\r\n\r\n"),
     .want = -400},
    {.name = "NUL in Host", IN(RL "Host: a\0\r\n\r\n"), .want = -400},
    {.name = "NUL in name", IN(RL HOST "X\0A: b\r\n\r\n"), .want = -400},
    {.name = "paren in field name", IN(RL HOST "X(Y: a\r\n\r\n"), .want = -400},
    {.name = "space in field name", IN(RL HOST "X Y: a\r\n\r\n"), .want = -400},
    {.name = "slash in field name", IN(RL HOST "X/Y: a\r\n\r\n"), .want = -400},
    {.name = "DEL in field name", IN(RL HOST "X\x7fY: a\r\n\r\n"), .want = -400},
    {.name = "high byte in field name", IN(RL HOST "X\xc3\xa9: a\r\n\r\n"), .want = -400},
    {.name = "empty field name", IN(RL HOST ": a\r\n\r\n"), .want = -400},
    {.name = "field line without colon", IN(RL HOST "X-A\r\n\r\n"), .want = -400},

    /* request line */
    {.name = "paren in method", IN("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "at in method", IN("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "control in method", IN("G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "empty method", IN(" / HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    /* the first line is checked as it arrives, at offset 0 too: no wait for its LF */
    {.name = "control in method, line incomplete", IN("G\x01T / HTTP/1.1"), .want = -400},
    {.name = "TLS ClientHello", IN("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), .want = -400},
    {.name = "method still arriving", IN("GET"), .want = HTTP_PARTIAL},
    {.name = "CONNECT authority-form: not a proxy",
     IN("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
     .want = -501},
    {.name = "CONNECT IPv6 authority", IN("CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -501},
    {.name = "CONNECT without a port", IN("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "CONNECT empty port", IN("CONNECT a: HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "CONNECT without a host", IN("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "CONNECT IPv6 without a port", IN("CONNECT [::1] HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "CONNECT bad port", IN("CONNECT a:4x3 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "target with UTF-8", IN("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "target with 0x80", IN("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "target with SOH", IN("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "target with DEL", IN("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "target with NUL", IN("GET /a\0 HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "query with 0xff", IN("GET /a?\xff HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "target with tab", IN("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "missing version", IN("GET /\r\nHost: a\r\n\r\n"), .want = W_ERR},
    {.name = "trailing space after version", IN("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "HTTP/2.0", IN("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), .want = -505},
    {.name = "HTTP/0.9", IN("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), .want = -505},
    /* RFC 9110 §2.5: a higher minor version is served as 1.1 */
    {.name = "HTTP/1.2 as 1.1", IN("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), .want = W_ALL, .version = 11},
    {.name = "HTTP/1.9 as 1.1", IN("GET / HTTP/1.9\r\nHost: a\r\n\r\n"), .want = W_ALL, .version = 11},
    {.name = "HTTP/1.9 needs Host as 1.1 does", IN("GET / HTTP/1.9\r\n\r\n"), .want = -400},
    {.name = "HTTP/3.0", IN("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), .want = -505},
    {.name = "HTTX/1.1", IN("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "http/1.1 lowercase", IN("GET / http/1.1\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "HTTP/1.1x", IN("GET / HTTP/1.1x\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "HTTP/11", IN("GET / HTTP/11\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "HTTP/1.", IN("GET / HTTP/1.\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "HTTP/", IN("GET / HTTP/\r\nHost: a\r\n\r\n"), .want = -400},
    {.name = "HTTP/1.10", IN("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), .want = W_ERR},
    {.name = "HTTP/2", IN("GET / HTTP/2\r\nHost: a\r\n\r\n"), .want = W_ERR},
    {.name = "request line of one word", IN("GET\r\nHost: a\r\n\r\n"), .want = -400},

    /* Content-Length */
    {.name = "Content-Length +5", IN(POST_RL "Content-Length: +5\r\n\r\n"), .want = -400},
    {.name = "Content-Length 0x5", IN(POST_RL "Content-Length: 0x5\r\n\r\n"), .want = -400},
    {.name = "Content-Length -1", IN(POST_RL "Content-Length: -1\r\n\r\n"), .want = -400},
    {.name = "Content-Length empty", IN(POST_RL "Content-Length:\r\n\r\n"), .want = -400},
    {.name = "Content-Length blank", IN(POST_RL "Content-Length:   \r\n\r\n"), .want = -400},
    {.name = "Content-Length 5 5", IN(POST_RL "Content-Length: 5 5\r\n\r\n"), .want = -400},
    {.name = "Content-Length 5a", IN(POST_RL "Content-Length: 5a\r\n\r\n"), .want = -400},
    {.name = "Content-Length 1e3", IN(POST_RL "Content-Length: 1e3\r\n\r\n"), .want = -400},
    {.name = "Content-Length 5.0", IN(POST_RL "Content-Length: 5.0\r\n\r\n"), .want = -400},
    {.name = "Content-Length overflow",
     IN(POST_RL "Content-Length: 99999999999999999999\r\n\r\n"),
     .want = W_ERR},
    {.name = "Content-Length list 5, 6", IN(POST_RL "Content-Length: 5, 6\r\n\r\n"), .want = -400},
    {.name = "Content-Length twice, differing",
     IN(POST_RL "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
     .want = -400},
    {.name = "Content-Length twice, second invalid",
     IN(POST_RL "Content-Length: 5\r\nContent-Length: 5x\r\n\r\n"),
     .want = -400},
    {.name = "Content-Length then Transfer-Encoding",
     IN(POST_RL "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .want = -400},
    {.name = "Transfer-Encoding then Content-Length",
     IN(POST_RL "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
     .want = -400},

    /* Transfer-Encoding */
    /* RFC 9112 §6.3: chunked not final -> 400 (MUST); §6.1: a coding not
     * understood -> 501 (SHOULD). Both apply to "gzip" alone: either is fine. */
    {.name = "TE gzip alone", IN(POST_RL "Transfer-Encoding: gzip\r\n\r\n"), .want = W_400_501},
    {.name = "TE unknown coding", IN(POST_RL "Transfer-Encoding: foo\r\n\r\n"), .want = -501},
    /* RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing */
    {.name = "HTTP/1.0 with Transfer-Encoding",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .want = -400},
    {.name = "HTTP/1.0 keep-alive with Transfer-Encoding",
     IN("POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: "
        "3\r\n\r\n"),
     .want = -400},
    {.name = "TE unknown, chunked", IN(POST_RL "Transfer-Encoding: foo, chunked\r\n\r\n"), .want = -501},
    {.name = "TE gzip, chunked", IN(POST_RL "Transfer-Encoding: gzip, chunked\r\n\r\n"), .want = -501},
    {.name = "TE chunked, gzip (chunked not last)",
     IN(POST_RL "Transfer-Encoding: chunked, gzip\r\n\r\n"),
     .want = W_400_501},
    {.name = "TE chunked, chunked", IN(POST_RL "Transfer-Encoding: chunked, chunked\r\n\r\n"), .want = -400},
    {.name = "TE chunked twice in two fields",
     IN(POST_RL "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .want = W_ERR},
    {.name = "TE xchunked", IN(POST_RL "Transfer-Encoding: xchunked\r\n\r\n"), .want = W_ERR},
    {.name = "TE empty", IN(POST_RL "Transfer-Encoding:\r\n\r\n"), .want = W_ERR},

    /* limits */
    {.name = "request line at the limit (32)",
     IN("GET /aaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = W_ALL,
     .lim = &lim_line32},
    {.name = "request line over the limit (33)",
     IN("GET /aaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"),
     .want = -414,
     .lim = &lim_line32},
    {.name = "request line over the limit, no LF yet",
     IN("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     .want = -414,
     .lim = &lim_line32},
    {.name = "head at the limit (64)",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
     .want = W_ALL,
     .lim = &lim_head64},
    {.name = "head over the limit (65)",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
     .want = -431,
     .lim = &lim_head64},
    {.name = "head over the limit, never ends",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\nX-A: b\r\nX-A: b\r\nX-A: b\r\nX-A: b\r\nX-A: b\r\n"
        "X-A: b\r\nX-A: b\r\n"),
     .want = -431,
     .lim = &lim_head64},
    {.name = "head over the limit inside a field line, no LF",
     IN("GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     .want = -431,
     .lim = &lim_head64},
    {.name = "fields at the limit (3)",
     IN(RL HOST "A: 1\r\nB: 2\r\n\r\n"),
     .want = W_ALL,
     .lim = &lim_fields3,
     NFIELDS(3)},
    {.name = "fields over the limit (4)",
     IN(RL HOST "A: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
     .want = -431,
     .lim = &lim_fields3},
    {.name = "fields over the limit, never ends",
     IN(RL HOST "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"),
     .want = -431,
     .lim = &lim_fields3},
};

/* ---- cases built at run time ------------------------------------------ */

static void request_with_fields(struct sbuf *b, unsigned nfields, int end)
{
	b->len = 0;
	sb_add(b, "GET / HTTP/1.1\r\nHost: a\r\n");
	char line[64];
	for (unsigned i = 1; i < nfields; i++) {
		snprintf(line, sizeof line, "X-%u: %u\r\n", i, i);
		sb_add(b, line);
	}
	if (end)
		sb_add(b, "\r\n");
}

static void test_limits(void)
{
	struct sbuf b = {0};
	static const struct http_limits zero = {0};
	static const struct http_limits many = {.max_fields = 1000, .max_head = 1u << 20};
	static const struct http_limits big_line = {.max_request_line = 1u << 20, .max_head = 1u << 20};

	request_with_fields(&b, 100, 1);
	run_bytes("default: 100 fields ok", b.p, b.len, NULL, W_ALL, NULL, NULL);
	request_with_fields(&b, 101, 1);
	run_bytes("default: 101 fields", b.p, b.len, NULL, -431, NULL, NULL);
	run_bytes("zeroed limits: 101 fields", b.p, b.len, &zero, -431, NULL, NULL);
	request_with_fields(&b, HTTP_MAX_FIELDS_HARD, 1);
	run_bytes("max_fields 1000: hard cap fields ok", b.p, b.len, &many, W_ALL, NULL, NULL);
	request_with_fields(&b, HTTP_MAX_FIELDS_HARD + 1, 1);
	run_bytes("max_fields 1000: over the hard cap", b.p, b.len, &many, -431, NULL, NULL);

	/* default request line: 8192 including CRLF */
	b.len = 0;
	sb_add(&b, "GET /");
	sb_rep(&b, 'a', HTTP_DEFAULT_MAX_REQUEST_LINE - 16);
	sb_add(&b, " HTTP/1.1\r\nHost: a\r\n\r\n");
	run_bytes("default: request line of 8192", b.p, b.len, NULL, W_ALL, NULL, NULL);
	b.len = 0;
	sb_add(&b, "GET /");
	sb_rep(&b, 'a', HTTP_DEFAULT_MAX_REQUEST_LINE - 15);
	sb_add(&b, " HTTP/1.1\r\nHost: a\r\n\r\n");
	run_bytes("default: request line of 8193", b.p, b.len, NULL, -414, NULL, NULL);
	run_bytes("zeroed limits: request line of 8193", b.p, b.len, &zero, -414, NULL, NULL);
	run_bytes("raised limit: request line of 8193", b.p, b.len, &big_line, W_ALL, NULL, NULL);

	/* default head: 16384 bytes */
	b.len = 0;
	sb_add(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	sb_rep(&b, 'v', HTTP_DEFAULT_MAX_HEAD - b.len - 4);
	sb_add(&b, "\r\n\r\n");
	run_bytes("default: head of 16384", b.p, b.len, NULL, W_ALL, NULL, NULL);
	b.len = 0;
	sb_add(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	sb_rep(&b, 'v', HTTP_DEFAULT_MAX_HEAD - b.len - 3);
	sb_add(&b, "\r\n\r\n");
	run_bytes("default: head of 16385", b.p, b.len, NULL, -431, NULL, NULL);
	b.len = 0;
	sb_add(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	while (b.len < 20000)
		sb_add(&b, "X-Filler: 0123456789\r\n");
	run_bytes("default: endless head", b.p, b.len, NULL, -431, NULL, NULL);
	b.len = 0;
	sb_add(&b, "GET / HTTP/1.1\r\nHost: a\r\nX-Filler: ");
	sb_rep(&b, 'v', 20000);
	run_bytes("default: endless field line", b.p, b.len, NULL, -431, NULL, NULL);
	free(b.p);
	check_context(NULL);
}

/* A request with only LF parses to the same spans (as text) as with CRLF. */
static void test_lf_equivalence(void)
{
	static const char *const pairs[][2] = {
	    {"GET /a?b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nRange: bytes=0-1\r\n\r\n",
	     "GET /a?b HTTP/1.1\nHost: h\nX-A: 1\nRange: bytes=0-1\n\n"},
	    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
	     "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nConnection: close\n\n"},
	    {"GET / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", "GET / HTTP/1.0\nContent-Length: 3\n\n"},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		struct http_head *a = malloc(sizeof *a), *b = malloc(sizeof *b);
		char *ba = NULL, *bb = NULL;
		if (!a || !b)
			abort();
		int ra =
		    run_bytes("LF equivalence (CRLF)", pairs[i][0], strlen(pairs[i][0]), NULL, W_ALL, a, &ba);
		int rb =
		    run_bytes("LF equivalence (LF)", pairs[i][1], strlen(pairs[i][1]), NULL, W_ALL, b, &bb);
		check_context("LF equivalence %zu", i);
		if (ra > 0 && rb > 0) {
			const char *d = head_diff(a, ba, b, bb, true);
			if (d)
				CHECK_FAIL("LF-only parse differs from CRLF parse in '%s'", d);
			else
				check_passed_++;
		}
		free(ba);
		free(bb);
		free(a);
		free(b);
	}
	check_context(NULL);
}

/* The bytes after a complete head are the next request. */
static void test_pipeline(void)
{
	static const char in[] = PIPE1 "HEAD /b?c HTTP/1.1\r\nHost: a\r\n\r\n"
	                               "GET /c HTTP/1.0\r\n\r\n";
	size_t n = sizeof in - 1, off = 0;
	static const char *const paths[] = {"/a", "/b", "/c"};
	check_context("pipeline");
	char *buf = dup_exact(in, n);
	struct http_head *h = malloc(sizeof *h);
	if (!h)
		abort();
	for (int i = 0; i < 3; i++) {
		http_head_init(h);
		int r = http_parse_head(h, buf + off, n - off, NULL);
		if (!CHECK(r > 0))
			break;
		CHECK_SPAN(h->path, paths[i]);
		off += (size_t)r;
	}
	CHECK_EQ_INT(off, n);
	free(h);
	free(buf);
	check_context(NULL);
}

static void test_helpers(void)
{
	check_context("http_list_has");
	CHECK(http_list_has(mkspan("close"), "close"));
	CHECK(http_list_has(mkspan("a, b ,c"), "b"));
	CHECK(http_list_has(mkspan("a, b ,c"), "C"));
	CHECK(http_list_has(mkspan("a,\tb\t,c"), "b"));
	CHECK(http_list_has(mkspan(",,close,,"), "close"));
	CHECK(http_list_has(mkspan("Keep-Alive"), "keep-alive"));
	CHECK(!http_list_has(mkspan("bb"), "b"));
	CHECK(!http_list_has(mkspan("closed, xclose"), "close"));
	CHECK(!http_list_has(mkspan(""), "close"));
	CHECK(!http_list_has(mkspan("a, b"), "a, b"));
	struct span lim = {"close", 4}; /* must honour the length */
	CHECK(!http_list_has(lim, "close"));
	CHECK(http_list_has(lim, "clos"));

	check_context("http_is_tchar");
	static const char tchars[] = "!#$%&'*+-.^_`|~";
	for (int c = 0; c < 256; c++) {
		int want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c != 0 && strchr(tchars, c) != NULL);
		if (!!http_is_tchar((unsigned char)c) != want)
			CHECK_FAIL("http_is_tchar(0x%02x) = %d, want %d", c, http_is_tchar((unsigned char)c),
			           want);
	}
	check_passed_++;

	check_context("http_head_init");
	struct http_head *h = malloc(sizeof *h);
	if (!h)
		abort();
	memset(h, 0xa5, sizeof *h);
	http_head_init(h);
	CHECK_EQ_INT(h->pos, 0);
	CHECK_EQ_INT(h->state, 0);
	free(h);
	check_context(NULL);
}

/* Calling again after a complete head, with more bytes appended, gives the
 * same answer (a caller may re-enter with the whole buffer). */
static void test_reentry(void)
{
	static const char in[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y";
	check_context("re-entry after completion");
	char *buf = dup_exact(in, sizeof in - 1);
	struct http_head *h = malloc(sizeof *h);
	if (!h)
		abort();
	http_head_init(h);
	int r1 = http_parse_head(h, buf, 20, NULL);
	CHECK_EQ_INT(r1, HTTP_PARTIAL);
	int r2 = http_parse_head(h, buf, 20, NULL); /* no new bytes */
	CHECK_EQ_INT(r2, HTTP_PARTIAL);
	int r3 = http_parse_head(h, buf, sizeof in - 1, NULL);
	CHECK_EQ_INT(r3, 28);
	CHECK_SPAN(h->path, "/x");
	CHECK_SPAN(h->host, "a");
	free(h);
	free(buf);
	check_context(NULL);
}

/* ---- chunked decoder -------------------------------------------------- */

#define C_ALL ((size_t)-1)

struct ccase {
	const char *name;
	const char *in;
	size_t len;
	int want; /* 1, 0 or -400 */
	const char *data; /* decoded bytes (when want >= 0) */
	size_t dlen;
	size_t consumed; /* when want == 1: C_ALL or a count */
};

#define DATA(s) .data = (s), .dlen = sizeof(s) - 1

static const struct ccase ccases[] = {
    {"simple", IN("5\r\nhello\r\n0\r\n\r\n"), .want = 1, DATA("hello"), .consumed = C_ALL},
    {"two chunks", IN("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), .want = 1, DATA("hello world"),
     .consumed = C_ALL},
    {"only the last chunk", IN("0\r\n\r\n"), .want = 1, DATA(""), .consumed = C_ALL},
    {"CRLF inside data", IN("4\r\n\r\n\r\n\r\n0\r\n\r\n"), .want = 1, DATA("\r\n\r\n"), .consumed = C_ALL},
    {"NUL inside data", IN("3\r\na\0b\r\n0\r\n\r\n"), .want = 1, DATA("a\0b"), .consumed = C_ALL},
    {"extensions", IN("5;a=b\r\nhello\r\n0;last\r\n\r\n"), .want = 1, DATA("hello"), .consumed = C_ALL},
    {"quoted extension", IN("5;a=\"x;y\"\r\nhello\r\n0\r\n\r\n"), .want = 1, DATA("hello"),
     .consumed = C_ALL},
    {"several extensions", IN("5;a;b=1;c=\"2\"\r\nhello\r\n0\r\n\r\n"), .want = 1, DATA("hello"),
     .consumed = C_ALL},
    {"trailer", IN("5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), .want = 1, DATA("hello"), .consumed = C_ALL},
    {"two trailers", IN("0\r\nX-T: 1\r\nX-U: two\r\n\r\n"), .want = 1, DATA(""), .consumed = C_ALL},
    {"uppercase hex", IN("A\r\n0123456789\r\n0\r\n\r\n"), .want = 1, DATA("0123456789"), .consumed = C_ALL},
    {"lowercase hex", IN("a\r\n0123456789\r\n0\r\n\r\n"), .want = 1, DATA("0123456789"), .consumed = C_ALL},
    {"two hex digits", IN("1F\r\n0123456789abcdefghijklmnopqrstu\r\n0\r\n\r\n"), .want = 1,
     DATA("0123456789abcdefghijklmnopqrstu"), .consumed = C_ALL},
    {"leading zeros", IN("0005\r\nhello\r\n000\r\n\r\n"), .want = 1, DATA("hello"), .consumed = C_ALL},
    {"next request left", IN("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), .want = 1, DATA("abc"),
     .consumed = 13},
    {"next bytes left after trailers", IN("0\r\nX: y\r\n\r\nXYZ"), .want = 1, DATA(""), .consumed = 11},
    {"partial data", IN("5\r\nhel"), .want = 0, DATA("hel")},
    {"partial size line", IN("5\r\nhello\r\n1"), .want = 0, DATA("hello")},
    {"waiting for final CRLF", IN("5\r\nhello\r\n0\r\n"), .want = 0, DATA("hello")},
    {"waiting inside trailers", IN("0\r\nX-T: 1\r\n"), .want = 0, DATA("")},
    {"empty input", .in = "", .len = 0, .want = 0, DATA("")},
    {"17 hex digits overflow", IN("FFFFFFFFFFFFFFFFF\r\n"), .want = -400},
    {"2^64 overflow", IN("10000000000000000\r\nx"), .want = -400},
    {"invalid char after size", IN("5x\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"empty size", IN("\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"negative size", IN("-5\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"0x prefix", IN("0x5\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"leading space", IN(" 5\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"non-hex letter", IN("g\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"bare CR in size line", IN("5\r\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"NUL in size line", IN("5\0\r\nhello\r\n0\r\n\r\n"), .want = -400},
    {"data longer than size", IN("5\r\nhelloX\r\n0\r\n\r\n"), .want = -400},
    {"no CRLF after data", IN("5\r\nhello0\r\n\r\n"), .want = -400},
    {"CR without LF after data", IN("5\r\nhello\rX0\r\n\r\n"), .want = -400},
    {"bare CR after last chunk", IN("0\r\n\rX"), .want = -400},
    /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) */
    {"extension with BWS", IN("5 ; a = b\r\nhello\r\n0\t;\tc\r\n\r\n"), .want = 1, DATA("hello"),
     .consumed = C_ALL},
    {"extension quoted-pair", IN("5;a=\"q\\\"x\\\\\"\r\nhello\r\n0\r\n\r\n"), .want = 1, DATA("hello"),
     .consumed = C_ALL},
    {"extension quoted obs-text", IN("5;a=\"\xe9 t\"\r\nhello\r\n0\r\n\r\n"), .want = 1, DATA("hello"),
     .consumed = C_ALL},
    {"extension name then =-less ;", IN("5;a ;b\r\nhello\r\n0\r\n\r\n"), .want = 1, DATA("hello"),
     .consumed = C_ALL},
    {"junk after size", IN("3 junk junk\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"whitespace after size", IN("3 \r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"empty extension name", IN("3;\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"extension name not a token", IN("3;a/b\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"two names without ;", IN("3;a b\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"empty extension value", IN("3;a=\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"extension value not a token", IN("3;a=b/c\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"extension value, junk after", IN("3;a=b c\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"extension without a name", IN("3;=b\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"unterminated quoted extension", IN("3;a=\"b\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"junk after a quoted extension", IN("3;a=\"b\"c\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"control byte in a quoted extension", IN("3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"control byte after a backslash", IN("3;a=\"\\\x01\"\r\nabc\r\n0\r\n\r\n"), .want = -400},
    {"extension then bare LF", IN("3;a\nabc\r\n0\r\n\r\n"), .want = -400},
    /* trailer field lines: token ":" field-value */
    {"trailer with an empty value", IN("0\r\nX-T:\r\n\r\n"), .want = 1, DATA(""), .consumed = C_ALL},
    {"trailer without OWS", IN("0\r\nX-T:v\r\n\r\n"), .want = 1, DATA(""), .consumed = C_ALL},
    {"trailer with space before the colon", IN("0\r\nX-T : 1\r\n\r\n"), .want = -400},
    {"trailer with tab before the colon", IN("0\r\nX-T\t: 1\r\n\r\n"), .want = -400},
    {"trailer without a colon", IN("0\r\nX-T\r\n\r\n"), .want = -400},
    {"trailer name not a token", IN("0\r\nX(T: 1\r\n\r\n"), .want = -400},
    {"trailer name with a high byte", IN("0\r\nX\xe9: 1\r\n\r\n"), .want = -400},
    {"trailer without a name", IN("0\r\n: 1\r\n\r\n"), .want = -400},
    {"trailer obs-fold", IN("0\r\nX-T: 1\r\n 2\r\n\r\n"), .want = -400},
    {"trailer with a control byte", IN("0\r\nX-T: a\x01\r\n\r\n"), .want = -400},
    {"trailer with a bare CR", IN("0\r\nX-T: a\rb\r\n\r\n"), .want = -400},
};

/* Feed in[0..n) in pieces: step 0 means one byte at a time, otherwise split
 * once at `step`. The undecoded remainder is kept contiguous at the front of
 * the work buffer. Returns the verdict; data and *used (stream bytes consumed
 * when the verdict is 1) are filled in. */
static int chunked_feed(const char *in, size_t n, size_t split, char *data, size_t *dlen, size_t *used)
{
	char *work = malloc(n ? n : 1);
	if (!work)
		abort();
	struct http_chunked c;
	http_chunked_init(&c);
	size_t have = 0, pos = 0;
	int r = 0;
	*dlen = 0;
	*used = 0;
	while (pos < n) {
		size_t piece = split ? (pos < split ? split : n - pos) : 1;
		if (piece > n - pos)
			piece = n - pos;
		memcpy(work + have, in + pos, piece);
		have += piece;
		pos += piece;
		size_t consumed = (size_t)-7, out = (size_t)-7;
		r = http_chunked_decode(&c, work, have, &consumed, &out);
		if (r < 0)
			break;
		if (consumed > have || out > consumed) {
			CHECK_FAIL("chunked: consumed %zu, out %zu for %zu bytes given", consumed, out, have);
			r = -1;
			break;
		}
		memcpy(data + *dlen, work, out);
		*dlen += out;
		if (r == 1) {
			*used = pos - (have - consumed);
			break;
		}
		if (r != 0) {
			CHECK_FAIL("chunked: unexpected return %d", r);
			break;
		}
		if (consumed != have)
			CHECK_FAIL("chunked: returned 0 with %zu of %zu bytes unused", have - consumed, have);
		memmove(work, work + consumed, have - consumed);
		have -= consumed;
	}
	free(work);
	return r;
}

static void run_chunked(const char *name, const char *in, size_t n, int want, const char *wdata, size_t wdlen,
                        size_t wconsumed)
{
	check_context("chunked: %s", name);
	char *buf = dup_exact(in, n);
	struct http_chunked c;
	http_chunked_init(&c);
	size_t consumed = (size_t)-7, out = (size_t)-7;
	int r = http_chunked_decode(&c, buf, n, &consumed, &out);
	CHECK_EQ_INT(r, want);
	if (r >= 0) {
		CHECK(consumed <= n);
		CHECK(out <= consumed);
		if (wdata && out <= n)
			CHECK_EQ_MEM(buf, out, wdata, wdlen);
		size_t want_consumed = r == 1 && wconsumed != C_ALL ? wconsumed : n;
		CHECK_EQ_INT(consumed, want_consumed);
	}
	free(buf);

	/* byte by byte, then every split point */
	char *data = malloc(n + 1);
	if (!data)
		abort();
	size_t dlen, used;
	size_t want_used = wconsumed == C_ALL ? n : wconsumed;
	for (size_t split = 0; split < (n > 2048 ? 1 : n); split++) {
		int g = chunked_feed(in, n, split, data, &dlen, &used);
		char how[48];
		if (split)
			snprintf(how, sizeof how, "split at %zu", split);
		else
			snprintf(how, sizeof how, "byte-by-byte");
		if (g != r) {
			CHECK_FAIL("%s: verdict %d, whole buffer gave %d", how, g, r);
			break;
		}
		if (r >= 0 && wdata && !(dlen == wdlen && memcmp(data, wdata, dlen) == 0)) {
			CHECK_FAIL("%s: decoded data differs", how);
			break;
		}
		if (r == 1 && used != want_used) {
			CHECK_FAIL("%s: consumed %zu, want %zu", how, used, want_used);
			break;
		}
		check_passed_++;
	}
	free(data);
	check_context(NULL);
}

static void test_chunked_limits(void)
{
	struct sbuf b = {0};

	sb_add(&b, "1;");
	sb_rep(&b, 'a', 5000);
	sb_add(&b, "\r\nx\r\n0\r\n\r\n");
	run_chunked("size line over HTTP_CHUNK_MAX_LINE", b.p, b.len, -400, NULL, 0, 0);

	b.len = 0;
	sb_add(&b, "1;");
	sb_rep(&b, 'a', 3000);
	sb_add(&b, "\r\nx\r\n0\r\n\r\n");
	run_chunked("long extension under the limit", b.p, b.len, 1, "x", 1, C_ALL);

	/* each line under the per-line limit, together over the per-body one:
	 * gigabytes of extensions must not ride along a small decoded body */
	b.len = 0;
	for (unsigned k = 0; k <= HTTP_CHUNK_MAX_EXTS / 3000; k++) {
		sb_add(&b, "1;");
		sb_rep(&b, 'a', 2999);
		sb_add(&b, "\r\nx\r\n");
	}
	sb_add(&b, "0\r\n\r\n");
	run_chunked("extensions over HTTP_CHUNK_MAX_EXTS", b.p, b.len, -400, NULL, 0, 0);

	b.len = 0;
	for (unsigned k = 0; k < HTTP_CHUNK_MAX_EXTS / 3000; k++) {
		sb_add(&b, "1;");
		sb_rep(&b, 'a', 2999);
		sb_add(&b, "\r\nx\r\n");
	}
	sb_add(&b, "0\r\n\r\n");
	run_chunked("extensions just under HTTP_CHUNK_MAX_EXTS", b.p, b.len, 1, "xxxxx", 5, C_ALL);

	b.len = 0;
	sb_add(&b, "1\r\nx\r\n");
	sb_rep(&b, '0', 5000);
	sb_add(&b, "\r\n\r\n");
	run_chunked("size of 5000 zeros", b.p, b.len, -400, NULL, 0, 0);

	b.len = 0;
	sb_add(&b, "0\r\n");
	while (b.len < HTTP_CHUNK_MAX_TRAILERS + 1000)
		sb_add(&b, "X-Trailer: 0123456789012345678901234567890123456789\r\n");
	sb_add(&b, "\r\n");
	run_chunked("trailers over HTTP_CHUNK_MAX_TRAILERS", b.p, b.len, -400, NULL, 0, 0);

	b.len = 0;
	sb_add(&b, "0\r\nX-T: ");
	sb_rep(&b, 'v', HTTP_CHUNK_MAX_LINE + 100);
	sb_add(&b, "\r\n\r\n");
	/* trailers are bounded as a section (HTTP_CHUNK_MAX_TRAILERS), not per line */
	run_chunked("one long trailer line within the trailer limit", b.p, b.len, 1, "", 0, C_ALL);
	free(b.p);
}

/* Random bodies with random chunking, extensions and trailers, decoded whole
 * and in random pieces: the decoded bytes equal the original. */
static void test_chunked_random(void)
{
	uint64_t seed = 0x1234567;
	struct sbuf enc = {0};
	char *orig = malloc(4096), *data = malloc(1 << 16);
	if (!orig || !data)
		abort();
	check_context("chunked random");
	unsigned bad = 0;
	for (int iter = 0; iter < 400 && bad < 5; iter++) {
		size_t olen = check_rand_below(&seed, 4096);
		for (size_t i = 0; i < olen; i++)
			orig[i] = (char)check_rand_below(&seed, 256);
		enc.len = 0;
		size_t at = 0;
		char line[64];
		while (at < olen) {
			size_t k = 1 + check_rand_below(&seed, 700);
			if (k > olen - at)
				k = olen - at;
			snprintf(line, sizeof line, check_rand_below(&seed, 2) ? "%zx" : "%zX", k);
			sb_add(&enc, line);
			if (check_rand_below(&seed, 4) == 0)
				sb_add(&enc, ";ext=\"v\"");
			sb_add(&enc, "\r\n");
			sb_addn(&enc, orig + at, k);
			sb_add(&enc, "\r\n");
			at += k;
		}
		sb_add(&enc, "0\r\n");
		if (check_rand_below(&seed, 3) == 0)
			sb_add(&enc, "Trailer-A: x\r\n");
		sb_add(&enc, "\r\n");
		size_t full = enc.len;
		sb_add(&enc, "NEXT");

		/* random pieces */
		char *work = malloc(enc.len);
		if (!work)
			abort();
		struct http_chunked c;
		http_chunked_init(&c);
		size_t have = 0, pos = 0, dlen = 0, used = 0;
		int r = 0;
		while (pos < enc.len) {
			size_t piece = 1 + check_rand_below(&seed, 300);
			if (piece > enc.len - pos)
				piece = enc.len - pos;
			memcpy(work + have, enc.p + pos, piece);
			have += piece;
			pos += piece;
			size_t consumed = 0, out = 0;
			r = http_chunked_decode(&c, work, have, &consumed, &out);
			if (r < 0 || consumed > have || out > consumed)
				break;
			memcpy(data + dlen, work, out);
			dlen += out;
			if (r == 1) {
				used = pos - (have - consumed);
				break;
			}
			memmove(work, work + consumed, have - consumed);
			have -= consumed;
		}
		free(work);
		if (r != 1 || used != full || dlen != olen || memcmp(data, orig, olen) != 0) {
			CHECK_FAIL("iteration %d: r=%d used=%zu/%zu decoded=%zu/%zu", iter, r, used, full,
			           dlen, olen);
			bad++;
		}
	}
	if (!bad)
		check_passed_++;
	free(enc.p);
	free(orig);
	free(data);
	check_context(NULL);
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	test_limits();
	test_lf_equivalence();
	test_pipeline();
	test_reentry();
	test_helpers();
	for (size_t i = 0; i < sizeof ccases / sizeof ccases[0]; i++) {
		const struct ccase *c = &ccases[i];
		run_chunked(c->name, c->in, c->len, c->want, c->data, c->dlen, c->consumed);
	}
	test_chunked_limits();
	test_chunked_random();
	return check_done();
}
