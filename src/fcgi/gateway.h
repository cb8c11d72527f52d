/* gateway.h: answering HTTP requests through FastCGI applications.
 *
 * A request whose path matches a site's FastCGI route (fcgi_route) becomes a
 * FastCGI request: the connection enters C_FCGI and fcgi_drive() moves bytes
 * four ways at once, each only as fast as its other end takes them — client
 * body to STDIN records, records to the backend, STDOUT from the backend to
 * the client's write buffer (as Content-Length, chunked or close-delimited),
 * and that buffer to the client. Backend connections are non-blocking from
 * connect() on, pooled per worker (FCGI_KEEP_CONN), and guarded by the
 * route's connect, read and send timeouts.
 */
#ifndef HEARTH_FCGI_GATEWAY_H
#define HEARTH_FCGI_GATEWAY_H

#include "http/conn.h"

enum { FCGI_WAIT = 0, FCGI_DONE = 1, FCGI_CLOSE = 2, FCGI_REDIRECT = 3 };

/* Decide, from x->path (normalized) and the site's routes, whether a FastCGI
 * application answers: ROUTE_FCGI (x->route and x->script_len set),
 * ROUTE_STATIC, or an HTTP error status to answer with (400 for a CR or LF in
 * the path, 404 for a script that does not exist). */
int fcgi_route(struct conn *c);
/* Begin the exchange (the connection is in C_FCGI). 0, or -1 (out of memory). */
int fcgi_start(struct conn *c);
/* Make all the progress possible now: FCGI_WAIT (an event will call again),
 * FCGI_DONE (the response is complete in the write buffer or sent),
 * FCGI_CLOSE (the client connection must be closed), or FCGI_REDIRECT (the
 * application asked for a local redirect: x->path holds the new path, to be
 * routed again as a GET). */
int fcgi_drive(struct conn *c);
/* Is the gateway waiting for request body bytes from the client (the body
 * timeout applies)? 0 no; 1 yes, nothing answered yet; 2 yes, but the
 * response has begun (too late for a 408). */
int fcgi_body_wait(const struct conn *c);
/* Free the exchange's gateway state; an unfinished backend request is
 * aborted (ABORT_REQUEST) and its connection closed. */
void fcgi_release(struct conn *c);

int fcgi_server_init(struct server *s);
void fcgi_server_free(struct server *s);

#endif
