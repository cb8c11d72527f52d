/* server.h: the control socket, served from the master's event loop.
 *
 * A Unix stream socket (mode 0600) where clients send one request at a time
 * and get one reply each (docs/control-protocol.md). Peers are checked with
 * SO_PEERCRED: only root and the user the server runs as. A client that sends
 * garbage, a message too large, or nothing for 5 s gets an error reply or is
 * closed; the server itself never blocks and never trusts a length it has not
 * checked. What the requests do is up to the owner, through struct ctl_ops.
 */
#ifndef HEARTH_CTL_SERVER_H
#define HEARTH_CTL_SERVER_H

#include <stddef.h>

#include "conf/conf.h"
#include "core/loop.h"
#include "ctl/proto.h"

struct ctl_ops {
	/* fill st (zeroed by the caller) */
	void (*status)(void *arg, struct ctl_status *st);
	/* each returns 0, or -1 with a message and a CTL_E_* code */
	int (*reload)(void *arg, char *msg, size_t cap, int *code);
	int (*stop)(void *arg, int immediate, char *msg, size_t cap, int *code);
	int (*reopen)(void *arg, char *msg, size_t cap, int *code);
	int (*set_nice)(void *arg, int nice, char *msg, size_t cap, int *code);
};

#define CTL_MAX_CLIENTS 32
#define CTL_CLIENT_TIMEOUT_MS 5000
#define CTL_ACCEPT_RETRY_MS 100

struct ctl_client;

struct ctl_server {
	struct loop *loop;
	struct watch w;
	struct listen_spec spec;
	const struct ctl_ops *ops;
	void *arg;
	struct tqueue tq;
	struct tqueue tq_retry; /* accepting again after running out of descriptors */
	struct timer retry;
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	int open;
};

/* Listen on path. 0, or -1 with err. */
int ctl_server_open(struct ctl_server *cs, struct loop *l, const char *path, const struct ctl_ops *ops,
                    void *arg, char *err, size_t errlen);
/* Stop listening (and remove the socket file); clients are closed too. */
void ctl_server_close(struct ctl_server *cs);
/* In a forked child: forget the socket and clients without touching the
 * parent's (closes only this process's descriptors). */
void ctl_server_forget(struct ctl_server *cs);

#endif
