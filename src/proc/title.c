/* title.c: rewriting argv's memory to set the process title. */
#include "proc/title.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *area; /* start of argv[0] */
/* The environment, moved out of argv's way, kept for the process's life.
 * Not static: a static that is only written could be optimized away, and
 * leak checkers would then see the block as lost. */
char **title_env_copy;
static size_t area_len; /* contiguous bytes from argv[0] to the end of the last string */

char **title_init(int argc, char **argv)
{
	char **copy = calloc((size_t)argc + 1, sizeof *copy);
	if (!copy)
		return NULL;
	for (int i = 0; i < argc; i++)
		copy[i] = strdup(argv[i]);
	if (argc == 0 || !argv[0])
		return copy;
	/* the kernel lays argv strings and then environ strings end to end */
	char *end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	size_t nenv = 0;
	while (environ[nenv])
		nenv++;
	char **env = calloc(nenv + 1, sizeof *env);
	if (env) {
		for (size_t i = 0; i < nenv; i++) {
			if (environ[i] == end)
				end = environ[i] + strlen(environ[i]) + 1;
			env[i] = strdup(environ[i]);
		}
		environ = env;
		title_env_copy = env;
	}
	area = argv[0];
	area_len = (size_t)(end - area);
	return copy;
}

void title_set(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* the short name in /proc/PID/comm (15 bytes), for top and pgrep */
	char comm[16];
	if (strncmp(buf, "hearth: ", 8) == 0) {
		size_t w = strcspn(buf + 8, " ");
		snprintf(comm, sizeof comm, "hearth-%.*s", (int)w, buf + 8); /* "hearth-worker" */
	} else {
		size_t n = strnlen(buf, sizeof comm - 1);
		memcpy(comm, buf, n);
		comm[n] = '\0';
	}
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (!area || area_len < 2)
		return;
	size_t n = strlen(buf);
	if (n >= area_len)
		n = area_len - 1;
	memcpy(area, buf, n);
	memset(area + n, 0, area_len - n);
}
