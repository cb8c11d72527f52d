/* pool.h: fixed-size I/O buffers from a per-process free list.
 *
 * Buffers are taken when a connection has bytes to hold and given back when
 * it goes idle, so an idle keep-alive connection costs no buffer memory.
 * The free list only grows to the peak number in use (malloc then, never on
 * a steady-state request) and is trimmed back by pool_trim().
 */
#ifndef HEARTH_CORE_POOL_H
#define HEARTH_CORE_POOL_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	struct buf *next; /* free-list link */
	uint32_t start; /* first unconsumed byte */
	uint32_t len; /* end of valid bytes */
	uint32_t cap;
	char data[];
};

struct pool {
	struct buf *free;
	size_t nfree, nused;
	uint32_t size;
};

void pool_init(struct pool *p, uint32_t bufsize);
struct buf *pool_get(struct pool *p); /* NULL when out of memory */
void pool_put(struct pool *p, struct buf *b);
/* Free cached buffers beyond keep. */
void pool_trim(struct pool *p, size_t keep);

static inline uint32_t buf_avail(const struct buf *b)
{
	return b->len - b->start;
}
static inline uint32_t buf_space(const struct buf *b)
{
	return b->cap - b->len;
}
/* Move the unconsumed bytes to the front. */
void buf_compact(struct buf *b);

#endif
