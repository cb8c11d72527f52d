/* parse.h: HTTP/1.1 request head parser and chunked body decoder (RFC 9112).
 *
 * Pure: no I/O, no allocation, no globals. The head parser is resumable: call
 * http_parse_head() again with the same buffer (same base pointer, more bytes
 * appended) after each read; each complete line is examined once, so the total
 * work is linear in the head's size however the bytes arrive. Every span in
 * struct http_head points into that buffer and is valid while it is.
 *
 * Errors are negative HTTP status codes (-400, -414, -431, -501, -505), so a
 * caller can answer with -ret directly.
 */
#ifndef HEARTH_HTTP_PARSE_H
#define HEARTH_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_PARTIAL 0 /* need more bytes */

struct span {
	const char *p;
	uint32_t len;
};

enum http_method {
	HTTP_M_OTHER = 0, /* a valid token we do not implement: 501 */
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_TRACE,
	HTTP_M_CONNECT,
	HTTP_M_PATCH,
};

struct http_field {
	struct span name;
	struct span value; /* leading/trailing whitespace trimmed */
};

/* Limits a peer cannot exceed. Zero fields take the defaults below. */
struct http_limits {
	uint32_t max_request_line; /* bytes incl. CRLF; over it: -414 */
	uint32_t max_head; /* whole head incl. request line; over it: -431 */
	uint32_t max_fields; /* header fields; over it: -431 */
};
#define HTTP_DEFAULT_MAX_REQUEST_LINE 8192u
#define HTTP_DEFAULT_MAX_HEAD 16384u
#define HTTP_DEFAULT_MAX_FIELDS 100u

/* Flags in http_head.flags. */
#define HTTP_F_CHUNKED 0x0001u /* Transfer-Encoding: chunked (last coding) */
#define HTTP_F_CLOSE 0x0002u /* Connection: close */
#define HTTP_F_KEEPALIVE 0x0004u /* Connection: keep-alive */
#define HTTP_F_EXPECT_100 0x0008u /* Expect: 100-continue */
#define HTTP_F_ABSOLUTE 0x0010u /* absolute-form target (host taken from it) */
#define HTTP_F_ASTERISK 0x0020u /* target is "*" (OPTIONS) */
#define HTTP_F_HAS_CL 0x0040u /* a Content-Length was present */

#define HTTP_MAX_FIELDS_HARD 128u

struct http_head {
	/* parser state: zero the struct (http_head_init) before the first call */
	uint32_t pos; /* start of the next unexamined line */
	uint32_t state; /* 0: request line, 1: fields, 2: done */
	uint32_t seen; /* parser-internal: fields seen once already */
	uint32_t scan; /* parser-internal: bytes of the current line already checked */
	uint32_t in_method; /* parser-internal: the current line is still in its method */
	const char *error; /* after an error: why, for the error log (static string) */

	enum http_method method;
	struct span method_str;
	struct span target; /* raw request-target */
	struct span path; /* origin-form path part of target (raw, undecoded) */
	struct span query; /* after '?', without it; len 0 when absent */
	struct span host; /* Host field value, or the authority of an absolute-form target */
	uint8_t version; /* 10 or 11 */
	uint32_t flags;
	int64_t content_length; /* -1 when absent */

	/* well-known fields, found during the parse (len 0 when absent; a field
	 * sent on several lines: the last, the others are in fields[]) */
	struct span if_none_match, if_match, if_modified_since, if_unmodified_since, if_range, range,
	    user_agent, referer, content_type;

	uint32_t nfields;
	struct http_field fields[HTTP_MAX_FIELDS_HARD];
};

void http_head_init(struct http_head *h);

/* Parse the head in buf[0..len). Returns the head's size in bytes (> 0) when it
 * is complete, HTTP_PARTIAL when more bytes are needed, or a negative status. */
int http_parse_head(struct http_head *h, const char *buf, size_t len, const struct http_limits *lim);

/* Look up a field by name (case-insensitive); NULL when absent. */
const struct http_field *http_head_field(const struct http_head *h, const char *name);

/* Does the comma-separated list in v contain token tok (case-insensitive)? */
int http_list_has(struct span v, const char *tok);

/* Chunked transfer coding (RFC 9112 §7.1), decoded in place. */
struct http_chunked {
	uint64_t remaining; /* bytes left in the current chunk's data */
	uint32_t state;
	uint32_t line_len; /* bytes of the current size/ext/trailer line seen */
	uint32_t trailer_bytes;
	uint32_t digits;
	uint32_t ext_bytes; /* chunk-extension bytes in the whole body */
};
#define HTTP_CHUNK_MAX_LINE 4096u /* chunk-size line with extensions */
#define HTTP_CHUNK_MAX_EXTS 16384u /* chunk extensions, all lines of a body together */
#define HTTP_CHUNK_MAX_TRAILERS 16384u /* trailer section */

void http_chunked_init(struct http_chunked *c);

/* Decode buf[0..len): the decoded data is written to buf[0..*out) (out <= consumed);
 * *consumed is the count of input bytes used. Returns 1 when the last chunk and
 * trailers are complete (bytes after *consumed belong to the next request),
 * 0 when all input was used and more is needed, -400 on a framing error. */
int http_chunked_decode(struct http_chunked *c, char *buf, size_t len, size_t *consumed, size_t *out);

/* Token character (RFC 9110 tchar)? */
int http_is_tchar(unsigned char c);

#endif
