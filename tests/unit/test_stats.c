/* test_stats.c: the shared counter region (src/stats/stats.h).
 *
 * - A new region is all zero; stats_total sums the retired totals and every
 *   slot given out, with `active` from live slots only.
 * - stats_retire folds a slot into the retired totals (all but `active`,
 *   which is about now) and zeroes it for its next worker.
 * - The sums read only the slots given out (stats_claim): the region is
 *   sized for eight generations of 512 workers, and summing all 4096 slots
 *   on a worker's accept path (max-connections, the accept balance) cost
 *   about 4 µs per call, a whole small request's worth of CPU.
 * - Slots are shared across fork(): a child's counts are seen by the parent.
 */
#include "check.h"
#include "stats/stats.h"

#include <sys/wait.h>
#include <unistd.h>

static void test_totals_and_retire(void)
{
	struct stats_region *r = stats_create(16);
	if (!CHECK(r))
		return;
	struct stats_slot t;
	stats_total(r, &t);
	CHECK_EQ_U64(t.requests, 0);
	CHECK_EQ_U64(stats_active(r), 0);

	stats_claim(r, 0);
	stats_claim(r, 1);
	stat_add(&r->slots[0].requests, 5);
	stat_set(&r->slots[0].active, 3);
	stat_add(&r->slots[0].status[2], 4);
	stat_add(&r->slots[0].status[4], 1);
	stat_add(&r->slots[1].requests, 7);
	stat_set(&r->slots[1].active, 2);
	stat_add(&r->slots[1].bytes_out, 1000);
	stats_total(r, &t);
	CHECK_EQ_U64(t.requests, 12);
	CHECK_EQ_U64(t.active, 5);
	CHECK_EQ_U64(t.bytes_out, 1000);
	CHECK_EQ_U64(t.status[2], 4);
	CHECK_EQ_U64(t.status[4], 1);
	CHECK_EQ_U64(stats_active(r), 5);

	/* worker 0 is gone: its counts stay in the totals, its connections not */
	stats_retire(r, 0);
	CHECK_EQ_U64(r->slots[0].requests, 0);
	CHECK_EQ_U64(r->slots[0].active, 0);
	stats_total(r, &t);
	CHECK_EQ_U64(t.requests, 12);
	CHECK_EQ_U64(t.active, 2);
	CHECK_EQ_U64(t.status[2], 4);
	CHECK_EQ_U64(stats_active(r), 2);

	/* its next worker starts from zero, and the totals go on */
	stats_claim(r, 0);
	stat_add(&r->slots[0].requests, 1);
	stats_total(r, &t);
	CHECK_EQ_U64(t.requests, 13);
	stats_destroy(r);
}

static void test_sums_read_only_claimed_slots(void)
{
	struct stats_region *r = stats_create(4096);
	if (!CHECK(r))
		return;
	CHECK_EQ_INT(r->used, 0);
	stats_claim(r, 2);
	CHECK_EQ_INT(r->used, 3);
	stats_claim(r, 0); /* a lower slot does not shrink the range */
	CHECK_EQ_INT(r->used, 3);
	stats_claim(r, 4096); /* out of range: ignored */
	CHECK_EQ_INT(r->used, 3);
	stat_set(&r->slots[2].active, 9);
	CHECK_EQ_U64(stats_active(r), 9);
	/* a slot never given out is not read (nothing writes one: this only
	 * shows where the sum stops) */
	r->slots[3].active = 100;
	CHECK_EQ_U64(stats_active(r), 9);
	struct stats_slot t;
	stats_total(r, &t);
	CHECK_EQ_U64(t.active, 9);
	stats_claim(r, 3);
	CHECK_EQ_U64(stats_active(r), 109);
	stats_destroy(r);
}

static void test_shared_across_fork(void)
{
	struct stats_region *r = stats_create(8);
	if (!CHECK(r))
		return;
	stats_claim(r, 1);
	pid_t pid = fork();
	if (pid == 0) {
		stat_add(&r->slots[1].requests, 42);
		stat_set(&r->slots[1].active, 6);
		_exit(0);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	struct stats_slot t;
	stats_total(r, &t);
	CHECK_EQ_U64(t.requests, 42);
	CHECK_EQ_U64(stats_active(r), 6);
	stats_destroy(r);
}

int main(void)
{
	test_totals_and_retire();
	test_sums_read_only_claimed_slots();
	test_shared_across_fork();
	return check_done();
}
