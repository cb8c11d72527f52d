/* main.c: the command line: settings from argv, then serve. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "http/mime.h"
#include "http/server.h"
#include "net/listen.h"

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
	struct settings cfg;
	settings_init(&cfg);
	int r = conf_parse_args(&cfg, argc, argv);
	if (r == 1)
		return 0;
	if (r != 0)
		return r;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
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

	int rootfd = open(cfg.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		log_error("cannot serve '%s': %s", cfg.root, strerror(errno));
		return 1;
	}
	close(rootfd);

	int fds[CONF_MAX_LISTEN];
	for (unsigned i = 0; i < cfg.nlisten; i++) {
		fds[i] = listener_open(&cfg.listen[i], 4096);
		if (fds[i] < 0) {
			log_error("cannot listen on %s: %s", cfg.listen[i].text, strerror(-fds[i]));
			return 1;
		}
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char name[128];
		getsockname(fds[i], (struct sockaddr *)&ss, &sl);
		sockaddr_format((struct sockaddr *)&ss, name, sizeof name);
		log_info("listening on %s", name);
	}

	struct server srv;
	r = server_init(&srv, &cfg, fds, cfg.nlisten);
	if (r < 0) {
		log_error("cannot start serving %s: %s", cfg.root, strerror(-r));
		return 1;
	}
	log_info("serving %s", cfg.root);
	r = server_run(&srv);
	if (r < 0)
		log_error("event loop: %s", strerror(-r));
	server_free(&srv);
	log_info("stopped");
	log_close();
	mime_free();
	return r < 0 ? 1 : 0;
}
