/* conf.h: hearth's settings, from the command line and the configuration file.
 *
 * One struct settings holds every knob. Flags and file directives share one
 * table of options (conf.c): a directive in the file is named like its flag
 * without the dashes ("timeout-header 15;" is "--timeout-header 15"), and both
 * are validated by the same code, so they can never disagree.
 *
 * conf_load() builds a settings struct the way the server needs it: defaults,
 * then the file given with -c (if any), then the flags (which win), then
 * conf_finish() resolves sites. The master calls it again on SIGHUP.
 *
 * Strings that did not come from argv live in the settings' arena and are
 * freed by settings_free().
 */
#ifndef HEARTH_CONF_CONF_H
#define HEARTH_CONF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define CONF_MAX_LISTEN 32
#define CONF_MAX_SITES 64
#define CONF_MAX_NAMES 16

struct listen_spec {
	char text[128]; /* as given, for messages */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int is_unix; /* AF_UNIX: path in addr (sun_path), or abstract (sun_path[0] == 0) */
	int proxy; /* ":proxy": connections start with a PROXY protocol header */
};

#define CONF_MAX_CIDRS 32
struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

#define CONF_MAX_ROUTES 16
#define CONF_MAX_BACKENDS 8
#define CONF_MAX_INDEX 8

/* Requests routed to FastCGI applications: by extension ("*.php") or by
 * path prefix ("/app/"), to one or more backends tried round-robin. */
struct fcgi_route {
	const char *pattern;
	int by_ext; /* "*.EXT": the extension is pattern + 1 (".php") */
	struct listen_spec backends[CONF_MAX_BACKENDS];
	unsigned nbackends;
	uint32_t connect_timeout_ms;
	uint32_t read_timeout_ms;
	uint32_t send_timeout_ms;
	uint64_t max_body; /* 0: the server's max-body-size */
	uint32_t max_header; /* CGI response head */
	uint32_t max_conns; /* per worker and backend; 0: no limit */
	uint32_t queue_timeout_ms; /* waiting for a connection when max_conns are busy */
};

#define FCGI_DEFAULT_CONNECT_MS 5000u
#define FCGI_DEFAULT_READ_MS 60000u
#define FCGI_DEFAULT_SEND_MS 60000u
#define FCGI_DEFAULT_MAX_HEADER (64u * 1024u)
#define FCGI_MAX_CONNS_LIMIT 4096u

/* A virtual host. Fields left unset (-1 / NULL) in the file inherit the
 * top-level values when conf_finish() runs. */
struct site_conf {
	const char *names[CONF_MAX_NAMES]; /* lower case; "*.example.com" matches subdomains */
	unsigned nnames;
	int is_default; /* "site default { ... }": for hosts no site names */
	const char *root;
	int listing; /* -1: inherit */
	int follow_symlinks; /* -1: inherit */
	int dotfiles; /* -1: inherit */
	unsigned line; /* where it was defined, for messages */
	struct fcgi_route *routes; /* CONF_MAX_ROUTES slots in the arena; NULL: inherit */
	unsigned nroutes;
	const char *index[CONF_MAX_INDEX]; /* index files, in order; none: inherit ("index.html") */
	unsigned nindex;
};

enum accept_mode { ACCEPT_SHARED = 0, ACCEPT_REUSEPORT = 1 };

struct settings {
	/* sites: top-level values, which named sites inherit */
	struct site_conf top;
	struct site_conf sites[CONF_MAX_SITES];
	unsigned nsites;

	struct listen_spec listen[CONF_MAX_LISTEN];
	unsigned nlisten;
	uint32_t unix_mode; /* permissions of Unix socket files */

	/* processes */
	int workers; /* -1: auto (online CPUs); 0: one process, no master */
	int worker_nice;
	int worker_nice_set;
	const char *worker_cpu_affinity; /* NULL, "auto" or "0,2-3" */
	const char *user; /* "USER[:GROUP]"; NULL: see docs (nobody when root) */
	const char *pid_file;
	int daemon;
	uint32_t shutdown_timeout_ms;
	int accept_mode;
	const char *config_file;
	const char *control; /* control socket path, "off", or NULL: the default */

	uint32_t timeout_header_ms;
	uint32_t timeout_body_ms;
	uint32_t timeout_idle_ms;
	uint32_t timeout_send_ms;

	const char *access_log; /* path, "-" or "off" */
	const char *error_log; /* path or "-" */
	int log_level; /* enum log_level */
	const char *mime_types; /* NULL: /etc/mime.types */

	uint32_t keepalive_requests;
	uint32_t file_cache_ms; /* small files trusted in memory this long; 0: off */
	uint32_t max_connections; /* all workers together; 0: no limit */
	uint32_t max_connections_per_client; /* per client address and worker; 0: no limit */
	uint32_t send_lowat; /* TCP_NOTSENT_LOWAT of accepted connections; 0: the system's */
	uint64_t max_body_size;
	uint64_t fastcgi_spool_max; /* bytes of spool files per worker; 0: no limit */
	uint32_t max_request_line;
	uint32_t max_head;
	uint32_t max_fields;

	/* behind a load balancer */
	struct cidr proxy_from[CONF_MAX_CIDRS]; /* none given: loopback and Unix peers */
	unsigned nproxy_from;
	int trust_forwarded;
	const char *health; /* path of the health endpoint, or NULL */
	uint32_t drain_delay_ms;
	struct listen_spec metrics;
	int metrics_set;

	/* what the command line asked for besides serving */
	int test_only; /* -t */
	const char *signal; /* -s stop|quit|reload|reopen */

	/* owned strings (conf_strdup) */
	char **arena_blocks;
	size_t narena_blocks, arena_cap;
};

#define DEFAULT_TIMEOUT_HEADER_MS 15000u
#define DEFAULT_TIMEOUT_BODY_MS 30000u
#define DEFAULT_TIMEOUT_IDLE_MS 75000u
#define DEFAULT_TIMEOUT_SEND_MS 30000u
#define DEFAULT_SHUTDOWN_TIMEOUT_MS 10000u
#define DEFAULT_KEEPALIVE_REQUESTS 10000u
#define DEFAULT_MAX_BODY_SIZE (1024u * 1024u)
/* disk all of a worker's FastCGI request-body spool files may use together */
#define DEFAULT_FASTCGI_SPOOL_MAX (1024ull << 20)
/* unsent bytes a connection may have queued in the kernel (docs/performance.md) */
#define DEFAULT_SEND_LOWAT (32u << 10)
#define DEFAULT_UNIX_MODE 0660u
#define DEFAULT_FILE_CACHE_MS 1000u

void settings_init(struct settings *s);
void settings_free(struct settings *s);
/* Copy n bytes into the settings' arena, NUL-terminated; NULL on no memory. */
const char *conf_strdup(struct settings *s, const char *p, size_t n);
/* n zeroed bytes from the arena; NULL on no memory. */
void *conf_alloc(struct settings *s, size_t n);

/* Apply one option, from a flag or a directive: name without dashes, its
 * arguments (argc 0 for "--listing" / "listing;" meaning on). site is NULL at
 * top level, or the site block being parsed (only site options are allowed
 * there). Returns 0, or -1 with a message (without the name) in err. */
int conf_apply(struct settings *s, struct site_conf *site, const char *name, int argc,
               const char *const *argv, char *err, size_t errlen);

/* Parse a configuration file's text (pure: no I/O; strings are copied into
 * the arena). name is the file name used in messages. Returns 0, or -1 with
 * "NAME:LINE: DIRECTIVE: message" in err. Implemented in conf/file.c. */
int conf_parse_text(struct settings *s, const char *name, const char *text, size_t len, char *err,
                    size_t errlen);

/* After file and flags: apply defaults (one listener, a default site), let
 * sites inherit top-level values, check consistency. 0 or -1 with err. */
int conf_finish(struct settings *s, char *err, size_t errlen);

/* Everything at once: defaults, the -c file, the flags, conf_finish().
 * Returns 0; 1 for --help/--version (printed); 2 for a bad flag or an
 * inconsistent setting (one line naming the flag printed to stderr, and in
 * err); 3 for a bad file ("FILE:LINE: DIRECTIVE: message" in err). */
int conf_load(struct settings *s, int argc, char **argv, char *err, size_t errlen);

/* Parse "HOST:PORT", "[V6]:PORT", ":PORT", "unix:/path" or "unix:@name" into
 * spec. 0, or -1 with a message in err. Non-numeric hosts are resolved. */
int conf_parse_listen(const char *given, struct listen_spec *spec, char *err, size_t errlen);
/* Parse seconds ("15", "0.5") into milliseconds; -1 when invalid. */
int conf_parse_seconds(const char *text, uint32_t *ms);
/* Parse a size ("1024", "64k", "1m", "2g"); -1 when invalid. */
int conf_parse_size(const char *text, uint64_t *out);

/* The control socket's path: --control, or next to the pid file (its name
 * with the extension replaced by ".ctl"), or "hearth.ctl". "" when off. */
void conf_control_path(const struct settings *s, char *out, size_t cap);

/* Is sa (a peer address) trusted to send PROXY headers and forwarding
 * headers? Loopback and Unix peers when no --proxy-from was given. */
int conf_peer_trusted(const struct settings *s, const struct sockaddr *sa);
int conf_parse_cidr(const char *text, struct cidr *out);

/* The site for a Host value (port ignored; any case), or the default site. */
const struct site_conf *conf_site_for_host(const struct settings *s, const char *host, size_t len);
/* Index of a site for per-site tables: sites[i] is i, the top level is nsites. */
static inline unsigned conf_site_index(const struct settings *s, const struct site_conf *site)
{
	return site == &s->top ? s->nsites : (unsigned)(site - s->sites);
}

#endif
