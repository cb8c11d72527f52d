/* cgi.c: the head of a CGI response (cgi.h, RFC 3875 §6).
 *
 * A FastCGI application writes the CGI head on STDOUT: header lines ending in
 * LF or CRLF, then an empty line, then the body. cgi_head_end finds that empty
 * line however the two line ends are mixed; cgi_parse_head splits the head
 * into fields and pulls out what the gateway acts on (Status, Location,
 * Content-Type, Content-Length). It follows the request parser's strictness
 * (src/http/parse.c) where leniency would let a backend smuggle something
 * past the gateway into the response: token field names with no whitespace
 * before the colon, no obs-fold, no control bytes but HTAB in a value (so no
 * bare CR), and one Status, one Location, one Content-Length value.
 *
 * Location without Status: a local path ("/x", not the network-path "//x")
 * is a local redirect (RFC 3875 §6.2.2) and the status stays 200 here; any
 * other Location is a client redirect, 302, as Apache and nginx answer.
 */
#include "fcgi/cgi.h"

#include <string.h>

/* RFC 9110 tchar. */
static int cgi_is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field name equal to the lower-case ASCII want, ignoring case. */
static int cgi_name_is(const char *name, size_t nlen, const char *want)
{
	size_t wlen = strlen(want);
	if (nlen != wlen)
		return 0;
	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		if (c != (unsigned char)want[i])
			return 0;
	}
	return 1;
}

/* The first "\n\n" or "\n\r\n" whose LF is at buf[at] or later: the offset
 * just past it, or 0. */
static size_t cgi_blank_line(const char *buf, size_t len, size_t at)
{
	const char *p = buf + at;
	const char *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		size_t rest = (size_t)(end - nl) - 1;
		if (rest >= 1 && nl[1] == '\n')
			return (size_t)(nl - buf) + 2;
		if (rest >= 2 && nl[1] == '\r' && nl[2] == '\n')
			return (size_t)(nl - buf) + 3;
		p = nl + 1;
	}
	return 0;
}

size_t cgi_head_end(const char *buf, size_t len)
{
	if (len == 0)
		return 0;
	/* an empty first line: a head with no fields (malformed, but complete) */
	if (buf[0] == '\n')
		return 1;
	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
		return 2;
	return cgi_blank_line(buf, len, 0);
}

size_t cgi_head_end_from(const char *buf, size_t len, size_t from)
{
	/* an end within the new bytes starts at most 2 bytes before them (its
	 * LF, then CR LF); the empty first line is decided by the first 2 */
	if (from < 3 || from > len)
		return cgi_head_end(buf, len);
	return cgi_blank_line(buf, len, from - 3);
}

/* Status value "NNN" or "NNN reason": 0, or -1 when malformed. */
static int cgi_parse_status(struct cgi_head *h, const char *v, size_t vlen)
{
	if (vlen < 3)
		return -1;
	for (int i = 0; i < 3; i++)
		if (v[i] < '0' || v[i] > '9')
			return -1;
	int code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	/* a 1xx is no final response (RFC 9110 §15.2): the gateway would send it
	 * as one, and the client would wait for another */
	if (code < 200 || code > 599)
		return -1;
	size_t i = 3;
	if (i < vlen && v[i] != ' ' && v[i] != '\t')
		return -1;
	while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
		i++;
	h->status = code;
	if (i < vlen) {
		h->reason = v + i;
		h->reason_len = (uint32_t)(vlen - i); /* the value is trimmed: no trailing blanks */
	}
	return 0;
}

/* Content-Length value: 1 to 18 digits. */
static int64_t cgi_parse_length(const char *v, size_t vlen)
{
	if (vlen == 0 || vlen > 18)
		return -1;
	int64_t n = 0;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* One field line (line end removed): 0, or -1 when malformed. */
static int cgi_parse_line(struct cgi_head *h, const char *line, size_t llen, int *seen_status)
{
	size_t c = 0;
	while (c < llen && cgi_is_tchar((unsigned char)line[c]))
		c++;
	if (c == 0 || c == llen || line[c] != ':')
		return -1;
	const char *name = line;
	size_t nlen = c;
	size_t vb = c + 1, ve = llen;
	while (vb < ve && (line[vb] == ' ' || line[vb] == '\t'))
		vb++;
	while (ve > vb && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
		ve--;
	const char *v = line + vb;
	size_t vlen = ve - vb;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)v[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return -1;
	}

	if (cgi_name_is(name, nlen, "status")) {
		if (*seen_status)
			return -1;
		*seen_status = 1;
		return cgi_parse_status(h, v, vlen);
	}
	if (cgi_name_is(name, nlen, "location")) {
		if (h->location || vlen == 0)
			return -1;
		h->location = v;
		h->location_len = (uint32_t)vlen;
	} else if (cgi_name_is(name, nlen, "content-type")) {
		h->has_content_type = 1;
	} else if (cgi_name_is(name, nlen, "content-length")) {
		int64_t n = cgi_parse_length(v, vlen);
		if (n < 0 || (h->content_length >= 0 && n != h->content_length))
			return -1;
		h->content_length = n;
	}
	if (h->nfields == CGI_MAX_FIELDS)
		return -1;
	struct cgi_field *f = &h->fields[h->nfields++];
	f->name = name;
	f->nlen = (uint32_t)nlen;
	f->value = v;
	f->vlen = (uint32_t)vlen;
	return 0;
}

int cgi_parse_head(struct cgi_head *h, const char *buf, size_t len)
{
	h->status = 200;
	h->reason = NULL;
	h->reason_len = 0;
	h->location = NULL;
	h->location_len = 0;
	h->local_redirect = 0;
	h->content_length = -1;
	h->has_content_type = 0;
	h->nfields = 0;
	if (len > UINT32_MAX)
		return -1;

	int seen_status = 0, ended = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			return -1; /* the head stops without its empty line */
		size_t llen = (size_t)(nl - (buf + pos));
		if (llen > 0 && buf[pos + llen - 1] == '\r')
			llen--;
		if (llen == 0) {
			ended = 1;
			break; /* anything after the empty line is the body's */
		}
		if (cgi_parse_line(h, buf + pos, llen, &seen_status) < 0)
			return -1;
		pos = (size_t)(nl - buf) + 1;
	}
	if (!ended)
		return -1;
	if (!seen_status && !h->location && !h->has_content_type)
		return -1;
	if (h->location && !seen_status) {
		const char *l = h->location;
		if (l[0] == '/' && !(h->location_len > 1 && l[1] == '/'))
			h->local_redirect = 1;
		else
			h->status = 302;
	}
	return 0;
}
