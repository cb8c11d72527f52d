/* parse.c: the HTTP/1.1 request head parser and chunked decoder.
 *
 * The head is examined one complete line at a time; h->pos remembers where the
 * next unexamined line starts, so bytes that arrive one at a time cost no
 * re-parsing. Every rule here is from RFC 9112 / RFC 9110, applied strictly
 * where leniency would let two parsers disagree about where a message ends
 * (request smuggling): no whitespace before a colon, no obs-fold, no bare CR,
 * one Host, one Content-Length value, never both Content-Length and
 * Transfer-Encoding.
 */
#include "http/parse.h"

#include <string.h>

#include "core/text.h"

enum { ST_LINE = 0, ST_FIELDS = 1, ST_DONE = 2 };

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static const unsigned char tchar_map[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,  ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,  ['9'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,  ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,  ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,  ['a'] = 1, ['b'] = 1, ['c'] = 1,
    ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,  ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,  ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int http_is_tchar(unsigned char c)
{
	return tchar_map[c];
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int span_ieq(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != lower((unsigned char)lit[i]))
			return 0;
	return 1;
}

static int bad(struct http_head *h, int code, const char *why)
{
	h->error = why;
	return code;
}

void http_head_init(struct http_head *h)
{
	memset(h, 0, offsetof(struct http_head, fields));
	h->content_length = -1;
}

const struct http_field *http_head_field(const struct http_head *h, const char *name)
{
	for (uint32_t i = 0; i < h->nfields; i++)
		if (span_ieq(h->fields[i].name.p, h->fields[i].name.len, name))
			return &h->fields[i];
	return NULL;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Iterate the elements of a comma-separated list: returns 1 with *el set,
 * 0 at the end. Empty elements are skipped (RFC 9110 §5.6.1). */
static int list_next(const char **pp, const char *end, struct span *el)
{
	const char *p = *pp;
	for (;;) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p >= end) {
			*pp = p;
			return 0;
		}
		const char *s = p;
		while (p < end && *p != ',')
			p++;
		const char *e = p;
		while (e > s && is_ows(e[-1]))
			e--;
		*pp = p;
		el->p = s;
		el->len = (uint32_t)(e - s);
		return 1;
	}
}

int http_list_has(struct span v, const char *tok)
{
	const char *p = v.p, *end = v.p + v.len;
	struct span el;
	while (list_next(&p, end, &el))
		if (span_ieq(el.p, el.len, tok))
			return 1;
	return 0;
}

static enum http_method method_of(const char *p, size_t n)
{
	switch (n) {
	case 3:
		if (!memcmp(p, "GET", 3))
			return HTTP_M_GET;
		if (!memcmp(p, "PUT", 3))
			return HTTP_M_PUT;
		break;
	case 4:
		if (!memcmp(p, "HEAD", 4))
			return HTTP_M_HEAD;
		if (!memcmp(p, "POST", 4))
			return HTTP_M_POST;
		break;
	case 5:
		if (!memcmp(p, "TRACE", 5))
			return HTTP_M_TRACE;
		if (!memcmp(p, "PATCH", 5))
			return HTTP_M_PATCH;
		break;
	case 6:
		if (!memcmp(p, "DELETE", 6))
			return HTTP_M_DELETE;
		break;
	case 7:
		if (!memcmp(p, "OPTIONS", 7))
			return HTTP_M_OPTIONS;
		if (!memcmp(p, "CONNECT", 7))
			return HTTP_M_CONNECT;
		break;
	}
	return HTTP_M_OTHER;
}

/* host = IP-literal / IPv4address / reg-name, then [ ":" port ] (RFC 3986). */
static int host_valid(const char *p, size_t n)
{
	size_t i = 0;
	if (n > 0 && p[0] == '[') {
		for (i = 1; i < n && p[i] != ']'; i++) {
			char c = p[i];
			if (!((c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':' ||
			      c == '.'))
				return 0;
		}
		if (i >= n || i == 1)
			return 0;
		i++; /* ']' */
	} else {
		for (; i < n && p[i] != ':'; i++) {
			unsigned char c = (unsigned char)p[i];
			if (!((c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z') ||
			      strchr("-._~!$&'()*+,;=%", c)) ||
			    c == 0)
				return 0;
			/* pct-encoded = "%" HEXDIG HEXDIG */
			if (c == '%') {
				if (n - i < 3 || hex_digit((unsigned char)p[i + 1]) < 0 ||
				    hex_digit((unsigned char)p[i + 2]) < 0)
					return 0;
				i += 2;
			}
		}
	}
	if (i == n)
		return 1;
	if (p[i] != ':')
		return 0;
	i++;
	if (n - i > 5)
		return 0;
	unsigned port = 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		port = port * 10 + (unsigned)(p[i] - '0');
	}
	return port <= 65535;
}

/* Content-Length = 1*DIGIT. A list ("5, 5"), though RFC 9110 lets a
 * recipient accept identical values, is refused: plain digits only leaves no
 * room for two parsers to disagree. */
static int parse_content_length(struct span v, int64_t *out)
{
	if (v.len == 0 || v.len > 18)
		return -1;
	int64_t x = 0;
	for (uint32_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		x = x * 10 + (v.p[i] - '0');
	}
	*out = x;
	return 0;
}

/* Transfer-Encoding: we decode only chunked; it must be the final coding. */
static int parse_transfer_encoding(struct http_head *h, struct span v)
{
	const char *p = v.p, *end = v.p + v.len;
	struct span el;
	int n = 0, unknown = 0, unsupported = 0, chunked_last = 0;
	while (list_next(&p, end, &el)) {
		/* ignore parameters for the known-name check */
		uint32_t nl = 0;
		while (nl < el.len && el.p[nl] != ';' && !is_ows(el.p[nl]))
			nl++;
		for (uint32_t i = 0; i < nl; i++)
			if (!tchar_map[(unsigned char)el.p[i]])
				return bad(h, -400, "invalid Transfer-Encoding");
		n++;
		if (span_ieq(el.p, nl, "chunked")) {
			if (h->flags & HTTP_F_CHUNKED)
				return bad(h, -400, "chunked applied twice");
			h->flags |= HTTP_F_CHUNKED;
			chunked_last = 1;
			if (nl != el.len)
				return bad(h, -400, "parameters on chunked");
			continue;
		}
		chunked_last = 0;
		if (span_ieq(el.p, nl, "gzip") || span_ieq(el.p, nl, "x-gzip") ||
		    span_ieq(el.p, nl, "deflate") || span_ieq(el.p, nl, "compress") ||
		    span_ieq(el.p, nl, "x-compress"))
			unsupported = 1;
		else
			unknown = 1;
	}
	if (n == 0)
		return bad(h, -400, "empty Transfer-Encoding");
	if (unknown)
		return bad(h, -501, "unknown transfer coding");
	if (!chunked_last)
		return bad(h, -400, "Transfer-Encoding whose last coding is not chunked");
	if (unsupported)
		return bad(h, -501, "unsupported transfer coding");
	return 0;
}

static int field_value_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

#define SEEN_HOST 1u
#define SEEN_TE 2u

static int on_field(struct http_head *h, struct span name, struct span value)
{
	switch (name.len) {
	case 4:
		if (span_ieq(name.p, 4, "host")) {
			if (h->seen & SEEN_HOST)
				return bad(h, -400, "more than one Host");
			h->seen |= SEEN_HOST;
			if (!host_valid(value.p, value.len))
				return bad(h, -400, "invalid Host");
			/* with an absolute-form target, its authority wins (RFC 9112 §3.2.2) */
			if (!(h->flags & HTTP_F_ABSOLUTE))
				h->host = value;
		}
		break;
	case 5:
		if (span_ieq(name.p, 5, "range"))
			h->range = value;
		break;
	case 6:
		if (span_ieq(name.p, 6, "expect") && span_ieq(value.p, value.len, "100-continue"))
			h->flags |= HTTP_F_EXPECT_100;
		break;
	case 7:
		if (span_ieq(name.p, 7, "referer"))
			h->referer = value;
		break;
	case 8:
		if (span_ieq(name.p, 8, "if-match"))
			h->if_match = value;
		else if (span_ieq(name.p, 8, "if-range"))
			h->if_range = value;
		break;
	case 10:
		if (span_ieq(name.p, 10, "connection")) {
			if (http_list_has(value, "close"))
				h->flags |= HTTP_F_CLOSE;
			if (http_list_has(value, "keep-alive"))
				h->flags |= HTTP_F_KEEPALIVE;
		} else if (span_ieq(name.p, 10, "user-agent")) {
			h->user_agent = value;
		}
		break;
	case 12:
		if (span_ieq(name.p, 12, "content-type"))
			h->content_type = value;
		break;
	case 13:
		if (span_ieq(name.p, 13, "if-none-match"))
			h->if_none_match = value;
		break;
	case 14:
		if (span_ieq(name.p, 14, "content-length")) {
			int64_t v;
			if (parse_content_length(value, &v) < 0)
				return bad(h, -400, "Content-Length is not plain digits");
			if ((h->flags & HTTP_F_HAS_CL) && v != h->content_length)
				return bad(h, -400, "differing Content-Length values");
			h->content_length = v;
			h->flags |= HTTP_F_HAS_CL;
		}
		break;
	case 17:
		if (span_ieq(name.p, 17, "if-modified-since")) {
			h->if_modified_since = value;
		} else if (span_ieq(name.p, 17, "transfer-encoding")) {
			/* one field only: a split list is legal but only ever seen in attacks */
			if (h->seen & SEEN_TE)
				return bad(h, -400, "more than one Transfer-Encoding field");
			/* RFC 9112 §6.1: faulty framing in a 1.0 message (chunked is 1.1) */
			if (h->version == 10)
				return bad(h, -400, "Transfer-Encoding in an HTTP/1.0 request");
			h->seen |= SEEN_TE;
			return parse_transfer_encoding(h, value);
		}
		break;
	case 19:
		if (span_ieq(name.p, 19, "if-unmodified-since"))
			h->if_unmodified_since = value;
		break;
	}
	return 0;
}

static int parse_target(struct http_head *h)
{
	const char *t = h->target.p;
	uint32_t n = h->target.len;
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return bad(h, -400, "invalid byte in the request target");
	}
	const char *path = t;
	uint32_t plen = n;
	if (t[0] == '*') {
		if (n != 1 || h->method != HTTP_M_OPTIONS)
			return bad(h, -400, "asterisk target outside OPTIONS *");
		h->flags |= HTTP_F_ASTERISK;
		h->path.p = t;
		h->path.len = 1;
		return 0;
	}
	if (h->method == HTTP_M_CONNECT && t[0] != '/') {
		/* authority-form (RFC 9112 §3.2.3): host ":" port, a tunnel we do not
		 * open (not a proxy): well-formed is 501, anything else 400 */
		uint32_t colon = n;
		while (colon > 0 && t[colon - 1] != ':')
			colon--;
		if (colon <= 1 || colon == n || (t[0] == '[' && t[colon - 2] != ']') || !host_valid(t, n))
			return bad(h, -400, "malformed CONNECT target");
		return bad(h, -501, "CONNECT (not a proxy)");
	}
	if (t[0] != '/') {
		/* absolute-form: http(s)://authority[path-abempty][?query] */
		uint32_t skip;
		if (n > 7 && span_ieq(t, 7, "http://"))
			skip = 7;
		else if (n > 8 && span_ieq(t, 8, "https://"))
			skip = 8;
		else
			return bad(h, -400, "request target is neither origin- nor absolute-form");
		uint32_t a = skip;
		while (a < n && t[a] != '/' && t[a] != '?')
			a++;
		if (a == skip)
			return bad(h, -400, "absolute-form target without a host");
		for (uint32_t i = skip; i < a; i++)
			if (t[i] == '@')
				return bad(h, -400, "userinfo in the target");
		if (!host_valid(t + skip, a - skip))
			return bad(h, -400, "invalid host in the target");
		h->host.p = t + skip;
		h->host.len = a - skip;
		h->flags |= HTTP_F_ABSOLUTE;
		path = t + a;
		plen = n - a;
	}
	uint32_t q = 0;
	while (q < plen && path[q] != '?')
		q++;
	h->path.p = plen ? path : "/";
	h->path.len = q ? q : 1;
	if (q == 0 && plen > 0) {
		/* "http://h?x": the path is empty, meaning "/" */
		h->path.p = "/";
	}
	if (q < plen) {
		h->query.p = path + q + 1;
		h->query.len = plen - q - 1;
	}
	return 0;
}

static int parse_request_line(struct http_head *h, const char *p, uint32_t n)
{
	uint32_t i = 0;
	while (i < n && tchar_map[(unsigned char)p[i]])
		i++;
	if (i == 0 || i >= n || p[i] != ' ')
		return bad(h, -400, "malformed method");
	h->method_str.p = p;
	h->method_str.len = i;
	h->method = method_of(p, i);
	uint32_t ts = ++i;
	while (i < n && p[i] != ' ')
		i++;
	if (i == ts || i >= n)
		return bad(h, -400, "malformed request line");
	h->target.p = p + ts;
	h->target.len = i - ts;
	i++;
	const char *v = p + i;
	uint32_t vl = n - i;
	if (vl != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
	    v[7] > '9')
		return bad(h, -400, "malformed HTTP version");
	if (v[5] != '1')
		return bad(h, -505, "HTTP major version other than 1");
	/* RFC 9110 §2.5: a higher minor version is answered as the highest we speak */
	h->version = (uint8_t)(v[7] == '0' ? 10 : 11);
	return parse_target(h);
}

/* Checks that can be made on a line's first bytes, before its end arrives:
 * a CR not followed by LF, a non-token byte in the method, and the length
 * limit. The same checks run, in the same order, on a complete line, so a
 * request fed byte by byte gets exactly the verdict it gets when fed whole.
 * `avail` is where the known bytes of the line end (the '\n' when complete). */
static int line_prefix_check(struct http_head *h, const char *buf, uint32_t from, uint32_t avail,
                             int complete, uint32_t lim_end, int lim_err)
{
	uint32_t scan = avail < lim_end ? avail : lim_end;
	for (uint32_t i = from; i < scan; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\r' && i + 1 != avail)
			return bad(h, -400, "CR not followed by LF");
		if (h->in_method && !tchar_map[c]) {
			if (c != ' ' && c != '\r')
				return bad(h, -400, "invalid byte in the method");
			h->in_method = 0;
		}
	}
	if (complete ? avail >= lim_end : (avail > lim_end || (avail == lim_end && buf[avail - 1] != '\r')))
		return bad(h, lim_err,
		           lim_err == -414 ? "request line over the limit" : "header section over the limit");
	return 0;
}

int http_parse_head(struct http_head *h, const char *buf, size_t len, const struct http_limits *lim)
{
	uint32_t max_rl =
	    lim && lim->max_request_line ? lim->max_request_line : HTTP_DEFAULT_MAX_REQUEST_LINE;
	uint32_t max_head = lim && lim->max_head ? lim->max_head : HTTP_DEFAULT_MAX_HEAD;
	uint32_t max_fields = lim && lim->max_fields ? lim->max_fields : HTTP_DEFAULT_MAX_FIELDS;
	if (max_fields > HTTP_MAX_FIELDS_HARD)
		max_fields = HTTP_MAX_FIELDS_HARD;
	if (len > max_head + (size_t)max_rl)
		len = max_head + (size_t)max_rl; /* nothing past this can matter */

	if (h->state == ST_DONE)
		return bad(h, -400, "head already complete");
	for (;;) {
		uint32_t start = h->pos;
		uint32_t lim_end = max_head;
		int lim_err = -431;
		if (h->state == ST_LINE && start + max_rl <= max_head) {
			lim_end = start + max_rl;
			lim_err = -414;
		}
		/* bytes of this line checked by an earlier call are not looked at
		 * again: a head trickling in byte by byte costs linear work. scan ==
		 * start: nothing of this line checked yet (the first line starts at 0) */
		if (h->scan <= start) {
			h->scan = start;
			h->in_method = h->state == ST_LINE;
		}
		const char *nl = h->scan < len ? memchr(buf + h->scan, '\n', len - h->scan) : NULL;
		if (!nl) {
			int r = h->scan < len
			            ? line_prefix_check(h, buf, h->scan, (uint32_t)len, 0, lim_end, lim_err)
			            : 0;
			if (r < 0)
				return r;
			/* a CR at the very end is checked again once its next byte is known */
			if (len > start)
				h->scan = buf[len - 1] == '\r' ? (uint32_t)len - 1 : (uint32_t)len;
			return HTTP_PARTIAL;
		}
		uint32_t end = (uint32_t)(nl - buf); /* index of '\n' */
		int r = line_prefix_check(h, buf, h->scan, end, 1, lim_end, lim_err);
		if (r < 0)
			return r;
		uint32_t llen = end - start;
		if (llen > 0 && buf[end - 1] == '\r')
			llen--;
		const char *line = buf + start;
		h->pos = end + 1;

		if (h->state == ST_LINE) {
			if (llen == 0) {
				if (h->pos > 4)
					return bad(h, -400, "empty lines before the request line");
				continue;
			}
			r = parse_request_line(h, line, llen);
			if (r < 0)
				return r;
			h->state = ST_FIELDS;
			continue;
		}

		if (llen == 0) {
			if (h->version == 11 && !(h->seen & SEEN_HOST))
				return bad(h, -400, "HTTP/1.1 request without Host");
			if ((h->seen & SEEN_TE) && (h->flags & HTTP_F_HAS_CL))
				return bad(h, -400, "both Content-Length and Transfer-Encoding");
			h->state = ST_DONE;
			return (int)h->pos;
		}
		if (is_ows(line[0]))
			return bad(h, -400, "obs-fold or whitespace at the start of a field line");
		uint32_t c = 0;
		while (c < llen && tchar_map[(unsigned char)line[c]])
			c++;
		if (c == 0 || c >= llen || line[c] != ':')
			return bad(h, -400, "invalid field name, or whitespace before the colon");
		if (h->nfields >= max_fields)
			return bad(h, -431, "too many header fields");
		uint32_t vs = c + 1, ve = llen;
		while (vs < ve && is_ows(line[vs]))
			vs++;
		while (ve > vs && is_ows(line[ve - 1]))
			ve--;
		if (!field_value_ok(line + vs, ve - vs))
			return bad(h, -400, "control character in a field value");
		struct http_field *f = &h->fields[h->nfields++];
		f->name.p = line;
		f->name.len = c;
		f->value.p = line + vs;
		f->value.len = ve - vs;
		r = on_field(h, f->name, f->value);
		if (r < 0)
			return r;
	}
}

/* ---- chunked ---- */

enum {
	CH_SIZE = 0, /* hex digits */
	CH_EXT_BWS, /* whitespace after the size or an extension: ";" must follow */
	CH_EXT_SEMI, /* after ";" (and BWS): an extension name must follow */
	CH_EXT_NAME,
	CH_EXT_NAME_BWS, /* whitespace after a name: "=" or ";" */
	CH_EXT_EQ, /* after "=" (and BWS): a token or a quoted string */
	CH_EXT_TOKEN,
	CH_EXT_QUOTED,
	CH_EXT_QUOTED_PAIR, /* after a backslash inside quotes */
	CH_EXT_QUOTE_END, /* after the closing quote */
	CH_SIZE_LF, /* CR seen, LF expected */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START, /* start of a trailer line or the final empty line */
	CH_TRAILER_NAME,
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
};

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof *c);
}

/* qdtext and quoted-pair's second byte (RFC 9110 §5.6.4), obs-text included */
static int qdtext(unsigned char ch)
{
	return ch == '\t' || ch == ' ' || ch == 0x21 || (ch >= 0x23 && ch != 0x5c && ch != 0x7f);
}

/* One byte of a chunk extension (RFC 9112 §7.1.1):
 *   chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val = token / quoted-string
 * The next state, or -1 when the byte cannot be there. */
static int ext_next(uint32_t st, unsigned char ch)
{
	int ws = ch == ' ' || ch == '\t', tok = tchar_map[ch];
	switch (st) {
	case CH_EXT_BWS: return ws ? CH_EXT_BWS : ch == ';' ? CH_EXT_SEMI : -1;
	case CH_EXT_SEMI: return ws ? CH_EXT_SEMI : tok ? CH_EXT_NAME : -1;
	case CH_EXT_NAME:
		return tok          ? CH_EXT_NAME
		       : ws         ? CH_EXT_NAME_BWS
		       : ch == '='  ? CH_EXT_EQ
		       : ch == ';'  ? CH_EXT_SEMI
		       : ch == '\r' ? CH_SIZE_LF
		                    : -1;
	case CH_EXT_NAME_BWS:
		return ws ? CH_EXT_NAME_BWS : ch == '=' ? CH_EXT_EQ : ch == ';' ? CH_EXT_SEMI : -1;
	case CH_EXT_EQ: return ws ? CH_EXT_EQ : ch == '"' ? CH_EXT_QUOTED : tok ? CH_EXT_TOKEN : -1;
	case CH_EXT_TOKEN:
		return tok          ? CH_EXT_TOKEN
		       : ws         ? CH_EXT_BWS
		       : ch == ';'  ? CH_EXT_SEMI
		       : ch == '\r' ? CH_SIZE_LF
		                    : -1;
	case CH_EXT_QUOTED:
		return ch == '"'    ? CH_EXT_QUOTE_END
		       : ch == '\\' ? CH_EXT_QUOTED_PAIR
		       : qdtext(ch) ? CH_EXT_QUOTED
		                    : -1;
	case CH_EXT_QUOTED_PAIR: return qdtext(ch) || ch == '"' || ch == '\\' ? CH_EXT_QUOTED : -1;
	case CH_EXT_QUOTE_END:
		return ws ? CH_EXT_BWS : ch == ';' ? CH_EXT_SEMI : ch == '\r' ? CH_SIZE_LF : -1;
	}
	return -1;
}

int http_chunked_decode(struct http_chunked *c, char *buf, size_t len, size_t *consumed, size_t *out)
{
	size_t i = 0, o = 0;
	while (i < len) {
		unsigned char ch = (unsigned char)buf[i];
		switch (c->state) {
		case CH_SIZE: {
			int v = hex_digit(ch);
			if (v >= 0) {
				if (c->digits >= 16)
					return -400;
				c->remaining = (c->remaining << 4) | (uint64_t)v;
				c->digits++;
				c->line_len++;
				i++;
				break;
			}
			if (c->digits == 0)
				return -400;
			if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else if (ch == ';') {
				c->state = CH_EXT_SEMI;
			} else if (ch == ' ' || ch == '\t') {
				c->state = CH_EXT_BWS;
			} else {
				return -400;
			}
			c->line_len++;
			i++;
			break;
		}
		case CH_EXT_BWS:
		case CH_EXT_SEMI:
		case CH_EXT_NAME:
		case CH_EXT_NAME_BWS:
		case CH_EXT_EQ:
		case CH_EXT_TOKEN:
		case CH_EXT_QUOTED:
		case CH_EXT_QUOTED_PAIR:
		case CH_EXT_QUOTE_END: {
			int next = ext_next(c->state, ch);
			if (next < 0)
				return -400;
			c->state = (uint32_t)next;
			/* extensions are framing nobody reads: bounded per line and per
			 * body, or tiny chunks with long extensions would let a client
			 * send gigabytes while max-body-size counts a megabyte */
			if (++c->line_len > HTTP_CHUNK_MAX_LINE || ++c->ext_bytes > HTTP_CHUNK_MAX_EXTS)
				return -400;
			i++;
			break;
		}
		case CH_SIZE_LF:
			if (ch != '\n')
				return -400;
			i++;
			c->line_len = 0;
			c->digits = 0;
			c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
			break;
		case CH_DATA: {
			size_t n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (o != i)
				memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return -400;
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER_START:
			if (ch == '\r') {
				c->state = CH_FINAL_LF;
			} else if (!tchar_map[ch]) {
				return -400; /* obs-fold, an empty name, or not a token */
			} else {
				c->state = CH_TRAILER_NAME;
			}
			if (++c->trailer_bytes > HTTP_CHUNK_MAX_TRAILERS)
				return -400;
			i++;
			break;
		case CH_TRAILER_NAME:
			/* field-name ":" as in the head: no whitespace before the colon */
			if (ch == ':')
				c->state = CH_TRAILER;
			else if (!tchar_map[ch])
				return -400;
			if (++c->trailer_bytes > HTTP_CHUNK_MAX_TRAILERS)
				return -400;
			i++;
			break;
		case CH_TRAILER:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return -400;
			if (++c->trailer_bytes > HTTP_CHUNK_MAX_TRAILERS)
				return -400;
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return -400;
			c->state = CH_TRAILER_START;
			i++;
			break;
		case CH_FINAL_LF:
			if (ch != '\n')
				return -400;
			i++;
			c->state = CH_DONE;
			*consumed = i;
			*out = o;
			return 1;
		case CH_DONE:
			*consumed = i;
			*out = o;
			return 1;
		}
	}
	*consumed = i;
	*out = o;
	return c->state == CH_DONE ? 1 : 0;
}
