/* title.h: process titles as `ps` shows them ("hearth: worker process").
 *
 * Linux shows /proc/PID/cmdline, which is the argv memory of the process:
 * title_init() moves the environment out of the way so argv's strings and
 * the environment's form one writable area, and title_set() writes there.
 */
#ifndef HEARTH_PROC_TITLE_H
#define HEARTH_PROC_TITLE_H

/* Call once, early, before anything keeps pointers into argv or environ:
 * returns a deep copy of argv (NULL-terminated) that stays valid. */
char **title_init(int argc, char **argv);
extern char **title_env_copy;
void title_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
