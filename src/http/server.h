/* server.h: one worker's HTTP server: its loop, listeners, pools and timers.
 *
 * server_init() takes listening sockets that are already bound (the process
 * that binds them may be a master later) and the settings; server_run() runs
 * the loop until a stop. One struct server per process; nothing is shared.
 */
#ifndef HEARTH_HTTP_SERVER_H
#define HEARTH_HTTP_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "core/loop.h"
#include "core/pool.h"
#include "http/filecache.h"
#include "http/parse.h"
#include "stats/stats.h"

struct conn;
struct xfer;
struct fcgi_state;
struct client_count;

enum tq_id { TQ_NONE = 0, TQ_HEADER, TQ_BODY, TQ_IDLE, TQ_SEND, TQ_LINGER, TQ_COUNT };

struct listener {
	struct watch w;
	struct timer retry; /* accept paused after EMFILE/ENFILE */
	struct timer defer; /* accept deferred: this worker holds more than its share */
	size_t defer_min; /* accepted at the next deferral at least (doubles) */
	struct server *srv;
	int paused;
	uint8_t index;
	uint64_t warned_ms; /* last "descriptors exhausted" warning, to rate-limit it */
};

struct server {
	struct loop *loop;
	const struct settings *cfg;
	const int *root_fds; /* one per site (conf_site_index), owned by the caller */
	struct http_limits limits;
	struct pool bufs;
	struct xfer *xfer_free;
	struct conn *conn_free;
	struct conn *closed; /* freed at the end of the turn */
	struct conn *ready; /* to run again at the end of the turn (fairness) */
	struct tqueue tq[TQ_COUNT];
	struct tqueue tq_retry; /* listener accept retry */
	struct tqueue tq_defer; /* listener accept deferred (balance between workers) */
	unsigned peers; /* workers sharing the listeners (this one included) */
	struct tqueue tq_tick; /* once a second: log flush, pool trim */
	struct timer tick;
	struct tqueue tq_shutdown;
	struct timer shutdown;
	struct listener *listeners;
	unsigned nlisteners;
	size_t nconns;
	int stopping;
	int draining; /* --drain-delay: still serving, health 503, responses close */
	struct tqueue tq_drain;
	struct timer drain;
	int retiring; /* a newer generation took over: idle connections stay a moment */
	struct tqueue tq_retire;
	struct timer retire;
	int sigfd;
	struct watch sigw;
	char boundary[40];
	struct filecache files; /* small files in memory (http/filecache.h) */
	struct fcgi_state *fcgi; /* the FastCGI gateway's pools and timers (fcgi/gateway.c) */
	struct stats_slot *stats; /* this worker's counters (shared with the master) */
	const struct stats_region *region; /* every worker's, for the global connection limit */
	struct client_count **clients; /* per client address, when limited */
	struct client_count *client_free;
	struct stats_slot own_stats; /* used when no shared slot was given */
};

/* The signals a worker takes through its signalfd (stop, reload, reopen,
 * retire): blocked before server_init makes the signalfd. */
void server_signal_set(sigset_t *set);

/* fds: bound, listening sockets (ownership passes to the server);
 * root_fds: the sites' document roots, opened O_PATH (the caller keeps them). */
int server_init(struct server *s, const struct settings *cfg, const int *fds, unsigned nfds,
                const int *root_fds);
/* Count into slot (shared memory) instead of a private one; region holds
 * every worker's slot (for --max-connections). */
void server_set_stats(struct server *s, struct stats_slot *slot, const struct stats_region *region,
                      unsigned peers);
/* --max-connections and --max-connections-per-client, for a new connection
 * from sa: 0 admitted (counted), or the status to refuse it with. */
int server_admit(struct server *s, const struct sockaddr *sa);
void server_leave(struct server *s, const struct sockaddr *sa);
int server_run(struct server *s);
void server_free(struct server *s);

/* How long a retiring worker's keep-alive connections may bring one more
 * request (answered with Connection: close) before the idle ones are closed. */
#define RETIRE_GRACE_MS 1000

/* Stop accepting and close idle connections; exit when the rest finish. */
void server_graceful_stop(struct server *s);
/* A newer generation took over (SIGUSR2): stop accepting at once, but leave
 * keep-alive connections open for RETIRE_GRACE_MS, each request on them
 * answered with Connection: close, before the graceful stop closes the rest. */
void server_retire(struct server *s);
/* SIGTERM/SIGQUIT: drain first (--drain-delay), then the graceful stop. */
void server_begin_stop(struct server *s);

/* used by conn.c */
struct conn *server_conn_new(struct server *s);
void server_conn_release(struct server *s, struct conn *c);
struct xfer *server_xfer_get(struct server *s);
void server_xfer_put(struct server *s, struct xfer *x);

#endif
