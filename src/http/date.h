/* date.h: HTTP-date formatting and parsing (RFC 9110 §5.6.7). Pure. */
#ifndef HEARTH_HTTP_DATE_H
#define HEARTH_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes exactly HTTP_DATE_LEN bytes plus a NUL into out. */
void http_date_format(time_t t, char out[HTTP_DATE_LEN + 1]);

/* Parses IMF-fixdate, RFC 850 and asctime forms; returns -1 when invalid. */
time_t http_date_parse(const char *s, size_t len);
/* The same, with a two-digit RFC 850 year taken relative to `now`. */
time_t http_date_parse_at(const char *s, size_t len, time_t now);

#endif
