/* cond.c: see cond.h. */
#include "http/cond.h"

#include <string.h>

int etag_list_match(const char *v, size_t len, const char *etag, int weak)
{
	const char *p = v, *end = v + len;
	size_t elen = strlen(etag);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p >= end)
			break;
		if (*p == '*')
			return 1;
		int is_weak = 0;
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
			is_weak = 1;
			p += 2;
		}
		if (p >= end || *p != '"')
			return 0; /* malformed: no match */
		const char *q = p + 1 < end ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
		if (!q)
			return 0;
		size_t n = (size_t)(q - p + 1);
		if ((weak || !is_weak) && n == elen && memcmp(p, etag, n) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}
