/* proxy.h: the PROXY protocol, versions 1 (text) and 2 (binary), as sent by
 * a load balancer (HAProxy "send-proxy" / "send-proxy-v2") at the start of a
 * connection to tell the real client's address.
 *
 * Pure: bytes in, an address out; no I/O, no allocation. Every field is
 * read one byte at a time in network order; lengths are checked against what
 * arrived and against the limits below before anything is read.
 */
#ifndef HEARTH_NET_PROXY_H
#define HEARTH_NET_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107 /* the longest v1 line, CRLF included */
#define PROXY_V2_MAX 1024 /* header + addresses + TLVs we accept */

enum proxy_result {
	PROXY_PARTIAL = 0, /* need more bytes */
	PROXY_E_INVALID = -1, /* not a PROXY header, or a malformed one */
	PROXY_E_TOO_LONG = -2,
};

struct proxy_info {
	int local; /* v1 "UNKNOWN" or v2 LOCAL command: keep the socket's own addresses */
	int version; /* 1 or 2 */
	struct sockaddr_storage src; /* AF_INET / AF_INET6 (or AF_UNIX for v2 AF_UNIX) */
	struct sockaddr_storage dst;
	socklen_t srclen, dstlen;
};

/* Decode a PROXY header at buf[0..len). Returns its size (> 0) when complete,
 * PROXY_PARTIAL, or a negative error. A v1 line must match exactly
 * "PROXY TCP4|TCP6|UNKNOWN ..." with valid addresses and ports; v2 needs the
 * 12-byte signature, version 2, command LOCAL or PROXY, and an address length
 * that holds the family's addresses; TLVs after them are skipped. */
int proxy_decode(const uint8_t *buf, size_t len, struct proxy_info *info);

#endif
