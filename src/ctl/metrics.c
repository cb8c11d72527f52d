/* metrics.c: see metrics.h. */
#include "ctl/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listen.h"

#define REQ_MAX 4096
#define TIMEOUT_MS 5000
#define ACCEPT_RETRY_MS 100 /* after running out of descriptors */
#define OUT_MAX (1u << 20)

struct metrics_client {
	struct watch w;
	struct timer timer;
	struct metrics_server *ms;
	int index;
	char in[REQ_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

struct out {
	char *p;
	size_t len, cap;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

static void metric(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

size_t metrics_render(const struct ctl_status *st, char *buf, size_t cap)
{
	struct out o = {buf, 0, cap, 0};
	const struct ctl_totals *t = &st->totals;
	metric(&o, "hearth_up", "gauge", "1 while hearth answers.");
	put(&o, "hearth_up 1\n");
	metric(&o, "hearth_info", "gauge", "Version and generation of the running configuration.");
	put(&o, "hearth_info{version=\"%s\",generation=\"%u\"} 1\n", st->version, st->generation);
	metric(&o, "hearth_uptime_seconds", "gauge", "Seconds since the master started.");
	put(&o, "hearth_uptime_seconds %.3f\n", (double)st->uptime_ms / 1000.0);
	metric(&o, "hearth_connections_accepted_total", "counter", "Connections accepted.");
	put(&o, "hearth_connections_accepted_total %llu\n", (unsigned long long)t->accepted);
	metric(&o, "hearth_connections_active", "gauge", "Connections open now.");
	put(&o, "hearth_connections_active %llu\n", (unsigned long long)t->active);
	metric(&o, "hearth_requests_total", "counter", "Responses finished.");
	put(&o, "hearth_requests_total %llu\n", (unsigned long long)t->requests);
	metric(&o, "hearth_responses_total", "counter", "Responses by status class.");
	for (int i = 0; i < 5; i++)
		put(&o, "hearth_responses_total{code=\"%dxx\"} %llu\n", i + 1,
		    (unsigned long long)t->status[i]);
	metric(&o, "hearth_bytes_in_total", "counter", "Bytes received from clients.");
	put(&o, "hearth_bytes_in_total %llu\n", (unsigned long long)t->bytes_in);
	metric(&o, "hearth_bytes_out_total", "counter", "Bytes sent to clients.");
	put(&o, "hearth_bytes_out_total %llu\n", (unsigned long long)t->bytes_out);
	metric(&o, "hearth_workers", "gauge", "Worker processes alive.");
	put(&o, "hearth_workers %u\n", st->nworkers);
	metric(&o, "hearth_worker_requests_total", "counter", "Responses finished by each worker.");
	for (unsigned i = 0; i < st->nworkers; i++)
		put(&o, "hearth_worker_requests_total{pid=\"%u\",slot=\"%u\"} %llu\n", st->workers[i].pid,
		    st->workers[i].slot, (unsigned long long)st->workers[i].requests);
	metric(&o, "hearth_worker_connections_active", "gauge", "Connections open in each worker.");
	for (unsigned i = 0; i < st->nworkers; i++)
		put(&o, "hearth_worker_connections_active{pid=\"%u\",slot=\"%u\"} %llu\n", st->workers[i].pid,
		    st->workers[i].slot, (unsigned long long)st->workers[i].active);
	metric(&o, "hearth_worker_cpu_seconds_total", "counter", "CPU time of each worker.");
	for (unsigned i = 0; i < st->nworkers; i++)
		put(&o, "hearth_worker_cpu_seconds_total{pid=\"%u\",slot=\"%u\"} %.2f\n", st->workers[i].pid,
		    st->workers[i].slot, (double)st->workers[i].cpu_ms / 1000.0);
	metric(&o, "hearth_worker_resident_bytes", "gauge", "Resident memory of each worker.");
	for (unsigned i = 0; i < st->nworkers; i++)
		put(&o, "hearth_worker_resident_bytes{pid=\"%u\",slot=\"%u\"} %llu\n", st->workers[i].pid,
		    st->workers[i].slot, (unsigned long long)st->workers[i].rss_bytes);
	return o.overflow ? 0 : o.len;
}

static void client_close(struct metrics_client *c)
{
	struct metrics_server *ms = c->ms;
	timer_disarm(&c->timer);
	loop_unwatch(ms->loop, &c->w);
	close(c->w.fd);
	ms->clients[c->index] = NULL;
	free(c->out);
	free(c);
}

static int respond(struct metrics_client *c)
{
	static struct ctl_status st;
	int head_only = c->in_len >= 5 && memcmp(c->in, "HEAD ", 5) == 0;
	int is_get = c->in_len >= 4 && memcmp(c->in, "GET ", 4) == 0;
	c->out = malloc(OUT_MAX);
	if (!c->out)
		return -1;
	char *body = c->out + 512;
	size_t blen = 0;
	int status = 200;
	if (is_get || head_only) {
		memset(&st, 0, sizeof st);
		c->ms->status(c->ms->arg, &st);
		blen = metrics_render(&st, body, OUT_MAX - 512);
		if (blen == 0)
			status = 500;
	} else {
		status = 405;
	}
	int n = snprintf(
	    c->out, 512,
	    "HTTP/1.1 %d %s\r\nServer: hearth\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
	    status,
	    status == 200   ? "OK"
	    : status == 405 ? "Method Not Allowed"
	                    : "Internal Server Error",
	    status == 200 ? blen : 0, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (status == 200 && !head_only)
		memmove(c->out + n, body, blen);
	c->out_len = (size_t)n + (status == 200 && !head_only ? blen : 0);
	c->out_off = 0;
	return 0;
}

static void client_run(struct metrics_client *c)
{
	for (;;) {
		if (c->out) {
			while (c->out_off < c->out_len) {
				ssize_t n =
				    send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0 && errno == EAGAIN)
					return;
				if (n <= 0) {
					client_close(c);
					return;
				}
				c->out_off += (size_t)n;
			}
			client_close(c);
			return;
		}
		if (c->in_len >= 4 && memmem(c->in, c->in_len, "\r\n\r\n", 4)) {
			if (respond(c) < 0) {
				client_close(c);
				return;
			}
			continue;
		}
		if (c->in_len == sizeof c->in) {
			client_close(c);
			return;
		}
		ssize_t n = recv(c->w.fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(c);
		return;
	}
}

static void on_client(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	(void)events;
	client_run(container_of(w, struct metrics_client, w));
}

static void on_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	client_close(container_of(t, struct metrics_client, timer));
}

static void on_accept(struct loop *l, struct watch *w, uint32_t events)
{
	(void)events;
	struct metrics_server *ms = container_of(w, struct metrics_server, w);
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN) { /* out of descriptors: queued clients bring no new edge */
				if (!timer_armed(&ms->retry))
					log_warn("metrics: accept: %s; retrying every %d ms", strerror(errno),
					         ACCEPT_RETRY_MS);
				timer_arm(&ms->tq_retry, &ms->retry);
			}
			return;
		}
		timer_disarm(&ms->retry);
		int slot = -1;
		for (int i = 0; i < METRICS_MAX_CLIENTS && slot < 0; i++)
			if (!ms->clients[i])
				slot = i;
		struct metrics_client *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->ms = ms;
		c->index = slot;
		ms->clients[slot] = c;
		if (loop_watch(l, &c->w, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_client) < 0) {
			ms->clients[slot] = NULL;
			close(fd);
			free(c);
			continue;
		}
		timer_arm(&ms->tq, &c->timer);
		client_run(c);
	}
}

static void on_retry(struct loop *l, struct timer *t)
{
	struct metrics_server *ms = container_of(t, struct metrics_server, retry);
	on_accept(l, &ms->w, 0);
}

int metrics_open(struct metrics_server *ms, struct loop *l, const struct listen_spec *spec,
                 void (*status)(void *arg, struct ctl_status *st), void *arg, char *err, size_t errlen)
{
	memset(ms, 0, sizeof *ms);
	ms->loop = l;
	ms->status = status;
	ms->arg = arg;
	ms->spec = *spec;
	char e[200];
	int fd = listener_open(spec, 64, 0660, 0, e, sizeof e);
	if (fd < 0) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s", spec->text, e);
		return -1;
	}
	if (loop_watch(l, &ms->w, fd, EPOLLIN, on_accept) < 0) {
		snprintf(err, errlen, "metrics: epoll: %s", strerror(errno));
		close(fd);
		listener_unlink(spec);
		return -1;
	}
	tqueue_init(l, &ms->tq, TIMEOUT_MS, on_timeout);
	tqueue_init(l, &ms->tq_retry, ACCEPT_RETRY_MS, on_retry);
	ms->open = 1;
	char name[160];
	listener_name(fd, spec, name, sizeof name);
	log_info("metrics listening on %s", name);
	return 0;
}

void metrics_close(struct metrics_server *ms)
{
	if (!ms->open)
		return;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (ms->clients[i])
			client_close(ms->clients[i]);
	timer_disarm(&ms->retry);
	loop_unwatch(ms->loop, &ms->w);
	close(ms->w.fd);
	listener_unlink(&ms->spec);
	ms->open = 0;
}

void metrics_forget(struct metrics_server *ms)
{
	if (!ms->open)
		return;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (ms->clients[i]) {
			close(ms->clients[i]->w.fd);
			free(ms->clients[i]->out);
			free(ms->clients[i]);
			ms->clients[i] = NULL;
		}
	close(ms->w.fd);
	ms->open = 0;
}
