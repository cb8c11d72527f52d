/* filecache.h: small files kept in memory, larger ones open, per worker.
 *
 * A GET for a small file is otherwise five system calls beyond the read and
 * the write (openat2, fstat, pread, close): with the cache it is none. A
 * larger file's entry keeps an open descriptor and the file's metadata
 * instead of its bytes: a request gets its own duplicate (fcntl F_DUPFD,
 * closed when the response is done, so evicting an entry never pulls a
 * descriptor from under a response), which spares the path lookup (openat2
 * beneath the root) and the fstat. At most FC_MAX_FDS such entries. An
 * entry is trusted for FC_VALID_MS after it was checked; after that the next
 * request opens and stats the file the normal way (beneath the root, with the
 * site's rules), and the entry is kept only if inode, size and mtime are the
 * same. So a changed file is served stale for at most valid_ms, and the
 * cache never decides what may be served: only the normal path creates or
 * confirms entries. Bounded: FC_MAX_ENTRIES entries, FC_MAX_BYTES of data,
 * the oldest entry goes first.
 */
#ifndef HEARTH_HTTP_FILECACHE_H
#define HEARTH_HTTP_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FC_MAX_FILE 16384u
#define FC_MAX_ENTRIES 1024u
#define FC_MAX_BYTES (8u << 20)
#define FC_MAX_MISSING 256u /* entries for paths found missing (404s) */
#define FC_MAX_FDS 256u /* entries holding a descriptor (files over FC_MAX_FILE) */

struct fc_entry {
	struct fc_entry *hnext; /* hash chain */
	struct fc_entry *older, *newer; /* insertion order, for eviction */
	uint32_t hash;
	uint32_t site;
	uint64_t checked_ms;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	uint64_t size;
	const char *ctype;
	char etag[48];
	char lm[32];
	size_t path_len;
	char *path; /* the request's path (what the client asked for) */
	char *data; /* size bytes; NULL for a descriptor entry */
	int fd; /* a descriptor entry (files over FC_MAX_FILE): the open file; else -1 */
	int missing; /* the path named no file when checked: a 404 */
};

struct filecache {
	struct fc_entry **buckets;
	struct fc_entry *oldest, *newest;
	size_t entries, bytes, missing, fds;
	uint64_t valid_ms; /* 0: the cache is off */
};

void fc_init(struct filecache *fc, uint64_t valid_ms);
void fc_free(struct filecache *fc);
/* A fresh entry for (site, path), or NULL. An entry may say the path is
 * missing (e->missing): answer 404 without looking. */
const struct fc_entry *fc_get(struct filecache *fc, uint32_t site, const char *path, size_t len,
                              uint64_t now);
/* After the normal path opened fd (a regular file, st) for (site, path):
 * keep or confirm it. Returns the entry, or NULL when the file is not
 * cached (read failed, out of memory or descriptors). A file over
 * FC_MAX_FILE gets a descriptor entry (its own duplicate of fd: the caller
 * keeps fd). */
const struct fc_entry *fc_put(struct filecache *fc, uint32_t site, const char *path, size_t len, int fd,
                              const struct stat *st, const char *ctype, const char *etag, const char *lm,
                              uint64_t now);

/* After the normal path found no file at (site, path) (ENOENT): remember
 * that for valid_ms, like a file (nginx's open_file_cache_errors). At most
 * FC_MAX_MISSING such entries, so a flood of 404s cannot push real files out. */
void fc_put_missing(struct filecache *fc, uint32_t site, const char *path, size_t len, uint64_t now);

#endif
