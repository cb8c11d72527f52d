/* test_loop.c: the event loop (src/core/loop.h).
 *
 * - Work queued before loop_run() (a worker accepts the connections already
 *   waiting before its first turn, and one of them may leave itself queued to
 *   continue) runs in the first turn: the first wait does not block until a
 *   timer. With EPOLLEXCLUSIVE listeners nothing else may ever wake the worker
 *   for it: a 4 MiB response stopped after its first 256 KiB until
 *   --timeout-send closed it.
 * - loop_set_pending() makes the next wait return at once.
 * - Timers of one queue expire in the order armed; re-arming moves a timer to
 *   the tail; a disarmed timer never fires; a timer disarmed by an earlier
 *   callback in the same turn does not fire either.
 * - A watch is edge-triggered: one event per arrival, none while nothing new
 *   comes, and the watch's fn gets the events.
 */
#include "check.h"
#include "core/clock.h"
#include "core/loop.h"

#include <sys/epoll.h>
#include <unistd.h>

/* ---- the first turn ---- */

static int timer_fired;
static int turns;

static void on_timer_mark(struct loop *l, struct timer *t)
{
	(void)l;
	(void)t;
	timer_fired++;
}

static void stop_at_first_turn_end(struct loop *l, void *arg)
{
	int *seen_fired = arg;
	if (turns++ == 0)
		*seen_fired = timer_fired;
	loop_stop(l);
}

/* Run a new loop with a 1.5 s timer armed (it fires only if a wait blocks
 * that long) and hook as its end-of-turn function, until the hook stops it. */
static void run_with_far_timer(void (*hook)(struct loop *l, void *arg), void *arg)
{
	struct loop *l = loop_new();
	if (!CHECK(l != NULL))
		return;
	struct tqueue q;
	struct timer t = {0};
	tqueue_init(l, &q, 1500, on_timer_mark);
	timer_arm(&q, &t);
	timer_fired = 0;
	loop_on_turn_end(l, hook, arg);
	CHECK_EQ_INT(loop_run(l), 0);
	loop_free(l);
}

static void test_first_turn_does_not_block(void)
{
	int seen = -1;
	turns = 0;
	run_with_far_timer(stop_at_first_turn_end, &seen);
	/* the end of the first turn came before the 1.5 s timer: the first
	 * epoll_wait did not sleep until it */
	CHECK_EQ_INT(seen, 0);
	CHECK_EQ_INT(turns, 1);
}

/* ---- loop_set_pending ---- */

static void pending_then_stop(struct loop *l, void *arg)
{
	int *n = arg;
	if (++*n == 1)
		loop_set_pending(l); /* more to do: the next wait must not block */
	else
		loop_stop(l);
}

static void test_pending_does_not_block(void)
{
	int n = 0;
	run_with_far_timer(pending_then_stop, &n);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(timer_fired, 0);
}

/* ---- timer order ---- */

struct tagged {
	struct timer t;
	int id;
};

static int order[8];
static int norder;
static struct tagged *to_disarm;

static void on_timer_record(struct loop *l, struct timer *t)
{
	struct tagged *x = container_of(t, struct tagged, t);
	if (norder < 8)
		order[norder++] = x->id;
	if (to_disarm) {
		timer_disarm(&to_disarm->t);
		to_disarm = NULL;
	}
	if (norder >= 3)
		loop_stop(l);
}

static void no_turn_end(struct loop *l, void *arg)
{
	(void)l;
	(void)arg;
}

static void test_timer_order(void)
{
	struct loop *l = loop_new();
	if (!CHECK(l != NULL))
		return;
	struct tqueue q;
	tqueue_init(l, &q, 1, on_timer_record);
	loop_on_turn_end(l, no_turn_end, NULL);
	struct tagged a = {.id = 1}, b = {.id = 2}, c = {.id = 3}, d = {.id = 4}, e = {.id = 5};
	timer_arm(&q, &a.t);
	timer_arm(&q, &b.t);
	timer_arm(&q, &c.t);
	timer_arm(&q, &d.t);
	timer_arm(&q, &e.t);
	timer_arm(&q, &a.t); /* re-armed: now last */
	timer_disarm(&b.t); /* never fires */
	CHECK(!timer_armed(&b.t));
	to_disarm = &d; /* c's callback disarms d, already due in the same turn */
	norder = 0;
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK_EQ_INT(norder, 3);
	CHECK_EQ_INT(order[0], 3);
	CHECK_EQ_INT(order[1], 5);
	CHECK_EQ_INT(order[2], 1);
	CHECK(!timer_armed(&d.t));
	CHECK(tqueue_first(&q) == NULL);
	loop_free(l);
}

/* ---- edge-triggered watches ---- */

struct pipe_watch {
	struct watch w;
	int events;
	uint32_t last;
};

static void on_pipe(struct loop *l, struct watch *w, uint32_t ev)
{
	(void)l;
	struct pipe_watch *p = container_of(w, struct pipe_watch, w);
	p->events++;
	p->last = ev;
}

static int turn_count;

static void count_then_stop(struct loop *l, void *arg)
{
	(void)arg;
	turn_count++;
	loop_stop(l);
}

static void test_edge_triggered(void)
{
	struct loop *l = loop_new();
	int fds[2];
	if (!CHECK(l != NULL) || !CHECK(pipe(fds) == 0))
		return;
	struct pipe_watch p = {0};
	CHECK_EQ_INT(loop_watch(l, &p.w, fds[0], EPOLLIN, on_pipe), 0);
	struct tqueue q;
	struct timer t = {0};
	tqueue_init(l, &q, 50, on_timer_mark); /* bounds the turns that see no event */
	loop_on_turn_end(l, count_then_stop, NULL);

	CHECK_EQ_INT(write(fds[1], "x", 1), 1);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK_EQ_INT(p.events, 1);
	CHECK(p.last & EPOLLIN);

	/* nothing read, nothing new: no second event */
	timer_arm(&q, &t);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK_EQ_INT(p.events, 1);

	/* new bytes: a new edge */
	CHECK_EQ_INT(write(fds[1], "y", 1), 1);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK_EQ_INT(p.events, 2);

	loop_unwatch(l, &p.w);
	close(fds[0]);
	close(fds[1]);
	loop_free(l);
}

int main(void)
{
	test_first_turn_does_not_block();
	test_pending_does_not_block();
	test_timer_order();
	test_edge_triggered();
	return check_done();
}
