/* stats.c: the shared counter region. See stats.h. */
#include "stats/stats.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(sizeof(struct stats_slot) == 128, "a slot is two cache lines");

static size_t region_size(unsigned nslots)
{
	return offsetof(struct stats_region, slots) + (size_t)nslots * sizeof(struct stats_slot);
}

struct stats_region *stats_create(unsigned nslots)
{
	struct stats_region *r =
	    mmap(NULL, region_size(nslots), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	r->nslots = nslots; /* the rest is zero, as mmap gives it */
	return r;
}

void stats_destroy(struct stats_region *r)
{
	if (r)
		munmap(r, region_size(r->nslots));
}

static void add_slot(struct stats_slot *to, const struct stats_slot *from, int with_active)
{
	to->accepted += stat_get(&from->accepted);
	if (with_active)
		to->active += stat_get(&from->active);
	to->requests += stat_get(&from->requests);
	to->bytes_in += stat_get(&from->bytes_in);
	to->bytes_out += stat_get(&from->bytes_out);
	for (int i = 0; i < 6; i++)
		to->status[i] += stat_get(&from->status[i]);
}

void stats_claim(struct stats_region *r, unsigned i)
{
	if (i < r->nslots && i >= __atomic_load_n(&r->used, __ATOMIC_RELAXED))
		__atomic_store_n(&r->used, i + 1, __ATOMIC_RELEASE);
}

static unsigned used_slots(const struct stats_region *r)
{
	unsigned n = __atomic_load_n(&r->used, __ATOMIC_ACQUIRE);
	return n < r->nslots ? n : r->nslots;
}

void stats_retire(struct stats_region *r, unsigned i)
{
	add_slot(&r->retired, &r->slots[i], 0);
	memset(&r->slots[i], 0, sizeof r->slots[i]);
}

void stats_total(const struct stats_region *r, struct stats_slot *out)
{
	memset(out, 0, sizeof *out);
	add_slot(out, &r->retired, 0);
	for (unsigned i = 0, n = used_slots(r); i < n; i++)
		add_slot(out, &r->slots[i], 1);
}

uint64_t stats_active(const struct stats_region *r)
{
	uint64_t sum = 0;
	for (unsigned i = 0, n = used_slots(r); i < n; i++)
		sum += stat_get(&r->slots[i].active);
	return sum;
}
