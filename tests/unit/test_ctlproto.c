/* test_ctlproto.c: the control protocol codec (src/ctl/proto.h).
 *
 * The byte layout is checked against bytes written out by hand here (from
 * docs/control-protocol.md, not from proto.c), then every message round-trips
 * at its edges (0, 1 and CTL_MAX_WORKERS workers, CTL_MAX_LISTENERS listeners,
 * strings at their limits, negative nice, all-ones integers), and every way a
 * payload can be wrong must give CTL_E_MALFORMED: each truncation, trailing
 * bytes, oversized strings, too many entries, values out of range. Inputs are
 * copied into exact-size heap buffers so ASan sees any read past the end;
 * writers get a buffer with canary bytes after cap for every cap up to the
 * full size.
 *
 * `test_ctlproto --write-seeds DIR` writes the fuzz seeds
 * (tests/fuzz/corpus/ctl/) and exits.
 */
#include "check.h"
#include "ctl/proto.h"

#include <stdlib.h>

#define CANARY 16
#define CANARY_BYTE 0xa5

/* Biggest STATUS payload: every string and every array at its limit. */
#define STATUS_MAX_SIZE                                                                                      \
	((2 + 31) + 4 + 8 + (2 + CTL_MAX_STRING) + 4 + 2 + CTL_MAX_LISTENERS * (2 + 127) + 10 * 8 + 2 +      \
	 CTL_MAX_WORKERS * 52)

static struct ctl_status st_a, st_b;
static uint8_t big[1 << 17]; /* room for the malformed ones too */

/* An exact-size heap copy, so ASan catches a read past len. */
static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	if (!q)
		abort();
	if (n)
		memcpy(q, p, n);
	return q;
}

static int decode_status_copy(const uint8_t *p, size_t n, struct ctl_status *st)
{
	uint8_t *q = dup_bytes(p, n);
	int r = ctl_status_decode(q, n, st);
	free(q);
	return r;
}

static size_t encode_status(const struct ctl_status *st, uint8_t *buf, size_t cap)
{
	struct ctl_writer w;
	ctl_writer_init(&w, buf, cap);
	ctl_status_encode(&w, st);
	if (!CHECK(!w.overflow))
		return 0;
	return w.len;
}

static void fill_str(char *dst, size_t n, char c)
{
	memset(dst, c, n);
	dst[n] = '\0';
}

/* A status with varied values; every worker and listener distinct. */
static void make_status(struct ctl_status *st, unsigned nworkers, unsigned nlisteners, uint64_t seed)
{
	memset(st, 0, sizeof *st);
	snprintf(st->version, sizeof st->version, "0.1.%u", (unsigned)(seed % 100));
	st->pid = (uint32_t)check_rand_(&seed);
	st->uptime_ms = check_rand_(&seed);
	snprintf(st->config_file, sizeof st->config_file, "/etc/hearth/h%u.conf", (unsigned)(seed % 1000));
	st->generation = (uint32_t)check_rand_(&seed);
	st->nlisteners = (uint16_t)nlisteners;
	for (unsigned i = 0; i < nlisteners; i++)
		snprintf(st->listeners[i], sizeof st->listeners[i], "127.0.0.%u:%u", i, 8000 + i);
	st->totals.accepted = check_rand_(&seed);
	st->totals.active = check_rand_(&seed);
	st->totals.requests = check_rand_(&seed);
	st->totals.bytes_in = check_rand_(&seed);
	st->totals.bytes_out = check_rand_(&seed);
	for (int i = 0; i < 5; i++)
		st->totals.status[i] = check_rand_(&seed);
	st->nworkers = (uint16_t)nworkers;
	static const char states[] = "RSDTZtXI?";
	for (unsigned i = 0; i < nworkers; i++) {
		struct ctl_worker *k = &st->workers[i];
		k->pid = (uint32_t)check_rand_(&seed);
		k->generation = (uint32_t)check_rand_(&seed);
		k->slot = (uint16_t)i;
		k->state = states[i % (sizeof states - 1)];
		k->nice = (int8_t)((int)(i % 40) - 20);
		k->cpu_ms = check_rand_(&seed);
		k->rss_bytes = check_rand_(&seed);
		k->active = check_rand_(&seed);
		k->requests = check_rand_(&seed);
		k->bytes_out = check_rand_(&seed);
	}
}

/* Field by field; 1 when equal. */
static int status_equal(const struct ctl_status *a, const struct ctl_status *b)
{
	int ok = 1;
	ok &= CHECK_EQ_STR(a->version, b->version);
	ok &= CHECK_EQ_U64(a->pid, b->pid);
	ok &= CHECK_EQ_U64(a->uptime_ms, b->uptime_ms);
	ok &= CHECK_EQ_STR(a->config_file, b->config_file);
	ok &= CHECK_EQ_U64(a->generation, b->generation);
	ok &= CHECK_EQ_INT(a->nlisteners, b->nlisteners);
	if (!ok)
		return 0;
	for (unsigned i = 0; i < a->nlisteners; i++)
		if (!CHECK_EQ_STR(a->listeners[i], b->listeners[i]))
			return 0;
	ok &= CHECK_EQ_U64(a->totals.accepted, b->totals.accepted);
	ok &= CHECK_EQ_U64(a->totals.active, b->totals.active);
	ok &= CHECK_EQ_U64(a->totals.requests, b->totals.requests);
	ok &= CHECK_EQ_U64(a->totals.bytes_in, b->totals.bytes_in);
	ok &= CHECK_EQ_U64(a->totals.bytes_out, b->totals.bytes_out);
	for (int i = 0; i < 5; i++)
		ok &= CHECK_EQ_U64(a->totals.status[i], b->totals.status[i]);
	ok &= CHECK_EQ_INT(a->nworkers, b->nworkers);
	if (!ok)
		return 0;
	for (unsigned i = 0; i < a->nworkers; i++) {
		const struct ctl_worker *x = &a->workers[i], *y = &b->workers[i];
		/* one check per worker keeps the count readable; details on failure */
		if (x->pid != y->pid || x->generation != y->generation || x->slot != y->slot ||
		    x->state != y->state || x->nice != y->nice || x->cpu_ms != y->cpu_ms ||
		    x->rss_bytes != y->rss_bytes || x->active != y->active || x->requests != y->requests ||
		    x->bytes_out != y->bytes_out) {
			return CHECK_FAIL("worker %u differs: pid %u/%u state %d/%d nice %d/%d", i, x->pid,
			                  y->pid, x->state, y->state, x->nice, y->nice);
		}
	}
	return CHECK(ok);
}

/* Encode, decode from an exact-size copy, compare, and re-encode to the same
 * bytes. */
static void status_roundtrip(const char *name, const struct ctl_status *st)
{
	check_context("%s", name);
	size_t n = encode_status(st, big, sizeof big);
	if (!CHECK(n > 0))
		return;
	if (CHECK_EQ_INT(decode_status_copy(big, n, &st_b), CTL_E_OK))
		status_equal(st, &st_b);
	static uint8_t again[sizeof big];
	size_t m = encode_status(&st_b, again, sizeof again);
	CHECK_EQ_MEM(again, m, big, n);
	check_context(NULL);
}

/* ---- helpers ---- */

static void test_put_get(void)
{
	uint8_t buf[32];
	struct ctl_writer w;
	ctl_writer_init(&w, buf, sizeof buf);
	ctl_put_u8(&w, 0xab);
	ctl_put_u16(&w, 0x1234);
	ctl_put_u32(&w, 0x89abcdefu);
	ctl_put_u64(&w, 0x0102030405060708ull);
	static const uint8_t want[] = {0xab, 0x12, 0x34, 0x89, 0xab, 0xcd, 0xef, 1, 2, 3, 4, 5, 6, 7, 8};
	CHECK_EQ_MEM(buf, w.len, want, sizeof want);
	CHECK(!w.overflow);

	struct ctl_reader r;
	uint8_t *q = dup_bytes(want, sizeof want);
	ctl_reader_init(&r, q, sizeof want);
	CHECK_EQ_U64(ctl_get_u8(&r), 0xab);
	CHECK_EQ_U64(ctl_get_u16(&r), 0x1234);
	CHECK_EQ_U64(ctl_get_u32(&r), 0x89abcdefu);
	CHECK_EQ_U64(ctl_get_u64(&r), 0x0102030405060708ull);
	CHECK(!r.bad);
	CHECK_EQ_U64(r.off, sizeof want);
	CHECK_EQ_U64(ctl_get_u8(&r), 0);
	CHECK(r.bad);
	CHECK_EQ_U64(r.off, sizeof want);
	free(q);

	/* a get that does not fit reads nothing, and a bad reader stays bad */
	q = dup_bytes(want, 3);
	ctl_reader_init(&r, q, 3);
	CHECK_EQ_U64(ctl_get_u32(&r), 0);
	CHECK(r.bad);
	CHECK_EQ_U64(r.off, 0);
	CHECK_EQ_U64(ctl_get_u8(&r), 0);
	CHECK_EQ_U64(r.off, 0);
	free(q);

	/* a put that does not fit writes nothing, and nothing after it either */
	memset(buf, CANARY_BYTE, sizeof buf);
	ctl_writer_init(&w, buf, 3);
	ctl_put_u16(&w, 0xbeef);
	ctl_put_u16(&w, 0xbeef);
	CHECK(w.overflow);
	CHECK_EQ_U64(w.len, 2);
	ctl_put_u8(&w, 0x11);
	CHECK_EQ_U64(w.len, 2);
	CHECK_EQ_U64(buf[2], CANARY_BYTE);

	/* all ones */
	ctl_writer_init(&w, buf, sizeof buf);
	ctl_put_u64(&w, UINT64_MAX);
	ctl_reader_init(&r, buf, w.len);
	CHECK_EQ_U64(ctl_get_u64(&r), UINT64_MAX);
}

static void test_strings(void)
{
	static uint8_t buf[2 * CTL_MAX_STRING + 64];
	static char out[CTL_MAX_STRING + 2];
	static char s[2 * CTL_MAX_STRING];
	struct ctl_writer w;
	struct ctl_reader r;

	ctl_writer_init(&w, buf, sizeof buf);
	ctl_put_str(&w, "abc", 3);
	ctl_put_str(&w, "", 0);
	ctl_put_str(&w, NULL, 5);
	CHECK_EQ_MEM(buf, w.len, "\0\3abc\0\0\0\0", 9);

	ctl_reader_init(&r, buf, w.len);
	CHECK_EQ_U64(ctl_get_str(&r, out, 4), 3);
	CHECK_EQ_STR(out, "abc");
	CHECK_EQ_U64(ctl_get_str(&r, out, 1), 0);
	CHECK_EQ_STR(out, "");
	CHECK(!r.bad);

	/* a length that does not fit out with its NUL */
	ctl_reader_init(&r, buf, w.len);
	CHECK_EQ_U64(ctl_get_str(&r, out, 3), 0);
	CHECK(r.bad);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_U64(r.off, 2); /* the length was read, nothing more */

	/* longer strings are cut at CTL_MAX_STRING */
	memset(s, 'x', sizeof s);
	ctl_writer_init(&w, buf, sizeof buf);
	ctl_put_str(&w, s, sizeof s);
	CHECK_EQ_U64(w.len, 2 + CTL_MAX_STRING);
	CHECK_EQ_U64((unsigned)buf[0] << 8 | buf[1], CTL_MAX_STRING);

	/* exactly CTL_MAX_STRING: fits an out of CTL_MAX_STRING + 1, not one less */
	uint8_t *q = dup_bytes(buf, w.len);
	ctl_reader_init(&r, q, w.len);
	CHECK_EQ_U64(ctl_get_str(&r, out, CTL_MAX_STRING + 1), CTL_MAX_STRING);
	CHECK_EQ_U64(strlen(out), CTL_MAX_STRING);
	CHECK(!r.bad && r.off == r.len);
	ctl_reader_init(&r, q, w.len);
	CHECK_EQ_U64(ctl_get_str(&r, out, CTL_MAX_STRING), 0);
	CHECK(r.bad);
	free(q);

	/* a length over CTL_MAX_STRING is bad even when out and input are big */
	memset(buf, 'y', sizeof buf);
	buf[0] = (CTL_MAX_STRING + 1) >> 8;
	buf[1] = (CTL_MAX_STRING + 1) & 0xff;
	ctl_reader_init(&r, buf, 2 + CTL_MAX_STRING + 1);
	CHECK_EQ_U64(ctl_get_str(&r, out, sizeof out), 0);
	CHECK(r.bad);
	CHECK_EQ_U64(r.off, 2);

	/* a length past the input */
	q = dup_bytes((const uint8_t *)"\0\5abcd", 6);
	ctl_reader_init(&r, q, 6);
	CHECK_EQ_U64(ctl_get_str(&r, out, sizeof out), 0);
	CHECK(r.bad);
	free(q);
	/* only one byte of the length */
	q = dup_bytes((const uint8_t *)"\0", 1);
	ctl_reader_init(&r, q, 1);
	CHECK_EQ_U64(ctl_get_str(&r, out, sizeof out), 0);
	CHECK(r.bad);
	free(q);

	/* a NUL inside the string */
	q = dup_bytes((const uint8_t *)"\0\3a\0b", 5);
	ctl_reader_init(&r, q, 5);
	CHECK_EQ_U64(ctl_get_str(&r, out, sizeof out), 0);
	CHECK(r.bad);
	free(q);

	/* no out at all */
	ctl_reader_init(&r, (const uint8_t *)"\0\0", 2);
	CHECK_EQ_U64(ctl_get_str(&r, NULL, 0), 0);
	CHECK(r.bad);

	/* bytes 0x80..0xff are ordinary */
	q = dup_bytes((const uint8_t *)"\0\2\xc3\xa9", 4);
	ctl_reader_init(&r, q, 4);
	CHECK_EQ_U64(ctl_get_str(&r, out, sizeof out), 2);
	CHECK_EQ_STR(out, "\xc3\xa9");
	free(q);
}

/* ---- header ---- */

static void test_header(void)
{
	uint8_t buf[CTL_HEADER_SIZE + CANARY];
	struct ctl_writer w;
	struct ctl_header h;

	memset(buf, CANARY_BYTE, sizeof buf);
	ctl_writer_init(&w, buf, sizeof buf);
	ctl_header_encode(&w, 0x06, 0x01020304, 1);
	static const uint8_t want[16] = {'H',  'R',  'T',  'H',  0x01, 0x06, 0x00, 0x00,
	                                 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x01};
	CHECK_EQ_MEM(buf, w.len, want, sizeof want);

	/* the whole message through ctl_encode_set_nice: header + one byte */
	uint8_t msg[17 + CANARY];
	memset(msg, CANARY_BYTE, sizeof msg);
	CHECK_EQ_U64(ctl_encode_set_nice(msg, 17, 0x01020304, -1), 17);
	CHECK_EQ_MEM(msg, 16, want, sizeof want);
	CHECK_EQ_U64(msg[16], 0xff);
	CHECK_EQ_U64(msg[17], CANARY_BYTE);

	uint8_t *q = dup_bytes(want, sizeof want);
	CHECK_EQ_INT(ctl_header_decode(q, 16, &h), CTL_E_OK);
	CHECK_EQ_U64(h.version, 1);
	CHECK_EQ_U64(h.type, 0x06);
	CHECK_EQ_U64(h.flags, 0);
	CHECK_EQ_U64(h.id, 0x01020304);
	CHECK_EQ_U64(h.length, 1);
	/* every shorter prefix of a good header is partial */
	for (size_t n = 0; n < 16; n++) {
		check_context("prefix %zu", n);
		uint8_t *p = dup_bytes(want, n);
		CHECK_EQ_INT(ctl_header_decode(p, n, &h), CTL_E_PARTIAL);
		free(p);
	}
	check_context(NULL);
	free(q);

	/* flags are decoded and otherwise ignored; bytes after 16 are not looked at */
	static const uint8_t flagged[18] = {'H',  'R',  'T',  'H',  1,    0x81, 0xff, 0xfe, 0xde,
	                                    0xad, 0xbe, 0xef, 0x00, 0x10, 0x00, 0x00, 0x99, 0x99};
	CHECK_EQ_INT(ctl_header_decode(flagged, sizeof flagged, &h), CTL_E_OK);
	CHECK_EQ_U64(h.type, CTL_STATUS_REPLY);
	CHECK_EQ_U64(h.flags, 0xfffe);
	CHECK_EQ_U64(h.id, 0xdeadbeefu);
	CHECK_EQ_U64(h.length, 0x00100000u);

	/* bad magic: refused as soon as 4 bytes are there, not before */
	static const uint8_t garbage[16] = "GET / HTTP/1.1\r\n";
	for (size_t n = 0; n <= 16; n++) {
		check_context("garbage prefix %zu", n);
		uint8_t *p = dup_bytes(garbage, n);
		CHECK_EQ_INT(ctl_header_decode(p, n, &h), n < 4 ? CTL_E_PARTIAL : CTL_E_MAGIC);
		free(p);
	}
	check_context(NULL);
	uint8_t near[16];
	memcpy(near, want, 16);
	near[3] = 'h';
	CHECK_EQ_INT(ctl_header_decode(near, 4, &h), CTL_E_MAGIC);
	CHECK_EQ_INT(ctl_header_decode(near, 16, &h), CTL_E_MAGIC);

	/* another version: reported with the version it was */
	uint8_t v[16];
	memcpy(v, want, 16);
	v[4] = 2;
	CHECK_EQ_INT(ctl_header_decode(v, 15, &h), CTL_E_PARTIAL);
	CHECK_EQ_INT(ctl_header_decode(v, 16, &h), CTL_E_VERSION);
	CHECK_EQ_U64(h.version, 2);
	CHECK_EQ_U64(h.id, 0x01020304); /* so the error reply can echo it */
	v[4] = 0;
	CHECK_EQ_INT(ctl_header_decode(v, 16, &h), CTL_E_VERSION);
	CHECK_EQ_U64(h.version, 0);
	v[4] = 0xff;
	CHECK_EQ_INT(ctl_header_decode(v, 16, &h), CTL_E_VERSION);
	CHECK_EQ_U64(h.version, 0xff);

	/* header encode into too little room writes nothing */
	for (size_t cap = 0; cap < 16; cap++) {
		memset(buf, CANARY_BYTE, sizeof buf);
		ctl_writer_init(&w, buf, cap);
		ctl_header_encode(&w, CTL_STATUS, 1, 0);
		CHECK(w.overflow && w.len == 0);
		CHECK_EQ_U64(buf[0], CANARY_BYTE);
	}
}

static void test_names(void)
{
	static const struct {
		uint8_t type;
		const char *name;
		int request;
	} types[] = {
	    {CTL_STATUS, "STATUS", 1}, {CTL_RELOAD, "RELOAD", 1},
	    {CTL_STOP, "STOP", 1},     {CTL_QUIT, "QUIT", 1},
	    {CTL_REOPEN, "REOPEN", 1}, {CTL_SET_NICE, "SET_NICE", 1},
	    {CTL_OK, "OK", 0},         {CTL_STATUS_REPLY, "STATUS_REPLY", 0},
	    {CTL_ERROR, "ERROR", 0},   {0x00, "UNKNOWN", 0},
	    {0x07, "UNKNOWN", 0},      {0x7f, "UNKNOWN", 0},
	    {0x82, "UNKNOWN", 0},      {0xfe, "UNKNOWN", 0},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		check_context("type 0x%02x", types[i].type);
		CHECK_EQ_STR(ctl_type_name(types[i].type), types[i].name);
		CHECK_EQ_INT(!!ctl_type_is_request(types[i].type), types[i].request);
	}
	check_context(NULL);
	CHECK_EQ_STR(ctl_err_name(CTL_E_OK), "ok");
	CHECK_EQ_STR(ctl_err_name(CTL_E_VERSION), "version mismatch");
	CHECK_EQ_STR(ctl_err_name(CTL_E_MAGIC), "not a hearth control message");
	CHECK_EQ_STR(ctl_err_name(CTL_E_TOO_LARGE), "message too large");
	CHECK_EQ_STR(ctl_err_name(CTL_E_MALFORMED), "malformed message");
	CHECK_EQ_STR(ctl_err_name(CTL_E_PERMISSION), "permission denied");
	CHECK_EQ_STR(ctl_err_name(999), "unknown error");
	for (int c = CTL_E_PARTIAL; c <= CTL_E_UNSUPPORTED; c++)
		CHECK(strcmp(ctl_err_name(c), "unknown error") != 0);
}

/* ---- simple messages ---- */

/* Checks a whole message: its header, and returns its payload (in msg). */
static int check_header_of(const uint8_t *msg, size_t n, uint8_t type, uint32_t id, size_t plen)
{
	struct ctl_header h;
	if (!CHECK_EQ_U64(n, CTL_HEADER_SIZE + plen))
		return 0;
	int ok = CHECK_EQ_INT(ctl_header_decode(msg, n, &h), CTL_E_OK);
	ok &= CHECK_EQ_U64(h.type, type);
	ok &= CHECK_EQ_U64(h.id, id);
	ok &= CHECK_EQ_U64(h.length, plen);
	ok &= CHECK_EQ_U64(h.flags, 0);
	return ok;
}

static void test_simple_messages(void)
{
	uint8_t buf[64];
	for (int t = CTL_STATUS; t <= CTL_REOPEN; t++) {
		check_context("%s", ctl_type_name((uint8_t)t));
		size_t n = ctl_encode_simple(buf, sizeof buf, (uint8_t)t, 0xfffffff0u + (uint32_t)t);
		check_header_of(buf, n, (uint8_t)t, 0xfffffff0u + (uint32_t)t, 0);
	}
	check_context(NULL);
	/* exactly the header, hand-written */
	CHECK_EQ_U64(ctl_encode_simple(buf, 16, CTL_STATUS, 1), 16);
	CHECK_EQ_MEM(buf, 16, "HRTH\1\1\0\0\0\0\0\1\0\0\0\0", 16);

	/* SET_NICE: every value in range, and what is out of it clamped */
	for (int nice = -20; nice <= 19; nice++) {
		check_context("nice %d", nice);
		size_t n = ctl_encode_set_nice(buf, sizeof buf, 7, nice);
		if (!check_header_of(buf, n, CTL_SET_NICE, 7, 1))
			continue;
		CHECK_EQ_U64(buf[16], (uint8_t)(nice & 0xff));
		int got = 99;
		uint8_t *q = dup_bytes(buf + 16, 1);
		CHECK_EQ_INT(ctl_decode_set_nice(q, 1, &got), CTL_E_OK);
		CHECK_EQ_INT(got, nice);
		free(q);
	}
	check_context(NULL);
	static const int clamp[][2] = {{-21, -20}, {-128, -20}, {-1000, -20}, {20, 19}, {127, 19}, {300, 19}};
	for (size_t i = 0; i < sizeof clamp / sizeof clamp[0]; i++) {
		int got = 99;
		CHECK_EQ_U64(ctl_encode_set_nice(buf, sizeof buf, 1, clamp[i][0]), 17);
		CHECK_EQ_INT(ctl_decode_set_nice(buf + 16, 1, &got), CTL_E_OK);
		CHECK_EQ_INT(got, clamp[i][1]);
	}
}

static void test_ok_error(void)
{
	static uint8_t buf[CTL_HEADER_SIZE + 2 + 2 + 2 * CTL_MAX_STRING];
	static char msg[CTL_MAX_STRING + 1];
	static char longs[CTL_MAX_STRING + 100];
	int code;

	/* OK with an empty message, hand-written */
	size_t n = ctl_encode_ok(buf, sizeof buf, 0x0a0b0c0d, "");
	CHECK_EQ_MEM(buf, n, "HRTH\1\x80\0\0\x0a\x0b\x0c\x0d\0\0\0\2\0\0", 18);
	n = ctl_encode_ok(buf, sizeof buf, 1, NULL);
	CHECK_EQ_U64(n, 18);

	/* ERROR, hand-written */
	n = ctl_encode_error(buf, sizeof buf, 5, CTL_E_VERSION, "server speaks version 1");
	CHECK_EQ_MEM(buf, n,
	             "HRTH\1\xff\0\0\0\0\0\5\0\0\0\x1b"
	             "\0\2\0\x17server speaks version 1",
	             16 + 4 + 23);

	const char *msgs[] = {"", "reloaded", "\xc3\xa9t\xc3\xa9", longs};
	fill_str(longs, CTL_MAX_STRING, 'm');
	for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		size_t len = strlen(msgs[i]);
		check_context("ok msg %zu", i);
		n = ctl_encode_ok(buf, sizeof buf, (uint32_t)i, msgs[i]);
		if (check_header_of(buf, n, CTL_OK, (uint32_t)i, 2 + len)) {
			uint8_t *q = dup_bytes(buf + 16, n - 16);
			CHECK_EQ_INT(ctl_decode_ok(q, n - 16, msg, sizeof msg), CTL_E_OK);
			CHECK_EQ_STR(msg, msgs[i]);
			free(q);
		}
		for (int c = CTL_E_MAGIC; c <= CTL_E_UNSUPPORTED; c++) {
			check_context("error %d msg %zu", c, i);
			n = ctl_encode_error(buf, sizeof buf, 0xffffffffu, c, msgs[i]);
			if (!check_header_of(buf, n, CTL_ERROR, 0xffffffffu, 4 + len))
				continue;
			uint8_t *q = dup_bytes(buf + 16, n - 16);
			code = -99;
			CHECK_EQ_INT(ctl_decode_error(q, n - 16, &code, msg, sizeof msg), CTL_E_OK);
			CHECK_EQ_INT(code, c);
			CHECK_EQ_STR(msg, msgs[i]);
			free(q);
		}
	}
	check_context(NULL);

	/* unknown codes travel as they are (u16) */
	n = ctl_encode_error(buf, sizeof buf, 1, 0xfffe, "x");
	CHECK_EQ_INT(ctl_decode_error(buf + 16, n - 16, &code, msg, sizeof msg), CTL_E_OK);
	CHECK_EQ_INT(code, 0xfffe);

	/* longer messages are cut at CTL_MAX_STRING */
	memset(longs, 'z', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	n = ctl_encode_ok(buf, sizeof buf, 1, longs);
	CHECK_EQ_U64(n, 16 + 2 + CTL_MAX_STRING);
	CHECK_EQ_INT(ctl_decode_ok(buf + 16, n - 16, msg, sizeof msg), CTL_E_OK);
	CHECK_EQ_U64(strlen(msg), CTL_MAX_STRING);
	/* ... and a message that does not fit the caller's buffer is refused */
	CHECK_EQ_INT(ctl_decode_ok(buf + 16, n - 16, msg, CTL_MAX_STRING), CTL_E_MALFORMED);
	n = ctl_encode_error(buf, sizeof buf, 1, CTL_E_FAILED, longs);
	CHECK_EQ_U64(n, 16 + 4 + CTL_MAX_STRING);
}

/* ---- malformed simple payloads ---- */

struct bad_case {
	const char *name;
	const char *bytes;
	size_t len;
};

static void test_malformed_simple(void)
{
	char msg[64];
	int v;

	static const struct bad_case nice_bad[] = {
	    {"empty", "", 0},   {"two bytes", "\0\0", 2}, {"20", "\x14", 1},      {"-21", "\xeb", 1},
	    {"127", "\x7f", 1}, {"-128", "\x80", 1},      {"three", "\1\1\1", 3},
	};
	for (size_t i = 0; i < sizeof nice_bad / sizeof nice_bad[0]; i++) {
		check_context("set_nice %s", nice_bad[i].name);
		uint8_t *q = dup_bytes((const uint8_t *)nice_bad[i].bytes, nice_bad[i].len);
		v = 1234;
		CHECK_EQ_INT(ctl_decode_set_nice(q, nice_bad[i].len, &v), CTL_E_MALFORMED);
		CHECK_EQ_INT(v, 1234);
		free(q);
	}
	static const struct bad_case ok_bad[] = {
	    {"empty", "", 0},
	    {"half length", "\0", 1},
	    {"short", "\0\3ab", 4},
	    {"trailing", "\0\2abc", 5},
	    {"trailing zero", "\0\0\0", 3},
	    {"NUL inside", "\0\3a\0b", 5},
	    {"over the buffer",
	     "\0\100"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	     66},
	    {"over the max", "\x04\x01", 2},
	};
	for (size_t i = 0; i < sizeof ok_bad / sizeof ok_bad[0]; i++) {
		check_context("ok %s", ok_bad[i].name);
		uint8_t *q = dup_bytes((const uint8_t *)ok_bad[i].bytes, ok_bad[i].len);
		CHECK_EQ_INT(ctl_decode_ok(q, ok_bad[i].len, msg, sizeof msg), CTL_E_MALFORMED);
		free(q);
	}
	static const struct bad_case err_bad[] = {
	    {"empty", "", 0},           {"code only", "\0\5", 2},      {"code and half length", "\0\5\0", 3},
	    {"short", "\0\5\0\3ab", 6}, {"trailing", "\0\5\0\1ab", 6}, {"NUL inside", "\0\5\0\2\0b", 6},
	};
	for (size_t i = 0; i < sizeof err_bad / sizeof err_bad[0]; i++) {
		check_context("error %s", err_bad[i].name);
		uint8_t *q = dup_bytes((const uint8_t *)err_bad[i].bytes, err_bad[i].len);
		v = 1234;
		CHECK_EQ_INT(ctl_decode_error(q, err_bad[i].len, &v, msg, sizeof msg), CTL_E_MALFORMED);
		CHECK_EQ_INT(v, 1234);
		free(q);
	}
	check_context(NULL);
}

/* ---- STATUS ---- */

#define U64(x) 0, 0, 0, 0, 0, 0, 0, (x)

static void test_status_layout(void)
{
	struct ctl_status *st = &st_a;
	memset(st, 0, sizeof *st);
	strcpy(st->version, "0.1.0");
	st->pid = 0x01020304;
	st->uptime_ms = 0x1122334455667788ull;
	st->generation = 7;
	st->nlisteners = 1;
	strcpy(st->listeners[0], "a:1");
	st->totals.accepted = 1;
	st->totals.active = 2;
	st->totals.requests = 3;
	st->totals.bytes_in = 4;
	st->totals.bytes_out = 5;
	for (int i = 0; i < 5; i++)
		st->totals.status[i] = (uint64_t)(6 + i);
	st->nworkers = 1;
	st->workers[0] = (struct ctl_worker){.pid = 0x0a0b0c0d,
	                                     .generation = 2,
	                                     .slot = 0x0102,
	                                     .state = 'S',
	                                     .nice = -5,
	                                     .cpu_ms = 11,
	                                     .rss_bytes = 12,
	                                     .active = 13,
	                                     .requests = 14,
	                                     .bytes_out = 15};
	/* clang-format off */
	static const uint8_t want[] = {
		0, 5, '0', '.', '1', '.', '0',                 /* version "0.1.0" */
		1, 2, 3, 4,                                     /* pid */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* uptime_ms */
		0, 0,                                           /* config_file "" */
		0, 0, 0, 7,                                     /* generation */
		0, 1,                                           /* nlisteners */
		0, 3, 'a', ':', '1',                            /* listeners[0] */
		U64(1), U64(2), U64(3), U64(4), U64(5),        /* accepted .. bytes_out */
		U64(6), U64(7), U64(8), U64(9), U64(10),       /* status 1xx .. 5xx */
		0, 1,                                           /* nworkers */
		0x0a, 0x0b, 0x0c, 0x0d,                         /* pid */
		0, 0, 0, 2,                                     /* generation */
		1, 2,                                           /* slot */
		'S', 0xfb,                                      /* state, nice -5 */
		U64(11), U64(12), U64(13), U64(14), U64(15),   /* cpu_ms .. bytes_out */
	};
	/* clang-format on */
	size_t n = encode_status(st, big, sizeof big);
	CHECK_EQ_MEM(big, n, want, sizeof want);
	CHECK_EQ_INT(decode_status_copy(want, sizeof want, &st_b), CTL_E_OK);
	status_equal(st, &st_b);
	CHECK_EQ_INT(st_b.workers[0].nice, -5);
}

static void test_status_roundtrip(void)
{
	make_status(&st_a, 0, 0, 1);
	status_roundtrip("0 workers, 0 listeners", &st_a);
	make_status(&st_a, 1, 1, 2);
	status_roundtrip("1 worker", &st_a);
	make_status(&st_a, 3, 2, 3);
	status_roundtrip("3 workers", &st_a);
	make_status(&st_a, CTL_MAX_WORKERS, CTL_MAX_LISTENERS, 4);
	status_roundtrip("max workers", &st_a);

	/* everything at its limit: the biggest payload there is */
	struct ctl_status *st = &st_a;
	memset(st, 0, sizeof *st);
	fill_str(st->version, sizeof st->version - 1, 'v');
	st->pid = UINT32_MAX;
	st->uptime_ms = UINT64_MAX;
	fill_str(st->config_file, CTL_MAX_STRING, 'c');
	st->generation = UINT32_MAX;
	st->nlisteners = CTL_MAX_LISTENERS;
	for (int i = 0; i < CTL_MAX_LISTENERS; i++)
		fill_str(st->listeners[i], sizeof st->listeners[i] - 1, (char)('A' + i % 26));
	st->totals.accepted = st->totals.active = st->totals.requests = UINT64_MAX;
	st->totals.bytes_in = st->totals.bytes_out = UINT64_MAX;
	for (int i = 0; i < 5; i++)
		st->totals.status[i] = UINT64_MAX - (uint64_t)i;
	st->nworkers = CTL_MAX_WORKERS;
	for (int i = 0; i < CTL_MAX_WORKERS; i++) {
		struct ctl_worker *k = &st->workers[i];
		k->pid = UINT32_MAX;
		k->generation = UINT32_MAX;
		k->slot = UINT16_MAX;
		k->state = i % 2 ? 'Z' : '~';
		k->nice = i % 2 ? -20 : 19;
		k->cpu_ms = k->rss_bytes = k->active = k->requests = k->bytes_out = UINT64_MAX;
	}
	size_t n = encode_status(st, big, sizeof big);
	CHECK_EQ_U64(n, STATUS_MAX_SIZE);
	status_roundtrip("everything at its limit", st);

	/* strings one over what the other side's arrays hold are cut, not sent */
	memset(st, 0, sizeof *st);
	memset(st->version, 'v', sizeof st->version); /* no NUL at all */
	st->nlisteners = 1;
	memset(st->listeners[0], 'l', sizeof st->listeners[0]);
	n = encode_status(st, big, sizeof big);
	CHECK_EQ_INT(decode_status_copy(big, n, &st_b), CTL_E_OK);
	CHECK_EQ_U64(strlen(st_b.version), sizeof st->version - 1);
	CHECK_EQ_U64(strlen(st_b.listeners[0]), sizeof st->listeners[0] - 1);

	/* counts over the arrays are cut, unknown states become '?', nice is clamped */
	make_status(st, 2, 1, 5);
	st->nworkers = CTL_MAX_WORKERS + 5;
	st->nlisteners = CTL_MAX_LISTENERS + 5;
	st->workers[0].state = '\0';
	st->workers[1].state = '\x1b';
	st->workers[0].nice = 100;
	st->workers[1].nice = -100;
	n = encode_status(st, big, sizeof big);
	if (CHECK_EQ_INT(decode_status_copy(big, n, &st_b), CTL_E_OK)) {
		CHECK_EQ_INT(st_b.nworkers, CTL_MAX_WORKERS);
		CHECK_EQ_INT(st_b.nlisteners, CTL_MAX_LISTENERS);
		CHECK_EQ_INT(st_b.workers[0].state, '?');
		CHECK_EQ_INT(st_b.workers[1].state, '?');
		CHECK_EQ_INT(st_b.workers[0].nice, 19);
		CHECK_EQ_INT(st_b.workers[1].nice, -20);
	}
}

/* A STATUS payload written field by field from the documented layout, with
 * knobs to make it wrong in one place at a time. */
struct raw {
	size_t vlen; /* version string length */
	size_t clen; /* config_file length */
	unsigned nl_field; /* nlisteners as written */
	unsigned nl_actual; /* listener strings actually written */
	size_t llen; /* each listener's length */
	unsigned nw_field; /* nworkers as written */
	unsigned nw_actual; /* workers actually written */
	uint8_t state, nice; /* of the last worker */
	size_t trailing; /* bytes after the last field */
	size_t nul_at; /* 1 + index of a NUL put into config_file, 0 for none */
};

static const struct raw raw_default = {
    .vlen = 5,
    .clen = 10,
    .nl_field = 2,
    .nl_actual = 2,
    .llen = 12,
    .nw_field = 2,
    .nw_actual = 2,
    .state = 'S',
    .nice = 0,
    .trailing = 0,
    .nul_at = 0,
};

static size_t raw_status(uint8_t *buf, size_t cap, const struct raw *o)
{
	struct ctl_writer w;
	ctl_writer_init(&w, buf, cap);
	/* ctl_put_str cuts at CTL_MAX_STRING: write lengths by hand */
	ctl_put_u16(&w, (uint16_t)o->vlen);
	for (size_t i = 0; i < o->vlen; i++)
		ctl_put_u8(&w, 'v');
	ctl_put_u32(&w, 42);
	ctl_put_u64(&w, 43);
	ctl_put_u16(&w, (uint16_t)o->clen);
	for (size_t i = 0; i < o->clen; i++)
		ctl_put_u8(&w, o->nul_at == i + 1 ? 0 : 'c');
	ctl_put_u32(&w, 44);
	ctl_put_u16(&w, (uint16_t)o->nl_field);
	for (unsigned i = 0; i < o->nl_actual; i++) {
		ctl_put_u16(&w, (uint16_t)o->llen);
		for (size_t k = 0; k < o->llen; k++)
			ctl_put_u8(&w, 'l');
	}
	for (int i = 0; i < 10; i++)
		ctl_put_u64(&w, (uint64_t)i);
	ctl_put_u16(&w, (uint16_t)o->nw_field);
	for (unsigned i = 0; i < o->nw_actual; i++) {
		int last = i + 1 == o->nw_actual;
		ctl_put_u32(&w, 1000 + i);
		ctl_put_u32(&w, 1);
		ctl_put_u16(&w, (uint16_t)i);
		ctl_put_u8(&w, last ? o->state : 'R');
		ctl_put_u8(&w, last ? o->nice : 0);
		for (int k = 0; k < 5; k++)
			ctl_put_u64(&w, (uint64_t)k);
	}
	for (size_t i = 0; i < o->trailing; i++)
		ctl_put_u8(&w, 0);
	if (w.overflow)
		abort();
	return w.len;
}

static void test_status_malformed(void)
{
	struct raw o = raw_default;
	size_t n = raw_status(big, sizeof big, &o);
	if (!CHECK_EQ_INT(decode_status_copy(big, n, &st_a), CTL_E_OK))
		return;
	CHECK_EQ_STR(st_a.version, "vvvvv");
	CHECK_EQ_INT(st_a.nworkers, 2);
	CHECK_EQ_INT(st_a.workers[1].state, 'S');

	/* truncated at every byte: always malformed, never a crash */
	for (size_t k = 0; k < n; k++) {
		check_context("truncated to %zu of %zu", k, n);
		CHECK_EQ_INT(decode_status_copy(big, k, &st_b), CTL_E_MALFORMED);
	}
	make_status(&st_a, 5, 4, 77);
	size_t m = encode_status(&st_a, big, sizeof big);
	for (size_t k = 0; k < m; k++) {
		check_context("made truncated to %zu of %zu", k, m);
		CHECK_EQ_INT(decode_status_copy(big, k, &st_b), CTL_E_MALFORMED);
	}
	check_context(NULL);
	CHECK_EQ_INT(ctl_status_decode(NULL, 0, &st_b), CTL_E_MALFORMED);

	/* the good edges of the knobs below */
	static const struct {
		const char *name;
		struct raw o;
	} good[] = {
	    {"version of 31", {.vlen = 31, .clen = 0, .llen = 1, .state = 'R'}},
	    {"config of 1024", {.vlen = 0, .clen = CTL_MAX_STRING, .llen = 1, .state = 'R'}},
	    {"64 listeners of 127",
	     {.nl_field = 64, .nl_actual = 64, .llen = 127, .nw_field = 1, .nw_actual = 1, .state = '?'}},
	    {"1024 workers", {.nw_field = 1024, .nw_actual = 1024, .state = 'R', .nice = 0xec}},
	    {"nice 19", {.nw_field = 1, .nw_actual = 1, .state = 'R', .nice = 19}},
	    {"nice -20", {.nw_field = 1, .nw_actual = 1, .state = 'R', .nice = 0xec}},
	    {"state ~", {.nw_field = 1, .nw_actual = 1, .state = '~'}},
	    {"state !", {.nw_field = 1, .nw_actual = 1, .state = '!'}},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		check_context("good: %s", good[i].name);
		n = raw_status(big, sizeof big, &good[i].o);
		CHECK_EQ_INT(decode_status_copy(big, n, &st_b), CTL_E_OK);
	}

	static const struct {
		const char *name;
		struct raw o;
	} bad[] = {
	    {"trailing byte",
	     {.nl_field = 1,
	      .nl_actual = 1,
	      .llen = 3,
	      .nw_field = 1,
	      .nw_actual = 1,
	      .state = 'R',
	      .trailing = 1}},
	    {"trailing bytes, no workers", {.trailing = 52}},
	    {"version of 32", {.vlen = 32}},
	    {"version of 1025", {.vlen = CTL_MAX_STRING + 1}},
	    {"config of 1025", {.clen = CTL_MAX_STRING + 1}},
	    {"config of 65535", {.clen = 65535}},
	    {"NUL in config", {.clen = 4, .nul_at = 2}},
	    {"listener of 128", {.nl_field = 1, .nl_actual = 1, .llen = 128}},
	    {"65 listeners", {.nl_field = 65, .nl_actual = 65, .llen = 1}},
	    {"65535 listeners", {.nl_field = 65535, .nl_actual = 65, .llen = 1}},
	    {"fewer listeners than said", {.nl_field = 3, .nl_actual = 2, .llen = 1}},
	    {"1025 workers", {.nw_field = 1025, .nw_actual = 1025, .state = 'R'}},
	    {"65535 workers", {.nw_field = 65535, .nw_actual = 1025, .state = 'R'}},
	    {"fewer workers than said", {.nw_field = 3, .nw_actual = 2, .state = 'R'}},
	    {"nice 20", {.nw_field = 1, .nw_actual = 1, .state = 'R', .nice = 20}},
	    {"nice -21", {.nw_field = 1, .nw_actual = 1, .state = 'R', .nice = 0xeb}},
	    {"nice 127", {.nw_field = 1, .nw_actual = 1, .state = 'R', .nice = 0x7f}},
	    {"nice -128", {.nw_field = 1, .nw_actual = 1, .state = 'R', .nice = 0x80}},
	    {"nice 20 on the 1024th", {.nw_field = 1024, .nw_actual = 1024, .state = 'R', .nice = 20}},
	    {"state NUL", {.nw_field = 1, .nw_actual = 1, .state = 0}},
	    {"state space", {.nw_field = 1, .nw_actual = 1, .state = ' '}},
	    {"state ESC", {.nw_field = 1, .nw_actual = 1, .state = 0x1b}},
	    {"state DEL", {.nw_field = 1, .nw_actual = 1, .state = 0x7f}},
	    {"state 0xff", {.nw_field = 1, .nw_actual = 1, .state = 0xff}},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		check_context("bad: %s", bad[i].name);
		n = raw_status(big, sizeof big, &bad[i].o);
		CHECK_EQ_INT(decode_status_copy(big, n, &st_b), CTL_E_MALFORMED);
	}
	check_context(NULL);

	/* trailing garbage after an encoded status of each size */
	static const unsigned sizes[] = {0, 1, CTL_MAX_WORKERS};
	for (size_t i = 0; i < 3; i++) {
		check_context("trailing after %u workers", sizes[i]);
		make_status(&st_a, sizes[i], 1, 9);
		n = encode_status(&st_a, big, sizeof big);
		big[n] = 'x';
		CHECK_EQ_INT(decode_status_copy(big, n + 1, &st_b), CTL_E_MALFORMED);
		CHECK_EQ_INT(decode_status_copy(big, n, &st_b), CTL_E_OK);
	}
	check_context(NULL);
}

/* ---- writers never write past cap ---- */

typedef size_t (*encode_fn)(uint8_t *buf, size_t cap, const void *arg);

/* For each cap from 0 to full (by step, and full itself): 0 below full, full
 * at full, and the CANARY bytes after cap untouched. */
static void check_every_cap(const char *name, encode_fn fn, const void *arg, size_t full, size_t step)
{
	uint8_t *buf = malloc(full + CANARY);
	if (!buf)
		abort();
	unsigned failed = 0;
	for (size_t cap = 0; cap <= full; cap = cap + step > full && cap < full ? full : cap + step) {
		memset(buf, CANARY_BYTE, full + CANARY);
		size_t n = fn(buf, cap, arg);
		size_t want = cap < full ? 0 : full;
		int canary_ok = 1;
		for (size_t i = cap; i < cap + CANARY; i++)
			canary_ok &= buf[i] == CANARY_BYTE;
		if (n != want || !canary_ok) {
			if (failed++ < 5)
				CHECK_FAIL("%s: cap %zu of %zu: returned %zu (want %zu)%s", name, cap, full,
				           n, want, canary_ok ? "" : ", wrote past cap");
		}
	}
	CHECK(failed == 0);
	free(buf);
}

static size_t enc_status(uint8_t *buf, size_t cap, const void *arg)
{
	struct ctl_writer w;
	ctl_writer_init(&w, buf, cap);
	ctl_status_encode(&w, arg);
	if (w.len > cap)
		CHECK_FAIL("writer len %zu past cap %zu", w.len, cap);
	return w.overflow ? 0 : w.len;
}

static size_t enc_simple(uint8_t *buf, size_t cap, const void *arg)
{
	(void)arg;
	return ctl_encode_simple(buf, cap, CTL_STOP, 3);
}

static size_t enc_nice(uint8_t *buf, size_t cap, const void *arg)
{
	(void)arg;
	return ctl_encode_set_nice(buf, cap, 3, -7);
}

static size_t enc_ok(uint8_t *buf, size_t cap, const void *arg)
{
	return ctl_encode_ok(buf, cap, 3, arg);
}

static size_t enc_error(uint8_t *buf, size_t cap, const void *arg)
{
	return ctl_encode_error(buf, cap, 3, CTL_E_FAILED, arg);
}

static void test_writer_overflow(void)
{
	static char longs[CTL_MAX_STRING + 1];
	fill_str(longs, CTL_MAX_STRING, 'w');

	check_every_cap("simple", enc_simple, NULL, 16, 1);
	check_every_cap("set_nice", enc_nice, NULL, 17, 1);
	check_every_cap("ok empty", enc_ok, "", 18, 1);
	check_every_cap("ok", enc_ok, "reloaded", 26, 1);
	check_every_cap("ok long", enc_ok, longs, 16 + 2 + CTL_MAX_STRING, 1);
	check_every_cap("error", enc_error, "no such file", 32, 1);
	check_every_cap("error long", enc_error, longs, 16 + 4 + CTL_MAX_STRING, 1);

	make_status(&st_a, 0, 0, 11);
	check_every_cap("status 0", enc_status, &st_a, encode_status(&st_a, big, sizeof big), 1);
	make_status(&st_a, 1, 1, 12);
	check_every_cap("status 1", enc_status, &st_a, encode_status(&st_a, big, sizeof big), 1);
	make_status(&st_a, 7, 5, 13);
	check_every_cap("status 7", enc_status, &st_a, encode_status(&st_a, big, sizeof big), 1);
	/* the biggest: every cap would be 62 MB of memset; every 7th and the edges */
	make_status(&st_a, CTL_MAX_WORKERS, CTL_MAX_LISTENERS, 14);
	fill_str(st_a.config_file, CTL_MAX_STRING, 'c');
	size_t full = encode_status(&st_a, big, sizeof big);
	check_every_cap("status max", enc_status, &st_a, full, 7);
	check_every_cap("status max, last bytes", enc_status, &st_a, full, full - 3); /* 0, full-3, full */
}

/* ---- fuzz seeds ---- */

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

/* A whole message: header + payload. */
static size_t with_header(uint8_t *out, size_t cap, uint8_t type, uint32_t id, const uint8_t *p, size_t n)
{
	struct ctl_writer w;
	ctl_writer_init(&w, out, cap);
	ctl_header_encode(&w, type, id, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		ctl_put_u8(&w, p[i]);
	return w.overflow ? 0 : w.len;
}

static int write_seeds(const char *dir)
{
	static uint8_t msg[sizeof big + 64];
	uint8_t one[128];
	int err = 0;
	size_t n;

	n = ctl_encode_simple(one, sizeof one, CTL_STATUS, 1);
	err |= write_file(dir, "status_request", one, n);
	n = ctl_encode_simple(one, sizeof one, CTL_RELOAD, 2);
	err |= write_file(dir, "reload_request", one, n);
	n = ctl_encode_set_nice(one, sizeof one, 3, -5);
	err |= write_file(dir, "set_nice", one, n);
	n = ctl_encode_ok(one, sizeof one, 4, "reloaded");
	err |= write_file(dir, "ok", one, n);
	n = ctl_encode_error(one, sizeof one, 5, CTL_E_VERSION, "server speaks version 1");
	err |= write_file(dir, "error_version", one, n);
	memcpy(one + 100, one, 16);
	one[104] = 2;
	err |= write_file(dir, "header_version2", one + 100, 16);

	make_status(&st_a, 2, 2, 21);
	n = encode_status(&st_a, big, sizeof big);
	size_t m = with_header(msg, sizeof msg, CTL_STATUS_REPLY, 6, big, n);
	err |= write_file(dir, "status_reply_2", msg, m);
	/* raw payloads after a selector byte (see fuzz_ctl.c) */
	msg[0] = 0;
	memcpy(msg + 1, big, n);
	err |= write_file(dir, "raw_status_2", msg, n + 1);
	make_status(&st_a, 0, 0, 22);
	n = encode_status(&st_a, big, sizeof big);
	m = with_header(msg, sizeof msg, CTL_STATUS_REPLY, 7, big, n);
	err |= write_file(dir, "status_reply_0", msg, m);
	err |= write_file(dir, "raw_set_nice", (const uint8_t *)"\1\xec", 2);
	err |= write_file(dir, "raw_ok", (const uint8_t *)"\2\0\2hi", 5);
	err |= write_file(dir, "raw_error", (const uint8_t *)"\3\0\7\0\4nope", 9);
	return err;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_put_get();
	test_strings();
	test_header();
	test_names();
	test_simple_messages();
	test_ok_error();
	test_malformed_simple();
	test_status_layout();
	test_status_roundtrip();
	test_status_malformed();
	test_writer_overflow();
	return check_done();
}
