/* conf.c: defaults, the option table shared by flags and file, and loading.
 *
 * Every option is one row of `options`: its name (the flag without dashes and
 * the directive), what kind of value it takes, and where it lands. Flags and
 * file directives both go through conf_apply(), so a value is validated the
 * same way wherever it comes from, and a new option is one new row.
 */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define CONF_FILE_MAX (1u << 20) /* a configuration file larger than 1 MiB is a mistake */

/* ---- settings and their strings ---- */

static void site_unset(struct site_conf *site)
{
	memset(site, 0, sizeof *site);
	site->listing = site->follow_symlinks = site->dotfiles = -1;
}

void settings_init(struct settings *s)
{
	memset(s, 0, sizeof *s);
	site_unset(&s->top);
	s->unix_mode = DEFAULT_UNIX_MODE;
	s->workers = -1;
	s->shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS;
	s->accept_mode = ACCEPT_SHARED;
	s->timeout_header_ms = DEFAULT_TIMEOUT_HEADER_MS;
	s->timeout_body_ms = DEFAULT_TIMEOUT_BODY_MS;
	s->timeout_idle_ms = DEFAULT_TIMEOUT_IDLE_MS;
	s->timeout_send_ms = DEFAULT_TIMEOUT_SEND_MS;
	s->access_log = "-";
	s->error_log = "-";
	s->log_level = LOG_INFO;
	s->keepalive_requests = DEFAULT_KEEPALIVE_REQUESTS;
	s->file_cache_ms = DEFAULT_FILE_CACHE_MS;
	s->max_body_size = DEFAULT_MAX_BODY_SIZE;
	s->fastcgi_spool_max = DEFAULT_FASTCGI_SPOOL_MAX;
	s->send_lowat = DEFAULT_SEND_LOWAT;
	s->max_request_line = 8192;
	s->max_head = 16384;
	s->max_fields = 100;
}

void settings_free(struct settings *s)
{
	for (size_t i = 0; i < s->narena_blocks; i++)
		free(s->arena_blocks[i]);
	free(s->arena_blocks);
	s->arena_blocks = NULL;
	s->narena_blocks = 0;
	s->arena_cap = 0;
}

/* A block of n bytes owned by the settings (freed by settings_free). */
static void *arena_take(struct settings *s, size_t n)
{
	if (s->narena_blocks == s->arena_cap) {
		size_t nc = s->arena_cap ? s->arena_cap * 2 : 32;
		char **nb = realloc(s->arena_blocks, nc * sizeof *nb);
		if (!nb)
			return NULL;
		s->arena_blocks = nb;
		s->arena_cap = nc;
	}
	char *c = calloc(1, n ? n : 1);
	if (c)
		s->arena_blocks[s->narena_blocks++] = c;
	return c;
}

const char *conf_strdup(struct settings *s, const char *p, size_t n)
{
	char *c = arena_take(s, n + 1);
	if (c)
		memcpy(c, p, n);
	return c;
}

void *conf_alloc(struct settings *s, size_t n)
{
	return arena_take(s, n);
}

/* ---- value parsers ---- */

int conf_parse_seconds(const char *text, uint32_t *ms)
{
	char *end;
	errno = 0;
	/* plain decimal only: strtod would also take "0x10", "1e3", "inf" */
	if (strspn(text, "0123456789.") != strlen(text) || strchr(text, '.') != strrchr(text, '.'))
		return -1;
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
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_port(const char *p, uint16_t *port)
{
	unsigned long v;
	if (strlen(p) > 5 || parse_uint(p, 65535, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int parse_unix(const char *text, struct listen_spec *spec, char *err, size_t errlen)
{
	const char *path = text + 5;
	struct sockaddr_un *un = (struct sockaddr_un *)&spec->addr;
	size_t n = strlen(path);
	un->sun_family = AF_UNIX;
	spec->is_unix = 1;
	if (n == 0 || (path[0] == '@' && n == 1)) {
		snprintf(err, errlen, "empty socket path");
		return -1;
	}
	if (n >= sizeof un->sun_path) {
		snprintf(err, errlen, "socket path longer than %zu bytes", sizeof un->sun_path - 1);
		return -1;
	}
	if (path[0] == '@') {
		/* abstract namespace: a leading NUL, the name, no terminator counted */
		un->sun_path[0] = '\0';
		memcpy(un->sun_path + 1, path + 1, n - 1);
		spec->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (path[0] != '/') {
		snprintf(err, errlen,
		         "a Unix socket path must be absolute (unix:/path) or abstract (unix:@name)");
		return -1;
	}
	memcpy(un->sun_path, path, n + 1);
	spec->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int conf_parse_listen(const char *given, struct listen_spec *spec, char *err, size_t errlen)
{
	char host[128], text[sizeof spec->text];
	memset(spec, 0, sizeof *spec);
	err[0] = '\0';
	if (strlen(given) >= sizeof spec->text) {
		snprintf(err, errlen, "address too long");
		return -1;
	}
	strcpy(spec->text, given);
	strcpy(text, given);
	size_t tl = strlen(text);
	if (tl > 6 && strcmp(text + tl - 6, ":proxy") == 0) {
		spec->proxy = 1; /* "ADDR:proxy": a PROXY protocol header comes first */
		text[tl - 6] = '\0';
	}
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text, spec, err, errlen);
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
		uint16_t port;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&spec->addr;
		if (parse_port(rb + 2, &port) < 0) {
			snprintf(err, errlen, "bad port '%s'", rb + 2);
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
		snprintf(err, errlen, "expected HOST:PORT, [IPV6]:PORT, :PORT or unix:/path");
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
	/* a name: resolved once, when the settings are loaded */
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

/* "auto" or a CPU list like "0,2-3" (each CPU < CPU_SETSIZE). */
static int valid_cpu_list(const char *v)
{
	if (strcmp(v, "auto") == 0)
		return 1;
	const char *p = v;
	for (;;) {
		unsigned long a, b;
		char *end;
		if (*p < '0' || *p > '9')
			return 0;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return 0;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a > b || b >= 1024)
			return 0;
		if (*p == '\0')
			return 1;
		if (*p != ',')
			return 0;
		p++;
	}
}

/* ---- the option table ---- */

enum kind {
	K_BOOL, /* int in the site (or settings): on/off, no argument = on */
	K_FLAG, /* int in settings: on/off */
	K_SECONDS, /* uint32_t milliseconds */
	K_SIZE64, /* uint64_t bytes */
	K_SIZE32, /* uint32_t bytes, 1..max */
	K_COUNT32, /* uint32_t, 1..max */
	K_STRING, /* const char * */
	K_SITE_STR, /* const char * in the site */
	K_LISTEN,
	K_WORKERS,
	K_NICE,
	K_MODE,
	K_LOGLEVEL,
	K_ACCEPT,
	K_AFFINITY,
	K_LOGPATH, /* access log: PATH, - or off */
	K_ERRPATH, /* error log: PATH or - */
	K_FASTCGI, /* a FastCGI route (site) */
	K_CIDR, /* a trusted network, appended */
	K_MS, /* uint32_t milliseconds, 0 allowed */
	K_METRICS, /* the metrics listener */
	K_INDEX, /* index file names (site) */
	K_LOWAT, /* uint32_t bytes, 0 or off: the system's default */
};

#define SITE 1
struct option_row {
	const char *name;
	enum kind kind;
	int site; /* allowed inside a site block (and then stored in struct site_conf) */
	size_t off;
	uint64_t max;
	const char *help_arg;
};

#define S(field) offsetof(struct settings, field)
#define SC(field) offsetof(struct site_conf, field)

static const struct option_row options[] = {
    {"root", K_SITE_STR, SITE, SC(root), 0, "DIR"},
    {"listing", K_BOOL, SITE, SC(listing), 0, NULL},
    {"follow-symlinks", K_BOOL, SITE, SC(follow_symlinks), 0, NULL},
    {"dotfiles", K_BOOL, SITE, SC(dotfiles), 0, NULL},
    {"fastcgi", K_FASTCGI, SITE, 0, 0, "PATTERN=BACKEND"},
    {"index", K_INDEX, SITE, 0, 0, "NAMES"},
    {"listen", K_LISTEN, 0, 0, 0, "ADDR"},
    {"unix-mode", K_MODE, 0, S(unix_mode), 0, "MODE"},
    {"workers", K_WORKERS, 0, S(workers), 0, "N"},
    {"worker-nice", K_NICE, 0, S(worker_nice), 0, "N"},
    {"worker-cpu-affinity", K_AFFINITY, 0, S(worker_cpu_affinity), 0, "LIST"},
    {"user", K_STRING, 0, S(user), 0, "USER"},
    {"pid-file", K_STRING, 0, S(pid_file), 0, "PATH"},
    {"control", K_STRING, 0, S(control), 0, "PATH"},
    {"daemon", K_FLAG, 0, S(daemon), 0, NULL},
    {"shutdown-timeout", K_SECONDS, 0, S(shutdown_timeout_ms), 0, "SECONDS"},
    {"accept-mode", K_ACCEPT, 0, S(accept_mode), 0, "MODE"},
    {"timeout-header", K_SECONDS, 0, S(timeout_header_ms), 0, "SECONDS"},
    {"timeout-body", K_SECONDS, 0, S(timeout_body_ms), 0, "SECONDS"},
    {"timeout-idle", K_SECONDS, 0, S(timeout_idle_ms), 0, "SECONDS"},
    {"timeout-send", K_SECONDS, 0, S(timeout_send_ms), 0, "SECONDS"},
    {"keepalive-requests", K_COUNT32, 0, S(keepalive_requests), UINT32_MAX, "N"},
    {"send-lowat", K_LOWAT, 0, S(send_lowat), 64u << 20, "SIZE"},
    {"max-body-size", K_SIZE64, 0, S(max_body_size), 0, "SIZE"},
    {"fastcgi-spool-max", K_SIZE64, 0, S(fastcgi_spool_max), 0, "SIZE"},
    {"file-cache", K_MS, 0, S(file_cache_ms), 0, "SECONDS"},
    {"max-connections", K_COUNT32, 0, S(max_connections), 10000000, "N"},
    {"max-connections-per-client", K_COUNT32, 0, S(max_connections_per_client), 10000000, "N"},
    {"max-request-line", K_SIZE32, 0, S(max_request_line), 1u << 20, "SIZE"},
    {"max-header-size", K_SIZE32, 0, S(max_head), 1u << 20, "SIZE"},
    {"max-header-fields", K_COUNT32, 0, S(max_fields), 128, "N"},
    {"proxy-from", K_CIDR, 0, 0, 0, "CIDR"},
    {"trust-forwarded", K_FLAG, 0, S(trust_forwarded), 0, NULL},
    {"health", K_STRING, 0, S(health), 0, "PATH"},
    {"drain-delay", K_MS, 0, S(drain_delay_ms), 0, "SECONDS"},
    {"metrics", K_METRICS, 0, 0, 0, "ADDR"},
    {"access-log", K_LOGPATH, 0, S(access_log), 0, "PATH"},
    {"error-log", K_ERRPATH, 0, S(error_log), 0, "PATH"},
    {"log-level", K_LOGLEVEL, 0, S(log_level), 0, "LEVEL"},
    {"mime-types", K_STRING, 0, S(mime_types), 0, "FILE"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

/* "*.php" or "/prefix/": a pattern a route can match on. */
static int valid_pattern(const char *p)
{
	if (p[0] == '*' && p[1] == '.' && p[2]) {
		for (const char *q = p + 2; *q; q++)
			if (*q == '/' || *q == '*' || *q == '.')
				return 0;
		return 1;
	}
	return p[0] == '/' && !strstr(p, "..") && !strchr(p, '*');
}

static int apply_fastcgi(struct settings *s, struct site_conf *site, int argc, const char *const *argv,
                         char *err, size_t errlen)
{
	/* flag form: "PATTERN=B1,B2"; file form: PATTERN B1 B2 [key=value ...] */
	char buf[1024];
	const char *pattern;
	const char *items[CONF_MAX_BACKENDS + 8];
	int nitems = 0;
	if (argc == 1) {
		const char *eq = strchr(argv[0], '=');
		if (!eq || strlen(argv[0]) >= sizeof buf) {
			snprintf(
			    err, errlen,
			    "expects PATTERN=BACKEND[,BACKEND...] (e.g. '*.php=unix:/run/php/php-fpm.sock')");
			return -1;
		}
		strcpy(buf, argv[0]);
		buf[eq - argv[0]] = '\0';
		pattern = buf;
		for (char *tok = strtok(buf + (eq - argv[0]) + 1, ","); tok && nitems < CONF_MAX_BACKENDS + 8;
		     tok = strtok(NULL, ","))
			items[nitems++] = tok;
	} else if (argc >= 2) {
		pattern = argv[0];
		for (int i = 1; i < argc && nitems < CONF_MAX_BACKENDS + 8; i++)
			items[nitems++] = argv[i];
	} else {
		snprintf(err, errlen, "expects a pattern and at least one backend");
		return -1;
	}
	if (!valid_pattern(pattern)) {
		snprintf(err, errlen, "invalid pattern '%s' (*.ext or /prefix/)", pattern);
		return -1;
	}
	if (!site->routes) {
		site->routes = conf_alloc(s, sizeof(struct fcgi_route) * CONF_MAX_ROUTES);
		if (!site->routes) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (site->nroutes >= CONF_MAX_ROUTES) {
		snprintf(err, errlen, "too many fastcgi routes (at most %d)", CONF_MAX_ROUTES);
		return -1;
	}
	struct fcgi_route *r = &site->routes[site->nroutes];
	memset(r, 0, sizeof *r);
	r->pattern = conf_strdup(s, pattern, strlen(pattern));
	r->by_ext = pattern[0] == '*';
	r->connect_timeout_ms = FCGI_DEFAULT_CONNECT_MS;
	r->read_timeout_ms = FCGI_DEFAULT_READ_MS;
	r->send_timeout_ms = FCGI_DEFAULT_SEND_MS;
	r->max_header = FCGI_DEFAULT_MAX_HEADER;
	int queue_timeout_set = 0;
	for (int i = 0; i < nitems; i++) {
		const char *it = items[i];
		const char *eq = strchr(it, '=');
		if (eq && strncmp(it, "unix:", 5) != 0) {
			size_t kl = (size_t)(eq - it);
			const char *val = eq + 1;
			uint64_t size = 0;
			int bad = 0;
			if (kl == 15 && !strncmp(it, "connect-timeout", kl))
				bad = conf_parse_seconds(val, &r->connect_timeout_ms);
			else if (kl == 12 && !strncmp(it, "read-timeout", kl))
				bad = conf_parse_seconds(val, &r->read_timeout_ms);
			else if (kl == 12 && !strncmp(it, "send-timeout", kl))
				bad = conf_parse_seconds(val, &r->send_timeout_ms);
			else if (kl == 8 && !strncmp(it, "max-body", kl))
				bad = conf_parse_size(val, &r->max_body);
			else if (kl == 10 && !strncmp(it, "max-header", kl)) {
				bad = conf_parse_size(val, &size);
				if (!bad && (size < 1024 || size > (1u << 20)))
					bad = -1;
				r->max_header = (uint32_t)size;
			} else if (kl == 9 && !strncmp(it, "max-conns", kl)) {
				unsigned long v = 0;
				bad = parse_uint(val, FCGI_MAX_CONNS_LIMIT, &v);
				r->max_conns = (uint32_t)v;
			} else if (kl == 13 && !strncmp(it, "queue-timeout", kl)) {
				bad = conf_parse_seconds(val, &r->queue_timeout_ms);
				queue_timeout_set = 1;
			} else {
				snprintf(
				    err, errlen,
				    "unknown option '%.*s' (connect-timeout, read-timeout, send-timeout, "
				    "max-body, max-header, max-conns, queue-timeout)",
				    (int)kl, it);
				return -1;
			}
			if (bad) {
				snprintf(err, errlen, "invalid value in '%s'", it);
				return -1;
			}
			continue;
		}
		char e[160];
		if (r->nbackends >= CONF_MAX_BACKENDS) {
			snprintf(err, errlen, "too many backends (at most %d)", CONF_MAX_BACKENDS);
			return -1;
		}
		if (conf_parse_listen(it, &r->backends[r->nbackends], e, sizeof e) < 0 ||
		    (!r->backends[r->nbackends].is_unix &&
		     ((struct sockaddr_in *)&r->backends[r->nbackends].addr)->sin_port == 0)) {
			snprintf(err, errlen, "invalid backend '%s': %s", it, e[0] ? e : "port 0");
			return -1;
		}
		r->nbackends++;
	}
	if (r->nbackends == 0) {
		snprintf(err, errlen, "no backend for '%s'", pattern);
		return -1;
	}
	if (!queue_timeout_set)
		r->queue_timeout_ms = r->read_timeout_ms; /* as long as the backend's own queue would take */
	site->nroutes++;
	return 0;
}

static int apply_index(struct settings *s, struct site_conf *site, int argc, const char *const *argv,
                       char *err, size_t errlen)
{
	site->nindex = 0;
	for (int i = 0; i < argc; i++) {
		const char *p = argv[i];
		while (*p) {
			size_t n = strcspn(p, ",");
			if (n == 0 || memchr(p, '/', n) ||
			    (n <= 2 && p[0] == '.' && (n == 1 || p[1] == '.'))) {
				snprintf(err, errlen, "invalid index name '%.*s'", (int)n, p);
				return -1;
			}
			if (site->nindex >= CONF_MAX_INDEX) {
				snprintf(err, errlen, "too many index names (at most %d)", CONF_MAX_INDEX);
				return -1;
			}
			site->index[site->nindex++] = conf_strdup(s, p, n);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (site->nindex == 0) {
		snprintf(err, errlen, "needs at least one name");
		return -1;
	}
	return 0;
}

static const struct option_row *find_option(const char *name)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

static int parse_bool(int argc, const char *const *argv, int *out)
{
	if (argc == 0) {
		*out = 1;
		return 0;
	}
	if (argc == 1 && (strcmp(argv[0], "on") == 0 || strcmp(argv[0], "yes") == 0)) {
		*out = 1;
		return 0;
	}
	if (argc == 1 && (strcmp(argv[0], "off") == 0 || strcmp(argv[0], "no") == 0)) {
		*out = 0;
		return 0;
	}
	return -1;
}

int conf_apply(struct settings *s, struct site_conf *site, const char *name, int argc,
               const char *const *argv, char *err, size_t errlen)
{
	const struct option_row *o = find_option(name);
	if (!o) {
		snprintf(err, errlen, "unknown directive");
		return -1;
	}
	if (site && !o->site) {
		snprintf(err, errlen, "not allowed inside a site block");
		return -1;
	}
	if (o->kind == K_BOOL || o->kind == K_FLAG) {
		int v;
		if (parse_bool(argc, argv, &v) < 0) {
			snprintf(err, errlen, "expects on or off");
			return -1;
		}
		if (o->kind == K_BOOL)
			*(int *)((char *)(site ? site : &s->top) + o->off) = v;
		else
			*(int *)((char *)s + o->off) = v;
		return 0;
	}
	if (o->kind == K_FASTCGI)
		return apply_fastcgi(s, site ? site : &s->top, argc, argv, err, errlen);
	if (o->kind == K_INDEX)
		return apply_index(s, site ? site : &s->top, argc, argv, err, errlen);
	if (argc != 1) {
		snprintf(err, errlen, argc == 0 ? "needs a value" : "takes one value");
		return -1;
	}
	const char *v = argv[0];
	char *field = (char *)s + o->off;
	unsigned long n;
	switch (o->kind) {
	case K_SECONDS:
		if (conf_parse_seconds(v, (uint32_t *)field) < 0)
			goto invalid_seconds;
		return 0;
	case K_SIZE64:
		if (conf_parse_size(v, (uint64_t *)field) < 0)
			goto invalid_size;
		return 0;
	case K_SIZE32: {
		uint64_t x;
		if (conf_parse_size(v, &x) < 0 || x < 256 || x > o->max) {
			snprintf(err, errlen, "invalid value '%s' (256 bytes to %llu, k and m allowed)", v,
			         (unsigned long long)o->max);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)x;
		return 0;
	}
	case K_LOWAT: {
		uint64_t x = 0;
		if (strcmp(v, "off") != 0 && (conf_parse_size(v, &x) < 0 || (x && x < 1024) || x > o->max)) {
			snprintf(err, errlen, "invalid value '%s' (1k to %lluk, or off)", v,
			         (unsigned long long)o->max >> 10);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)x;
		return 0;
	}
	case K_COUNT32:
		if (parse_uint(v, o->max, &n) < 0 || n == 0) {
			snprintf(err, errlen, "invalid value '%s' (a count from 1 to %llu)", v,
			         (unsigned long long)o->max);
			return -1;
		}
		*(uint32_t *)field = (uint32_t)n;
		return 0;
	case K_STRING:
		if (!*v || (o->off == S(health) && v[0] != '/'))
			goto invalid;
		*(const char **)field = v;
		return 0;
	case K_SITE_STR:
		if (!*v)
			goto invalid;
		*(const char **)((char *)(site ? site : &s->top) + o->off) = v;
		return 0;
	case K_LISTEN: {
		char e[160];
		if (s->nlisten >= CONF_MAX_LISTEN) {
			snprintf(err, errlen, "too many listeners (at most %d)", CONF_MAX_LISTEN);
			return -1;
		}
		if (conf_parse_listen(v, &s->listen[s->nlisten], e, sizeof e) < 0) {
			snprintf(err, errlen, "invalid address '%s': %s", v, e);
			return -1;
		}
		s->nlisten++;
		return 0;
	}
	case K_CIDR:
		if (s->nproxy_from >= CONF_MAX_CIDRS) {
			snprintf(err, errlen, "too many networks (at most %d)", CONF_MAX_CIDRS);
			return -1;
		}
		if (conf_parse_cidr(v, &s->proxy_from[s->nproxy_from]) < 0) {
			snprintf(err, errlen, "invalid network '%s' (like 10.0.0.0/8 or ::1/128)", v);
			return -1;
		}
		s->nproxy_from++;
		return 0;
	case K_MS:
		if (strcmp(v, "0") == 0) {
			*(uint32_t *)field = 0;
			return 0;
		}
		if (conf_parse_seconds(v, (uint32_t *)field) < 0)
			goto invalid_seconds;
		return 0;
	case K_METRICS: {
		char e[160];
		if (conf_parse_listen(v, &s->metrics, e, sizeof e) < 0 || s->metrics.proxy) {
			snprintf(err, errlen, "invalid address '%s': %s", v, e);
			return -1;
		}
		s->metrics_set = 1;
		return 0;
	}
	case K_WORKERS:
		if (strcmp(v, "auto") == 0) {
			s->workers = -1;
			return 0;
		}
		if (parse_uint(v, 512, &n) < 0) {
			snprintf(err, errlen, "invalid value '%s' (auto, or 0 to 512)", v);
			return -1;
		}
		s->workers = (int)n;
		return 0;
	case K_NICE: {
		char *end;
		errno = 0;
		long x = strtol(v, &end, 10);
		if (!((*v >= '0' && *v <= '9') || *v == '-') || *end || errno || x < -20 || x > 19) {
			snprintf(err, errlen, "invalid value '%s' (-20 to 19)", v);
			return -1;
		}
		s->worker_nice = (int)x;
		s->worker_nice_set = 1;
		return 0;
	}
	case K_MODE: {
		char *end;
		unsigned long x = strtoul(v, &end, 8);
		if (*v < '0' || *v > '7' || *end || x > 0777) {
			snprintf(err, errlen, "invalid value '%s' (octal permissions such as 0660)", v);
			return -1;
		}
		s->unix_mode = (uint32_t)x;
		return 0;
	}
	case K_LOGLEVEL: {
		static const char *const lv[] = {"debug", "info", "notice", "warn", "error"};
		for (int i = 0; i < 5; i++)
			if (strcmp(v, lv[i]) == 0) {
				s->log_level = i;
				return 0;
			}
		snprintf(err, errlen, "invalid value '%s' (debug, info, notice, warn, error)", v);
		return -1;
	}
	case K_ACCEPT:
		if (strcmp(v, "shared") == 0)
			s->accept_mode = ACCEPT_SHARED;
		else if (strcmp(v, "reuseport") == 0)
			s->accept_mode = ACCEPT_REUSEPORT;
		else {
			snprintf(err, errlen, "invalid value '%s' (shared or reuseport)", v);
			return -1;
		}
		return 0;
	case K_AFFINITY:
		if (!valid_cpu_list(v)) {
			snprintf(err, errlen, "invalid value '%s' (auto, or CPUs like 0,2-3)", v);
			return -1;
		}
		s->worker_cpu_affinity = v;
		return 0;
	case K_LOGPATH:
		if (!*v)
			goto invalid;
		s->access_log = v;
		return 0;
	case K_ERRPATH:
		if (!*v || strcmp(v, "off") == 0) {
			snprintf(err, errlen, "invalid value '%s' (PATH or -)", v);
			return -1;
		}
		s->error_log = v;
		return 0;
	default: break;
	}
invalid:
	snprintf(err, errlen, "invalid value '%s'", v);
	return -1;
invalid_seconds:
	snprintf(err, errlen, "invalid value '%s' (seconds, > 0 and <= 86400)", v);
	return -1;
invalid_size:
	snprintf(err, errlen, "invalid value '%s' (bytes, or with k, m, g)", v);
	return -1;
}

int conf_parse_cidr(const char *text, struct cidr *out)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(out, 0, sizeof *out);
	unsigned max;
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	out->bits = max;
	if (slash) {
		unsigned long b;
		if (parse_uint(slash + 1, max, &b) < 0)
			return -1;
		out->bits = (unsigned)b;
	}
	return 0;
}

static int cidr_match(const struct cidr *c, const uint8_t *addr, int family)
{
	if (c->family != family)
		return 0;
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((c->addr[full] & mask) != (addr[full] & mask))
			return 0;
	}
	return 1;
}

int conf_peer_trusted(const struct settings *s, const struct sockaddr *sa)
{
	const uint8_t *addr;
	int family = sa->sa_family;
	uint8_t v4[4];
	if (family == AF_UNIX)
		return s->nproxy_from == 0;
	if (family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		addr = a6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			memcpy(v4, addr + 12, 4);
			addr = v4;
			family = AF_INET;
		}
	} else {
		return 0;
	}
	if (s->nproxy_from == 0) {
		static const uint8_t lo6[16] = {[15] = 1};
		return family == AF_INET ? addr[0] == 127 : memcmp(addr, lo6, 16) == 0;
	}
	for (unsigned i = 0; i < s->nproxy_from; i++)
		if (cidr_match(&s->proxy_from[i], addr, family))
			return 1;
	return 0;
}

void conf_control_path(const struct settings *s, char *out, size_t cap)
{
	if (s->control) {
		snprintf(out, cap, "%s", strcmp(s->control, "off") == 0 ? "" : s->control);
		return;
	}
	if (!s->pid_file) {
		snprintf(out, cap, "hearth.ctl");
		return;
	}
	const char *slash = strrchr(s->pid_file, '/');
	const char *base = slash ? slash + 1 : s->pid_file;
	const char *dot = strrchr(base, '.');
	size_t stem = dot && dot != base ? (size_t)(dot - s->pid_file) : strlen(s->pid_file);
	snprintf(out, cap, "%.*s.ctl", (int)stem, s->pid_file);
}

/* ---- sites ---- */

int conf_finish(struct settings *s, char *err, size_t errlen)
{
	char e[160];
	if (s->nlisten == 0)
		conf_parse_listen("127.0.0.1:8080", &s->listen[s->nlisten++], e, sizeof e);
	if (!s->top.root)
		s->top.root = ".";
	if (s->top.listing < 0)
		s->top.listing = 0;
	if (s->top.follow_symlinks < 0)
		s->top.follow_symlinks = 0;
	if (s->top.dotfiles < 0)
		s->top.dotfiles = 0;
	if (s->top.nindex == 0) {
		s->top.index[0] = "index.html";
		s->top.nindex = 1;
	}
	for (unsigned i = 0; i < s->nsites; i++) {
		struct site_conf *site = &s->sites[i];
		if (!site->root)
			site->root = s->top.root;
		if (site->listing < 0)
			site->listing = s->top.listing;
		if (site->follow_symlinks < 0)
			site->follow_symlinks = s->top.follow_symlinks;
		if (site->dotfiles < 0)
			site->dotfiles = s->top.dotfiles;
		if (!site->routes) {
			site->routes = s->top.routes;
			site->nroutes = s->top.nroutes;
		}
		if (site->nindex == 0) {
			memcpy(site->index, s->top.index, sizeof site->index);
			site->nindex = s->top.nindex;
		}
	}
	if (s->max_request_line > s->max_head) {
		snprintf(err, errlen, "--max-request-line: larger than --max-header-size");
		return -1;
	}
	if (s->daemon && strcmp(s->error_log, "-") == 0) {
		snprintf(err, errlen,
		         "--daemon: needs --error-log PATH (standard error is closed in the background)");
		return -1;
	}
	if (s->daemon && strcmp(s->access_log, "-") == 0)
		s->access_log = "off";
	return 0;
}

static int host_matches(const char *name, const char *host, size_t len)
{
	if (name[0] == '*' && name[1] == '.') {
		size_t sl = strlen(name + 1); /* ".example.com" */
		return len > sl && strncasecmp(host + len - sl, name + 1, sl) == 0;
	}
	return strlen(name) == len && strncasecmp(name, host, len) == 0;
}

const struct site_conf *conf_site_for_host(const struct settings *s, const char *host, size_t len)
{
	if (s->nsites == 0)
		return &s->top;
	if (!host)
		len = 0; /* HTTP/1.0 without Host: the default site */
	/* drop the port; an IPv6 literal keeps its brackets */
	size_t n = len;
	if (n && host[0] == '[') {
		const char *rb = memchr(host, ']', n);
		if (rb)
			n = (size_t)(rb - host + 1);
	} else if (n) {
		const char *colon = memchr(host, ':', n);
		if (colon)
			n = (size_t)(colon - host);
	}
	if (n && host[n - 1] == '.')
		n--; /* "example.com." is "example.com" */
	/* exact names first, then wildcards (in file order), then the default */
	const struct site_conf *def = &s->top, *wild = NULL;
	for (unsigned i = 0; i < s->nsites; i++) {
		const struct site_conf *site = &s->sites[i];
		if (site->is_default)
			def = site;
		for (unsigned k = 0; k < site->nnames && n; k++) {
			if (!host_matches(site->names[k], host, n))
				continue;
			if (site->names[k][0] != '*')
				return site;
			if (!wild)
				wild = site;
		}
	}
	return wild ? wild : def;
}

/* ---- the command line ---- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: hearth [OPTIONS] [ROOT]\n"
	    "       hearth -t [-c FILE]                     test the configuration\n"
	    "       hearth -s stop|quit|reload|reopen [--pid-file PATH | -c FILE]\n"
	    "       hearth status [--json] | top | ctl reload|stop|quit|reopen\n"
	    "              [--control PATH | --pid-file PATH | -c FILE]\n"
	    "Serve the folder ROOT (default: the current directory) over HTTP/1.1.\n"
	    "\n"
	    "  -c, --config FILE           configuration file (flags override it)\n"
	    "  --root DIR                  document root (same as ROOT)\n"
	    "  --listen ADDR               HOST:PORT, [V6]:PORT, :PORT, unix:/path or unix:@name;\n"
	    "                              repeatable (default 127.0.0.1:8080)\n"
	    "  --unix-mode MODE            permissions of Unix socket files (default 0660)\n"
	    "  --workers N|auto            worker processes (default auto: one per CPU;\n"
	    "                              0: a single process, no master)\n"
	    "  --worker-nice N             workers' nice value (-20 to 19)\n"
	    "  --worker-cpu-affinity auto|LIST  pin workers to CPUs (LIST like 0,2-3)\n"
	    "  --user USER[:GROUP]         workers' user when started as root (default nobody)\n"
	    "  --pid-file PATH             write, lock and remove the master's pid file\n"
	    "  --control PATH|off          control socket (default: beside the pid file,\n"
	    "                              else hearth.ctl in the working directory)\n"
	    "  --daemon                    run in the background (needs --error-log PATH)\n"
	    "  --shutdown-timeout SECONDS  graceful stop limit (default 10)\n"
	    "  --accept-mode shared|reuseport  how workers share listeners (default shared)\n"
	    "  --timeout-header SECONDS    to receive a whole request head (default 15)\n"
	    "  --timeout-body SECONDS      between reads of a request body (default 30)\n"
	    "  --timeout-idle SECONDS      keep-alive wait for the next request (default 75)\n"
	    "  --timeout-send SECONDS      for a client to accept more bytes (default 30)\n"
	    "  --keepalive-requests N      requests per connection (default 10000)\n"
	    "  --send-lowat SIZE|off       unsent bytes kept queued per connection (default 32k)\n"
	    "  --max-body-size SIZE        largest request body, e.g. 1m (default 1m)\n"
	    "  --file-cache SECONDS        serve small files from memory, rechecked this often (1; 0: off)\n"
	    "  --max-connections N         open connections, all workers together (no limit)\n"
	    "  --max-connections-per-client N  per client address (no limit)\n"
	    "  --max-request-line SIZE     longest request line (default 8k)\n"
	    "  --max-header-size SIZE      largest request head (default 16k)\n"
	    "  --max-header-fields N       most header fields (default 100)\n"
	    "  --fastcgi PATTERN=BACKEND[,BACKEND]  route *.ext or /prefix/ to FastCGI\n"
	    "                              (unix:/path or HOST:PORT), e.g. '*.php=unix:/run/php.sock';\n"
	    "                              options after the backends: ,max-conns=N,read-timeout=S ...\n"
	    "  --fastcgi-spool-max SIZE    disk for chunked request bodies held for FastCGI,\n"
	    "                              per worker (default 1g; 0: no limit; beyond: 503)\n"
	    "  --index NAME[,NAME]         index files (default index.html)\n"
	    "  --listing                   HTML listings for directories without index.html\n"
	    "  --follow-symlinks           follow symbolic links (never out of ROOT)\n"
	    "  --dotfiles                  serve names starting with '.' (/.well-known/ always)\n"
	    "  --proxy-from CIDR           peers trusted for PROXY headers and X-Forwarded-For\n"
	    "                              (repeatable; default loopback); ADDR:proxy listeners\n"
	    "  --trust-forwarded           client address from X-Forwarded-For/Forwarded\n"
	    "  --health PATH               health endpoint: 200, 503 once stopping (off)\n"
	    "  --drain-delay SECONDS       on stop, keep serving with health 503 first (0)\n"
	    "  --metrics ADDR              Prometheus metrics listener (off)\n"
	    "  --access-log PATH|-|off     combined-format access log (default -: stdout)\n"
	    "  --error-log PATH|-          error log (default -: stderr)\n"
	    "  --log-level LEVEL           debug, info, notice, warn or error (default info)\n"
	    "  --mime-types FILE           extension table (default /etc/mime.types)\n"
	    "  -t                          test the configuration and exit\n"
	    "  -s SIGNAL                   stop (graceful), quit (now), reload, reopen (logs)\n"
	    "  --help                      show this help\n"
	    "  --version                   show the version\n");
}

enum { OPT_HELP = 1000, OPT_VERSION, OPT_CONFIG };

struct flag_value {
	const struct option_row *row;
	const char *value; /* NULL for a flag without argument */
	const char *as_given;
};

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return -1;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	*out = buf;
	*len = got;
	return 0;
}

int conf_load(struct settings *s, int argc, char **argv, char *err, size_t errlen)
{
	static struct option long_opts[NOPTIONS + 4];
	struct flag_value *flags = calloc((size_t)argc + 1, sizeof *flags);
	size_t nflags = 0;
	int ret = 2;
	settings_init(s);
	err[0] = '\0';
	if (!flags)
		return 2;
	for (size_t i = 0; i < NOPTIONS; i++) {
		int is_bool = options[i].kind == K_BOOL || options[i].kind == K_FLAG;
		long_opts[i] = (struct option){options[i].name, is_bool ? no_argument : required_argument,
		                               NULL, (int)(2000 + i)};
	}
	long_opts[NOPTIONS] = (struct option){"help", no_argument, NULL, OPT_HELP};
	long_opts[NOPTIONS + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	long_opts[NOPTIONS + 2] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	long_opts[NOPTIONS + 3] = (struct option){NULL, 0, NULL, 0};

	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":c:ts:", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(stdout);
			ret = 1;
			goto out;
		case OPT_VERSION:
			printf("hearth %s\n", HEARTH_VERSION);
			ret = 1;
			goto out;
		case 'c':
		case OPT_CONFIG: s->config_file = optarg; break;
		case 't': s->test_only = 1; break;
		case 's':
			if (strcmp(optarg, "stop") && strcmp(optarg, "quit") && strcmp(optarg, "reload") &&
			    strcmp(optarg, "reopen")) {
				fprintf(stderr,
				        "hearth: -s: invalid signal '%s' (stop, quit, reload or reopen)\n",
				        optarg);
				goto out;
			}
			s->signal = optarg;
			break;
		case ':': fprintf(stderr, "hearth: %s: requires a value\n", argv[optind - 1]); goto out;
		case '?':
			fprintf(stderr, "hearth: %s: unknown option (see --help)\n", argv[optind - 1]);
			goto out;
		default:
			if (c >= 2000 && c < 2000 + (int)NOPTIONS) {
				flags[nflags].row = &options[c - 2000];
				flags[nflags].value = optarg;
				nflags++;
				break;
			}
			fprintf(stderr, "hearth: %s: unknown option (see --help)\n", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "hearth: %s: only one ROOT may be given\n", argv[optind + 1]);
		goto out;
	}
	if (s->config_file) {
		char *text;
		size_t len;
		if (read_file(s->config_file, &text, &len, err, errlen) < 0) {
			ret = 3;
			goto out;
		}
		int r = conf_parse_text(s, s->config_file, text, len, err, errlen);
		free(text);
		if (r < 0) {
			ret = 3;
			goto out;
		}
	}
	/* flags win over the file; a --listen on the command line replaces the file's */
	for (size_t i = 0; i < nflags; i++)
		if (flags[i].row->kind == K_LISTEN) {
			s->nlisten = 0;
			break;
		}
	for (size_t i = 0; i < nflags; i++) {
		char e[200];
		const char *v = flags[i].value;
		if (conf_apply(s, NULL, flags[i].row->name, v ? 1 : 0, &v, e, sizeof e) < 0) {
			fprintf(stderr, "hearth: --%s: %s\n", flags[i].row->name, e);
			goto out;
		}
	}
	if (optind < argc)
		s->top.root = argv[optind];
	if (conf_finish(s, err, errlen) < 0) {
		fprintf(stderr, "hearth: %s\n", err);
		goto out;
	}
	ret = 0;
out:
	free(flags);
	return ret;
}
