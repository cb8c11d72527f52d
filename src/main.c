/* main.c: the command line: settings from argv and the file, then act. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "ctl/client.h"
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

/* Settings from the file and argv: -1 to go on, else the exit status
 * (--help/--version printed: 0; a bad flag: 2; a bad file: 1). */
static int load(struct settings *cfg, int argc, char **argv)
{
	char err[600];
	int r = conf_load(cfg, argc, argv, err, sizeof err);
	if (r == 1)
		return 0;
	if (r == 3) {
		fprintf(stderr, "hearth: %s\n", err);
		return 1;
	}
	return r == 2 ? 2 : -1;
}

/* hearth status [--json] | top | ctl VERB: clients of the control socket,
 * which they find through the same flags as the server (--control,
 * --pid-file, -c FILE). */
static int run_client(int argc, char **argv)
{
	const char *cmd = argv[0], *verb = NULL, *verb_arg = NULL;
	int json = 0, fargc = 0;
	char **fargv = calloc((size_t)argc + 2, sizeof *fargv);
	if (!fargv)
		return 1;
	fargv[fargc++] = "hearth";
	for (int i = 1; i < argc; i++) {
		if (strcmp(cmd, "status") == 0 && strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(cmd, "ctl") == 0 && !verb && argv[i][0] != '-')
			verb = argv[i];
		else if (strcmp(cmd, "ctl") == 0 && verb && !verb_arg && strcmp(verb, "nice") == 0)
			verb_arg = argv[i];
		else
			fargv[fargc++] = argv[i];
	}
	static struct settings cfg;
	char path[512];
	int r = load(&cfg, fargc, fargv);
	free(fargv);
	if (r >= 0)
		return r;
	conf_control_path(&cfg, path, sizeof path);
	if (!path[0]) {
		fprintf(stderr, "hearth: %s: the control socket is off (--control off)\n", cmd);
		return 1;
	}
	if (strcmp(cmd, "status") == 0)
		r = ctl_client_status(path, json);
	else if (strcmp(cmd, "top") == 0)
		r = ctl_client_top(path);
	else if (verb && strcmp(verb, "nice") == 0) {
		char *end;
		long n = verb_arg ? strtol(verb_arg, &end, 10) : 100;
		if (!verb_arg || *end || n < -20 || n > 19) {
			fprintf(stderr, "hearth: ctl nice: expects a value from -20 to 19\n");
			r = 2;
		} else {
			r = ctl_client_set_nice(path, (int)n);
		}
	} else if (verb && (strcmp(verb, "reload") == 0 || strcmp(verb, "stop") == 0 ||
	                    strcmp(verb, "quit") == 0 || strcmp(verb, "reopen") == 0)) {
		r = ctl_client_command(path, verb);
	} else {
		fprintf(stderr, "hearth: ctl: expects reload, stop, quit, reopen or nice N\n");
		r = 2;
	}
	settings_free(&cfg);
	return r;
}

int main(int argc, char **argv)
{
	if (argc >= 2 &&
	    (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "top") == 0 || strcmp(argv[1], "ctl") == 0))
		return run_client(argc - 1, argv + 1);

	/* argv's memory becomes the process title; work from a copy, kept for
	 * the life of the process (reloads parse it again) */
	static char **args;
	args = title_init(argc, argv);
	if (!args)
		return 1;
	static struct settings cfg;
	int r = load(&cfg, argc, args);
	if (r >= 0)
		return r;
	if (cfg.signal)
		return master_signal(&cfg);
	if (cfg.test_only)
		return master_test_config(&cfg);

	signal(SIGPIPE, SIG_IGN);
	/* a daemon keeps nothing it inherited but the standard streams: a shell's
	 * or a script's descriptors would stay open in every worker for good */
	if (cfg.daemon)
		close_range(3, ~0U, 0);
	raise_nofile();
	char cwd[4096];
	if (getcwd(cwd, sizeof cwd))
		master_absolutize(&cfg, cwd); /* logs reopen by name after a daemon's chdir("/") */
	if (log_open_error(cfg.error_log, (enum log_level)cfg.log_level) < 0) {
		fprintf(stderr, "hearth: --error-log: cannot open '%s': %s\n", cfg.error_log,
		        strerror(errno));
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
