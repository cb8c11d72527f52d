/* test_date.c: HTTP-date formatting and parsing (src/http/date.h). */
#include "check.h"
#include "http/date.h"

#include <stdlib.h>

static time_t parse(const char *s)
{
	/* exact-size copy without a NUL: the parser must honour len */
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	memcpy(p, s, n);
	time_t t = http_date_parse(p, n);
	free(p);
	return t;
}

static void test_format(void)
{
	static const struct {
		time_t t;
		const char *s;
	} t[] = {
	    {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
	    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
	    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
	    {1700000000, "Tue, 14 Nov 2023 22:13:20 GMT"},
	    {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},
	    {2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT"},
	    {4102444799LL, "Thu, 31 Dec 2099 23:59:59 GMT"},
	    {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[HTTP_DATE_LEN + 8];
		memset(out, 'Z', sizeof out);
		check_context("http_date_format(%lld)", (long long)t[i].t);
		http_date_format(t[i].t, out);
		CHECK_EQ_INT(out[HTTP_DATE_LEN], '\0');
		CHECK_EQ_STR(out, t[i].s);
		CHECK_EQ_INT(out[HTTP_DATE_LEN + 1], 'Z');
	}
	check_context(NULL);
}

static void test_parse(void)
{
	static const struct {
		const char *s;
		time_t want;
	} ok[] = {
	    {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
	    {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
	    {"Sun Nov  6 08:49:37 1994", 784111777},
	    {"Wed Nov 16 08:49:37 1994", 784111777 + 10 * 86400},
	    {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
	    {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},
	    {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648LL},
	    {"Fri, 31 Dec 1999 23:59:59 GMT", 946684799},
	    {"Thu, 01 Jan 2004 00:00:00 GMT", 1072915200},
	    {"Mon, 31 Jan 2022 12:00:00 GMT", 1643630400},
	    {"Sat, 01 Feb 2020 00:00:00 GMT", 1580515200},
	    {"Mon, 02 Mar 2020 00:00:00 GMT", 1583107200},
	    {"Wed, 01 Apr 2020 00:00:00 GMT", 1585699200},
	    {"Fri, 01 May 2020 00:00:00 GMT", 1588291200},
	    {"Mon, 01 Jun 2020 00:00:00 GMT", 1590969600},
	    {"Wed, 01 Jul 2020 00:00:00 GMT", 1593561600},
	    {"Sat, 01 Aug 2020 00:00:00 GMT", 1596240000},
	    {"Tue, 01 Sep 2020 00:00:00 GMT", 1598918400},
	    {"Thu, 01 Oct 2020 00:00:00 GMT", 1601510400},
	    {"Sun, 01 Nov 2020 00:00:00 GMT", 1604188800},
	    {"Tue, 01 Dec 2020 00:00:00 GMT", 1606780800},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		check_context("http_date_parse(\"%s\")", ok[i].s);
		CHECK_EQ_INT(parse(ok[i].s), ok[i].want);
	}

	static const char *const bad[] = {
	    "",
	    "x",
	    "Sun, 06 Nov 1994 08:49:37 UTC",
	    "Sun, 06 Nov 1994 08:49:37 gmt ",
	    "Sun, 06 Nov 1994 08:49:37",
	    "Sun, 06 Nov 1994 08:49:37 GMTx",
	    "Sun, 06 Nov 1994 08:49:37 GMT ",
	    "Sun, 06 Nov 1994 08:49 GMT",
	    "Sun, 06 Nov 1994 08:49:3a GMT",
	    "Sun, 06 Nox 1994 08:49:37 GMT",
	    "Sun, 32 Nov 1994 08:49:37 GMT",
	    "Sun, 00 Nov 1994 08:49:37 GMT",
	    "Sun, 06 Nov 1994 25:49:37 GMT",
	    "Sun, 06 Nov 1994 08:60:37 GMT",
	    "Sun, 06 Nov 1994 08:49:61 GMT",
	    "Sun, 06 Nov 1994 -8:49:37 GMT",
	    "Sun, 06 Nov 199 08:49:37 GMT",
	    "Sun 06 Nov 1994 08:49:37 GMT",
	    "Sunday, 06-Nov-94 08:49:37",
	    "Sunday, 06-Nov-94 08:49:37 GMTx",
	    "Sunday, 06-Xyz-94 08:49:37 GMT",
	    "Sun Nov  6 08:49:37",
	    "Sun Nov  6 08:49:37 19x4",
	    "Sun Nov 36 08:49:37 1994",
	    "1994-11-06T08:49:37Z",
	    "784111777",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		check_context("http_date_parse(\"%s\") invalid", bad[i]);
		CHECK_EQ_INT(parse(bad[i]), -1);
	}

	check_context("http_date_parse len");
	CHECK_EQ_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT; extra", 29), 784111777);
	CHECK_EQ_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 20), -1);
	CHECK_EQ_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28), -1);
	CHECK_EQ_INT(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 0), -1);
	check_context(NULL);
}

/* RFC 9110 §5.6.7: an RFC 850 year more than 50 years ahead is in the past */
static void test_rfc850_year(void)
{
	const time_t y2026 = 1782864000; /* 2026-07-01 */
	const time_t y2090 = 3802291200LL; /* 2090-06-28 */
	static const char d94[] = "Sunday, 06-Nov-94 08:49:37 GMT";
	static const char d70[] = "Thursday, 01-Jan-70 00:00:00 GMT";
	static const char d76[] = "Friday, 01-Jan-76 00:00:00 GMT";
	static const char d77[] = "Saturday, 01-Jan-77 00:00:00 GMT";
	static const char d40[] = "Sunday, 01-Jan-40 00:00:00 GMT";
	check_context("rfc850 two-digit year");
	CHECK_EQ_INT(http_date_parse_at(d94, sizeof d94 - 1, y2026), 784111777); /* 2094 is too far */
	CHECK_EQ_INT(http_date_parse_at(d70, sizeof d70 - 1, y2026), 3155760000LL); /* 2070: 44 years */
	CHECK_EQ_INT(http_date_parse_at(d76, sizeof d76 - 1, y2026), 3345062400LL); /* 2076: 50 years */
	CHECK_EQ_INT(http_date_parse_at(d77, sizeof d77 - 1, y2026), 220924800); /* 2077 -> 1977 */
	CHECK_EQ_INT(http_date_parse_at(d40, sizeof d40 - 1, y2026), 2208988800LL); /* 2040 */
	CHECK_EQ_INT(http_date_parse_at(d94, sizeof d94 - 1, y2090), 3939871777LL); /* 2094 */
	CHECK_EQ_INT(http_date_parse_at(d40, sizeof d40 - 1, y2090), 2208988800LL); /* 2040, in the past */
	check_context(NULL);
}

static void test_roundtrip(void)
{
	uint64_t seed = 2024;
	unsigned bad = 0;
	check_context("round trip");
	for (long i = 0; i < 200000 && bad < 10; i++) {
		time_t t;
		if (i < 100000)
			t = (time_t)(i * 21601 + i % 61); /* 0 .. ~2038, every time of day */
		else
			t = (time_t)check_rand_below(&seed, 253402300800ull); /* up to 9999 */
		char out[HTTP_DATE_LEN + 1];
		http_date_format(t, out);
		time_t back = http_date_parse(out, strlen(out));
		if (strlen(out) != HTTP_DATE_LEN || back != t) {
			bad++;
			CHECK_FAIL("t=%lld formatted \"%s\" parsed back as %lld", (long long)t, out,
			           (long long)back);
		}
	}
	if (!bad)
		check_passed_++;
	check_context(NULL);
}

int main(void)
{
	test_format();
	test_parse();
	test_rfc850_year();
	test_roundtrip();
	return check_done();
}
