/* listen.h: listening sockets (TCP over IPv4/IPv6, Unix-domain, abstract Unix).
 *
 * listener_open() binds and listens (non-blocking, close-on-exec,
 * SO_REUSEADDR; TCP_NODELAY, inherited by accepted sockets). For a Unix socket
 * path it replaces a stale socket file (one nobody listens on) but never
 * anything else, and creates it with the file mode (through the umask, not chmod). The bound address can be
 * read back with listener_name(), so ":0" tells which port the kernel chose.
 */
#ifndef HEARTH_NET_LISTEN_H
#define HEARTH_NET_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf/conf.h"

/* Returns the socket, or -1 with a one-line reason in err. reuseport sets
 * SO_REUSEPORT (several sockets on one address, one per worker). */
int listener_open(const struct listen_spec *spec, int backlog, unsigned unix_mode, int reuseport, char *err,
                  size_t errlen);
/* Settings accepted sockets inherit, applied again on reload to a listener kept
 * open: TCP_NOTSENT_LOWAT (send_lowat bytes; 0: the system's default). TCP only;
 * 0 or -errno. */
int listener_tune(int fd, const struct listen_spec *spec, uint32_t send_lowat);
/* For Unix socket files: chown to uid:gid (when started as root), never
 * through a symlink, and only if the name is still a socket. 0 or -errno. */
int listener_chown(const struct listen_spec *spec, uid_t uid, gid_t gid);
/* Remove a Unix socket file we created (at exit). */
void listener_unlink(const struct listen_spec *spec);
/* "127.0.0.1:8080", "[::1]:80", "unix:/path", "unix:@name" of a bound socket. */
void listener_name(int fd, const struct listen_spec *spec, char *out, size_t cap);

/* Format a socket address as "1.2.3.4:80" or "[::1]:80". */
void sockaddr_format(const struct sockaddr *sa, char *out, size_t cap);
/* Just the address, no port ("1.2.3.4", "::1", "unix:"); for logs. */
void sockaddr_format_host(const struct sockaddr *sa, char *out, size_t cap);

#endif
