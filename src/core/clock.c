/* clock.c: cached monotonic and wall time, and their formatted forms. */
#include "core/clock.h"

#include <stdio.h>
#include <string.h>

struct clock_cache clock_cache;

void clock_update(void)
{
	struct timespec mono, real;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	clock_cache.now_ms = (uint64_t)mono.tv_sec * 1000u + (uint64_t)mono.tv_nsec / 1000000u;
	if (real.tv_sec == clock_cache.wall && clock_cache.http_date[0])
		return;
	clock_cache.wall = real.tv_sec;
	struct tm tm;
	gmtime_r(&real.tv_sec, &tm);
	/* the C locale is never changed, so %a and %b are the English names HTTP wants */
	strftime(clock_cache.http_date, sizeof clock_cache.http_date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	strftime(clock_cache.log_time, sizeof clock_cache.log_time, "%d/%b/%Y:%H:%M:%S +0000", &tm);
	strftime(clock_cache.iso_time, sizeof clock_cache.iso_time, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
