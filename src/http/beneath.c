/* beneath.c: see beneath.h. */
#include "http/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int have_openat2 = 1;

/* Component by component, never following a symlink. */
int open_beneath_walk(int dirfd, const char *rel, int flags)
{
	if (rel[0] == '\0' || strcmp(rel, ".") == 0)
		return openat(dirfd, ".", flags | O_CLOEXEC);
	int cur = dirfd;
	const char *p = rel;
	for (;;) {
		size_t n = strcspn(p, "/");
		char comp[256];
		if (n == 0 || n >= sizeof comp || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			if (cur != dirfd)
				close(cur);
			errno = n >= sizeof comp ? ENAMETOOLONG : EXDEV;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		const char *next = p + n;
		int last = *next == '\0' || (next[0] == '/' && next[1] == '\0');
		int f = last ? flags | O_NOFOLLOW | (*next == '/' ? O_DIRECTORY : 0)
		             : O_PATH | O_DIRECTORY | O_NOFOLLOW;
		int fd = openat(cur, comp, f | O_CLOEXEC | O_NOCTTY);
		int e = errno;
		if (cur != dirfd)
			close(cur);
		if (fd < 0) {
			errno = e == ENOTDIR && !last ? ENOTDIR : e;
			return -1;
		}
		if (last)
			return fd;
		cur = fd;
		p = next + 1;
	}
}

int open_beneath(int dirfd, const char *rel, int flags, int follow)
{
	if (have_openat2) {
		/* openat2 refuses O_PATH with flags other than O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC */
		struct open_how how = {
		    .flags = (uint64_t)(flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY)),
		    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow ? 0 : RESOLVE_NO_SYMLINKS),
		};
		long r;
		do
			r = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		while (r < 0 && errno == EINTR);
		if (r >= 0 || errno != ENOSYS)
			return (int)r;
		have_openat2 = 0;
	}
	return open_beneath_walk(dirfd, rel, flags);
}
