/* client.c: see client.h. `hearth top` is a small full-screen loop: ppoll on
 * stdin with the time left until the next STATUS request, signals blocked
 * outside ppoll (on stdin, or on the server during a request) so a resize or
 * ^C is seen at once; ^C during a request abandons it. */
#include "ctl/client.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_TIMEOUT_MS 5000
#define TOP_INTERVAL_MS 1000
#define TOP_NOTE_MS 5000
#define TOP_MAX_FAILURES 3
#define LINE_MAX_COLS 1024

/* ---- one request, one reply ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ms_left(uint64_t deadline)
{
	uint64_t now = now_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

static volatile sig_atomic_t top_quit_sig, top_winch, top_tstp;
/* While top runs, its signals (blocked otherwise) are let through while a
 * request waits on the server, and one asking to quit ends the wait: a
 * stalled server does not hold off ^C for the request timeout. */
static const sigset_t *wait_mask;

/* 1 when fd is ready for events, 0 when the deadline passed, -1 on error
 * (EINTR: top was asked to quit). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int left = ms_left(deadline);
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000L};
		int r = ppoll(&p, 1, &ts, wait_mask);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
		if (wait_mask && top_quit_sig)
			return -1; /* errno is EINTR */
	}
}

/* 0 when all was sent, else -errno (-ETIMEDOUT at the deadline). */
static int send_all(int fd, const uint8_t *p, size_t n, uint64_t deadline)
{
	while (n) {
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w <= 0)
			return w == 0 ? -ETIMEDOUT : -errno;
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read exactly n bytes: 0 done, 1 end of stream first, else -errno
 * (-ETIMEDOUT at the deadline). *got says how many arrived. */
static int recv_all(int fd, uint8_t *p, size_t n, uint64_t deadline, size_t *got)
{
	*got = 0;
	while (*got < n) {
		int w = wait_fd(fd, POLLIN, deadline);
		if (w <= 0)
			return w == 0 ? -ETIMEDOUT : -errno;
		ssize_t k = recv(fd, p + *got, n - *got, MSG_DONTWAIT);
		if (k == 0)
			return 1;
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		*got += (size_t)k;
	}
	return 0;
}

/* A connected socket, or -1 with the reason in err; *absent is set when
 * nobody listens there (as opposed to any other failure). */
static int connect_to(const char *path, char *err, size_t errlen, int *absent)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n == 0) {
		snprintf(err, errlen, "the control socket is disabled (--control off)");
		return -1;
	}
	if (n >= sizeof sa.sun_path) {
		snprintf(err, errlen, "control socket path too long (%zu bytes, at most %zu): %s", n,
		         sizeof sa.sun_path - 1, path);
		return -1;
	}
	memcpy(sa.sun_path, path, n + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* a blocking connect waits while the listen backlog is full: bound it */
	struct timeval tv = {.tv_sec = REQUEST_TIMEOUT_MS / 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int r;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return fd;
	int e = errno;
	close(fd);
	struct stat st;
	switch (e) {
	case ECONNREFUSED:
		if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s is not a socket", path);
			return -1;
		}
		__attribute__((fallthrough)); /* a socket nobody listens on anymore */
	case ENOENT:
	case ENOTDIR:
		*absent = 1;
		snprintf(err, errlen, "no hearth is listening on %s", path);
		break;
	case EACCES:
	case EPERM: snprintf(err, errlen, "%s belongs to another user (permission denied)", path); break;
	case EAGAIN:
		snprintf(err, errlen, "hearth did not accept the connection on %s within %d s", path,
		         REQUEST_TIMEOUT_MS / 1000);
		break;
	default: snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(e)); break;
	}
	return -1;
}

/* ctl_request, also telling whether the failure was "nobody listens". */
static int request(const char *path, uint8_t type, const uint8_t *payload, size_t plen, uint8_t *reply,
                   size_t cap, struct ctl_header *rh, char *err, size_t errlen, int *absent)
{
	static uint32_t seq;
	uint8_t msg[CTL_HEADER_SIZE + CTL_MAX_REQUEST];
	*absent = 0;
	memset(rh, 0, sizeof *rh);
	if (plen > CTL_MAX_REQUEST) {
		snprintf(err, errlen, "request too large (%zu bytes)", plen);
		return -1;
	}
	uint32_t id = ((uint32_t)getpid() << 12) ^ ++seq;
	struct ctl_writer w;
	ctl_writer_init(&w, msg, sizeof msg);
	ctl_header_encode(&w, type, id, (uint32_t)plen);
	if (w.overflow || w.len != CTL_HEADER_SIZE) {
		snprintf(err, errlen, "cannot encode the request");
		return -1;
	}
	if (plen)
		memcpy(msg + CTL_HEADER_SIZE, payload, plen);

	int fd = connect_to(path, err, errlen, absent);
	if (fd < 0)
		return -1;
	uint64_t deadline = now_ms() + REQUEST_TIMEOUT_MS;
	/* a server that refuses us may answer and close before reading all of
	 * the request: a failed send still looks for that answer */
	int sent = send_all(fd, msg, CTL_HEADER_SIZE + plen, deadline);
	if (sent == -ETIMEDOUT) {
		snprintf(err, errlen, "hearth on %s did not take the request within %d s", path,
		         REQUEST_TIMEOUT_MS / 1000);
		goto fail;
	}

	uint8_t hb[CTL_HEADER_SIZE];
	size_t got;
	int r = recv_all(fd, hb, sizeof hb, deadline, &got);
	if (r == -ETIMEDOUT) {
		snprintf(err, errlen, "no reply from hearth on %s within %d s", path,
		         REQUEST_TIMEOUT_MS / 1000);
		goto fail;
	}
	if (r != 0 && got == 0) {
		if (sent < 0)
			snprintf(err, errlen, "hearth closed the connection on %s (%s)", path,
			         strerror(-sent));
		else if (r == 1)
			snprintf(err, errlen, "hearth closed the connection on %s without a reply", path);
		else
			snprintf(err, errlen, "reading the reply from %s: %s", path, strerror(-r));
		goto fail;
	}
	if (r != 0) {
		snprintf(err, errlen, "short reply from hearth on %s (%zu of %d header bytes)", path, got,
		         CTL_HEADER_SIZE);
		goto fail;
	}
	int d = ctl_header_decode(hb, sizeof hb, rh);
	if (d == CTL_E_MAGIC) {
		snprintf(err, errlen, "%s does not speak the hearth control protocol (bad magic)", path);
		goto fail;
	}
	if (d == CTL_E_VERSION) {
		snprintf(err, errlen, "protocol version mismatch: server speaks %u, this client %d",
		         (unsigned)rh->version, CTL_VERSION);
		goto fail;
	}
	if (d != CTL_E_OK) {
		snprintf(err, errlen, "bad reply header from %s (%s)", path, ctl_err_name(d));
		goto fail;
	}
	if (rh->id != id) {
		snprintf(err, errlen, "reply for another request (id %" PRIu32 ", expected %" PRIu32 ")",
		         rh->id, id);
		goto fail;
	}
	if (rh->length > CTL_MAX_PAYLOAD || rh->length > cap) {
		snprintf(err, errlen, "reply too large (%" PRIu32 " bytes)", rh->length);
		goto fail;
	}
	r = recv_all(fd, reply, rh->length, deadline, &got);
	if (r == -ETIMEDOUT) {
		snprintf(err, errlen, "reply from hearth on %s stalled (%zu of %" PRIu32 " bytes in %d s)",
		         path, got, rh->length, REQUEST_TIMEOUT_MS / 1000);
		goto fail;
	}
	if (r != 0) {
		snprintf(err, errlen, "short reply from hearth on %s (%zu of %" PRIu32 " payload bytes)",
		         path, got, rh->length);
		goto fail;
	}
	close(fd);

	if (rh->type == CTL_ERROR) {
		int code;
		char m[CTL_MAX_STRING + 1];
		if (ctl_decode_error(reply, rh->length, &code, m, sizeof m) != CTL_E_OK) {
			snprintf(err, errlen, "hearth answered with a malformed ERROR");
			return -1;
		}
		if (code == CTL_E_PERMISSION)
			snprintf(err, errlen, "%s belongs to another user (permission denied)%s%s", path,
			         m[0] ? ": " : "", m);
		else if (code == CTL_E_VERSION)
			snprintf(err, errlen, "protocol version mismatch: %s",
			         m[0] ? m : "the server refused version 1");
		else
			snprintf(err, errlen, "%s (%s)", m[0] ? m : "hearth refused the request",
			         ctl_err_name(code));
		return -1;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

int ctl_request(const char *path, uint8_t type, const uint8_t *payload, size_t plen, uint8_t *reply,
                size_t cap, struct ctl_header *rh, char *err, size_t errlen)
{
	int absent;
	return request(path, type, payload, plen, reply, cap, rh, err, errlen, &absent);
}

/* ---- formatting ---- */

/* 1h02m03s, 4m05s, 7s, 2d03h04m05s */
static void fmt_duration(char *out, size_t cap, uint64_t ms)
{
	uint64_t s = ms / 1000, d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
	s %= 60;
	if (d)
		snprintf(out, cap, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", d, h, m, s);
	else if (h)
		snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", h, m, s);
	else if (m)
		snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", m, s);
	else
		snprintf(out, cap, "%" PRIu64 "s", s);
}

/* CPU time as top's TIME+: 0:01.23, 12:34.56, 1:02:03 beyond an hour */
static void fmt_cpu(char *out, size_t cap, uint64_t ms)
{
	uint64_t s = ms / 1000;
	if (s >= 3600)
		snprintf(out, cap, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, cap, "%" PRIu64 ":%02" PRIu64 ".%02" PRIu64, s / 60, s % 60, ms % 1000 / 10);
}

/* 512 B, 1.2 KiB, 35.4 MiB, ... (short: 512, 1.2K, 35.4M) */
static void fmt_bytes(char *out, size_t cap, uint64_t b, int short_form)
{
	static const char *const units[] = {"K", "M", "G", "T", "P", "E"};
	if (b < 1024) {
		snprintf(out, cap, short_form ? "%" PRIu64 : "%" PRIu64 " B", b);
		return;
	}
	double v = (double)b / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, short_form ? "%.1f%s" : "%.1f %siB", v, units[u]);
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Copy s for a terminal: control characters (C0, DEL, C1) and bytes that
 * are not UTF-8 become '?'; when ascii, so does anything beyond ASCII (then a
 * byte is a column). */
static void sanitize(char *out, size_t cap, const char *str, int ascii)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (*s && i + 1 < cap) {
		size_t n = utf8_len(s);
		int c1 = n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
		if (n == 0 || n + i >= cap || c1 || (ascii && n > 1) || s[0] < 0x20 || s[0] == 0x7f) {
			out[i++] = '?';
			s += n ? n : 1;
			continue;
		}
		memcpy(out + i, s, n);
		i += n;
		s += n;
	}
	out[i] = '\0';
}

static char state_char(char c)
{
	return c > 0x20 && c < 0x7f ? c : '?';
}

/* ---- hearth status ---- */

/* A JSON string: quotes, backslashes and control characters escaped, bytes
 * that are not UTF-8 replaced by U+FFFD so the output is always valid JSON. */
static void json_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	putc('"', f);
	while (*s) {
		unsigned char c = *s;
		size_t n = utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				putc(c, f);
		}
		s++;
	}
	putc('"', f);
}

static void status_json(FILE *f, const struct ctl_status *st)
{
	const struct ctl_totals *t = &st->totals;
	fputs("{\n  \"version\": ", f);
	json_str(f, st->version);
	fprintf(f, ",\n  \"pid\": %" PRIu32 ",\n  \"uptime_ms\": %" PRIu64 ",\n  \"config_file\": ", st->pid,
	        st->uptime_ms);
	if (st->config_file[0])
		json_str(f, st->config_file);
	else
		fputs("null", f);
	fprintf(f, ",\n  \"generation\": %" PRIu32 ",\n  \"listeners\": [", st->generation);
	for (unsigned i = 0; i < st->nlisteners; i++) {
		fputs(i ? ", " : "", f);
		json_str(f, st->listeners[i]);
	}
	fprintf(f,
	        "],\n  \"totals\": {\"accepted\": %" PRIu64 ", \"active\": %" PRIu64
	        ", \"requests\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
	        ",\n             \"status\": {",
	        t->accepted, t->active, t->requests, t->bytes_in, t->bytes_out);
	for (int i = 0; i < 5; i++)
		fprintf(f, "%s\"%dxx\": %" PRIu64, i ? ", " : "", i + 1, t->status[i]);
	fputs("}},\n  \"workers\": [", f);
	for (unsigned i = 0; i < st->nworkers; i++) {
		const struct ctl_worker *w = &st->workers[i];
		fprintf(f,
		        "%s\n    {\"pid\": %" PRIu32 ", \"generation\": %" PRIu32
		        ", \"slot\": %u, \"state\": \"%c\""
		        ", \"nice\": %d, \"cpu_ms\": %" PRIu64 ", \"rss_bytes\": %" PRIu64
		        ", \"active\": %" PRIu64 ", \"requests\": %" PRIu64 ", \"bytes_out\": %" PRIu64 "}",
		        i ? "," : "", w->pid, w->generation, (unsigned)w->slot,
		        w->state == '"' || w->state == '\\' ? '?' : state_char(w->state), (int)w->nice,
		        w->cpu_ms, w->rss_bytes, w->active, w->requests, w->bytes_out);
	}
	fputs(st->nworkers ? "\n  ]\n}\n" : "]\n}\n", f);
}

static void status_text(FILE *f, const struct ctl_status *st)
{
	const struct ctl_totals *t = &st->totals;
	char a[64], b[64], s[CTL_MAX_STRING + 1];
	fmt_duration(a, sizeof a, st->uptime_ms);
	sanitize(s, sizeof s, st->version, 0);
	fprintf(f, "hearth %s, pid %" PRIu32 ", up %s, generation %" PRIu32 ", config ", s, st->pid, a,
	        st->generation);
	sanitize(s, sizeof s, st->config_file, 0);
	fprintf(f, "%s\n", s[0] ? s : "-");
	fputs("listeners:", f);
	for (unsigned i = 0; i < st->nlisteners; i++) {
		sanitize(s, sizeof s, st->listeners[i], 0);
		fprintf(f, " %s", s);
	}
	fputs(st->nlisteners ? "\n" : " -\n", f);
	fmt_bytes(a, sizeof a, t->bytes_in, 0);
	fmt_bytes(b, sizeof b, t->bytes_out, 0);
	fprintf(f,
	        "connections: %" PRIu64 " accepted, %" PRIu64 " active; requests: %" PRIu64
	        "; bytes: %s in, %s out\n",
	        t->accepted, t->active, t->requests, a, b);
	fprintf(f,
	        "responses: 1xx %" PRIu64 ", 2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64
	        "\n",
	        t->status[0], t->status[1], t->status[2], t->status[3], t->status[4]);
	if (!st->nworkers) {
		fputs("workers: none\n", f);
		return;
	}
	fprintf(f, "\n%4s %7s %4s %5s %3s %10s %10s %6s %10s %10s\n", "SLOT", "PID", "GEN", "STATE", "NI",
	        "CPU", "RSS", "CONNS", "REQUESTS", "OUT");
	for (unsigned i = 0; i < st->nworkers; i++) {
		const struct ctl_worker *w = &st->workers[i];
		char cpu[32], rss[32], out[32];
		fmt_cpu(cpu, sizeof cpu, w->cpu_ms);
		fmt_bytes(rss, sizeof rss, w->rss_bytes, 0);
		fmt_bytes(out, sizeof out, w->bytes_out, 0);
		fprintf(f,
		        "%4u %7" PRIu32 " %4" PRIu32 " %5c %3d %10s %10s %6" PRIu64 " %10" PRIu64 " %10s\n",
		        (unsigned)w->slot, w->pid, w->generation, state_char(w->state), (int)w->nice, cpu,
		        rss, w->active, w->requests, out);
	}
}

/* STATUS into *st; 0, or -1 with the reason in err. */
static int fetch_status(const char *path, uint8_t *reply, struct ctl_status *st, char *err, size_t errlen,
                        int *absent)
{
	struct ctl_header rh;
	if (request(path, CTL_STATUS, NULL, 0, reply, CTL_MAX_PAYLOAD, &rh, err, errlen, absent) < 0)
		return -1;
	if (rh.type != CTL_STATUS_REPLY) {
		snprintf(err, errlen, "unexpected reply %s to STATUS", ctl_type_name(rh.type));
		return -1;
	}
	if (ctl_status_decode(reply, rh.length, st) != CTL_E_OK) {
		snprintf(err, errlen, "malformed STATUS reply (%" PRIu32 " bytes)", rh.length);
		return -1;
	}
	return 0;
}

static int finish_output(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "hearth: writing the output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int ctl_client_status(const char *path, int json)
{
	uint8_t *reply = malloc(CTL_MAX_PAYLOAD);
	struct ctl_status *st = malloc(sizeof *st);
	char err[CTL_MAX_STRING + 256];
	int absent, rc = 1;
	if (!reply || !st)
		fprintf(stderr, "hearth: out of memory\n");
	else if (fetch_status(path, reply, st, err, sizeof err, &absent) < 0)
		fprintf(stderr, "hearth: %s\n", err);
	else {
		if (json)
			status_json(stdout, st);
		else
			status_text(stdout, st);
		rc = finish_output();
	}
	free(st);
	free(reply);
	return rc;
}

/* ---- hearth ctl, set nice ---- */

/* Send a request expecting OK; its message (may be empty) into msg. */
static int simple_request(const char *path, uint8_t type, const uint8_t *payload, size_t plen, char *msg,
                          size_t msglen, int *absent)
{
	uint8_t *reply = malloc(CTL_MAX_PAYLOAD);
	struct ctl_header rh;
	if (!reply) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	int r = request(path, type, payload, plen, reply, CTL_MAX_PAYLOAD, &rh, msg, msglen, absent);
	if (r == 0 && rh.type != CTL_OK) {
		snprintf(msg, msglen, "unexpected reply %s to %s", ctl_type_name(rh.type),
		         ctl_type_name(type));
		r = -1;
	} else if (r == 0 && ctl_decode_ok(reply, rh.length, msg, msglen) != CTL_E_OK) {
		snprintf(msg, msglen, "malformed OK reply to %s", ctl_type_name(type));
		r = -1;
	}
	free(reply);
	return r;
}

static int set_nice_request(const char *path, int nice, char *msg, size_t msglen, int *absent)
{
	uint8_t m[CTL_HEADER_SIZE + 16];
	size_t n = ctl_encode_set_nice(m, sizeof m, 0, nice);
	if (n < CTL_HEADER_SIZE) {
		snprintf(msg, msglen, "cannot encode SET_NICE %d", nice);
		return -1;
	}
	return simple_request(path, CTL_SET_NICE, m + CTL_HEADER_SIZE, n - CTL_HEADER_SIZE, msg, msglen,
	                      absent);
}

static int print_result(int r, const char *msg)
{
	if (r < 0) {
		fprintf(stderr, "hearth: %s\n", msg);
		return 1;
	}
	if (msg[0])
		printf("%s\n", msg);
	return finish_output();
}

int ctl_client_command(const char *path, const char *what)
{
	static const struct {
		const char *name;
		uint8_t type;
	} cmds[] = {{"reload", CTL_RELOAD}, {"stop", CTL_STOP}, {"quit", CTL_QUIT}, {"reopen", CTL_REOPEN}};
	char msg[CTL_MAX_STRING + 256];
	int absent;
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		if (what && strcmp(what, cmds[i].name) == 0)
			return print_result(
			    simple_request(path, cmds[i].type, NULL, 0, msg, sizeof msg, &absent), msg);
	fprintf(stderr, "hearth: unknown control command '%s' (reload, stop, quit, reopen)\n",
	        what ? what : "");
	return 1;
}

int ctl_client_set_nice(const char *path, int nice)
{
	char msg[CTL_MAX_STRING + 256];
	int absent;
	if (nice < -20 || nice > 19) {
		fprintf(stderr, "hearth: nice must be between -20 and 19, not %d\n", nice);
		return 1;
	}
	return print_result(set_nice_request(path, nice, msg, sizeof msg, &absent), msg);
}

/* ---- hearth top ---- */

/* The screen being built: whole lines, cut to the terminal's width and height
 * (0: no limit), with terminal controls when tty. */
struct frame {
	char *buf;
	size_t len, cap;
	int cols, rows, n, tty;
};

static void frame_put(struct frame *f, const char *s, size_t n)
{
	if (f->len + n > f->cap)
		n = f->cap - f->len;
	memcpy(f->buf + f->len, s, n);
	f->len += n;
}

static void frame_puts(struct frame *f, const char *s)
{
	frame_put(f, s, strlen(s));
}

static void frame_line(struct frame *f, int reverse, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void frame_line(struct frame *f, int reverse, const char *fmt, ...)
{
	char line[LINE_MAX_COLS + 1];
	if (f->rows > 0 && f->n >= f->rows)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	size_t len = r < 0 ? 0 : (size_t)r >= sizeof line ? sizeof line - 1 : (size_t)r;
	size_t width = f->cols > 0 && (size_t)f->cols < sizeof line ? (size_t)f->cols : sizeof line - 1;
	if (len > width)
		len = width;
	if (f->tty) {
		/* clear each line before writing it: clearing after a line that
		 * filled the last column would erase its last character */
		frame_puts(f, f->n ? "\r\n\033[2K" : "\033[2K");
		if (reverse) {
			frame_puts(f, "\033[7m");
			while (len < width)
				line[len++] = ' ';
		}
		frame_put(f, line, len);
		if (reverse)
			frame_puts(f, "\033[m");
	} else {
		while (len && line[len - 1] == ' ')
			len--;
		frame_put(f, line, len);
		frame_puts(f, "\n");
	}
	f->n++;
}

struct top {
	const char *path;
	struct ctl_status *snap[2]; /* the latest, and the one before it */
	int cur, have_cur, have_prev;
	uint64_t at[2]; /* when each was taken (client's monotonic clock) */
	uint8_t *reply;
	struct frame fr;
	int rows, cols;
	char note[CTL_MAX_STRING + 256]; /* the status line: a key's result */
	uint64_t note_until;
};

static int top_fetch(struct top *t, char *err, size_t errlen, int *absent)
{
	int next = t->cur ^ 1;
	if (fetch_status(t->path, t->reply, t->snap[next], err, errlen, absent) < 0) {
		t->have_prev = 0; /* the slot it was decoded into may be garbage now */
		return -1;
	}
	t->at[next] = now_ms();
	/* a new master (another pid) has other counters: no rates across it */
	t->have_prev = t->have_cur && t->snap[next]->pid == t->snap[t->cur]->pid;
	t->have_cur = 1;
	t->cur = next;
	return 0;
}

static const struct ctl_worker *top_prev_worker(const struct top *t, uint32_t pid)
{
	const struct ctl_status *p = t->snap[t->cur ^ 1];
	for (unsigned i = 0; i < p->nworkers; i++)
		if (p->workers[i].pid == pid)
			return &p->workers[i];
	return NULL;
}

/* Milliseconds between the two snapshots (the server's uptime when it moved
 * forward, else the client's clock), 0 when there is nothing to compare. */
static uint64_t top_interval(const struct top *t)
{
	if (!t->have_prev)
		return 0;
	const struct ctl_status *c = t->snap[t->cur], *p = t->snap[t->cur ^ 1];
	if (c->uptime_ms > p->uptime_ms)
		return c->uptime_ms - p->uptime_ms;
	return t->at[t->cur] - t->at[t->cur ^ 1];
}

/* "%.*f" of delta per second, or "-" without a previous value (or when a
 * counter went backwards) */
static void fmt_rate(char *out, size_t cap, uint64_t now, uint64_t before, int have, uint64_t dt,
                     double scale, int prec)
{
	if (!have || !dt || now < before)
		snprintf(out, cap, "-");
	else
		snprintf(out, cap, "%.*f", prec, (double)(now - before) * 1000.0 / (double)dt / scale);
}

static void top_render(struct top *t, int clear)
{
	struct frame *f = &t->fr;
	const struct ctl_status *st = t->snap[t->cur], *pv = t->snap[t->cur ^ 1];
	const struct ctl_totals *tt = &st->totals;
	uint64_t dt = top_interval(t);
	char a[64], b[64], c[64], d[64], s[64];
	f->len = 0;
	f->n = 0;
	f->cols = f->tty ? t->cols : 0;
	f->rows = f->tty ? t->rows : 0;
	if (f->tty)
		frame_puts(f, clear ? "\033[H\033[2J" : "\033[H");

	fmt_duration(a, sizeof a, st->uptime_ms);
	sanitize(s, sizeof s, st->version, 1);
	frame_line(f, 0, "hearth %s - pid %" PRIu32 ", up %s, generation %" PRIu32 ", %u worker%s", s,
	           st->pid, a, st->generation, (unsigned)st->nworkers, st->nworkers == 1 ? "" : "s");
	fmt_rate(a, sizeof a, tt->requests, pv->totals.requests, t->have_prev, dt, 1, 1);
	frame_line(f, 0,
	           "Conns: %" PRIu64 " active, %" PRIu64 " accepted   Requests: %" PRIu64 " total, %s/s",
	           tt->active, tt->accepted, tt->requests, a);
	fmt_bytes(a, sizeof a, tt->bytes_in, 0);
	fmt_bytes(b, sizeof b, tt->bytes_out, 0);
	fmt_rate(c, sizeof c, tt->bytes_in, pv->totals.bytes_in, t->have_prev, dt, 1e6, 2);
	fmt_rate(d, sizeof d, tt->bytes_out, pv->totals.bytes_out, t->have_prev, dt, 1e6, 2);
	frame_line(f, 0, "Bytes: in %s (%s MB/s), out %s (%s MB/s)", a, c, b, d);
	frame_line(f, 0,
	           "Responses: 1xx %" PRIu64 ", 2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64
	           ", 5xx %" PRIu64,
	           tt->status[0], tt->status[1], tt->status[2], tt->status[3], tt->status[4]);
	if (f->tty) {
		if (t->note[0] && now_ms() < t->note_until)
			frame_line(f, 0, "%s", t->note);
		else
			frame_line(f, 0, "keys: q quit, r reload, +/- nice");
	}
	frame_line(f, 0, "%s", "");
	frame_line(f, 1, "%7s %5s %3s %5s %8s %5s %8s %7s %4s %4s", "PID", "STATE", "NI", "%CPU", "RSS",
	           "CONNS", "REQ/S", "MB/S", "GEN", "SLOT");
	unsigned shown = st->nworkers;
	if (f->rows > 0 && f->n + (int)shown > f->rows)
		shown = f->rows > f->n ? (unsigned)(f->rows - f->n - 1) : 0;
	for (unsigned i = 0; i < shown; i++) {
		const struct ctl_worker *w = &st->workers[i];
		const struct ctl_worker *p = t->have_prev ? top_prev_worker(t, w->pid) : NULL;
		fmt_rate(a, sizeof a, w->cpu_ms, p ? p->cpu_ms : 0, p != NULL, dt, 10, 1); /* ms/s / 10 = % */
		fmt_bytes(b, sizeof b, w->rss_bytes, 1);
		fmt_rate(c, sizeof c, w->requests, p ? p->requests : 0, p != NULL, dt, 1, 1);
		fmt_rate(d, sizeof d, w->bytes_out, p ? p->bytes_out : 0, p != NULL, dt, 1e6, 2);
		frame_line(f, 0, "%7" PRIu32 " %5c %3d %5s %8s %5" PRIu64 " %8s %7s %4" PRIu32 " %4u", w->pid,
		           state_char(w->state), (int)w->nice, a, b, w->active, c, d, w->generation,
		           (unsigned)w->slot);
	}
	if (shown < st->nworkers)
		frame_line(f, 0, "(%u more worker%s not shown)", st->nworkers - shown,
		           st->nworkers - shown == 1 ? "" : "s");
	if (f->tty && f->n < f->rows)
		frame_puts(f, "\r\n\033[J");
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void top_on_signal(int sig)
{
	if (sig == SIGWINCH)
		top_winch = 1;
	else if (sig == SIGTSTP)
		top_tstp = 1;
	else
		top_quit_sig = sig;
}

static const int top_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP};
#define TOP_NSIGNALS (sizeof top_signals / sizeof *top_signals)

struct term {
	struct termios saved;
	int have_saved;
	sigset_t oldmask;
	struct sigaction oldact[TOP_NSIGNALS];
};

static void term_size(struct top *t)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	} else {
		t->rows = 24;
		t->cols = 80;
	}
}

/* Keys without echo or line buffering (^C still signals), the alternate
 * screen, no cursor. */
static void term_enter(struct term *tm)
{
	tm->have_saved = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tm->saved) == 0;
	if (tm->have_saved) {
		struct termios raw = tm->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	const char *s = "\033[?1049h\033[?25l\033[H\033[2J";
	write_all(STDOUT_FILENO, s, strlen(s));
}

/* Back to the main screen, cursor shown last (the very end of the output). */
static void term_leave(struct term *tm)
{
	const char *s = "\033[m\033[?1049l\033[?25h";
	write_all(STDOUT_FILENO, s, strlen(s));
	if (tm->have_saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &tm->saved);
}

/* Handlers only set flags; the signals stay blocked except inside ppoll.
 * A signal the caller ignores (nohup) stays ignored. */
static void term_signals(struct term *tm)
{
	sigset_t block;
	sigemptyset(&block);
	struct sigaction sa = {.sa_handler = top_on_signal};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < TOP_NSIGNALS; i++) {
		sigaction(top_signals[i], NULL, &tm->oldact[i]);
		if (tm->oldact[i].sa_handler == SIG_IGN)
			continue;
		sigaddset(&block, top_signals[i]);
		sigaction(top_signals[i], &sa, NULL);
	}
	sigprocmask(SIG_BLOCK, &block, &tm->oldmask);
}

static void term_signals_restore(struct term *tm)
{
	for (size_t i = 0; i < TOP_NSIGNALS; i++)
		sigaction(top_signals[i], &tm->oldact[i], NULL);
	sigprocmask(SIG_SETMASK, &tm->oldmask, NULL);
}

/* ^Z: put the terminal back, stop for real, and take it again on fg. */
static void top_suspend(struct term *tm)
{
	term_leave(tm);
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTSTP, &dfl, &old);
	sigset_t tstp;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP); /* pending while blocked; delivered (stopping us) by the unblock */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	sigaction(SIGTSTP, &old, NULL);
	term_enter(tm);
}

static void top_note(struct top *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void top_note(struct top *t, const char *fmt, ...)
{
	char raw[sizeof t->note];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	sanitize(t->note, sizeof t->note, raw, 1);
	t->note_until = now_ms() + TOP_NOTE_MS;
}

static void top_key_nice(struct top *t, int step)
{
	const struct ctl_status *st = t->snap[t->cur];
	char msg[CTL_MAX_STRING + 256];
	int absent;
	if (!st->nworkers) {
		top_note(t, "no workers to renice");
		return;
	}
	int cur = st->workers[0].nice, want = cur + step;
	if (want < -20 || want > 19) {
		top_note(t, "nice is already %d (the range is -20..19)", cur);
		return;
	}
	if (set_nice_request(t->path, want, msg, sizeof msg, &absent) < 0 || msg[0])
		top_note(t, "nice %d: %s", want, msg);
	else
		top_note(t, "workers' nice set to %d", want);
}

/* 1 when the key asks to quit. */
static int top_key(struct top *t, char k)
{
	char msg[CTL_MAX_STRING + 256];
	int absent;
	switch (k) {
	case 'q':
	case 'Q': return 1;
	case 'r':
	case 'R':
		if (simple_request(t->path, CTL_RELOAD, NULL, 0, msg, sizeof msg, &absent) < 0)
			top_note(t, "reload failed: %s", msg);
		else
			top_note(t, "reload requested%s%s", msg[0] ? ": " : "", msg);
		break;
	case '+':
	case '=': top_key_nice(t, +1); break;
	case '-':
	case '_': top_key_nice(t, -1); break;
	default: break;
	}
	return 0;
}

static int top_draw(struct top *t, int clear)
{
	top_render(t, clear);
	return write_all(STDOUT_FILENO, t->fr.buf, t->fr.len);
}

/* The full-screen loop; returns the exit status. */
static int top_run(struct top *t)
{
	struct term tm;
	char err[CTL_MAX_STRING + 256];
	int absent, failures = 0, rc = 0, in_open = 1;
	uint64_t next = now_ms() + TOP_INTERVAL_MS;

	term_signals(&tm);
	term_enter(&tm);
	term_size(t);
	sigset_t waitmask = tm.oldmask;
	for (size_t i = 0; i < TOP_NSIGNALS; i++)
		sigdelset(&waitmask, top_signals[i]);
	int dirty = 1, clear = 1;
	wait_mask = &waitmask;
	for (;;) {
		if (top_quit_sig)
			break;
		if (top_tstp) {
			top_tstp = 0;
			top_suspend(&tm);
			top_winch = 1;
		}
		if (top_winch) {
			top_winch = 0;
			term_size(t);
			dirty = clear = 1;
		}
		if (ms_left(next) == 0) {
			next = now_ms() + TOP_INTERVAL_MS;
			if (top_fetch(t, err, sizeof err, &absent) < 0) {
				if (top_quit_sig)
					break;
				if (absent) {
					snprintf(err, sizeof err, "hearth is not running (%s)", t->path);
					rc = 1;
					break;
				}
				if (++failures >= TOP_MAX_FAILURES) {
					rc = 1;
					break;
				}
				top_note(t, "%s", err);
			} else
				failures = 0;
			dirty = 1;
		}
		if (dirty) {
			if (top_draw(t, clear) < 0) {
				snprintf(err, sizeof err, "writing to the terminal: %s", strerror(errno));
				rc = 1;
				break;
			}
			dirty = clear = 0;
		}
		struct pollfd p = {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN};
		int left = ms_left(next);
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000L};
		int r = ppoll(&p, 1, &ts, &waitmask);
		if (r <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char keys[64];
		ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
		if (n <= 0) {
			if (n == 0 || (errno != EINTR && errno != EAGAIN))
				in_open = 0; /* no more keys: keep refreshing until a signal */
			continue;
		}
		int quit = 0;
		for (ssize_t i = 0; i < n && !quit; i++) {
			if (keys[i] == '\f') /* ^L */
				clear = 1;
			else
				quit = top_key(t, keys[i]);
		}
		if (quit)
			break;
		dirty = 1;
	}
	wait_mask = NULL;
	term_leave(&tm);
	int sig = top_quit_sig;
	term_signals_restore(&tm);
	if (rc)
		fprintf(stderr, "hearth: %s\n", err);
	if (sig) {
		/* die of it as if it had not been caught (the shell sees why) */
		signal(sig, SIG_DFL);
		raise(sig);
		return 128 + sig;
	}
	return rc;
}

int ctl_client_top(const char *path)
{
	static struct top t;
	char err[CTL_MAX_STRING + 256];
	int absent, rc = 1;
	memset(&t, 0, sizeof t);
	t.path = path;
	t.reply = malloc(CTL_MAX_PAYLOAD);
	t.snap[0] = calloc(1, sizeof *t.snap[0]);
	t.snap[1] = calloc(1, sizeof *t.snap[1]);
	t.fr.tty = isatty(STDOUT_FILENO);
	t.fr.cap = (size_t)(CTL_MAX_WORKERS + 16) * (LINE_MAX_COLS + 32);
	t.fr.buf = malloc(t.fr.cap);
	top_quit_sig = top_winch = top_tstp = 0;
	if (!t.reply || !t.snap[0] || !t.snap[1] || !t.fr.buf)
		fprintf(stderr, "hearth: out of memory\n");
	else if (top_fetch(&t, err, sizeof err, &absent) < 0)
		fprintf(stderr, "hearth: %s\n", err);
	else if (!t.fr.tty) {
		/* not a terminal: one snapshot (rates need two: shown as "-") */
		top_render(&t, 0);
		fwrite(t.fr.buf, 1, t.fr.len, stdout);
		rc = finish_output();
	} else
		rc = top_run(&t);
	free(t.fr.buf);
	free(t.snap[1]);
	free(t.snap[0]);
	free(t.reply);
	return rc;
}
