/* fuzz_fcgi.c: libFuzzer target for the FastCGI record codec and the CGI head
 * parser (src/fcgi/record.c, src/fcgi/cgi.c).
 *
 * The first input byte steers, the rest is a stream of records from an
 * application (request id 1) fed to fcgi_parse three ways: whole, cut in two
 * at a place the first byte picks (scaled over the stream), and in chunks of
 * 1 to 13 bytes. Each chunk is its own exact-size heap copy, so ASan sees a
 * read past it. The three must agree (differential): the same concatenated
 * STDOUT and STDERR bytes, the same END status, the same error at the same
 * stream offset. Every event must have len > 0 and data inside the bytes the
 * call consumed; after END nothing more is accepted.
 *
 * The bytes after the first also go to cgi_head_end + cgi_parse_head, and so
 * does the STDOUT the parser put together (what the gateway really parses).
 * A head found by cgi_head_end must end with LF; parsing the whole buffer
 * must give the same answer as parsing just the head (the parser stops at the
 * empty line), and -1 when there is no head. An accepted head's spans lie
 * inside it and its fields are consistent. Finally fcgi_nv_decode walks the
 * same bytes as a list of pairs; every pair it accepts re-encodes to exactly
 * the bytes it came from (the encoding is canonical).
 *
 * Seeds: tests/fuzz/corpus/fcgi/, written by `test_fcgi --write-seeds DIR`.
 * Run: ./fuzz_fcgi -max_total_time=60 tests/fuzz/corpus/fcgi
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/cgi.h"
#include "fcgi/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RID 1

static void require(int cond)
{
	if (!cond)
		abort();
}

struct outcome {
	uint8_t *out, *err;
	size_t out_len, err_len;
	int ends;
	uint32_t app;
	uint8_t proto;
	int error;
	size_t error_at;
	size_t consumed;
};

static void outcome_init(struct outcome *o, size_t cap)
{
	memset(o, 0, sizeof *o);
	o->out = malloc(cap ? cap : 1);
	o->err = malloc(cap ? cap : 1);
	require(o->out && o->err);
}

static void outcome_free(struct outcome *o)
{
	free(o->out);
	free(o->err);
}

/* One chunk, as the gateway would: call until it is used up or an error. */
static void feed(struct fcgi_parser *p, struct outcome *o, const uint8_t *src, size_t n)
{
	uint8_t *chunk = malloc(n ? n : 1);
	require(chunk != NULL);
	if (n)
		memcpy(chunk, src, n);
	size_t off = 0;
	while (!o->error) {
		size_t used;
		struct fcgi_event ev;
		int rc = fcgi_parse(p, chunk + off, n - off, &used, &ev);
		require(used <= n - off);
		const uint8_t *from = chunk + off;
		off += used;
		o->consumed += used;
		if (rc < 0) {
			require(rc >= FCGI_E_LENGTH); /* VERSION, TYPE, ID or LENGTH */
			o->error = rc;
			o->error_at = o->consumed;
			break;
		}
		if (rc == 0) {
			require(off == n);
			break;
		}
		require(rc == 1);
		require(o->ends == 0); /* nothing after END */
		switch (ev.type) {
		case FCGI_EV_STDOUT:
		case FCGI_EV_STDERR:
			require(ev.len > 0 && ev.data >= from && ev.data + ev.len <= chunk + off);
			if (ev.type == FCGI_EV_STDOUT) {
				memcpy(o->out + o->out_len, ev.data, ev.len);
				o->out_len += ev.len;
			} else {
				memcpy(o->err + o->err_len, ev.data, ev.len);
				o->err_len += ev.len;
			}
			break;
		case FCGI_EV_END:
			o->ends++;
			o->app = ev.app_status;
			o->proto = ev.protocol_status;
			require(p->done);
			break;
		default: abort();
		}
	}
	free(chunk);
}

static void same(const struct outcome *a, const struct outcome *b)
{
	require(a->error == b->error && a->error_at == b->error_at);
	require(a->ends == b->ends && a->app == b->app && a->proto == b->proto);
	require(a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0);
	require(a->err_len == b->err_len && memcmp(a->err, b->err, a->err_len) == 0);
	if (!a->error)
		require(a->consumed == b->consumed);
}

static void fuzz_records(uint8_t steer, const uint8_t *s, size_t n, struct outcome *whole)
{
	struct fcgi_parser p;
	outcome_init(whole, n);
	fcgi_parser_init(&p, RID);
	feed(&p, whole, s, n);
	require(whole->out_len + whole->err_len <= n);
	if (!whole->error)
		require(whole->consumed == n);
	require(whole->ends <= 1);

	struct outcome two;
	outcome_init(&two, n);
	fcgi_parser_init(&p, RID);
	size_t k = (size_t)steer * (n + 1) / 256;
	feed(&p, &two, s, k);
	if (!two.error)
		feed(&p, &two, s + k, n - k);
	same(whole, &two);
	outcome_free(&two);

	struct outcome small;
	outcome_init(&small, n);
	fcgi_parser_init(&p, RID);
	size_t step = steer % 13 + 1;
	for (size_t at = 0; at < n && !small.error; at += step)
		feed(&p, &small, s + at, n - at < step ? n - at : step);
	same(whole, &small);
	outcome_free(&small);
}

static int within(const char *p, size_t len, const char *base, size_t n)
{
	return p >= base && len <= n && (size_t)(p - base) <= n - len;
}

static void fuzz_cgi(const uint8_t *s, size_t n)
{
	static struct cgi_head h1, h2;
	char *buf = malloc(n ? n : 1);
	require(buf != NULL);
	if (n)
		memcpy(buf, s, n);
	size_t e = cgi_head_end(buf, n);
	require(e <= n);
	int r_all = cgi_parse_head(&h2, buf, n);
	if (e == 0) {
		require(r_all == -1);
		free(buf);
		return;
	}
	require(buf[e - 1] == '\n');
	int r = cgi_parse_head(&h1, buf, e);
	require(r == 0 || r == -1);
	require(r_all == r);
	if (r == 0) {
		require(h1.status >= 100 && h1.status <= 599);
		require(h1.nfields <= CGI_MAX_FIELDS);
		require(h1.content_length >= -1);
		require(h1.nfields == h2.nfields && h1.status == h2.status &&
		        h1.local_redirect == h2.local_redirect && h1.content_length == h2.content_length);
		if (h1.reason)
			require(h1.reason_len > 0 && within(h1.reason, h1.reason_len, buf, e));
		if (h1.location) {
			require(h1.location_len > 0 && within(h1.location, h1.location_len, buf, e));
			if (h1.local_redirect)
				require(h1.location[0] == '/' && h1.status == 200);
		} else {
			require(!h1.local_redirect);
		}
		for (unsigned i = 0; i < h1.nfields; i++) {
			const struct cgi_field *f = &h1.fields[i];
			require(f->nlen > 0 && within(f->name, f->nlen, buf, e));
			require(within(f->value, f->vlen, buf, e));
			require(memchr(f->name, ':', f->nlen) == NULL);
			for (uint32_t j = 0; j < f->vlen; j++) {
				unsigned char c = (unsigned char)f->value[j];
				require(c >= 0x20 ? c != 0x7f : c == '\t');
			}
			if (f->vlen)
				require(f->value[0] != ' ' && f->value[0] != '\t' &&
				        f->value[f->vlen - 1] != ' ' && f->value[f->vlen - 1] != '\t');
		}
	}
	free(buf);
}

static void fuzz_nv(const uint8_t *s, size_t n)
{
	static uint8_t re[1 << 20];
	size_t pos = 0;
	while (pos < n) {
		const uint8_t *name, *value;
		uint32_t nlen, vlen;
		int r = fcgi_nv_decode(s + pos, n - pos, &name, &nlen, &value, &vlen);
		if (r <= 0) {
			require(r == 0 || r == FCGI_E_NV);
			break;
		}
		require((size_t)r <= n - pos);
		require(name >= s + pos && value == name + nlen && value + vlen == s + pos + (size_t)r);
		require(fcgi_nv_size(nlen, vlen) == (size_t)r);
		if ((size_t)r <= sizeof re) {
			size_t m = fcgi_nv_encode(re, (size_t)r, (const char *)name, nlen,
			                          (const char *)value, vlen);
			require(m == (size_t)r && memcmp(re, s + pos, m) == 0);
		}
		pos += (size_t)r;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const uint8_t *s = data + 1;
	size_t n = size - 1;
	struct outcome whole;
	fuzz_records(data[0], s, n, &whole);
	fuzz_cgi(s, n);
	fuzz_cgi(whole.out, whole.out_len);
	fuzz_nv(s, n);
	outcome_free(&whole);
	return 0;
}
