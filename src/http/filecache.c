/* filecache.c: see filecache.h. */
#include "http/filecache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/text.h"

#define BUCKETS 2048u

static uint32_t hash_of(uint32_t site, const char *p, size_t n)
{
	return fnv1a(FNV1A_BASIS ^ site, p, n);
}

void fc_init(struct filecache *fc, uint64_t valid_ms)
{
	memset(fc, 0, sizeof *fc);
	fc->valid_ms = valid_ms;
}

static void unlink_entry(struct filecache *fc, struct fc_entry *e)
{
	struct fc_entry **pp = &fc->buckets[e->hash & (BUCKETS - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		fc->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		fc->newest = e->older;
	fc->entries--;
	fc->bytes -= e->data && !e->missing ? e->size : 0;
	fc->missing -= e->missing ? 1 : 0;
	if (e->fd >= 0) {
		close(e->fd);
		fc->fds--;
	}
	free(e->path);
	free(e);
}

void fc_free(struct filecache *fc)
{
	while (fc->oldest)
		unlink_entry(fc, fc->oldest);
	free(fc->buckets);
	fc->buckets = NULL;
}

static void link_entry(struct filecache *fc, struct fc_entry *e)
{
	e->hnext = fc->buckets[e->hash & (BUCKETS - 1)];
	fc->buckets[e->hash & (BUCKETS - 1)] = e;
	e->older = fc->newest;
	if (fc->newest)
		fc->newest->newer = e;
	else
		fc->oldest = e;
	fc->newest = e;
	fc->entries++;
	fc->bytes += e->data && !e->missing ? e->size : 0;
	fc->missing += e->missing ? 1 : 0;
	fc->fds += e->fd >= 0 ? 1 : 0;
}

/* A new entry for (site, path), not yet linked, its path and room for
 * `kept` data bytes in one block, once the cache has room for them (the
 * oldest entries go first). NULL when out of memory. */
static struct fc_entry *entry_new(struct filecache *fc, uint32_t h, uint32_t site, const char *path,
                                  size_t len, size_t kept, uint64_t now)
{
	if (!fc->buckets && !(fc->buckets = calloc(BUCKETS, sizeof(struct fc_entry *))))
		return NULL;
	/* unlink_entry() moves fc->oldest on to the next: the freed entry is no
	 * longer fc->oldest (the analyzer cannot see that) */
	while (fc->oldest && (fc->entries >= FC_MAX_ENTRIES || fc->bytes + kept > FC_MAX_BYTES))
		unlink_entry(fc, fc->oldest); // NOLINT(clang-analyzer-unix.Malloc)
	struct fc_entry *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->path = malloc(len + 1 + kept + 1);
	if (!e->path) {
		free(e);
		return NULL;
	}
	memcpy(e->path, path, len);
	e->path[len] = '\0';
	e->fd = -1;
	e->hash = h;
	e->site = site;
	e->path_len = len;
	e->checked_ms = now;
	return e;
}

/* The oldest entry holding a descriptor (NULL: none). */
static struct fc_entry *oldest_fd_entry(struct filecache *fc)
{
	for (struct fc_entry *e = fc->oldest; e; e = e->newer)
		if (e->fd >= 0)
			return e;
	return NULL;
}

static struct fc_entry *find(struct filecache *fc, uint32_t site, const char *path, size_t len, uint32_t h)
{
	if (!fc->buckets)
		return NULL;
	for (struct fc_entry *e = fc->buckets[h & (BUCKETS - 1)]; e; e = e->hnext)
		if (e->hash == h && e->site == site && e->path_len == len && memcmp(e->path, path, len) == 0)
			return e;
	return NULL;
}

const struct fc_entry *fc_get(struct filecache *fc, uint32_t site, const char *path, size_t len, uint64_t now)
{
	if (!fc->valid_ms)
		return NULL;
	struct fc_entry *e = find(fc, site, path, len, hash_of(site, path, len));
	return e && now - e->checked_ms < fc->valid_ms ? e : NULL;
}

const struct fc_entry *fc_put(struct filecache *fc, uint32_t site, const char *path, size_t len, int fd,
                              const struct stat *st, const char *ctype, const char *etag, const char *lm,
                              uint64_t now)
{
	if (!fc->valid_ms || !S_ISREG(st->st_mode))
		return NULL;
	int big = (uint64_t)st->st_size > FC_MAX_FILE;
	uint32_t h = hash_of(site, path, len);
	struct fc_entry *e = find(fc, site, path, len, h);
	if (e && e->dev == st->st_dev && e->ino == st->st_ino && e->size == (uint64_t)st->st_size &&
	    e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec) {
		e->checked_ms = now; /* unchanged: trusted for another while */
		return e;
	}
	if (e)
		unlink_entry(fc, e);
	size_t size = big ? 0 : (size_t)st->st_size; /* bytes kept in memory */
	struct fc_entry *old;
	while (big && fc->fds >= FC_MAX_FDS && (old = oldest_fd_entry(fc)))
		unlink_entry(fc, old);
	if (!(e = entry_new(fc, h, site, path, len, size, now)))
		return NULL;
	e->data = big ? NULL : e->path + len + 1;
	if (big && (e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(e->path);
		free(e);
		return NULL;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(fd, e->data + got, size - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != size) {
		free(e->path);
		free(e);
		return NULL;
	}
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime = st->st_mtim;
	e->size = (uint64_t)st->st_size;
	e->ctype = ctype;
	strncpy(e->etag, etag, sizeof e->etag - 1);
	strncpy(e->lm, lm, sizeof e->lm - 1);
	link_entry(fc, e);
	return e;
}

void fc_put_missing(struct filecache *fc, uint32_t site, const char *path, size_t len, uint64_t now)
{
	if (!fc->valid_ms)
		return;
	uint32_t h = hash_of(site, path, len);
	struct fc_entry *e = find(fc, site, path, len, h);
	if (e && e->missing) {
		e->checked_ms = now;
		return;
	}
	if (e)
		unlink_entry(fc, e); /* the file it held is gone */
	if (fc->missing >= FC_MAX_MISSING || !(e = entry_new(fc, h, site, path, len, 0, now)))
		return;
	e->data = e->path + len;
	e->missing = 1;
	link_entry(fc, e);
}
