/* test_fcgi.c: the FastCGI record codec (src/fcgi/record.h) and the CGI
 * response head parser (src/fcgi/cgi.h).
 *
 * Writers are checked against bytes written out by hand here from the
 * FastCGI 1.0 specification, not from record.c. Name-value pairs round-trip
 * at the 127/128 length boundary and with 4-byte lengths, every cut of a pair
 * must ask for more bytes, and non-canonical or oversized lengths are errors.
 * fcgi_parse gets streams built here byte by byte (STDOUT with and without
 * padding, STDERR, empty records, management records to skip, END_REQUEST)
 * whole, one byte at a time, split at every boundary and in random chunks;
 * every way gives the same STDOUT and STDERR bytes and the same END status.
 * Every malformed record has its own error. CGI heads are the ones PHP
 * writes, with CRLF and with LF, and every malformed kind cgi.h names.
 * Inputs go through exact-size heap copies so ASan sees any read past them.
 *
 * `test_fcgi --write-seeds DIR` writes the fuzz seeds
 * (tests/fuzz/corpus/fcgi/, see tests/fuzz/fuzz_fcgi.c) and exits.
 */
#include "check.h"
#include "fcgi/cgi.h"
#include "fcgi/record.h"

#include <limits.h>
#include <stdlib.h>

#define RID 1 /* the request id the parser expects in these tests */

/* An exact-size heap copy, so ASan catches a read past len. */
static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	if (!q)
		abort();
	if (n)
		memcpy(q, p, n);
	return q;
}

/* ---- a byte stream built by hand ---- */

struct stream {
	uint8_t *p;
	size_t len, cap;
	/* what a correct parser reports for it */
	uint8_t *out, *err;
	size_t out_len, err_len;
};

static void stream_init(struct stream *s)
{
	memset(s, 0, sizeof *s);
	s->cap = 1 << 18;
	s->p = malloc(s->cap);
	s->out = malloc(s->cap);
	s->err = malloc(s->cap);
	if (!s->p || !s->out || !s->err)
		abort();
}

static void stream_free(struct stream *s)
{
	free(s->p);
	free(s->out);
	free(s->err);
}

static void put(struct stream *s, const void *p, size_t n)
{
	if (n > s->cap - s->len)
		abort();
	memcpy(s->p + s->len, p, n);
	s->len += n;
}

static void put_byte(struct stream *s, uint8_t b)
{
	put(s, &b, 1);
}

/* A record with every header field given, content and padding written out
 * (padding bytes are 0xee: they must be skipped, never read). */
static void put_raw(struct stream *s, uint8_t version, uint8_t type, uint16_t id, uint16_t clen,
                    const void *content, uint8_t plen)
{
	uint8_t h[8] = {version, type, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(clen >> 8), (uint8_t)clen,
	                plen,    0};
	put(s, h, 8);
	if (clen)
		put(s, content, clen);
	for (unsigned i = 0; i < plen; i++)
		put_byte(s, 0xee);
}

/* STDOUT/STDERR record, also appended to what the parser must report. */
static void put_output(struct stream *s, uint8_t type, const void *content, uint16_t clen, uint8_t plen)
{
	put_raw(s, FCGI_VERSION_1, type, RID, clen, content, plen);
	if (type == FCGI_STDOUT) {
		memcpy(s->out + s->out_len, content, clen);
		s->out_len += clen;
	} else {
		memcpy(s->err + s->err_len, content, clen);
		s->err_len += clen;
	}
}

static void put_str(struct stream *s, uint8_t type, const char *str)
{
	uint16_t n = (uint16_t)strlen(str);
	put_output(s, type, str, n, (uint8_t)((8 - n % 8) % 8));
}

static void put_end(struct stream *s, uint16_t id, uint32_t app, uint8_t proto, uint8_t plen)
{
	uint8_t b[8] = {
	    (uint8_t)(app >> 24), (uint8_t)(app >> 16), (uint8_t)(app >> 8), (uint8_t)app, proto, 0, 0, 0};
	put_raw(s, FCGI_VERSION_1, FCGI_END_REQUEST, id, 8, b, plen);
}

/* ---- running the parser ---- */

struct result {
	uint8_t *out, *err;
	size_t out_len, err_len;
	int ends; /* END events seen */
	int end_last; /* END was the last event */
	uint32_t app;
	uint8_t proto;
	int error; /* FCGI_E_* or 0 */
	size_t error_at; /* stream offset just past the bytes consumed with the error */
	size_t consumed; /* bytes consumed in all */
	size_t events;
	int bad; /* an event broke a rule (reported already) */
};

static void result_init(struct result *r, size_t cap)
{
	memset(r, 0, sizeof *r);
	r->out = malloc(cap ? cap : 1);
	r->err = malloc(cap ? cap : 1);
	if (!r->out || !r->err)
		abort();
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Feed one chunk (already an exact-size copy), calling until the parser has
 * used all of it or failed. */
static void feed(struct fcgi_parser *p, struct result *r, const uint8_t *chunk, size_t n)
{
	size_t off = 0;
	while (!r->error) {
		size_t used = 12345;
		struct fcgi_event ev;
		int rc = fcgi_parse(p, chunk + off, n - off, &used, &ev);
		if (used > n - off) {
			r->bad = CHECK_FAIL("used %zu > %zu", used, n - off) + 1;
			return;
		}
		if (rc < 0) {
			r->error = rc;
			r->error_at = r->consumed + used;
			r->consumed += used;
			return;
		}
		off += used;
		r->consumed += used;
		if (rc == 0) {
			if (off != n)
				r->bad = CHECK_FAIL("0 with %zu of %zu bytes used", off, n) + 1;
			return;
		}
		if (rc != 1) {
			r->bad = CHECK_FAIL("fcgi_parse returned %d", rc) + 1;
			return;
		}
		r->events++;
		r->end_last = 0;
		switch (ev.type) {
		case FCGI_EV_STDOUT:
		case FCGI_EV_STDERR:
			if (ev.len == 0 || ev.data < chunk || ev.data + ev.len > chunk + off) {
				r->bad =
				    CHECK_FAIL("event data outside the bytes used (len %zu)", ev.len) + 1;
				return;
			}
			if (ev.type == FCGI_EV_STDOUT) {
				memcpy(r->out + r->out_len, ev.data, ev.len);
				r->out_len += ev.len;
			} else {
				memcpy(r->err + r->err_len, ev.data, ev.len);
				r->err_len += ev.len;
			}
			break;
		case FCGI_EV_END:
			r->ends++;
			r->end_last = 1;
			r->app = ev.app_status;
			r->proto = ev.protocol_status;
			break;
		default: r->bad = CHECK_FAIL("event type %d", (int)ev.type) + 1; return;
		}
	}
}

/* Feed in[0..n) cut at the given offsets (ascending, each in 0..n). */
static void run_cuts(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts, struct result *r)
{
	struct fcgi_parser p;
	fcgi_parser_init(&p, RID);
	size_t at = 0;
	for (size_t i = 0; i <= ncuts && !r->error && !r->bad; i++) {
		size_t to = i < ncuts ? cuts[i] : n;
		uint8_t *c = dup_bytes(in + at, to - at);
		feed(&p, r, c, to - at);
		free(c);
		at = to;
	}
}

static void run_whole(const uint8_t *in, size_t n, struct result *r)
{
	run_cuts(in, n, NULL, 0, r);
}

static void run_bytewise(const uint8_t *in, size_t n, struct result *r)
{
	struct fcgi_parser p;
	fcgi_parser_init(&p, RID);
	for (size_t i = 0; i < n && !r->error && !r->bad; i++) {
		uint8_t *c = dup_bytes(in + i, 1);
		feed(&p, r, c, 1);
		free(c);
	}
}

/* Same outcome as the stream promises: all its output, one END, last. */
static int check_complete(const struct stream *s, const struct result *r, uint32_t app, uint8_t proto)
{
	int ok = CHECK_EQ_INT(r->bad, 0);
	ok &= CHECK_EQ_INT(r->error, 0);
	ok &= CHECK_EQ_MEM(r->out, r->out_len, s->out, s->out_len);
	ok &= CHECK_EQ_MEM(r->err, r->err_len, s->err, s->err_len);
	ok &= CHECK_EQ_INT(r->ends, 1);
	ok &= CHECK(r->end_last);
	ok &= CHECK_EQ_U64(r->app, app);
	ok &= CHECK_EQ_INT(r->proto, proto);
	ok &= CHECK_EQ_U64(r->consumed, s->len);
	return ok;
}

static int same_result(const struct result *a, const struct result *b)
{
	int ok = CHECK_EQ_INT(a->bad, 0) & CHECK_EQ_INT(b->bad, 0);
	ok &= CHECK_EQ_INT(a->error, b->error);
	ok &= CHECK_EQ_U64(a->error_at, b->error_at);
	ok &= CHECK_EQ_MEM(a->out, a->out_len, b->out, b->out_len);
	ok &= CHECK_EQ_MEM(a->err, a->err_len, b->err, b->err_len);
	ok &= CHECK_EQ_INT(a->ends, b->ends);
	ok &= CHECK_EQ_U64(a->app, b->app);
	ok &= CHECK_EQ_INT(a->proto, b->proto);
	return ok;
}

/* ---- writing ---- */

static void test_header(void)
{
	check_context("header");
	uint8_t out[8];
	fcgi_header_encode(out, FCGI_STDIN, 0x1234, 0xabcd, 3);
	CHECK_EQ_MEM(out, 8, "\x01\x05\x12\x34\xab\xcd\x03\x00", 8);
	fcgi_header_encode(out, FCGI_PARAMS, 1, 0, 0);
	CHECK_EQ_MEM(out, 8, "\x01\x04\x00\x01\x00\x00\x00\x00", 8);
	fcgi_header_encode(out, FCGI_STDIN, 0xffff, 0xffff, 0xff);
	CHECK_EQ_MEM(out, 8, "\x01\x05\xff\xff\xff\xff\xff\x00", 8);
	fcgi_header_encode(out, FCGI_PARAMS, 0x0100, 0x0100, 0x80);
	CHECK_EQ_MEM(out, 8, "\x01\x04\x01\x00\x01\x00\x80\x00", 8);

	struct fcgi_header h;
	memset(&h, 0x55, sizeof h);
	const uint8_t a[8] = {1, 6, 0x00, 0x01, 0x01, 0xf8, 0x00, 0x00};
	CHECK_EQ_INT(fcgi_header_decode(a, &h), 0);
	CHECK_EQ_INT(h.version, 1);
	CHECK_EQ_INT(h.type, FCGI_STDOUT);
	CHECK_EQ_INT(h.request_id, 1);
	CHECK_EQ_INT(h.content_length, 504);
	CHECK_EQ_INT(h.padding_length, 0);
	const uint8_t b[8] = {1, 3, 0xfe, 0xdc, 0x00, 0x08, 0x07, 0x99}; /* reserved byte set: ignored */
	CHECK_EQ_INT(fcgi_header_decode(b, &h), 0);
	CHECK_EQ_INT(h.type, FCGI_END_REQUEST);
	CHECK_EQ_INT(h.request_id, 0xfedc);
	CHECK_EQ_INT(h.content_length, 8);
	CHECK_EQ_INT(h.padding_length, 7);
	const uint8_t c[8] = {2, 6, 0, 1, 0x80, 0x01, 0xff, 0};
	CHECK_EQ_INT(fcgi_header_decode(c, &h), FCGI_E_VERSION);
	CHECK_EQ_INT(h.version, 2);
	CHECK_EQ_INT(h.content_length, 0x8001);
	CHECK_EQ_INT(h.padding_length, 255);
	const uint8_t z[8] = {0};
	CHECK_EQ_INT(fcgi_header_decode(z, &h), FCGI_E_VERSION);

	/* round trips */
	static const uint16_t vals[] = {0, 1, 7, 8, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		for (size_t j = 0; j < sizeof vals / sizeof vals[0]; j++) {
			uint8_t t = (uint8_t)(1 + (i + j) % 11), pl = (uint8_t)(vals[j] >> 4);
			fcgi_header_encode(out, t, vals[i], vals[j], pl);
			CHECK_EQ_INT(fcgi_header_decode(out, &h), 0);
			CHECK(h.version == 1 && h.type == t && h.request_id == vals[i] &&
			      h.content_length == vals[j] && h.padding_length == pl);
		}
	}
	check_context(NULL);
}

static void test_padding(void)
{
	static const uint8_t want[18] = {0, 7, 6, 5, 4, 3, 2, 1, 0, 7, 6, 5, 4, 3, 2, 1, 0, 7};
	for (uint16_t n = 0; n < 18; n++) {
		check_context("padding %u", n);
		CHECK_EQ_INT(fcgi_padding(n), want[n]);
	}
	check_context("padding big");
	CHECK_EQ_INT(fcgi_padding(65535), 1);
	CHECK_EQ_INT(fcgi_padding(65528), 0);
	CHECK_EQ_INT(fcgi_padding(65529), 7);
	for (uint32_t n = 0; n <= FCGI_MAX_CONTENT; n++)
		if ((n + fcgi_padding((uint16_t)n)) % 8 != 0 || fcgi_padding((uint16_t)n) > 7)
			CHECK_FAIL("padding of %u is %u", n, fcgi_padding((uint16_t)n));
	check_context(NULL);
}

static void test_begin_abort(void)
{
	check_context("begin/abort");
	uint8_t out[16 + 4];
	memset(out, 0xa5, sizeof out);
	CHECK_EQ_U64(fcgi_begin_request(out, 1, 0), 16);
	CHECK_EQ_MEM(out, 16,
	             "\x01\x01\x00\x01\x00\x08\x00\x00"
	             "\x00\x01\x00\x00\x00\x00\x00\x00",
	             16);
	CHECK_EQ_MEM(out + 16, 4, "\xa5\xa5\xa5\xa5", 4);
	CHECK_EQ_U64(fcgi_begin_request(out, 0x0102, 1), 16);
	CHECK_EQ_MEM(out, 16,
	             "\x01\x01\x01\x02\x00\x08\x00\x00"
	             "\x00\x01\x01\x00\x00\x00\x00\x00",
	             16);
	CHECK_EQ_U64(fcgi_begin_request(out, 0xffff, 7), 16); /* any true keep_conn is FCGI_KEEP_CONN */
	CHECK_EQ_MEM(out, 16,
	             "\x01\x01\xff\xff\x00\x08\x00\x00"
	             "\x00\x01\x01\x00\x00\x00\x00\x00",
	             16);
	CHECK_EQ_MEM(out + 16, 4, "\xa5\xa5\xa5\xa5", 4);

	memset(out, 0xa5, sizeof out);
	CHECK_EQ_U64(fcgi_abort_request(out, 1), 8);
	CHECK_EQ_MEM(out, 8, "\x01\x02\x00\x01\x00\x00\x00\x00", 8);
	CHECK_EQ_MEM(out + 8, 4, "\xa5\xa5\xa5\xa5", 4);
	CHECK_EQ_U64(fcgi_abort_request(out, 0xbeef), 8);
	CHECK_EQ_MEM(out, 8, "\x01\x02\xbe\xef\x00\x00\x00\x00", 8);
	check_context(NULL);
}

/* ---- name-value pairs ---- */

static void test_nv_bytes(void)
{
	check_context("nv bytes");
	uint8_t out[64];
	memset(out, 0xa5, sizeof out);
	size_t n = fcgi_nv_encode(out, sizeof out, "SCRIPT_NAME", 11, "/index.php", 10);
	CHECK_EQ_U64(n, 23);
	CHECK_EQ_U64(fcgi_nv_size(11, 10), 23);
	CHECK_EQ_MEM(out, n,
	             "\x0b\x0a"
	             "SCRIPT_NAME/index.php",
	             23);
	CHECK_EQ_INT(out[23], 0xa5);

	n = fcgi_nv_encode(out, sizeof out, "QUERY_STRING", 12, "", 0);
	CHECK_EQ_MEM(out, n, "\x0c\x00QUERY_STRING", 14);
	n = fcgi_nv_encode(out, sizeof out, "", 0, "", 0);
	CHECK_EQ_MEM(out, n, "\x00\x00", 2);

	/* 128 is the first 4-byte length: 0x80 0x00 0x00 0x80 */
	static char big[300];
	memset(big, 'v', sizeof big);
	static uint8_t o2[400];
	n = fcgi_nv_encode(o2, sizeof o2, "N", 1, big, 128);
	CHECK_EQ_U64(n, 1 + 4 + 1 + 128);
	CHECK_EQ_MEM(o2, 6, "\x01\x80\x00\x00\x80N", 6);
	n = fcgi_nv_encode(o2, sizeof o2, big, 127, "x", 1);
	CHECK_EQ_U64(n, 1 + 1 + 127 + 1);
	CHECK_EQ_MEM(o2, 2, "\x7f\x01", 2);
	n = fcgi_nv_encode(o2, sizeof o2, big, 300, "", 0);
	CHECK_EQ_U64(n, 4 + 1 + 300);
	CHECK_EQ_MEM(o2, 5, "\x80\x00\x01\x2c\x00", 5);

	/* lengths over 2^31 - 1 cannot be written (the name is never read) */
	CHECK_EQ_U64(fcgi_nv_encode(out, sizeof out, "x", (size_t)0x80000000u, "", 0), 0);
	CHECK_EQ_U64(fcgi_nv_encode(out, sizeof out, "", 0, "x", (size_t)0x80000000u), 0);
	CHECK_EQ_U64(fcgi_nv_size(0x7fffffff, 0), 4 + 1 + 0x7fffffffull);
	CHECK_EQ_U64(fcgi_nv_size(SIZE_MAX, SIZE_MAX), SIZE_MAX);
	check_context(NULL);
}

/* A 4-byte big-endian length with the high bit set, as the spec writes it. */
static void be4(uint8_t *o, uint32_t n)
{
	o[0] = (uint8_t)(0x80 | n >> 24);
	o[1] = (uint8_t)(n >> 16);
	o[2] = (uint8_t)(n >> 8);
	o[3] = (uint8_t)n;
}

static void test_nv_roundtrip(void)
{
	static const size_t lens[] = {0, 1, 2, 126, 127, 128, 129, 255, 256, 1000, 65535, 70000};
	const size_t nl = sizeof lens / sizeof lens[0];
	char *name = malloc(70000), *value = malloc(70000);
	uint8_t *buf = malloc(140100);
	if (!name || !value || !buf)
		abort();
	for (size_t i = 0; i < 70000; i++) {
		name[i] = (char)('A' + i % 26);
		value[i] = (char)(i * 7);
	}
	for (size_t i = 0; i < nl; i++) {
		for (size_t j = 0; j < nl; j++) {
			size_t a = lens[i], b = lens[j];
			check_context("nv %zu/%zu", a, b);
			size_t sz = fcgi_nv_size(a, b);
			if (!CHECK_EQ_U64(sz, (a < 128 ? 1 : 4) + (b < 128 ? 1 : 4) + a + b))
				continue;
			/* too small by one: nothing written, canary intact */
			memset(buf, 0xa5, sz + 8);
			CHECK_EQ_U64(fcgi_nv_encode(buf, sz - 1, name, a, value, b), 0);
			CHECK_EQ_INT(buf[0], 0xa5);
			CHECK_EQ_U64(fcgi_nv_encode(buf, sz, name, a, value, b), sz);
			CHECK_EQ_MEM(buf + sz, 8, "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5", 8);
			/* the length fields, by hand */
			uint8_t hl[8];
			size_t hn = 0;
			if (a < 128) {
				hl[hn++] = (uint8_t)a;
			} else {
				be4(hl + hn, (uint32_t)a);
				hn += 4;
			}
			if (b < 128) {
				hl[hn++] = (uint8_t)b;
			} else {
				be4(hl + hn, (uint32_t)b);
				hn += 4;
			}
			CHECK_EQ_MEM(buf, hn, hl, hn);

			uint8_t *q = dup_bytes(buf, sz);
			const uint8_t *np = NULL, *vp = NULL;
			uint32_t nn = 0, vn = 0;
			if (CHECK_EQ_INT(fcgi_nv_decode(q, sz, &np, &nn, &vp, &vn), (int)sz)) {
				CHECK_EQ_MEM(np, nn, name, a);
				CHECK_EQ_MEM(vp, vn, value, b);
				CHECK(np == q + hn && vp == q + hn + a);
			}
			free(q);
			/* every cut asks for more (only short pairs: the long ones take
			 * a few cuts around the length fields and the end) */
			for (size_t cut = 0; cut < sz; cut++) {
				if (sz > 600 && cut > 12 && cut < sz - 4)
					continue;
				q = dup_bytes(buf, cut);
				if (fcgi_nv_decode(q, cut, &np, &nn, &vp, &vn) != 0)
					CHECK_FAIL("cut %zu of %zu is not 0", cut, sz);
				free(q);
			}
		}
	}

	/* several pairs one after another, as a PARAMS stream holds them */
	check_context("nv sequence");
	size_t len = 0;
	len += fcgi_nv_encode(buf + len, 1000, "REQUEST_METHOD", 14, "GET", 3);
	len += fcgi_nv_encode(buf + len, 1000, "HTTP_X_LONG", 11, value, 200);
	len += fcgi_nv_encode(buf + len, 1000, name, 130, "1", 1);
	len += fcgi_nv_encode(buf + len, 1000, "E", 1, "", 0);
	uint8_t *q = dup_bytes(buf, len);
	size_t pos = 0, count = 0;
	const uint8_t *np, *vp;
	uint32_t nn, vn;
	int r;
	while ((r = fcgi_nv_decode(q + pos, len - pos, &np, &nn, &vp, &vn)) > 0) {
		count++;
		pos += (size_t)r;
		if (count == 2)
			CHECK(nn == 11 && vn == 200 && memcmp(vp, value, 200) == 0);
		if (count == 3)
			CHECK(nn == 130 && vn == 1 && *vp == '1');
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_U64(count, 4);
	CHECK_EQ_U64(pos, len);
	free(q);

	free(name);
	free(value);
	free(buf);
	check_context(NULL);
}

static void test_nv_malformed(void)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
		int want;
	} cases[] = {
	    {"empty input", "", 0, 0},
	    {"name length only", "\x05", 1, 0},
	    {"4-byte name length cut", "\x80\x00\x01", 3, 0},
	    {"4-byte value length cut", "\x01\x80\x00", 3, 0},
	    {"4-byte name length 5 (not canonical)", "\x80\x00\x00\x05\x00hello", 10, FCGI_E_NV},
	    {"4-byte name length 0", "\x80\x00\x00\x00\x00", 5, FCGI_E_NV},
	    {"4-byte value length 127", "\x00\x80\x00\x00\x7f", 5, FCGI_E_NV},
	    {"4-byte length 127, cut after it", "\x80\x00\x00\x7f", 4, FCGI_E_NV},
	    {"both lengths 2^31-1", "\xff\xff\xff\xff\xff\xff\xff\xff", 8, FCGI_E_NV},
	    {"name 2^31-1, value 0", "\xff\xff\xff\xff\x00", 5, FCGI_E_NV},
	    {"name 2^30, value 2^30", "\xc0\x00\x00\x00\xc0\x00\x00\x00", 8, FCGI_E_NV},
	    {"name 2^31-10: fits an int, needs more", "\xff\xff\xff\xf6\x00", 5, 0},
	    {"value longer than the input", "\x01\x05xabc", 6, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		check_context("nv malformed: %s", cases[i].name);
		uint8_t *q = dup_bytes(cases[i].bytes, cases[i].len);
		const uint8_t *np = NULL, *vp = NULL;
		uint32_t nn = 0, vn = 0;
		CHECK_EQ_INT(fcgi_nv_decode(q, cases[i].len, &np, &nn, &vp, &vn), cases[i].want);
		CHECK(np == NULL && vp == NULL);
		free(q);
	}
	check_context(NULL);
}

/* ---- fcgi_parse ---- */

static char body300[300];

/* What php-fpm sends for a small page, plus the odd things the spec allows:
 * padding that does not align, an empty STDERR in the middle, management
 * records with id 0, the empty STDOUT with padding, an empty STDERR to
 * close it. */
static void build_php_stream(struct stream *s, int with_mgmt)
{
	put_str(s, FCGI_STDOUT, "X-Powered-By: PHP/8.2.7\r\nContent-type: text/html; charset=UTF-8\r\n\r\n");
	put_str(s, FCGI_STDERR,
	        "PHP message: PHP Warning:  Undefined variable $x in /var/www/index.php on line 3");
	put_output(s, FCGI_STDERR, "", 0, 0);
	put_str(s, FCGI_STDOUT, "<html><body>hello</body></html>\n");
	if (with_mgmt) {
		uint8_t nv[64];
		size_t n = fcgi_nv_encode(nv, sizeof nv, "FCGI_MPXS_CONNS", 15, "0", 1);
		put_raw(s, FCGI_VERSION_1, FCGI_GET_VALUES_RESULT, 0, (uint16_t)n, nv, 7);
		put_raw(s, FCGI_VERSION_1, FCGI_UNKNOWN_TYPE, 0, 8, "\x0c\0\0\0\0\0\0\0", 0);
		put_raw(s, FCGI_VERSION_1, FCGI_UNKNOWN_TYPE, 0, 0, NULL, 3);
	}
	for (size_t i = 0; i < sizeof body300; i++)
		body300[i] = (char)('a' + i % 26);
	put_output(s, FCGI_STDOUT, body300, 300, 4); /* padding that does not align */
	put_output(s, FCGI_STDOUT, "!", 1, 255); /* the most padding there is */
	put_output(s, FCGI_STDERR, "\0\xff", 2, 0); /* binary bytes */
	put_output(s, FCGI_STDOUT, "", 0, 8); /* end of STDOUT, with padding */
	put_output(s, FCGI_STDERR, "", 0, 0); /* end of STDERR */
	put_end(s, RID, 0, FCGI_REQUEST_COMPLETE, 0);
}

static void test_parse_stream(void)
{
	struct stream s;
	stream_init(&s);
	build_php_stream(&s, 1);

	check_context("stream whole");
	struct result whole;
	result_init(&whole, s.len);
	run_whole(s.p, s.len, &whole);
	check_complete(&s, &whole, 0, 0);
	/* one event per non-empty output record and the END */
	CHECK_EQ_U64(whole.events, 6 + 1);

	check_context("stream bytewise");
	struct result bw;
	result_init(&bw, s.len);
	run_bytewise(s.p, s.len, &bw);
	check_complete(&s, &bw, 0, 0);
	result_free(&bw);

	for (size_t k = 0; k <= s.len; k++) {
		check_context("stream split at %zu of %zu", k, s.len);
		struct result r;
		result_init(&r, s.len);
		run_cuts(s.p, s.len, &k, 1, &r);
		if (!check_complete(&s, &r, 0, 0)) {
			result_free(&r);
			break;
		}
		result_free(&r);
	}

	/* split in three at every pair of boundaries, on a stride to keep it fast */
	for (size_t i = 0; i <= s.len; i += 3) {
		for (size_t j = i; j <= s.len; j += 5) {
			check_context("stream split at %zu and %zu", i, j);
			size_t cuts[2] = {i, j};
			struct result r;
			result_init(&r, s.len);
			run_cuts(s.p, s.len, cuts, 2, &r);
			int ok = same_result(&whole, &r) && CHECK_EQ_U64(r.consumed, s.len);
			result_free(&r);
			if (!ok)
				goto out;
		}
	}
out:
	result_free(&whole);
	stream_free(&s);
	check_context(NULL);
}

static void test_parse_big_random(void)
{
	struct stream s;
	stream_init(&s);
	uint64_t seed = 42;
	static uint8_t blob[65535];
	for (size_t i = 0; i < sizeof blob; i++)
		blob[i] = (uint8_t)check_rand_(&seed);
	put_str(&s, FCGI_STDOUT, "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
	put_output(&s, FCGI_STDOUT, blob, 65535, 1);
	put_output(&s, FCGI_STDERR, blob + 100, 10000, 0);
	put_output(&s, FCGI_STDOUT, blob + 7, 65528, 0);
	for (int i = 0; i < 50; i++)
		put_output(&s, FCGI_STDOUT, blob + i * 13, (uint16_t)(1 + i * 17), (uint8_t)i);
	put_output(&s, FCGI_STDOUT, "", 0, 0);
	put_end(&s, RID, 0xdeadbeef, FCGI_REQUEST_COMPLETE, 0);

	check_context("big whole");
	struct result whole;
	result_init(&whole, s.len);
	run_whole(s.p, s.len, &whole);
	check_complete(&s, &whole, 0xdeadbeef, 0);
	result_free(&whole);

	check_context("big bytewise");
	struct result bw;
	result_init(&bw, s.len);
	run_bytewise(s.p, s.len, &bw);
	check_complete(&s, &bw, 0xdeadbeef, 0);
	result_free(&bw);

	size_t cuts[400];
	for (int iter = 0; iter < 200; iter++) {
		check_context("big random split %d", iter);
		size_t n = 0, at = 0;
		uint64_t max = iter % 2 ? 16 : 9000;
		while (n < 400) {
			at += 1 + check_rand_below(&seed, max);
			if (at >= s.len)
				break;
			cuts[n++] = at;
		}
		struct result r;
		result_init(&r, s.len);
		run_cuts(s.p, s.len, cuts, n, &r);
		int ok = check_complete(&s, &r, 0xdeadbeef, 0);
		result_free(&r);
		if (!ok)
			break;
	}
	stream_free(&s);
	check_context(NULL);
}

static void test_parse_end_status(void)
{
	static const struct {
		uint32_t app;
		uint8_t proto;
		uint8_t plen;
	} cases[] = {
	    {0, FCGI_REQUEST_COMPLETE, 0},
	    {255, FCGI_REQUEST_COMPLETE, 0},
	    {0xffffffff, FCGI_REQUEST_COMPLETE, 0},
	    {0, FCGI_CANT_MPX_CONN, 0},
	    {0, FCGI_OVERLOADED, 0},
	    {0, FCGI_UNKNOWN_ROLE, 0},
	    {0x01020304, 0, 8},
	    {7, FCGI_OVERLOADED, 255},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		check_context("end status %zu", i);
		struct stream s;
		stream_init(&s);
		put_end(&s, RID, cases[i].app, cases[i].proto, cases[i].plen);
		struct result r;
		result_init(&r, s.len);
		run_whole(s.p, s.len, &r);
		check_complete(&s, &r, cases[i].app, cases[i].proto);
		result_free(&r);
		result_init(&r, s.len);
		run_bytewise(s.p, s.len, &r);
		check_complete(&s, &r, cases[i].app, cases[i].proto);
		result_free(&r);
		stream_free(&s);
	}

	/* END is reported only once its padding is in; later calls with no
	 * bytes stay quiet */
	check_context("end padding");
	struct stream s;
	stream_init(&s);
	put_end(&s, RID, 5, 0, 3);
	struct fcgi_parser p;
	fcgi_parser_init(&p, RID);
	size_t used;
	struct fcgi_event ev;
	CHECK_EQ_U64(s.len, 19);
	CHECK_EQ_INT(fcgi_parse(&p, s.p, 18, &used, &ev), 0);
	CHECK_EQ_U64(used, 18);
	CHECK_EQ_INT(p.done, 0);
	CHECK_EQ_INT(fcgi_parse(&p, s.p + 18, 1, &used, &ev), 1);
	CHECK_EQ_U64(used, 1);
	CHECK_EQ_INT(ev.type, FCGI_EV_END);
	CHECK_EQ_U64(ev.app_status, 5);
	CHECK_EQ_INT(fcgi_parse(&p, s.p, 0, &used, &ev), 0);
	CHECK_EQ_U64(used, 0);
	CHECK_EQ_INT(p.done, 1);
	stream_free(&s);
	check_context(NULL);
}

enum { PREFIX_NONE, PREFIX_OUTPUT, PREFIX_ENDED };

struct bad_case {
	const char *name;
	int prefix; /* a good STDOUT record first (its output must still come out);
	             * PREFIX_ENDED: and the empty one that ends STDOUT */
	uint8_t hdr[8]; /* the bad record's header; content follows as zeros */
	int want;
};

static void test_parse_malformed(void)
{
	static const struct bad_case cases[] = {
	    {"version 0", PREFIX_NONE, {0, 6, 0, RID, 0, 1, 0, 0}, FCGI_E_VERSION},
	    {"version 2", PREFIX_NONE, {2, 6, 0, RID, 0, 1, 0, 0}, FCGI_E_VERSION},
	    {"version 255 after output", PREFIX_OUTPUT, {255, 6, 0, RID, 0, 1, 0, 0}, FCGI_E_VERSION},
	    {"version 2 on END", PREFIX_OUTPUT, {2, 3, 0, RID, 0, 8, 0, 0}, FCGI_E_VERSION},
	    {"version before type", PREFIX_NONE, {2, 1, 0, RID, 0, 8, 0, 0}, FCGI_E_VERSION},
	    {"STDOUT id 2", PREFIX_NONE, {1, 6, 0, 2, 0, 1, 0, 0}, FCGI_E_ID},
	    {"STDOUT id 0", PREFIX_NONE, {1, 6, 0, 0, 0, 1, 0, 0}, FCGI_E_ID},
	    {"STDOUT id 0x0101", PREFIX_NONE, {1, 6, 1, 1, 0, 1, 0, 0}, FCGI_E_ID},
	    {"empty STDOUT id 2", PREFIX_OUTPUT, {1, 6, 0, 2, 0, 0, 0, 0}, FCGI_E_ID},
	    {"STDERR id 2", PREFIX_OUTPUT, {1, 7, 0, 2, 0, 1, 0, 0}, FCGI_E_ID},
	    {"END id 2", PREFIX_OUTPUT, {1, 3, 0, 2, 0, 8, 0, 0}, FCGI_E_ID},
	    {"END id 0", PREFIX_NONE, {1, 3, 0, 0, 0, 8, 0, 0}, FCGI_E_ID},
	    {"BEGIN_REQUEST from the app", PREFIX_NONE, {1, 1, 0, RID, 0, 8, 0, 0}, FCGI_E_TYPE},
	    {"ABORT_REQUEST", PREFIX_OUTPUT, {1, 2, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"PARAMS", PREFIX_NONE, {1, 4, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"STDIN", PREFIX_NONE, {1, 5, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"DATA", PREFIX_NONE, {1, 8, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"GET_VALUES", PREFIX_NONE, {1, 9, 0, 0, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"type 0", PREFIX_NONE, {1, 0, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"type 12", PREFIX_NONE, {1, 12, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"type 255", PREFIX_OUTPUT, {1, 255, 0, 0, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"END length 7", PREFIX_OUTPUT, {1, 3, 0, RID, 0, 7, 1, 0}, FCGI_E_LENGTH},
	    {"END length 9", PREFIX_OUTPUT, {1, 3, 0, RID, 0, 9, 7, 0}, FCGI_E_LENGTH},
	    {"END length 0", PREFIX_NONE, {1, 3, 0, RID, 0, 0, 0, 0}, FCGI_E_LENGTH},
	    {"END length 0x0108", PREFIX_NONE, {1, 3, 0, RID, 1, 8, 0, 0}, FCGI_E_LENGTH},
	    {"STDOUT after its end", PREFIX_ENDED, {1, 6, 0, RID, 0, 1, 0, 0}, FCGI_E_TYPE},
	    {"empty STDOUT after its end", PREFIX_ENDED, {1, 6, 0, RID, 0, 0, 0, 0}, FCGI_E_TYPE},
	    {"GET_VALUES_RESULT id 1", PREFIX_NONE, {1, 10, 0, RID, 0, 0, 0, 0}, FCGI_E_ID},
	    {"UNKNOWN_TYPE id 1", PREFIX_OUTPUT, {1, 11, 0, RID, 0, 8, 0, 0}, FCGI_E_ID},
	    {"UNKNOWN_TYPE id 9", PREFIX_OUTPUT, {1, 11, 0, 9, 0, 0, 3, 0}, FCGI_E_ID},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_case *c = &cases[i];
		check_context("malformed: %s", c->name);
		struct stream s;
		stream_init(&s);
		if (c->prefix != PREFIX_NONE)
			put_str(&s, FCGI_STDOUT, "Content-type: text/html\r\n\r\nok");
		if (c->prefix == PREFIX_ENDED)
			put_output(&s, FCGI_STDOUT, "", 0, 0);
		size_t bad_end = s.len + 8;
		put(&s, c->hdr, 8);
		for (int k = 0; k < 16; k++)
			put_byte(&s, 0);
		put_end(&s, RID, 0, 0, 0);

		struct result r, b;
		result_init(&r, s.len);
		run_whole(s.p, s.len, &r);
		CHECK_EQ_INT(r.bad, 0);
		CHECK_EQ_INT(r.error, c->want);
		CHECK_EQ_U64(r.error_at, bad_end);
		CHECK_EQ_MEM(r.out, r.out_len, s.out, s.out_len);
		CHECK_EQ_INT(r.ends, 0);
		result_init(&b, s.len);
		run_bytewise(s.p, s.len, &b);
		same_result(&r, &b);
		result_free(&r);
		result_free(&b);
		stream_free(&s);
	}

	/* bytes after END: in the same chunk, in the next one, one byte later */
	check_context("data after END, same chunk");
	struct stream s;
	stream_init(&s);
	put_str(&s, FCGI_STDOUT, "Status: 204\r\n\r\n");
	put_end(&s, RID, 0, 0, 0);
	size_t end_at = s.len;
	put_str(&s, FCGI_STDOUT, "late");
	struct result r;
	result_init(&r, s.len);
	run_whole(s.p, s.len, &r);
	CHECK_EQ_INT(r.error, FCGI_E_LENGTH);
	CHECK_EQ_U64(r.error_at, end_at);
	CHECK_EQ_INT(r.ends, 1);
	CHECK_EQ_MEM(r.out, r.out_len, "Status: 204\r\n\r\n", 15);
	result_free(&r);

	check_context("data after END, byte by byte");
	result_init(&r, s.len);
	run_bytewise(s.p, s.len, &r);
	CHECK_EQ_INT(r.error, FCGI_E_LENGTH);
	CHECK_EQ_U64(r.error_at, end_at);
	CHECK_EQ_INT(r.ends, 1);
	result_free(&r);

	check_context("data after END, next chunk");
	size_t cut = end_at;
	result_init(&r, s.len);
	run_cuts(s.p, s.len, &cut, 1, &r);
	CHECK_EQ_INT(r.error, FCGI_E_LENGTH);
	CHECK_EQ_U64(r.error_at, end_at);
	result_free(&r);

	check_context("one zero byte after END");
	struct fcgi_parser p;
	fcgi_parser_init(&p, RID);
	result_init(&r, s.len);
	uint8_t *c = dup_bytes(s.p, end_at);
	feed(&p, &r, c, end_at);
	free(c);
	CHECK_EQ_INT(r.ends, 1);
	size_t used = 99;
	struct fcgi_event ev;
	CHECK_EQ_INT(fcgi_parse(&p, (const uint8_t *)"", 1, &used, &ev), FCGI_E_LENGTH);
	CHECK_EQ_U64(used, 0);
	result_free(&r);
	stream_free(&s);

	/* a stream that stops short is the caller's business: no error, no END */
	stream_init(&s);
	build_php_stream(&s, 0);
	size_t full = s.len;
	for (size_t k = 0; k < full; k++) {
		check_context("cut short at %zu of %zu", k, full);
		result_init(&r, k);
		run_whole(s.p, k, &r);
		int ok = CHECK_EQ_INT(r.error, 0) & CHECK_EQ_INT(r.bad, 0) & CHECK_EQ_INT(r.ends, 0) &
		         CHECK_EQ_U64(r.consumed, k) & CHECK(r.out_len <= s.out_len) &
		         CHECK(memcmp(r.out, s.out, r.out_len) == 0);
		result_free(&r);
		if (!ok)
			break;
	}
	stream_free(&s);
	check_context(NULL);
}

/* Every header field, one byte at a time: the parser state stays put. */
static void test_parse_state(void)
{
	check_context("parser state");
	struct fcgi_parser p;
	fcgi_parser_init(&p, 0x0203);
	CHECK_EQ_INT(p.request_id, 0x0203);
	CHECK_EQ_INT(p.hdr_len, 0);
	CHECK_EQ_INT(p.done, 0);
	const uint8_t rec[] = {1, 6, 2, 3, 0, 3, 5, 0, 'a', 'b', 'c', 0, 0, 0, 0, 0};
	size_t used;
	struct fcgi_event ev;
	for (int i = 0; i < 7; i++) {
		CHECK_EQ_INT(fcgi_parse(&p, rec + i, 1, &used, &ev), 0);
		CHECK_EQ_U64(used, 1);
		CHECK_EQ_INT(p.hdr_len, i + 1);
	}
	/* the last header byte and two content bytes */
	CHECK_EQ_INT(fcgi_parse(&p, rec + 7, 3, &used, &ev), 1);
	CHECK_EQ_U64(used, 3);
	CHECK(ev.type == FCGI_EV_STDOUT && ev.len == 2 && ev.data == rec + 8);
	CHECK_EQ_INT(p.content_left, 1);
	CHECK_EQ_INT(p.padding_left, 5);
	CHECK_EQ_INT(fcgi_parse(&p, rec + 10, 6, &used, &ev), 1);
	CHECK_EQ_U64(used, 1);
	CHECK(ev.type == FCGI_EV_STDOUT && ev.len == 1 && ev.data == rec + 10);
	CHECK_EQ_INT(fcgi_parse(&p, rec + 11, 5, &used, &ev), 0);
	CHECK_EQ_U64(used, 5);
	CHECK_EQ_INT(p.padding_left, 0);
	CHECK_EQ_INT(fcgi_parse(&p, rec, 0, &used, &ev), 0);
	CHECK_EQ_U64(used, 0);
	check_context(NULL);
}

/* ---- CGI heads ---- */

static int parse_copy(struct cgi_head *h, const char *s, size_t n)
{
	uint8_t *q = dup_bytes(s, n);
	memset(h, 0x5a, sizeof *h);
	int r = cgi_parse_head(h, (const char *)q, n);
	/* spans must lie inside the copy; rebase them onto s for the checks */
	if (r == 0) {
		const char *base = (const char *)q;
		for (unsigned i = 0; i < h->nfields && i < CGI_MAX_FIELDS; i++) {
			struct cgi_field *f = &h->fields[i];
			if (f->name < base || f->name + f->nlen > base + n || f->value < base ||
			    f->value + f->vlen > base + n)
				CHECK_FAIL("field %u outside the head", i);
			f->name = s + (f->name - base);
			f->value = s + (f->value - base);
		}
		if (h->reason)
			h->reason = s + (h->reason - base);
		if (h->location)
			h->location = s + (h->location - base);
	}
	free(q);
	return r;
}

static size_t head_end_copy(const char *s, size_t n)
{
	uint8_t *q = dup_bytes(s, n);
	size_t e = cgi_head_end((const char *)q, n);
	free(q);
	return e;
}

static int field_is(const struct cgi_head *h, unsigned i, const char *name, const char *value)
{
	if (!CHECK(i < h->nfields))
		return 0;
	return CHECK_EQ_MEM(h->fields[i].name, h->fields[i].nlen, name, strlen(name)) &
	       CHECK_EQ_MEM(h->fields[i].value, h->fields[i].vlen, value, strlen(value));
}

/* Replace every "\r\n" with "\n". */
static size_t to_lf(char *out, const char *in)
{
	size_t n = 0;
	for (; *in; in++)
		if (!(in[0] == '\r' && in[1] == '\n'))
			out[n++] = *in;
	out[n] = '\0';
	return n;
}

/* Heads as applications send them, with where each ends (first test). */
#define REAL_HEADS                                                                                           \
	"X-Powered-By: PHP/8.2.7\r\nContent-type: text/html; charset=UTF-8\r\n\r\n<!DOCTYPE html>\n\n",      \
	    "Status: 302 Found\nLocation: /x\n\nbody", "A: b\r\n\nrest", "A: b\n\r\nrest\r\n\r\n",           \
	    "\r\nbody\n\n"
static const char *const real_heads[] = {REAL_HEADS};

static void test_cgi_head_end(void)
{
	static const struct {
		const char *in;
		size_t want;
	} cases[] = {
	    {"", 0},
	    {"\n", 1},
	    {"\r\n", 2},
	    {"\r", 0},
	    {"\r\r\n", 0},
	    {"\n\n", 1},
	    {"A: b\n", 0},
	    {"A: b\n\n", 6},
	    {"A: b\r\n\r\n", 8},
	    {"A: b\r\n\n", 7},
	    {"A: b\n\r\n", 7},
	    {"A: b\n\r", 0},
	    {"A: b\n\rx\n\n", 9},
	    {"A: b\r\n\r", 0},
	    {"A: b\r\r\n\r\n", 9},
	    {"A: b\r\n\r\nbody\n\nmore", 8},
	    {"A: b\nC: d\n\nbody\r\n\r\n", 11},
	    {"A: b\r\nC: d\r\n", 0},
	    {"A: b\n \n\n", 8},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		check_context("head_end %zu", i);
		CHECK_EQ_U64(head_end_copy(cases[i].in, strlen(cases[i].in)), cases[i].want);
	}

	/* every prefix of real heads: 0 until the empty line is whole */
	static const size_t ends[] = {67, 32, 7, 7, 2};
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		size_t n = strlen(real_heads[i]);
		CHECK_EQ_U64(head_end_copy(real_heads[i], n), ends[i]);
		for (size_t k = 0; k <= n; k++) {
			check_context("head_end %zu prefix %zu", i, k);
			CHECK_EQ_U64(head_end_copy(real_heads[i], k), k < ends[i] ? 0 : ends[i]);
		}
	}
	check_context(NULL);
}

/* cgi_head_end_from, resuming where the last search of a growing buffer
 * stopped, gives what a whole search gives, for every way of cutting the
 * arrival into two steps and for one byte at a time. */
static void test_cgi_head_end_from(void)
{
	static const char *heads[] = {
	    REAL_HEADS,         "\nbody", "A: b\r\r\n\r\n", "A: b\n\rx\n\n", "A: bcdefgh\r\nC: d\r\n\r\n",
	    "A: b\r\nC: d\r\n",
	};
	for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		size_t n = strlen(heads[i]);
		char *q = (char *)dup_bytes(heads[i], n);
		for (size_t from = 0; from <= n; from++) {
			/* the first search covered [0, from) and found nothing */
			if (from && cgi_head_end(q, from))
				break;
			for (size_t len = from; len <= n; len++) {
				check_context("head_end_from %zu from %zu len %zu", i, from, len);
				if (!CHECK_EQ_U64(cgi_head_end_from(q, len, from), cgi_head_end(q, len)))
					goto next;
			}
		}
		/* one byte at a time, as the gateway calls it */
		size_t scanned = 0, end = 0;
		for (size_t len = 1; len <= n && !end; len++) {
			end = cgi_head_end_from(q, len, scanned);
			scanned = len;
		}
		check_context("head_end_from %zu bytewise", i);
		CHECK_EQ_U64(end, cgi_head_end(q, n));
	next:
		free(q);
	}
	check_context(NULL);
}

static struct cgi_head hd;

static void test_cgi_php(void)
{
	char lf[1024];
	for (int mode = 0; mode < 2; mode++) {
		const char *tag = mode ? "LF" : "CRLF";
		const char *in;
		size_t n;
#define HEAD(s) (in = (s), n = mode ? to_lf(lf, in) : strlen(in), in = mode ? lf : in)

		check_context("php plain %s", tag);
		HEAD("X-Powered-By: PHP/8.2.7\r\nContent-type: text/html; charset=UTF-8\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 200);
			CHECK(hd.reason == NULL && hd.location == NULL);
			CHECK_EQ_INT(hd.local_redirect, 0);
			CHECK_EQ_INT(hd.content_length, -1);
			CHECK_EQ_INT(hd.has_content_type, 1);
			CHECK_EQ_INT(hd.nfields, 2);
			field_is(&hd, 0, "X-Powered-By", "PHP/8.2.7");
			field_is(&hd, 1, "Content-type", "text/html; charset=UTF-8");
		}

		check_context("php 404 %s", tag);
		HEAD("Status: 404 Not Found\r\nX-Powered-By: PHP/8.2.7\r\nContent-type: text/html; "
		     "charset=UTF-8\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 404);
			CHECK_EQ_MEM(hd.reason, hd.reason_len, "Not Found", 9);
			CHECK_EQ_INT(hd.nfields, 2);
			field_is(&hd, 0, "X-Powered-By", "PHP/8.2.7");
			field_is(&hd, 1, "Content-type", "text/html; charset=UTF-8");
		}

		check_context("php redirect with Status %s", tag);
		HEAD("X-Powered-By: PHP/8.2.7\r\nStatus: 302 Found\r\nLocation: /login.php?next=%2F\r\n"
		     "Content-type: text/html; charset=UTF-8\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 302);
			CHECK_EQ_MEM(hd.reason, hd.reason_len, "Found", 5);
			CHECK_EQ_MEM(hd.location, hd.location_len, "/login.php?next=%2F", 19);
			CHECK_EQ_INT(hd.local_redirect, 0);
			CHECK_EQ_INT(hd.nfields, 3);
			field_is(&hd, 1, "Location", "/login.php?next=%2F");
		}

		check_context("local redirect %s", tag);
		HEAD("Location: /index.php/other?a=1\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 200);
			CHECK_EQ_INT(hd.local_redirect, 1);
			CHECK_EQ_MEM(hd.location, hd.location_len, "/index.php/other?a=1", 20);
			CHECK_EQ_INT(hd.has_content_type, 0);
			CHECK_EQ_INT(hd.nfields, 1);
		}

		check_context("absolute Location %s", tag);
		HEAD("X-Powered-By: PHP/8.2.7\r\nLocation: https://example.com/welcome\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 302);
			CHECK(hd.reason == NULL);
			CHECK_EQ_INT(hd.local_redirect, 0);
			CHECK_EQ_MEM(hd.location, hd.location_len, "https://example.com/welcome", 27);
			field_is(&hd, 1, "Location", "https://example.com/welcome");
		}

		check_context("network-path Location %s", tag);
		HEAD("Location: //example.com/x\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 302);
			CHECK_EQ_INT(hd.local_redirect, 0);
		}

		check_context("absolute Location with Status %s", tag);
		HEAD("Status: 301 Moved Permanently\r\nlocation: http://example.com/\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 301);
			CHECK_EQ_INT(hd.local_redirect, 0);
			CHECK_EQ_MEM(hd.location, hd.location_len, "http://example.com/", 19);
		}

		check_context("local Location with Status 200 %s", tag);
		HEAD("Status: 200\r\nLocation: /x\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 200);
			CHECK_EQ_INT(hd.local_redirect, 0);
		}

		check_context("Set-Cookie twice %s", tag);
		HEAD("X-Powered-By: PHP/8.2.7\r\nSet-Cookie: PHPSESSID=abc123; path=/\r\n"
		     "Expires: Thu, 19 Nov 1981 08:52:00 GMT\r\nCache-Control: no-store, no-cache, "
		     "must-revalidate\r\n"
		     "Pragma: no-cache\r\nSet-Cookie: lang=en; expires=Fri, 01 Jan 2100 00:00:00 GMT; "
		     "Max-Age=99; "
		     "path=/\r\nContent-Length: 1234\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 200);
			CHECK_EQ_INT(hd.nfields, 8);
			CHECK_EQ_INT(hd.content_length, 1234);
			field_is(&hd, 1, "Set-Cookie", "PHPSESSID=abc123; path=/");
			field_is(&hd, 2, "Expires", "Thu, 19 Nov 1981 08:52:00 GMT");
			field_is(&hd, 5, "Set-Cookie",
			         "lang=en; expires=Fri, 01 Jan 2100 00:00:00 GMT; Max-Age=99; path=/");
			field_is(&hd, 6, "Content-Length", "1234");
			field_is(&hd, 7, "Content-Type", "text/html; charset=UTF-8");
		}

		check_context("Status only %s", tag);
		HEAD("Status: 204\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 204);
			CHECK(hd.reason == NULL);
			CHECK_EQ_INT(hd.nfields, 0);
		}

		check_context("whitespace %s", tag);
		HEAD("content-TYPE:text/plain\r\nX-A: \t a  b \t \r\nX-Empty:\r\nX-Blank:   \r\n"
		     "STATUS:\t599   Custom\tthing  \r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.status, 599);
			CHECK_EQ_MEM(hd.reason, hd.reason_len, "Custom\tthing", 12);
			CHECK_EQ_INT(hd.has_content_type, 1);
			CHECK_EQ_INT(hd.nfields, 4);
			field_is(&hd, 0, "content-TYPE", "text/plain");
			field_is(&hd, 1, "X-A", "a  b");
			field_is(&hd, 2, "X-Empty", "");
			field_is(&hd, 3, "X-Blank", "");
		}

		check_context("tchar names, obs-text value %s", tag);
		HEAD("!#$%&'*+-.^_`|~09azAZ: \x80\xff caf\xc3\xa9\r\nContent-Type: x\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0))
			field_is(&hd, 0, "!#$%&'*+-.^_`|~09azAZ", "\x80\xff caf\xc3\xa9");

		check_context("Content-Length limits %s", tag);
		HEAD("Content-Length: 999999999999999999\r\nContent-Type: x\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0))
			CHECK_EQ_INT(hd.content_length, 999999999999999999ll);
		HEAD("Content-Length: 0\r\nContent-Length: 0\r\nContent-Type: x\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0)) {
			CHECK_EQ_INT(hd.content_length, 0);
			CHECK_EQ_INT(hd.nfields, 3);
		}
		HEAD("Content-Length: 000123\r\nStatus: 200\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0))
			CHECK_EQ_INT(hd.content_length, 123);

		check_context("status bounds %s", tag);
		HEAD("Status: 200\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0))
			CHECK_EQ_INT(hd.status, 200);
		HEAD("Status: 599\r\n\r\n");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0))
			CHECK_EQ_INT(hd.status, 599);

		check_context("body after the head is not read %s", tag);
		HEAD("Content-Type: text/plain\r\n\r\nnot: a header\r\n\x01\x02");
		if (CHECK_EQ_INT(parse_copy(&hd, in, n), 0))
			CHECK_EQ_INT(hd.nfields, 1);
#undef HEAD
	}

	/* mixed line ends in one head */
	check_context("mixed line ends");
	const char *mix = "Status: 404 Not Found\nX-A: 1\r\nContent-Type: text/html\n\r\n";
	CHECK_EQ_U64(head_end_copy(mix, strlen(mix)), strlen(mix));
	if (CHECK_EQ_INT(parse_copy(&hd, mix, strlen(mix)), 0)) {
		CHECK_EQ_INT(hd.status, 404);
		CHECK_EQ_MEM(hd.reason, hd.reason_len, "Not Found", 9);
		field_is(&hd, 0, "X-A", "1");
		field_is(&hd, 1, "Content-Type", "text/html");
	}
	check_context(NULL);
}

static void test_cgi_fields_limit(void)
{
	static char buf[CGI_MAX_FIELDS * 16 + 64];
	for (int extra = 0; extra < 2; extra++) {
		for (int with_status = 0; with_status < 2; with_status++) {
			check_context("fields limit +%d status %d", extra, with_status);
			size_t n = 0;
			if (with_status)
				n += (size_t)sprintf(buf + n, "Status: 200\r\n");
			n += (size_t)sprintf(buf + n, "Content-Type: a\r\n");
			for (int i = 1; i < CGI_MAX_FIELDS + extra; i++)
				n += (size_t)sprintf(buf + n, "X-%d: %d\r\n", i, i);
			n += (size_t)sprintf(buf + n, "\r\n");
			int r = parse_copy(&hd, buf, n);
			if (extra) {
				CHECK_EQ_INT(r, -1);
			} else if (CHECK_EQ_INT(r, 0)) {
				CHECK_EQ_INT(hd.nfields, CGI_MAX_FIELDS);
				field_is(&hd, CGI_MAX_FIELDS - 1, "X-99", "99");
			}
		}
	}
	check_context(NULL);
}

static void test_cgi_malformed(void)
{
	static const struct {
		const char *name;
		const char *in;
		size_t len; /* 0: strlen */
	} cases[] = {
	    {"no colon", "Content-Type text/html\r\n\r\n", 0},
	    {"no colon, LF", "Content-Type: a\nbroken\n\n", 0},
	    {"empty name", ": x\r\nContent-Type: a\r\n\r\n", 0},
	    {"space in name", "Content Type: a\r\n\r\n", 0},
	    {"space before colon", "Content-Type : a\r\n\r\n", 0},
	    {"tab before colon", "Status\t: 200\r\n\r\n", 0},
	    {"obs-fold", "Content-Type: a\r\nX-A: b\r\n c\r\n\r\n", 0},
	    {"leading space", " Content-Type: a\r\n\r\n", 0},
	    {"non-token name", "X(y): 1\r\nContent-Type: a\r\n\r\n", 0},
	    {"8-bit name", "X\xc3\xa9: 1\r\nContent-Type: a\r\n\r\n", 0},
	    {"NUL in name", "X\0: 1\r\nContent-Type: a\r\n\r\n",
	     sizeof "X\0: 1\r\nContent-Type: a\r\n\r\n" - 1},
	    {"NUL in value", "Content-Type: a\0b\r\n\r\n", sizeof "Content-Type: a\0b\r\n\r\n" - 1},
	    {"bare CR in value", "Content-Type: a\rb\r\n\r\n", 0},
	    {"CR CR LF", "Content-Type: a\r\r\n\r\n", 0},
	    {"control in value", "Content-Type: a\x01\r\n\r\n", 0},
	    {"ESC in value", "X: \x1b[31m\r\nContent-Type: a\r\n\r\n", 0},
	    {"DEL in value", "Content-Type: a\x7f\r\n\r\n", 0},
	    {"Status 4 digits", "Status: 4040\r\n\r\n", 0},
	    {"Status 2 digits", "Status: 40\r\n\r\n", 0},
	    {"Status empty", "Status:\r\n\r\n", 0},
	    {"Status blank", "Status:   \r\n\r\n", 0},
	    {"Status letters", "Status: abc\r\n\r\n", 0},
	    {"Status 099", "Status: 099\r\n\r\n", 0},
	    /* no final response: the gateway would send it as one */
	    {"Status 100", "Status: 100\r\n\r\n", 0},
	    {"Status 103", "Status: 103 Early Hints\r\nContent-Type: a\r\n\r\n", 0},
	    {"Status 199", "Status: 199\r\n\r\n", 0},
	    {"Status 600", "Status: 600 Nope\r\n\r\n", 0},
	    {"Status 000", "Status: 000\r\n\r\n", 0},
	    {"Status 404x", "Status: 404x\r\n\r\n", 0},
	    {"Status 404.", "Status: 404.5 Odd\r\n\r\n", 0},
	    {"Status signed", "Status: +404\r\n\r\n", 0},
	    {"Status reason first", "Status: Not Found 404\r\n\r\n", 0},
	    {"Status twice", "Status: 200\r\nStatus: 404\r\n\r\n", 0},
	    {"Content-Length letters", "Content-Length: 12a\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length negative", "Content-Length: -1\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length plus", "Content-Length: +5\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length empty", "Content-Length:\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length 19 digits", "Content-Length: 1000000000000000000\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length list", "Content-Length: 5, 5\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length inner space", "Content-Length: 1 2\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length hex", "Content-Length: 0x10\r\nContent-Type: a\r\n\r\n", 0},
	    {"Content-Length conflict", "Content-Length: 5\r\nContent-Length: 6\r\nContent-Type: a\r\n\r\n",
	     0},
	    {"Location twice", "Location: /a\r\nLocation: /b\r\n\r\n", 0},
	    {"Location empty", "Location:\r\nContent-Type: a\r\n\r\n", 0},
	    {"none of the three", "X-Powered-By: PHP/8.2.7\r\nSet-Cookie: a=b\r\n\r\n", 0},
	    {"empty head", "\r\n", 0},
	    {"empty head LF", "\n", 0},
	    {"nothing", "", 0},
	    {"no empty line", "Content-Type: a\r\n", 0},
	    {"no line end", "Content-Type: a", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		check_context("cgi malformed: %s", cases[i].name);
		size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
		CHECK_EQ_INT(parse_copy(&hd, cases[i].in, n), -1);
	}
	check_context(NULL);
}

/* ---- fuzz seeds ---- */

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

/* A fuzz input: the split byte, then the stream (see fuzz_fcgi.c). */
static int write_seed(const char *dir, const char *name, uint8_t split, const struct stream *s)
{
	uint8_t *b = malloc(s->len + 1);
	if (!b)
		abort();
	b[0] = split;
	memcpy(b + 1, s->p, s->len);
	int r = write_file(dir, name, b, s->len + 1);
	free(b);
	return r;
}

static int write_seeds(const char *dir)
{
	int err = 0;
	struct stream s;

	stream_init(&s);
	build_php_stream(&s, 0);
	err |= write_seed(dir, "php_hello", 97, &s);
	stream_free(&s);

	stream_init(&s);
	build_php_stream(&s, 1);
	err |= write_seed(dir, "php_mgmt_records", 13, &s);
	stream_free(&s);

	stream_init(&s);
	put_str(&s, FCGI_STDERR,
	        "PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function f()");
	put_str(&s, FCGI_STDOUT,
	        "Status: 404 Not Found\r\nX-Powered-By: PHP/8.2.7\r\nContent-type: text/html; "
	        "charset=UTF-8\r\n\r\nFile not found.\n");
	put_output(&s, FCGI_STDOUT, "", 0, 0);
	put_end(&s, RID, 255, FCGI_REQUEST_COMPLETE, 0);
	err |= write_seed(dir, "php_404_stderr", 200, &s);
	stream_free(&s);

	stream_init(&s);
	put_str(&s, FCGI_STDOUT, "Location: /login.php\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n");
	put_end(&s, RID, 0, FCGI_REQUEST_COMPLETE, 0);
	err |= write_seed(dir, "local_redirect", 40, &s);
	stream_free(&s);

	stream_init(&s);
	static char body[4000];
	memset(body, 'x', sizeof body);
	put_str(&s, FCGI_STDOUT, "Content-Type: text/plain\nContent-Length: 12000\n\n");
	for (int i = 0; i < 3; i++)
		put_output(&s, FCGI_STDOUT, body, sizeof body, 0);
	put_output(&s, FCGI_STDOUT, "", 0, 0);
	put_end(&s, RID, 0, FCGI_REQUEST_COMPLETE, 0);
	err |= write_seed(dir, "big_body", 128, &s);
	stream_free(&s);

	stream_init(&s);
	put_end(&s, RID, 0, FCGI_OVERLOADED, 0);
	err |= write_seed(dir, "overloaded", 4, &s);
	stream_free(&s);

	stream_init(&s);
	put_str(&s, FCGI_STDOUT, "Content-Type: a\r\n\r\n");
	put_raw(&s, FCGI_VERSION_1, FCGI_END_REQUEST, RID, 9, "\0\0\0\0\0\0\0\0\0", 7);
	err |= write_seed(dir, "bad_end_length", 30, &s);
	stream_free(&s);

	stream_init(&s);
	put_raw(&s, FCGI_VERSION_1, FCGI_STDOUT, 2, 4, "abcd", 4);
	err |= write_seed(dir, "bad_id", 0, &s);
	stream_free(&s);

	stream_init(&s);
	put_end(&s, RID, 0, 0, 0);
	put_str(&s, FCGI_STDOUT, "late");
	err |= write_seed(dir, "after_end", 9, &s);
	stream_free(&s);

	/* a CGI head on its own and name-value pairs on their own */
	const char *head = "xStatus: 302 Found\nLocation: http://example.com/\nContent-type: text/html\n\n";
	err |= write_file(dir, "cgi_head_lf", (const uint8_t *)head, strlen(head));
	uint8_t nv[512];
	size_t n = 0;
	nv[n++] = 0; /* the split byte */
	n += fcgi_nv_encode(nv + n, sizeof nv - n, "FCGI_MAX_CONNS", 14, "10", 2);
	n += fcgi_nv_encode(nv + n, sizeof nv - n, "FCGI_MAX_REQS", 13, "50", 2);
	n += fcgi_nv_encode(nv + n, sizeof nv - n, "FCGI_MPXS_CONNS", 15, "0", 1);
	n += fcgi_nv_encode(nv + n, sizeof nv - n, "X", 1, body, 200);
	err |= write_file(dir, "nv_pairs", nv, n);
	return err;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_header();
	test_padding();
	test_begin_abort();
	test_nv_bytes();
	test_nv_roundtrip();
	test_nv_malformed();
	test_parse_stream();
	test_parse_big_random();
	test_parse_end_status();
	test_parse_malformed();
	test_parse_state();
	test_cgi_head_end();
	test_cgi_head_end_from();
	test_cgi_php();
	test_cgi_fields_limit();
	test_cgi_malformed();
	return check_done();
}
