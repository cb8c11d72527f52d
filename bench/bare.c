/* bare.c: the "bare responder" baseline of bench/run.
 *
 * One process, one epoll loop, no parsing and no file I/O: every request is
 * answered with the same prebuilt response. A request is recognised only by
 * its terminating blank line ("\r\n\r\n", matched across reads), so a read
 * holding 16 pipelined requests is answered with 16 responses in one write.
 * It is the floor a real server's CPU time per request is measured against.
 *
 * Usage: bare PORT BODY_BYTES [STATUS [close]]
 *   PORT        listen on 127.0.0.1:PORT (0: any free port, printed on stdout)
 *   BODY_BYTES  size of the body of every response
 *   STATUS      200 (default) or 404: only changes the status line
 *   close       send "Connection: close" and close after each response
 * Build: cc -O2 -o bare bench/bare.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 262144
#define BATCH 64 /* responses per prebuilt block */

struct conn {
	unsigned char match; /* how many bytes of "\r\n\r\n" are matched so far */
	unsigned char want_out;
	unsigned char served;   /* answered at least one request */
	unsigned owed;       /* whole responses not yet started */
	size_t off;          /* bytes of the current partial block already sent */
	size_t block;        /* size of the partial block being sent (0: none) */
};

static struct conn *conns;
static char *resp, *batch;
static size_t resp_len;
static int close_after;

static unsigned count_requests(struct conn *c, const char *p, size_t n)
{
	static const char end[4] = {'\r', '\n', '\r', '\n'};
	unsigned found = 0;
	unsigned m = c->match;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == end[m]) {
			if (++m == 4) {
				found++;
				m = 0;
			}
		} else {
			m = p[i] == '\r' ? 1 : 0;
		}
	}
	c->match = (unsigned char)m;
	return found;
}

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	memset(&conns[fd], 0, sizeof conns[fd]);
}

/* Send what is owed. 1: all sent, 0: the socket is full, -1: error. */
static int flush(int fd, struct conn *c)
{
	for (;;) {
		if (c->block == 0) {
			if (c->owed == 0)
				return 1;
			unsigned k = c->owed < BATCH ? c->owed : BATCH;
			c->owed -= k;
			c->block = k * resp_len;
			c->off = 0;
		}
		ssize_t w = send(fd, batch + c->off, c->block - c->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->off += (size_t)w;
		if (c->off == c->block)
			c->block = 0;
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bare PORT BODY_BYTES [STATUS [close]]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	size_t body = (size_t)atol(argv[2]);
	int status = argc > 3 ? atoi(argv[3]) : 200;
	close_after = argc > 4 && strcmp(argv[4], "close") == 0;
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	char head[256];
	int hl = snprintf(head, sizeof head,
	                  "HTTP/1.1 %s\r\nServer: bare\r\nContent-Type: application/octet-stream\r\n"
	                  "Content-Length: %zu\r\n%s\r\n",
	                  status == 404 ? "404 Not Found" : "200 OK", body,
	                  close_after ? "Connection: close\r\n" : "");
	resp_len = (size_t)hl + body;
	resp = malloc(resp_len);
	batch = malloc(resp_len * BATCH);
	conns = calloc(MAXFD, sizeof *conns);
	if (!resp || !batch || !conns)
		return 1;
	memcpy(resp, head, (size_t)hl);
	memset(resp + hl, 'x', body);
	for (int i = 0; i < BATCH; i++)
		memcpy(batch + (size_t)i * resp_len, resp, resp_len);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
		perror("bare: bind/listen");
		return 1;
	}
	socklen_t al = sizeof a;
	getsockname(ls, (struct sockaddr *)&a, &al);
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	static struct epoll_event evs[512];
	static char buf[65536];
	for (;;) {
		int n = epoll_wait(ep, evs, 512, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ls) {
				for (;;) {
					int cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0)
						break;
					if (cfd >= MAXFD) {
						close(cfd);
						continue;
					}
					memset(&conns[cfd], 0, sizeof conns[cfd]);
					struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = cfd};
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ce);
				}
				continue;
			}
			struct conn *c = &conns[fd];
			int gone = 0;
			if (evs[i].events & EPOLLIN) {
				for (;;) {
					ssize_t r = recv(fd, buf, sizeof buf, 0);
					if (r > 0) {
						c->owed += count_requests(c, buf, (size_t)r);
						if ((size_t)r < sizeof buf)
							break;
						continue;
					}
					if (r == 0)
						gone = 1;
					else if (errno == EINTR)
						continue;
					else if (errno != EAGAIN)
						gone = 1;
					break;
				}
			}
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				gone = 1;
			int had = c->owed > 0;
			int f = flush(fd, c);
			if (had)
				c->served = 1;
			if (f < 0 || gone || (f == 1 && close_after && c->served)) {
				drop(ep, fd);
				continue;
			}
			if (f == 0 && !c->want_out) {
				struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
				c->want_out = 1;
			} else if (f == 1 && c->want_out) {
				struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd};
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
				c->want_out = 0;
			}
		}
	}
}
