/* record.h: the FastCGI 1.0 record codec (Responder role).
 *
 * Pure: bytes in, structs out, no I/O, no allocation, no globals. Every field
 * is packed and unpacked one byte at a time in the specification's order
 * (big-endian), never by copying a C struct. fcgi_parser reassembles records
 * from a byte stream cut at arbitrary places and reports their content as it
 * arrives; anything out of range is an error, never a crash.
 */
#ifndef HEARTH_FCGI_RECORD_H
#define HEARTH_FCGI_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535u
#define FCGI_KEEP_CONN 1
#define FCGI_RESPONDER 1

enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11,
};

enum fcgi_protocol_status {
	FCGI_REQUEST_COMPLETE = 0,
	FCGI_CANT_MPX_CONN = 1,
	FCGI_OVERLOADED = 2,
	FCGI_UNKNOWN_ROLE = 3,
};

enum fcgi_err {
	FCGI_E_VERSION = -1, /* version is not 1 */
	FCGI_E_TYPE = -2, /* a record type a web server never receives (or no longer: STDOUT after its end) */
	FCGI_E_ID = -3, /* a request id other than the one expected */
	FCGI_E_LENGTH = -4, /* a length that does not fit the record type */
	FCGI_E_NV = -5, /* malformed name-value pair */
};

struct fcgi_header {
	uint8_t version;
	uint8_t type;
	uint16_t request_id;
	uint16_t content_length;
	uint8_t padding_length;
};

/* ---- writing (web server -> application) ---- */

/* Padding that brings clen to a multiple of 8. */
uint8_t fcgi_padding(uint16_t clen);
/* The 8-byte header of a record. */
void fcgi_header_encode(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t request_id, uint16_t clen,
                        uint8_t plen);
/* BEGIN_REQUEST (Responder) with or without FCGI_KEEP_CONN: 16 bytes. */
size_t fcgi_begin_request(uint8_t out[16], uint16_t request_id, int keep_conn);
/* ABORT_REQUEST: 8 bytes. */
size_t fcgi_abort_request(uint8_t out[8], uint16_t request_id);
/* Size of one name-value pair on the wire (1- or 4-byte lengths). */
size_t fcgi_nv_size(size_t nlen, size_t vlen);
/* Append one pair to out; bytes written, 0 when it does not fit in cap or a
 * length is over 2^31 - 1. */
size_t fcgi_nv_encode(uint8_t *out, size_t cap, const char *name, size_t nlen, const char *value,
                      size_t vlen);
/* The same without the value: the lengths and the name, when the caller
 * writes the vlen value bytes after them itself. Bytes written, or 0. */
size_t fcgi_nv_encode_head(uint8_t *out, size_t cap, const char *name, size_t nlen, size_t vlen);

/* ---- reading (application -> web server) ---- */

/* Decode 8 header bytes. 0, or FCGI_E_VERSION. */
int fcgi_header_decode(const uint8_t in[FCGI_HEADER_LEN], struct fcgi_header *h);

/* One name-value pair at in[0..len): bytes used (> 0), 0 when more bytes are
 * needed, FCGI_E_NV when malformed. name and value point into in. */
int fcgi_nv_decode(const uint8_t *in, size_t len, const uint8_t **name, uint32_t *nlen, const uint8_t **value,
                   uint32_t *vlen);

/* Stream reassembly of the records an application sends for one request. */
struct fcgi_parser {
	uint16_t request_id; /* expected id */
	uint8_t hdr[FCGI_HEADER_LEN];
	uint8_t hdr_len; /* header bytes collected */
	struct fcgi_header cur;
	uint32_t content_left; /* of the current record */
	uint32_t padding_left;
	uint8_t end[8]; /* END_REQUEST body collected */
	uint8_t end_len;
	int done; /* END_REQUEST seen */
	int stdout_ended; /* the empty STDOUT record seen */
};

enum fcgi_event_type {
	FCGI_EV_STDOUT = 1, /* data, len: bytes of application output (len may be 0 only at a record's end) */
	FCGI_EV_STDERR, /* data, len: bytes of error output */
	FCGI_EV_END, /* app_status, protocol_status */
};

struct fcgi_event {
	enum fcgi_event_type type;
	const uint8_t *data;
	size_t len;
	uint32_t app_status;
	uint8_t protocol_status;
};

void fcgi_parser_init(struct fcgi_parser *p, uint16_t request_id);
/* Consume bytes from in[0..len) until one event is ready. Returns 1 with *ev
 * filled (its data points into in), 0 when all input was used and nothing is
 * ready, or a negative FCGI_E_* error. *used is the input consumed either way.
 * After FCGI_EV_END, further bytes are an error (FCGI_E_LENGTH). Records of
 * other types the application may send (GET_VALUES_RESULT, UNKNOWN_TYPE) are
 * skipped when their request id is 0 (management records), FCGI_E_ID
 * otherwise; BEGIN/ABORT/PARAMS/STDIN/DATA/GET_VALUES are FCGI_E_TYPE. An
 * empty STDOUT or STDERR record produces no event; the empty STDOUT record
 * ends that stream, and any STDOUT record after it is FCGI_E_TYPE. */
int fcgi_parse(struct fcgi_parser *p, const uint8_t *in, size_t len, size_t *used, struct fcgi_event *ev);

#endif
