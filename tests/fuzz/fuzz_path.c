/* fuzz_path.c: libFuzzer target for request path decoding and normalization
 * (path_normalize, path_has_dotfile, path_encode in src/http/target.c).
 *
 * The input is the raw path (as it appears in a request target, without the
 * query). Oracles:
 *   - path_normalize agrees with a simple reference model written here (decode
 *     %XX once, refuse %00, %2F and NUL, split on '/', drop empty and "."
 *     segments, ".." pops and may not climb above the root, keep a trailing '/'
 *     when the input names a directory): same verdict, same output;
 *   - on PATH_OK the output starts with '/', is NUL-terminated at *outlen and
 *     has no NUL before it, never contains "//" nor a "." or ".." segment, and
 *     normalizing it again gives the same bytes (when it holds no '%', which
 *     would be decoded a second time);
 *   - with a small capacity (taken from the first input byte) the answer is the
 *     same or PATH_E_TOOLONG, and nothing is written past cap (canary bytes);
 *   - path_has_dotfile agrees with a per-segment reference (".well-known" as the
 *     first segment exempt) on the normalized path;
 *   - path_encode: the output uses only unreserved, "/:@!$()*+,;=" and %XX,
 *     decodes back to the input, and into a smaller buffer it gives 0 or the
 *     same result without writing past cap.
 *
 * Run: ./fuzz_path -max_total_time=60 tests/fuzz/corpus/path
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/target.h"

#define CANARY 0xA5
#define PAD 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_path: %s\n", what);
		abort();
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The reference model: returns PATH_OK with out/outlen (out has room for
 * 2 * len + 2 bytes), PATH_E_BAD or PATH_E_FORBIDDEN. *declen is the decoded
 * length when decoding succeeded. */
static int ref_normalize(const uint8_t *raw, size_t len, char *out, size_t *outlen, size_t *declen)
{
	if (len == 0 || raw[0] != '/')
		return PATH_E_BAD;
	char *dec = malloc(len);
	require(dec != NULL, "malloc");
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = raw[i];
		if (c == '%') {
			if (i + 2 >= len || hexval(raw[i + 1]) < 0 || hexval(raw[i + 2]) < 0) {
				free(dec);
				return PATH_E_BAD;
			}
			c = (unsigned char)(hexval(raw[i + 1]) * 16 + hexval(raw[i + 2]));
			if (c == '/' || c == 0) {
				free(dec);
				return PATH_E_FORBIDDEN;
			}
			i += 2;
		} else if (c == 0) {
			free(dec);
			return PATH_E_FORBIDDEN;
		}
		dec[n++] = (char)c;
	}
	*declen = n;

	/* segments as (start, length) pairs on a stack */
	size_t *seg = malloc(sizeof *seg * 2 * (n + 1));
	require(seg != NULL, "malloc");
	size_t depth = 0;
	int dir = 0;
	for (size_t i = 0; i < n;) {
		while (i < n && dec[i] == '/')
			i++;
		if (i == n) {
			dir = 1;
			break;
		}
		size_t s = i;
		while (i < n && dec[i] != '/')
			i++;
		size_t sl = i - s;
		if (sl == 1 && dec[s] == '.') {
			dir = 1;
		} else if (sl == 2 && dec[s] == '.' && dec[s + 1] == '.') {
			if (depth == 0) {
				free(seg);
				free(dec);
				return PATH_E_BAD;
			}
			depth--;
			dir = 1;
		} else {
			seg[2 * depth] = s;
			seg[2 * depth + 1] = sl;
			depth++;
			dir = 0;
		}
	}
	size_t o = 0;
	out[o++] = '/';
	for (size_t d = 0; d < depth; d++) {
		memcpy(out + o, dec + seg[2 * d], seg[2 * d + 1]);
		o += seg[2 * d + 1];
		if (d + 1 < depth || dir)
			out[o++] = '/';
	}
	out[o] = '\0';
	*outlen = o;
	free(seg);
	free(dec);
	return PATH_OK;
}

static void check_normalized(const char *p, size_t n)
{
	require(n >= 1 && p[0] == '/', "does not start with '/'");
	require(p[n] == '\0' && memchr(p, '\0', n) == NULL, "NUL inside or not terminated");
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '/')
			continue;
		require(i + 1 >= n || p[i + 1] != '/', "contains //");
		size_t e = i + 1;
		while (e < n && p[e] != '/')
			e++;
		size_t sl = e - i - 1;
		require(!(sl == 1 && p[i + 1] == '.'), "contains a . segment");
		require(!(sl == 2 && p[i + 1] == '.' && p[i + 2] == '.'), "contains a .. segment");
	}
}

static int ref_dotfile(const char *p, size_t n)
{
	size_t seg = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '/' || i + 1 >= n)
			continue;
		size_t e = i + 1;
		while (e < n && p[e] != '/')
			e++;
		int well_known = seg == 0 && i == 0 && e - i - 1 == 11 && memcmp(p + 1, ".well-known", 11) == 0;
		if (p[i + 1] == '.' && !well_known)
			return 1;
		seg++;
	}
	return 0;
}

static int encode_keeps(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~/:@!$()*+,;=", c));
}

static void fuzz_encode(const char *in, size_t n, size_t small)
{
	size_t cap = 3 * n + 1;
	char *out = malloc(cap + PAD);
	require(out != NULL, "malloc");
	memset(out, CANARY, cap + PAD);
	size_t m = path_encode(in, n, out, cap);
	require(m > 0 || n == 0, "encode failed with room enough");
	require(m < cap && out[m] == '\0', "encode: not terminated");
	for (size_t i = cap; i < cap + PAD; i++)
		require((unsigned char)out[i] == CANARY, "encode wrote past cap");
	/* decode back, checking the alphabet */
	size_t k = 0;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c == '%') {
			require(i + 2 < m, "encode: truncated escape");
			int hi = hexval((unsigned char)out[i + 1]), lo = hexval((unsigned char)out[i + 2]);
			require(hi >= 0 && lo >= 0, "encode: bad escape");
			unsigned char d = (unsigned char)(hi * 16 + lo);
			require(!encode_keeps(d), "encode: escaped a byte it keeps");
			require(k < n && (unsigned char)in[k] == d, "encode: does not decode back");
			k++;
			i += 2;
		} else {
			require(encode_keeps(c), "encode: kept a byte it must escape");
			require(c != '&' && c != '\'' && c != '"' && c != '<' && c != '>', "encode: HTML-unsafe byte");
			require(k < n && in[k] == (char)c, "encode: does not decode back");
			k++;
		}
	}
	require(k == n, "encode: lost bytes");

	/* into a smaller buffer: 0 or the same, never past cap */
	if (small < cap) {
		char *s = malloc(small + PAD);
		require(s != NULL, "malloc");
		memset(s, CANARY, small + PAD);
		size_t sm = path_encode(in, n, s, small);
		require(sm == 0 || (sm == m && memcmp(s, out, m + 1) == 0), "encode: short buffer differs");
		require(sm != 0 || m + 1 > small, "encode: refused though it fits");
		for (size_t i = small; i < small + PAD; i++)
			require((unsigned char)s[i] == CANARY, "encode wrote past a small cap");
		free(s);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t small = size ? data[0] : 0; /* a small capacity for the second runs */
	/* an exact-size copy: a read past the end is caught */
	char *raw = malloc(size ? size : 1);
	require(raw != NULL, "malloc");
	memcpy(raw, data, size);

	size_t cap = size + 2;
	char *out = malloc(cap + PAD);
	char *ref = malloc(2 * size + 2);
	require(out && ref, "malloc");
	memset(out, CANARY, cap + PAD);
	size_t outlen = (size_t)-1, reflen = 0, declen = 0;
	int r = path_normalize(raw, size, out, cap, &outlen);
	int rr = ref_normalize(data, size, ref, &reflen, &declen);
	for (size_t i = cap; i < cap + PAD; i++)
		require((unsigned char)out[i] == CANARY, "normalize wrote past cap");
	require(r == rr, "verdict differs from the reference");
	if (r == PATH_OK) {
		require(outlen < cap, "outlen >= cap");
		require(outlen == reflen && memcmp(out, ref, outlen) == 0, "output differs from the reference");
		check_normalized(out, outlen);

		/* idempotent */
		if (!memchr(out, '%', outlen)) {
			char *again = malloc(outlen + 2);
			size_t alen = (size_t)-1;
			require(again != NULL, "malloc");
			require(path_normalize(out, outlen, again, outlen + 2, &alen) == PATH_OK,
			        "normalized path refused the second time");
			require(alen == outlen && memcmp(again, out, outlen + 1) == 0, "not idempotent");
			free(again);
		}

		require(path_has_dotfile(out, outlen) == ref_dotfile(out, outlen),
		        "path_has_dotfile differs from the reference");
		fuzz_encode(out, outlen, small);
	} else {
		require(r == PATH_E_BAD || r == PATH_E_FORBIDDEN, "unexpected error");
	}
	(void)path_has_dotfile(raw, size); /* any bytes: no crash */
	fuzz_encode(raw, size, small);

	/* a small capacity: the same answer, or too long; never past cap */
	char *sm = malloc(small + PAD);
	require(sm != NULL, "malloc");
	memset(sm, CANARY, small + PAD);
	size_t slen = (size_t)-1;
	int rs = path_normalize(raw, size, sm, small, &slen);
	for (size_t i = small; i < small + PAD; i++)
		require((unsigned char)sm[i] == CANARY, "normalize wrote past a small cap");
	require(rs == r || rs == PATH_E_TOOLONG, "small cap: a different error");
	if (rs == PATH_OK)
		require(slen == outlen && memcmp(sm, out, outlen + 1) == 0, "small cap: a different path");
	if (r == PATH_OK && declen + 1 < small)
		require(rs == PATH_OK, "small cap: too long though the decoded path fits");
	free(sm);

	free(ref);
	free(out);
	free(raw);
	return 0;
}
