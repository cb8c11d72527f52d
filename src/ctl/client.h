/* client.h: the client side of the control socket: `hearth status`, `top`, `ctl`.
 *
 * Each command opens a fresh connection to the control socket, sends one
 * request, reads one reply (5 s at most) and closes. Everything shown comes
 * from the server's replies; the client reads nothing from /proc itself.
 */
#ifndef HEARTH_CTL_CLIENT_H
#define HEARTH_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ctl/proto.h"

/* Each returns the process exit status: 0 ok, 1 error (with a one-line
 * message "hearth: ..." on stderr). */
int ctl_client_status(const char *path, int json); /* hearth status [--json] */
int ctl_client_top(const char *path); /* hearth top */
int ctl_client_command(const char *path, const char *what); /* hearth ctl reload|stop|quit|reopen */
int ctl_client_set_nice(const char *path, int nice);

/* One request, one reply, over a fresh connection to the control socket at
 * path. Returns 0 with the reply's header in *rh and its payload in
 * reply[0..rh->length), or -1 with a one-line reason in err:
 *   no such socket / connection refused   "no hearth is listening on PATH"
 *   EACCES / EPERM                        "PATH belongs to another user (permission denied)"
 *   a reply with another protocol version "protocol version mismatch: server speaks N, this client 1"
 *   the server answered ERROR             its message and the code's name
 *   no reply within 5 s, a short reply    says so */
int ctl_request(const char *path, uint8_t type, const uint8_t *payload, size_t plen, uint8_t *reply,
                size_t cap, struct ctl_header *rh, char *err, size_t errlen);

#endif
