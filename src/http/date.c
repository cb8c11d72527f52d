/* date.c: HTTP-date in its three historical forms (RFC 9110 §5.6.7). */
#include "http/date.h"

#include <string.h>

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

void http_date_format(time_t t, char out[HTTP_DATE_LEN + 1])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	memcpy(out, wday_names[tm.tm_wday], 3);
	out[3] = ',';
	out[4] = ' ';
	put2(out + 5, tm.tm_mday);
	out[7] = ' ';
	memcpy(out + 8, month_names[tm.tm_mon], 3);
	out[11] = ' ';
	int y = tm.tm_year + 1900;
	put2(out + 12, y / 100);
	put2(out + 14, y % 100);
	out[16] = ' ';
	put2(out + 17, tm.tm_hour);
	out[19] = ':';
	put2(out + 20, tm.tm_min);
	out[22] = ':';
	put2(out + 23, tm.tm_sec);
	memcpy(out + 25, " GMT", 5);
}

static int num(const char *s, size_t n, int *out)
{
	int v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int month_of(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (memcmp(s, month_names[i], 3) == 0)
			return i;
	return -1;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm) */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static time_t make_time(int year, int mon, int day, int h, int mi, int s)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (year < 1970 || year > 9999 || mon < 0 || mon > 11 || day < 1 || day > mdays[mon] || h > 23 ||
	    mi > 59 || s > 60)
		return -1;
	long days = days_from_civil(year, (unsigned)mon + 1, (unsigned)day);
	return (time_t)days * 86400 + h * 3600 + mi * 60 + (s == 60 ? 59 : s);
}

static int hms(const char *p, int *h, int *m, int *s)
{
	if (p[2] != ':' || p[5] != ':')
		return -1;
	return (num(p, 2, h) < 0 || num(p + 3, 2, m) < 0 || num(p + 6, 2, s) < 0) ? -1 : 0;
}

/* now: NULL for the current time, asked only for an RFC 850 date */
static time_t parse_date(const char *s, size_t len, const time_t *now)
{
	int day, year, h, mi, sec, mon;
	if (len == 29 && s[3] == ',') {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || memcmp(s + 25, " GMT", 4))
			return -1;
		if (num(s + 5, 2, &day) < 0 || (mon = month_of(s + 8)) < 0 || num(s + 12, 4, &year) < 0 ||
		    hms(s + 17, &h, &mi, &sec) < 0)
			return -1;
		return make_time(year, mon, day, h, mi, sec);
	}
	if (len == 24 && s[3] == ' ') {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if ((mon = month_of(s + 4)) < 0 || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
			return -1;
		if (num(s + 8 + (s[8] == ' '), s[8] == ' ' ? 1 : 2, &day) < 0 ||
		    hms(s + 11, &h, &mi, &sec) < 0 || num(s + 20, 4, &year) < 0)
			return -1;
		return make_time(year, mon, day, h, mi, sec);
	}
	/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
	const char *c = memchr(s, ',', len < 10 ? len : 10);
	if (c && (size_t)(s + len - c) == 24) {
		const char *p = c + 1;
		if (p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' || memcmp(p + 19, " GMT", 4))
			return -1;
		if (num(p + 1, 2, &day) < 0 || (mon = month_of(p + 4)) < 0 || num(p + 8, 2, &year) < 0 ||
		    hms(p + 11, &h, &mi, &sec) < 0)
			return -1;
		/* RFC 9110 §5.6.7: a two-digit year more than 50 years in the future
		 * is the most recent past year with the same last two digits */
		time_t t = now ? *now : time(NULL);
		struct tm tm;
		int cur = gmtime_r(&t, &tm) ? tm.tm_year + 1900 : 2000;
		year += cur - cur % 100;
		if (year > cur + 50)
			year -= 100;
		return make_time(year, mon, day, h, mi, sec);
	}
	return -1;
}

time_t http_date_parse(const char *s, size_t len)
{
	return parse_date(s, len, NULL);
}

time_t http_date_parse_at(const char *s, size_t len, time_t now)
{
	return parse_date(s, len, &now);
}
