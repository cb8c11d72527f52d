/* pidfile.c: see pidfile.h. */
#include "proc/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf || v <= 0 || (*end && *end != '\n'))
		return -1;
	return (pid_t)v;
}

pid_t pidfile_running(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s (is hearth running?)", path, strerror(errno));
		return -1;
	}
	/* a lock we can take means nobody holds it: not running */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		snprintf(err, errlen, "%s is stale: no hearth holds it", path);
		return -1;
	}
	pid_t pid = read_pid(fd);
	close(fd);
	if (pid <= 0)
		snprintf(err, errlen, "%s holds no pid", path);
	return pid;
}

/* The pid file's name is trusted only as far as its directory: opened
 * without following a symlink, a regular file, and the temporary file made
 * anew (O_EXCL), never through a name someone left there. */
static int open_locked(const char *path, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			snprintf(err, errlen, "pid file %s: %s", path,
			         errno == ELOOP ? "is a symbolic link" : strerror(errno));
			return -1;
		}
		struct stat a, b;
		if (fstat(fd, &a) < 0 || !S_ISREG(a.st_mode)) {
			snprintf(err, errlen, "pid file %s: not a regular file", path);
			close(fd);
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			pid_t pid = read_pid(fd);
			close(fd);
			snprintf(err, errlen, "already running with pid %ld (pid file %s is locked)",
			         (long)pid, path);
			return -1;
		}
		/* the lock counts only if the name still leads to this file: a
		 * hearth starting at the same moment may have renamed its own over it */
		if (lstat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	snprintf(err, errlen, "pid file %s keeps changing under us", path);
	return -1;
}

int pidfile_acquire(const char *path, char *err, size_t errlen)
{
	int old = open_locked(path, err, errlen);
	if (old < 0)
		return -1;
	pid_t stale = read_pid(old);
	if (stale > 0)
		log_notice("replacing stale pid file %s (pid %ld is not running hearth)", path, (long)stale);

	char tmp[4096];
	int tn = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	if (tn < 0 || (size_t)tn >= sizeof tmp) {
		snprintf(err, errlen, "pid file %s: name too long", path);
		close(old);
		return -1;
	}
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(tmp, flags, 0644);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* left by a crash, or planted */
		fd = open(tmp, flags, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "pid file %s: %s", tmp, strerror(errno));
		close(old);
		return -1;
	}
	char line[32];
	int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n || flock(fd, LOCK_EX | LOCK_NB) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
		unlink(tmp);
		close(fd);
		close(old);
		return -1;
	}
	close(old); /* the old inode is unlinked now; ours is at the path, locked */
	return fd;
}

void pidfile_release(const char *path, int fd)
{
	if (fd < 0)
		return;
	/* unlink only if the path still names our file */
	struct stat a, b;
	if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		unlink(path);
	close(fd);
}
