/* fuzz_range.c: libFuzzer target for Range parsing (src/http/range.c) and
 * HTTP-date parsing and formatting (src/http/date.c).
 *
 * Input: "SIZE\nVALUE" — SIZE in decimal (saturating at UINT64_MAX; no newline
 * at all: SIZE is 1000 and the whole input is VALUE). VALUE goes, as an
 * exact-size heap copy, to:
 *   - range_parse(VALUE, SIZE): RANGE_OK gives 1..RANGE_MAX ranges, sorted,
 *     non-overlapping and non-adjacent, each first <= last < SIZE, together at
 *     most SIZE bytes; the answer (and the ranges) must equal those of a
 *     reference model written here: split on ',', each element "a-b", "a-" or
 *     "-n" with optional whitespace around, numbers up to 4611686018427387909,
 *     at most RANGE_MAX_SPECS specs, resolved against SIZE and merged;
 *   - http_date_parse(VALUE): never crashes; a valid date is in 1970..9999,
 *     and http_date_format() of it is 29 bytes that parse back to the same time;
 *   - etag_list_match(VALUE) (If-Match / If-None-Match lists): never crashes,
 *     a strong match is always a weak match too.
 *
 * Run: ./fuzz_range -max_total_time=60 tests/fuzz/corpus/range
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/cond.h"
#include "http/date.h"
#include "http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NUM_MAX UINT64_C(4611686018427387909) /* the largest number range.c reads */

static void require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_range: %s\n", what);
		abort();
	}
}

static int ows(char c)
{
	return c == ' ' || c == '\t';
}

/* 1*DIGIT covering all of s[0..n), at most NUM_MAX; -1 otherwise. */
static int ref_num(const char *s, size_t n, uint64_t *v)
{
	if (n == 0)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (NUM_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static int ref_range(const char *v, size_t len, uint64_t size, struct byte_range *out, unsigned *nout)
{
	struct byte_range got[RANGE_MAX_SPECS];
	unsigned ngot = 0, specs = 0;
	if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
		return RANGE_NONE;
	size_t i = 6;
	while (i <= len) {
		size_t e = i;
		while (e < len && v[e] != ',')
			e++;
		size_t s = i, t = e;
		i = e + 1;
		while (s < t && ows(v[s]))
			s++;
		while (t > s && ows(v[t - 1]))
			t--;
		if (s == t)
			continue; /* empty element */
		const char *dash = memchr(v + s, '-', t - s);
		if (!dash)
			return RANGE_NONE;
		size_t d = (size_t)(dash - v);
		uint64_t a = 0, b = 0;
		int has_a = d > s, has_b = t > d + 1;
		if (has_a && ref_num(v + s, d - s, &a) < 0)
			return RANGE_NONE;
		if (has_b && ref_num(v + d + 1, t - d - 1, &b) < 0)
			return RANGE_NONE;
		if (!has_a && !has_b)
			return RANGE_NONE;
		if (has_a && has_b && b < a)
			return RANGE_NONE;
		if (++specs > RANGE_MAX_SPECS)
			return RANGE_NONE;
		if (!has_a) { /* suffix */
			if (b == 0 || size == 0)
				continue;
			got[ngot].first = b >= size ? 0 : size - b;
			got[ngot].last = size - 1;
		} else {
			if (a >= size)
				continue;
			got[ngot].first = a;
			got[ngot].last = has_b && b < size ? b : size - 1;
		}
		ngot++;
	}
	if (specs == 0)
		return RANGE_NONE;
	if (ngot == 0)
		return RANGE_UNSATISFIABLE;
	/* insertion sort, then merge overlapping or touching ranges */
	for (unsigned k = 1; k < ngot; k++)
		for (unsigned j = k; j > 0 && got[j - 1].first > got[j].first; j--) {
			struct byte_range tmp = got[j];
			got[j] = got[j - 1];
			got[j - 1] = tmp;
		}
	unsigned m = 0;
	struct byte_range merged[RANGE_MAX_SPECS];
	for (unsigned k = 0; k < ngot; k++) {
		/* last < size <= UINT64_MAX, so last + 1 does not wrap */
		if (m > 0 && got[k].first <= merged[m - 1].last + 1) {
			if (got[k].last > merged[m - 1].last)
				merged[m - 1].last = got[k].last;
		} else {
			merged[m++] = got[k];
		}
	}
	if (m > RANGE_MAX)
		return RANGE_NONE;
	memcpy(out, merged, m * sizeof merged[0]);
	*nout = m;
	return RANGE_OK;
}

static void fuzz_range(const char *v, size_t len, uint64_t size)
{
	struct byte_range out[RANGE_MAX + 1], ref[RANGE_MAX_SPECS];
	unsigned n = 12345, rn = 0;
	memset(out, 0xA5, sizeof out);
	int r = range_parse(v, len, size, out, &n);
	require(r == RANGE_OK || r == RANGE_NONE || r == RANGE_UNSATISFIABLE, "unexpected answer");
	/* out[RANGE_MAX] is a canary */
	const unsigned char *c = (const unsigned char *)&out[RANGE_MAX];
	for (size_t i = 0; i < sizeof out[0]; i++)
		require(c[i] == 0xA5, "wrote past RANGE_MAX ranges");
	int rr = ref_range(v, len, size, ref, &rn);
	require(r == rr, "answer differs from the reference");
	if (r != RANGE_OK)
		return;
	require(n >= 1 && n <= RANGE_MAX, "range count");
	require(rn == n && memcmp(out, ref, n * sizeof out[0]) == 0, "ranges differ from the reference");
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		require(out[i].first <= out[i].last && out[i].last < size, "range outside the size");
		if (i > 0)
			require(out[i].first > out[i - 1].last + 1, "ranges overlap, touch or are unsorted");
		total += out[i].last - out[i].first + 1;
		require(total <= size, "more bytes than the size");
	}
}

static void fuzz_date(const char *s, size_t len)
{
	time_t t = http_date_parse(s, len);
	if (t == -1)
		return;
	require(t >= 0, "negative time");
	/* 10000-01-01T00:00:00Z */
	require((long long)t < 253402300800LL, "after year 9999");
	char out[HTTP_DATE_LEN + 2];
	memset(out, 'X', sizeof out);
	http_date_format(t, out);
	require(out[HTTP_DATE_LEN] == '\0' && out[HTTP_DATE_LEN + 1] == 'X' && strlen(out) == HTTP_DATE_LEN,
	        "format is not 29 bytes");
	require(http_date_parse(out, HTTP_DATE_LEN) == t, "format does not parse back");
	/* an IMF-fixdate with a real date comes back the same but for the weekday */
	if (len == HTTP_DATE_LEN && s[3] == ',' && memcmp(s + 23, "60", 2) != 0 &&
	    memcmp(s + 5, "29 Feb", 6) != 0)
		require(memcmp(out + 4, s + 4, HTTP_DATE_LEN - 4) == 0, "IMF-fixdate does not format back");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rsize = 1000;
	size_t at = 0;
	const uint8_t *nl = memchr(data, '\n', size);
	if (nl) {
		rsize = 0;
		for (const uint8_t *p = data; p < nl; p++) {
			if (*p < '0' || *p > '9')
				continue;
			unsigned d = (unsigned)(*p - '0');
			rsize = rsize > (UINT64_MAX - d) / 10 ? UINT64_MAX : rsize * 10 + d;
		}
		at = (size_t)(nl - data) + 1;
	}
	size_t len = size - at;
	char *v = malloc(len ? len : 1);
	require(v != NULL, "malloc");
	memcpy(v, data + at, len);
	fuzz_range(v, len, rsize);
	fuzz_date(v, len);
	/* the conditional headers' entity-tag lists: a strong match is always a
	 * weak one too */
	static const char *const tags[] = {"\"abc\"", "\"\"", "\"6b09.0-13\""};
	for (size_t i = 0; i < 3; i++) {
		int strong = etag_list_match(v, len, tags[i], 0);
		int weak = etag_list_match(v, len, tags[i], 1);
		require(!strong || weak, "a strong entity-tag match that is not a weak one");
	}
	free(v);
	return 0;
}
