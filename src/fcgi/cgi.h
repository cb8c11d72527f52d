/* cgi.h: the head of a CGI response (RFC 3875 §6), as a FastCGI application
 * writes it on STDOUT before the body.
 *
 * Pure: bytes in, spans out; no allocation. Lines end with LF or CRLF; the
 * head ends with an empty line.
 */
#ifndef HEARTH_FCGI_CGI_H
#define HEARTH_FCGI_CGI_H

#include <stddef.h>
#include <stdint.h>

#define CGI_MAX_FIELDS 100

struct cgi_field {
	const char *name;
	uint32_t nlen;
	const char *value; /* surrounding whitespace trimmed */
	uint32_t vlen;
};

struct cgi_head {
	int status; /* from Status (200-599), else 302 with a non-local Location, else 200 */
	const char *reason; /* reason phrase after the Status code, or NULL */
	uint32_t reason_len;
	const char *location; /* Location value or NULL */
	uint32_t location_len;
	int local_redirect; /* Location is a local path ("/..."), without Status: RFC 3875 §6.2.2 */
	int64_t content_length; /* -1 when absent */
	int has_content_type;
	unsigned nfields; /* every field except Status, in order */
	struct cgi_field fields[CGI_MAX_FIELDS];
};

/* Where the head ends in buf[0..len): the offset just past the empty line, or
 * 0 when it has not arrived yet. */
size_t cgi_head_end(const char *buf, size_t len);
/* The same, when buf[0..from) was searched before without finding it: only
 * the bytes from there on are looked at (linear however the head arrives). */
size_t cgi_head_end_from(const char *buf, size_t len, size_t from);

/* Parse the complete head buf[0..len) (len from cgi_head_end). 0, or -1 when
 * malformed: a line without a colon, an empty or non-token field name,
 * control bytes in a value, a bad Status, a Content-Length that is not plain
 * digits, more than CGI_MAX_FIELDS fields, no Content-Type / Location /
 * Status at all (RFC 3875 requires one of them). */
int cgi_parse_head(struct cgi_head *h, const char *buf, size_t len);

#endif
