/* fuzz_http.c: libFuzzer target for the request head parser and the chunked
 * decoder (src/http/parse.c), as a differential check.
 *
 * Input layout (so the fuzzer controls the splits and the limits):
 *   byte 0      bits 0-2: k, the number of split bytes that follow (0..7)
 *               bit 3:    three limit bytes follow (else the default limits)
 *   [3 bytes]   max_request_line = 8 + 2*b, max_head = 16 + 4*b, max_fields = b % 131
 *               (0 is "default", above 128 is clamped by the parser)
 *   k bytes     piece lengths (b + 1), used in turn, over and over
 *   the rest    the bytes a client sends
 *
 * The head is parsed three ways:
 *   - whole: one call with every byte;
 *   - split: the same buffer offered with a growing length, piece by piece;
 *   - byte by byte (inputs up to BYTEWISE_MAX bytes).
 * During the incremental feeds the bytes not yet "received" are poisoned, so
 * ASan catches the parser reading past the length it was given. An
 * intermediate call may answer only HTTP_PARTIAL or the final error; the last
 * verdict (and the reason), and for a complete head every parsed span (as
 * offsets), the flags, version and Content-Length must be identical.
 *
 * When the head is complete, the bytes after it go to http_chunked_decode(),
 * whole and in the same pieces (each piece an exact-size heap copy): verdict,
 * bytes consumed and the decoded data must be identical, and the decoder may
 * never write more than it consumed.
 *
 * The default limits (8 KiB line, 16 KiB head) lie beyond libFuzzer's usual
 * input size; the small limits reach the same 414/431 boundaries cheaply. (A
 * long line fed in 1-byte pieces costs time quadratic in its length: the
 * parser rescans a partial line from its start on every call.)
 *
 * Seeds: tests/fuzz/corpus/http/ (each starts with the control bytes above).
 * Run: ./fuzz_http -max_total_time=60 tests/fuzz/corpus/http
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define HAVE_ASAN 1
#endif
#endif
#ifndef HAVE_ASAN
#define ASAN_POISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#endif

#define BYTEWISE_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_http: %s\n", what);
		abort();
	}
}

struct pieces {
	const uint8_t *len; /* piece lengths - 1 */
	size_t k;
};

static size_t piece_len(const struct pieces *pc, size_t i)
{
	return pc->k ? (size_t)pc->len[i % pc->k] + 1 : (size_t)-1;
}

/* Offer buf[0..size) to a fresh parser with a growing length: each step adds
 * the next piece (step == 0: piece lengths from pc, else step bytes). */
static int parse_growing(struct http_head *h, char *buf, size_t size, const struct pieces *pc,
                         size_t step, const struct http_limits *lim)
{
	http_head_init(h);
	size_t len = 0;
	for (size_t i = 0;; i++) {
		size_t add = step ? step : piece_len(pc, i);
		len = add > size - len ? size : len + add;
		ASAN_UNPOISON_MEMORY_REGION(buf, size);
		ASAN_POISON_MEMORY_REGION(buf + len, size - len);
		int r = http_parse_head(h, buf, len, lim);
		if (r != HTTP_PARTIAL || len == size) {
			ASAN_UNPOISON_MEMORY_REGION(buf, size);
			return r;
		}
	}
}

/* Both parses ran on the same buffer, so equal spans are equal pointers (a
 * span is inside the buffer, or the parser's static "/" for an empty path). */
static void same_span(struct span a, struct span b, const char *what)
{
	require(a.len == b.len, what);
	require(a.len == 0 || a.p == b.p, what);
}

static void same_head(int r, const struct http_head *a, const struct http_head *b)
{
	if (r < 0) {
		require(a->error && b->error && strcmp(a->error, b->error) == 0, "error reasons differ");
		return;
	}
	if (r == HTTP_PARTIAL)
		return;
	require(a->method == b->method, "method differs");
	same_span(a->method_str, b->method_str, "method string differs");
	same_span(a->target, b->target, "target differs");
	same_span(a->path, b->path, "path differs");
	same_span(a->query, b->query, "query differs");
	same_span(a->host, b->host, "host differs");
	require(a->version == b->version, "version differs");
	require(a->flags == b->flags, "flags differ");
	require(a->content_length == b->content_length, "Content-Length differs");
	same_span(a->if_none_match, b->if_none_match, "If-None-Match differs");
	same_span(a->if_match, b->if_match, "If-Match differs");
	same_span(a->if_modified_since, b->if_modified_since, "If-Modified-Since differs");
	same_span(a->if_unmodified_since, b->if_unmodified_since, "If-Unmodified-Since differs");
	same_span(a->if_range, b->if_range, "If-Range differs");
	same_span(a->range, b->range, "Range differs");
	same_span(a->content_type, b->content_type, "Content-Type differs");
	require(a->nfields == b->nfields, "field count differs");
	for (uint32_t i = 0; i < a->nfields; i++) {
		same_span(a->fields[i].name, b->fields[i].name, "field name differs");
		same_span(a->fields[i].value, b->fields[i].value, "field value differs");
	}
}

/* Facts about a complete head that hold however it was fed. */
static void check_complete(const char *buf, size_t size, int r, const struct http_head *h,
                           const struct http_limits *lim)
{
	require((size_t)r <= size, "head longer than the input");
	require(buf[r - 1] == '\n', "head does not end with LF");
	require(h->version == 10 || h->version == 11, "bad version");
	require(h->method_str.len > 0 && h->target.len > 0, "empty method or target");
	require(h->path.len > 0, "empty path");
	uint32_t max_fields = lim && lim->max_fields ? lim->max_fields : HTTP_DEFAULT_MAX_FIELDS;
	if (max_fields > HTTP_MAX_FIELDS_HARD)
		max_fields = HTTP_MAX_FIELDS_HARD;
	require(h->nfields <= max_fields, "too many fields accepted");
	uint32_t max_head = lim && lim->max_head ? lim->max_head : HTTP_DEFAULT_MAX_HEAD;
	require((uint32_t)r <= max_head + (lim && lim->max_request_line ? lim->max_request_line
	                                                                  : HTTP_DEFAULT_MAX_REQUEST_LINE),
	        "head over the limits");
	/* never both framings */
	require(!((h->flags & HTTP_F_CHUNKED) && (h->flags & HTTP_F_HAS_CL)), "both CL and chunked");
	require((h->flags & HTTP_F_HAS_CL) ? h->content_length >= 0 : h->content_length == -1,
	        "Content-Length inconsistent with its flag");
	for (uint32_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];
		require(f->name.p >= buf && f->name.p + f->name.len <= buf + r, "field name outside");
		require(f->value.p >= buf && f->value.p + f->value.len <= buf + r, "field value outside");
		for (uint32_t j = 0; j < f->value.len; j++) {
			unsigned char c = (unsigned char)f->value.p[j];
			require(c != '\r' && c != '\n' && c != 0, "CR, LF or NUL in a field value");
		}
		for (uint32_t j = 0; j < f->name.len; j++)
			require(http_is_tchar((unsigned char)f->name.p[j]), "non-token field name");
	}
	for (uint32_t j = 0; j < h->target.len; j++) {
		unsigned char c = (unsigned char)h->target.p[j];
		require(c > 0x20 && c < 0x7f, "control byte or space in the target");
	}
}

struct decoded {
	int verdict;
	size_t consumed;
	uint8_t *data;
	size_t len;
};

/* Chunked-decode in[0..n) in pieces (step 0: lengths from pc, else step
 * bytes, n+1 for all at once), each piece an exact-size heap copy. */
static void chunked_pieces(const uint8_t *in, size_t n, const struct pieces *pc, size_t step,
                           struct decoded *d)
{
	struct http_chunked c;
	http_chunked_init(&c);
	d->data = malloc(n ? n : 1);
	require(d->data != NULL, "malloc");
	d->len = 0;
	d->consumed = 0;
	d->verdict = 0;
	size_t at = 0;
	for (size_t i = 0; at < n; i++) {
		size_t m = step ? step : piece_len(pc, i);
		if (m > n - at)
			m = n - at;
		char *piece = malloc(m);
		require(piece != NULL, "malloc");
		memcpy(piece, in + at, m);
		size_t used = (size_t)-1, out = (size_t)-1;
		int r = http_chunked_decode(&c, piece, m, &used, &out);
		require(r == 1 || r == 0 || r == -400, "chunked: unexpected return");
		if (r >= 0) {
			require(used <= m && out <= used, "chunked: out > consumed or consumed > len");
			require(r == 1 || used == m, "chunked: input left over without an end");
			memcpy(d->data + d->len, piece, out);
			d->len += out;
			d->consumed = at + used;
		}
		free(piece);
		d->verdict = r;
		if (r != 0)
			return;
		at += m;
	}
	d->consumed = n;
}

static void fuzz_chunked(const uint8_t *in, size_t n, const struct pieces *pc)
{
	struct decoded whole, split, bytes;
	chunked_pieces(in, n, pc, n + 1, &whole);
	chunked_pieces(in, n, pc, 0, &split);
	require(whole.verdict == split.verdict, "chunked: verdict differs when split");
	if (whole.verdict >= 0) {
		require(whole.consumed == split.consumed, "chunked: consumed differs when split");
		require(whole.len == split.len && memcmp(whole.data, split.data, whole.len) == 0,
		        "chunked: data differs when split");
	}
	if (n <= BYTEWISE_MAX) {
		chunked_pieces(in, n, pc, 1, &bytes);
		require(whole.verdict == bytes.verdict, "chunked: verdict differs byte by byte");
		if (whole.verdict >= 0) {
			require(whole.consumed == bytes.consumed, "chunked: consumed differs byte by byte");
			require(whole.len == bytes.len && memcmp(whole.data, bytes.data, whole.len) == 0,
			        "chunked: data differs byte by byte");
		}
		free(bytes.data);
	}
	free(whole.data);
	free(split.data);
}

static struct http_head h_whole, h_split, h_bytes;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t at = 1;
	struct http_limits limits = {0}, *lim = NULL;
	if (data[0] & 8) {
		if (size < at + 3)
			return 0;
		limits.max_request_line = 8u + 2u * data[at];
		limits.max_head = 16u + 4u * data[at + 1];
		limits.max_fields = data[at + 2] % 131u;
		lim = &limits;
		at += 3;
	}
	struct pieces pc = {data + at, data[0] & 7u};
	if (size < at + pc.k)
		return 0;
	at += pc.k;
	size_t n = size - at;

	char *buf = malloc(n ? n : 1);
	require(buf != NULL, "malloc");
	memcpy(buf, data + at, n);

	http_head_init(&h_whole);
	int r = http_parse_head(&h_whole, buf, n, lim);
	require(r == HTTP_PARTIAL || r > 0 || r == -400 || r == -414 || r == -431 || r == -501 ||
	                r == -505,
	        "unexpected verdict");
	if (r < 0)
		require(h_whole.error != NULL && h_whole.error[0] != '\0', "error without a reason");
	if (r > 0)
		check_complete(buf, n, r, &h_whole, lim);
	/* a finished parser refuses to go on */
	if (r > 0) {
		struct http_head again = h_whole;
		require(http_parse_head(&again, buf, n, lim) < 0, "parsed past a complete head");
	}

	int rs = parse_growing(&h_split, buf, n, &pc, 0, lim);
	require(rs == r, "verdict differs when split");
	same_head(r, &h_whole, &h_split);

	if (n <= BYTEWISE_MAX) {
		int rb = parse_growing(&h_bytes, buf, n, &pc, 1, lim);
		require(rb == r, "verdict differs byte by byte");
		same_head(r, &h_whole, &h_bytes);
	}

	if (r > 0)
		fuzz_chunked(data + at + r, n - (size_t)r, &pc);
	free(buf);
	return 0;
}
