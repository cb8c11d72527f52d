/* conn.c: the life of an HTTP connection.
 *
 * conn_run() is the whole story, called on every readiness event:
 *   1. if a response body is going out (C_SEND), push it: write buffer first,
 *      then the file with sendfile, until done or EAGAIN;
 *   2. otherwise parse what has been read: every complete request is answered
 *      at once, its response appended to the write buffer, so the responses
 *      to pipelined requests leave together in one write;
 *   3. when nothing more can be done without input, flush the write buffer,
 *      then read until EAGAIN (edge-triggered: always drain).
 * Each state has one deadline (header, body, idle, send, linger), kept in the
 * server's FIFO timer queues.
 */
#include "http/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "fcgi/gateway.h"
#include "http/date.h"
#include "http/filecache.h"
#include "http/server.h"
#include "http/target.h"
#include "net/listen.h"
#include "net/proxy.h"
#include "stats/stats.h"

enum { R_PROGRESS, R_NEED_INPUT, R_NEED_FLUSH, R_CLOSED };

#define SENDFILE_CHUNK (256u << 10)
/* Work one connection may do per event before letting others run: one
 * sendfile chunk, so large downloads take turns a chunk at a time, the way a
 * level-triggered loop writes once per readiness (2 MiB per turn measured
 * 2.3-2.6 GB/s on the large workload, this 3.0-4.5). */
#define SEND_BUDGET (256u << 10)
/* Bytes one connection may read in one run before the others get their turn:
 * a client streaming a body (or anything the server drops) faster than it is
 * consumed would otherwise keep the worker, and its timers, to itself. */
#define READ_BUDGET (256u << 10)
/* Room a new response needs in the write buffer before it is started: a
 * head and the largest body copied in (a cached small file), so answering
 * never has to allocate. */
#define MIN_RESP_SPACE (FC_MAX_FILE + 2048u)

static void conn_run(struct conn *c);
static int ensure_watched(struct conn *c);
static void on_event(struct loop *l, struct watch *w, uint32_t events);

void conn_peer_host(const struct conn *c, char *out, size_t cap)
{
	if (c->x && c->x->has_client)
		sockaddr_format_host(&c->x->client.sa, out, cap);
	else
		sockaddr_format_host(&c->peer.sa, out, cap);
}

unsigned conn_peer_port(const struct conn *c)
{
	const struct sockaddr *sa = c->x && c->x->has_client ? &c->x->client.sa : &c->peer.sa;
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

/* The last address of X-Forwarded-For, or the for= of the last Forwarded
 * element, into out. 0, or -1 when absent or not an address. */
static int forwarded_client(const struct http_head *h, struct sockaddr_storage *out)
{
	char addr[64] = "";
	for (uint32_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];
		const char *v = f->value.p;
		size_t n = f->value.len;
		if (f->name.len == 15 && strncasecmp(f->name.p, "x-forwarded-for", 15) == 0) {
			const char *comma = memrchr(v, ',', n);
			const char *s = comma ? comma + 1 : v;
			while (s < v + n && (*s == ' ' || *s == '\t'))
				s++;
			size_t l = (size_t)(v + n - s);
			while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
				l--;
			if (l < sizeof addr) {
				memcpy(addr, s, l);
				addr[l] = '\0';
			}
		} else if (f->name.len == 9 && strncasecmp(f->name.p, "forwarded", 9) == 0) {
			const char *comma = memrchr(v, ',', n);
			const char *s = comma ? comma + 1 : v;
			const char *e = v + n;
			for (const char *p = s; p + 4 <= e; p++) {
				if (strncasecmp(p, "for=", 4) != 0)
					continue;
				p += 4;
				if (p < e && *p == '"')
					p++;
				if (p < e && *p == '[')
					p++;
				size_t l = 0;
				while (
				    p + l < e && p[l] != '"' && p[l] != ']' && p[l] != ';' && p[l] != ',' &&
				    p[l] != ' ' &&
				    !(p[l] == ':' && !memchr(p, ']', (size_t)(e - p)) && memchr(p, '.', l)))
					l++;
				if (l < sizeof addr) {
					memcpy(addr, p, l);
					addr[l] = '\0';
				}
				break;
			}
		}
	}
	if (!addr[0])
		return -1;
	memset(out, 0, sizeof *out);
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

static void set_timer(struct conn *c, enum tq_id id)
{
	c->tq = (uint8_t)id;
	timer_arm(&c->srv->tq[id], &c->timer);
}

/* ---- closing ---- */

static void release_xfer(struct conn *c)
{
	struct xfer *x = c->x;
	if (!x)
		return;
	if (x->fcgi)
		fcgi_release(c);
	if (x->fd >= 0)
		close(x->fd);
	free(x->mem);
	x->mem = NULL;
	x->fd = -1;
	server_xfer_put(c->srv, x);
	c->x = NULL;
}

static void release_buffers(struct conn *c)
{
	pool_put(&c->srv->bufs, c->rbuf);
	pool_put(&c->srv->bufs, c->wbuf);
	c->rbuf = c->wbuf = NULL;
}

static void conn_close(struct conn *c)
{
	if (c->flags & CF_CLOSED)
		return;
	c->flags |= CF_CLOSED;
	if (c->admitted)
		server_leave(c->srv, &c->peer.sa);
	timer_disarm(&c->timer);
	release_xfer(c);
	release_buffers(c);
	/* no EPOLL_CTL_DEL: the socket is this process's alone, and closing it
	 * takes it out of the epoll set */
	close(c->w.fd);
	c->w.fd = -1;
	server_conn_release(c->srv, c);
}

void conn_abort(struct conn *c)
{
	conn_close(c);
}

/* Close the write side, then read and drop whatever the client still sends
 * for a short while: closing with unread input would make the kernel send a
 * reset that can destroy the response before the client reads it. */
static void conn_linger(struct conn *c)
{
	if (shutdown(c->w.fd, SHUT_WR) < 0 || (c->flags & CF_EOF)) {
		conn_close(c);
		return;
	}
	if (ensure_watched(c) < 0)
		return;
	release_xfer(c);
	pool_put(&c->srv->bufs, c->wbuf);
	c->wbuf = NULL;
	c->state = C_LINGER;
	set_timer(c, TQ_LINGER);
	c->flags |= CF_READABLE;
	conn_run(c);
}

void conn_stop_idle(struct conn *c)
{
	if (c->flags & CF_CLOSED)
		return;
	if (c->state == C_HEAD && c->nreq == 0 && (!c->rbuf || buf_avail(c->rbuf) == 0)) {
		/* accepted, request not here yet: it may be on its way, and this client
		 * cannot know to retry elsewhere. A short grace, then a quiet close. */
		set_timer(c, TQ_LINGER);
		return;
	}
	if (c->state != C_IDLE)
		return; /* mid-request: it finishes, its response says close */
	/* anything that arrived is answered first (the response says close) */
	c->flags |= CF_READABLE;
	conn_run(c);
	if (!(c->flags & CF_CLOSED) && c->state == C_IDLE) {
		/* FIN, then drain: a request racing with this close meets an orderly
		 * end of stream, which clients retry, never a reset */
		conn_linger(c);
	}
}

/* ---- access log ---- */

/* Untrusted bytes into the access log line at out (core/log.c escapes them);
 * returns the length written. */
static size_t log_escape(char *out, const char *s, size_t n, size_t cap)
{
	return strlen(log_clean(out, cap, s, n));
}

static void access_log(struct conn *c, struct xfer *x)
{
	struct server *s = c->srv;
	stat_add(&s->stats->requests, 1);
	if (x->status >= 100 && x->status < 600)
		stat_add(&s->stats->status[x->status / 100], 1);
	if (!log_access_on())
		return;
	char *p = log_access_reserve(4096);
	if (!p)
		return;
	size_t o = 0, cap = 4096;
	char host[64];
	conn_peer_host(c, host, sizeof host);
	o += (size_t)snprintf(p + o, cap - o, "%s - - [%s] \"", host, clock_cache.log_time);
	/* the request line as received: from the method to the end of the version */
	const struct http_head *h = &x->head;
	const char *rl = NULL;
	size_t rl_len = 0;
	if (h->method_str.p && h->state != 0) {
		rl = h->method_str.p;
		rl_len = (size_t)(h->target.p + h->target.len - rl) + 9;
	} else if (c->rbuf && buf_avail(c->rbuf)) {
		/* a request that failed to parse: log its first line, raw */
		rl = c->rbuf->data + c->rbuf->start;
		const char *e = memchr(rl, '\n', buf_avail(c->rbuf));
		rl_len = e ? (size_t)(e - rl) : buf_avail(c->rbuf);
		if (rl_len && rl[rl_len - 1] == '\r')
			rl_len--;
	}
	if (rl_len > 1024)
		rl_len = 1024;
	o += log_escape(p + o, rl, rl_len, 1500);
	o += (size_t)snprintf(p + o, cap - o, "\" %d %llu \"", x->status, (unsigned long long)x->body_sent);
	if (h->referer.len && h->state == 2)
		o += log_escape(p + o, h->referer.p, h->referer.len > 512 ? 512 : h->referer.len, 1100);
	else
		p[o++] = '-';
	memcpy(p + o, "\" \"", 3);
	o += 3;
	if (h->user_agent.len && h->state == 2)
		o += log_escape(p + o, h->user_agent.p, h->user_agent.len > 512 ? 512 : h->user_agent.len,
		                1100);
	else
		p[o++] = '-';
	p[o++] = '"';
	p[o++] = '\n';
	log_access_commit(o);
}

/* The exchange is over (its response is fully written or buffered). */
static void finish_exchange(struct conn *c)
{
	struct xfer *x = c->x;
	access_log(c, x);
	/* a graceful stop began while this was in flight: no next request */
	if ((x->flags & XF_CLOSE) || c->srv->stopping)
		c->flags |= CF_CLOSE;
	if (x->flags & XF_ERROR)
		c->flags |= CF_LINGER;
	struct buf *rb = c->rbuf;
	if (rb) {
		rb->start += x->head_len;
		if (rb->start >= rb->len)
			rb->start = rb->len = 0;
	}
	release_xfer(c);
	c->state = (rb && buf_avail(rb)) ? C_HEAD : C_IDLE;
}

/* ---- output ---- */

int conn_flush(struct conn *c, int more)
{
	struct buf *wb = c->wbuf;
	while (wb && buf_avail(wb)) {
		ssize_t n =
		    send(c->w.fd, wb->data + wb->start, buf_avail(wb), MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return IO_WAIT;
			return IO_ERROR;
		}
		wb->start += (uint32_t)n;
		stat_add(&c->srv->stats->bytes_out, (uint64_t)n);
	}
	if (wb)
		wb->start = wb->len = 0;
	return IO_DONE;
}

/* Queue the next part header of a multipart body into wbuf and point the
 * file range at that part; after the last part, the closing boundary. */
static void multipart_next(struct conn *c)
{
	struct xfer *x = c->x;
	struct buf *wb = c->wbuf;
	char *p = wb->data + wb->len;
	size_t room = buf_space(wb);
	int n;
	if (x->part < x->nranges) {
		const struct byte_range *r = &x->ranges[x->part];
		n = snprintf(p, room,
		             "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
		             c->srv->boundary, x->ctype, (unsigned long long)r->first,
		             (unsigned long long)r->last, (unsigned long long)x->fsize);
		x->file_off = r->first;
		x->file_left = r->last - r->first + 1;
		x->part++;
	} else {
		n = snprintf(p, room, "\r\n--%s--\r\n", c->srv->boundary);
		x->part++;
	}
	wb->len += (uint32_t)n;
	x->body_sent += (uint64_t)n;
}

/* Push the current response out. IO_DONE when all of it is with the kernel. */
static int send_response(struct conn *c, uint64_t *budget)
{
	struct xfer *x = c->x;
	for (;;) {
		int file_pending = x->body == BODY_FILE || x->body == BODY_MULTIPART ? x->file_left > 0 : 0;
		int r = conn_flush(c, file_pending || (x->body == BODY_MEM && x->mem_off < x->mem_len));
		if (r != IO_DONE)
			return r;
		if (file_pending) {
			/* 256 KiB a call: about what a socket takes at once, so calls
			 * rarely end in EAGAIN and the pages stay warm in the cache */
			size_t want = x->file_left > SENDFILE_CHUNK ? SENDFILE_CHUNK : (size_t)x->file_left;
			if (want > *budget)
				want = *budget;
			off_t off = (off_t)x->file_off;
			ssize_t n = sendfile(c->w.fd, x->fd, &off, want);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return IO_WAIT;
				log_info("sendfile: %s", strerror(errno));
				return IO_ERROR;
			}
			if (n == 0) {
				log_warn("file shrank while being sent (%s)", x->path);
				return IO_ERROR; /* Content-Length can no longer be honoured */
			}
			x->file_off += (uint64_t)n;
			x->file_left -= (uint64_t)n;
			x->body_sent += (uint64_t)n;
			stat_add(&c->srv->stats->bytes_out, (uint64_t)n);
			*budget -= (uint64_t)n;
			if ((size_t)n < want && x->file_left)
				return IO_WAIT; /* the socket is full: its next writable edge brings us back
				                 */
			if (*budget == 0)
				return IO_YIELD; /* let the others run */
			continue;
		}
		if (x->body == BODY_MEM && x->mem_off < x->mem_len) {
			ssize_t n = send(c->w.fd, x->mem + x->mem_off, x->mem_len - x->mem_off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return errno == EAGAIN ? IO_WAIT : IO_ERROR;
			}
			x->mem_off += (uint64_t)n;
			x->body_sent += (uint64_t)n;
			stat_add(&c->srv->stats->bytes_out, (uint64_t)n);
			continue;
		}
		if (x->body == BODY_MULTIPART && x->part <= x->nranges) {
			multipart_next(c);
			continue;
		}
		return IO_DONE;
	}
}

/* ---- input ---- */

int conn_read(struct conn *c)
{
	struct server *s = c->srv;
	if (!c->rbuf) {
		c->rbuf = pool_get(&s->bufs);
		if (!c->rbuf)
			return IO_ERROR;
	}
	struct buf *rb = c->rbuf;
	if (buf_space(rb) == 0)
		return IO_WAIT; /* nothing can be taken until a response frees room */
	for (;;) {
		size_t space = buf_space(rb);
		ssize_t n = recv(c->w.fd, rb->data + rb->len, space, 0);
		if (n > 0) {
			rb->len += (uint32_t)n;
			stat_add(&s->stats->bytes_in, (uint64_t)n);
			/* a short read drained the socket: the next arrival is a new edge;
			 * but a shutdown already signalled brings no new edge, so then
			 * read on until the end of the stream shows */
			if ((size_t)n < space && !(c->flags & CF_RDHUP))
				c->flags &= (uint8_t)~CF_READABLE;
			return IO_DONE;
		}
		if (n == 0) {
			c->flags |= CF_EOF;
			c->flags &= (uint8_t)~CF_READABLE;
			return IO_EOF;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			c->flags &= (uint8_t)~CF_READABLE;
			return IO_WAIT;
		}
		return IO_ERROR;
	}
}

/* Answer now with an error and close after it; why goes to the error log. */
static int fail(struct conn *c, int status, const char *why)
{
	struct xfer *x = c->x;
	x->flags |= XF_CLOSE | XF_ERROR;
	enum log_level lvl = status >= 500 && status != 501 && status != 505 ? LOG_ERROR : LOG_INFO;
	if (log_enabled(lvl)) {
		char host[64];
		conn_peer_host(c, host, sizeof host);
		log_msg(lvl, "client %s: %d %s: %s", host, status, http_status_text(status),
		        why ? why : "malformed request");
	}
	resp_error(c, status);
	if (!c->wbuf) {
		conn_close(c);
		return R_CLOSED;
	}
	finish_exchange(c);
	return R_PROGRESS;
}

/* After the head: connection decisions, the site, the clean path, and
 * whether a FastCGI application answers. */
static void prepare_request(struct conn *c)
{
	struct xfer *x = c->x;
	const struct http_head *h = &x->head;
	const struct settings *cfg = c->srv->cfg;
	if ((h->version == 10 && !(h->flags & HTTP_F_KEEPALIVE)) || (h->flags & HTTP_F_CLOSE) ||
	    c->nreq >= cfg->keepalive_requests || c->srv->stopping || (c->flags & CF_EOF))
		x->flags |= XF_CLOSE;
	if (h->method == HTTP_M_HEAD)
		x->flags |= XF_HEAD;
	if (c->srv->draining)
		x->flags |= XF_CLOSE; /* leaving: the balancer should send this client elsewhere */
	if (cfg->trust_forwarded && conf_peer_trusted(cfg, &c->peer.sa)) {
		struct sockaddr_storage ss;
		/* after a PROXY header that named no client, c->peer is the
		 * balancer's, and a forwarded address came from whoever the client
		 * is: never believed */
		if (!c->proxy_no_client && forwarded_client(h, &ss) == 0) {
			memcpy(&x->client, &ss, sizeof x->client);
			x->has_client = 1;
		}
	}
	x->site = conf_site_for_host(cfg, h->host.p, h->host.p ? h->host.len : 0);
	x->root_fd = c->srv->root_fds[conf_site_index(cfg, x->site)];
	if (!(h->flags & HTTP_F_ASTERISK))
		x->path_status =
		    path_normalize(h->path.p, h->path.len, x->path, sizeof x->path, &x->path_len);
	if (cfg->health && x->path_status == PATH_OK && strcmp(x->path, cfg->health) == 0 &&
	    (h->method == HTTP_M_GET || h->method == HTTP_M_HEAD)) {
		x->route_status = ROUTE_HEALTH;
		return;
	}
	if (x->path_status == PATH_OK && x->site->nroutes && !(h->flags & HTTP_F_ASTERISK) &&
	    h->method != HTTP_M_OTHER)
		x->route_status = fcgi_route(c);
}

/* Answer from the file system (or with the error already decided). */
static int respond_static(struct conn *c)
{
	struct xfer *x = c->x;
	if (x->route_status == ROUTE_HEALTH) {
		/* a retiring generation is not the node going down: ok until the end */
		int down = (c->srv->stopping && !c->srv->retiring) || c->srv->draining;
		resp_start(c, down ? 503 : 200);
		resp_header(c, "Content-Type", "text/plain; charset=utf-8");
		resp_header(c, "Cache-Control", "no-store");
		resp_end_mem(c, down ? "draining\n" : "ok\n", down ? 9 : 3);
	} else {
		static_handle(c);
	}
	if (!c->wbuf) {
		conn_close(c); /* out of memory for a write buffer */
		return R_CLOSED;
	}
	if (x->body == BODY_NONE) {
		finish_exchange(c);
	} else {
		c->state = C_SEND;
		set_timer(c, TQ_SEND);
	}
	return R_PROGRESS;
}

/* A CGI application asked for another local resource (RFC 3875 §6.2.2):
 * answer with it, as a GET without a body, in the same exchange. */
static int redirect_local(struct conn *c)
{
	struct xfer *x = c->x;
	fcgi_release(c);
	x->head.method = HTTP_M_GET; /* REQUEST_METHOD says GET; HEAD stays bodiless */
	if (x->head.flags & (HTTP_F_CHUNKED | HTTP_F_HAS_CL))
		x->flags |= XF_CLOSE; /* what is left of the body is not worth resynchronising */
	x->route_status = x->site->nroutes ? fcgi_route(c) : ROUTE_STATIC;
	if (x->route_status == ROUTE_FCGI) {
		if (fcgi_start(c) < 0)
			return fail(c, 500, "cannot start the FastCGI request");
		return R_PROGRESS;
	}
	c->state = C_HEAD;
	return respond_static(c);
}

/* Drop body bytes [p, p+n) from the read buffer, keeping what follows. */
static void drop_bytes(struct buf *rb, uint32_t at, uint32_t n)
{
	memmove(rb->data + at, rb->data + at + n, rb->len - at - n);
	rb->len -= n;
}

static int body_input(struct conn *c)
{
	struct xfer *x = c->x;
	struct buf *rb = c->rbuf;
	uint32_t at = rb->start + x->head_len;
	uint32_t avail = rb->len - at;
	if (x->flags & XF_CHUNKED_IN) {
		size_t used = 0, out = 0;
		int r = http_chunked_decode(&x->chunked, rb->data + at, avail, &used, &out);
		if (r < 0)
			return fail(c, 400, "malformed chunked body");
		x->body_total += out;
		x->body_wire += used;
		drop_bytes(rb, at, (uint32_t)used);
		if (x->body_total > c->srv->cfg->max_body_size)
			return fail(c, 413, "chunked body over --max-body-size");
		/* the framing counts too: tiny chunks must not multiply what the
		 * limit lets through (up to 21 wire bytes per body byte) */
		if (x->body_wire > c->srv->cfg->max_body_size * 2 + 65536)
			return fail(c, 413, "chunked framing over --max-body-size");
		if (r == 0)
			return R_NEED_INPUT;
	} else {
		uint32_t n = avail < x->body_left ? avail : (uint32_t)x->body_left;
		x->body_left -= n;
		x->body_total += n;
		drop_bytes(rb, at, n);
		if (x->body_left)
			return R_NEED_INPUT;
	}
	c->state = C_HEAD;
	return respond_static(c);
}

static int process_input(struct conn *c)
{
	struct server *s = c->srv;
	if (c->state == C_BODY)
		return body_input(c);
	struct buf *rb = c->rbuf;
	if (!rb || buf_avail(rb) == 0)
		return R_NEED_INPUT;
	if (c->flags & CF_CLOSE)
		return R_NEED_INPUT; /* no more requests on this connection */
	if (c->wbuf && buf_avail(c->wbuf) && buf_space(c->wbuf) < MIN_RESP_SPACE)
		return R_NEED_FLUSH;
	if (!c->x) {
		c->x = server_xfer_get(s);
		if (!c->x) {
			log_error("out of memory for a request");
			conn_close(c);
			return R_CLOSED;
		}
		http_head_init(&c->x->head);
		if (c->state != C_HEAD || c->tq != TQ_HEADER) {
			c->state = C_HEAD;
			set_timer(c, TQ_HEADER);
		}
		buf_compact(rb);
	}
	struct xfer *x = c->x;
	int r = http_parse_head(&x->head, rb->data + rb->start, buf_avail(rb), &s->limits);
	if (r == HTTP_PARTIAL) {
		if (c->flags & CF_EOF) {
			conn_close(c); /* a request cut short: nobody to answer */
			return R_CLOSED;
		}
		return R_NEED_INPUT;
	}
	if (r < 0)
		return fail(c, -r, x->head.error);
	x->head_len = (uint32_t)r;
	c->nreq++;
	const struct http_head *h = &x->head;
	prepare_request(c);
	if (x->route_status == ROUTE_FCGI) {
		uint64_t max = x->route->max_body ? x->route->max_body : s->cfg->max_body_size;
		if (h->content_length > 0 && (uint64_t)h->content_length > max)
			return fail(c, 413, "Content-Length over the route's max-body");
		c->state = C_FCGI;
		timer_disarm(&c->timer); /* the gateway's deadlines rule now */
		c->tq = TQ_NONE;
		int fr = fcgi_start(c);
		if (fr < 0)
			return fail(c, 500, "cannot start the FastCGI request");
		return R_PROGRESS;
	}
	if (h->flags & HTTP_F_CHUNKED) {
		x->flags |= XF_CHUNKED_IN;
		http_chunked_init(&x->chunked);
	} else if (h->content_length > 0) {
		if ((uint64_t)h->content_length > s->cfg->max_body_size)
			return fail(c, 413, "Content-Length over --max-body-size");
		x->body_left = (uint64_t)h->content_length;
	} else {
		return respond_static(c);
	}
	/* an HTTP/1.0 client's expectation is ignored (RFC 9110 §10.1.1): it
	 * sends the body anyway, which is read as usual */
	if ((h->flags & HTTP_F_EXPECT_100) && h->version >= 11 && buf_avail(rb) == x->head_len) {
		/* the client waits for our word before sending the body: answer now
		 * (the static handler never needs it) and close, never read it */
		x->flags |= XF_CLOSE;
		return respond_static(c);
	}
	c->state = C_BODY;
	set_timer(c, TQ_BODY);
	return body_input(c);
}

/* ---- the driver ---- */

/* Into the epoll set, the first time the connection waits. Adding reports
 * what is already ready (edge-triggered too), so nothing that arrived since
 * the last read is missed. */
static int ensure_watched(struct conn *c)
{
	if (c->watched)
		return 0;
	if (loop_watch(c->srv->loop, &c->w, c->w.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_event) < 0) {
		log_warn("epoll_ctl: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	c->watched = 1;
	return 0;
}

static void wait_for_io(struct conn *c)
{
	if (ensure_watched(c) < 0)
		return;
	if (c->flags & CF_WAIT_OUT) {
		set_timer(c, TQ_SEND);
		return;
	}
	switch (c->state) {
	case C_IDLE:
		if (c->tq != TQ_IDLE || !timer_armed(&c->timer))
			set_timer(c, TQ_IDLE);
		break;
	case C_HEAD:
	case C_PROXY:
		if (c->tq != TQ_HEADER || !timer_armed(&c->timer))
			set_timer(c, TQ_HEADER);
		break;
	case C_BODY: set_timer(c, TQ_BODY); break;
	case C_FCGI:
		if (c->flags & CF_WAIT_OUT) {
			/* the client is slow to take the response: --timeout-send,
			 * counted again at each wakeup (one comes when it reads) */
			set_timer(c, TQ_SEND);
		} else if (fcgi_body_wait(c)) {
			/* a FastCGI request body: --timeout-body between reads, as above */
			if (c->tq != TQ_BODY || !timer_armed(&c->timer))
				set_timer(c, TQ_BODY);
		} else if (c->tq == TQ_BODY || c->tq == TQ_SEND) {
			timer_disarm(&c->timer); /* the gateway's deadlines rule */
			c->tq = TQ_NONE;
		}
		break;
	default: break;
	}
	/* waiting holds no empty buffer: a quiet connection costs only its struct */
	if (c->rbuf && buf_avail(c->rbuf) == 0 && !c->x) {
		pool_put(&c->srv->bufs, c->rbuf);
		c->rbuf = NULL;
	}
	if (c->wbuf && buf_avail(c->wbuf) == 0) {
		pool_put(&c->srv->bufs, c->wbuf);
		c->wbuf = NULL;
	}
}

/* A short answer sent as the connection closes, with no exchange behind it
 * (a refused connection, a timeout): status line, Server, Date, then tail. */
static void send_canned(struct conn *c, const char *status, const char *tail)
{
	char out[256];
	int n = snprintf(out, sizeof out, "HTTP/1.1 %s\r\nServer: hearth\r\nDate: %.*s\r\n%s", status,
	                 HTTP_DATE_LEN, clock_cache.http_date, tail);
	if (n > 0 && (size_t)n < sizeof out) {
		ssize_t w = send(c->w.fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
}

/* The connection limits, once the client's address is known. 0 admitted,
 * -1 refused (a short answer, then closed). */
static int admit(struct conn *c)
{
	struct server *s = c->srv;
	if (!s->cfg->max_connections && !s->cfg->max_connections_per_client)
		return 0;
	int r = server_admit(s, &c->peer.sa);
	if (r == 0) {
		c->admitted = s->cfg->max_connections_per_client != 0;
		return 0;
	}
	/* under a flood, one line a second says it all */
	static uint64_t last_ms, suppressed;
	if (clock_cache.now_ms - last_ms >= 1000 || !last_ms) {
		char host[64];
		sockaddr_format_host(&c->peer.sa, host, sizeof host);
		log_msg(LOG_WARN, "client %s: refused, %s (%llu more refused since the last such line)", host,
		        r == 429 ? "--max-connections-per-client reached" : "--max-connections reached",
		        (unsigned long long)suppressed);
		last_ms = clock_cache.now_ms;
		suppressed = 0;
	} else {
		suppressed++;
	}
	send_canned(c, r == 429 ? "429 Too Many Requests" : "503 Service Unavailable",
	            "Retry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	conn_close(c);
	return -1;
}

/* The PROXY header of a ":proxy" listener: the real client's address.
 * 0 (state C_HEAD once decoded, else still C_PROXY: wait), -1 closed. */
static int proxy_input(struct conn *c)
{
	for (;;) {
		struct buf *rb = c->rbuf;
		if (rb && buf_avail(rb)) {
			struct proxy_info pi;
			int n = proxy_decode((const uint8_t *)rb->data + rb->start, buf_avail(rb), &pi);
			if (n > 0) {
				if (!pi.local && pi.srclen && pi.srclen <= sizeof c->peer)
					memcpy(&c->peer, &pi.src, pi.srclen);
				c->proxy_no_client =
				    pi.local || (pi.src.ss_family != AF_INET && pi.src.ss_family != AF_INET6);
				rb->start += (uint32_t)n;
				if (rb->start == rb->len)
					rb->start = rb->len = 0;
				c->state = C_HEAD;
				return admit(c);
			}
			if (n < 0) {
				char host[64];
				sockaddr_format_host(&c->peer.sa, host, sizeof host);
				log_info("client %s: missing or malformed PROXY protocol header, closing",
				         host);
				conn_close(c);
				return -1;
			}
		}
		if (!(c->flags & CF_READABLE))
			return 0;
		int r = conn_read(c);
		if (r == IO_WAIT)
			return 0;
		if (r != IO_DONE) {
			conn_close(c);
			return -1;
		}
	}
}

static void make_ready(struct conn *c)
{
	if (c->flags & CF_READY)
		return;
	c->flags |= CF_READY;
	c->next = c->srv->ready;
	c->srv->ready = c;
}

static void conn_run(struct conn *c)
{
	uint64_t budget = SEND_BUDGET;
	uint32_t read_left = READ_BUDGET;
	while (!(c->flags & CF_CLOSED)) {
		if (c->state == C_LINGER) {
			char sink[4096];
			ssize_t n = 0;
			for (uint32_t k = 0; k < READ_BUDGET / sizeof sink; k++)
				if ((n = recv(c->w.fd, sink, sizeof sink, 0)) <= 0)
					break;
			if (n > 0) {
				make_ready(c); /* more to drain: after the others */
				return;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(c);
			return;
		}
		if (c->state == C_PROXY) {
			if (proxy_input(c) < 0)
				return;
			if (c->state == C_PROXY) {
				wait_for_io(c);
				return;
			}
			continue;
		}
		if (c->state == C_FCGI) {
			int r = fcgi_drive(c);
			if (r == FCGI_WAIT) {
				wait_for_io(c);
				return;
			}
			if (r == FCGI_CLOSE) {
				conn_close(c);
				return;
			}
			if (r == FCGI_REDIRECT) {
				r = redirect_local(c);
				if (r == R_CLOSED)
					return;
				continue;
			}
			fcgi_release(c);
			c->state = C_HEAD;
			finish_exchange(c);
			continue;
		}
		if (c->state == C_SEND) {
			int r = send_response(c, &budget);
			if (r == IO_WAIT) {
				c->flags |= CF_WAIT_OUT;
				wait_for_io(c);
				return;
			}
			if (r == IO_YIELD) {
				set_timer(c, TQ_SEND); /* progress was made */
				make_ready(c);
				return;
			}
			if (r == IO_ERROR) {
				conn_close(c);
				return;
			}
			c->flags &= (uint8_t)~CF_WAIT_OUT;
			finish_exchange(c);
			continue;
		}
		int r = process_input(c);
		if (r == R_CLOSED)
			return;
		if (r == R_PROGRESS)
			continue;
		/* nothing more to do without input (or without room to write) */
		if (c->wbuf && buf_avail(c->wbuf)) {
			/* closing next: MSG_MORE holds the last segment back for the
			 * microsecond until close() (or the lingering shutdown), which
			 * then sends it with the FIN on it, one segment fewer per
			 * connection (`close`: +7-10% req/s; docs/performance.md) */
			int w = conn_flush(c, (c->flags & CF_CLOSE) != 0);
			if (w == IO_WAIT) {
				c->flags |= CF_WAIT_OUT;
				wait_for_io(c);
				return;
			}
			if (w == IO_ERROR) {
				conn_close(c);
				return;
			}
			c->flags &= (uint8_t)~CF_WAIT_OUT;
			if (r == R_NEED_FLUSH)
				continue;
		}
		if (c->flags & CF_CLOSE) {
			if ((c->flags & CF_LINGER) || (c->rbuf && buf_avail(c->rbuf)))
				conn_linger(c);
			else
				conn_close(c);
			return;
		}
		if (c->flags & CF_EOF) {
			conn_close(c);
			return;
		}
		if (!(c->flags & CF_READABLE)) {
			wait_for_io(c);
			return;
		}
		if (read_left == 0) {
			make_ready(c); /* still readable: the rest after the others */
			return;
		}
		uint32_t before = c->rbuf ? c->rbuf->len : 0;
		int rr = conn_read(c);
		if (c->rbuf && c->rbuf->len > before) {
			uint32_t got = c->rbuf->len - before;
			read_left = got < read_left ? read_left - got : 0;
		}
		if (rr == IO_ERROR) {
			conn_close(c);
			return;
		}
		if (rr == IO_WAIT) {
			wait_for_io(c);
			return;
		}
		if (rr == IO_DONE && c->state == C_IDLE)
			c->state = C_HEAD;
		if (rr == IO_DONE && c->state == C_BODY)
			set_timer(c, TQ_BODY);
		/* IO_EOF: go round once more to answer what is complete, then close */
	}
}

static void on_event(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	struct conn *c = container_of(w, struct conn, w);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->flags |= CF_READABLE;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		c->flags |= CF_RDHUP;
	if ((events & EPOLLERR) && !(events & EPOLLIN)) {
		conn_close(c);
		return;
	}
	if (c->flags & CF_READY)
		return; /* already queued to run at the end of the turn */
	if (events & EPOLLOUT)
		c->flags &= (uint8_t)~CF_WAIT_OUT;
	conn_run(c);
}

void conn_kick(struct conn *c)
{
	if (!(c->flags & (CF_CLOSED | CF_READY)))
		conn_run(c);
}

void conn_later(struct conn *c)
{
	if (c->flags & CF_CLOSED)
		return;
	make_ready(c);
	loop_set_pending(c->srv->loop);
}

void conn_resume(struct conn *c)
{
	c->flags &= (uint8_t)~CF_READY;
	if (!(c->flags & CF_CLOSED))
		conn_run(c);
}

void conn_start(struct server *s, int fd, const struct sockaddr *sa, socklen_t salen, unsigned listener)
{
	struct conn *c = server_conn_new(s);
	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	c->listener = (uint8_t)listener;
	if (salen > sizeof c->peer)
		salen = sizeof c->peer;
	memcpy(&c->peer, sa, salen);
	/* not in the epoll set until it has to wait: a connection answered and
	 * closed from its first read (Connection: close) never is */
	c->w.fd = fd;
	c->w.fn = on_event;
	stat_add(&s->stats->accepted, 1);
	stat_set(&s->stats->active, s->nconns);
	c->state = C_HEAD;
	if (listener < s->cfg->nlisten && s->cfg->listen[listener].proxy) {
		if (!conf_peer_trusted(s->cfg, &c->peer.sa)) {
			char host[64];
			sockaddr_format_host(&c->peer.sa, host, sizeof host);
			log_info("client %s: not a trusted proxy (--proxy-from), closing", host);
			conn_close(c);
			return;
		}
		c->state = C_PROXY;
	} else if (admit(c) < 0) {
		return;
	}
	set_timer(c, TQ_HEADER);
	/* the request is usually there already: try before waiting for the event */
	c->flags |= CF_READABLE;
	conn_run(c);
}

void conn_on_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	struct conn *c = container_of(t, struct conn, timer);
	char host[64];
	conn_peer_host(c, host, sizeof host);
	if ((c->flags & CF_WAIT_OUT) || c->state == C_SEND) {
		log_info("client %s: send timeout, closing", host);
	} else if (c->state == C_FCGI && !(c->tq == TQ_BODY && fcgi_body_wait(c) == 1)) {
		/* the response has begun: a 408 would land in its middle */
		log_info("client %s: timeout during a FastCGI exchange, closing", host);
	} else if (c->state == C_BODY || c->state == C_FCGI ||
	           (c->state == C_HEAD && c->rbuf && buf_avail(c->rbuf))) {
		log_info("client %s: %s timeout, answering 408", host,
		         c->state == C_HEAD ? "header" : "body");
		send_canned(c, "408 Request Timeout", "Content-Length: 0\r\nConnection: close\r\n\r\n");
	}
	conn_close(c);
}
