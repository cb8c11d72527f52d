/* conf.h: hearth's settings, and the command line that fills them.
 *
 * One struct settings holds every knob; defaults come from settings_init().
 * conf_parse_args() fills it from argv and returns 0, or 2 after printing a
 * one-line error naming the flag (the exit status main uses), or 1 for
 * --help / --version (already printed; exit 0).
 */
#ifndef HEARTH_CONF_CONF_H
#define HEARTH_CONF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONF_MAX_LISTEN 32

struct listen_spec {
	char text[128]; /* as given, for messages */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct settings {
	const char *root;
	struct listen_spec listen[CONF_MAX_LISTEN];
	unsigned nlisten;
	int workers;

	uint32_t timeout_header_ms;
	uint32_t timeout_body_ms;
	uint32_t timeout_idle_ms;
	uint32_t timeout_send_ms;

	int listing;
	int follow_symlinks;
	int dotfiles;

	const char *access_log; /* path, "-" or "off" */
	const char *error_log;  /* path or "-" */
	int log_level;          /* enum log_level */
	const char *mime_types; /* NULL: /etc/mime.types */

	uint32_t keepalive_requests;
	uint64_t max_body_size;
	uint32_t max_request_line;
	uint32_t max_head;
	uint32_t max_fields;
};

#define DEFAULT_TIMEOUT_HEADER_MS 15000u
#define DEFAULT_TIMEOUT_BODY_MS 30000u
#define DEFAULT_TIMEOUT_IDLE_MS 75000u
#define DEFAULT_TIMEOUT_SEND_MS 30000u
#define DEFAULT_KEEPALIVE_REQUESTS 10000u
#define DEFAULT_MAX_BODY_SIZE (1024u * 1024u)

void settings_init(struct settings *s);
int conf_parse_args(struct settings *s, int argc, char **argv);

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" into spec. 0, or -1 with a
 * message in err. Pure apart from name resolution for non-numeric hosts. */
int conf_parse_listen(const char *text, struct listen_spec *spec, char *err, size_t errlen);
/* Parse seconds ("15", "0.5") into milliseconds; -1 when invalid. */
int conf_parse_seconds(const char *text, uint32_t *ms);
/* Parse a size ("1024", "64k", "1m", "2g"); -1 when invalid. */
int conf_parse_size(const char *text, uint64_t *out);

#endif
