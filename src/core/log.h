/* log.h: the error log (levels, line-buffered) and the access log (buffered,
 * flushed at least once a second and at exit).
 *
 * Both write to a file descriptor owned here; log_reopen() swaps it for a new
 * one after logrotate moved the file. Writes are best effort: a full disk
 * never stops a worker.
 */
#ifndef HEARTH_CORE_LOG_H
#define HEARTH_CORE_LOG_H

#include <stddef.h>
#include <sys/types.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_NOTICE, LOG_WARN, LOG_ERROR };

/* path: a file, "-" for stderr. Returns 0 or -errno. */
int log_open_error(const char *path, enum log_level min);
/* The lowest level written from now on (a reload that changes only that). */
void log_set_level(enum log_level min);
/* path: a file, "-" for stdout, NULL or "off" to disable. Returns 0 or -errno. */
int log_open_access(const char *path);
int log_reopen(void);
/* Give the log files (those opened here, by descriptor) to uid:gid. 0 or -errno. */
int log_chown(uid_t uid, gid_t gid);
void log_close(void);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
int log_enabled(enum log_level lvl);
/* Copy n bytes of untrusted text for a log line: control bytes, bytes from
 * 0x7f up (UTF-8 included, as nginx does), quotes and backslashes become \xHH,
 * so a line can never be split or forged, nor act on a terminal. Returns out. */
const char *log_clean(char *out, size_t cap, const char *in, size_t n);

/* Access log: is it on? Reserve room for one line of up to n bytes; returns a
 * pointer to write into, then log_access_commit(len). */
int log_access_on(void);
char *log_access_reserve(size_t n);
void log_access_commit(size_t len);
void log_access_flush(void);

#endif
