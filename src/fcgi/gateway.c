/* gateway.c: the FastCGI gateway. See gateway.h for the shape.
 *
 * One struct fcgi_req per request in flight, from a per-worker free list.
 * Buffers: ubuf holds records on their way to the application (BEGIN,
 * PARAMS, STDIN), ibuf bytes from the application not yet parsed, hbuf the
 * CGI head while it accumulates. All three are pool buffers, so the memory a
 * request holds is bounded whatever its body or response size: a 2 GB upload
 * or download streams through them. ibuf and hbuf are taken only once there
 * is a backend connection (a queued request holds ubuf alone), and hbuf goes
 * back as soon as the head is sent.
 *
 * Chunked request bodies are decoded and spooled first (memory up to
 * SPOOL_MEMORY, then an unnamed temporary file), because an application such
 * as php-fpm ignores a body that comes without CONTENT_LENGTH. The memory
 * spools of a worker together stay under SPOOL_MEMORY_TOTAL: past it, a body
 * goes to a file from its first byte, so many slow chunked uploads cannot
 * hold a megabyte of the worker's memory each.
 */
#include "fcgi/gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"
#include "fcgi/cgi.h"
#include "fcgi/record.h"
#include "http/beneath.h"
#include "http/server.h"
#include "http/target.h"
#include "net/listen.h"
#include "stats/stats.h"

#define REQUEST_ID 1
#define SPOOL_MEMORY (1u << 20)
#define SPOOL_MEMORY_TOTAL (16u << 20) /* all of a worker's memory spools */
#define POOL_MAX_IDLE 32 /* idle backend connections kept per worker */
#define POOL_MAX_PER_BACKEND 4
#define POOL_IDLE_MS 2000 /* an idle pooled connection is closed after this */
/* STDERR: one error-log line per record, for the first few records of a
 * request; the rest is counted and reported in one line at its end (an
 * application can send 65535 records a request) */
#define STDERR_LOG_LINES 5
#define STDERR_LINE_MAX 1800
#define MAX_REDIRECTS 5

enum fstate { F_SPOOL, F_QUEUED, F_CONNECT, F_STREAM, F_FAILED };
enum body_mode { BM_LENGTH, BM_CHUNKED, BM_CLOSE, BM_NONE };

/* A connection to a backend. It is registered with epoll once, for reads
 * and writes (edge-triggered), for its whole life: going from a request to
 * the pool, from the pool to a request, or from one request straight to the
 * next changes nothing in the kernel. */
struct fcgi_up {
	struct watch w;
	struct timer timer; /* idle in the pool */
	struct fcgi_state *st;
	struct fcgi_backend *b;
	struct fcgi_req *req; /* using it; NULL: idle */
	struct fcgi_up *next; /* the pool, or the free list */
	/* Bytes may wait to be read: set by a readable event, cleared by a read
	 * that found the socket drained (EAGAIN, or less than it asked for), so
	 * a request just sent does not try a read that cannot succeed yet. The
	 * peer's FIN, once reported, keeps reads going (hup) until they see it. */
	uint8_t readable, hup;
};

struct fcgi_req {
	struct fcgi_up *up; /* the backend connection */
	struct timer timer;
	struct conn *conn;
	const struct fcgi_route *route;
	struct fcgi_req *next_free;
	struct fcgi_req *qnext, *qprev; /* in its backend's queue (F_QUEUED) */
	enum fstate state;
	unsigned backend, tries;
	int reused; /* the connection came from the pool */
	int waiting; /* counted in its backend's fresh (a new connection, no output yet) */
	int got_output; /* any byte from the application */
	int timed_out;
	int status; /* error to answer with, when failing before the head */
	struct buf *ubuf, *ibuf, *hbuf;
	struct fcgi_parser parser;
	int head_sent;
	enum body_mode mode;
	uint64_t expected, sent; /* body bytes (BM_LENGTH) */
	uint64_t in_left; /* Content-Length body still to come from the client */
	uint64_t body_len; /* its Content-Length: in_left below it means bytes were taken */
	int stdin_done; /* the empty STDIN record is queued */
	/* chunked request bodies */
	struct http_chunked chunked;
	char *spool;
	size_t spool_len, spool_cap;
	int spool_fd;
	uint64_t spool_size, spool_off;
	uint64_t spool_disk; /* bytes of this request counted in fcgi_state.spool_disk */
	int spooled;
	int ended; /* END_REQUEST parsed */
	int last_chunk; /* the chunked body's terminator is in the write buffer */
	uint8_t protocol_status;
	const uint8_t *pend; /* STDOUT bytes parsed but not yet in the write buffer */
	size_t pend_len;
	unsigned stderr_lines; /* STDERR lines logged */
	uint64_t stderr_more; /* STDERR bytes not logged */
	uint32_t head_scanned; /* hbuf bytes already searched for the head's end */
	unsigned redirects;
	struct tqueue *tq_connect, *tq_read, *tq_send, *tq_queue;
};

/* Per worker and backend (a route's address): the connections open to it,
 * in use or idle; the requests waiting for their first byte on a new
 * connection; and, when the route sets max-conns, the requests waiting for
 * one of its connections.
 *
 * An application like php-fpm gives each FCGI_KEEP_CONN connection a child
 * of its own until the connection closes. Without max-conns, while somebody
 * waits on a new connection, finished connections are therefore closed
 * rather than pooled: their children are then free to take the waiting one.
 * With max-conns (no more than the application serves at once, per worker),
 * a finished connection goes straight to the next queued request: under
 * load, no connection is opened or closed per request. */
struct fcgi_backend {
	const struct listen_spec *spec;
	unsigned max; /* the route's max-conns; 0: no limit */
	unsigned open; /* connections: in use and idle */
	unsigned fresh; /* requests on a new connection with no output yet */
	unsigned nidle;
	struct fcgi_req *qhead, *qtail;
};

/* Script paths found to be files, per worker (see is_script). */
#define SCRIPT_CACHE 256
#define SCRIPT_PATH_MAX 230
struct script_seen {
	uint64_t checked_ms;
	const struct site_conf *site;
	uint32_t hash;
	uint16_t len;
	char path[SCRIPT_PATH_MAX];
};

struct fcgi_state {
	struct script_seen *scripts; /* SCRIPT_CACHE entries, allocated on first use */
	struct fcgi_backend *backs;
	unsigned nbacks;
	struct server *srv;
	struct fcgi_req *free;
	struct fcgi_up *idle;
	unsigned nidle;
	unsigned rr;
	struct tqueue *queues;
	unsigned nqueues;
	struct tqueue tq_idle;
	struct fcgi_up *idle_free; /* spare entries: pooling allocates nothing per request */
	size_t spool_mem; /* bytes allocated by the memory spools (SPOOL_MEMORY_TOTAL) */
	uint64_t spool_disk; /* bytes in the spool files (fastcgi-spool-max) */
};

static void on_up(struct loop *l, struct watch *w, uint32_t events);
static void on_idle_timeout(struct loop *l, struct timer *t);
static void backend_freed(struct fcgi_backend *b);
static void log_stderr_rest(struct conn *c, struct fcgi_req *f);

static struct fcgi_backend *backend_of(struct fcgi_state *st, const struct fcgi_req *f)
{
	const struct listen_spec *spec = &f->route->backends[f->backend];
	for (unsigned i = 0; i < st->nbacks; i++)
		if (st->backs[i].spec == spec)
			return &st->backs[i];
	return NULL; /* not reached: every route's backends are in the table */
}

static void idle_put(struct fcgi_state *st, struct fcgi_up *d)
{
	d->next = st->idle_free;
	st->idle_free = d;
}

/* The request's path, made safe for a log line (one at a time). */
static const char *logpath(const struct xfer *x)
{
	static char buf[1024];
	return log_clean(buf, sizeof buf, x->path, x->path_len);
}

/* ---- per-worker state ---- */

static void on_upstream_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	struct fcgi_req *f = container_of(t, struct fcgi_req, timer);
	f->timed_out = 1;
	conn_kick(f->conn);
}

static struct tqueue *queue_for(struct fcgi_state *st, uint32_t ms)
{
	for (unsigned i = 0; i < st->nqueues; i++)
		if (st->queues[i].ms == ms)
			return &st->queues[i];
	return NULL;
}

int fcgi_server_init(struct server *s)
{
	const struct settings *cfg = s->cfg;
	struct fcgi_state *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	st->srv = s;
	/* one FIFO timer queue per distinct timeout length in the routes */
	uint32_t ms[4 * CONF_MAX_ROUTES * (CONF_MAX_SITES + 1)];
	unsigned n = 0, nb = 0;
	for (unsigned i = 0; i <= cfg->nsites; i++) {
		const struct site_conf *site = i == cfg->nsites ? &cfg->top : &cfg->sites[i];
		for (unsigned r = 0; r < site->nroutes; r++) {
			const struct fcgi_route *rt = &site->routes[r];
			nb += rt->nbackends;
			uint32_t v[4] = {rt->connect_timeout_ms, rt->read_timeout_ms, rt->send_timeout_ms,
			                 rt->queue_timeout_ms};
			for (int k = 0; k < 4; k++) {
				int seen = 0;
				for (unsigned j = 0; j < n; j++)
					seen |= ms[j] == v[k];
				if (!seen)
					ms[n++] = v[k];
			}
		}
	}
	st->queues = calloc(n ? n : 1, sizeof *st->queues);
	st->backs = calloc(nb ? nb : 1, sizeof *st->backs);
	if (!st->queues || !st->backs) {
		free(st->queues);
		free(st->backs);
		free(st);
		return -1;
	}
	/* one entry per backend address of each route (sites may share the
	 * top level's routes: the same specs, counted once) */
	for (unsigned i = 0; i <= cfg->nsites; i++) {
		const struct site_conf *site = i == cfg->nsites ? &cfg->top : &cfg->sites[i];
		for (unsigned r = 0; r < site->nroutes; r++)
			for (unsigned k = 0; k < site->routes[r].nbackends; k++) {
				const struct listen_spec *spec = &site->routes[r].backends[k];
				unsigned j = 0;
				while (j < st->nbacks && st->backs[j].spec != spec)
					j++;
				if (j == st->nbacks) {
					st->backs[j].spec = spec;
					st->backs[j].max = site->routes[r].max_conns;
					st->nbacks++;
				}
			}
	}
	for (unsigned i = 0; i < n; i++)
		tqueue_init(s->loop, &st->queues[i], ms[i], on_upstream_timeout);
	st->nqueues = n;
	/* pooled connections are short-lived: an application such as php-fpm
	 * ties a child to each until it closes, children other workers or
	 * other requests may be waiting for */
	tqueue_init(s->loop, &st->tq_idle, POOL_IDLE_MS, on_idle_timeout);
	s->fcgi = st;
	return 0;
}

/* Close a backend connection; a queued request may open the next one. */
static void up_destroy(struct fcgi_up *u)
{
	struct fcgi_state *st = u->st;
	struct fcgi_backend *b = u->b;
	close(u->w.fd); /* leaves the epoll set with it: never shared with another process */
	u->w.fd = -1; /* events already collected this turn are skipped */
	u->req = NULL;
	b->open--;
	idle_put(st, u);
	backend_freed(b);
}

static void idle_close(struct fcgi_up *d)
{
	struct fcgi_state *st = d->st;
	timer_disarm(&d->timer);
	struct fcgi_up **pp = &st->idle;
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	st->nidle--;
	d->b->nidle--;
	up_destroy(d);
}

void fcgi_server_free(struct server *s)
{
	struct fcgi_state *st = s->fcgi;
	if (!st)
		return;
	while (st->idle)
		idle_close(st->idle);
	while (st->idle_free) {
		struct fcgi_up *d = st->idle_free;
		st->idle_free = d->next;
		free(d);
	}
	while (st->free) {
		struct fcgi_req *f = st->free;
		st->free = f->next_free;
		free(f);
	}
	free(st->queues);
	free(st->backs);
	free(st->scripts);
	free(st);
	s->fcgi = NULL;
}

/* Readiness of a backend connection: its request runs; an idle one that
 * became readable was closed by the application (or misbehaves), and is no
 * longer usable. (A readable event collected while the connection still
 * served a request that then ended is checked with a peek first.) */
static void on_up(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	struct fcgi_up *u = container_of(w, struct fcgi_up, w);
	if (events & (EPOLLIN | EPOLLERR))
		u->readable = 1;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		u->hup = u->readable = 1;
	if (u->req) {
		conn_kick(u->req->conn);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		char b;
		ssize_t n = recv(w->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	idle_close(u);
}

static void waiting_set(struct fcgi_state *st, struct fcgi_req *f, int on)
{
	if (f->waiting == on)
		return;
	struct fcgi_backend *b = backend_of(st, f);
	if (!b)
		return;
	f->waiting = on;
	if (on)
		b->fresh++;
	else if (b->fresh)
		b->fresh--;
}

/* The queue of requests waiting for one of b's connections: doubly linked,
 * so a request that leaves (client gone, queue-timeout) costs O(1) however
 * many wait. */
static void queue_push(struct fcgi_backend *b, struct fcgi_req *f)
{
	f->qprev = b->qtail;
	f->qnext = NULL;
	if (b->qtail)
		b->qtail->qnext = f;
	else
		b->qhead = f;
	b->qtail = f;
}

static void queue_remove(struct fcgi_backend *b, struct fcgi_req *f)
{
	if (f->qprev)
		f->qprev->qnext = f->qnext;
	else if (b->qhead == f)
		b->qhead = f->qnext;
	else
		return; /* not queued */
	if (f->qnext)
		f->qnext->qprev = f->qprev;
	else
		b->qtail = f->qprev;
	f->qnext = f->qprev = NULL;
}

static struct fcgi_req *queue_pop(struct fcgi_backend *b)
{
	struct fcgi_req *f = b->qhead;
	if (f)
		queue_remove(b, f);
	return f;
}

/* ---- routing ---- */

static void on_idle_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	idle_close(container_of(t, struct fcgi_up, timer));
}

/* Is path[0..len) a regular file beneath the site's root? A yes is trusted
 * for file-cache (like small files: a script deleted since is still sent to
 * the application, which answers 404, for at most that long); a no is always
 * checked again. */
static int is_script(struct conn *c, struct xfer *x, const char *path, size_t len)
{
	struct fcgi_state *st = c->srv->fcgi;
	uint64_t valid = c->srv->cfg->file_cache_ms, now = clock_cache.now_ms;
	struct script_seen *e = NULL;
	uint32_t h = 0;
	if (valid && len <= SCRIPT_PATH_MAX) {
		if (!st->scripts)
			st->scripts = calloc(SCRIPT_CACHE, sizeof *st->scripts);
		h = fnv1a(FNV1A_BASIS, path, len);
		if (st->scripts) {
			e = &st->scripts[h % SCRIPT_CACHE];
			if (e->len == len && e->hash == h && e->site == x->site &&
			    now - e->checked_ms < valid && memcmp(e->path, path, len) == 0)
				return 1;
		}
	}
	char rel[XFER_PATH_MAX];
	if (len < 2 || len >= sizeof rel)
		return 0;
	memcpy(rel, path + 1, len - 1);
	rel[len - 1] = '\0';
	int fd = open_beneath(x->root_fd, rel, O_PATH, x->site->follow_symlinks);
	if (fd < 0)
		return 0;
	struct stat sb;
	int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
	close(fd);
	if (ok && e) {
		e->hash = h;
		e->site = x->site;
		e->len = (uint16_t)len;
		e->checked_ms = now;
		memcpy(e->path, path, len);
	} else if (e && e->len == len && e->hash == h && memcmp(e->path, path, len) == 0) {
		e->len = 0;
	}
	return ok;
}

static int ext_matches(const struct fcgi_route *r, const char *name, size_t len)
{
	const char *ext = r->pattern + 1; /* ".php" */
	size_t el = strlen(ext);
	return len > el && strncasecmp(name + len - el, ext, el) == 0 && name[len - el - 1] != '/';
}

int fcgi_route(struct conn *c)
{
	struct xfer *x = c->x;
	const struct site_conf *site = x->site;
	char *path = x->path;
	size_t len = x->path_len;
	if (!site->dotfiles && path_has_dotfile(path, len))
		return ROUTE_STATIC; /* refused there */
	/* a decoded CR or LF would let PATH_INFO be cut short or shifted
	 * (CVE-2019-11043): such a path never reaches an application */
	if (memchr(path, '\r', len) || memchr(path, '\n', len))
		return 400;
	for (unsigned i = 0; i < site->nroutes; i++) {
		const struct fcgi_route *r = &site->routes[i];
		if (r->by_ext)
			continue;
		size_t pl = strlen(r->pattern);
		int under = len >= pl && memcmp(path, r->pattern, pl) == 0;
		int itself = r->pattern[pl - 1] == '/' && len == pl - 1 && memcmp(path, r->pattern, len) == 0;
		if (under || itself) {
			x->route = r;
			x->script_len = r->pattern[pl - 1] == '/' ? pl - 1 : pl;
			return ROUTE_FCGI;
		}
	}
	/* "/a/b.php/c/d": the first segment end where a script of a route's
	 * extension exists is the split between SCRIPT_NAME and PATH_INFO */
	int looked_like_script = 0;
	for (size_t end = 1; end <= len; end++) {
		if (end < len && path[end] != '/')
			continue;
		for (unsigned i = 0; i < site->nroutes; i++) {
			const struct fcgi_route *r = &site->routes[i];
			if (!r->by_ext || !ext_matches(r, path, end))
				continue;
			looked_like_script = 1;
			if (is_script(c, x, path, end)) {
				x->route = r;
				x->script_len = end;
				return ROUTE_FCGI;
			}
		}
	}
	if (!looked_like_script && path[len - 1] == '/') {
		/* a directory: its first existing index file decides */
		for (unsigned k = 0; k < site->nindex; k++) {
			size_t il = strlen(site->index[k]);
			if (len + il >= sizeof x->path)
				break;
			memcpy(path + len, site->index[k], il + 1);
			if (!is_script(c, x, path, len + il))
				continue;
			for (unsigned i = 0; i < site->nroutes; i++)
				if (site->routes[i].by_ext && ext_matches(&site->routes[i], path, len + il)) {
					x->path_len = len + il;
					x->route = &site->routes[i];
					x->script_len = len + il;
					return ROUTE_FCGI;
				}
			break;
		}
		path[len] = '\0';
		return ROUTE_STATIC;
	}
	return looked_like_script ? 404 : ROUTE_STATIC;
}

/* ---- building the request ---- */

struct pbuild {
	struct buf *b;
	uint32_t rec; /* offset of the open PARAMS record's header */
	int overflow;
};

static void params_open(struct pbuild *p)
{
	p->rec = p->b->len;
	p->b->len += FCGI_HEADER_LEN;
}

static void params_close(struct pbuild *p)
{
	uint32_t clen = p->b->len - p->rec - FCGI_HEADER_LEN;
	uint8_t pad = fcgi_padding((uint16_t)clen);
	fcgi_header_encode((uint8_t *)p->b->data + p->rec, FCGI_PARAMS, REQUEST_ID, (uint16_t)clen, pad);
	memset(p->b->data + p->b->len, 0, pad);
	p->b->len += pad;
}

/* Room for a pair whose value is vlen bytes: where its value goes (the
 * lengths and the name are written), or NULL (p->overflow set). */
static char *param_open(struct pbuild *p, const char *name, size_t nlen, size_t vlen)
{
	struct buf *b = p->b;
	if (p->overflow)
		return NULL;
	size_t need = fcgi_nv_size(nlen, vlen);
	if (need > FCGI_MAX_CONTENT) {
		/* one pair in one record: its length field has 16 bits */
		p->overflow = 1;
		return NULL;
	}
	if (b->len - p->rec - FCGI_HEADER_LEN + need > FCGI_MAX_CONTENT) {
		params_close(p);
		if (buf_space(b) < FCGI_HEADER_LEN + 8) {
			p->overflow = 1;
			return NULL;
		}
		params_open(p);
	}
	if (buf_space(b) < need + 8) { /* room for the padding too */
		p->overflow = 1;
		return NULL;
	}
	char *at = b->data + b->len;
	at += fcgi_nv_encode_head((uint8_t *)at, buf_space(b), name, nlen, vlen);
	b->len += (uint32_t)need;
	return at;
}

static void param(struct pbuild *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
	char *at = param_open(p, name, nlen, vlen);
	if (at && vlen)
		memcpy(at, value, vlen);
}

static int same_name(const struct http_field *a, const struct http_field *b)
{
	return a->name.len == b->name.len && !strncasecmp(a->name.p, b->name.p, a->name.len);
}

/* A request field as HTTP_NAME: the values of every field of that name in
 * one, joined with ", " (Cookie: "; ", RFC 9113 §8.2.3) — an application
 * keeps one variable per name, so a second one would replace the first. */
static void param_field(struct pbuild *p, const char *name, size_t nlen, const struct http_head *h,
                        uint32_t first)
{
	const struct http_field *f0 = &h->fields[first];
	int cookie = f0->name.len == 6 && !strncasecmp(f0->name.p, "cookie", 6);
	size_t vlen = f0->value.len, more = 0;
	for (uint32_t i = first + 1; i < h->nfields; i++) {
		const struct http_field *fl = &h->fields[i];
		if (same_name(fl, f0)) {
			vlen += 2 + fl->value.len;
			more++;
		}
	}
	char *at = param_open(p, name, nlen, vlen);
	if (!at)
		return;
	if (f0->value.len)
		memcpy(at, f0->value.p, f0->value.len);
	at += f0->value.len;
	for (uint32_t i = first + 1; more && i < h->nfields; i++) {
		const struct http_field *fl = &h->fields[i];
		if (same_name(fl, f0)) {
			memcpy(at, cookie ? "; " : ", ", 2);
			if (fl->value.len)
				memcpy(at + 2, fl->value.p, fl->value.len);
			at += 2 + fl->value.len;
			more--;
		}
	}
}

static void param_s(struct pbuild *p, const char *name, const char *value)
{
	param(p, name, strlen(name), value, strlen(value));
}

/* BEGIN_REQUEST and the PARAMS records (ending with the empty one) into ubuf. */
static int build_head(struct conn *c, struct fcgi_req *f)
{
	struct xfer *x = c->x;
	const struct http_head *h = &x->head;
	const struct site_conf *site = x->site;
	struct buf *b = f->ubuf;
	char tmp[XFER_PATH_MAX + 1024], num[32];
	b->start = b->len = 0;
	b->len += (uint32_t)fcgi_begin_request((uint8_t *)b->data, REQUEST_ID, 1);
	struct pbuild p = {.b = b};
	params_open(&p);
	const char *root = site->root;
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	snprintf(tmp, sizeof tmp, "%.*s%.*s", (int)rl, root, (int)x->script_len, x->path);
	param_s(&p, "SCRIPT_FILENAME", tmp);
	param(&p, "SCRIPT_NAME", 11, x->path, x->script_len);
	if (x->path_len > x->script_len) {
		param(&p, "PATH_INFO", 9, x->path + x->script_len, x->path_len - x->script_len);
		snprintf(tmp, sizeof tmp, "%.*s%.*s", (int)rl, root, (int)(x->path_len - x->script_len),
		         x->path + x->script_len);
		param_s(&p, "PATH_TRANSLATED", tmp);
	}
	param(&p, "DOCUMENT_ROOT", 13, root, rl);
	if (f->redirects)
		param_s(&p, "REQUEST_METHOD", "GET");
	else
		param(&p, "REQUEST_METHOD", 14, h->method_str.p, h->method_str.len);
	if (f->redirects) {
		size_t ql = strlen(x->redirect_query);
		snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)x->path_len, x->path, ql ? "?" : "",
		         x->redirect_query);
		param_s(&p, "REQUEST_URI", tmp);
		param(&p, "QUERY_STRING", 12, x->redirect_query, ql);
	} else {
		/* the target as sent (origin-form part for an absolute-form target) */
		size_t ul = h->path.len + (h->query.p ? h->query.len + 1 : 0);
		param(&p, "REQUEST_URI", 11, h->path.p, ul);
		param(&p, "QUERY_STRING", 12, h->query.p ? h->query.p : "", h->query.len);
	}
	if (h->content_type.p && !f->redirects)
		param(&p, "CONTENT_TYPE", 12, h->content_type.p, h->content_type.len);
	uint64_t clen = f->spooled ? f->spool_size : h->content_length > 0 ? (uint64_t)h->content_length : 0;
	if (!f->redirects && (clen || (h->flags & (HTTP_F_HAS_CL | HTTP_F_CHUNKED)))) {
		snprintf(num, sizeof num, "%llu", (unsigned long long)clen);
		param_s(&p, "CONTENT_LENGTH", num);
	}
	/* SERVER_NAME: the Host without its port */
	if (h->host.p && h->host.len) {
		size_t hl = h->host.len;
		const char *colon =
		    h->host.p[0] == '[' ? memchr(h->host.p, ']', hl) : memchr(h->host.p, ':', hl);
		if (colon && h->host.p[0] == '[')
			colon = (size_t)(colon - h->host.p) + 1 < hl ? colon + 1 : NULL;
		param(&p, "SERVER_NAME", 11, h->host.p, colon ? (size_t)(colon - h->host.p) : hl);
	}
	/* the local address: the listener's own when it is bound to one (no
	 * system call), else asked of the socket */
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof ss;
	const struct listen_spec *ls =
	    c->listener < c->srv->cfg->nlisten ? &c->srv->cfg->listen[c->listener] : NULL;
	int known = 0;
	if (ls && !ls->is_unix && ls->addr.ss_family == AF_INET &&
	    ((const struct sockaddr_in *)&ls->addr)->sin_addr.s_addr != htonl(INADDR_ANY) &&
	    ((const struct sockaddr_in *)&ls->addr)->sin_port != 0) {
		memcpy(&ss, &ls->addr, sizeof(struct sockaddr_in));
		known = 1;
	}
	if (known || getsockname(c->w.fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (!h->host.p || !h->host.len) {
			sockaddr_format_host((struct sockaddr *)&ss, tmp, sizeof tmp);
			param_s(&p, "SERVER_NAME", tmp);
		}
		sockaddr_format_host((struct sockaddr *)&ss, tmp, sizeof tmp);
		param_s(&p, "SERVER_ADDR", tmp);
		unsigned port = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
		                : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
		                                           : 0;
		snprintf(num, sizeof num, "%u", port);
		param_s(&p, "SERVER_PORT", num);
	}
	param_s(&p, "SERVER_PROTOCOL", h->version == 11 ? "HTTP/1.1" : "HTTP/1.0");
	param_s(&p, "SERVER_SOFTWARE", "hearth/" HEARTH_VERSION);
	param_s(&p, "GATEWAY_INTERFACE", "CGI/1.1");
	param_s(&p, "REDIRECT_STATUS", "200");
	conn_peer_host(c, tmp, sizeof tmp);
	param_s(&p, "REMOTE_ADDR", tmp);
	snprintf(num, sizeof num, "%u", conn_peer_port(c));
	param_s(&p, "REMOTE_PORT", num);
	for (uint32_t i = 0; i < h->nfields; i++) {
		const struct http_field *fl = &h->fields[i];
		size_t nl = fl->name.len;
		if (nl + 5 >= sizeof tmp || memchr(fl->name.p, '_', nl))
			continue; /* "X_Y" would be indistinguishable from "X-Y" */
		if ((nl == 5 && !strncasecmp(fl->name.p, "proxy", 5)) ||
		    (nl == 12 && !strncasecmp(fl->name.p, "content-type", 12)) ||
		    (nl == 14 && !strncasecmp(fl->name.p, "content-length", 14)))
			continue; /* httpoxy; and the two that have variables of their own */
		uint32_t j = 0; /* an earlier field of the name has them all */
		while (j < i && !same_name(&h->fields[j], fl))
			j++;
		if (j < i)
			continue;
		memcpy(tmp, "HTTP_", 5);
		for (size_t k = 0; k < nl; k++) {
			char ch = fl->name.p[k];
			tmp[5 + k] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
		}
		param_field(&p, tmp, 5 + nl, h, i);
	}
	if (!p.overflow)
		params_close(&p);
	if (p.overflow || buf_space(b) < FCGI_HEADER_LEN) {
		log_info("FastCGI: request head for \"%s\" too large for PARAMS records", logpath(x));
		f->status = 431;
		return -1;
	}
	fcgi_header_encode((uint8_t *)b->data + b->len, FCGI_PARAMS, REQUEST_ID, 0, 0);
	b->len += FCGI_HEADER_LEN;
	return 0;
}

/* Append a STDIN record of n bytes from src (n may be 0: the end). */
static void put_stdin(struct buf *b, const void *src, uint32_t n)
{
	uint8_t pad = fcgi_padding((uint16_t)n);
	fcgi_header_encode((uint8_t *)b->data + b->len, FCGI_STDIN, REQUEST_ID, (uint16_t)n, pad);
	b->len += FCGI_HEADER_LEN;
	if (n)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	memset(b->data + b->len, 0, pad);
	b->len += pad;
}

/* Room for a STDIN record's data in ubuf (header and padding counted). */
static uint32_t stdin_room(struct buf *b)
{
	if (b->start == b->len)
		b->start = b->len = 0;
	else if (b->start > b->cap / 2)
		buf_compact(b);
	uint32_t space = buf_space(b);
	if (space < FCGI_HEADER_LEN + 16)
		return 0;
	uint32_t n = (space - FCGI_HEADER_LEN - 7) & ~7u;
	return n > 32768 ? 32768 : n;
}

/* ---- the backend connection ---- */

static int ufd(const struct fcgi_req *f)
{
	return f->up ? f->up->w.fd : -1;
}

static void upstream_close(struct fcgi_req *f, int abort_request)
{
	struct fcgi_up *u = f->up;
	if (!u)
		return;
	waiting_set(f->conn->srv->fcgi, f, 0);
	if (abort_request) {
		uint8_t rec[8];
		fcgi_abort_request(rec, REQUEST_ID);
		ssize_t n = send(u->w.fd, rec, sizeof rec, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
	}
	timer_disarm(&f->timer);
	f->up = NULL;
	up_destroy(u);
}

static void arm(struct fcgi_req *f, struct tqueue *q)
{
	if (q)
		timer_arm(q, &f->timer);
}

static void attach(struct fcgi_req *f, struct fcgi_up *u)
{
	u->req = f;
	f->up = u;
	f->reused = 1;
	f->state = F_STREAM;
	arm(f, f->tq_send);
}

/* Start connecting to backend i (a pooled connection when there is one). */
static int upstream_connect(struct conn *c, struct fcgi_req *f)
{
	struct fcgi_state *st = c->srv->fcgi;
	const struct listen_spec *spec = &f->route->backends[f->backend];
	struct fcgi_backend *b = backend_of(st, f);
	f->reused = 0;
	if (f->tries == 0 && b->nidle) { /* a retry after a stale pooled connection goes fresh */
		for (struct fcgi_up **pp = &st->idle; *pp; pp = &(*pp)->next) {
			struct fcgi_up *u = *pp;
			if (u->b != b)
				continue;
			*pp = u->next;
			st->nidle--;
			b->nidle--;
			timer_disarm(&u->timer);
			attach(f, u);
			return 0;
		}
	}
	if (b->max && b->open >= b->max) {
		/* every connection the route allows is busy: wait for one */
		f->state = F_QUEUED;
		queue_push(b, f);
		arm(f, f->tq_queue);
		return 0;
	}
	struct fcgi_up *u = st->idle_free;
	if (u)
		st->idle_free = u->next;
	else if (!(u = malloc(sizeof *u)))
		return -1;
	memset(u, 0, sizeof *u);
	u->st = st;
	u->b = b;
	int fd = socket(spec->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		idle_put(st, u);
		return -1;
	}
	int done = connect(fd, (const struct sockaddr *)&spec->addr, spec->addrlen) == 0;
	/* EAGAIN is no connection: a Unix socket's backlog is full (or no
	 * local port is left), nothing will complete later */
	if (!done && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		idle_put(st, u);
		errno = e;
		return -1;
	}
	if (loop_watch(c->srv->loop, &u->w, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_up) < 0) {
		close(fd);
		idle_put(st, u);
		return -1;
	}
	b->open++;
	u->req = f;
	u->readable = 1;
	f->up = u;
	/* a Unix socket connects at once (or not at all): nothing to check later */
	f->state = done ? F_STREAM : F_CONNECT;
	arm(f, done ? f->tq_send : f->tq_connect);
	waiting_set(st, f, 1);
	return 0;
}

/* Try the backends in turn, starting from the one chosen round-robin. */
static int connect_any(struct conn *c, struct fcgi_req *f)
{
	const struct fcgi_route *r = f->route;
	/* with max-conns, prefer a backend with a free connection or room for
	 * one; when all are busy, the request queues at the first */
	for (unsigned n = 0; n < r->nbackends; n++) {
		const struct fcgi_backend *b = backend_of(c->srv->fcgi, f);
		if (!b->max || b->nidle || b->open < b->max)
			break;
		f->backend = (f->backend + 1) % r->nbackends;
	}
	for (unsigned n = 0; n < r->nbackends; n++) {
		if (upstream_connect(c, f) == 0)
			return 0;
		log_warn("FastCGI backend %s: %s", r->backends[f->backend].text, strerror(errno));
		f->backend = (f->backend + 1) % r->nbackends;
	}
	return -1;
}

/* A connection to b closed: queued requests may open new ones. */
static void backend_freed(struct fcgi_backend *b)
{
	while (b->qhead && (!b->max || b->open < b->max)) {
		struct fcgi_req *q = queue_pop(b);
		timer_disarm(&q->timer);
		q->state = F_CONNECT;
		if (connect_any(q->conn, q) < 0) {
			q->status = 502;
			q->state = F_FAILED;
		}
		conn_later(q->conn);
	}
}

/* Keep the connection for the next request, if it is clean: the next
 * queued one (it runs at the end of this loop turn), else the pool. */
static void upstream_release(struct conn *c, struct fcgi_req *f)
{
	struct fcgi_state *st = c->srv->fcgi;
	struct fcgi_backend *b = backend_of(st, f);
	struct fcgi_up *u = f->up;
	waiting_set(st, f, 0);
	int clean = f->ended && f->protocol_status == FCGI_REQUEST_COMPLETE && buf_avail(f->ubuf) == 0 &&
	            (!f->ibuf || buf_avail(f->ibuf) == 0);
	if (clean && b->qhead) {
		struct fcgi_req *q = queue_pop(b);
		timer_disarm(&f->timer);
		timer_disarm(&q->timer);
		f->up = NULL;
		attach(q, u);
		conn_later(q->conn);
		return;
	}
	if (!clean || c->srv->stopping || (!b->max && b->fresh) || st->nidle >= POOL_MAX_IDLE ||
	    b->nidle >= (b->max ? b->max : POOL_MAX_PER_BACKEND)) {
		upstream_close(f, 0);
		return;
	}
	timer_disarm(&f->timer);
	f->up = NULL;
	u->req = NULL;
	u->next = st->idle;
	st->idle = u;
	st->nidle++;
	b->nidle++;
	timer_arm(&st->tq_idle, &u->timer);
}

/* ---- life of a request ---- */

/* Can the request go again, whole, on a new connection? Not when body bytes
 * were taken from the client: they are gone (a spooled body is kept). */
static int replayable(const struct fcgi_req *f)
{
	return f->spooled || f->in_left == f->body_len;
}

static struct fcgi_req *req_get(struct fcgi_state *st)
{
	struct fcgi_req *f = st->free;
	if (f)
		st->free = f->next_free;
	else if (!(f = malloc(sizeof *f)))
		return NULL;
	memset(f, 0, sizeof *f);
	f->spool_fd = -1;
	return f;
}

void fcgi_release(struct conn *c)
{
	struct xfer *x = c->x;
	struct fcgi_req *f = x ? x->fcgi : NULL;
	if (!f)
		return;
	struct server *s = c->srv;
	log_stderr_rest(c, f);
	if (f->state == F_QUEUED)
		queue_remove(backend_of(s->fcgi, f), f);
	if (f->up) {
		if (f->ended && !f->pend_len)
			upstream_release(c, f);
		else
			upstream_close(f, f->state == F_STREAM && !f->ended);
	}
	timer_disarm(&f->timer);
	pool_put(&s->bufs, f->ubuf);
	pool_put(&s->bufs, f->ibuf);
	pool_put(&s->bufs, f->hbuf);
	s->fcgi->spool_mem -= f->spool_cap;
	s->fcgi->spool_disk -= f->spool_disk;
	free(f->spool);
	if (f->spool_fd >= 0)
		close(f->spool_fd);
	f->next_free = s->fcgi->free;
	s->fcgi->free = f;
	x->fcgi = NULL;
}

static void setup_queues(struct fcgi_state *st, struct fcgi_req *f)
{
	f->tq_connect = queue_for(st, f->route->connect_timeout_ms);
	f->tq_read = queue_for(st, f->route->read_timeout_ms);
	f->tq_send = queue_for(st, f->route->send_timeout_ms);
	f->tq_queue = queue_for(st, f->route->queue_timeout_ms);
}

int fcgi_start(struct conn *c)
{
	struct xfer *x = c->x;
	struct fcgi_state *st = c->srv->fcgi;
	const struct http_head *h = &x->head;
	struct fcgi_req *f = req_get(st);
	if (!f)
		return -1;
	x->fcgi = f;
	f->conn = c;
	f->route = x->route;
	f->redirects = x->redirects;
	setup_queues(st, f);
	/* ibuf and hbuf wait for the backend connection (stream_buffers): a
	 * request queued or connecting holds only what it sends */
	f->ubuf = pool_get(&c->srv->bufs);
	if (!c->wbuf)
		c->wbuf = pool_get(&c->srv->bufs);
	if (!f->ubuf || !c->wbuf)
		return -1;
	f->backend = st->rr++ % f->route->nbackends;
	/* after a local redirect the request is a GET without a body (what was
	 * left of the original body was read by the first application) */
	int has_body = !x->redirects && ((h->flags & HTTP_F_CHUNKED) || h->content_length > 0);
	/* never to an HTTP/1.0 client (RFC 9110 §15.2) */
	if ((h->flags & HTTP_F_EXPECT_100) && has_body && h->version == 11 &&
	    buf_avail(c->rbuf) == x->head_len) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (buf_space(c->wbuf) >= sizeof cont - 1) {
			memcpy(c->wbuf->data + c->wbuf->len, cont, sizeof cont - 1);
			c->wbuf->len += sizeof cont - 1;
		}
	}
	fcgi_parser_init(&f->parser, REQUEST_ID);
	if (has_body && (h->flags & HTTP_F_CHUNKED)) {
		http_chunked_init(&f->chunked);
		f->state = F_SPOOL;
		return 0;
	}
	f->in_left = f->body_len = has_body ? (uint64_t)h->content_length : 0;
	if (build_head(c, f) < 0) {
		f->state = F_FAILED;
		return 0;
	}
	if (connect_any(c, f) < 0) {
		f->status = 502;
		f->state = F_FAILED;
	}
	return 0;
}

/* Body bytes the client sent after the head, still in rbuf. */
static uint32_t client_body_avail(const struct conn *c)
{
	struct xfer *x = c->x;
	return c->rbuf ? c->rbuf->len - (c->rbuf->start + x->head_len) : 0;
}

static void client_body_drop(struct conn *c, uint32_t n)
{
	struct buf *rb = c->rbuf;
	uint32_t at = rb->start + c->x->head_len;
	memmove(rb->data + at, rb->data + at + n, rb->len - at - n);
	rb->len -= n;
}

/* Read more from the client when its body is still coming. 1: progress,
 * 0: nothing now, -1: the client is gone. */
static int client_pull(struct conn *c)
{
	if (!(c->flags & CF_READABLE) || (c->flags & CF_EOF))
		return (c->flags & CF_EOF) ? -1 : 0;
	if (c->rbuf && buf_space(c->rbuf) == 0)
		return 0;
	int r = conn_read(c);
	if (r == IO_DONE) {
		/* the body timeout counts between reads: wait_for_io arms it anew */
		if (c->tq == TQ_BODY)
			timer_disarm(&c->timer);
		return 1;
	}
	if (r == IO_WAIT)
		return 0;
	return -1;
}

int fcgi_body_wait(const struct conn *c)
{
	const struct fcgi_req *f = c->x ? c->x->fcgi : NULL;
	if (!f)
		return 0;
	/* F_STREAM: with STDIN still in ubuf, the application is the one slow
	 * (send-timeout); the body bytes wait in the client's socket */
	int wait =
	    f->state == F_SPOOL || (f->state == F_STREAM && !f->spooled && f->in_left > 0 &&
	                            client_body_avail(c) == 0 && (!f->ubuf || buf_avail(f->ubuf) == 0));
	return wait ? 1 + f->head_sent : 0;
}

/* Room for out more bytes in f's memory spool: 0, or -1 when the body
 * belongs in a file instead (past SPOOL_MEMORY, or the worker's memory spools
 * together past SPOOL_MEMORY_TOTAL, or no memory). */
static int spool_mem_room(struct fcgi_state *st, struct fcgi_req *f, size_t out)
{
	size_t need = f->spool_len + out;
	if (need > SPOOL_MEMORY)
		return -1;
	if (need <= f->spool_cap)
		return 0;
	size_t nc = f->spool_cap ? f->spool_cap * 2 : 16384;
	while (nc < need)
		nc *= 2;
	if (st->spool_mem - f->spool_cap + nc > SPOOL_MEMORY_TOTAL)
		return -1;
	char *np = realloc(f->spool, nc);
	if (!np)
		return -1;
	st->spool_mem += nc - f->spool_cap;
	f->spool = np;
	f->spool_cap = nc;
	return 0;
}

/* Append n bytes to f's spool file, counted against fastcgi-spool-max.
 * 0, or -1 (errno). */
static int spool_write(struct fcgi_state *st, struct fcgi_req *f, const char *p, size_t n)
{
	ssize_t w = n ? write(f->spool_fd, p, n) : 0;
	if (w != (ssize_t)n) {
		if (w >= 0)
			errno = ENOSPC; /* a short write to a regular file: the disk is full */
		return -1;
	}
	st->spool_disk += n;
	f->spool_disk += n;
	return 0;
}

/* Move f's memory spool to an unnamed temporary file. 0, or -1 (errno). */
static int spool_to_file(struct fcgi_state *st, struct fcgi_req *f)
{
	f->spool_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (f->spool_fd < 0 || spool_write(st, f, f->spool, f->spool_len) < 0)
		return -1;
	st->spool_mem -= f->spool_cap;
	free(f->spool);
	f->spool = NULL;
	f->spool_cap = 0;
	return 0;
}

/* Would out more bytes in f's spool file (with the memory spool moved there
 * first, when it is not a file yet) take the worker's spool files past
 * fastcgi-spool-max? 0 when not; else the status: 503 when other uploads hold
 * the room now (a client may try again later), 413 when this body alone
 * cannot fit. */
static int spool_disk_full(struct conn *c, struct fcgi_req *f, size_t out)
{
	uint64_t max = c->srv->cfg->fastcgi_spool_max;
	uint64_t add = out + (f->spool_fd < 0 ? f->spool_len : 0);
	if (!max || c->srv->fcgi->spool_disk + add <= max)
		return 0;
	int alone = f->spool_disk + add > max;
	log_warn("FastCGI: request body spool files at fastcgi-spool-max (%llu bytes)%s for \"%s\"",
	         (unsigned long long)max, alone ? ", which this body alone exceeds," : "", logpath(c->x));
	return alone ? 413 : 503;
}

/* Chunked body -> spool. 1 when complete, 0 to wait, -1 with f->status. */
static int spool_body(struct conn *c, struct fcgi_req *f)
{
	struct fcgi_state *st = c->srv->fcgi;
	uint64_t max = f->route->max_body ? f->route->max_body : c->srv->cfg->max_body_size;
	for (;;) {
		uint32_t avail = client_body_avail(c);
		if (avail) {
			struct buf *rb = c->rbuf;
			char *at = rb->data + rb->start + c->x->head_len;
			size_t used = 0, out = 0;
			int r = http_chunked_decode(&f->chunked, at, avail, &used, &out);
			if (r < 0) {
				f->status = 400;
				return -1;
			}
			if (f->spool_size + out > max) {
				f->status = 413;
				return -1;
			}
			if (out) {
				int to_file = f->spool_fd >= 0 || spool_mem_room(st, f, out) < 0;
				int full = to_file ? spool_disk_full(c, f, out) : 0;
				if (full) {
					f->status = full;
					return -1;
				}
				if (to_file && f->spool_fd < 0 && spool_to_file(st, f) < 0) {
					log_error("cannot spool a request body: %s", strerror(errno));
					f->status = 500;
					return -1;
				}
				if (f->spool_fd >= 0) {
					if (spool_write(st, f, at, out) < 0) {
						log_error("cannot spool a request body: %s", strerror(errno));
						f->status = 500;
						return -1;
					}
				} else {
					memcpy(f->spool + f->spool_len, at, out);
					f->spool_len += out;
				}
				f->spool_size += out;
			}
			client_body_drop(c, (uint32_t)used);
			if (r == 1) {
				f->spooled = 1;
				return 1;
			}
			continue;
		}
		int p = client_pull(c);
		if (p < 0) {
			f->status = 400;
			return -1;
		}
		if (p == 0)
			return 0;
	}
}

/* Fill ubuf with STDIN records from the client or the spool. 1: progress. */
static int pump_body(struct conn *c, struct fcgi_req *f)
{
	int progress = 0;
	while (!f->stdin_done) {
		uint32_t room = stdin_room(f->ubuf);
		if (room == 0)
			break;
		if (f->spooled) {
			uint64_t left = f->spool_size - f->spool_off;
			if (left == 0) {
				put_stdin(f->ubuf, NULL, 0);
				f->stdin_done = 1;
				return 1;
			}
			uint32_t n = left < room ? (uint32_t)left : room;
			char *dst = f->ubuf->data + f->ubuf->len + FCGI_HEADER_LEN;
			if (f->spool_fd >= 0) {
				ssize_t got = pread(f->spool_fd, dst, n, (off_t)f->spool_off);
				if (got <= 0) {
					f->status = 500;
					return -1;
				}
				n = (uint32_t)got;
			} else {
				memcpy(dst, f->spool + f->spool_off, n);
			}
			/* put_stdin copies from src; the bytes are in place already */
			uint8_t pad = fcgi_padding((uint16_t)n);
			fcgi_header_encode((uint8_t *)f->ubuf->data + f->ubuf->len, FCGI_STDIN, REQUEST_ID,
			                   (uint16_t)n, pad);
			f->ubuf->len += FCGI_HEADER_LEN + n;
			memset(f->ubuf->data + f->ubuf->len, 0, pad);
			f->ubuf->len += pad;
			f->spool_off += n;
			progress = 1;
			continue;
		}
		if (f->in_left == 0) {
			put_stdin(f->ubuf, NULL, 0);
			f->stdin_done = 1;
			return 1;
		}
		uint32_t avail = client_body_avail(c);
		if (avail == 0) {
			int p = client_pull(c);
			if (p < 0) {
				f->status = 400; /* the client left in the middle of its body */
				return -1;
			}
			if (p == 0)
				break;
			continue;
		}
		uint32_t n = avail < room ? avail : room;
		if (n > f->in_left)
			n = (uint32_t)f->in_left;
		put_stdin(f->ubuf, c->rbuf->data + c->rbuf->start + c->x->head_len, n);
		client_body_drop(c, n);
		f->in_left -= n;
		progress = 1;
	}
	return progress;
}

/* Write ubuf to the application. 1: progress, 0: blocked or empty, -1: error. */
static int upstream_write(struct fcgi_req *f)
{
	struct buf *b = f->ubuf;
	int progress = 0;
	while (buf_avail(b)) {
		ssize_t n = send(ufd(f), b->data + b->start, buf_avail(b), MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				arm(f, f->tq_send);
				return progress;
			}
			return -1;
		}
		b->start += (uint32_t)n;
		progress = 1;
	}
	b->start = b->len = 0;
	/* the request is all sent: now it is the application's turn; while body
	 * bytes are still to come, the wait is on the client (--timeout-body) */
	if (progress) {
		if (f->stdin_done)
			arm(f, f->tq_read);
		else
			timer_disarm(&f->timer);
	}
	return progress;
}

static void log_stderr(struct conn *c, struct fcgi_req *f, const uint8_t *p, size_t n)
{
	if (f->stderr_lines >= STDERR_LOG_LINES) {
		f->stderr_more += n;
		return;
	}
	f->stderr_lines++;
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n > STDERR_LINE_MAX) {
		f->stderr_more += n - STDERR_LINE_MAX;
		n = STDERR_LINE_MAX; /* one error-log line */
	}
	char host[64];
	conn_peer_host(c, host, sizeof host);
	char clean[STDERR_LINE_MAX + 1];
	for (size_t i = 0; i < n; i++)
		clean[i] = (p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f ? ' ' : (char)p[i];
	clean[n] = '\0';
	log_warn("FastCGI stderr for \"%s\" (client %s): %s", logpath(c->x), host, clean);
}

/* What log_stderr left out, in one line when the request ends. */
static void log_stderr_rest(struct conn *c, struct fcgi_req *f)
{
	if (!f->stderr_more)
		return;
	char host[64];
	conn_peer_host(c, host, sizeof host);
	log_warn("FastCGI stderr for \"%s\" (client %s): %llu more bytes not logged", logpath(c->x), host,
	         (unsigned long long)f->stderr_more);
	f->stderr_more = 0;
}

/* resp_end_head could not fit the head and wrote a 500 in its place: that
 * is the answer, fail_now must not add another. */
static int head_refused(struct fcgi_req *f)
{
	f->head_sent = 1;
	f->mode = BM_NONE;
	return -1;
}

/* The CGI head is complete in hbuf: write the HTTP response head. */
static int send_head(struct conn *c, struct fcgi_req *f, size_t head_len)
{
	struct xfer *x = c->x;
	static struct cgi_head ch; /* large; one worker handles one at a time */
	if (cgi_parse_head(&ch, f->hbuf->data, head_len) < 0) {
		log_error("FastCGI %s: malformed response head for \"%s\"",
		          f->route->backends[f->backend].text, logpath(x));
		f->status = 502;
		return -1;
	}
	if (ch.local_redirect && f->redirects >= MAX_REDIRECTS) {
		log_error("FastCGI: more than %d local redirects for \"%s\"", MAX_REDIRECTS, logpath(x));
		f->status = 500;
		return -1;
	}
	if (ch.local_redirect) {
		/* RFC 3875 §6.2.2: the server fetches the local resource itself */
		char loc[XFER_PATH_MAX];
		size_t ll = ch.location_len;
		const char *q = ll < sizeof loc ? memchr(ch.location, '?', ll) : NULL;
		size_t ql = q ? ll - (size_t)(q - ch.location) - 1 : 0;
		/* a cut path or a dropped query would fetch another resource than
		 * the one asked for */
		if (ll >= sizeof loc || ql >= sizeof x->redirect_query) {
			log_error("FastCGI %s: local redirect for \"%s\" too long (%s of %zu bytes)",
			          f->route->backends[f->backend].text, logpath(x),
			          ll >= sizeof loc ? "Location" : "query", ll >= sizeof loc ? ll : ql);
			f->status = 502;
			return -1;
		}
		memcpy(loc, ch.location, ll);
		q = q ? loc + (q - ch.location) : NULL;
		int r =
		    path_normalize(loc, q ? (size_t)(q - loc) : ll, x->path, sizeof x->path, &x->path_len);
		if (r != PATH_OK) {
			log_error("FastCGI %s: unusable local redirect for \"%s\"",
			          f->route->backends[f->backend].text, logpath(x));
			f->status = 502;
			return -1;
		}
		if (ql)
			memcpy(x->redirect_query, q + 1, ql);
		x->redirect_query[ql] = '\0';
		return 2;
	}
	/* request body the client has not sent yet cannot be told from its next
	 * request: the connection closes after this response (RFC 9112 §9.3) */
	if (!f->spooled && f->in_left > 0)
		x->flags |= XF_CLOSE;
	resp_start(c, ch.status);
	static const char *const hop[] = {"connection", "keep-alive", "transfer-encoding", "proxy-connection",
	                                  "upgrade",    "te",         "trailer",           "content-length",
	                                  "date",       "server"};
	for (unsigned i = 0; i < ch.nfields; i++) {
		const struct cgi_field *fl = &ch.fields[i];
		int skip = 0;
		for (size_t k = 0; k < sizeof hop / sizeof hop[0] && !skip; k++)
			skip = strlen(hop[k]) == fl->nlen && strncasecmp(hop[k], fl->name, fl->nlen) == 0;
		if (skip)
			continue;
		char name[256];
		if (fl->nlen >= sizeof name)
			continue;
		memcpy(name, fl->name, fl->nlen);
		name[fl->nlen] = '\0';
		resp_header_n(c, name, fl->value, fl->vlen);
	}
	int no_body = (x->flags & XF_HEAD) || ch.status == 204 || ch.status == 304 || ch.status < 200;
	if (ch.content_length >= 0) {
		f->mode = no_body ? BM_NONE : BM_LENGTH;
		f->expected = (uint64_t)ch.content_length;
		if (resp_end_head(c, ch.content_length) < 0)
			return head_refused(f);
	} else if (no_body) {
		f->mode = BM_NONE;
		if (resp_end_head(c, (x->flags & XF_HEAD) ? -1 : 0) < 0)
			return head_refused(f);
	} else if (x->head.version == 11) {
		f->mode = BM_CHUNKED;
		resp_header(c, "Transfer-Encoding", "chunked");
		if (resp_end_head(c, -1) < 0)
			return head_refused(f);
	} else {
		f->mode = BM_CLOSE;
		x->flags |= XF_CLOSE;
		if (resp_end_head(c, -1) < 0)
			return head_refused(f);
	}
	f->head_sent = 1;
	return 0;
}

/* Move pending STDOUT bytes into wbuf as the body mode wants. 1 when all of
 * them went, 0 when wbuf is full. */
static int ensure_wbuf(struct conn *c)
{
	if (!c->wbuf)
		c->wbuf = pool_get(&c->srv->bufs);
	return c->wbuf ? 0 : -1;
}

static int deliver(struct conn *c, struct fcgi_req *f)
{
	if (ensure_wbuf(c) < 0)
		return 0;
	struct buf *wb = c->wbuf;
	if (wb->start > 0)
		buf_compact(wb);
	while (f->pend_len) {
		size_t n = f->pend_len;
		if (f->mode == BM_NONE) {
			f->pend_len = 0;
			break;
		}
		if (f->mode == BM_LENGTH) {
			if (f->sent + n > f->expected)
				n = f->expected > f->sent ? (size_t)(f->expected - f->sent) : 0;
			if (n == 0) { /* more than it announced: dropped */
				f->pend_len = 0;
				break;
			}
		}
		uint32_t space = buf_space(wb);
		uint32_t overhead = f->mode == BM_CHUNKED ? 12 : 0;
		if (space <= overhead + 64) {
			if (wb->start > 0 && buf_avail(wb) == 0) {
				wb->start = wb->len = 0;
				continue;
			}
			return 0;
		}
		if (n > space - overhead)
			n = space - overhead;
		if (f->mode == BM_CHUNKED)
			wb->len += (uint32_t)snprintf(wb->data + wb->len, 12, "%zx\r\n", n);
		memcpy(wb->data + wb->len, f->pend, n);
		wb->len += (uint32_t)n;
		if (f->mode == BM_CHUNKED) {
			memcpy(wb->data + wb->len, "\r\n", 2);
			wb->len += 2;
		}
		f->sent += n;
		c->x->body_sent += n;
		if (f->mode == BM_LENGTH && f->pend_len > n && f->sent >= f->expected)
			f->pend_len = 0; /* the rest was beyond Content-Length */
		else {
			f->pend += n;
			f->pend_len -= n;
		}
	}
	return 1;
}

/* Read and parse what the application sent. 1: progress, 0: nothing now,
 * -1: failure (f->status set when the head was not sent yet). */
static int upstream_read(struct conn *c, struct fcgi_req *f)
{
	int progress = 0;
	for (;;) {
		if (f->pend_len && !deliver(c, f))
			return progress; /* the client must take some first */
		struct buf *ib = f->ibuf;
		while (buf_avail(ib) && !f->pend_len) {
			struct fcgi_event ev;
			size_t used = 0;
			int r = fcgi_parse(&f->parser, (const uint8_t *)ib->data + ib->start, buf_avail(ib),
			                   &used, &ev);
			ib->start += (uint32_t)used;
			if (r < 0) {
				log_error("FastCGI %s: malformed records (%d) for \"%s\"",
				          f->route->backends[f->backend].text, r, logpath(c->x));
				f->status = 502;
				return -1;
			}
			if (r == 0)
				break;
			progress = 1;
			if (!f->got_output)
				waiting_set(c->srv->fcgi, f, 0);
			f->got_output = 1;
			if (ev.type == FCGI_EV_STDERR) {
				log_stderr(c, f, ev.data, ev.len);
			} else if (ev.type == FCGI_EV_END) {
				f->ended = 1;
				f->protocol_status = ev.protocol_status;
			} else if (!f->head_sent) {
				struct buf *hb = f->hbuf;
				uint32_t limit =
				    f->route->max_header < hb->cap ? f->route->max_header : hb->cap;
				size_t room = limit - hb->len;
				size_t take = ev.len < room ? ev.len : room;
				size_t before = hb->len;
				memcpy(hb->data + hb->len, ev.data, take);
				hb->len += (uint32_t)take;
				/* only the new bytes are searched (a head sent a byte
				 * a record would otherwise cost quadratic time) */
				size_t end = cgi_head_end_from(hb->data, hb->len, f->head_scanned);
				f->head_scanned = hb->len;
				if (!end) {
					if (take < ev.len) {
						log_error("FastCGI response head for \"%s\" over %u bytes",
						          logpath(c->x), limit);
						f->status = 502;
						return -1;
					}
					continue;
				}
				int s = send_head(c, f, end);
				if (s < 0)
					return -1;
				if (s == 2)
					return 2; /* local redirect */
				pool_put(&c->srv->bufs, f->hbuf); /* the body streams through ibuf */
				f->hbuf = NULL;
				/* body bytes that came with the head */
				size_t body_in_ev = before + ev.len - end;
				f->pend = ev.data + (ev.len - body_in_ev);
				f->pend_len = body_in_ev;
			} else {
				f->pend = ev.data;
				f->pend_len = ev.len;
			}
		}
		if (f->pend_len)
			continue;
		if (f->ended) {
			if (buf_avail(ib)) {
				f->status = 502; /* bytes after END_REQUEST */
				return -1;
			}
			return 1;
		}
		/* everything parsed: read more */
		ib->start = ib->len = 0;
		struct fcgi_up *u = f->up;
		if (!u->readable) {
			/* the next readable event brings us back; the application has
			 * read-timeout for it (the clock stopped while the client was
			 * the one to wait for) */
			if (f->stdin_done && !timer_armed(&f->timer))
				arm(f, f->tq_read);
			return progress;
		}
		ssize_t n = recv(u->w.fd, ib->data, ib->cap, 0);
		if (n > 0) {
			ib->len = (uint32_t)n;
			if ((size_t)n < ib->cap && !u->hup)
				u->readable = 0;
			progress = 1;
			arm(f, f->tq_read);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			u->readable = 0;
			return progress;
		}
		/* closed or reset before END_REQUEST */
		if (!f->got_output && f->reused && f->tries == 0) {
			if (replayable(f)) {
				f->status = -1; /* a stale pooled connection: retry */
				return -1;
			}
			log_error("FastCGI %s closed a pooled connection during \"%s\" after request body "
			          "bytes went to it: not retried",
			          f->route->backends[f->backend].text, logpath(c->x));
			f->status = 502;
			return -1;
		}
		log_error("FastCGI %s closed the connection in the middle of \"%s\"",
		          f->route->backends[f->backend].text, logpath(c->x));
		f->status = 502;
		return -1;
	}
}

static int check_connect(struct fcgi_req *f)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(ufd(f), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		/* connected when writable; not yet when nothing is known */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getpeername(ufd(f), (struct sockaddr *)&ss, &sl) < 0)
			return errno == ENOTCONN ? 0 : -1;
		return 1;
	}
	errno = err;
	return -1;
}

/* The buffers for the application's answer, once there is a connection. */
static int stream_buffers(struct conn *c, struct fcgi_req *f)
{
	if (!f->ibuf && !(f->ibuf = pool_get(&c->srv->bufs)))
		return -1;
	if (!f->head_sent && !f->hbuf && !(f->hbuf = pool_get(&c->srv->bufs)))
		return -1;
	return 0;
}

/* Answer with f->status now (before any head went out), closing after. */
static int fail_now(struct conn *c, struct fcgi_req *f)
{
	struct xfer *x = c->x;
	int status = f->status > 0 ? f->status : 502;
	/* after END_REQUEST the request is over for the application: no ABORT */
	upstream_close(f, f->state == F_STREAM && !f->ended);
	if (f->head_sent) {
		/* too late for a status: what arrived goes out, then the connection
		 * closes, which tells the client the response was cut short */
		x->flags |= XF_CLOSE;
		f->ended = 1;
		f->pend_len = 0;
		return FCGI_DONE;
	}
	x->flags |= XF_CLOSE | XF_ERROR;
	resp_error(c, status);
	f->ended = 1;
	return FCGI_DONE;
}

static int restart_fresh(struct conn *c, struct fcgi_req *f)
{
	upstream_close(f, 0);
	f->tries++;
	fcgi_parser_init(&f->parser, REQUEST_ID);
	f->ibuf->start = f->ibuf->len = 0;
	f->stdin_done = 0;
	f->spool_off = 0;
	if (build_head(c, f) < 0 || upstream_connect(c, f) < 0) {
		f->status = 502;
		return -1;
	}
	return 0;
}

/* Has the client closed its side while we wait for the application? (The
 * peek leaves pipelined requests where they are.) */
static int client_gone(struct conn *c, struct fcgi_req *f)
{
	if (!(c->flags & CF_RDHUP) || (!f->stdin_done && f->state != F_CONNECT && f->state != F_QUEUED))
		return 0;
	if (c->rbuf && client_body_avail(c))
		return 0;
	char b;
	ssize_t n = recv(c->w.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

int fcgi_drive(struct conn *c)
{
	struct xfer *x = c->x;
	struct fcgi_req *f = x->fcgi;
	if (!f->head_sent && client_gone(c, f)) {
		char host[64];
		conn_peer_host(c, host, sizeof host);
		log_info("client %s closed the connection before the response to \"%s\": aborting it", host,
		         logpath(x));
		return FCGI_CLOSE;
	}
	for (int turn = 0; turn < 64; turn++) {
		int progress = 0;
		if (f->state == F_FAILED)
			return fail_now(c, f);
		if (f->timed_out) {
			f->timed_out = 0;
			if (f->state == F_QUEUED) {
				queue_remove(backend_of(c->srv->fcgi, f), f);
				f->state = F_FAILED;
				log_warn("FastCGI %s: no connection free within queue-timeout (max-conns %u) "
				         "for \"%s\"",
				         f->route->backends[f->backend].text, f->route->max_conns,
				         logpath(x));
				f->status = 503;
				return fail_now(c, f);
			}
			if (f->state == F_CONNECT) {
				log_warn("FastCGI %s: connect timeout", f->route->backends[f->backend].text);
				upstream_close(f, 0);
				f->backend = (f->backend + 1) % f->route->nbackends;
				if (++f->tries < f->route->nbackends && connect_any(c, f) == 0)
					continue;
			} else {
				log_warn("FastCGI %s: timeout for \"%s\"",
				         f->route->backends[f->backend].text, logpath(x));
			}
			f->status = 504;
			return fail_now(c, f);
		}
		if (f->state == F_SPOOL) {
			int r = spool_body(c, f);
			if (r < 0)
				return fail_now(c, f);
			if (r == 0)
				break;
			if (build_head(c, f) < 0)
				return fail_now(c, f);
			if (connect_any(c, f) < 0) {
				f->status = 502;
				return fail_now(c, f);
			}
			progress = 1;
		}
		if (f->state == F_CONNECT) {
			int r = check_connect(f);
			if (r < 0) {
				log_warn("FastCGI %s: %s", f->route->backends[f->backend].text,
				         strerror(errno));
				upstream_close(f, 0);
				f->backend = (f->backend + 1) % f->route->nbackends;
				if (++f->tries < f->route->nbackends && connect_any(c, f) == 0)
					continue;
				f->status = 502;
				return fail_now(c, f);
			}
			if (r == 0)
				break;
			f->state = F_STREAM;
			arm(f, f->tq_send);
			progress = 1;
		}
		if (f->state == F_STREAM) {
			if (stream_buffers(c, f) < 0) {
				f->status = 500;
				return fail_now(c, f);
			}
			int r = pump_body(c, f);
			if (r < 0)
				return fail_now(c, f);
			progress |= r;
			r = upstream_write(f);
			if (r < 0) {
				int e = errno;
				if (f->reused && !f->got_output && f->tries == 0 && replayable(f) &&
				    restart_fresh(c, f) == 0)
					continue;
				log_error(
				    "FastCGI %s: sending \"%s\": %s%s", f->route->backends[f->backend].text,
				    logpath(x), strerror(e),
				    f->reused && !f->got_output && f->tries == 0
				        ? " (a pooled connection; request body bytes were taken: not retried)"
				        : "");
				f->status = 502;
				return fail_now(c, f);
			}
			progress |= r;
			r = upstream_read(c, f);
			if (r == 2) {
				/* a local redirect: the same exchange, a new resource, by GET */
				upstream_close(f, !f->ended);
				x->redirects = f->redirects + 1;
				return FCGI_REDIRECT;
			}
			if (r < 0) {
				if (f->status == -1 && f->tries == 0 && restart_fresh(c, f) == 0)
					continue;
				return fail_now(c, f);
			}
			progress |= r;
		}
		/* the end of a chunked body leaves with its last bytes */
		if (f->ended && !f->pend_len && f->state == F_STREAM && f->head_sent &&
		    f->mode == BM_CHUNKED && !f->last_chunk && f->protocol_status == FCGI_REQUEST_COMPLETE &&
		    c->wbuf && buf_space(c->wbuf) >= 5) {
			memcpy(c->wbuf->data + c->wbuf->len, "0\r\n\r\n", 5);
			c->wbuf->len += 5;
			f->last_chunk = 1;
		}
		/* the client takes what is ready */
		if (c->wbuf && buf_avail(c->wbuf)) {
			int w = conn_flush(c, 0);
			if (w == IO_ERROR)
				return FCGI_CLOSE;
			if (w == IO_WAIT) {
				c->flags |= CF_WAIT_OUT;
				/* parsed output waits for the client: its slowness is
				 * --timeout-send's to judge, not the application's
				 * read-timeout (a slow reader got "FastCGI timeout") */
				if (f->pend_len)
					timer_disarm(&f->timer);
				if (!f->ended || f->pend_len)
					break;
			} else {
				c->flags &= (uint8_t)~CF_WAIT_OUT;
				progress = 1;
			}
		}
		if (f->ended && !f->pend_len && f->state == F_STREAM) {
			if (f->protocol_status != FCGI_REQUEST_COMPLETE && !f->head_sent) {
				f->status = f->protocol_status == FCGI_OVERLOADED ? 503 : 502;
				log_error("FastCGI %s refused \"%s\" (protocol status %u)",
				          f->route->backends[f->backend].text, logpath(x),
				          f->protocol_status);
				return fail_now(c, f);
			}
			if (!f->head_sent) {
				log_error("FastCGI %s ended \"%s\" without a response head",
				          f->route->backends[f->backend].text, logpath(x));
				f->status = 502;
				return fail_now(c, f);
			}
			if (f->protocol_status != FCGI_REQUEST_COMPLETE) {
				/* the application says the request failed: the client
				 * must not take the response for a complete one */
				log_error("FastCGI %s failed \"%s\" after its response began (protocol "
				          "status %u): cutting the connection",
				          f->route->backends[f->backend].text, logpath(x),
				          f->protocol_status);
				x->flags |= XF_CLOSE; /* and no last chunk */
			} else if (f->mode == BM_CHUNKED && !f->last_chunk) {
				if (ensure_wbuf(c) < 0 || buf_space(c->wbuf) < 5)
					break; /* after the next flush */
				memcpy(c->wbuf->data + c->wbuf->len, "0\r\n\r\n", 5);
				c->wbuf->len += 5;
			} else if (f->mode == BM_LENGTH && f->sent < f->expected) {
				log_error("FastCGI response for \"%s\" shorter than its Content-Length",
				          logpath(x));
				x->flags |= XF_CLOSE; /* the client cannot be told otherwise */
			}
			if (!f->spooled && f->in_left > 0)
				x->flags |= XF_CLOSE; /* the rest of the body is not a request */
			upstream_release(c, f);
			return FCGI_DONE;
		}
		if (!progress)
			break;
	}
	return FCGI_WAIT;
}
