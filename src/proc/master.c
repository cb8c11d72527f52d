/* master.c: the master process, its generations of workers, and signals.
 *
 * Workers belong to a generation: the settings they were forked with, the
 * listening sockets and document roots of those settings. A reload makes a
 * new generation; once every one of its workers has reported ready (a pid
 * written to the ready pipe after its server is set up), the older
 * generations are asked to stop gracefully. Listening sockets live in the
 * master and are shared by every generation that uses the same address, so
 * nothing is ever closed under a client during a reload: an old worker stops
 * accepting, and the connections still queued are taken by the new ones.
 *
 * The master serves no request. Its loop watches a signalfd (SIGCHLD among
 * others) and the ready pipe, and ticks every 100 ms for restarts that wait
 * out a crash-loop backoff and for the shutdown deadline.
 */
#include "proc/master.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/loop.h"
#include "ctl/client.h"
#include "ctl/metrics.h"
#include "ctl/server.h"
#include "http/mime.h"
#include "http/server.h"
#include "net/listen.h"
#include "proc/pidfile.h"
#include "proc/privs.h"
#include "proc/title.h"
#include "stats/stats.h"

#define MAX_LISTENERS 256
#define QUICK_DEATH_MS 1000u
#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u
#define LISTEN_BACKLOG 4096
/* counter slots: eight generations of 512 workers at once (a slot is 128
 * bytes of a shared mapping, touched only once given out) */
#define STATS_SLOTS 4096u

struct mlistener {
	struct listen_spec spec;
	int fd; /* -1: free slot */
	int created_file; /* a Unix socket file we made (removed at exit) */
	int reuseport; /* one of a SO_REUSEPORT group (one per worker slot) */
};

struct generation {
	unsigned id;
	struct settings *cfg;
	/* into M.listeners: nsock sockets per configured listener, [i * nsock + slot];
	 * one shared socket (nsock 1), or one per worker slot with SO_REUSEPORT */
	int *lidx;
	unsigned nsock;
	int root_fds[CONF_MAX_SITES + 1];
	unsigned nworkers; /* slots */
	unsigned nready;
	unsigned alive; /* worker processes of this generation not yet reaped */
	int announced;
	int retiring;
	int owns_cfg; /* a reload's settings (the first ones belong to main) */
	unsigned *backoff; /* per slot: consecutive quick deaths */
	uint64_t *restart_at; /* per slot: when to fork again (0: not waiting) */
	struct generation *next;
};

struct worker {
	pid_t pid;
	unsigned slot;
	struct generation *gen;
	uint64_t started_ms;
	int ready;
	int asked_to_stop;
	int stats; /* its slot in the shared counters */
};

static struct master {
	struct loop *loop;
	struct settings *cfg; /* of the newest generation */
	int argc;
	char **argv;
	char cwd[PATH_MAX];
	struct mlistener listeners[MAX_LISTENERS];
	struct generation *gens; /* newest first */
	unsigned next_gen_id;
	struct worker *workers;
	size_t nworkers, capworkers;
	struct identity id;
	int sigfd, ready_rd, ready_wr;
	struct watch sigw, readyw;
	struct tqueue tq_tick;
	struct timer tick;
	int pid_fd;
	int daemon_fd; /* write end to the waiting foreground process, or -1 */
	int stopping; /* 1 graceful, 2 immediate */
	uint64_t kill_at;
	pid_t pid;
	uint64_t started_ms;
	struct stats_region *stats;
	struct ctl_server ctl;
	char ctl_path[512];
	struct metrics_server metrics;
	int start_failed; /* --daemon: the first workers could not start */
	int nice_set, nice; /* set over the control socket: outlives reloads */
} M = {.sigfd = -1, .ready_rd = -1, .ready_wr = -1, .pid_fd = -1, .daemon_fd = -1};

/* ---- helpers ---- */

/* The control socket's path for cfg, made absolute against the start-up
 * directory ("" when off). 0, or -1 when it does not fit. */
static int control_path(const struct settings *cfg, char *out, size_t cap)
{
	char rel[sizeof M.ctl_path];
	conf_control_path(cfg, rel, sizeof rel);
	int n =
	    rel[0] && rel[0] != '/' ? snprintf(out, cap, "%s/%s", M.cwd, rel) : snprintf(out, cap, "%s", rel);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void absolutize_one(struct settings *cfg, const char **path, const char *dir)
{
	const char *p = *path;
	if (!p || p[0] == '/' || strcmp(p, "-") == 0 || strcmp(p, "off") == 0)
		return;
	char buf[PATH_MAX * 2];
	int n = snprintf(buf, sizeof buf, "%s/%s", dir, p);
	const char *abs = conf_strdup(cfg, buf, (size_t)n);
	if (abs)
		*path = abs;
}

void master_absolutize(struct settings *cfg, const char *dir)
{
	absolutize_one(cfg, &cfg->top.root, dir);
	for (unsigned i = 0; i < cfg->nsites; i++)
		absolutize_one(cfg, &cfg->sites[i].root, dir);
	absolutize_one(cfg, &cfg->access_log, dir);
	absolutize_one(cfg, &cfg->error_log, dir);
	absolutize_one(cfg, &cfg->pid_file, dir);
	absolutize_one(cfg, &cfg->mime_types, dir);
	absolutize_one(cfg, &cfg->config_file, dir);
	absolutize_one(cfg, &cfg->control, dir);
}

static const struct site_conf *site_at(const struct settings *cfg, unsigned i)
{
	return i == cfg->nsites ? &cfg->top : &cfg->sites[i];
}

/* Open every site's root (O_PATH) into fds[0..nsites]. 0 or -1 with err. */
static int open_roots(const struct settings *cfg, int *fds, char *err, size_t errlen)
{
	for (unsigned i = 0; i <= cfg->nsites; i++)
		fds[i] = -1;
	for (unsigned i = 0; i <= cfg->nsites; i++) {
		const char *root = site_at(cfg, i)->root;
		fds[i] = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fds[i] < 0) {
			snprintf(err, errlen, "cannot serve '%s': %s", root, strerror(errno));
			for (unsigned k = 0; k < i; k++)
				close(fds[k]);
			return -1;
		}
	}
	return 0;
}

/* Does generation g use listener i? */
static int gen_uses(const struct generation *g, int i)
{
	for (unsigned k = 0; k < g->cfg->nlisten * g->nsock; k++)
		if (g->lidx[k] == i)
			return 1;
	return 0;
}

static void close_roots(const struct settings *cfg, int *fds)
{
	for (unsigned i = 0; i <= cfg->nsites; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int same_spec(const struct listen_spec *a, const struct listen_spec *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* Find or bind the listener for spec: an open socket for the same address is
 * reused (that is what keeps reloads from refusing connections), unless this
 * generation already claimed it (two "127.0.0.1:0" are two ports). Index, or
 * -1 with err. */
static int listener_get(const struct settings *cfg, const struct listen_spec *spec, int reuseport,
                        const int *claimed, unsigned nclaimed, char *err, size_t errlen)
{
	int free_slot = -1;
	for (int i = 0; i < MAX_LISTENERS; i++) {
		int taken = 0;
		for (unsigned k = 0; k < nclaimed; k++)
			taken |= claimed[k] == i;
		if (M.listeners[i].fd >= 0 && !taken && M.listeners[i].reuseport == reuseport &&
		    same_spec(&M.listeners[i].spec, spec))
			return i;
		if (M.listeners[i].fd < 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		snprintf(err, errlen, "too many listeners");
		return -1;
	}
	char e[200];
	int fd = listener_open(spec, LISTEN_BACKLOG, cfg->unix_mode, reuseport, e, sizeof e);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", spec->text, e);
		return -1;
	}
	struct mlistener *ml = &M.listeners[free_slot];
	ml->spec = *spec;
	ml->fd = fd;
	ml->created_file = spec->is_unix;
	ml->reuseport = reuseport;
	int cr = spec->is_unix && cfg->user && M.id.change ? listener_chown(spec, M.id.uid, M.id.gid) : 0;
	if (cr < 0)
		log_warn("cannot give %s to %s: %s", spec->text, M.id.name,
		         cr == -EPERM ? "no longer a socket" : strerror(-cr));
	char name[160];
	listener_name(fd, spec, name, sizeof name);
	log_info("listening on %s", name);
	return free_slot;
}

/* Close listeners no generation uses any more. */
static void listeners_gc(void)
{
	for (int i = 0; i < MAX_LISTENERS; i++) {
		struct mlistener *ml = &M.listeners[i];
		if (ml->fd < 0)
			continue;
		int used = 0;
		for (struct generation *g = M.gens; g && !used; g = g->next)
			used = gen_uses(g, i);
		if (used)
			continue;
		close(ml->fd);
		ml->fd = -1;
		if (ml->created_file)
			listener_unlink(&ml->spec);
	}
}

static struct generation *gen_new(struct settings *cfg, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->cfg = cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	g->nworkers = cfg->workers < 0 ? (unsigned)(ncpu > 0 ? ncpu : 1) : (unsigned)cfg->workers;
	int reuseport = cfg->accept_mode == ACCEPT_REUSEPORT && g->nworkers > 1;
	g->nsock = reuseport ? g->nworkers : 1;
	g->lidx = malloc(sizeof *g->lidx * (cfg->nlisten ? cfg->nlisten : 1) * g->nsock);
	if (!g->lidx || open_roots(cfg, g->root_fds, err, errlen) < 0) {
		if (!g->lidx)
			snprintf(err, errlen, "out of memory");
		free(g->lidx);
		free(g);
		return NULL;
	}
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		struct listen_spec spec = cfg->listen[i];
		for (unsigned k = 0; k < g->nsock; k++) {
			int idx = listener_get(cfg, &spec, reuseport, g->lidx, n, err, errlen);
			if (idx < 0) {
				g->nsock = 0; /* nothing of ours to keep in listeners_gc */
				close_roots(cfg, g->root_fds);
				free(g->lidx);
				free(g);
				listeners_gc();
				return NULL;
			}
			g->lidx[n++] = idx;
			/* new or kept from the last generation: this generation's settings */
			int r = listener_tune(M.listeners[idx].fd, &spec, cfg->send_lowat);
			if (r < 0)
				log_warn("%s: send-lowat: %s", spec.text, strerror(-r));
			/* the rest of a SO_REUSEPORT group joins the port the first one got */
			if (k == 0 && !spec.is_unix) {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof ss;
				if (getsockname(M.listeners[idx].fd, (struct sockaddr *)&ss, &sl) == 0 &&
				    sl <= sizeof spec.addr) {
					memcpy(&spec.addr, &ss, sl);
					spec.addrlen = sl;
				}
			}
		}
	}
	g->backoff = calloc(g->nworkers ? g->nworkers : 1, sizeof *g->backoff);
	g->restart_at = calloc(g->nworkers ? g->nworkers : 1, sizeof *g->restart_at);
	if (!g->backoff || !g->restart_at) {
		snprintf(err, errlen, "out of memory");
		close_roots(cfg, g->root_fds);
		free(g->backoff);
		free(g->restart_at);
		free(g);
		return NULL;
	}
	g->id = ++M.next_gen_id;
	g->next = M.gens;
	M.gens = g;
	return g;
}

static void gen_free(struct generation *g)
{
	struct generation **pp = &M.gens;
	while (*pp && *pp != g)
		pp = &(*pp)->next;
	if (*pp)
		*pp = g->next;
	close_roots(g->cfg, g->root_fds);
	if (g->owns_cfg) {
		if (M.cfg == g->cfg)
			M.cfg = NULL;
		settings_free(g->cfg);
		free(g->cfg);
	}
	free(g->backoff);
	free(g->restart_at);
	free(g->lidx);
	free(g);
	listeners_gc();
}

static void daemon_report(const char *msg)
{
	if (M.daemon_fd < 0)
		return;
	ssize_t n = write(M.daemon_fd, msg, strlen(msg));
	(void)n;
	close(M.daemon_fd);
	M.daemon_fd = -1;
}

static int fail_start(const char *msg)
{
	log_error("%s", msg);
	if (M.daemon_fd >= 0) {
		char line[600];
		snprintf(line, sizeof line, "hearth: %s\n", msg);
		daemon_report(line);
	} else if (strcmp(M.cfg ? M.cfg->error_log : "-", "-") != 0) {
		fprintf(stderr, "hearth: %s\n", msg); /* the log is a file: say it here too */
	}
	return 1;
}

/* ---- workers ---- */

static void set_affinity(const struct settings *cfg, unsigned slot)
{
	const char *spec = cfg->worker_cpu_affinity;
	if (!spec)
		return;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int cpus[1024], n = 0;
	if (strcmp(spec, "auto") == 0) {
		for (long i = 0; i < ncpu && n < 1024; i++)
			cpus[n++] = (int)i;
	} else {
		const char *p = spec;
		while (*p && n < 1024) {
			char *end;
			long a = strtol(p, &end, 10), b = a;
			p = end;
			if (*p == '-') {
				b = strtol(p + 1, &end, 10);
				p = end;
			}
			for (long c = a; c <= b && n < 1024; c++)
				cpus[n++] = (int)c;
			if (*p == ',')
				p++;
		}
	}
	if (n == 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpus[slot % (unsigned)n], &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		log_warn("worker slot %u: cannot pin to CPU %d: %s", slot, cpus[slot % (unsigned)n],
		         strerror(errno));
}

static void close_other_fds(const struct generation *mine, unsigned slot)
{
	/* what only the master needs, or other generations' resources */
	ctl_server_forget(&M.ctl);
	metrics_forget(&M.metrics);
	loop_free(M.loop);
	M.loop = NULL;
	if (M.sigfd >= 0)
		close(M.sigfd);
	close(M.ready_rd);
	if (M.pid_fd >= 0)
		close(M.pid_fd);
	if (M.daemon_fd >= 0)
		close(M.daemon_fd);
	for (struct generation *g = M.gens; g; g = g->next)
		if (g != mine)
			close_roots(g->cfg, g->root_fds);
	/* keep only this worker's sockets: a SO_REUSEPORT socket of another slot
	 * held open here would keep taking connections nobody accepts */
	for (int i = 0; i < MAX_LISTENERS; i++) {
		int keep = 0;
		for (unsigned k = 0; k < mine->cfg->nlisten; k++)
			keep |= mine->lidx[k * mine->nsock + (mine->nsock > 1 ? slot : 0)] == i;
		if (M.listeners[i].fd >= 0 && !keep)
			close(M.listeners[i].fd);
	}
}

static void worker_main(struct generation *g, unsigned slot, int stats_idx)
{
	char err[256];
	const struct settings *cfg = g->cfg;
	pid_t master = M.pid;
	close_other_fds(g, slot);
	/* the signals the worker takes through its signalfd stay blocked until
	 * server_init makes it (a reopen or retire arriving before would kill
	 * the new worker); everything else back to normal */
	sigset_t set;
	server_signal_set(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGCHLD, SIG_DFL);
	if (cfg->worker_nice_set && setpriority(PRIO_PROCESS, 0, cfg->worker_nice) < 0)
		log_warn("worker: setpriority(%d): %s", cfg->worker_nice, strerror(errno));
	set_affinity(cfg, slot);
	if (privs_drop(&M.id, err, sizeof err) < 0) {
		log_error("worker: %s", err);
		_exit(2);
	}
	/* after the credentials change, which would clear it: a worker whose
	 * master dies (even by SIGKILL) stops gracefully instead of lingering */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	title_set("hearth: worker process");
	int fds[CONF_MAX_LISTEN];
	for (unsigned i = 0; i < cfg->nlisten; i++)
		fds[i] = M.listeners[g->lidx[i * g->nsock + (g->nsock > 1 ? slot : 0)]].fd;
	struct server srv;
	int r = server_init(&srv, cfg, fds, cfg->nlisten, g->root_fds);
	if (r < 0) {
		log_error("worker: cannot start: %s", strerror(-r));
		_exit(2);
	}
	if (stats_idx >= 0)
		server_set_stats(&srv, &M.stats->slots[stats_idx], M.stats, g->nsock > 1 ? 1 : g->nworkers);
	pid_t me = getpid();
	if (write(M.ready_wr, &me, sizeof me) != (ssize_t)sizeof me)
		log_warn("worker: cannot report ready: %s", strerror(errno));
	close(M.ready_wr);
	r = server_run(&srv);
	server_free(&srv);
	log_access_flush();
	_exit(r < 0 ? 1 : 0);
}

static struct worker *worker_add(void)
{
	for (size_t i = 0; i < M.nworkers; i++)
		if (M.workers[i].pid == 0)
			return &M.workers[i];
	if (M.nworkers == M.capworkers) {
		size_t nc = M.capworkers ? M.capworkers * 2 : 16;
		struct worker *nw = realloc(M.workers, nc * sizeof *nw);
		if (!nw)
			return NULL;
		M.workers = nw;
		M.capworkers = nc;
	}
	return &M.workers[M.nworkers++];
}

/* The slot forks again later, sooner the first times: 100 ms doubling to 5 s. */
static void slot_backoff(struct generation *g, unsigned slot)
{
	unsigned k = ++g->backoff[slot];
	uint64_t delay = BACKOFF_MIN_MS << (k - 1 > 6 ? 6 : k - 1);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	g->restart_at[slot] = clock_cache.now_ms + delay;
	log_warn("restarting worker slot %u in %llu ms", slot, (unsigned long long)delay);
}

static int worker_spawn(struct generation *g, unsigned slot)
{
	struct worker *w = worker_add();
	if (!w) {
		log_error("out of memory for a worker");
		slot_backoff(g, slot);
		return -1;
	}
	/* a counter slot no live worker uses (the previous owner's counts were
	 * folded into the totals when it was reaped) */
	int stats_idx = -1;
	for (unsigned i = 0; M.stats && i < M.stats->nslots && stats_idx < 0; i++) {
		int used = 0;
		for (size_t k = 0; k < M.nworkers && !used; k++)
			used = M.workers[k].pid > 0 && M.workers[k].stats == (int)i;
		if (!used)
			stats_idx = (int)i;
	}
	if (stats_idx >= 0)
		stats_claim(M.stats, (unsigned)stats_idx);
	else if (M.stats)
		log_warn("no free counter slot (%u in use by live workers): this worker's requests "
		         "are not counted, and its connections not seen by max-connections",
		         M.stats->nslots);
	log_access_flush();
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		w->pid = 0;
		slot_backoff(g, slot);
		return -1;
	}
	if (pid == 0)
		worker_main(g, slot, stats_idx);
	memset(w, 0, sizeof *w);
	w->stats = stats_idx;
	w->pid = pid;
	w->slot = slot;
	w->gen = g;
	w->started_ms = clock_cache.now_ms;
	g->alive++;
	g->restart_at[slot] = 0;
	log_info("worker %ld started (slot %u, generation %u)", (long)pid, slot, g->id);
	return 0;
}

static void worker_signal_gen(struct generation *g, int sig)
{
	for (size_t i = 0; i < M.nworkers; i++) {
		struct worker *w = &M.workers[i];
		if (w->pid > 0 && (!g || w->gen == g)) {
			if (sig == SIGTERM || sig == SIGINT || sig == SIGKILL || sig == SIGUSR2)
				w->asked_to_stop = 1;
			kill(w->pid, sig);
		}
	}
}

static struct worker *worker_find(pid_t pid)
{
	for (size_t i = 0; i < M.nworkers; i++)
		if (M.workers[i].pid == pid)
			return &M.workers[i];
	return NULL;
}

static size_t workers_alive(void)
{
	size_t n = 0;
	for (size_t i = 0; i < M.nworkers; i++)
		n += M.workers[i].pid > 0;
	return n;
}

/* A generation whose workers are all up retires every older one. */
static void gen_check_ready(struct generation *g)
{
	if (g->announced || g->nready < g->nworkers)
		return;
	g->announced = 1;
	log_notice("%sgeneration %u started with %u workers", g->id > 1 ? "reload: " : "", g->id,
	           g->nworkers);
	for (struct generation *o = g->next; o; o = o->next) {
		if (o->retiring)
			continue;
		o->retiring = 1;
		worker_signal_gen(o, SIGUSR2); /* retire: no drain, the node stays up */
	}
	/* generations with nothing alive can go at once */
	for (struct generation *o = g->next, *nx; o; o = nx) {
		nx = o->next;
		if (o->retiring && o->alive == 0)
			gen_free(o);
	}
	if (M.daemon_fd >= 0)
		daemon_report("OK\n");
}

static void on_ready(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	(void)events;
	pid_t pid;
	while (read(w->fd, &pid, sizeof pid) == (ssize_t)sizeof pid) {
		struct worker *wk = worker_find(pid);
		if (!wk || wk->ready)
			continue;
		wk->ready = 1;
		wk->gen->nready++;
		gen_check_ready(wk->gen);
	}
}

static void master_stop(int how);

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w = worker_find(pid);
		if (WIFSIGNALED(status))
			log_msg(w && w->asked_to_stop ? LOG_INFO : LOG_WARN,
			        "worker %ld killed by signal %d (%s)", (long)pid, WTERMSIG(status),
			        strsignal(WTERMSIG(status)));
		else
			log_msg(w && (w->asked_to_stop || WEXITSTATUS(status) == 0) ? LOG_INFO : LOG_WARN,
			        "worker %ld exited with status %d", (long)pid, WEXITSTATUS(status));
		if (!w)
			continue;
		struct generation *g = w->gen;
		unsigned slot = w->slot;
		int expected = w->asked_to_stop || M.stopping || g->retiring;
		uint64_t lived = clock_cache.now_ms - w->started_ms;
		if (w->ready)
			g->nready--;
		g->alive--;
		w->pid = 0;
		if (w->stats >= 0)
			stats_retire(M.stats, (unsigned)w->stats);
		if (expected) {
			if (g->retiring && g->alive == 0)
				gen_free(g);
			continue;
		}
		/* an unexpected death: replace it, with a backoff if it keeps dying young */
		if (!w->ready && !g->announced && !g->next && M.daemon_fd >= 0) {
			/* --daemon is still waiting to hear whether hearth started:
			 * a first worker that cannot start is a failed start, said
			 * there, not a crash loop in the background */
			char msg[600];
			snprintf(msg, sizeof msg, "a worker could not start (see the error log %s)",
			         M.cfg->error_log);
			fail_start(msg);
			M.start_failed = 1;
			master_stop(2);
			continue;
		}
		if (lived < QUICK_DEATH_MS) {
			slot_backoff(g, slot);
		} else {
			g->backoff[slot] = 0;
			worker_spawn(g, slot);
		}
	}
}

/* ---- stopping, reloading ---- */

static void master_stop(int how)
{
	if (M.stopping >= how)
		return;
	M.stopping = how;
	log_notice("%s", how == 1 ? "graceful stop" : "immediate stop");
	worker_signal_gen(NULL, how == 1 ? SIGTERM : SIGINT);
	/* the workers close theirs; once ours are closed too, new connections
	 * are refused instead of waiting in a queue nobody serves */
	for (int i = 0; i < MAX_LISTENERS; i++)
		if (M.listeners[i].fd >= 0) {
			close(M.listeners[i].fd);
			M.listeners[i].fd = -1;
			if (M.listeners[i].created_file)
				listener_unlink(&M.listeners[i].spec);
		}
	uint64_t grace =
	    how == 1 ? (uint64_t)M.cfg->drain_delay_ms + M.cfg->shutdown_timeout_ms + 2000 : 1000;
	M.kill_at = clock_cache.now_ms + grace;
	if (workers_alive() == 0)
		loop_stop(M.loop);
}

/* Returns 0 when the new generation is on its way, or -1 with why in err. */
static int master_reload(char *err, size_t errlen)
{
	err[0] = '\0';
	log_notice("reloading configuration");
	if (M.stopping) {
		snprintf(err, errlen, "stopping");
		return -1;
	}
	struct settings *ncfg = malloc(sizeof *ncfg);
	if (!ncfg) {
		snprintf(err, errlen, "out of memory");
		log_error("reload failed: out of memory; keeping the running configuration");
		return -1;
	}
	int saved = dup(2);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 2); /* a bad flag prints to stderr: not wanted in a daemon */
		close(devnull);
	}
	/* relative names on the command line are the start-up directory's,
	 * which a daemon has left for / */
	int moved = M.cfg->daemon && chdir(M.cwd) == 0;
	int r = conf_load(ncfg, M.argc, M.argv, err, errlen);
	if (moved && chdir("/") < 0)
		log_warn("reload: chdir /: %s", strerror(errno));
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (r != 0) {
		if (!err[0])
			snprintf(err, errlen, "invalid command line");
		log_error("reload failed: %s; keeping the running configuration", err);
		settings_free(ncfg);
		free(ncfg);
		return -1;
	}
	master_absolutize(ncfg, M.cwd);
	if ((ncfg->user == NULL) != (M.cfg->user == NULL) ||
	    (ncfg->user && strcmp(ncfg->user, M.cfg->user) != 0))
		log_warn("reload: a new user takes effect only on restart");
	char cpath[sizeof M.ctl_path];
	if (control_path(ncfg, cpath, sizeof cpath) < 0 || strcmp(cpath, M.ctl_path) != 0)
		log_warn("reload: a new control socket takes effect only on restart (still %s)",
		         M.ctl_path[0] ? M.ctl_path : "off");
	if (ncfg->metrics_set != M.cfg->metrics_set ||
	    (ncfg->metrics_set && strcmp(ncfg->metrics.text, M.cfg->metrics.text) != 0))
		log_warn("reload: a new metrics address takes effect only on restart");
	if (M.nice_set) { /* set over the control socket: kept until restart */
		ncfg->worker_nice = M.nice;
		ncfg->worker_nice_set = 1;
	}
	if (ncfg->workers == 0)
		ncfg->workers = M.cfg->workers ? M.cfg->workers : 1;
	struct generation *g = gen_new(ncfg, err, errlen);
	if (!g) {
		log_error("reload failed: %s; keeping the running configuration", err);
		settings_free(ncfg);
		free(ncfg);
		return -1;
	}
	/* logs may have moved */
	if (strcmp(ncfg->error_log, M.cfg->error_log) != 0) {
		if (log_open_error(ncfg->error_log, ncfg->log_level) < 0)
			log_error("reload: cannot open %s", ncfg->error_log);
	} else {
		log_set_level(ncfg->log_level);
	}
	if (strcmp(ncfg->access_log, M.cfg->access_log) != 0 && log_open_access(ncfg->access_log) < 0)
		log_error("reload: cannot open %s", ncfg->access_log);
	mime_load(ncfg->mime_types);
	/* the previous newest settings now belong to their generation only */
	g->owns_cfg = 1;
	M.cfg = ncfg;
	for (unsigned i = 0; i < g->nworkers; i++)
		worker_spawn(g, i);
	snprintf(err, errlen, "generation %u starting with %u workers", g->id, g->nworkers);
	return 0;
}

static void reopen_logs(void)
{
	if (log_reopen() < 0)
		log_error("reopening logs failed: %s", strerror(errno));
	/* workers run as another user: let them reopen the files we made */
	if (M.id.change) {
		/* by descriptor: a path swapped for a symlink meanwhile changes nothing */
		int r = log_chown(M.id.uid, M.id.gid);
		if (r < 0)
			log_warn("giving the log files to %s: %s", M.id.name, strerror(-r));
	}
	log_notice("logs reopened");
	worker_signal_gen(NULL, SIGUSR1);
}

static void on_signal(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	(void)events;
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD: reap(); break;
		case SIGTERM:
		case SIGQUIT: master_stop(1); break;
		case SIGINT: master_stop(2); break;
		case SIGHUP: {
			char err[512];
			master_reload(err, sizeof err);
			break;
		}
		case SIGUSR1: reopen_logs(); break;
		}
	}
	if (M.stopping && workers_alive() == 0)
		loop_stop(M.loop);
}

static void on_tick(struct loop *l, struct timer *t)
{
	(void)l;
	log_access_flush();
	if (M.stopping) {
		if (M.kill_at && clock_cache.now_ms >= M.kill_at) {
			log_warn("workers still running after the shutdown timeout: killing them");
			worker_signal_gen(NULL, SIGKILL);
			M.kill_at = 0;
		}
	} else {
		for (struct generation *g = M.gens; g; g = g->next) {
			if (g->retiring)
				continue;
			for (unsigned s = 0; s < g->nworkers; s++)
				if (g->restart_at[s] && clock_cache.now_ms >= g->restart_at[s])
					worker_spawn(g, s);
		}
	}
	timer_arm(&M.tq_tick, t);
}

/* ---- the control socket ---- */

/* State, nice, CPU time and RSS of a process, from /proc/PID/stat. */
static void read_proc(pid_t pid, struct ctl_worker *w)
{
	char path[64], buf[1024];
	w->state = '?';
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	if (!p || p[1] != ' ')
		return;
	p += 2;
	/* fields from 3 on: state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime priority nice nthreads
	 * itrealvalue starttime vsize rss */
	char state;
	unsigned long long utime, stime, vsize;
	long nice, rss;
	/* the kernel writes these fields; the count of conversions is checked */
	/* NOLINTNEXTLINE(cert-err34-c) */
	if (sscanf(
	        p,
	        "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %ld %*d %*d %*u %llu %ld",
	        &state, &utime, &stime, &nice, &vsize, &rss) != 6)
		return;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	w->state = state;
	w->nice = (int8_t)nice;
	w->cpu_ms = (utime + stime) * 1000ull / (unsigned long long)(tick > 0 ? tick : 100);
	w->rss_bytes = (uint64_t)rss * (uint64_t)page;
}

static void fill_totals(struct ctl_status *st, const struct stats_slot *t)
{
	st->totals.accepted = t->accepted;
	st->totals.active = t->active;
	st->totals.requests = t->requests;
	st->totals.bytes_in = t->bytes_in;
	st->totals.bytes_out = t->bytes_out;
	for (int i = 0; i < 5; i++)
		st->totals.status[i] = t->status[i + 1];
}

static void status_common(struct ctl_status *st, const struct settings *cfg)
{
	snprintf(st->version, sizeof st->version, "%s", HEARTH_VERSION);
	st->pid = (uint32_t)getpid();
	st->uptime_ms = clock_cache.now_ms - M.started_ms;
	snprintf(st->config_file, sizeof st->config_file, "%s", cfg->config_file ? cfg->config_file : "");
	for (int i = 0; i < MAX_LISTENERS && st->nlisteners < CTL_MAX_LISTENERS; i++) {
		if (M.listeners[i].fd < 0)
			continue;
		char name[128];
		listener_name(M.listeners[i].fd, &M.listeners[i].spec, name, sizeof name);
		int dup = 0; /* a SO_REUSEPORT group is one address */
		for (unsigned k = 0; k < st->nlisteners; k++)
			dup |= strcmp(st->listeners[k], name) == 0;
		if (!dup)
			snprintf(st->listeners[st->nlisteners++], sizeof st->listeners[0], "%s", name);
	}
}

static void master_status(void *arg, struct ctl_status *st)
{
	(void)arg;
	status_common(st, M.cfg);
	st->generation = M.gens ? M.gens->id : 0;
	struct stats_slot total;
	stats_total(M.stats, &total);
	fill_totals(st, &total);
	for (size_t i = 0; i < M.nworkers && st->nworkers < CTL_MAX_WORKERS; i++) {
		const struct worker *w = &M.workers[i];
		if (w->pid <= 0)
			continue;
		struct ctl_worker *cw = &st->workers[st->nworkers++];
		cw->pid = (uint32_t)w->pid;
		cw->generation = w->gen->id;
		cw->slot = (uint16_t)w->slot;
		read_proc(w->pid, cw);
		if (w->stats >= 0) {
			const struct stats_slot *sl = &M.stats->slots[w->stats];
			cw->active = stat_get(&sl->active);
			cw->requests = stat_get(&sl->requests);
			cw->bytes_out = stat_get(&sl->bytes_out);
		}
	}
}

static int master_ctl_reload(void *arg, char *msg, size_t cap, int *code)
{
	(void)arg;
	*code = CTL_E_FAILED;
	return master_reload(msg, cap);
}

static int master_ctl_stop(void *arg, int immediate, char *msg, size_t cap, int *code)
{
	(void)arg;
	(void)code;
	snprintf(msg, cap, "%s", immediate ? "stopping now" : "stopping gracefully");
	master_stop(immediate ? 2 : 1);
	return 0;
}

static int master_ctl_reopen(void *arg, char *msg, size_t cap, int *code)
{
	(void)arg;
	(void)code;
	reopen_logs();
	snprintf(msg, cap, "logs reopened");
	return 0;
}

static int master_ctl_set_nice(void *arg, int nice, char *msg, size_t cap, int *code)
{
	(void)arg;
	unsigned n = 0, failed = 0;
	for (size_t i = 0; i < M.nworkers; i++) {
		if (M.workers[i].pid <= 0)
			continue;
		if (setpriority(PRIO_PROCESS, (id_t)M.workers[i].pid, nice) < 0)
			failed++;
		else
			n++;
	}
	/* workers forked from now on get it too, reloads included */
	M.cfg->worker_nice = nice;
	M.cfg->worker_nice_set = 1;
	M.nice = nice;
	M.nice_set = 1;
	log_notice("workers' nice value set to %d (%u workers)", nice, n);
	if (failed) {
		*code = CTL_E_FAILED;
		snprintf(msg, cap, "nice %d: %u workers changed, %u refused (%s)", nice, n, failed,
		         strerror(errno));
		return -1;
	}
	snprintf(msg, cap, "nice %d for %u workers", nice, n);
	return 0;
}

static const struct ctl_ops master_ops = {
    .status = master_status,
    .reload = master_ctl_reload,
    .stop = master_ctl_stop,
    .reopen = master_ctl_reopen,
    .set_nice = master_ctl_set_nice,
};

/* --workers 0: the one process answers for itself */
static void single_status(void *arg, struct ctl_status *st)
{
	struct server *srv = arg;
	status_common(st, M.cfg);
	st->generation = 1;
	fill_totals(st, srv->stats);
	st->totals.active = srv->nconns;
	struct ctl_worker *cw = &st->workers[st->nworkers++];
	cw->pid = (uint32_t)getpid();
	cw->generation = 1;
	read_proc(getpid(), cw);
	cw->active = srv->nconns;
	cw->requests = srv->stats->requests;
	cw->bytes_out = srv->stats->bytes_out;
}

static int single_reload(void *arg, char *msg, size_t cap, int *code)
{
	(void)arg;
	*code = CTL_E_UNSUPPORTED;
	snprintf(msg, cap, "reload needs a master (--workers 1 or more)");
	return -1;
}

static int single_stop(void *arg, int immediate, char *msg, size_t cap, int *code)
{
	struct server *srv = arg;
	(void)code;
	snprintf(msg, cap, "%s", immediate ? "stopping now" : "stopping gracefully");
	if (immediate)
		loop_stop(srv->loop);
	else
		server_begin_stop(srv);
	return 0;
}

static int single_reopen(void *arg, char *msg, size_t cap, int *code)
{
	(void)arg;
	if (log_reopen() < 0) {
		*code = CTL_E_FAILED;
		snprintf(msg, cap, "reopening logs failed: %s", strerror(errno));
		return -1;
	}
	snprintf(msg, cap, "logs reopened");
	return 0;
}

static int single_set_nice(void *arg, int nice, char *msg, size_t cap, int *code)
{
	(void)arg;
	if (setpriority(PRIO_PROCESS, 0, nice) < 0) {
		*code = CTL_E_FAILED;
		snprintf(msg, cap, "nice %d: %s", nice, strerror(errno));
		return -1;
	}
	snprintf(msg, cap, "nice %d", nice);
	return 0;
}

static const struct ctl_ops single_ops = {
    .status = single_status,
    .reload = single_reload,
    .stop = single_stop,
    .reopen = single_reopen,
    .set_nice = single_set_nice,
};

static int open_control(struct loop *l, const struct ctl_ops *ops, void *arg, char *err, size_t errlen)
{
	if (control_path(M.cfg, M.ctl_path, sizeof M.ctl_path) < 0) {
		snprintf(err, errlen, "control socket path too long");
		return -1;
	}
	if (!M.ctl_path[0])
		return 0;
	return ctl_server_open(&M.ctl, l, M.ctl_path, ops, arg, err, errlen);
}

/* ---- start-up ---- */

/* Detach: the foreground process waits on a pipe for "OK" (or an error
 * message) from the master, so its exit status tells whether hearth runs. */
static int daemonize(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		char buf[1024];
		size_t got = 0;
		ssize_t n;
		while (got < sizeof buf - 1 && (n = read(p[0], buf + got, sizeof buf - 1 - got)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			got += (size_t)n;
		}
		buf[got] = '\0';
		if (strcmp(buf, "OK\n") == 0)
			_exit(0);
		fputs(got ? buf : "hearth: the background process exited during start-up\n", stderr);
		_exit(1);
	}
	close(p[0]);
	setsid();
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		_exit(1);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	M.daemon_fd = p[1];
	return 0;
}

static int serve_single(void)
{
	char err[512];
	struct generation *g = gen_new(M.cfg, err, sizeof err);
	if (!g)
		return fail_start(err);
	int fds[CONF_MAX_LISTEN];
	for (unsigned i = 0; i < M.cfg->nlisten; i++)
		fds[i] = M.listeners[g->lidx[i * g->nsock]].fd;
	struct server srv;
	int r = server_init(&srv, M.cfg, fds, M.cfg->nlisten, g->root_fds);
	if (r < 0) {
		snprintf(err, sizeof err, "cannot start serving: %s", strerror(-r));
		return fail_start(err);
	}
	if (open_control(srv.loop, &single_ops, &srv, err, sizeof err) < 0)
		return fail_start(err);
	if (M.cfg->metrics_set &&
	    metrics_open(&M.metrics, srv.loop, &M.cfg->metrics, single_status, &srv, err, sizeof err) < 0)
		return fail_start(err);
	/* privileges go last: the control socket is root's (0600), and the log
	 * files are given to the user so that a reopen can open them again */
	if (M.id.change) {
		int r2 = log_chown(M.id.uid, M.id.gid);
		if (r2 < 0)
			log_warn("giving the log files to %s: %s", M.id.name, strerror(-r2));
	}
	if (privs_drop(&M.id, err, sizeof err) < 0)
		return fail_start(err);
	daemon_report("OK\n");
	log_info("serving in a single process (pid %ld)", (long)getpid());
	r = server_run(&srv);
	ctl_server_close(&M.ctl);
	metrics_close(&M.metrics);
	server_free(&srv); /* closes the listening sockets too */
	for (int i = 0; i < MAX_LISTENERS; i++) {
		if (M.listeners[i].fd >= 0 && M.listeners[i].created_file)
			listener_unlink(&M.listeners[i].spec);
		M.listeners[i].fd = -1;
	}
	close_roots(M.cfg, g->root_fds);
	return r < 0 ? 1 : 0;
}

int master_run(struct settings *cfg, int argc, char **argv)
{
	char err[512];
	M.cfg = cfg;
	M.argc = argc;
	M.argv = argv;
	M.pid_fd = -1;
	clock_update();
	M.started_ms = clock_cache.now_ms;
	for (int i = 0; i < MAX_LISTENERS; i++)
		M.listeners[i].fd = -1;
	if (!getcwd(M.cwd, sizeof M.cwd))
		strcpy(M.cwd, "/");
	master_absolutize(cfg, M.cwd);
	if (privs_resolve(cfg->user, &M.id, err, sizeof err) < 0)
		return fail_start(err);
	if (M.id.change && !cfg->user)
		log_notice("started as root without --user: workers run as nobody (--user root keeps root)");

	if (cfg->pid_file) {
		/* checked before detaching, so "already running" reaches the terminal */
		pid_t other = pidfile_running(cfg->pid_file, err, sizeof err);
		if (other > 0) {
			snprintf(err, sizeof err, "already running with pid %ld (pid file %s)", (long)other,
			         cfg->pid_file);
			return fail_start(err);
		}
	}
	if (cfg->daemon && daemonize() < 0)
		return fail_start("cannot run in the background");
	M.pid = getpid();
	if (cfg->pid_file) {
		M.pid_fd = pidfile_acquire(cfg->pid_file, err, sizeof err);
		if (M.pid_fd < 0)
			return fail_start(err);
	}
	int status;
	if (cfg->workers == 0) {
		status = serve_single();
		pidfile_release(cfg->pid_file, M.pid_fd);
		return status;
	}

	{
		/* the title shows the original command line after the role */
		char line[400];
		size_t o = 0;
		for (int i = 0; i < argc && o < sizeof line - 1; i++)
			o += (size_t)snprintf(line + o, sizeof line - o, "%s%s", i ? " " : "", argv[i]);
		title_set("hearth: master process %s", line);
	}
	M.loop = loop_new();
	int p[2];
	if (!M.loop || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		status = fail_start("cannot set up the master");
		goto out;
	}
	M.ready_rd = p[0];
	M.ready_wr = p[1];
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (M.sigfd < 0 || loop_watch(M.loop, &M.sigw, M.sigfd, EPOLLIN, on_signal) < 0 ||
	    loop_watch(M.loop, &M.readyw, M.ready_rd, EPOLLIN, on_ready) < 0) {
		status = fail_start("cannot set up the master's signals");
		goto out;
	}
	tqueue_init(M.loop, &M.tq_tick, 100, on_tick);
	timer_arm(&M.tq_tick, &M.tick);
	M.stats = stats_create(STATS_SLOTS);
	if (!M.stats) {
		status = fail_start("cannot map the shared counters");
		goto out;
	}
	if (open_control(M.loop, &master_ops, NULL, err, sizeof err) < 0) {
		status = fail_start(err);
		goto out;
	}
	if (cfg->metrics_set &&
	    metrics_open(&M.metrics, M.loop, &cfg->metrics, master_status, NULL, err, sizeof err) < 0) {
		status = fail_start(err);
		goto out;
	}

	struct generation *g = gen_new(cfg, err, sizeof err);
	if (!g) {
		status = fail_start(err);
		goto out;
	}
	log_info("master process %ld: %u workers", (long)M.pid, g->nworkers);
	for (unsigned i = 0; i < g->nworkers; i++)
		worker_spawn(g, i);
	loop_run(M.loop);
	status = M.start_failed;
	/* every worker is gone (or killed): leave nothing behind */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	while (M.gens)
		gen_free(M.gens);
	log_info("stopped");
out:
	ctl_server_close(&M.ctl);
	metrics_close(&M.metrics);
	stats_destroy(M.stats);
	for (int i = 0; i < MAX_LISTENERS; i++)
		if (M.listeners[i].fd >= 0) {
			close(M.listeners[i].fd);
			if (M.listeners[i].created_file)
				listener_unlink(&M.listeners[i].spec);
		}
	pidfile_release(cfg->pid_file, M.pid_fd);
	free(M.workers);
	loop_free(M.loop);
	return status;
}

/* ---- -s and -t ---- */

int master_signal(const struct settings *cfg)
{
	static const struct {
		const char *name;
		int sig;
	} map[] = {{"stop", SIGTERM}, {"quit", SIGINT}, {"reload", SIGHUP}, {"reopen", SIGUSR1}};
	char err[512];
	/* the control socket when a master answers there, signals otherwise */
	char path[512];
	conf_control_path(cfg, path, sizeof path);
	if (path[0]) {
		struct listen_spec spec;
		char text[600];
		snprintf(text, sizeof text, "unix:%s", path);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int up = fd >= 0 && conf_parse_listen(text, &spec, err, sizeof err) == 0 &&
		         connect(fd, (struct sockaddr *)&spec.addr, spec.addrlen) == 0;
		if (fd >= 0)
			close(fd);
		if (up)
			return ctl_client_command(path, cfg->signal);
	}
	if (!cfg->pid_file) {
		fprintf(stderr,
		        "hearth: -s %s: no control socket at %s, and no --pid-file PATH (or -c FILE with "
		        "pid-file)\n",
		        cfg->signal, path[0] ? path : "(off)");
		return 1;
	}
	pid_t pid = pidfile_running(cfg->pid_file, err, sizeof err);
	if (pid <= 0) {
		fprintf(stderr, "hearth: -s %s: %s\n", cfg->signal, err);
		return 1;
	}
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].name, cfg->signal) == 0) {
			if (kill(pid, map[i].sig) < 0) {
				fprintf(stderr, "hearth: -s %s: pid %ld: %s\n", cfg->signal, (long)pid,
				        strerror(errno));
				return 1;
			}
			return 0;
		}
	return 1;
}

int master_test_config(const struct settings *cfg)
{
	char err[512];
	int fds[CONF_MAX_SITES + 1];
	if (open_roots(cfg, fds, err, sizeof err) < 0) {
		fprintf(stderr, "hearth: %s\n", err);
		return 1;
	}
	close_roots(cfg, fds);
	struct identity id;
	if (privs_resolve(cfg->user, &id, err, sizeof err) < 0) {
		fprintf(stderr, "hearth: %s\n", err);
		return 1;
	}
	if (cfg->config_file)
		fprintf(stderr, "hearth: configuration %s is ok\n", cfg->config_file);
	else
		fprintf(stderr, "hearth: configuration is ok\n");
	return 0;
}
