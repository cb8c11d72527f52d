/* proto.h: hearth's control protocol codec (docs/control-protocol.md).
 *
 * Pure: bytes in, structs out, and back; no I/O, no allocation, no globals.
 * Every integer is big-endian with an explicit width and is written and read
 * field by field through the put/get helpers below — never a memcpy of a C
 * struct — so the wire format does not depend on the compiler or the CPU.
 *
 * A message is a 16-byte header followed by `length` bytes of payload:
 *
 *   offset size field
 *   0      4    magic      "HRTH" (0x48 0x52 0x54 0x48)
 *   4      1    version    CTL_VERSION (1)
 *   5      1    type       enum ctl_type
 *   6      2    flags      0 (reserved; a receiver ignores unknown bits)
 *   8      4    request id chosen by the client, echoed in the reply
 *   12     4    length     payload bytes that follow (<= CTL_MAX_PAYLOAD)
 *
 * Strings are a u16 length followed by that many bytes (no NUL).
 */
#ifndef HEARTH_CTL_PROTO_H
#define HEARTH_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_MAGIC 0x48525448u /* "HRTH" */
#define CTL_VERSION 1
#define CTL_HEADER_SIZE 16
#define CTL_MAX_REQUEST 4096u /* request payload a server accepts */
#define CTL_MAX_PAYLOAD (1u << 20) /* any payload (a STATUS reply of many workers) */
#define CTL_MAX_WORKERS 1024
#define CTL_MAX_LISTENERS 64
#define CTL_MAX_STRING 1024

enum ctl_type {
	/* requests */
	CTL_STATUS = 0x01,
	CTL_RELOAD = 0x02,
	CTL_STOP = 0x03, /* graceful */
	CTL_QUIT = 0x04, /* immediate */
	CTL_REOPEN = 0x05, /* logs */
	CTL_SET_NICE = 0x06, /* payload: i8 nice (-20..19) */
	/* replies */
	CTL_OK = 0x80, /* payload: string message (may be empty) */
	CTL_STATUS_REPLY = 0x81, /* payload: struct ctl_status */
	CTL_ERROR = 0xff, /* payload: u16 code (enum ctl_err), string message */
};

enum ctl_err {
	CTL_E_OK = 0,
	CTL_E_PARTIAL = -1, /* need more bytes (not an error on the wire) */
	CTL_E_MAGIC = 1, /* not a hearth control message */
	CTL_E_VERSION = 2, /* a version this side does not speak */
	CTL_E_TYPE = 3, /* unknown message type */
	CTL_E_TOO_LARGE = 4, /* payload over the limit */
	CTL_E_MALFORMED = 5, /* payload does not match its type */
	CTL_E_PERMISSION = 6, /* the peer may not use this socket */
	CTL_E_FAILED = 7, /* the request was understood but failed (message says why) */
	CTL_E_UNSUPPORTED = 8 /* not available in this mode */
};

struct ctl_header {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t id;
	uint32_t length;
};

/* ---- byte-order helpers ---- */

struct ctl_writer {
	uint8_t *buf;
	size_t cap, len;
	int overflow; /* set when a put did not fit; len stops growing */
};

struct ctl_reader {
	const uint8_t *buf;
	size_t len, off;
	int bad; /* set when a get ran past the end or a value was out of range */
};

void ctl_writer_init(struct ctl_writer *w, uint8_t *buf, size_t cap);
void ctl_put_u8(struct ctl_writer *w, uint8_t v);
void ctl_put_u16(struct ctl_writer *w, uint16_t v);
void ctl_put_u32(struct ctl_writer *w, uint32_t v);
void ctl_put_u64(struct ctl_writer *w, uint64_t v);
/* At most CTL_MAX_STRING bytes are written; longer strings are cut. */
void ctl_put_str(struct ctl_writer *w, const char *s, size_t n);

void ctl_reader_init(struct ctl_reader *r, const uint8_t *buf, size_t len);
uint8_t ctl_get_u8(struct ctl_reader *r);
uint16_t ctl_get_u16(struct ctl_reader *r);
uint32_t ctl_get_u32(struct ctl_reader *r);
uint64_t ctl_get_u64(struct ctl_reader *r);
/* Copies the string into out (cap bytes incl. NUL); strings longer than
 * CTL_MAX_STRING or than out, or holding a NUL byte, make the reader bad.
 * Returns the length. */
size_t ctl_get_str(struct ctl_reader *r, char *out, size_t cap);

/* ---- header ---- */

/* Decode the header at buf[0..len). Returns CTL_E_OK, CTL_E_PARTIAL (fewer
 * than 16 bytes), CTL_E_MAGIC, or CTL_E_VERSION (h->version tells which).
 * CTL_E_MAGIC comes as soon as 4 bytes are there, so garbage is dropped at once.
 * The type and the length limit are the caller's to check (it knows whether
 * it expects a request or a reply). */
int ctl_header_decode(const uint8_t *buf, size_t len, struct ctl_header *h);
/* Write a header with CTL_VERSION. */
void ctl_header_encode(struct ctl_writer *w, uint8_t type, uint32_t id, uint32_t length);

/* Is type a request a server understands? */
int ctl_type_is_request(uint8_t type);
const char *ctl_type_name(uint8_t type);
const char *ctl_err_name(int code);

/* ---- messages ---- */

/* A whole message (header + payload) into buf; returns its size, or 0 when
 * cap is too small. */
size_t ctl_encode_simple(uint8_t *buf, size_t cap, uint8_t type, uint32_t id); /* no payload */
size_t ctl_encode_set_nice(uint8_t *buf, size_t cap, uint32_t id, int nice);
size_t ctl_encode_ok(uint8_t *buf, size_t cap, uint32_t id, const char *msg);
size_t ctl_encode_error(uint8_t *buf, size_t cap, uint32_t id, int code, const char *msg);

/* Payload decoders: CTL_E_OK or CTL_E_MALFORMED (also for trailing bytes). */
int ctl_decode_set_nice(const uint8_t *payload, size_t len, int *nice);
int ctl_decode_ok(const uint8_t *payload, size_t len, char *msg, size_t cap);
int ctl_decode_error(const uint8_t *payload, size_t len, int *code, char *msg, size_t cap);

struct ctl_totals {
	uint64_t accepted, active, requests, bytes_in, bytes_out;
	uint64_t status[5]; /* responses 1xx, 2xx, 3xx, 4xx, 5xx */
};

struct ctl_worker {
	uint32_t pid;
	uint32_t generation;
	uint16_t slot;
	char state; /* from /proc/PID/stat: R, S, D, T, Z, ... ('?' unknown) */
	int8_t nice;
	uint64_t cpu_ms; /* user + system */
	uint64_t rss_bytes;
	uint64_t active; /* connections open now */
	uint64_t requests; /* answered since it started */
	uint64_t bytes_out;
};

struct ctl_status {
	char version[32];
	uint32_t pid;
	uint64_t uptime_ms;
	char config_file[CTL_MAX_STRING + 1]; /* "" when none */
	uint32_t generation;
	uint16_t nlisteners;
	char listeners[CTL_MAX_LISTENERS][128];
	struct ctl_totals totals; /* since the start, including replaced workers */
	uint16_t nworkers;
	struct ctl_worker workers[CTL_MAX_WORKERS];
};

/* STATUS reply: payload only (the caller writes the header with its length). */
void ctl_status_encode(struct ctl_writer *w, const struct ctl_status *st);
int ctl_status_decode(const uint8_t *payload, size_t len, struct ctl_status *st);

#endif
