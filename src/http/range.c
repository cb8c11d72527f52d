/* range.c: "bytes=" range sets, resolved against a size, sorted and coalesced.
 *
 * A client may ask for the same bytes many times over ("0-,0-,0-"), or for
 * thousands of tiny ranges: coalescing overlapping and adjacent ranges bounds
 * the response by the file's size, and RANGE_MAX bounds the number of parts.
 */
#include "http/range.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse 1*DIGIT at *p; returns -1 on no digit or overflow past 2^62. */
static int parse_num(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (v > (UINT64_C(1) << 62) / 10)
			return -1;
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	if (*p == s)
		return -1;
	*out = v;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct byte_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

int range_parse(const char *value, size_t len, uint64_t size, struct byte_range *out, unsigned *n)
{
	struct byte_range tmp[RANGE_MAX_SPECS];
	unsigned cnt = 0, specs = 0;
	const char *p = value, *end = value + len;
	if (len < 6 || strncasecmp(value, "bytes=", 6) != 0)
		return RANGE_NONE;
	p += 6;
	for (;;) {
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p == ',') { /* empty list elements are allowed */
			p++;
			continue;
		}
		if (p >= end)
			break;
		uint64_t a = 0, b = 0;
		int suffix = 0, open = 0;
		if (*p == '-') {
			p++;
			if (parse_num(&p, end, &b) < 0)
				return RANGE_NONE;
			suffix = 1;
		} else {
			if (parse_num(&p, end, &a) < 0 || p >= end || *p != '-')
				return RANGE_NONE;
			p++;
			if (p < end && *p >= '0' && *p <= '9') {
				if (parse_num(&p, end, &b) < 0)
					return RANGE_NONE;
				if (b < a)
					return RANGE_NONE;
			} else {
				open = 1;
			}
		}
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p != ',')
			return RANGE_NONE;
		if (++specs > RANGE_MAX_SPECS)
			return RANGE_NONE;
		/* resolve against size; unsatisfiable specs are dropped */
		if (suffix) {
			if (b == 0 || size == 0)
				continue;
			a = b >= size ? 0 : size - b;
			b = size - 1;
		} else {
			if (a >= size)
				continue;
			if (open || b >= size)
				b = size - 1;
		}
		tmp[cnt].first = a;
		tmp[cnt].last = b;
		cnt++;
	}
	if (specs == 0)
		return RANGE_NONE;
	if (cnt == 0)
		return RANGE_UNSATISFIABLE;
	qsort(tmp, cnt, sizeof tmp[0], cmp_range);
	unsigned m = 0;
	for (unsigned i = 0; i < cnt; i++) {
		if (m > 0 && tmp[i].first <= out[m - 1].last + 1) {
			if (tmp[i].last > out[m - 1].last)
				out[m - 1].last = tmp[i].last;
			continue;
		}
		if (m == RANGE_MAX)
			return RANGE_NONE;
		out[m++] = tmp[i];
	}
	*n = m;
	return RANGE_OK;
}
