/* pidfile.h: the master's pid file: written atomically, locked while it lives.
 *
 * The lock (flock) is what says "running": a file nobody holds locked is a
 * stale leftover and is replaced. The content is written to a temporary file,
 * locked, then renamed into place, so a reader never sees a half-written pid
 * and there is no moment when the path is unlocked. Neither name is opened
 * through a symlink, and the temporary file is always created anew.
 */
#ifndef HEARTH_PROC_PIDFILE_H
#define HEARTH_PROC_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Take the pid file for this process. Returns an fd to keep open (the lock
 * lives with it), or -1 with a message in err ("already running with pid N"). */
int pidfile_acquire(const char *path, char *err, size_t errlen);
/* Remove the file if it is still ours, and drop the lock. */
void pidfile_release(const char *path, int fd);
/* The pid of the running master, or -1 (message in err) when none holds it. */
pid_t pidfile_running(const char *path, char *err, size_t errlen);

#endif
