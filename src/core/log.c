/* log.c: error and access logs.
 *
 * The access log collects lines in a 64 KiB buffer and writes it when full,
 * when the loop's once-a-second tick calls log_access_flush(), and at exit:
 * one write per second under load instead of one per request.
 */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

#define ACCESS_BUF 65536

struct logfile {
	int fd; /* -1: off */
	int owned; /* opened here (a file), so reopen applies */
	char *path;
};

static struct logfile errlog = {2, 0, NULL};
static struct logfile acclog = {-1, 0, NULL};
static enum log_level min_level = LOG_INFO;
static char abuf[ACCESS_BUF];
static size_t alen;

static int open_file(const char *path)
{
	/* never through a symlink: the master opens logs as root */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	return fd < 0 ? -errno : fd;
}

static int set_log(struct logfile *lf, const char *path, int stdfd)
{
	int fd;
	int owned = 0;
	if (!path || strcmp(path, "off") == 0) {
		fd = -1;
	} else if (strcmp(path, "-") == 0) {
		fd = stdfd;
	} else {
		fd = open_file(path);
		if (fd < 0)
			return fd;
		owned = 1;
	}
	if (lf->owned && lf->fd >= 0)
		close(lf->fd);
	free(lf->path);
	lf->path = owned ? strdup(path) : NULL;
	lf->fd = fd;
	lf->owned = owned;
	return 0;
}

int log_open_error(const char *path, enum log_level min)
{
	min_level = min;
	return set_log(&errlog, path ? path : "-", 2);
}

void log_set_level(enum log_level min)
{
	min_level = min;
}

int log_open_access(const char *path)
{
	log_access_flush();
	return set_log(&acclog, path, 1);
}

static int reopen_one(struct logfile *lf)
{
	if (!lf->owned)
		return 0;
	int fd = open_file(lf->path);
	if (fd < 0)
		return fd;
	dup2(fd, lf->fd); /* keep the number: nothing else needs to know */
	close(fd);
	return 0;
}

int log_reopen(void)
{
	log_access_flush();
	int r1 = reopen_one(&errlog);
	int r2 = reopen_one(&acclog);
	return r1 < 0 ? r1 : r2;
}

void log_close(void)
{
	log_access_flush();
	set_log(&acclog, NULL, 1);
}

int log_chown(uid_t uid, gid_t gid)
{
	int r = 0;
	if (errlog.owned && errlog.fd >= 0 && fchown(errlog.fd, uid, gid) < 0)
		r = -errno;
	if (acclog.owned && acclog.fd >= 0 && fchown(acclog.fd, uid, gid) < 0)
		r = -errno;
	return r;
}

int log_enabled(enum log_level lvl)
{
	return lvl >= min_level && errlog.fd >= 0;
}

const char *log_clean(char *out, size_t cap, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char ch = (unsigned char)in[i];
		/* bytes from 0x80 too: a C1 control (0x9b is CSI) acts on a
		 * terminal that is not in UTF-8, and a log is read on terminals */
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return out;
}

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error"};

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (!log_enabled(lvl))
		return;
	char line[2048];
	if (!clock_cache.iso_time[0])
		clock_update();
	int n = snprintf(line, sizeof line, "%s [%s] %d: ", clock_cache.iso_time, level_names[lvl],
	                 (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(errlog.fd, line, len);
	(void)w;
}

int log_access_on(void)
{
	return acclog.fd >= 0;
}

char *log_access_reserve(size_t n)
{
	if (n > ACCESS_BUF)
		return NULL;
	if (ACCESS_BUF - alen < n)
		log_access_flush();
	return abuf + alen;
}

void log_access_commit(size_t len)
{
	alen += len;
}

void log_access_flush(void)
{
	size_t off = 0;
	while (off < alen && acclog.fd >= 0) {
		ssize_t w = write(acclog.fd, abuf + off, alen - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break; /* disk full or gone: drop, never block the worker */
		}
		off += (size_t)w;
	}
	alen = 0;
}
