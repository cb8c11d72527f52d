/* check.h: a tiny assertion harness for hearth's unit tests.
 *
 * Every CHECK* macro is an expression that yields 1 when the check passed and
 * 0 when it failed, so a test can stop early: `if (!CHECK(p)) return;`. A
 * failure prints file:line, the expressions, BOTH operands (bytes outside
 * printable ASCII escaped as \xNN) and the current context (check_context()),
 * which table-driven tests set to the case's name. Checks never abort: the
 * process runs to the end and check_done() reports "N passed, N failed" and
 * returns the exit status (1 when anything failed).
 *
 * Header-only: each test is one translation unit with its own main().
 */
#ifndef HEARTH_TEST_CHECK_H
#define HEARTH_TEST_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned long check_passed_;
static unsigned long check_failed_;
static char check_ctx_[256];

/* Label printed with every failure until changed; NULL or "" clears it. */
__attribute__((format(printf, 1, 2), unused)) static void check_context(const char *fmt, ...)
{
	if (!fmt || !*fmt) {
		check_ctx_[0] = '\0';
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(check_ctx_, sizeof check_ctx_, fmt, ap);
	va_end(ap);
}

/* Prints n bytes of p quoted and escaped (at most 240 bytes, then "..."). */
static inline void check_print_mem_(const void *pv, size_t n)
{
	const unsigned char *p = pv;
	if (!p) {
		fputs("(null)", stderr);
		return;
	}
	size_t shown = n > 240 ? 240 : n;
	fputc('"', stderr);
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = p[i];
		if (c == '\\')
			fputs("\\\\", stderr);
		else if (c == '"')
			fputs("\\\"", stderr);
		else if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('"', stderr);
	if (shown < n)
		fprintf(stderr, "... (%zu bytes)", n);
}

static inline void check_fail_head_(const char *file, int line)
{
	check_failed_++;
	fprintf(stderr, "%s:%d: FAIL", file, line);
	if (check_ctx_[0])
		fprintf(stderr, " [%s]", check_ctx_);
	fputs(": ", stderr);
}

static inline int check_bool_(const char *file, int line, const char *expr, int ok)
{
	if (ok) {
		check_passed_++;
		return 1;
	}
	check_fail_head_(file, line);
	fprintf(stderr, "CHECK(%s)\n", expr);
	return 0;
}

static inline int check_int_(const char *file, int line, const char *ea, const char *eb, long long a,
                             long long b)
{
	if (a == b) {
		check_passed_++;
		return 1;
	}
	check_fail_head_(file, line);
	fprintf(stderr, "%s == %s\n    left:  %lld\n    right: %lld\n", ea, eb, a, b);
	return 0;
}

static inline int check_u64_(const char *file, int line, const char *ea, const char *eb, uint64_t a,
                             uint64_t b)
{
	if (a == b) {
		check_passed_++;
		return 1;
	}
	check_fail_head_(file, line);
	fprintf(stderr, "%s == %s\n    left:  %llu (0x%llx)\n    right: %llu (0x%llx)\n", ea, eb,
	        (unsigned long long)a, (unsigned long long)a, (unsigned long long)b, (unsigned long long)b);
	return 0;
}

static inline int check_mem_(const char *file, int line, const char *ea, const char *eb, const void *a,
                             size_t alen, const void *b, size_t blen)
{
	int same = alen == blen && (alen == 0 || (a && b && memcmp(a, b, alen) == 0));
	if (same) {
		check_passed_++;
		return 1;
	}
	check_fail_head_(file, line);
	fprintf(stderr, "%s == %s\n    left:  ", ea, eb);
	check_print_mem_(a, alen);
	fprintf(stderr, " (len %zu)\n    right: ", alen);
	check_print_mem_(b, blen);
	fprintf(stderr, " (len %zu)\n", blen);
	return 0;
}

static inline int check_str_(const char *file, int line, const char *ea, const char *eb, const char *a,
                             const char *b)
{
	if (a && b && strcmp(a, b) == 0) {
		check_passed_++;
		return 1;
	}
	if (!a && !b) {
		check_passed_++;
		return 1;
	}
	check_fail_head_(file, line);
	fprintf(stderr, "%s == %s\n    left:  ", ea, eb);
	check_print_mem_(a, a ? strlen(a) : 0);
	fputs("\n    right: ", stderr);
	check_print_mem_(b, b ? strlen(b) : 0);
	fputc('\n', stderr);
	return 0;
}

/* Record a failure with a free-form message (for loops and oracles). */
__attribute__((format(printf, 3, 4), unused)) static int check_fail_(const char *file, int line,
                                                                     const char *fmt, ...)
{
	check_fail_head_(file, line);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 0;
}

#define CHECK(cond) check_bool_(__FILE__, __LINE__, #cond, !!(cond))
#define CHECK_EQ_INT(a, b) check_int_(__FILE__, __LINE__, #a, #b, (long long)(a), (long long)(b))
#define CHECK_EQ_U64(a, b) check_u64_(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))
#define CHECK_EQ_STR(a, b) check_str_(__FILE__, __LINE__, #a, #b, (a), (b))
/* Byte strings with explicit lengths (may hold NUL). */
#define CHECK_EQ_MEM(a, alen, b, blen)                                                                       \
	check_mem_(__FILE__, __LINE__, #a, #b, (a), (size_t)(alen), (b), (size_t)(blen))
/* A struct span (or anything with .p and .len) against a NUL-terminated string. */
#define CHECK_SPAN(s, want)                                                                                  \
	check_mem_(__FILE__, __LINE__, #s, #want, (s).p, (size_t)(s).len, (want), strlen(want))
/* A struct span against bytes with an explicit length. */
#define CHECK_SPAN_MEM(s, want, wlen)                                                                        \
	check_mem_(__FILE__, __LINE__, #s, #want, (s).p, (size_t)(s).len, (want), (size_t)(wlen))
#define CHECK_FAIL(...) check_fail_(__FILE__, __LINE__, __VA_ARGS__)

/* Prints the totals; returns the process exit status. */
static inline int check_done(void)
{
	printf("%lu passed, %lu failed\n", check_passed_, check_failed_);
	fflush(stdout);
	return check_failed_ ? 1 : 0;
}

/* Small deterministic PRNG (xorshift64*) so random loops are reproducible. */
static inline uint64_t check_rand_(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform-ish integer in [0, n). */
static inline uint64_t check_rand_below(uint64_t *s, uint64_t n)
{
	return n ? check_rand_(s) % n : 0;
}

#endif
