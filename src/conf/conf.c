/* conf.c: defaults and the command line. */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void settings_init(struct settings *s)
{
	memset(s, 0, sizeof *s);
	s->root = ".";
	s->workers = 1;
	s->timeout_header_ms = DEFAULT_TIMEOUT_HEADER_MS;
	s->timeout_body_ms = DEFAULT_TIMEOUT_BODY_MS;
	s->timeout_idle_ms = DEFAULT_TIMEOUT_IDLE_MS;
	s->timeout_send_ms = DEFAULT_TIMEOUT_SEND_MS;
	s->access_log = "-";
	s->error_log = "-";
	s->log_level = LOG_INFO;
	s->keepalive_requests = DEFAULT_KEEPALIVE_REQUESTS;
	s->max_body_size = DEFAULT_MAX_BODY_SIZE;
	s->max_request_line = 8192;
	s->max_head = 16384;
	s->max_fields = 100;
}

int conf_parse_seconds(const char *text, uint32_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !(v > 0) || v > 86400.0)
		return -1;
	uint32_t m = (uint32_t)(v * 1000.0 + 0.5);
	*ms = m ? m : 1;
	return 0;
}

int conf_parse_size(const char *text, uint64_t *out)
{
	char *end;
	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > (UINT64_MAX >> 34))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_port(const char *p, uint16_t *port)
{
	if (!*p || strlen(p) > 5)
		return -1;
	unsigned v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int conf_parse_listen(const char *text, struct listen_spec *spec, char *err, size_t errlen)
{
	char host[128];
	const char *port_s;
	memset(spec, 0, sizeof *spec);
	if (strlen(text) >= sizeof spec->text) {
		snprintf(err, errlen, "address too long");
		return -1;
	}
	strcpy(spec->text, text);
	if (text[0] == '[') {
		const char *rb = strchr(text, ']');
		if (!rb || rb[1] != ':') {
			snprintf(err, errlen, "expected [IPV6]:PORT");
			return -1;
		}
		size_t hl = (size_t)(rb - text - 1);
		if (hl == 0 || hl >= sizeof host) {
			snprintf(err, errlen, "bad IPv6 address");
			return -1;
		}
		memcpy(host, text + 1, hl);
		host[hl] = '\0';
		port_s = rb + 2;
		uint16_t port;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&spec->addr;
		if (parse_port(port_s, &port) < 0) {
			snprintf(err, errlen, "bad port '%s'", port_s);
			return -1;
		}
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
			snprintf(err, errlen, "bad IPv6 address '%s'", host);
			return -1;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		spec->addrlen = sizeof *a6;
		return 0;
	}
	const char *colon = strrchr(text, ':');
	if (!colon) {
		snprintf(err, errlen, "expected HOST:PORT, [IPV6]:PORT or :PORT");
		return -1;
	}
	size_t hl = (size_t)(colon - text);
	if (hl >= sizeof host || memchr(text, ':', hl)) {
		snprintf(err, errlen, "bad host (IPv6 addresses go in brackets)");
		return -1;
	}
	memcpy(host, text, hl);
	host[hl] = '\0';
	uint16_t port;
	if (parse_port(colon + 1, &port) < 0) {
		snprintf(err, errlen, "bad port '%s'", colon + 1);
		return -1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)&spec->addr;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	spec->addrlen = sizeof *a4;
	if (hl == 0) {
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1)
		return 0;
	/* a name: resolve it once, at start-up */
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(r));
		return -1;
	}
	memcpy(&spec->addr, res->ai_addr, res->ai_addrlen);
	spec->addrlen = res->ai_addrlen;
	if (res->ai_family == AF_INET6)
		((struct sockaddr_in6 *)&spec->addr)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&spec->addr)->sin_port = htons(port);
	freeaddrinfo(res);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: hearth [OPTIONS] [ROOT]\n"
	        "Serve the folder ROOT (default: the current directory) over HTTP/1.1.\n"
	        "\n"
	        "  --root DIR                document root (same as ROOT)\n"
	        "  --listen ADDR             HOST:PORT, [V6]:PORT or :PORT; repeatable\n"
	        "                            (default 127.0.0.1:8080)\n"
	        "  --workers N               worker processes (only 1 for now)\n"
	        "  --timeout-header SECONDS  to receive a whole request head (default 15)\n"
	        "  --timeout-body SECONDS    between reads of a request body (default 30)\n"
	        "  --timeout-idle SECONDS    keep-alive wait for the next request (default 75)\n"
	        "  --timeout-send SECONDS    for a client to accept more bytes (default 30)\n"
	        "  --keepalive-requests N    requests per connection (default 10000)\n"
	        "  --max-body-size SIZE      largest request body, e.g. 1m (default 1m)\n"
	        "  --listing                 HTML listings for directories without index.html\n"
	        "  --follow-symlinks         follow symbolic links (never out of ROOT)\n"
	        "  --dotfiles                serve names starting with '.' (/.well-known/ always)\n"
	        "  --access-log PATH|-|off   combined-format access log (default -: stdout)\n"
	        "  --error-log PATH|-        error log (default -: stderr)\n"
	        "  --log-level LEVEL         debug, info, notice, warn or error (default info)\n"
	        "  --mime-types FILE         extension table (default /etc/mime.types)\n"
	        "  --help                    show this help\n"
	        "  --version                 show the version\n");
}

enum {
	OPT_ROOT = 256,
	OPT_LISTEN,
	OPT_WORKERS,
	OPT_T_HEADER,
	OPT_T_BODY,
	OPT_T_IDLE,
	OPT_T_SEND,
	OPT_LISTING,
	OPT_SYMLINKS,
	OPT_DOTFILES,
	OPT_ACCESS_LOG,
	OPT_ERROR_LOG,
	OPT_LOG_LEVEL,
	OPT_MIME,
	OPT_KA_REQ,
	OPT_MAX_BODY,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"timeout-header", required_argument, NULL, OPT_T_HEADER},
        {"timeout-body", required_argument, NULL, OPT_T_BODY},
        {"timeout-idle", required_argument, NULL, OPT_T_IDLE},
        {"timeout-send", required_argument, NULL, OPT_T_SEND},
        {"listing", no_argument, NULL, OPT_LISTING},
        {"follow-symlinks", no_argument, NULL, OPT_SYMLINKS},
        {"dotfiles", no_argument, NULL, OPT_DOTFILES},
        {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
        {"error-log", required_argument, NULL, OPT_ERROR_LOG},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"mime-types", required_argument, NULL, OPT_MIME},
        {"keepalive-requests", required_argument, NULL, OPT_KA_REQ},
        {"max-body-size", required_argument, NULL, OPT_MAX_BODY},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
};

static int bad(const char *flag, const char *fmt, const char *val)
{
	fprintf(stderr, "hearth: --%s: ", flag);
	fprintf(stderr, fmt, val);
	fputc('\n', stderr);
	return 2;
}

int conf_parse_args(struct settings *s, int argc, char **argv)
{
	int c, idx;
	unsigned nlisten = 0;
	char err[160];
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", long_opts, &idx)) != -1) {
		const char *name = (c >= OPT_ROOT && c <= OPT_VERSION) ? long_opts[c - OPT_ROOT].name : "";
		switch (c) {
		case OPT_ROOT:
			s->root = optarg;
			break;
		case OPT_LISTEN:
			if (nlisten >= CONF_MAX_LISTEN)
				return bad(name, "too many listeners (at most %s)", "32");
			if (conf_parse_listen(optarg, &s->listen[nlisten], err, sizeof err) < 0) {
				fprintf(stderr, "hearth: --listen: invalid address '%s': %s\n", optarg, err);
				return 2;
			}
			nlisten++;
			break;
		case OPT_WORKERS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v != 1)
				return bad(name, "invalid value '%s' (this version runs exactly 1 worker)", optarg);
			s->workers = 1;
			break;
		}
		case OPT_T_HEADER:
		case OPT_T_BODY:
		case OPT_T_IDLE:
		case OPT_T_SEND: {
			uint32_t ms;
			if (conf_parse_seconds(optarg, &ms) < 0)
				return bad(name, "invalid value '%s' (seconds, > 0 and <= 86400)", optarg);
			if (c == OPT_T_HEADER)
				s->timeout_header_ms = ms;
			else if (c == OPT_T_BODY)
				s->timeout_body_ms = ms;
			else if (c == OPT_T_IDLE)
				s->timeout_idle_ms = ms;
			else
				s->timeout_send_ms = ms;
			break;
		}
		case OPT_LISTING:
			s->listing = 1;
			break;
		case OPT_SYMLINKS:
			s->follow_symlinks = 1;
			break;
		case OPT_DOTFILES:
			s->dotfiles = 1;
			break;
		case OPT_ACCESS_LOG:
			if (!*optarg)
				return bad(name, "invalid value '%s' (PATH, - or off)", optarg);
			s->access_log = optarg;
			break;
		case OPT_ERROR_LOG:
			if (!*optarg || strcmp(optarg, "off") == 0)
				return bad(name, "invalid value '%s' (PATH or -)", optarg);
			s->error_log = optarg;
			break;
		case OPT_LOG_LEVEL: {
			static const char *const lv[] = {"debug", "info", "notice", "warn", "error"};
			int found = -1;
			for (int i = 0; i < 5; i++)
				if (strcmp(optarg, lv[i]) == 0)
					found = i;
			if (found < 0)
				return bad(name, "invalid value '%s' (debug, info, notice, warn, error)", optarg);
			s->log_level = found;
			break;
		}
		case OPT_MIME:
			s->mime_types = optarg;
			break;
		case OPT_KA_REQ: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno || v == 0 || v > UINT32_MAX)
				return bad(name, "invalid value '%s' (a count >= 1)", optarg);
			s->keepalive_requests = (uint32_t)v;
			break;
		}
		case OPT_MAX_BODY:
			if (conf_parse_size(optarg, &s->max_body_size) < 0)
				return bad(name, "invalid value '%s' (bytes, or with k, m, g)", optarg);
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("hearth %s\n", HEARTH_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "hearth: %s: requires a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "hearth: %s: unknown option (see --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		if (argc - optind > 1) {
			fprintf(stderr, "hearth: %s: only one ROOT may be given\n", argv[optind + 1]);
			return 2;
		}
		s->root = argv[optind];
	}
	if (nlisten == 0) {
		conf_parse_listen("127.0.0.1:8080", &s->listen[0], err, sizeof err);
		nlisten = 1;
	}
	s->nlisten = nlisten;
	return 0;
}
