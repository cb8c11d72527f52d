/* test_listen.c: listeners (src/net/listen.h).
 *
 * Real sockets on loopback: a TCP listener on port 0 names the port the kernel
 * chose; the options accepted sockets must inherit from it (TCP_NODELAY and
 * send-lowat's TCP_NOTSENT_LOWAT) are read back with getsockopt() from an
 * accepted socket, not only from the listener; listener_tune() on a listener
 * already open (what a reload does) changes what the next accepted socket
 * gets, and 0 gives back the system's default. An abstract Unix listener
 * accepts a connection and ignores the TCP tuning. A Unix socket file gets
 * its mode at bind whatever the umask, and is never chowned through a symlink
 * swapped in for it. Addresses format as
 * "1.2.3.4:80" and "[::1]:80".
 */
#include "check.h"
#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sockopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(fd, level, name, &v, &l) < 0)
		return -1;
	return v;
}

/* Connect to the listener, say one byte (TCP_DEFER_ACCEPT holds back a silent
 * connection) and accept it. Returns the accepted socket, the client in *cli. */
static int connect_accept(int lfd, int *cli)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, sl) < 0 || write(c, "x", 1) != 1) {
		if (c >= 0)
			close(c);
		return -1;
	}
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1) {
		close(c);
		return -1;
	}
	int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0) {
		close(c);
		return -1;
	}
	*cli = c;
	return a;
}

static void test_tcp(void)
{
	check_context("tcp");
	struct listen_spec spec;
	char err[200];
	if (!CHECK_EQ_INT(conf_parse_listen("127.0.0.1:0", &spec, err, sizeof err), 0))
		return;
	int lfd = listener_open(&spec, 16, 0600, 0, err, sizeof err);
	if (!CHECK(lfd >= 0))
		return;
	char name[160];
	listener_name(lfd, &spec, name, sizeof name);
	CHECK(strncmp(name, "127.0.0.1:", 10) == 0);
	CHECK(atoi(name + 10) > 0);
	CHECK_EQ_INT(sockopt_int(lfd, IPPROTO_TCP, TCP_NODELAY), 1);

	CHECK_EQ_INT(listener_tune(lfd, &spec, 32768), 0);
	CHECK_EQ_INT(sockopt_int(lfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 32768);
	int cli = -1;
	int a = connect_accept(lfd, &cli);
	if (CHECK(a >= 0)) {
		CHECK_EQ_INT(sockopt_int(a, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 32768);
		CHECK_EQ_INT(sockopt_int(a, IPPROTO_TCP, TCP_NODELAY), 1);
		close(a);
		close(cli);
	}

	/* a reload with another value: the next connection has it */
	CHECK_EQ_INT(listener_tune(lfd, &spec, 1 << 20), 0);
	a = connect_accept(lfd, &cli);
	if (CHECK(a >= 0)) {
		CHECK_EQ_INT(sockopt_int(a, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 1 << 20);
		close(a);
		close(cli);
	}
	/* off: nothing of ours is left on the socket */
	CHECK_EQ_INT(listener_tune(lfd, &spec, 0), 0);
	a = connect_accept(lfd, &cli);
	if (CHECK(a >= 0)) {
		CHECK_EQ_INT(sockopt_int(a, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 0);
		close(a);
		close(cli);
	}
	close(lfd);
}

static void test_unix(void)
{
	check_context("unix");
	struct listen_spec spec;
	char err[200];
	char text[80];
	snprintf(text, sizeof text, "unix:@hearth-test-listen-%ld", (long)getpid());
	if (!CHECK_EQ_INT(conf_parse_listen(text, &spec, err, sizeof err), 0))
		return;
	int lfd = listener_open(&spec, 16, 0600, 0, err, sizeof err);
	if (!CHECK(lfd >= 0))
		return;
	CHECK_EQ_INT(listener_tune(lfd, &spec, 32768), 0); /* nothing to do, no error */
	char name[160];
	listener_name(lfd, &spec, name, sizeof name);
	CHECK_EQ_STR(name, text);
	int cli = -1;
	int a = connect_accept(lfd, &cli);
	if (CHECK(a >= 0)) {
		char b;
		CHECK_EQ_INT(read(a, &b, 1), 1);
		CHECK_EQ_INT(b, 'x');
		close(a);
		close(cli);
	}
	close(lfd);
}

/* A socket file gets its mode from bind, whatever the process umask, and
 * listener_chown() changes only a socket: a name swapped for a symlink is
 * refused and the symlink's target keeps its owner. */
static void test_unix_file(void)
{
	check_context("unix file");
	char dir[] = "/tmp/hearth-test-listen-XXXXXX";
	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	char path[200], text[220], victim[200];
	snprintf(path, sizeof path, "%s/s.sock", dir);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	snprintf(text, sizeof text, "unix:%s", path);
	struct listen_spec spec;
	char err[200];
	if (!CHECK_EQ_INT(conf_parse_listen(text, &spec, err, sizeof err), 0))
		return;
	mode_t old = umask(077);
	const unsigned modes[] = {0666, 0660, 0600};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		int lfd = listener_open(&spec, 16, modes[i], 0, err, sizeof err);
		if (!CHECK(lfd >= 0))
			break;
		struct stat st;
		if (CHECK_EQ_INT(lstat(path, &st), 0)) {
			CHECK(S_ISSOCK(st.st_mode));
			CHECK_EQ_INT(st.st_mode & 07777, modes[i]);
		}
		CHECK_EQ_INT(listener_chown(&spec, getuid(), getgid()), 0);
		close(lfd);
		listener_unlink(&spec);
	}
	CHECK_EQ_INT(umask(old), 077); /* and the umask is given back */
	/* the name is now a symlink to a file: nothing is changed through it */
	int vfd = open(victim, O_CREAT | O_WRONLY, 0600);
	CHECK(vfd >= 0);
	if (vfd >= 0)
		close(vfd);
	CHECK_EQ_INT(symlink(victim, path), 0);
	CHECK_EQ_INT(listener_chown(&spec, 65534, 65534), -EPERM);
	struct stat vs;
	if (CHECK_EQ_INT(stat(victim, &vs), 0)) {
		CHECK_EQ_INT(vs.st_uid, getuid());
		CHECK_EQ_INT(vs.st_mode & 07777, 0600);
	}
	/* and a listener never replaces what is not a socket */
	CHECK_EQ_INT(listener_open(&spec, 16, 0660, 0, err, sizeof err), -1);
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

static void test_format(void)
{
	check_context("format");
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
	char out[80];
	sockaddr_format((struct sockaddr *)&v4, out, sizeof out);
	CHECK_EQ_STR(out, "192.0.2.7:80");
	sockaddr_format_host((struct sockaddr *)&v4, out, sizeof out);
	CHECK_EQ_STR(out, "192.0.2.7");
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
	inet_pton(AF_INET6, "::1", &v6.sin6_addr);
	sockaddr_format((struct sockaddr *)&v6, out, sizeof out);
	CHECK_EQ_STR(out, "[::1]:8080");
	sockaddr_format_host((struct sockaddr *)&v6, out, sizeof out);
	CHECK_EQ_STR(out, "::1");
}

int main(void)
{
	test_tcp();
	test_unix();
	test_unix_file();
	test_format();
	return check_done();
}
