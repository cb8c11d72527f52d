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
	struct stats_slot slots[];
};

/* mmap a shared anonymous region of nslots slots; NULL on failure. */
struct stats_region *stats_create(unsigned nslots);
void stats_destroy(struct stats_region *r);
/* Master: add slot i to the retired totals and zero it for the next worker. */
void stats_retire(struct stats_region *r, unsigned i);
/* Sum of retired and every live slot (active: live slots only). */
void stats_total(const struct stats_region *r, struct stats_slot *out);

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
