/* fuzz_ctl.c: libFuzzer target for the control protocol codec (src/ctl/proto.c).
 *
 * The input goes to ctl_header_decode() first, whose answer must agree with
 * the bytes (PARTIAL below 16 bytes unless the magic is already wrong, MAGIC
 * from 4 bytes on, VERSION with h.version set). Then a payload goes to one of
 * the payload decoders:
 *   - a valid header picks by its type and the payload is everything after it
 *     (so real messages are good seeds);
 *   - otherwise the first byte picks (0 STATUS reply, 1 SET_NICE, 2 OK,
 *     3 ERROR, modulo 4) and the payload is the rest.
 * The payload always ends where the input ends, so a read past it is caught
 * by ASan. A decoder may only answer OK or MALFORMED; what it accepts must
 * re-encode to exactly the same bytes (the codec is canonical), decode again
 * to the same values, and re-encoding into one byte less must fail without
 * writing past the smaller buffer.
 *
 * Seeds: tests/fuzz/corpus/ctl/, written by `test_ctlproto --write-seeds DIR`.
 * Run: ./fuzz_ctl -max_total_time=60 tests/fuzz/corpus/ctl
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctl_status st1, st2;
static uint8_t out[1 << 17]; /* > the biggest STATUS message (about 62 KB) */

static void require(int cond)
{
	if (!cond)
		abort();
}

static void check_cstr(const char *s, size_t cap)
{
	require(memchr(s, '\0', cap) != NULL);
}

/* Re-encoding into cap = size - 1 must fail and stay inside those bytes (an
 * exact-size heap buffer, so ASan sees a write past it). */
static void check_short_cap(size_t full, size_t (*enc)(uint8_t *buf, size_t cap, const void *arg),
                            const void *arg)
{
	if (full == 0)
		return;
	uint8_t *small = malloc(full - 1 ? full - 1 : 1);
	require(small != NULL);
	require(enc(small, full - 1, arg) == 0);
	free(small);
}

static size_t enc_status(uint8_t *buf, size_t cap, const void *arg)
{
	struct ctl_writer w;
	ctl_writer_init(&w, buf, cap);
	ctl_status_encode(&w, arg);
	require(w.len <= cap);
	return w.overflow ? 0 : w.len;
}

static void status_same(const struct ctl_status *a, const struct ctl_status *b)
{
	require(strcmp(a->version, b->version) == 0);
	require(a->pid == b->pid && a->uptime_ms == b->uptime_ms);
	require(strcmp(a->config_file, b->config_file) == 0);
	require(a->generation == b->generation && a->nlisteners == b->nlisteners);
	for (unsigned i = 0; i < a->nlisteners; i++)
		require(strcmp(a->listeners[i], b->listeners[i]) == 0);
	require(memcmp(&a->totals, &b->totals, sizeof a->totals) == 0); /* all u64, no padding */
	require(a->nworkers == b->nworkers);
	for (unsigned i = 0; i < a->nworkers; i++) {
		const struct ctl_worker *x = &a->workers[i], *y = &b->workers[i];
		require(x->pid == y->pid && x->generation == y->generation && x->slot == y->slot);
		require(x->state == y->state && x->nice == y->nice && x->cpu_ms == y->cpu_ms);
		require(x->rss_bytes == y->rss_bytes && x->active == y->active);
		require(x->requests == y->requests && x->bytes_out == y->bytes_out);
	}
}

static void fuzz_status(const uint8_t *p, size_t n)
{
	int r = ctl_status_decode(p, n, &st1);
	require(r == CTL_E_OK || r == CTL_E_MALFORMED);
	if (r != CTL_E_OK)
		return;
	require(st1.nlisteners <= CTL_MAX_LISTENERS && st1.nworkers <= CTL_MAX_WORKERS);
	check_cstr(st1.version, sizeof st1.version);
	check_cstr(st1.config_file, sizeof st1.config_file);
	for (unsigned i = 0; i < st1.nlisteners; i++)
		check_cstr(st1.listeners[i], sizeof st1.listeners[i]);
	for (unsigned i = 0; i < st1.nworkers; i++)
		require(st1.workers[i].nice >= -20 && st1.workers[i].nice <= 19);

	size_t m = enc_status(out, sizeof out, &st1);
	require(m == n && memcmp(out, p, n) == 0);
	require(ctl_status_decode(out, m, &st2) == CTL_E_OK);
	status_same(&st1, &st2);
	check_short_cap(m, enc_status, &st1);
}

static size_t enc_ok(uint8_t *buf, size_t cap, const void *arg)
{
	return ctl_encode_ok(buf, cap, 0, arg);
}

static void fuzz_ok(const uint8_t *p, size_t n)
{
	char msg[CTL_MAX_STRING + 1];
	int r = ctl_decode_ok(p, n, msg, sizeof msg);
	require(r == CTL_E_OK || r == CTL_E_MALFORMED);
	if (r != CTL_E_OK)
		return;
	check_cstr(msg, sizeof msg);
	size_t m = ctl_encode_ok(out, sizeof out, 0, msg);
	require(m == CTL_HEADER_SIZE + n && memcmp(out + CTL_HEADER_SIZE, p, n) == 0);
	check_short_cap(m, enc_ok, msg);
}

struct err_arg {
	int code;
	const char *msg;
};

static size_t enc_error(uint8_t *buf, size_t cap, const void *arg)
{
	const struct err_arg *e = arg;
	return ctl_encode_error(buf, cap, 0, e->code, e->msg);
}

static void fuzz_error(const uint8_t *p, size_t n)
{
	char msg[CTL_MAX_STRING + 1];
	int code = -1;
	int r = ctl_decode_error(p, n, &code, msg, sizeof msg);
	require(r == CTL_E_OK || r == CTL_E_MALFORMED);
	if (r != CTL_E_OK)
		return;
	require(code >= 0 && code <= 0xffff);
	check_cstr(msg, sizeof msg);
	(void)ctl_err_name(code);
	struct err_arg e = {code, msg};
	size_t m = enc_error(out, sizeof out, &e);
	require(m == CTL_HEADER_SIZE + n && memcmp(out + CTL_HEADER_SIZE, p, n) == 0);
	check_short_cap(m, enc_error, &e);
}

static void fuzz_set_nice(const uint8_t *p, size_t n)
{
	int nice = 1000;
	int r = ctl_decode_set_nice(p, n, &nice);
	require(r == CTL_E_OK || r == CTL_E_MALFORMED);
	if (r != CTL_E_OK) {
		require(nice == 1000);
		return;
	}
	require(n == 1 && nice >= -20 && nice <= 19);
	size_t m = ctl_encode_set_nice(out, sizeof out, 0, nice);
	require(m == CTL_HEADER_SIZE + 1 && out[CTL_HEADER_SIZE] == p[0]);
}

static void fuzz_header(const uint8_t *data, size_t size, struct ctl_header *h, int r)
{
	int magic_ok = size >= 4 && memcmp(data, "HRTH", 4) == 0;
	switch (r) {
	case CTL_E_PARTIAL: require(size < CTL_HEADER_SIZE && (size < 4 || magic_ok)); break;
	case CTL_E_MAGIC: require(size >= 4 && !magic_ok); break;
	case CTL_E_VERSION: require(size >= CTL_HEADER_SIZE && magic_ok && h->version == data[4]); break;
	case CTL_E_OK: {
		require(size >= CTL_HEADER_SIZE && magic_ok && h->version == CTL_VERSION);
		/* the same header written back: identical but for the flags */
		struct ctl_writer w;
		uint8_t hb[CTL_HEADER_SIZE];
		ctl_writer_init(&w, hb, sizeof hb);
		ctl_header_encode(&w, h->type, h->id, h->length);
		require(!w.overflow && w.len == CTL_HEADER_SIZE);
		require(memcmp(hb, data, 6) == 0 && memcmp(hb + 8, data + 8, 8) == 0);
		require(h->flags == ((unsigned)data[6] << 8 | data[7]));
		break;
	}
	default: abort();
	}
	require(strlen(ctl_type_name(h->type)) > 0);
	(void)ctl_type_is_request(h->type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_header h;
	int r = ctl_header_decode(data, size, &h);
	fuzz_header(data, size, &h, r);

	uint8_t type;
	const uint8_t *p;
	size_t n;
	if (r == CTL_E_OK) {
		type = h.type;
		p = data + CTL_HEADER_SIZE;
		n = size - CTL_HEADER_SIZE;
	} else if (size > 0) {
		static const uint8_t pick[4] = {CTL_STATUS_REPLY, CTL_SET_NICE, CTL_OK, CTL_ERROR};
		type = pick[data[0] % 4];
		p = data + 1;
		n = size - 1;
	} else {
		return 0;
	}
	switch (type) {
	case CTL_STATUS_REPLY: fuzz_status(p, n); break;
	case CTL_SET_NICE: fuzz_set_nice(p, n); break;
	case CTL_OK: fuzz_ok(p, n); break;
	case CTL_ERROR: fuzz_error(p, n); break;
	default: break;
	}
	return 0;
}
