/* stats.h: per-worker counters in memory shared with the master.
 *
 * The master maps one region before it forks anything; each worker gets a
 * slot and is the only writer of it. Counting is a relaxed atomic load and
 * store of a 64-bit word: no lock, no system call, no locked instruction on
 * the request path. The master reads every slot for STATUS, and when a
 * worker is gone it folds the slot into `retired`, so totals survive
 * replacements and reloads.
 */
#ifndef HEARTH_STATS_STATS_H
#define HEARTH_STATS_STATS_H

#include <stdint.h>

struct stats_slot {
	uint64_t accepted; /* connections */
	uint64_t active; /* connections open now */
	uint64_t requests; /* responses finished */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t status[6]; /* [1]..[5]: 1xx..5xx */
	uint64_t pad[5]; /* 128 bytes: two slots never share a cache line pair */
};

struct stats_region {
	struct stats_slot retired; /* master only: what gone workers counted */
	unsigned nslots;
	unsigned used; /* slots [used, nslots) have never been given out: all zero */
	struct stats_slot slots[];
};

/* mmap a shared anonymous region of nslots slots; NULL on failure. */
struct stats_region *stats_create(unsigned nslots);
void stats_destroy(struct stats_region *r);
/* Master, before a worker gets slot i: the sums below look that far. */
void stats_claim(struct stats_region *r, unsigned i);
/* Master: add slot i to the retired totals and zero it for the next worker. */
void stats_retire(struct stats_region *r, unsigned i);
/* Sum of retired and every slot given out (active: live slots only). It
 * reads only the slots given out so far, so a region sized for many
 * generations of workers costs nothing while few are used. */
void stats_total(const struct stats_region *r, struct stats_slot *out);
/* Connections open now, all workers together: what a worker asks on its
 * accept path (max-connections, the accept balance), one word per slot. */
uint64_t stats_active(const struct stats_region *r);

static inline void stat_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
static inline void stat_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t stat_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

#endif
