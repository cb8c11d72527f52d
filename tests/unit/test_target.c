/* test_target.c: path decoding and normalization (src/http/target.h).
 *
 * A table of fixed cases, then an oracle: random paths over a small alphabet
 * rich in '/', '.', '%' and hex digits, checked against the invariants every
 * accepted path must hold and against a small reference model written from the
 * contract (decode once; %00 and %2F refused; dot segments resolved; nothing
 * above the root).
 */
#include "check.h"
#include "http/target.h"

#include <stdbool.h>
#include <stdlib.h>

#define ANY_ERR 1 /* in a table: any negative status */

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

/* ---- path_normalize: table -------------------------------------------- */

struct ncase {
	const char *in;
	size_t len;
	int want; /* PATH_OK, a PATH_E_*, or ANY_ERR */
	const char *out; /* when PATH_OK */
	size_t outlen;
};

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define OUT(s) .want = PATH_OK, .out = (s), .outlen = sizeof(s) - 1

static const struct ncase ncases[] = {
    {IN("/"), OUT("/")},
    {IN("/a/b"), OUT("/a/b")},
    {IN("/a/./b"), OUT("/a/b")},
    {IN("/a/../b"), OUT("/b")},
    {IN("/a/b/../../c"), OUT("/c")},
    {IN("/../x"), .want = PATH_E_BAD},
    {IN("/.."), .want = PATH_E_BAD},
    {IN("/a/../.."), .want = PATH_E_BAD},
    {IN("/a/../../b"), .want = PATH_E_BAD},
    {IN("/a/%2e%2e/b"), OUT("/b")},
    {IN("/a/%2E%2E/b"), OUT("/b")},
    {IN("/a/.%2e/b"), OUT("/b")},
    {IN("/a/%2e./b"), OUT("/b")},
    {IN("/a/%2e/b"), OUT("/a/b")},
    {IN("/%2e%2e"), .want = PATH_E_BAD},
    {IN("/%2e%2e/"), .want = PATH_E_BAD},
    {IN("/%2e%2e/etc/passwd"), .want = PATH_E_BAD},
    {IN("/a/%2e%2e/%2e%2e/x"), .want = PATH_E_BAD},
    {IN("/%252e%252e/"), OUT("/%2e%2e/")},
    {IN("/%25"), OUT("/%")},
    {IN("/%2541"), OUT("/%41")},
    {IN("/a%00b"), .want = PATH_E_FORBIDDEN},
    {IN("/%00"), .want = PATH_E_FORBIDDEN},
    {IN("/a%2fb"), .want = PATH_E_FORBIDDEN},
    {IN("/a%2Fb"), .want = PATH_E_FORBIDDEN},
    {IN("/%2F"), .want = PATH_E_FORBIDDEN},
    {IN("/%2f%2e%2e%2fetc"), .want = ANY_ERR},
    {IN("/a\0b"), .want = ANY_ERR},
    {IN("/%zz"), .want = PATH_E_BAD},
    {IN("/%4"), .want = PATH_E_BAD},
    {IN("/%"), .want = PATH_E_BAD},
    {IN("/a%"), .want = PATH_E_BAD},
    {IN("/%4g"), .want = PATH_E_BAD},
    {IN("/%g4"), .want = PATH_E_BAD},
    {IN("/%%41"), .want = PATH_E_BAD},
    {IN("//a///b"), OUT("/a/b")},
    {IN("//"), OUT("/")},
    {IN("/a//"), OUT("/a/")},
    {IN("/dir/"), OUT("/dir/")},
    {IN("/a/b/"), OUT("/a/b/")},
    {IN("/a/b/.."), OUT("/a/")},
    {IN("/a/b/../"), OUT("/a/")},
    {IN("/a/."), OUT("/a/")},
    {IN("/a/./"), OUT("/a/")},
    {IN("/."), OUT("/")},
    {IN("/./"), OUT("/")},
    {IN("/a/.."), OUT("/")},
    {IN("a/b"), .want = PATH_E_BAD},
    {IN("a"), .want = PATH_E_BAD},
    {IN(""), .want = PATH_E_BAD},
    {IN("*"), .want = PATH_E_BAD},
    {IN("./a"), .want = PATH_E_BAD},
    {IN("%2fa"), .want = ANY_ERR},
    {IN("/%c3%a9"), OUT("/\xc3\xa9")},
    {IN("/%C3%A9t%C3%A9/"), OUT("/\xc3\xa9t\xc3\xa9/")},
    {IN("/a\\b"), OUT("/a\\b")},
    {IN("/a%5cb"), OUT("/a\\b")},
    {IN("/..\\x"), OUT("/..\\x")},
    {IN("/a/.b"), OUT("/a/.b")},
    {IN("/a/..b"), OUT("/a/..b")},
    {IN("/a/b.."), OUT("/a/b..")},
    {IN("/a/..."), OUT("/a/...")},
    {IN("/a+b"), OUT("/a+b")},
    {IN("/a%20b"), OUT("/a b")},
    {IN("/a%3fb"), OUT("/a?b")},
    {IN("/%41%62"), OUT("/Ab")},
};

static void run_normalize(const char *in, size_t len, size_t cap, int want, const char *wout, size_t woutlen)
{
	char *raw = dup_exact(in, len);
	char *out = malloc(cap + 16);
	if (!out)
		abort();
	memset(out, 0x5a, cap + 16);
	size_t outlen = (size_t)-7;
	int r = path_normalize(raw, len, out, cap, &outlen);
	if (want == ANY_ERR)
		CHECK(r < 0);
	else
		CHECK_EQ_INT(r, want);
	if (r == PATH_OK && want == PATH_OK) {
		if (CHECK(outlen < cap)) {
			CHECK_EQ_MEM(out, outlen, wout, woutlen);
			CHECK_EQ_INT(out[outlen], '\0');
		}
	}
	for (size_t i = cap; i < cap + 16; i++)
		if ((unsigned char)out[i] != 0x5a) {
			CHECK_FAIL("path_normalize wrote past cap (%zu) at %zu", cap, i);
			break;
		}
	free(out);
	free(raw);
}

static void test_normalize_table(void)
{
	for (size_t i = 0; i < sizeof ncases / sizeof ncases[0]; i++) {
		const struct ncase *c = &ncases[i];
		check_context("path_normalize case %zu", i);
		run_normalize(c->in, c->len, 256, c->want, c->out, c->outlen);
	}

	check_context("path_normalize cap");
	run_normalize("/abcdef", 7, 4, PATH_E_TOOLONG, NULL, 0);
	run_normalize("/abc", 4, 5, PATH_OK, "/abc", 4);
	run_normalize("/abc", 4, 4, PATH_E_TOOLONG, NULL, 0);
	run_normalize("/", 1, 2, PATH_OK, "/", 1);
	run_normalize("/", 1, 1, PATH_E_TOOLONG, NULL, 0);
	run_normalize("/dir/", 5, 6, PATH_OK, "/dir/", 5);
	run_normalize("/dir/", 5, 5, PATH_E_TOOLONG, NULL, 0);
	run_normalize("/%41%41%41", 10, 5, PATH_OK, "/AAA", 4);

	/* len is honoured: bytes after it are not part of the path */
	check_context("path_normalize len");
	run_normalize("/a/b?x=1", 4, 64, PATH_OK, "/a/b", 4);
	run_normalize("/a/..", 3, 64, PATH_OK, "/a/", 3);

	/* a long path that fits */
	char big[3000];
	big[0] = '/';
	for (size_t i = 1; i < sizeof big; i++)
		big[i] = (i % 10 == 0) ? '/' : 'x';
	char *want = malloc(sizeof big);
	if (!want)
		abort();
	memcpy(want, big, sizeof big);
	check_context("path_normalize long");
	run_normalize(big, sizeof big, 4096, PATH_OK, want, sizeof big);
	run_normalize(big, sizeof big, 1024, PATH_E_TOOLONG, NULL, 0);
	free(want);
	check_context(NULL);
}

/* ---- path_normalize: reference model and oracle ----------------------- */

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

/* Reference: returns PATH_OK (out filled), PATH_E_BAD, PATH_E_FORBIDDEN, or
 * ANY_ERR when the input has problems of both kinds (the order in which an
 * implementation meets them is its own business). */
static int ref_normalize(const char *raw, size_t len, char *out, size_t *outlen)
{
	if (len == 0 || raw[0] != '/')
		return PATH_E_BAD;
	char *dec = malloc(len + 1);
	if (!dec)
		abort();
	size_t dn = 0;
	bool bad = false, forbidden = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '%') {
			int hi = i + 1 < len ? hexval((unsigned char)raw[i + 1]) : -1;
			int lo = i + 2 < len ? hexval((unsigned char)raw[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				bad = true;
				break;
			}
			c = (unsigned char)(hi * 16 + lo);
			if (c == 0 || c == '/')
				forbidden = true;
			i += 2;
		} else if (c == 0)
			forbidden = true;
		dec[dn++] = (char)c;
	}
	dec[dn] = '\0';
	if (forbidden) {
		bool dots = bad || memmem(dec, dn, "..", 2) != NULL;
		free(dec);
		return dots ? ANY_ERR : PATH_E_FORBIDDEN;
	}
	if (bad) {
		free(dec);
		return PATH_E_BAD;
	}
	/* resolve dot segments on the decoded path */
	size_t segs[512][2], nsegs = 0;
	bool trailing = false;
	size_t i = 1;
	while (i <= dn) {
		size_t j = i;
		while (j < dn && dec[j] != '/')
			j++;
		size_t sl = j - i;
		bool last = j >= dn;
		if (sl == 0 || (sl == 1 && dec[i] == '.')) {
			trailing = last;
		} else if (sl == 2 && dec[i] == '.' && dec[i + 1] == '.') {
			if (nsegs == 0) {
				free(dec);
				return PATH_E_BAD;
			}
			nsegs--;
			trailing = last;
		} else {
			segs[nsegs][0] = i;
			segs[nsegs][1] = sl;
			nsegs++;
			trailing = false;
		}
		i = j + 1;
	}
	size_t o = 0;
	out[o++] = '/';
	for (size_t k = 0; k < nsegs; k++) {
		memcpy(out + o, dec + segs[k][0], segs[k][1]);
		o += segs[k][1];
		if (k + 1 < nsegs || trailing)
			out[o++] = '/';
	}
	out[o] = '\0';
	*outlen = o;
	free(dec);
	return PATH_OK;
}

/* The invariants of every accepted path. Returns a reason, or NULL. */
static const char *normalized_violation(const char *p, size_t n)
{
	if (n == 0 || p[0] != '/')
		return "does not start with '/'";
	if (memchr(p, '\0', n))
		return "holds a NUL";
	if (memmem(p, n, "//", 2))
		return "holds \"//\"";
	for (size_t i = 1; i <= n;) {
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		size_t sl = j - i;
		if (sl == 1 && p[i] == '.')
			return "has a \".\" segment";
		if (sl == 2 && p[i] == '.' && p[i + 1] == '.')
			return "has a \"..\" segment";
		i = j + 1;
	}
	return NULL;
}

static void oracle_one(const char *s, size_t n, unsigned *bad)
{
	char *raw = dup_exact(s, n);
	char out[4096], ref[4096], again[4096];
	size_t outlen = 0, reflen = 0, againlen = 0;
	int r = path_normalize(raw, n, out, sizeof out, &outlen);
	int w = ref_normalize(raw, n, ref, &reflen);
	const char *why = NULL;
	if (r == PATH_OK) {
		if (outlen >= sizeof out || out[outlen] != '\0')
			why = "output not NUL-terminated at outlen";
		else
			why = normalized_violation(out, outlen);
		if (!why && w != PATH_OK)
			why = "accepted what the reference refuses";
		if (!why && (outlen != reflen || memcmp(out, ref, outlen) != 0))
			why = "output differs from the reference";
		/* without '%' left in it, normalizing again changes nothing */
		if (!why && !memchr(out, '%', outlen)) {
			int r2 = path_normalize(out, outlen, again, sizeof again, &againlen);
			if (r2 != PATH_OK || againlen != outlen || memcmp(again, out, outlen) != 0)
				why = "not idempotent";
		}
	} else if (r > 0) {
		why = "positive return";
	} else if (w == PATH_OK) {
		why = "refused what the reference accepts";
	} else if (w != ANY_ERR && r != w) {
		why = "error code differs from the reference";
	}
	/* tight capacities: the exact fit works (or is refused as too long, when
	 * the implementation needs room to work in), one less is too long, and
	 * nothing is ever written past cap */
	for (size_t extra = 0; !why && w == PATH_OK && extra < 2; extra++) {
		size_t cap = reflen + extra;
		char *tight = malloc(cap + 8);
		if (!tight)
			abort();
		memset(tight, 0x5a, cap + 8);
		size_t tl = 0;
		int rt = path_normalize(raw, n, tight, cap, &tl);
		if (extra == 0 && rt != PATH_E_TOOLONG)
			why = "result without room for its NUL was not PATH_E_TOOLONG";
		else if (extra == 1 && rt != PATH_E_TOOLONG &&
		         (rt != PATH_OK || tl != reflen || memcmp(tight, ref, reflen + 1) != 0))
			why = "wrong result with an exactly fitting cap";
		for (size_t i = cap; !why && i < cap + 8; i++)
			if ((unsigned char)tight[i] != 0x5a)
				why = "wrote past cap";
		free(tight);
	}
	if (why) {
		if (++*bad <= 10) {
			CHECK_FAIL("path_normalize oracle: %s (got %d, reference %d)", why, r, w);
			fputs("    input:     ", stderr);
			check_print_mem_(s, n);
			fputs("\n    output:    ", stderr);
			check_print_mem_(out, r == PATH_OK ? outlen : 0);
			fputs("\n    reference: ", stderr);
			check_print_mem_(ref, w == PATH_OK ? reflen : 0);
			fputc('\n', stderr);
		}
	}
	free(raw);
}

static void test_normalize_oracle(void)
{
	static const char alphabet[] = {'/', '.', '%', '2', 'e', 'f', 'F', '0', 'a', '\\', '5', 'E'};
	static const char *const tokens[] = {"/", ".",  "..",  "%2e", "%2E", "%2f", "%2F", "%00", "%25", "%",
	                                     "a", "\\", "%5c", "%zz", "%4",  "%2",  "e",   "/./", "/../"};
	uint64_t seed = 42;
	unsigned bad = 0;
	char s[256];
	check_context("path_normalize oracle");
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = 0;
		if (check_rand_below(&seed, 10) != 0)
			s[n++] = '/';
		if (iter & 1) {
			size_t k = check_rand_below(&seed, 24);
			for (size_t i = 0; i < k; i++)
				s[n++] = alphabet[check_rand_below(&seed, sizeof alphabet)];
		} else {
			size_t k = check_rand_below(&seed, 12);
			for (size_t i = 0; i < k; i++) {
				const char *t =
				    tokens[check_rand_below(&seed, sizeof tokens / sizeof tokens[0])];
				size_t tl = strlen(t);
				memcpy(s + n, t, tl);
				n += tl;
			}
		}
		oracle_one(s, n, &bad);
	}
	if (!bad)
		check_passed_++;
	else
		CHECK_FAIL("path_normalize oracle: %u inputs disagreed", bad);
	check_context(NULL);
}

/* ---- path_has_dotfile -------------------------------------------------- */

static void test_dotfile(void)
{
	static const struct {
		const char *p;
		int want;
	} t[] = {
	    {"/.git/config", 1},
	    {"/.git", 1},
	    {"/a/.htaccess", 1},
	    {"/a/.b/", 1},
	    {"/.x", 1},
	    {"/.well-known/acme", 0},
	    {"/.well-known/acme-challenge/token", 0},
	    {"/.well-known/", 0},
	    {"/.well-known/.x", 1},
	    {"/.well-known/a/.b", 1},
	    {"/a/.well-known/x", 1},
	    {"/.well-knownx/a", 1},
	    {"/a.b/c", 0},
	    {"/a/b.", 0},
	    {"/a/b", 0},
	    {"/", 0},
	    {"/dir/", 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		check_context("path_has_dotfile(\"%s\")", t[i].p);
		CHECK_EQ_INT(!!path_has_dotfile(t[i].p, strlen(t[i].p)), t[i].want);
	}
	check_context("path_has_dotfile len");
	CHECK_EQ_INT(!!path_has_dotfile("/a/.git", 3), 0);
	CHECK_EQ_INT(!!path_has_dotfile("/a/.git", 4), 1);
	check_context(NULL);
}

/* ---- path_encode ------------------------------------------------------- */

/* Bytes path_encode must leave as they are: unreserved and '/'. */
static bool must_keep(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("-._~/", c) != NULL);
}

/* Bytes the contract also lets through (sub-delims, ':' and '@'); encoding
 * them as well is harmless, so either form is accepted. */
static bool may_keep(unsigned char c)
{
	return must_keep(c) || (c != 0 && strchr("!$&'()*+,;=:@", c) != NULL);
}

/* Checks that got[0..gn) is a faithful encoding of in[0..n): each byte that
 * must be kept is literal, each byte outside the allowed set is %XX (hex in
 * either case), and decoding gives back the input. Returns a reason or NULL. */
static const char *encode_violation(const char *in, size_t n, const char *got, size_t gn)
{
	size_t i = 0, k = 0;
	while (k < gn) {
		if (i >= n)
			return "output longer than the input encodes to";
		unsigned char want = (unsigned char)in[i], c = (unsigned char)got[k];
		if (c == '%') {
			if (k + 2 >= gn)
				return "truncated %XX";
			int hi = hexval((unsigned char)got[k + 1]), lo = hexval((unsigned char)got[k + 2]);
			if (hi < 0 || lo < 0)
				return "bad %XX";
			if ((unsigned char)(hi * 16 + lo) != want)
				return "%XX decodes to a different byte";
			if (must_keep(want))
				return "encoded a byte that must stay literal";
			k += 3;
		} else {
			if (c != want)
				return "literal byte differs from the input";
			if (!may_keep(c))
				return "left a byte unencoded";
			k++;
		}
		i++;
	}
	return i == n ? NULL : "output shorter than the input encodes to";
}

/* Equal, with the two hex digits after each '%' compared case-insensitively. */
static bool enc_equal(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++) {
		if (a[i] == '%' && b[i] == '%' && i + 2 < an) {
			for (size_t k = 1; k <= 2; k++)
				if (hexval((unsigned char)a[i + k]) < 0 ||
				    hexval((unsigned char)a[i + k]) != hexval((unsigned char)b[i + k]))
					return false;
			i += 2;
		} else if (a[i] != b[i])
			return false;
	}
	return true;
}

/* want: the exact expected output (hex case free), or NULL to check only the
 * properties. */
static void run_encode(const char *in, size_t n, const char *want)
{
	char *raw = dup_exact(in, n);
	char out[1024];
	memset(out, 0x5a, sizeof out);
	size_t r = path_encode(raw, n, out, sizeof out);
	const char *why = r >= sizeof out ? "length out of range" : encode_violation(in, n, out, r);
	if (!why && want && !enc_equal(out, r, want, strlen(want)))
		why = "differs from the expected encoding";
	if (why) {
		CHECK_FAIL("path_encode: %s", why);
		fputs("    input: ", stderr);
		check_print_mem_(in, n);
		fputs("\n    got:   ", stderr);
		check_print_mem_(out, r < sizeof out ? r : 0);
		if (want) {
			fputs("\n    want:  ", stderr);
			check_print_mem_(want, strlen(want));
		}
		fputc('\n', stderr);
	} else {
		check_passed_++;
		CHECK_EQ_INT(out[r], '\0');
	}
	free(raw);
}

static void test_encode(void)
{
	check_context("path_encode");
	run_encode("a b", 3, "a%20b");
	run_encode("%", 1, "%25");
	run_encode("\"", 1, "%22");
	run_encode("<>", 2, "%3C%3E");
	run_encode("\xc3\xa9", 2, "%C3%A9");
	run_encode("/a/b/", 5, "/a/b/");
	run_encode("a-b_c.d~", 8, "a-b_c.d~");
	run_encode("ABCxyz019", 9, "ABCxyz019");
	run_encode("!$&'()*+,;=:@", 13, NULL); /* sub-delims: kept or encoded */
	run_encode("?#", 2, "%3F%23");
	run_encode("\r\n", 2, "%0D%0A");
	run_encode("\\", 1, "%5C");
	run_encode("[]", 2, "%5B%5D");
	run_encode("`^{}|", 5, "%60%5E%7B%7D%7C");
	run_encode("\x7f\x80\xff", 3, "%7F%80%FF");
	run_encode("a\0b", 3, "a%00b");
	run_encode("/dir name/<script>.html", 23, "/dir%20name/%3Cscript%3E.html");

	check_context("path_encode cap");
	char out[16];
	CHECK_EQ_INT(path_encode("abc", 3, out, 4), 3);
	CHECK_EQ_MEM(out, 4, "abc", 4);
	CHECK_EQ_INT(path_encode("abc", 3, out, 2), 0);
	CHECK_EQ_INT(path_encode("%%%", 3, out, 5), 0);
	CHECK_EQ_INT(path_encode("%%%", 3, out, 10), 9);

	/* random bytes: a faithful encoding every time */
	check_context("path_encode random");
	uint64_t seed = 7;
	unsigned bad = 0;
	char in[64], got[256];
	for (int iter = 0; iter < 20000 && bad < 5; iter++) {
		size_t n = 1 + check_rand_below(&seed, sizeof in);
		for (size_t i = 0; i < n; i++)
			in[i] = (char)check_rand_below(&seed, 256);
		size_t gn = path_encode(in, n, got, sizeof got);
		const char *why = gn >= sizeof got ? "length out of range" : encode_violation(in, n, got, gn);
		if (why) {
			bad++;
			CHECK_FAIL("path_encode random input %d: %s", iter, why);
		}
	}
	if (!bad)
		check_passed_++;
	check_context(NULL);
}

int main(void)
{
	test_normalize_table();
	test_normalize_oracle();
	test_dotfile();
	test_encode();
	return check_done();
}
