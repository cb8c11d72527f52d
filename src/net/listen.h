/* listen.h: listening sockets.
 *
 * listener_open() binds and listens (non-blocking, close-on-exec,
 * SO_REUSEADDR, TCP_NODELAY inherited by accepted sockets) and reports the
 * bound address, so ":0" tells which port the kernel chose.
 */
#ifndef HEARTH_NET_LISTEN_H
#define HEARTH_NET_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#include "conf/conf.h"

/* Returns the socket, or -errno. */
int listener_open(const struct listen_spec *spec, int backlog);

/* Format a socket address as "1.2.3.4:80" or "[::1]:80". */
void sockaddr_format(const struct sockaddr *sa, char *out, size_t cap);
/* Just the address, no port ("1.2.3.4", "::1"); for logs. */
void sockaddr_format_host(const struct sockaddr *sa, char *out, size_t cap);

#endif
