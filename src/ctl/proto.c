/* proto.c: the control protocol codec (proto.h, docs/control-protocol.md).
 *
 * The master and every client (`hearth status`, `hearth top`, `hearth ctl`)
 * agree on the bytes through this file alone. It is pure — no I/O, no
 * allocation, no mutable state — so it can be unit-tested and fuzzed on its
 * own, and every integer goes through the explicit-width big-endian put/get
 * helpers so the wire format never depends on a compiler's struct layout or
 * the CPU's byte order. Writers stop at their capacity and set `overflow`;
 * readers stop at their length and set `bad`; decoders accept exactly the
 * bytes the encoders produce (decode(encode(x)) == x and encode(decode(p)) ==
 * p), anything else is CTL_E_MALFORMED.
 */
#include "ctl/proto.h"

#include <string.h>

/* ---- byte-order helpers ---- */

void ctl_writer_init(struct ctl_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->overflow = 0;
}

/* Room for n more bytes? Sets overflow when not; after the first overflow
 * nothing more is written, so len is the size of a valid prefix. */
static int ctl_room(struct ctl_writer *w, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return 0;
	}
	return 1;
}

/* Big-endian, nbytes wide (1..8). */
static void ctl_put_be(struct ctl_writer *w, uint64_t v, unsigned nbytes)
{
	if (!ctl_room(w, nbytes))
		return;
	for (unsigned i = 0; i < nbytes; i++)
		w->buf[w->len + i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
	w->len += nbytes;
}

void ctl_put_u8(struct ctl_writer *w, uint8_t v)
{
	ctl_put_be(w, v, 1);
}

void ctl_put_u16(struct ctl_writer *w, uint16_t v)
{
	ctl_put_be(w, v, 2);
}

void ctl_put_u32(struct ctl_writer *w, uint32_t v)
{
	ctl_put_be(w, v, 4);
}

void ctl_put_u64(struct ctl_writer *w, uint64_t v)
{
	ctl_put_be(w, v, 8);
}

void ctl_put_str(struct ctl_writer *w, const char *s, size_t n)
{
	if (!s)
		n = 0;
	if (n > CTL_MAX_STRING)
		n = CTL_MAX_STRING;
	if (!ctl_room(w, 2 + n))
		return;
	ctl_put_u16(w, (uint16_t)n);
	if (n)
		memcpy(w->buf + w->len, s, n);
	w->len += n;
}

void ctl_reader_init(struct ctl_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = buf ? len : 0;
	r->off = 0;
	r->bad = 0;
}

/* Big-endian, nbytes wide; 0 and bad when fewer than nbytes are left (off
 * does not move, and a bad reader reads nothing more). */
static uint64_t ctl_get_be(struct ctl_reader *r, unsigned nbytes)
{
	if (r->bad || nbytes > r->len - r->off) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < nbytes; i++)
		v = v << 8 | r->buf[r->off + i];
	r->off += nbytes;
	return v;
}

uint8_t ctl_get_u8(struct ctl_reader *r)
{
	return (uint8_t)ctl_get_be(r, 1);
}

uint16_t ctl_get_u16(struct ctl_reader *r)
{
	return (uint16_t)ctl_get_be(r, 2);
}

uint32_t ctl_get_u32(struct ctl_reader *r)
{
	return (uint32_t)ctl_get_be(r, 4);
}

uint64_t ctl_get_u64(struct ctl_reader *r)
{
	return ctl_get_be(r, 8);
}

/* A string must fit out with its NUL, be at most CTL_MAX_STRING bytes, be
 * wholly inside the input, and hold no NUL byte (a C string could not carry
 * it: the caller would see a shorter string than was sent). On any of these
 * the reader goes bad, out is "" and nothing past the length is consumed. */
size_t ctl_get_str(struct ctl_reader *r, char *out, size_t cap)
{
	if (out && cap)
		out[0] = '\0';
	size_t n = ctl_get_u16(r);
	if (r->bad)
		return 0;
	if (!out || n > CTL_MAX_STRING || n >= cap || n > r->len - r->off ||
	    (n && memchr(r->buf + r->off, '\0', n))) {
		r->bad = 1;
		return 0;
	}
	if (n)
		memcpy(out, r->buf + r->off, n);
	out[n] = '\0';
	r->off += n;
	return n;
}

/* strlen, but never looking at more than max bytes. */
static size_t ctl_strnlen(const char *s, size_t max)
{
	size_t n = 0;
	if (!s)
		return 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* A NUL-terminated string (NULL is ""), cut at CTL_MAX_STRING. */
static void ctl_put_cstr(struct ctl_writer *w, const char *s)
{
	ctl_put_str(w, s, ctl_strnlen(s, CTL_MAX_STRING));
}

/* ---- header ---- */

int ctl_header_decode(const uint8_t *buf, size_t len, struct ctl_header *h)
{
	struct ctl_reader r;

	memset(h, 0, sizeof *h);
	if (len < 4)
		return CTL_E_PARTIAL;
	ctl_reader_init(&r, buf, len);
	/* garbage is refused as soon as it shows, not after 16 bytes */
	if (ctl_get_u32(&r) != CTL_MAGIC)
		return CTL_E_MAGIC;
	if (len < CTL_HEADER_SIZE)
		return CTL_E_PARTIAL;
	h->version = ctl_get_u8(&r);
	h->type = ctl_get_u8(&r);
	h->flags = ctl_get_u16(&r);
	h->id = ctl_get_u32(&r);
	h->length = ctl_get_u32(&r);
	if (h->version != CTL_VERSION)
		return CTL_E_VERSION;
	return CTL_E_OK;
}

void ctl_header_encode(struct ctl_writer *w, uint8_t type, uint32_t id, uint32_t length)
{
	if (!ctl_room(w, CTL_HEADER_SIZE))
		return;
	ctl_put_u32(w, CTL_MAGIC);
	ctl_put_u8(w, CTL_VERSION);
	ctl_put_u8(w, type);
	ctl_put_u16(w, 0);
	ctl_put_u32(w, id);
	ctl_put_u32(w, length);
}

int ctl_type_is_request(uint8_t type)
{
	return type >= CTL_STATUS && type <= CTL_SET_NICE;
}

const char *ctl_type_name(uint8_t type)
{
	switch (type) {
	case CTL_STATUS: return "STATUS";
	case CTL_RELOAD: return "RELOAD";
	case CTL_STOP: return "STOP";
	case CTL_QUIT: return "QUIT";
	case CTL_REOPEN: return "REOPEN";
	case CTL_SET_NICE: return "SET_NICE";
	case CTL_OK: return "OK";
	case CTL_STATUS_REPLY: return "STATUS_REPLY";
	case CTL_ERROR: return "ERROR";
	default: return "UNKNOWN";
	}
}

const char *ctl_err_name(int code)
{
	switch (code) {
	case CTL_E_OK: return "ok";
	case CTL_E_PARTIAL: return "incomplete message";
	case CTL_E_MAGIC: return "not a hearth control message";
	case CTL_E_VERSION: return "version mismatch";
	case CTL_E_TYPE: return "unknown message type";
	case CTL_E_TOO_LARGE: return "message too large";
	case CTL_E_MALFORMED: return "malformed message";
	case CTL_E_PERMISSION: return "permission denied";
	case CTL_E_FAILED: return "request failed";
	case CTL_E_UNSUPPORTED: return "not supported";
	default: return "unknown error";
	}
}

/* ---- messages ---- */

/* Header + payload written by the caller after ctl_msg_begin(); ctl_msg_end()
 * patches the length and gives the size, or 0 when it did not fit. */
static void ctl_msg_begin(struct ctl_writer *w, uint8_t *buf, size_t cap, uint8_t type, uint32_t id)
{
	ctl_writer_init(w, buf, cap);
	ctl_header_encode(w, type, id, 0);
}

static size_t ctl_msg_end(struct ctl_writer *w)
{
	if (w->overflow)
		return 0;
	size_t payload = w->len - CTL_HEADER_SIZE;
	struct ctl_writer lw;
	ctl_writer_init(&lw, w->buf + 12, 4);
	ctl_put_u32(&lw, (uint32_t)payload);
	return w->len;
}

size_t ctl_encode_simple(uint8_t *buf, size_t cap, uint8_t type, uint32_t id)
{
	struct ctl_writer w;
	ctl_msg_begin(&w, buf, cap, type, id);
	return ctl_msg_end(&w);
}

/* Like setpriority(2), a nice value out of range is clamped to it. */
static int ctl_clamp_nice(int nice)
{
	return nice < -20 ? -20 : nice > 19 ? 19 : nice;
}

size_t ctl_encode_set_nice(uint8_t *buf, size_t cap, uint32_t id, int nice)
{
	struct ctl_writer w;
	ctl_msg_begin(&w, buf, cap, CTL_SET_NICE, id);
	ctl_put_u8(&w, (uint8_t)ctl_clamp_nice(nice)); /* two's complement */
	return ctl_msg_end(&w);
}

size_t ctl_encode_ok(uint8_t *buf, size_t cap, uint32_t id, const char *msg)
{
	struct ctl_writer w;
	ctl_msg_begin(&w, buf, cap, CTL_OK, id);
	ctl_put_cstr(&w, msg);
	return ctl_msg_end(&w);
}

size_t ctl_encode_error(uint8_t *buf, size_t cap, uint32_t id, int code, const char *msg)
{
	struct ctl_writer w;
	ctl_msg_begin(&w, buf, cap, CTL_ERROR, id);
	ctl_put_u16(&w, (uint16_t)code);
	ctl_put_cstr(&w, msg);
	return ctl_msg_end(&w);
}

/* An i8 from its two's complement byte, without implementation-defined casts. */
static int ctl_i8(uint8_t b)
{
	return b < 0x80 ? (int)b : (int)b - 0x100;
}

static int ctl_nice_ok(int nice)
{
	return nice >= -20 && nice <= 19;
}

/* The reader consumed all of the payload and nothing went wrong. */
static int ctl_done(const struct ctl_reader *r)
{
	return !r->bad && r->off == r->len ? CTL_E_OK : CTL_E_MALFORMED;
}

int ctl_decode_set_nice(const uint8_t *payload, size_t len, int *nice)
{
	if (len != 1 || !payload)
		return CTL_E_MALFORMED;
	int v = ctl_i8(payload[0]);
	if (!ctl_nice_ok(v))
		return CTL_E_MALFORMED;
	*nice = v;
	return CTL_E_OK;
}

int ctl_decode_ok(const uint8_t *payload, size_t len, char *msg, size_t cap)
{
	struct ctl_reader r;
	ctl_reader_init(&r, payload, len);
	ctl_get_str(&r, msg, cap);
	return ctl_done(&r);
}

int ctl_decode_error(const uint8_t *payload, size_t len, int *code, char *msg, size_t cap)
{
	struct ctl_reader r;
	ctl_reader_init(&r, payload, len);
	int c = ctl_get_u16(&r);
	ctl_get_str(&r, msg, cap);
	int ret = ctl_done(&r);
	if (ret == CTL_E_OK)
		*code = c;
	return ret;
}

/* ---- STATUS reply ---- */

/* The process state is one printable ASCII character ('?' when unknown). */
static int ctl_state_ok(unsigned c)
{
	return c > 0x20 && c < 0x7f;
}

/* A fixed char array of size n as a string: at most n - 1 bytes, so what is
 * written always fits the same array on the other side. */
#define CTL_PUT_FIELD(w, field) ctl_put_str((w), (field), ctl_strnlen((field), sizeof(field) - 1))

void ctl_status_encode(struct ctl_writer *w, const struct ctl_status *st)
{
	unsigned nl = st->nlisteners > CTL_MAX_LISTENERS ? CTL_MAX_LISTENERS : st->nlisteners;
	unsigned nw = st->nworkers > CTL_MAX_WORKERS ? CTL_MAX_WORKERS : st->nworkers;

	CTL_PUT_FIELD(w, st->version);
	ctl_put_u32(w, st->pid);
	ctl_put_u64(w, st->uptime_ms);
	CTL_PUT_FIELD(w, st->config_file);
	ctl_put_u32(w, st->generation);
	ctl_put_u16(w, (uint16_t)nl);
	for (unsigned i = 0; i < nl; i++)
		CTL_PUT_FIELD(w, st->listeners[i]);

	const struct ctl_totals *t = &st->totals;
	ctl_put_u64(w, t->accepted);
	ctl_put_u64(w, t->active);
	ctl_put_u64(w, t->requests);
	ctl_put_u64(w, t->bytes_in);
	ctl_put_u64(w, t->bytes_out);
	for (unsigned i = 0; i < 5; i++)
		ctl_put_u64(w, t->status[i]);

	ctl_put_u16(w, (uint16_t)nw);
	for (unsigned i = 0; i < nw; i++) {
		const struct ctl_worker *k = &st->workers[i];
		unsigned char state = (unsigned char)k->state;
		ctl_put_u32(w, k->pid);
		ctl_put_u32(w, k->generation);
		ctl_put_u16(w, k->slot);
		ctl_put_u8(w, ctl_state_ok(state) ? state : '?');
		ctl_put_u8(w, (uint8_t)ctl_clamp_nice(k->nice));
		ctl_put_u64(w, k->cpu_ms);
		ctl_put_u64(w, k->rss_bytes);
		ctl_put_u64(w, k->active);
		ctl_put_u64(w, k->requests);
		ctl_put_u64(w, k->bytes_out);
	}
}

int ctl_status_decode(const uint8_t *payload, size_t len, struct ctl_status *st)
{
	struct ctl_reader r;

	memset(st, 0, sizeof *st);
	ctl_reader_init(&r, payload, len);
	ctl_get_str(&r, st->version, sizeof st->version);
	st->pid = ctl_get_u32(&r);
	st->uptime_ms = ctl_get_u64(&r);
	ctl_get_str(&r, st->config_file, sizeof st->config_file);
	st->generation = ctl_get_u32(&r);
	st->nlisteners = ctl_get_u16(&r);
	if (r.bad || st->nlisteners > CTL_MAX_LISTENERS)
		return CTL_E_MALFORMED;
	for (unsigned i = 0; i < st->nlisteners; i++)
		ctl_get_str(&r, st->listeners[i], sizeof st->listeners[i]);

	struct ctl_totals *t = &st->totals;
	t->accepted = ctl_get_u64(&r);
	t->active = ctl_get_u64(&r);
	t->requests = ctl_get_u64(&r);
	t->bytes_in = ctl_get_u64(&r);
	t->bytes_out = ctl_get_u64(&r);
	for (unsigned i = 0; i < 5; i++)
		t->status[i] = ctl_get_u64(&r);

	st->nworkers = ctl_get_u16(&r);
	if (r.bad || st->nworkers > CTL_MAX_WORKERS)
		return CTL_E_MALFORMED;
	for (unsigned i = 0; i < st->nworkers && !r.bad; i++) {
		struct ctl_worker *k = &st->workers[i];
		k->pid = ctl_get_u32(&r);
		k->generation = ctl_get_u32(&r);
		k->slot = ctl_get_u16(&r);
		uint8_t state = ctl_get_u8(&r);
		int nice = ctl_i8(ctl_get_u8(&r));
		k->cpu_ms = ctl_get_u64(&r);
		k->rss_bytes = ctl_get_u64(&r);
		k->active = ctl_get_u64(&r);
		k->requests = ctl_get_u64(&r);
		k->bytes_out = ctl_get_u64(&r);
		if (r.bad || !ctl_state_ok(state) || !ctl_nice_ok(nice))
			return CTL_E_MALFORMED;
		k->state = (char)state;
		k->nice = (int8_t)nice;
	}
	return ctl_done(&r);
}
