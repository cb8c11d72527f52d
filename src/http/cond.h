/* cond.h: entity-tag lists of If-Match / If-None-Match (RFC 9110 §13.1).
 * Pure: no I/O, no allocation. */
#ifndef HEARTH_HTTP_COND_H
#define HEARTH_HTTP_COND_H

#include <stddef.h>

/* Does the list v[0..len) ("*", or comma-separated entity-tags, W/ for weak)
 * match etag (a quoted strong tag such as "\"abc\"")? weak: weak comparison
 * (If-None-Match), else strong (If-Match: a W/ tag never matches). A
 * malformed list matches nothing. */
int etag_list_match(const char *v, size_t len, const char *etag, int weak);

#endif
