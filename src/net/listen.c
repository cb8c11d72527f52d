/* listen.c: opening listeners and naming addresses. */
#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *unix_path(const struct listen_spec *spec)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&spec->addr;
	return un->sun_path[0] ? un->sun_path : NULL; /* NULL: abstract */
}

/* An existing path: a socket nobody answers on may go; anything else stays. */
static int clear_stale_socket(const struct listen_spec *spec, char *err, size_t errlen)
{
	const char *path = unix_path(spec);
	struct stat st;
	if (!path || lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket (left untouched)", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int r = connect(fd, (const struct sockaddr *)&spec->addr, spec->addrlen);
	int e = errno;
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "%s is in use by another process", path);
		return -1;
	}
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether it is in use: %s", path, strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int listener_open(const struct listen_spec *spec, int backlog, unsigned unix_mode, int reuseport, char *err,
                  size_t errlen)
{
	int fam = spec->addr.ss_family;
	if (spec->is_unix && clear_stale_socket(spec, err, errlen) < 0)
		return -1;
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	if (!spec->is_unix) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (fam == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		/* accepted sockets inherit it: replies leave as soon as they are written */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* a connection is handed over when its first bytes arrive: accept,
		 * read and answer in one wakeup instead of two (a connection that
		 * says nothing is handed over after about a second all the same) */
		setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
		if (reuseport)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	}
	/* A socket file gets its mode as bind creates it, through the umask:
	 * a chmod by name afterwards could be sent elsewhere by whoever can
	 * write the directory (a symlink swapped in meanwhile). */
	const char *path = spec->is_unix ? unix_path(spec) : NULL;
	mode_t saved = path ? umask(~(mode_t)unix_mode & 0777) : 0;
	int r = bind(fd, (const struct sockaddr *)&spec->addr, spec->addrlen);
	int e = errno;
	if (path)
		umask(saved);
	if (r < 0) {
		snprintf(err, errlen, "bind: %s", strerror(e));
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) < 0) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		if (path)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

int listener_tune(int fd, const struct listen_spec *spec, uint32_t send_lowat)
{
	if (spec->is_unix)
		return 0;
	/* A file body is handed to the kernel a chunk at a time, and the socket
	 * reports writable again only once less than this is left unsent: a few
	 * tens of KiB queued keep the link busy, while letting megabytes wait
	 * (the send buffer grows to 4 MiB) made large transfers slower and
	 * burstier (docs/performance.md). */
	int v = (int)send_lowat;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) < 0)
		return -errno;
	return 0;
}

int listener_chown(const struct listen_spec *spec, uid_t uid, gid_t gid)
{
	const char *path = spec->is_unix ? unix_path(spec) : NULL;
	if (!path)
		return 0;
	/* never through a symlink, and only a socket: the name may have been
	 * replaced since bind by whoever can write the directory */
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EPERM;
	if (fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

void listener_unlink(const struct listen_spec *spec)
{
	const char *path = spec->is_unix ? unix_path(spec) : NULL;
	if (path)
		unlink(path);
}

void listener_name(int fd, const struct listen_spec *spec, char *out, size_t cap)
{
	if (spec->is_unix) {
		snprintf(out, cap, "%s", spec->text);
		return;
	}
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(out, cap, "%s", spec->text);
		return;
	}
	sockaddr_format((struct sockaddr *)&ss, out, cap);
}

void sockaddr_format_host(const struct sockaddr *sa, char *out, size_t cap)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
			inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], out, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, &a6->sin6_addr, out, (socklen_t)cap);
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(out, cap, "unix:");
	} else {
		snprintf(out, cap, "-");
	}
}

void sockaddr_format(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	sockaddr_format_host(sa, host, sizeof host);
	if (sa->sa_family == AF_INET)
		snprintf(out, cap, "%s:%u", host, ntohs(((const struct sockaddr_in *)sa)->sin_port));
	else if (sa->sa_family == AF_INET6)
		snprintf(out, cap, "[%s]:%u", host, ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	else
		snprintf(out, cap, "%s", host);
}
