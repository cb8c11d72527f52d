/* pool.c: buffer free lists. See pool.h. */
#include "core/pool.h"

#include <stdlib.h>
#include <string.h>

void pool_init(struct pool *p, uint32_t bufsize)
{
	memset(p, 0, sizeof *p);
	p->size = bufsize;
}

struct buf *pool_get(struct pool *p)
{
	struct buf *b = p->free;
	if (b) {
		p->free = b->next;
		p->nfree--;
	} else {
		b = malloc(sizeof *b + p->size);
		if (!b)
			return NULL;
		b->cap = p->size;
	}
	b->next = NULL;
	b->start = b->len = 0;
	p->nused++;
	return b;
}

void pool_put(struct pool *p, struct buf *b)
{
	if (!b)
		return;
	b->next = p->free;
	p->free = b;
	p->nfree++;
	p->nused--;
}

void pool_trim(struct pool *p, size_t keep)
{
	while (p->nfree > keep) {
		struct buf *b = p->free;
		p->free = b->next;
		p->nfree--;
		free(b);
	}
}

void buf_compact(struct buf *b)
{
	if (b->start == 0)
		return;
	uint32_t n = b->len - b->start;
	if (n)
		memmove(b->data, b->data + b->start, n);
	b->start = 0;
	b->len = n;
}
