/* metrics.h: the counters of STATUS in Prometheus text exposition format,
 * served on a listener of their own (--metrics ADDR) from the master's loop
 * (or the single process's), so scraping never touches a worker.
 *
 * The responder is deliberately tiny: it reads one request head (at most
 * 4 KiB, 5 s), answers it with the current metrics whatever the path, and
 * closes. A scraper needs nothing more, and there is nothing more to attack.
 */
#ifndef HEARTH_CTL_METRICS_H
#define HEARTH_CTL_METRICS_H

#include <stddef.h>

#include "conf/conf.h"
#include "core/loop.h"
#include "ctl/proto.h"

#define METRICS_MAX_CLIENTS 16

struct metrics_client;

struct metrics_server {
	struct loop *loop;
	struct watch w;
	void (*status)(void *arg, struct ctl_status *st);
	void *arg;
	struct tqueue tq;
	struct tqueue tq_retry; /* accepting again after running out of descriptors */
	struct timer retry;
	struct metrics_client *clients[METRICS_MAX_CLIENTS];
	struct listen_spec spec; /* a Unix socket file is removed at close */
	int open;
};

int metrics_open(struct metrics_server *ms, struct loop *l, const struct listen_spec *spec,
                 void (*status)(void *arg, struct ctl_status *st), void *arg, char *err, size_t errlen);
void metrics_close(struct metrics_server *ms);
/* In a forked child: close this process's descriptors only. */
void metrics_forget(struct metrics_server *ms);

/* Render st as Prometheus text into out (cap bytes); returns the length,
 * or 0 when it does not fit. Pure. */
size_t metrics_render(const struct ctl_status *st, char *buf, size_t cap);

#endif
