/* clock.h: the time, read once per loop turn and cached.
 *
 * Everything that needs "now" during a turn (timers, the Date header, log
 * stamps) reads these instead of calling clock_gettime again. The formatted
 * strings are rebuilt only when the wall-clock second changes.
 */
#ifndef HEARTH_CORE_CLOCK_H
#define HEARTH_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

struct clock_cache {
	uint64_t now_ms; /* monotonic milliseconds */
	time_t wall; /* seconds since the epoch */
	char http_date[32]; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
	char log_time[32]; /* "06/Nov/1994:08:49:37 +0000" (access log) */
	char iso_time[32]; /* "1994-11-06T08:49:37Z" (error log) */
};

extern struct clock_cache clock_cache;

/* Read the clocks; refresh the strings when the second changed. */
void clock_update(void);

#endif
