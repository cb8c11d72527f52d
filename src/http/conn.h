/* conn.h: an HTTP connection and the exchange (request + response) in progress.
 *
 * A struct conn lives as long as the TCP connection and is kept small: an
 * idle keep-alive connection owns nothing else. While a request is being read
 * or answered it borrows a read buffer, a write buffer and a struct xfer from
 * the server's pools, and gives them back when it goes idle again.
 *
 * Handlers (static files today, FastCGI next) answer through the resp_*
 * functions: headers are written straight into the write buffer; the body is
 * memory, a file range, or a sequence of file ranges (multipart).
 */
#ifndef HEARTH_HTTP_CONN_H
#define HEARTH_HTTP_CONN_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "core/loop.h"
#include "core/pool.h"
#include "http/parse.h"
#include "http/range.h"

struct server;
struct fcgi_req;
struct fcgi_route;

enum conn_state {
	C_IDLE = 0, /* between requests: no buffers held */
	C_HEAD, /* receiving a request head */
	C_BODY, /* receiving (discarding) a request body */
	C_SEND, /* a response body is going out */
	C_LINGER, /* write side shut: draining input before close */
	C_FCGI, /* a FastCGI application is answering (fcgi/gateway.c) */
	C_PROXY, /* waiting for the PROXY protocol header */
};

enum { IO_DONE, IO_WAIT, IO_EOF, IO_ERROR, IO_YIELD };
enum route_status { ROUTE_STATIC = 0, ROUTE_FCGI = 1, ROUTE_HEALTH = 2 }; /* or an HTTP error status */

#define CF_READABLE 0x01u /* input may be waiting (no EAGAIN seen yet) */
#define CF_EOF 0x02u /* the peer closed its side */
#define CF_CLOSE 0x04u /* close once the output is flushed */
#define CF_CLOSED 0x08u /* closed; memory freed at the end of the turn */
#define CF_LINGER 0x10u /* on close: shut down writing, drain input first */
#define CF_WAIT_OUT 0x20u /* blocked on output */
#define CF_READY 0x40u /* on the server's ready list */
#define CF_RDHUP 0x80u /* the peer shut its side: read on until end of stream */

struct conn {
	struct watch w;
	struct timer timer;
	struct server *srv;
	struct buf *rbuf, *wbuf;
	struct xfer *x;
	struct conn *next; /* ready list / closed list / free list */
	uint32_t nreq;
	uint8_t state;
	uint8_t flags;
	uint8_t tq; /* which timer queue the timer is in (enum tq_id) */
	uint8_t listener;
	uint8_t admitted; /* counted by server_admit(): server_leave() on close */
	uint8_t watched; /* in the epoll set (added the first time it waits) */
	uint8_t proxy_no_client; /* a PROXY header named no client (UNKNOWN, LOCAL, AF_UNIX) */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} peer;
};

enum body_kind { BODY_NONE = 0, BODY_MEM, BODY_FILE, BODY_MULTIPART };

#define XF_CLOSE 0x01u /* close the connection after this response */
#define XF_HEAD 0x02u /* HEAD: headers only */
#define XF_ERROR 0x04u /* an error response: linger before closing */
#define XF_CHUNKED_IN 0x08u
#define XF_OVERFLOW 0x10u /* the head did not fit the write buffer */

#define XFER_PATH_MAX 4096

struct xfer {
	struct xfer *next_free;
	struct http_head head;
	uint32_t head_len; /* bytes of the head at rbuf->start; 0 while incomplete */
	uint32_t flags;
	/* request body being discarded */
	uint64_t body_left; /* Content-Length framing: bytes still to come */
	uint64_t body_total;
	uint64_t body_wire; /* chunked: bytes read, framing included */
	struct http_chunked chunked;
	/* response */
	int status;
	enum body_kind body;
	int fd;
	uint64_t file_off, file_left;
	uint64_t body_sent; /* body bytes handed to the kernel, for the log */
	char *mem; /* owned memory body (listings) */
	uint64_t mem_off, mem_len;
	uint32_t resp_start; /* where this response's head starts in wbuf (for rollback) */
	/* multipart/byteranges */
	struct byte_range ranges[RANGE_MAX];
	unsigned nranges, part;
	uint64_t fsize;
	const char *ctype;
	const struct site_conf *site; /* chosen by Host */
	int root_fd;
	int path_status; /* path_normalize() of the target: PATH_OK or an error */
	int route_status; /* enum route_status, or an HTTP error to answer with */
	const struct fcgi_route *route;
	struct fcgi_req *fcgi; /* the gateway's state, while C_FCGI */
	size_t script_len; /* SCRIPT_NAME is path[0..script_len) */
	unsigned redirects; /* local redirects followed (CGI Location) */
	char redirect_query[512]; /* the query of the last local redirect */
	int has_client; /* client: from X-Forwarded-For/Forwarded of a trusted peer */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} client;
	char path[XFER_PATH_MAX];
	size_t path_len;
};

/* ---- the response API for handlers ---- */

/* Begin a response with the status line and common headers. */
void resp_start(struct conn *c, int status);
/* One header line; value is written as is (callers pass safe bytes). */
void resp_header(struct conn *c, const char *name, const char *value);
void resp_header_n(struct conn *c, const char *name, const char *value, size_t n);
void resp_headerf(struct conn *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* End the head only (Content-Length when length >= 0, Connection, blank
 * line); the body follows from the caller. 0, or -1 when the head did not
 * fit and a 500 that closes the connection was written instead. */
int resp_end_head(struct conn *c, int64_t length);
/* End the head, with a body of len bytes copied from body (may be NULL when len is 0). */
void resp_end_mem(struct conn *c, const char *body, size_t len);
/* End the head with an owned malloc'd body; freed when sent. */
void resp_end_owned(struct conn *c, char *mem, size_t len);
/* End the head with bytes [off, off+len) of fd as body; fd is owned from now on. */
void resp_end_file(struct conn *c, int fd, uint64_t off, uint64_t len);
/* End the head with a multipart/byteranges body of x->ranges; fd is owned. */
void resp_end_multipart(struct conn *c, int fd);
/* A complete error response with a short HTML body. */
void resp_error(struct conn *c, int status);
/* End a started error response (after extra headers such as Allow) with its HTML body. */
void resp_end_error(struct conn *c);
const char *http_status_text(int status);

/* The client's address as text ("1.2.3.4", "::1", "unix:"): the peer, or
 * what a trusted proxy said (PROXY header, X-Forwarded-For). */
void conn_peer_host(const struct conn *c, char *out, size_t cap);
/* The client's port (0 when unknown). */
unsigned conn_peer_port(const struct conn *c);

/* ---- used by the server ---- */
void conn_start(struct server *s, int fd, const struct sockaddr *sa, socklen_t salen, unsigned listener);
void conn_on_timeout(struct loop *l, struct timer *t);
void conn_resume(struct conn *c); /* run again (from the ready list) */
void conn_stop_idle(struct conn *c); /* graceful stop: close if between requests */
void conn_abort(struct conn *c); /* close now */
/* Read from the client into rbuf (taking one if needed): IO_DONE, IO_WAIT, IO_EOF, IO_ERROR. */
int conn_read(struct conn *c);
/* Write wbuf out; more: MSG_MORE. IO_DONE, IO_WAIT or IO_ERROR. */
int conn_flush(struct conn *c, int more);
/* Run the connection's state machine (after events on its upstream). */
void conn_kick(struct conn *c);
void conn_later(struct conn *c); /* run at the end of this loop turn */

/* ---- used by handlers and the response code ---- */
/* The static-file handler (static.c). */
void static_handle(struct conn *c);
#endif
