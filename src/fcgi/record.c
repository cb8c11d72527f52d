/* record.c: the FastCGI 1.0 record codec (record.h).
 *
 * Writers lay every field out byte by byte in the specification's order;
 * readers take it apart the same way, so nothing depends on a struct layout
 * or the CPU's byte order. fcgi_parse is a small state machine over the
 * fields of struct fcgi_parser: while hdr_len < FCGI_HEADER_LEN it collects
 * header bytes (a header may arrive one byte at a time); once the header is
 * whole and checked, it is inside a record and counts content_left and then
 * padding_left down to zero, reporting STDOUT/STDERR content straight from the
 * caller's buffer and copying the 8-byte END_REQUEST body aside. END is
 * reported only after that record's padding, so once it is out, every later
 * byte is an error. After an error the parser is not meant to be used again
 * (the connection to the application is to be dropped).
 */
#include "fcgi/record.h"

#include <limits.h>
#include <string.h>

/* ---- writing ---- */

uint8_t fcgi_padding(uint16_t clen)
{
	return (uint8_t)((8u - (clen & 7u)) & 7u);
}

void fcgi_header_encode(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t request_id, uint16_t clen,
                        uint8_t plen)
{
	out[0] = FCGI_VERSION_1;
	out[1] = type;
	out[2] = (uint8_t)(request_id >> 8);
	out[3] = (uint8_t)(request_id & 0xff);
	out[4] = (uint8_t)(clen >> 8);
	out[5] = (uint8_t)(clen & 0xff);
	out[6] = plen;
	out[7] = 0;
}

size_t fcgi_begin_request(uint8_t out[16], uint16_t request_id, int keep_conn)
{
	fcgi_header_encode(out, FCGI_BEGIN_REQUEST, request_id, 8, 0);
	out[8] = (uint8_t)(FCGI_RESPONDER >> 8);
	out[9] = (uint8_t)(FCGI_RESPONDER & 0xff);
	out[10] = keep_conn ? FCGI_KEEP_CONN : 0;
	memset(out + 11, 0, 5);
	return 16;
}

size_t fcgi_abort_request(uint8_t out[8], uint16_t request_id)
{
	fcgi_header_encode(out, FCGI_ABORT_REQUEST, request_id, 0, 0);
	return FCGI_HEADER_LEN;
}

/* Bytes that encode a name or value length. */
static size_t fcgi_nv_lensize(size_t n)
{
	return n < 128 ? 1 : 4;
}

size_t fcgi_nv_size(size_t nlen, size_t vlen)
{
	size_t head = fcgi_nv_lensize(nlen) + fcgi_nv_lensize(vlen);
	if (nlen > SIZE_MAX - head || vlen > SIZE_MAX - head - nlen)
		return SIZE_MAX; /* absurd lengths: saturate rather than wrap */
	return head + nlen + vlen;
}

static size_t fcgi_nv_putlen(uint8_t *out, size_t n)
{
	if (n < 128) {
		out[0] = (uint8_t)n;
		return 1;
	}
	out[0] = (uint8_t)(0x80 | (n >> 24));
	out[1] = (uint8_t)((n >> 16) & 0xff);
	out[2] = (uint8_t)((n >> 8) & 0xff);
	out[3] = (uint8_t)(n & 0xff);
	return 4;
}

size_t fcgi_nv_encode_head(uint8_t *out, size_t cap, const char *name, size_t nlen, size_t vlen)
{
	if (nlen > 0x7fffffffu || vlen > 0x7fffffffu)
		return 0;
	size_t need = fcgi_nv_size(nlen, vlen);
	if (need > cap)
		return 0;
	size_t pos = fcgi_nv_putlen(out, nlen);
	pos += fcgi_nv_putlen(out + pos, vlen);
	if (nlen)
		memcpy(out + pos, name, nlen);
	return pos + nlen;
}

size_t fcgi_nv_encode(uint8_t *out, size_t cap, const char *name, size_t nlen, const char *value, size_t vlen)
{
	size_t pos = fcgi_nv_encode_head(out, cap, name, nlen, vlen);
	if (!pos)
		return 0;
	if (vlen)
		memcpy(out + pos, value, vlen);
	return pos + vlen;
}

/* ---- reading ---- */

int fcgi_header_decode(const uint8_t in[FCGI_HEADER_LEN], struct fcgi_header *h)
{
	h->version = in[0];
	h->type = in[1];
	h->request_id = (uint16_t)(in[2] << 8 | in[3]);
	h->content_length = (uint16_t)(in[4] << 8 | in[5]);
	h->padding_length = in[6];
	/* in[7] is reserved: ignored */
	return h->version == FCGI_VERSION_1 ? 0 : FCGI_E_VERSION;
}

/* One length of a pair at in[*pos..len): 1 when read, 0 when more bytes are
 * needed, FCGI_E_NV when a 4-byte length holds a value under 128 (the
 * encoding is canonical: such a length is always written in one byte). */
static int fcgi_nv_getlen(const uint8_t *in, size_t len, size_t *pos, uint32_t *out)
{
	if (*pos >= len)
		return 0;
	const uint8_t *b = in + *pos;
	if (!(b[0] & 0x80)) {
		*out = b[0];
		*pos += 1;
		return 1;
	}
	if (len - *pos < 4)
		return 0;
	uint32_t n = (uint32_t)(b[0] & 0x7f) << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	if (n < 128)
		return FCGI_E_NV;
	*out = n;
	*pos += 4;
	return 1;
}

int fcgi_nv_decode(const uint8_t *in, size_t len, const uint8_t **name, uint32_t *nlen, const uint8_t **value,
                   uint32_t *vlen)
{
	size_t pos = 0;
	uint32_t n, v;
	int r = fcgi_nv_getlen(in, len, &pos, &n);
	if (r <= 0)
		return r;
	r = fcgi_nv_getlen(in, len, &pos, &v);
	if (r <= 0)
		return r;
	/* The answer is an int: a pair bigger than INT_MAX cannot be reported. */
	uint64_t total = (uint64_t)pos + n + v;
	if (total > INT_MAX)
		return FCGI_E_NV;
	if (total > len)
		return 0;
	*name = in + pos;
	*nlen = n;
	*value = in + pos + n;
	*vlen = v;
	return (int)total;
}

void fcgi_parser_init(struct fcgi_parser *p, uint16_t request_id)
{
	memset(p, 0, sizeof *p);
	p->request_id = request_id;
}

/* The header just completed in p->hdr: check it and enter the record. */
static int fcgi_parser_begin_record(struct fcgi_parser *p)
{
	struct fcgi_header *h = &p->cur;
	if (fcgi_header_decode(p->hdr, h) < 0)
		return FCGI_E_VERSION;
	switch (h->type) {
	case FCGI_STDOUT:
		if (h->request_id != p->request_id)
			return FCGI_E_ID;
		/* output after the end of the stream: whatever the gateway did with
		 * the end (the response may be complete), this is not a response */
		if (p->stdout_ended)
			return FCGI_E_TYPE;
		if (h->content_length == 0)
			p->stdout_ended = 1;
		break;
	case FCGI_STDERR:
		if (h->request_id != p->request_id)
			return FCGI_E_ID;
		break;
	case FCGI_END_REQUEST:
		if (h->request_id != p->request_id)
			return FCGI_E_ID;
		if (h->content_length != sizeof p->end)
			return FCGI_E_LENGTH;
		break;
	case FCGI_GET_VALUES_RESULT:
	case FCGI_UNKNOWN_TYPE:
		/* management records (skipped) have id 0; with a request's id they
		 * are no record an application sends */
		if (h->request_id != 0)
			return FCGI_E_ID;
		break;
	default: return FCGI_E_TYPE;
	}
	p->content_left = h->content_length;
	p->padding_left = h->padding_length;
	p->end_len = 0;
	return 0;
}

int fcgi_parse(struct fcgi_parser *p, const uint8_t *in, size_t len, size_t *used, struct fcgi_event *ev)
{
	size_t pos = 0;
	*used = 0;
	if (p->done)
		return len ? FCGI_E_LENGTH : 0;
	for (;;) {
		if (p->hdr_len < FCGI_HEADER_LEN) {
			if (pos == len)
				break;
			size_t n = FCGI_HEADER_LEN - p->hdr_len;
			if (n > len - pos)
				n = len - pos;
			memcpy(p->hdr + p->hdr_len, in + pos, n);
			p->hdr_len = (uint8_t)(p->hdr_len + n);
			pos += n;
			if (p->hdr_len < FCGI_HEADER_LEN)
				break;
			int r = fcgi_parser_begin_record(p);
			if (r < 0) {
				*used = pos;
				return r;
			}
			continue;
		}
		if (p->content_left > 0) {
			if (pos == len)
				break;
			size_t n = p->content_left;
			if (n > len - pos)
				n = len - pos;
			const uint8_t *data = in + pos;
			pos += n;
			p->content_left -= (uint32_t)n;
			if (p->cur.type == FCGI_STDOUT || p->cur.type == FCGI_STDERR) {
				memset(ev, 0, sizeof *ev);
				ev->type = p->cur.type == FCGI_STDOUT ? FCGI_EV_STDOUT : FCGI_EV_STDERR;
				ev->data = data;
				ev->len = n;
				*used = pos;
				return 1;
			}
			if (p->cur.type == FCGI_END_REQUEST) {
				memcpy(p->end + p->end_len, data, n); /* content_length is 8: fits */
				p->end_len = (uint8_t)(p->end_len + n);
			}
			continue;
		}
		if (p->padding_left > 0) {
			if (pos == len)
				break;
			size_t n = p->padding_left;
			if (n > len - pos)
				n = len - pos;
			pos += n;
			p->padding_left -= (uint32_t)n;
			continue;
		}
		/* the record is complete */
		p->hdr_len = 0;
		if (p->cur.type == FCGI_END_REQUEST) {
			p->done = 1;
			memset(ev, 0, sizeof *ev);
			ev->type = FCGI_EV_END;
			ev->app_status = (uint32_t)p->end[0] << 24 | (uint32_t)p->end[1] << 16 |
			                 (uint32_t)p->end[2] << 8 | p->end[3];
			ev->protocol_status = p->end[4];
			*used = pos;
			return 1;
		}
	}
	*used = pos;
	return 0;
}
