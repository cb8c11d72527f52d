/* server.c: the control socket's server side. See server.h.
 *
 * Each client has a fixed input buffer (one header and the largest request
 * payload allowed), so a client can never make the master allocate more than
 * that by sending; replies are built whole and written as the socket takes
 * them. Nothing here blocks: a client that stops reading or writing is cut
 * by its 5 s timer.
 */
#include "ctl/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listen.h"

struct ctl_client {
	struct watch w;
	struct timer timer;
	struct ctl_server *cs;
	int index;
	uint8_t in[CTL_HEADER_SIZE + CTL_MAX_REQUEST];
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off;
	int close_after;
	int refused; /* SO_PEERCRED said no: its first request gets PERMISSION */
};

static void client_close(struct ctl_client *c)
{
	struct ctl_server *cs = c->cs;
	timer_disarm(&c->timer);
	loop_unwatch(cs->loop, &c->w);
	close(c->w.fd);
	c->w.fd = -1;
	cs->clients[c->index] = NULL;
	free(c->out);
	free(c);
}

static void reply_simple(struct ctl_client *c, int is_error, uint32_t id, int code, const char *msg)
{
	size_t cap = CTL_HEADER_SIZE + 2 + 2 + strlen(msg) + 16;
	c->out = malloc(cap);
	if (!c->out) {
		c->close_after = 1;
		return;
	}
	c->out_len =
	    is_error ? ctl_encode_error(c->out, cap, id, code, msg) : ctl_encode_ok(c->out, cap, id, msg);
	c->out_off = 0;
}

static void reply_error(struct ctl_client *c, uint32_t id, int code, const char *msg, int close_after)
{
	reply_simple(c, 1, id, code, msg);
	if (close_after)
		c->close_after = 1;
}

static void reply_status(struct ctl_client *c, uint32_t id)
{
	static struct ctl_status st; /* large; the master serves one request at a time */
	memset(&st, 0, sizeof st);
	c->cs->ops->status(c->cs->arg, &st);
	uint8_t *buf = malloc(CTL_HEADER_SIZE + CTL_MAX_PAYLOAD);
	if (!buf) {
		reply_error(c, id, CTL_E_FAILED, "out of memory", 0);
		return;
	}
	struct ctl_writer w;
	ctl_writer_init(&w, buf + CTL_HEADER_SIZE, CTL_MAX_PAYLOAD);
	ctl_status_encode(&w, &st);
	if (w.overflow) {
		free(buf);
		reply_error(c, id, CTL_E_FAILED, "status too large", 0);
		return;
	}
	struct ctl_writer hw;
	ctl_writer_init(&hw, buf, CTL_HEADER_SIZE);
	ctl_header_encode(&hw, CTL_STATUS_REPLY, id, (uint32_t)w.len);
	c->out = buf;
	c->out_len = CTL_HEADER_SIZE + w.len;
	c->out_off = 0;
}

static void handle(struct ctl_client *c, const struct ctl_header *h, const uint8_t *payload)
{
	const struct ctl_ops *ops = c->cs->ops;
	char msg[512] = "";
	int code = CTL_E_FAILED, r = 0;
	if (h->type != CTL_SET_NICE && h->length) {
		reply_error(c, h->id, CTL_E_MALFORMED, "this request takes no payload", 0);
		return;
	}
	switch (h->type) {
	case CTL_STATUS: reply_status(c, h->id); return;
	case CTL_RELOAD: r = ops->reload(c->cs->arg, msg, sizeof msg, &code); break;
	case CTL_STOP:
	case CTL_QUIT: r = ops->stop(c->cs->arg, h->type == CTL_QUIT, msg, sizeof msg, &code); break;
	case CTL_REOPEN: r = ops->reopen(c->cs->arg, msg, sizeof msg, &code); break;
	case CTL_SET_NICE: {
		int nice;
		if (ctl_decode_set_nice(payload, h->length, &nice) != CTL_E_OK) {
			reply_error(c, h->id, CTL_E_MALFORMED, "SET_NICE takes one byte, -20 to 19", 0);
			return;
		}
		r = ops->set_nice(c->cs->arg, nice, msg, sizeof msg, &code);
		break;
	}
	default: reply_error(c, h->id, CTL_E_TYPE, "unknown request type", 1); return;
	}
	if (r < 0)
		reply_error(c, h->id, code, msg[0] ? msg : "failed", 0);
	else
		reply_simple(c, 0, h->id, 0, msg);
}

/* Decode and answer what has arrived. 1: a reply is ready; 0: need input. */
static int process(struct ctl_client *c)
{
	struct ctl_header h;
	if (c->in_len == 0)
		return 0;
	int r = ctl_header_decode(c->in, c->in_len, &h);
	if (r == CTL_E_PARTIAL)
		return 0;
	if (r == CTL_E_MAGIC) {
		reply_error(c, 0, CTL_E_MAGIC, "not a hearth control message", 1);
		return 1;
	}
	if (r == CTL_E_VERSION) {
		char msg[80];
		snprintf(msg, sizeof msg, "version mismatch: server speaks version %d, client sent %u",
		         CTL_VERSION, h.version);
		reply_error(c, h.id, CTL_E_VERSION, msg, 1);
		return 1;
	}
	if (c->refused) {
		reply_error(c, h.id, CTL_E_PERMISSION, "permission denied: only root and the server's user",
		            1);
		return 1;
	}
	if (!ctl_type_is_request(h.type)) {
		reply_error(c, h.id, CTL_E_TYPE, "unknown request type", 1);
		return 1;
	}
	if (h.length > CTL_MAX_REQUEST) {
		reply_error(c, h.id, CTL_E_TOO_LARGE, "request payload over 4096 bytes", 1);
		return 1;
	}
	size_t whole = CTL_HEADER_SIZE + h.length;
	if (c->in_len < whole)
		return 0;
	handle(c, &h, c->in + CTL_HEADER_SIZE);
	/* the clock restarts per exchange, not per byte: a client trickling a
	 * request (or reading its reply a byte at a time) still has 5 s */
	timer_arm(&c->cs->tq, &c->timer);
	memmove(c->in, c->in + whole, c->in_len - whole);
	c->in_len -= whole;
	return 1;
}

static void client_run(struct ctl_client *c)
{
	for (;;) {
		if (c->out) {
			while (c->out_off < c->out_len) {
				ssize_t n =
				    send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
				if (n < 0) {
					if (errno == EINTR)
						continue;
					if (errno == EAGAIN)
						return;
					client_close(c);
					return;
				}
				c->out_off += (size_t)n;
			}
			free(c->out);
			c->out = NULL;
			if (c->close_after) {
				client_close(c);
				return;
			}
		}
		if (process(c))
			continue;
		if (c->in_len == sizeof c->in) {
			client_close(c); /* cannot happen: the header decides before */
			return;
		}
		ssize_t n = recv(c->w.fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(c); /* end of stream or an error */
		return;
	}
}

static void on_client(struct loop *l, struct watch *w, uint32_t events)
{
	(void)l;
	(void)events;
	client_run(container_of(w, struct ctl_client, w));
}

static void on_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	client_close(container_of(t, struct ctl_client, timer));
}

static int peer_allowed(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	*uid = cred.uid;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void on_accept(struct loop *l, struct watch *w, uint32_t events)
{
	(void)events;
	struct ctl_server *cs = container_of(w, struct ctl_server, w);
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			/* out of descriptors (or memory): the clients already queued
			 * bring no new edge, so try again shortly instead of waiting
			 * for another client to connect */
			if (!timer_armed(&cs->retry))
				log_warn("control socket: accept: %s; retrying every %d ms", strerror(errno),
				         CTL_ACCEPT_RETRY_MS);
			timer_arm(&cs->tq_retry, &cs->retry);
			return;
		}
		timer_disarm(&cs->retry);
		uid_t uid = (uid_t)-1;
		int refused = !peer_allowed(fd, &uid);
		if (refused)
			log_notice("control socket: refusing a client with uid %ld", (long)uid);
		int slot = -1;
		for (int i = 0; i < CTL_MAX_CLIENTS && slot < 0; i++)
			if (!cs->clients[i])
				slot = i;
		struct ctl_client *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			close(fd); /* too many at once: the client sees a close and may retry */
			continue;
		}
		c->cs = cs;
		c->index = slot;
		c->refused = refused;
		cs->clients[slot] = c;
		if (loop_watch(l, &c->w, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_client) < 0) {
			cs->clients[slot] = NULL;
			close(fd);
			free(c);
			continue;
		}
		timer_arm(&cs->tq, &c->timer);
		client_run(c);
	}
}

static void on_retry(struct loop *l, struct timer *t)
{
	struct ctl_server *cs = container_of(t, struct ctl_server, retry);
	on_accept(l, &cs->w, 0);
}

int ctl_server_open(struct ctl_server *cs, struct loop *l, const char *path, const struct ctl_ops *ops,
                    void *arg, char *err, size_t errlen)
{
	memset(cs, 0, sizeof *cs);
	cs->loop = l;
	cs->ops = ops;
	cs->arg = arg;
	char text[200], e[200];
	snprintf(text, sizeof text, "unix:%s", path);
	if (conf_parse_listen(text, &cs->spec, e, sizeof e) < 0) {
		snprintf(err, errlen, "control socket %s: %s", path, e);
		return -1;
	}
	int fd = listener_open(&cs->spec, 64, 0600, 0, e, sizeof e);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: %s", e);
		return -1;
	}
	if (loop_watch(l, &cs->w, fd, EPOLLIN, on_accept) < 0) {
		snprintf(err, errlen, "control socket: epoll: %s", strerror(errno));
		close(fd);
		listener_unlink(&cs->spec);
		return -1;
	}
	tqueue_init(l, &cs->tq, CTL_CLIENT_TIMEOUT_MS, on_timeout);
	tqueue_init(l, &cs->tq_retry, CTL_ACCEPT_RETRY_MS, on_retry);
	cs->open = 1;
	return 0;
}

void ctl_server_close(struct ctl_server *cs)
{
	if (!cs->open)
		return;
	timer_disarm(&cs->retry);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (cs->clients[i])
			client_close(cs->clients[i]);
	loop_unwatch(cs->loop, &cs->w);
	close(cs->w.fd);
	listener_unlink(&cs->spec);
	cs->open = 0;
}

void ctl_server_forget(struct ctl_server *cs)
{
	if (!cs->open)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (cs->clients[i]) {
			close(cs->clients[i]->w.fd);
			free(cs->clients[i]->out);
			free(cs->clients[i]);
			cs->clients[i] = NULL;
		}
	close(cs->w.fd);
	cs->open = 0;
}
