/* loop.c: the event loop. See loop.h for the contract.
 *
 * A turn: compute the nearest deadline, epoll_wait until then (not at all in
 * the first turn, or when loop_set_pending() says work is waiting), refresh
 * the clock, dispatch events, expire timers, run the end-of-turn hook (which
 * runs what was queued and frees what was closed during the turn).
 */
#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/clock.h"

#define MAX_EVENTS 512

struct loop {
	int epfd;
	int stop;
	int pending;
	struct tqueue *queues;
	void (*turn_end)(struct loop *l, void *arg);
	void *turn_arg;
	struct epoll_event events[MAX_EVENTS];
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	clock_update();
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int loop_watch(struct loop *l, struct watch *w, int fd, uint32_t events, watch_fn *fn)
{
	struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = w};
	w->fn = fn;
	w->fd = fd;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_modify(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_rewatch(struct loop *l, struct watch *w, int fd, uint32_t events, watch_fn *fn)
{
	struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = w};
	w->fn = fn;
	w->fd = fd;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_unwatch(struct loop *l, struct watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void tqueue_init(struct loop *l, struct tqueue *q, uint64_t ms, timer_fn *fn)
{
	q->head.prev = q->head.next = &q->head;
	q->ms = ms;
	q->fn = fn;
	q->next_q = l->queues;
	l->queues = q;
}

void timer_disarm(struct timer *t)
{
	if (!t->next)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

void timer_arm(struct tqueue *q, struct timer *t)
{
	timer_disarm(t);
	t->deadline = clock_cache.now_ms + q->ms;
	t->prev = q->head.prev;
	t->next = &q->head;
	q->head.prev->next = t;
	q->head.prev = t;
}

struct timer *tqueue_first(struct tqueue *q)
{
	return q->head.next == &q->head ? NULL : q->head.next;
}

void loop_on_turn_end(struct loop *l, void (*fn)(struct loop *l, void *arg), void *arg)
{
	l->turn_end = fn;
	l->turn_arg = arg;
}

static int next_timeout(struct loop *l)
{
	uint64_t best = UINT64_MAX;
	for (struct tqueue *q = l->queues; q; q = q->next_q) {
		struct timer *t = tqueue_first(q);
		if (t && t->deadline < best)
			best = t->deadline;
	}
	if (best == UINT64_MAX)
		return -1;
	if (best <= clock_cache.now_ms)
		return 0;
	uint64_t d = best - clock_cache.now_ms;
	return d > 60000 ? 60000 : (int)d;
}

static void expire_timers(struct loop *l)
{
	for (struct tqueue *q = l->queues; q; q = q->next_q) {
		struct timer *t;
		while ((t = tqueue_first(q)) && t->deadline <= clock_cache.now_ms) {
			timer_disarm(t);
			q->fn(l, t);
		}
	}
}

int loop_run(struct loop *l)
{
	l->stop = 0;
	/* the first wait never blocks: work queued before the loop (a worker
	 * accepts the connections already waiting, and one may stay queued to
	 * go on) runs at the end of the first turn. Nothing else would wake us
	 * for it: an EPOLLEXCLUSIVE listener may have woken another worker. */
	l->pending = 1;
	while (!l->stop) {
		int timeout = l->pending ? 0 : next_timeout(l);
		l->pending = 0;
		int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		clock_update();
		for (int i = 0; i < n; i++) {
			struct watch *w = l->events[i].data.ptr;
			if (w->fd >= 0)
				w->fn(l, w, l->events[i].events);
		}
		expire_timers(l);
		if (l->turn_end)
			l->turn_end(l, l->turn_arg);
	}
	return 0;
}

void loop_set_pending(struct loop *l)
{
	l->pending = 1;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

uint64_t loop_now(const struct loop *l)
{
	(void)l;
	return clock_cache.now_ms;
}
