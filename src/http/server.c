/* server.c: a worker's server: accepting, pools, timers, signals, stopping.
 *
 * Connections and exchanges come from free lists that grow to the peak in
 * use; closed connections are parked until the end of the loop turn, so an
 * event already fetched for them in the same turn finds a closed (fd -1)
 * watch instead of freed memory.
 */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"
#include "fcgi/gateway.h"
#include "http/conn.h"
#include "http/target.h"

#define ACCEPT_RETRY_MS 100
#define ACCEPT_DEFER_MS 2
#define POOL_KEEP 64

static void accept_all(struct listener *ls);
static void accept_some(struct listener *ls, size_t least);

/* ---- pools ---- */

struct conn *server_conn_new(struct server *s)
{
	struct conn *c = s->conn_free;
	if (c)
		s->conn_free = c->next;
	else if (!(c = malloc(sizeof *c)))
		return NULL;
	memset(c, 0, sizeof *c);
	c->w.fd = -1;
	s->nconns++;
	return c;
}

void server_set_stats(struct server *s, struct stats_slot *slot, const struct stats_region *region,
                      unsigned peers)
{
	s->stats = slot;
	s->region = region;
	s->peers = peers;
}

/* ---- connection limits ---- */

#define CLIENT_BUCKETS 4096u

struct client_count {
	struct client_count *next;
	uint32_t count;
	uint8_t family;
	uint8_t addr[16];
};

static int client_key(const struct sockaddr *sa, uint8_t key[16], uint8_t *family)
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return -1; /* Unix peers are not limited per address */
	}
	*family = (uint8_t)sa->sa_family;
	return 0;
}

static uint32_t client_hash(const uint8_t key[16])
{
	return fnv1a(FNV1A_BASIS, key, 16) & (CLIENT_BUCKETS - 1);
}

static struct client_count **client_find(struct server *s, const uint8_t key[16], uint8_t family)
{
	struct client_count **pp = &s->clients[client_hash(key)];
	while (*pp && ((*pp)->family != family || memcmp((*pp)->addr, key, 16) != 0))
		pp = &(*pp)->next;
	return pp;
}

int server_admit(struct server *s, const struct sockaddr *sa)
{
	const struct settings *cfg = s->cfg;
	if (cfg->max_connections) {
		uint64_t total = s->nconns;
		if (s->region)
			total = stats_active(s->region);
		if (total > cfg->max_connections)
			return 503;
	}
	uint8_t key[16], family;
	if (!cfg->max_connections_per_client || client_key(sa, key, &family) < 0)
		return 0;
	if (!s->clients && !(s->clients = calloc(CLIENT_BUCKETS, sizeof(struct client_count *))))
		return 503;
	struct client_count **pp = client_find(s, key, family);
	if (!*pp) {
		struct client_count *e = s->client_free;
		if (e)
			s->client_free = e->next;
		else if (!(e = malloc(sizeof *e)))
			return 503;
		e->next = NULL;
		e->count = 0;
		e->family = family;
		memcpy(e->addr, key, 16);
		*pp = e;
	}
	if ((*pp)->count >= cfg->max_connections_per_client)
		return 429;
	(*pp)->count++;
	return 0;
}

void server_leave(struct server *s, const struct sockaddr *sa)
{
	uint8_t key[16], family;
	if (!s->clients || client_key(sa, key, &family) < 0)
		return;
	struct client_count **pp = client_find(s, key, family);
	struct client_count *e = *pp;
	if (!e)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		e->next = s->client_free;
		s->client_free = e;
	}
}

void server_conn_release(struct server *s, struct conn *c)
{
	s->nconns--;
	stat_set(&s->stats->active, s->nconns);
	c->next = s->closed;
	s->closed = c;
}

struct xfer *server_xfer_get(struct server *s)
{
	struct xfer *x = s->xfer_free;
	if (x)
		s->xfer_free = x->next_free;
	else if (!(x = malloc(sizeof *x)))
		return NULL;
	x->next_free = NULL;
	x->head_len = 0;
	x->flags = 0;
	x->body_left = x->body_total = x->body_wire = 0;
	x->status = 0;
	x->body = BODY_NONE;
	x->fd = -1;
	x->file_off = x->file_left = 0;
	x->body_sent = 0;
	x->mem = NULL;
	x->mem_off = x->mem_len = 0;
	x->resp_start = 0;
	x->nranges = x->part = 0;
	x->fsize = 0;
	x->ctype = NULL;
	x->path_len = 0;
	x->path[0] = '\0';
	x->path_status = PATH_OK;
	x->route_status = ROUTE_STATIC;
	x->route = NULL;
	x->fcgi = NULL;
	x->script_len = 0;
	x->redirects = 0;
	x->has_client = 0;
	return x;
}

void server_xfer_put(struct server *s, struct xfer *x)
{
	x->next_free = s->xfer_free;
	s->xfer_free = x;
}

static void free_lists(struct server *s)
{
	while (s->conn_free) {
		struct conn *c = s->conn_free;
		s->conn_free = c->next;
		free(c);
	}
	while (s->xfer_free) {
		struct xfer *x = s->xfer_free;
		s->xfer_free = x->next_free;
		free(x);
	}
}

/* ---- the end of each loop turn ---- */

static void on_turn_end(struct loop *l, void *arg)
{
	struct server *s = arg;
	struct conn *ready = s->ready;
	s->ready = NULL;
	while (ready) {
		struct conn *c = ready;
		ready = c->next;
		conn_resume(c);
	}
	if (s->ready)
		loop_set_pending(l);
	while (s->closed) {
		struct conn *c = s->closed;
		s->closed = c->next;
		c->next = s->conn_free;
		s->conn_free = c;
	}
	if (s->stopping && s->nconns == 0)
		loop_stop(l);
}

/* ---- once a second ---- */

static void on_tick(struct loop *l, struct timer *t)
{
	(void)l;
	struct server *s = container_of(t, struct server, tick);
	log_access_flush();
	size_t before = s->bufs.nfree;
	pool_trim(&s->bufs, POOL_KEEP);
	if (before > POOL_KEEP)
		malloc_trim(0);
	timer_arm(&s->tq_tick, &s->tick);
}

/* ---- accepting ---- */

static void on_retry(struct loop *l, struct timer *t)
{
	(void)l;
	struct listener *ls = container_of(t, struct listener, retry);
	ls->paused = 0;
	accept_all(ls);
}

static void on_defer(struct loop *l, struct timer *t)
{
	(void)l;
	struct listener *ls = container_of(t, struct listener, defer);
	/* at least this many now, doubling while the deferrals go on: a peer
	 * that is stuck cannot hold connections back for more than a moment */
	ls->defer_min = ls->defer_min ? (ls->defer_min < 4096 ? ls->defer_min * 2 : 4096) : 4;
	accept_some(ls, ls->defer_min);
}

/* How many connections this worker may hold before it leaves a burst to the
 * others (SIZE_MAX: no limit). Workers sharing a listener (EPOLLEXCLUSIVE)
 * are woken one at a time, and whoever wakes would drain the whole queue: a
 * burst of new connections (5,000 at once on the bench's `many`) then lands
 * mostly on one worker, which serves them for their whole life. So a worker
 * holding more than 1/8 + 16 above the others' average stops accepting and
 * tries again ACCEPT_DEFER_MS later; by then an idle worker, woken by the
 * next arrival, has usually taken the queue. When nobody has, it takes a few
 * (4, then twice as many at each further deferral, until it is under its
 * share again): a deferral costs a few milliseconds, never a connection. */
static size_t accept_limit(const struct server *s)
{
	if (!s->region || s->peers < 2)
		return SIZE_MAX;
	uint64_t active = stats_active(s->region);
	uint64_t others = active > s->nconns ? active - s->nconns : 0;
	uint64_t avg = others / (s->peers - 1);
	return (size_t)(avg + avg / 8 + 16);
}

static void accept_all(struct listener *ls)
{
	accept_some(ls, 0);
}

/* Accept until the queue is empty, or until this worker holds its share
 * (but at least `least` more). */
static void accept_some(struct listener *ls, size_t least)
{
	struct server *s = ls->srv;
	if (ls->paused || ls->w.fd < 0)
		return;
	size_t limit = accept_limit(s);
	if (limit != SIZE_MAX && limit < s->nconns + least)
		limit = s->nconns + least;
	else
		ls->defer_min = 0; /* under its share again */
	for (;;) {
		if (s->nconns >= limit) {
			if (!timer_armed(&ls->defer))
				timer_arm(&s->tq_defer, &ls->defer);
			return;
		}
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(ls->w.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN: return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM: continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/* no descriptor for it: stop accepting for a moment instead
				 * of spinning on a listener that stays ready */
				if (!ls->warned_ms || clock_cache.now_ms - ls->warned_ms >= 10000) {
					log_warn("accept: %s; pausing accepts for %d ms at a time (next "
					         "warning in 10 s at "
					         "the earliest)",
					         strerror(errno), ACCEPT_RETRY_MS);
					ls->warned_ms = clock_cache.now_ms;
				}
				ls->paused = 1;
				timer_arm(&s->tq_retry, &ls->retry);
				return;
			default: log_error("accept: %s", strerror(errno)); return;
			}
		}
		conn_start(s, fd, (struct sockaddr *)&ss, sl, ls->index);
	}
}

static void on_accept(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	(void)events;
	accept_all(container_of(w, struct listener, w));
}

/* ---- stopping ---- */

static void on_shutdown_timeout(struct loop *l, struct timer *t)
{
	(void)t;
	log_notice("shutdown timeout: closing the remaining connections");
	loop_stop(l);
}

/* Stop every connection waiting in queue id. They are listed first: stopping
 * one may move it to another queue, or back to the tail of this one. */
static void stop_idle_in(struct server *s, enum tq_id id)
{
	struct tqueue *q = &s->tq[id];
	size_t n = 0, i = 0;
	for (struct timer *t = q->head.next; t != &q->head; t = t->next)
		n++;
	struct conn **list = calloc(n ? n : 1, sizeof(struct conn *));
	if (!list) {
		log_error("out of memory at shutdown: idle connections stay until their timeout");
		return;
	}
	for (struct timer *t = q->head.next; t != &q->head && i < n; t = t->next)
		list[i++] = container_of(t, struct conn, timer);
	for (size_t k = 0; k < i; k++)
		conn_stop_idle(list[k]);
	free(list);
}

static void close_listeners(struct server *s)
{
	for (unsigned i = 0; i < s->nlisteners; i++) {
		struct listener *ls = &s->listeners[i];
		if (ls->w.fd >= 0) {
			loop_unwatch(s->loop, &ls->w);
			close(ls->w.fd);
			ls->w.fd = -1;
		}
		timer_disarm(&ls->retry);
		timer_disarm(&ls->defer);
	}
}

void server_graceful_stop(struct server *s)
{
	if (s->stopping && !s->retiring)
		return;
	if (!s->stopping) {
		s->stopping = 1;
		close_listeners(s);
		timer_arm(&s->tq_shutdown, &s->shutdown);
	}
	s->retiring = 0;
	timer_disarm(&s->retire);
	stop_idle_in(s, TQ_IDLE);
	stop_idle_in(s, TQ_HEADER);
	if (s->nconns == 0)
		loop_stop(s->loop);
}

/* Closing an idle keep-alive connection races with a request its client may
 * be sending on it that instant (which the client then has to retry: RFC 9112
 * 9.3.1). A stop has to take that chance; a retirement need not take it under
 * load: for a moment each request that comes is answered with Connection:
 * close, which ends the connection with no race at all, and only what stayed
 * idle throughout is closed after. */
void server_retire(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->retiring = 1;
	close_listeners(s);
	timer_arm(&s->tq_shutdown, &s->shutdown);
	timer_arm(&s->tq_retire, &s->retire);
	if (s->nconns == 0)
		loop_stop(s->loop);
}

static void on_retire_grace(struct loop *l, struct timer *t)
{
	(void)l;
	server_graceful_stop(container_of(t, struct server, retire));
}

static void on_drained(struct loop *l, struct timer *t)
{
	(void)l;
	struct server *s = container_of(t, struct server, drain);
	log_notice("drain delay over: stopping");
	server_graceful_stop(s);
}

void server_begin_stop(struct server *s)
{
	if (s->draining || s->stopping)
		return;
	if (s->cfg->drain_delay_ms == 0) {
		server_graceful_stop(s);
		return;
	}
	/* the balancer sees the health check fail and stops sending new work
	 * while we go on serving what still comes */
	s->draining = 1;
	log_notice("draining for %u ms before stopping", (unsigned)s->cfg->drain_delay_ms);
	timer_arm(&s->tq_drain, &s->drain);
}

static void on_signal(struct loop *l, struct watch *w, uint32_t events)
{
	(void)events;
	struct server *s = container_of(w, struct server, sigw);
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGQUIT:
			log_notice("signal %u: graceful stop", si.ssi_signo);
			server_begin_stop(s);
			break;
		case SIGINT:
			log_notice("signal %u: stopping now", si.ssi_signo);
			loop_stop(l);
			break;
		case SIGUSR2:
			/* from the master: a newer generation took over. Not a stop of
			 * the node, so no drain: stop accepting and finish (keep-alive
			 * connections get RETIRE_GRACE_MS for one more request). */
			log_info("replaced by a newer generation: finishing");
			server_retire(s);
			break;
		case SIGUSR1:
			if (log_reopen() < 0)
				log_error("reopening logs failed");
			else
				log_notice("logs reopened");
			break;
		case SIGHUP:
			log_notice(
			    "SIGHUP: configuration reload needs the master process (not in this mode)");
			break;
		}
	}
}

/* ---- set-up ---- */

void server_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

int server_init(struct server *s, const struct settings *cfg, const int *fds, unsigned nfds,
                const int *root_fds)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->sigfd = -1;
	s->root_fds = root_fds;
	s->stats = &s->own_stats;
	s->loop = loop_new();
	if (!s->loop)
		return -ENOMEM;
	s->limits.max_request_line = cfg->max_request_line;
	s->limits.max_head = cfg->max_head;
	s->limits.max_fields = cfg->max_fields;
	/* room for a maximal head plus a batch of pipelined responses */
	pool_init(&s->bufs, cfg->max_head + 49152);
	fc_init(&s->files, cfg->file_cache_ms);

	tqueue_init(s->loop, &s->tq[TQ_HEADER], cfg->timeout_header_ms, conn_on_timeout);
	tqueue_init(s->loop, &s->tq[TQ_BODY], cfg->timeout_body_ms, conn_on_timeout);
	tqueue_init(s->loop, &s->tq[TQ_IDLE], cfg->timeout_idle_ms, conn_on_timeout);
	tqueue_init(s->loop, &s->tq[TQ_SEND], cfg->timeout_send_ms, conn_on_timeout);
	tqueue_init(s->loop, &s->tq[TQ_LINGER], 2000, conn_on_timeout);
	tqueue_init(s->loop, &s->tq_retry, ACCEPT_RETRY_MS, on_retry);
	tqueue_init(s->loop, &s->tq_defer, ACCEPT_DEFER_MS, on_defer);
	tqueue_init(s->loop, &s->tq_tick, 1000, on_tick);
	tqueue_init(s->loop, &s->tq_shutdown, cfg->shutdown_timeout_ms, on_shutdown_timeout);
	tqueue_init(s->loop, &s->tq_drain, cfg->drain_delay_ms ? cfg->drain_delay_ms : 1, on_drained);
	tqueue_init(s->loop, &s->tq_retire, RETIRE_GRACE_MS, on_retire_grace);
	timer_arm(&s->tq_tick, &s->tick);
	loop_on_turn_end(s->loop, on_turn_end, s);
	if (fcgi_server_init(s) < 0)
		return -ENOMEM;

	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
		rnd = (uint64_t)clock_cache.now_ms ^ ((uint64_t)getpid() << 32);
	snprintf(s->boundary, sizeof s->boundary, "hearth-%016llx", (unsigned long long)rnd);

	s->listeners = calloc(nfds ? nfds : 1, sizeof *s->listeners);
	if (!s->listeners)
		return -ENOMEM;
	s->nlisteners = nfds;
	for (unsigned i = 0; i < nfds; i++) {
		struct listener *ls = &s->listeners[i];
		ls->srv = s;
		ls->index = (uint8_t)i;
		/* one listening socket shared by every worker: wake one of them per event */
		int r = loop_watch(s->loop, &ls->w, fds[i], EPOLLIN | EPOLLEXCLUSIVE, on_accept);
		if (r < 0)
			return r;
	}

	sigset_t set;
	server_signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0)
		return -errno;
	return loop_watch(s->loop, &s->sigw, s->sigfd, EPOLLIN, on_signal);
}

int server_run(struct server *s)
{
	/* connections already waiting get accepted at once */
	for (unsigned i = 0; i < s->nlisteners; i++)
		accept_all(&s->listeners[i]);
	return loop_run(s->loop);
}

void server_free(struct server *s)
{
	/* close whatever is left (shutdown timeout or immediate stop) */
	for (int id = TQ_HEADER; id < TQ_COUNT; id++) {
		struct timer *t;
		while ((t = tqueue_first(&s->tq[id])))
			conn_abort(container_of(t, struct conn, timer));
	}
	while (s->ready) {
		struct conn *c = s->ready;
		s->ready = c->next;
		conn_abort(c);
	}
	on_turn_end(s->loop, s);
	fcgi_server_free(s);
	fc_free(&s->files);
	if (s->clients) {
		for (unsigned i = 0; i < CLIENT_BUCKETS; i++)
			while (s->clients[i]) {
				struct client_count *e = s->clients[i];
				s->clients[i] = e->next;
				free(e);
			}
		free(s->clients);
	}
	while (s->client_free) {
		struct client_count *e = s->client_free;
		s->client_free = e->next;
		free(e);
	}
	for (unsigned i = 0; i < s->nlisteners; i++)
		if (s->listeners[i].w.fd >= 0)
			close(s->listeners[i].w.fd);
	free(s->listeners);
	free_lists(s);
	pool_trim(&s->bufs, 0);
	if (s->sigfd >= 0)
		close(s->sigfd);
	loop_free(s->loop);
}
