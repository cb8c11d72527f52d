/* test_range.c: Range header parsing (src/http/range.h).
 *
 * Fixed cases, then a random loop checked against a reference model written
 * from the contract: unsatisfiable specs are dropped, the rest clipped, sorted
 * and merged when they overlap or touch; more than RANGE_MAX_SPECS specs or
 * more than RANGE_MAX parts after merging is refused. The output array is
 * exactly RANGE_MAX entries followed by canaries, so writing past it shows.
 */
#include "check.h"
#include "http/range.h"

#include <stdbool.h>
#include <stdlib.h>

#define CANARY 4
#define CANARY_VAL 0xdeadbeefcafef00dull

struct outbuf {
	struct byte_range r[RANGE_MAX + CANARY];
};

static int parse(const char *s, size_t len, uint64_t size, struct outbuf *o, unsigned *n)
{
	char *raw = malloc(len ? len : 1);
	if (!raw)
		abort();
	if (len)
		memcpy(raw, s, len);
	for (size_t i = 0; i < RANGE_MAX + CANARY; i++)
		o->r[i].first = o->r[i].last = CANARY_VAL;
	*n = 12345;
	int r = range_parse(raw, len, size, o->r, n);
	for (size_t i = RANGE_MAX; i < RANGE_MAX + CANARY; i++)
		if (o->r[i].first != CANARY_VAL || o->r[i].last != CANARY_VAL) {
			CHECK_FAIL("range_parse wrote past out[RANGE_MAX - 1] (index %zu)", i);
			break;
		}
	free(raw);
	return r;
}

/* Result OK with exactly the ranges in want[0..wn). */
static void expect_ok(const char *s, uint64_t size, const uint64_t (*want)[2], unsigned wn)
{
	struct outbuf o;
	unsigned n;
	check_context("range_parse(\"%s\", %llu)", s, (unsigned long long)size);
	int r = parse(s, strlen(s), size, &o, &n);
	if (CHECK_EQ_INT(r, RANGE_OK) && CHECK_EQ_INT(n, wn)) {
		for (unsigned i = 0; i < wn; i++) {
			CHECK_EQ_U64(o.r[i].first, want[i][0]);
			CHECK_EQ_U64(o.r[i].last, want[i][1]);
		}
	}
	check_context(NULL);
}

static void expect(const char *s, uint64_t size, int want)
{
	struct outbuf o;
	unsigned n;
	check_context("range_parse(\"%s\", %llu)", s, (unsigned long long)size);
	CHECK_EQ_INT(parse(s, strlen(s), size, &o, &n), want);
	check_context(NULL);
}

#define R1(a, b) ((const uint64_t[][2]){{a, b}}), 1

static void test_fixed(void)
{
	expect_ok("bytes=0-99", 1000, R1(0, 99));
	expect_ok("bytes=0-0", 1000, R1(0, 0));
	expect_ok("bytes=-100", 1000, R1(900, 999));
	expect_ok("bytes=900-", 1000, R1(900, 999));
	expect_ok("bytes=999-", 1000, R1(999, 999));
	expect_ok("bytes=0-2000", 1000, R1(0, 999));
	expect_ok("bytes=-2000", 1000, R1(0, 999));
	expect_ok("bytes=0-99999999999999999", 1000, R1(0, 999));
	expect_ok("bytes=-99999999999999999", 1000, R1(0, 999));
	expect_ok("bytes=0-", 1, R1(0, 0));
	expect_ok("bytes=-1", 1, R1(0, 0));
	expect_ok("bytes=5000000000-", 6000000000ull, R1(5000000000ull, 5999999999ull));

	expect("bytes=1000-", 1000, RANGE_UNSATISFIABLE);
	expect("bytes=1000-2000", 1000, RANGE_UNSATISFIABLE);
	expect("bytes=-0", 1000, RANGE_UNSATISFIABLE);
	expect("bytes=0-", 0, RANGE_UNSATISFIABLE);
	expect("bytes=-5", 0, RANGE_UNSATISFIABLE);
	expect("bytes=2000-3000,5000-", 1000, RANGE_UNSATISFIABLE);

	/* an unsatisfiable spec among satisfiable ones is dropped */
	expect_ok("bytes=0-9,2000-3000", 1000, R1(0, 9));
	expect_ok("bytes=-0,5-6", 1000, R1(5, 6));

	expect_ok("bytes=0-9,20-29", 1000, ((const uint64_t[][2]){{0, 9}, {20, 29}}), 2);
	expect_ok("bytes=0-1,3-4", 1000, ((const uint64_t[][2]){{0, 1}, {3, 4}}), 2);
	expect_ok("bytes=0-50,40-100", 1000, R1(0, 100));
	expect_ok("bytes=40-100,0-50", 1000, R1(0, 100));
	expect_ok("bytes=0-9,10-19", 1000, R1(0, 19));
	expect_ok("bytes=0-1,2-3", 1000, R1(0, 3));
	expect_ok("bytes=0-99,10-20", 1000, R1(0, 99));
	expect_ok("bytes=0-0,0-0,0-0", 1000, R1(0, 0));
	expect_ok("bytes=20-29,0-9", 1000, ((const uint64_t[][2]){{0, 9}, {20, 29}}), 2);
	expect_ok("bytes=500-599,-100,0-9", 1000, ((const uint64_t[][2]){{0, 9}, {500, 599}, {900, 999}}), 3);
	expect_ok("bytes=-500,0-", 1000, R1(0, 999));
	expect_ok("bytes=950-,-100", 1000, R1(900, 999));

	/* OWS around commas */
	expect_ok("bytes= 0-1 , 3-4", 1000, ((const uint64_t[][2]){{0, 1}, {3, 4}}), 2);
	expect_ok("bytes=0-1 ,3-4", 1000, ((const uint64_t[][2]){{0, 1}, {3, 4}}), 2);
	expect_ok("bytes=0-1,\t3-4", 1000, ((const uint64_t[][2]){{0, 1}, {3, 4}}), 2);

	/* malformed: ignored */
	expect("bytes=abc", 1000, RANGE_NONE);
	expect("items=0-1", 1000, RANGE_NONE);
	expect("bytes=5-1", 1000, RANGE_NONE);
	expect("bytes=0-1,5-1", 1000, RANGE_NONE);
	expect("bytes=", 1000, RANGE_NONE);
	expect("bytes", 1000, RANGE_NONE);
	expect("", 1000, RANGE_NONE);
	expect("bytes=-", 1000, RANGE_NONE);
	expect("bytes=1-2-3", 1000, RANGE_NONE);
	expect("bytes=0-1x", 1000, RANGE_NONE);
	expect("bytes=x0-1", 1000, RANGE_NONE);
	expect("bytes=+1-2", 1000, RANGE_NONE);
	expect("bytes=0x1-2", 1000, RANGE_NONE);
	expect("bytes 0-1", 1000, RANGE_NONE);
	expect("bytes:0-1", 1000, RANGE_NONE);
	expect("bytes=0-1;2-3", 1000, RANGE_NONE);
	expect("bytes=99999999999999999999-", 1000, RANGE_NONE);
	expect("bytes=0-99999999999999999999", 1000, RANGE_NONE);
	expect("bytes=-99999999999999999999", 1000, RANGE_NONE);
	expect("bytes=18446744073709551616-", 1000, RANGE_NONE);
	expect("bytes=0-18446744073709551616", 1000, RANGE_NONE);

	/* len is honoured */
	{
		struct outbuf o;
		unsigned n;
		check_context("range_parse len");
		int r = parse("bytes=0-9,20-29", 10, 1000, &o, &n);
		if (CHECK_EQ_INT(r, RANGE_OK) && CHECK_EQ_INT(n, 1)) {
			CHECK_EQ_U64(o.r[0].first, 0);
			CHECK_EQ_U64(o.r[0].last, 9);
		}
		check_context(NULL);
	}
}

static void test_counts(void)
{
	struct outbuf o;
	unsigned n;
	char buf[8192];
	size_t len;

	/* RANGE_MAX disjoint parts are fine; one more is refused */
	for (unsigned parts = RANGE_MAX; parts <= RANGE_MAX + 1; parts++) {
		len = (size_t)snprintf(buf, sizeof buf, "bytes=");
		for (unsigned i = 0; i < parts; i++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%u-%u", i ? "," : "", i * 10,
			                        i * 10 + 4);
		check_context("%u disjoint ranges", parts);
		int r = parse(buf, len, 100000, &o, &n);
		if (parts == RANGE_MAX) {
			if (CHECK_EQ_INT(r, RANGE_OK) && CHECK_EQ_INT(n, RANGE_MAX)) {
				CHECK_EQ_U64(o.r[RANGE_MAX - 1].first, (RANGE_MAX - 1) * 10);
				CHECK_EQ_U64(o.r[RANGE_MAX - 1].last, (RANGE_MAX - 1) * 10 + 4);
			}
		} else
			CHECK_EQ_INT(r, RANGE_NONE);
	}

	/* many specs that merge into few parts are fine up to RANGE_MAX_SPECS */
	for (unsigned specs = RANGE_MAX_SPECS; specs <= RANGE_MAX_SPECS + 1; specs++) {
		len = (size_t)snprintf(buf, sizeof buf, "bytes=");
		for (unsigned i = 0; i < specs; i++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s0-0", i ? "," : "");
		check_context("%u specs of 0-0", specs);
		int r = parse(buf, len, 1000, &o, &n);
		if (specs == RANGE_MAX_SPECS) {
			if (CHECK_EQ_INT(r, RANGE_OK) && CHECK_EQ_INT(n, 1))
				CHECK_EQ_U64(o.r[0].last, 0);
		} else
			CHECK_EQ_INT(r, RANGE_NONE);
	}

	/* many specs, all overlapping: one part (no amplification) */
	len = (size_t)snprintf(buf, sizeof buf, "bytes=");
	for (unsigned i = 0; i < 50; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s0-", i ? "," : "");
	check_context("50 whole-file ranges");
	if (CHECK_EQ_INT(parse(buf, len, 1000, &o, &n), RANGE_OK) && CHECK_EQ_INT(n, 1)) {
		CHECK_EQ_U64(o.r[0].first, 0);
		CHECK_EQ_U64(o.r[0].last, 999);
	}

	/* 30 disjoint specs that merge into one through a covering range */
	len = (size_t)snprintf(buf, sizeof buf, "bytes=");
	for (unsigned i = 0; i < 30; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%u-%u,", i * 10, i * 10 + 1);
	len += (size_t)snprintf(buf + len, sizeof buf - len, "0-999");
	check_context("30 disjoint plus a covering range");
	if (CHECK_EQ_INT(parse(buf, len, 1000, &o, &n), RANGE_OK) && CHECK_EQ_INT(n, 1))
		CHECK_EQ_U64(o.r[0].last, 999);
	check_context(NULL);
}

/* ---- random loop against a reference ------------------------------------ */

struct spec {
	int kind; /* 0: a-b, 1: a-, 2: -s */
	uint64_t a, b;
};

static int cmp_range(const void *x, const void *y)
{
	const struct byte_range *p = x, *q = y;
	return p->first < q->first ? -1 : p->first > q->first;
}

static int ref_ranges(const struct spec *sp, unsigned nspec, uint64_t size, struct byte_range *out,
                      unsigned *n)
{
	if (nspec > RANGE_MAX_SPECS)
		return RANGE_NONE;
	struct byte_range tmp[RANGE_MAX_SPECS + 1];
	unsigned k = 0;
	for (unsigned i = 0; i < nspec; i++) {
		const struct spec *s = &sp[i];
		if (s->kind == 0 && s->a > s->b)
			return RANGE_NONE;
	}
	for (unsigned i = 0; i < nspec; i++) {
		const struct spec *s = &sp[i];
		if (s->kind == 2) {
			if (s->a == 0 || size == 0)
				continue;
			tmp[k].first = size - (s->a < size ? s->a : size);
			tmp[k].last = size - 1;
		} else {
			if (s->a >= size)
				continue;
			tmp[k].first = s->a;
			tmp[k].last = s->kind == 1 || s->b >= size ? size - 1 : s->b;
		}
		k++;
	}
	if (k == 0)
		return RANGE_UNSATISFIABLE;
	qsort(tmp, k, sizeof tmp[0], cmp_range);
	unsigned m = 0;
	for (unsigned i = 0; i < k; i++) {
		if (m && tmp[i].first <= out[m - 1].last + 1) {
			if (tmp[i].last > out[m - 1].last)
				out[m - 1].last = tmp[i].last;
		} else {
			if (m == RANGE_MAX)
				return RANGE_NONE;
			out[m++] = tmp[i];
		}
	}
	*n = m;
	return RANGE_OK;
}

static uint64_t rand_pos(uint64_t *seed, uint64_t size)
{
	switch (check_rand_below(seed, 4)) {
	case 0: return check_rand_below(seed, 4);
	case 1: return size + check_rand_below(seed, 3) - (size ? 1 : 0);
	default: return check_rand_below(seed, size + size / 4 + 2);
	}
}

static void test_random(void)
{
	static const uint64_t sizes[] = {0, 1, 2, 10, 100, 1000, 65536, 1ull << 40};
	uint64_t seed = 99;
	unsigned bad = 0;
	char buf[8192];
	struct spec sp[RANGE_MAX_SPECS + 8];
	check_context("range random");
	for (int iter = 0; iter < 100000 && bad < 10; iter++) {
		uint64_t size = sizes[check_rand_below(&seed, sizeof sizes / sizeof sizes[0])];
		unsigned nspec = 1 + (unsigned)check_rand_below(
		                         &seed, check_rand_below(&seed, 20) == 0 ? RANGE_MAX_SPECS + 5 : 24);
		size_t len = (size_t)snprintf(buf, sizeof buf, "bytes=");
		for (unsigned i = 0; i < nspec; i++) {
			struct spec *s = &sp[i];
			s->kind = (int)check_rand_below(&seed, 3);
			s->a = rand_pos(&seed, size);
			s->b = rand_pos(&seed, size);
			if (s->kind == 0 && s->a > s->b && check_rand_below(&seed, 8) != 0) {
				uint64_t t = s->a;
				s->a = s->b;
				s->b = t;
			}
			const char *ows = check_rand_below(&seed, 6) == 0 ? " " : "";
			if (i)
				len += (size_t)snprintf(buf + len, sizeof buf - len, "%s,%s", ows, ows);
			if (s->kind == 0)
				len += (size_t)snprintf(buf + len, sizeof buf - len, "%llu-%llu",
				                        (unsigned long long)s->a, (unsigned long long)s->b);
			else if (s->kind == 1)
				len += (size_t)snprintf(buf + len, sizeof buf - len, "%llu-",
				                        (unsigned long long)s->a);
			else
				len += (size_t)snprintf(buf + len, sizeof buf - len, "-%llu",
				                        (unsigned long long)s->a);
		}
		struct outbuf o;
		struct byte_range want[RANGE_MAX];
		unsigned n = 0, wn = 0;
		int r = parse(buf, len, size, &o, &n);
		int w = ref_ranges(sp, nspec, size, want, &wn);
		const char *why = NULL;
		if (r == RANGE_OK) {
			uint64_t total = 0;
			if (n < 1 || n > RANGE_MAX)
				why = "count out of bounds";
			for (unsigned i = 0; !why && i < n; i++) {
				if (o.r[i].first > o.r[i].last || o.r[i].last >= size)
					why = "range outside the file";
				else if (i && o.r[i].first <= o.r[i - 1].last + 1)
					why = "not sorted, or overlapping / adjacent";
				else
					total += o.r[i].last - o.r[i].first + 1;
			}
			if (!why && total > size)
				why = "more bytes than the file";
		}
		if (!why && r != w)
			why = "verdict differs from the reference";
		if (!why && r == RANGE_OK) {
			if (n != wn)
				why = "part count differs from the reference";
			for (unsigned i = 0; !why && i < n; i++)
				if (o.r[i].first != want[i].first || o.r[i].last != want[i].last)
					why = "parts differ from the reference";
		}
		if (why) {
			bad++;
			CHECK_FAIL("%s: size %llu, got %d (n=%u), reference %d (n=%u)\n    header: %.300s",
			           why, (unsigned long long)size, r, n, w, wn, buf);
		}
	}
	if (!bad)
		check_passed_++;
	check_context(NULL);
}

int main(void)
{
	test_fixed();
	test_counts();
	test_random();
	return check_done();
}
