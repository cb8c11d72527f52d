/* loop.h: one epoll loop per process, edge-triggered, with FIFO timer queues.
 *
 * A watch is embedded in its owner's struct (recover the owner with
 * container_of) and registered once; events are delivered to watch->fn.
 * Timers: every timeout length has its own queue (struct tqueue). Timers of one
 * length expire in the order they were armed, so arm, disarm and expiry are
 * O(1): each queue is a doubly linked list kept in deadline order for free.
 * `now` is read once per turn (core/clock).
 */
#ifndef HEARTH_CORE_LOOP_H
#define HEARTH_CORE_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct loop;
struct watch;
struct timer;

typedef void watch_fn(struct loop *l, struct watch *w, uint32_t events);
typedef void timer_fn(struct loop *l, struct timer *t);

struct watch {
	watch_fn *fn;
	int fd;
};

struct timer {
	struct timer *prev, *next; /* NULL when not armed */
	uint64_t deadline; /* monotonic ms */
};

struct tqueue {
	struct timer head; /* sentinel of a circular list */
	uint64_t ms;
	timer_fn *fn;
	struct tqueue *next_q;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Register fd for events (EPOLLIN|EPOLLOUT|...; EPOLLET is added). 0 or -errno. */
int loop_watch(struct loop *l, struct watch *w, int fd, uint32_t events, watch_fn *fn);
int loop_modify(struct loop *l, struct watch *w, uint32_t events);
/* Hand fd's registration to another watch (one epoll_ctl). */
int loop_rewatch(struct loop *l, struct watch *w, int fd, uint32_t events, watch_fn *fn);
void loop_unwatch(struct loop *l, struct watch *w);

/* A queue for timers of one length; fn is called for each expired timer. */
void tqueue_init(struct loop *l, struct tqueue *q, uint64_t ms, timer_fn *fn);
/* (Re)arm t to fire q->ms from now; moves it to q's tail. */
void timer_arm(struct tqueue *q, struct timer *t);
void timer_disarm(struct timer *t);
static inline int timer_armed(const struct timer *t)
{
	return t->next != NULL;
}
/* The armed timer that will fire first in q, or NULL. */
struct timer *tqueue_first(struct tqueue *q);

/* Called at the end of every turn (after events and timers). */
void loop_on_turn_end(struct loop *l, void (*fn)(struct loop *l, void *arg), void *arg);

/* Run until loop_stop(). The first turn does not wait: the end-of-turn hook
 * runs at once for whatever was queued before. Returns 0, or -errno when
 * epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Work is waiting outside epoll: the next wait must not block. */
void loop_set_pending(struct loop *l);
uint64_t loop_now(const struct loop *l);

#endif
