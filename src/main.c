/* main.c: the command line: settings from argv and the file, then act. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "http/mime.h"
#include "proc/master.h"
#include "proc/title.h"

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	/* argv's memory becomes the process title; work from a copy */
	char **args = title_init(argc, argv);
	if (!args)
		return 1;
	static struct settings cfg;
	char err[600];
	int r = conf_load(&cfg, argc, args, err, sizeof err);
	if (r == 1)
		return 0;
	if (r == 2)
		return 2;
	if (r == 3) {
		fprintf(stderr, "hearth: %s\n", err);
		return 1;
	}
	if (cfg.signal)
		return master_signal(&cfg);
	if (cfg.test_only)
		return master_test_config(&cfg);

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	char cwd[4096];
	if (getcwd(cwd, sizeof cwd))
		master_absolutize(&cfg, cwd); /* logs reopen by name after a daemon's chdir("/") */
	if (log_open_error(cfg.error_log, (enum log_level)cfg.log_level) < 0) {
		fprintf(stderr, "hearth: --error-log: cannot open '%s': %s\n", cfg.error_log, strerror(errno));
		return 1;
	}
	r = log_open_access(cfg.access_log);
	if (r < 0) {
		fprintf(stderr, "hearth: --access-log: cannot open '%s': %s\n", cfg.access_log, strerror(-r));
		return 1;
	}
	if (mime_load(cfg.mime_types) <= 0)
		log_warn("no MIME types loaded; everything is application/octet-stream");
	r = master_run(&cfg, argc, args);
	log_close();
	mime_free();
	settings_free(&cfg);
	return r;
}
