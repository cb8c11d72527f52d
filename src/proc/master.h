/* master.h: running hearth: the master process and its workers, or one
 * process doing both (--workers 0).
 *
 * master_run() owns everything from the settings on: pid file, daemonizing,
 * binding listeners, opening document roots, forking workers (each a
 * struct server in its own process), and answering signals — SIGTERM/SIGQUIT
 * graceful stop, SIGINT immediate stop, SIGHUP reload (a new generation of
 * workers with the re-read settings; the old one finishes gracefully),
 * SIGUSR1 log reopening, SIGCHLD reaping and respawning with a backoff.
 */
#ifndef HEARTH_PROC_MASTER_H
#define HEARTH_PROC_MASTER_H

#include "conf/conf.h"

/* argv: the command line (a copy that stays valid), re-read on reload.
 * cfg is taken over (freed by the master). Returns the exit status. */
int master_run(struct settings *cfg, int argc, char **argv);

/* hearth -s SIGNAL: signal the running master. Returns the exit status. */
int master_signal(const struct settings *cfg);

/* hearth -t: check what can be checked without binding. Exit status. */
int master_test_config(const struct settings *cfg);

/* Make relative paths in cfg absolute against dir (done before a daemon
 * changes to "/", and on every reload). */
void master_absolutize(struct settings *cfg, const char *dir);

#endif
