/* test_proxy.c: the PROXY protocol decoder (src/net/proxy.h).
 *
 * Headers are written out by hand here from the specification (haproxy's
 * proxy-protocol.txt), not produced by proxy.c. Valid v1 lines (TCP4, TCP6 in
 * its textual forms, UNKNOWN, the 107-byte limit) and v2 blocks (INET, INET6,
 * UNIX path and abstract, LOCAL, UNSPEC, with and without TLVs, up to
 * PROXY_V2_MAX) must decode to the right addresses; every malformed one must
 * be refused, and refused at the exact byte where it stops being a possible
 * prefix of a valid header (a plain HTTP request or a TLS ClientHello at its
 * first byte). Every input is also fed one prefix at a time: a prefix answers
 * PARTIAL or the whole input's verdict, never anything else, and bytes after
 * a header are never consumed. The v1 address scanners are compared with the
 * C library's inet_pton() on generated strings, both whole and as prefixes,
 * and a deterministic mutation loop checks the prefix rule on damaged headers.
 * Inputs are exact-size heap copies, so ASan sees any read past len.
 *
 * `test_proxy --write-seeds DIR` writes the fuzz seeds
 * (tests/fuzz/corpus/proxy/) and exits.
 */
#include "check.h"
#include "net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/un.h>

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static const char HTTP_REQ[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

/* Decodes an exact-size heap copy of p[0..n). */
static int decode(const void *p, size_t n, struct proxy_info *info)
{
	uint8_t *q = malloc(n ? n : 1);
	if (!q)
		abort();
	if (n)
		memcpy(q, p, n);
	int r = proxy_decode(q, n, info);
	memset(q, 0xEE, n); /* nothing may point into the input afterwards */
	free(q);
	return r;
}

static int decode_str(const char *s, struct proxy_info *info)
{
	return decode(s, strlen(s), info);
}

/* Feeds every prefix of p[0..n): each must answer PARTIAL until the whole
 * input's verdict appears, then that verdict from there on (for a success,
 * from exactly its length on). Returns the prefix length where the verdict
 * first appears, or 0 after reporting a failure. */
static size_t check_prefixes(const void *pv, size_t n)
{
	const uint8_t *p = pv;
	struct proxy_info info;
	int whole = decode(p, n, &info);
	size_t first = 0;
	for (size_t k = 0; k <= n; k++) {
		int r = decode(p, k, &info);
		if (r == whole && (first || whole != PROXY_PARTIAL)) {
			if (!first)
				first = k ? k : 1;
			continue;
		}
		if (r == PROXY_PARTIAL && !first)
			continue;
		CHECK_FAIL("prefix of %zu bytes answers %d, the whole %zu bytes %d (first reached at %zu)", k,
		           r, n, whole, first);
		return 0;
	}
	if (whole == PROXY_PARTIAL)
		return n;
	if (whole > 0 && first != (size_t)whole) {
		CHECK_FAIL("success of %d bytes already reached with %zu bytes", whole, first);
		return 0;
	}
	if (!first)
		CHECK_FAIL("verdict %d never reached", whole);
	return first;
}

/* -------------------------------------------------------------------------- */
/* addresses */

static int check_in4(const struct sockaddr_storage *ss, socklen_t len, const char *addr, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	struct in_addr want;
	if (!CHECK_EQ_INT(inet_pton(AF_INET, addr, &want), 1))
		return 0;
	int ok = CHECK_EQ_INT(ss->ss_family, AF_INET);
	ok &= CHECK_EQ_INT(len, sizeof(struct sockaddr_in));
	ok &= CHECK_EQ_INT(ntohs(sin->sin_port), port);
	ok &= CHECK_EQ_MEM(&sin->sin_addr, 4, &want, 4);
	return ok;
}

static int check_in6(const struct sockaddr_storage *ss, socklen_t len, const char *addr, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;
	if (!CHECK_EQ_INT(inet_pton(AF_INET6, addr, &want), 1))
		return 0;
	int ok = CHECK_EQ_INT(ss->ss_family, AF_INET6);
	ok &= CHECK_EQ_INT(len, sizeof(struct sockaddr_in6));
	ok &= CHECK_EQ_INT(ntohs(sin6->sin6_port), port);
	ok &= CHECK_EQ_MEM(&sin6->sin6_addr, 16, &want, 16);
	ok &= CHECK_EQ_INT(sin6->sin6_flowinfo, 0);
	ok &= CHECK_EQ_INT(sin6->sin6_scope_id, 0);
	return ok;
}

/* -------------------------------------------------------------------------- */
/* v1: valid lines */

struct v1_ok {
	const char *line;
	int family; /* AF_INET, AF_INET6, or 0 for UNKNOWN (local) */
	const char *src, *dst; /* as inet_pton() reads them, may be written differently in line */
	unsigned sport, dport;
};

static const struct v1_ok v1_ok[] = {
    {"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", AF_INET, "192.168.0.1", "192.168.0.11", 56324, 443},
    {"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", AF_INET, "0.0.0.0", "255.255.255.255", 0, 65535},
    {"PROXY TCP4 10.0.0.1 10.0.0.2 1 9\r\n", AF_INET, "10.0.0.1", "10.0.0.2", 1, 9},
    {"PROXY TCP4 100.20.3.199 1.10.100.250 10000 65534\r\n", AF_INET, "100.20.3.199", "1.10.100.250", 10000,
     65534},
    {"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "65535\r\n",
     AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
     65535},
    {"PROXY TCP6 ::1 2001:db8::1 1 2\r\n", AF_INET6, "::1", "2001:db8::1", 1, 2},
    {"PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:0db8:0000:0000:0000:0000:0000:0002 8080 80\r\n", AF_INET6,
     "2001:db8::1", "2001:db8::2", 8080, 80},
    {"PROXY TCP6 :: 1:: 0 0\r\n", AF_INET6, "0::0", "1:0:0:0:0:0:0:0", 0, 0},
    {"PROXY TCP6 1:2:3:4:5:6:7:: ::2:3:4:5:6:7:8 5 6\r\n", AF_INET6, "1:2:3:4:5:6:7:0", "0:2:3:4:5:6:7:8", 5,
     6},
    {"PROXY TCP6 ::ffff:192.0.2.1 64:ff9b::198.51.100.7 40000 443\r\n", AF_INET6, "::ffff:c000:201",
     "64:ff9b::c633:6407", 40000, 443},
    {"PROXY TCP6 1:2:3:4:5:6:1.2.3.4 1::255.255.255.255 7 8\r\n", AF_INET6, "1:2:3:4:5:6:102:304",
     "1::ffff:ffff", 7, 8},
    {"PROXY TCP6 fe80::aBcD:Ef01 ::0.0.0.0 22 33\r\n", AF_INET6, "fe80::abcd:ef01", "::", 22, 33},
    {"PROXY UNKNOWN\r\n", 0, NULL, NULL, 0, 0},
    {"PROXY UNKNOWN \r\n", 0, NULL, NULL, 0, 0},
    {"PROXY UNKNOWN whatever\tthe\x01 balancer \x7f\xff sends\r\n", 0, NULL, NULL, 0, 0},
    /* the longest line the specification allows: 107 bytes */
    {"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "65535\r\n",
     0, NULL, NULL, 0, 0},
};

static void test_v1_valid(void)
{
	char buf[512];
	for (size_t i = 0; i < sizeof v1_ok / sizeof v1_ok[0]; i++) {
		const struct v1_ok *c = &v1_ok[i];
		size_t n = strlen(c->line);
		check_context("v1 ok %zu: %s", i, c->line);
		struct proxy_info info;
		memset(&info, 0xAA, sizeof info);
		if (!CHECK_EQ_INT(decode(c->line, n, &info), (int)n))
			continue;
		CHECK_EQ_INT(info.version, 1);
		if (c->family == 0) {
			CHECK_EQ_INT(info.local, 1);
			CHECK_EQ_INT(info.srclen, 0);
			CHECK_EQ_INT(info.dstlen, 0);
		} else {
			CHECK_EQ_INT(info.local, 0);
		}
		if (c->family == AF_INET) {
			check_in4(&info.src, info.srclen, c->src, c->sport);
			check_in4(&info.dst, info.dstlen, c->dst, c->dport);
		} else if (c->family == AF_INET6) {
			check_in6(&info.src, info.srclen, c->src, c->sport);
			check_in6(&info.dst, info.dstlen, c->dst, c->dport);
		}
		/* byte by byte: PARTIAL until the CRLF, then the line's length */
		CHECK_EQ_INT(check_prefixes(c->line, n), n);
		/* an HTTP request right behind it is not consumed */
		snprintf(buf, sizeof buf, "%s%s", c->line, HTTP_REQ);
		CHECK_EQ_INT(decode_str(buf, &info), (int)n);
		CHECK_EQ_INT(check_prefixes(buf, strlen(buf)), n);
		/* nor is a second header */
		snprintf(buf, sizeof buf, "%s%s", c->line, c->line);
		CHECK_EQ_INT(decode_str(buf, &info), (int)n);
	}
	check_context(NULL);
}

/* -------------------------------------------------------------------------- */
/* v1: malformed lines */

struct v1_bad {
	const char *name;
	const char *line;
	int verdict; /* PROXY_E_INVALID / PROXY_E_TOO_LONG */
	const char *upto; /* the verdict appears with the last byte of this prefix */
};

#define T4 "PROXY TCP4 "
#define T6 "PROXY TCP6 "

static const struct v1_bad v1_bad[] = {
    {"lowercase proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "p"},
    {"Proxy", "Proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "Pr"},
    {"lowercase family", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY t"},
    {"family TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY TCP5"},
    {"family TCP", "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY TCP "},
    {"family UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY UD"},
    {"family TCP44", "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY TCP44"},
    {"family UNKNOWNX", "PROXY UNKNOWNX\r\n", PROXY_E_INVALID, "PROXY UNKNOWNX"},
    {"family unknown", "PROXY unknown\r\n", PROXY_E_INVALID, "PROXY u"},
    {"PROXY alone", "PROXY\r\n", PROXY_E_INVALID, "PROXY\r"},
    {"no family", "PROXY \r\n", PROXY_E_INVALID, "PROXY \r"},
    {"TCP4 without fields", "PROXY TCP4\r\n", PROXY_E_INVALID, "PROXY TCP4\r"},
    {"TCP4 SP without fields", T4 "\r\n", PROXY_E_INVALID, T4 "\r"},
    {"only src", T4 "1.2.3.4\r\n", PROXY_E_INVALID, T4 "1.2.3.4\r"},
    {"no ports", T4 "1.2.3.4 5.6.7.8\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8\r"},
    {"no dst port", T4 "1.2.3.4 5.6.7.8 80\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 80\r"},
    {"TCP6 no dst port", T6 "::1 ::2 80\r\n", PROXY_E_INVALID, T6 "::1 ::2 80\r"},
    {"two spaces after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY  "},
    {"two spaces before src", T4 " 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 " "},
    {"two spaces between addresses", T4 "1.2.3.4  5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4  "},
    {"two spaces between ports", T4 "1.2.3.4 5.6.7.8 1  2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1  "},
    {"trailing space", T4 "1.2.3.4 5.6.7.8 1 2 \r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 2 "},
    {"extra field", T4 "1.2.3.4 5.6.7.8 1 2 3\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 2 "},
    {"leading space", " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, " "},
    {"tab after PROXY", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, "PROXY\t"},
    {"tab between ports", T4 "1.2.3.4 5.6.7.8 1\t2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1\t"},
    {"UNKNOWN tab", "PROXY UNKNOWN\tx\r\n", PROXY_E_INVALID, "PROXY UNKNOWN\t"},
    /* IPv4 */
    {"ipv4 three octets", T4 "1.2.3 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3 "},
    {"ipv4 five octets", T4 "1.2.3.4.5 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4."},
    {"ipv4 octet 256", T4 "256.1.1.1 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "256"},
    {"ipv4 last octet 300", T4 "1.2.3.4 5.6.7.300 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.300"},
    {"ipv4 leading zero", T4 "01.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "01"},
    {"ipv4 octet 00", T4 "1.2.00.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.00"},
    {"ipv4 empty octet", T4 "1..2.3 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.."},
    {"ipv4 leading dot", T4 ".1.2.3 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "."},
    {"ipv4 trailing dot", T4 "1.2.3. 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3. "},
    {"ipv4 hex octet", T4 "1.2.3.a 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.a"},
    {"ipv4 then letter", T4 "1.2.3.4a 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4a"},
    {"ipv4 negative", T4 "-1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "-"},
    {"ipv4 single number", T4 "16909060 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T4 "1690"},
    {"ipv6 in TCP4", T4 "::1 ::1 1 2\r\n", PROXY_E_INVALID, T4 ":"},
    {"ipv6 in TCP4 (digits)", T4 "2001:db8::1 ::1 1 2\r\n", PROXY_E_INVALID, T4 "2001"},
    {"ipv6 dst in TCP4", T4 "1.2.3.4 ::1 1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 :"},
    /* IPv6 */
    {"ipv4 in TCP6", T6 "1.2.3.4 5.6.7.8 1 2\r\n", PROXY_E_INVALID, T6 "1."},
    {"ipv6 nine groups", T6 "1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", PROXY_E_INVALID, T6 "1:2:3:4:5:6:7:8:"},
    {"ipv6 seven groups", T6 "1:2:3:4:5:6:7 ::1 1 2\r\n", PROXY_E_INVALID, T6 "1:2:3:4:5:6:7 "},
    {"ipv6 :::", T6 "::: ::1 1 2\r\n", PROXY_E_INVALID, T6 ":::"},
    {"ipv6 two ::", T6 "1::2::3 ::1 1 2\r\n", PROXY_E_INVALID, T6 "1::2::"},
    {"ipv6 five hex digits", T6 "12345:: ::1 1 2\r\n", PROXY_E_INVALID, T6 "12345"},
    {"ipv6 non-hex", T6 "::g ::1 1 2\r\n", PROXY_E_INVALID, T6 "::g"},
    {"ipv6 :: for no group", T6 "1:2:3:4:5:6:7::8 ::1 1 2\r\n", PROXY_E_INVALID, T6 "1:2:3:4:5:6:7::8"},
    {"ipv6 eight groups and ::", T6 "1:2:3:4:5:6:7:8:: ::1 1 2\r\n", PROXY_E_INVALID, T6 "1:2:3:4:5:6:7:8:"},
    {"ipv6 short ipv4 tail", T6 "::1.2.3 ::1 1 2\r\n", PROXY_E_INVALID, T6 "::1.2.3 "},
    {"ipv6 ipv4 tail leading zero", T6 "::1.2.3.04 ::1 1 2\r\n", PROXY_E_INVALID, T6 "::1.2.3.04"},
    {"ipv6 hex before ipv4 tail", T6 "::a1.2.3.4 ::1 1 2\r\n", PROXY_E_INVALID, T6 "::a1."},
    {"ipv6 ipv4 tail too early", T6 "1:2:3:4:5:1.2.3.4 ::1 1 2\r\n", PROXY_E_INVALID, T6 "1:2:3:4:5:1."},
    {"ipv6 ipv4 tail too late", T6 "1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n", PROXY_E_INVALID,
     T6 "1:2:3:4:5:6:7:1."},
    {"ipv6 ipv4 tail with no room for ::", T6 "1:2:3:4:5:6::1.2.3.4 ::1 1 2\r\n", PROXY_E_INVALID,
     T6 "1:2:3:4:5:6::1."},
    {"ipv6 something after ipv4 tail", T6 "::1.2.3.4:5 ::1 1 2\r\n", PROXY_E_INVALID, T6 "::1.2.3.4:"},
    {"ipv6 trailing colon", T6 "1: ::1 1 2\r\n", PROXY_E_INVALID, T6 "1: "},
    {"ipv6 leading colon", T6 ":1 ::1 1 2\r\n", PROXY_E_INVALID, T6 ":1"},
    {"ipv6 zone", T6 "fe80::1%eth0 ::1 1 2\r\n", PROXY_E_INVALID, T6 "fe80::1%"},
    {"ipv6 brackets", T6 "[::1] ::1 1 2\r\n", PROXY_E_INVALID, T6 "["},
    /* ports */
    {"port 65536", T4 "1.2.3.4 5.6.7.8 1 65536\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 65536"},
    {"src port 65536", T4 "1.2.3.4 5.6.7.8 65536 1\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 65536"},
    {"port 99999", T4 "1.2.3.4 5.6.7.8 1 99999\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 99999"},
    {"port six digits", T4 "1.2.3.4 5.6.7.8 1 123456\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 123456"},
    {"port leading zero", T4 "1.2.3.4 5.6.7.8 080 1\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 08"},
    {"port 00", T4 "1.2.3.4 5.6.7.8 1 00\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 00"},
    {"port 065535", T4 "1.2.3.4 5.6.7.8 1 065535\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 06"},
    {"port negative", T4 "1.2.3.4 5.6.7.8 -1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 -"},
    {"port plus", T4 "1.2.3.4 5.6.7.8 +1 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 +"},
    {"port hex", T4 "1.2.3.4 5.6.7.8 0x50 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 0x"},
    {"port name", T4 "1.2.3.4 5.6.7.8 http 2\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 h"},
    /* line ending */
    {"no CRLF, request follows", T4 "1.2.3.4 5.6.7.8 1 2GET / HTTP/1.1\r\n\r\n", PROXY_E_INVALID,
     T4 "1.2.3.4 5.6.7.8 1 2G"},
    {"LF only", T4 "1.2.3.4 5.6.7.8 1 2\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 2\n"},
    {"LF CR", T4 "1.2.3.4 5.6.7.8 1 2\n\r", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 2\n"},
    {"CR only", T4 "1.2.3.4 5.6.7.8 1 2\rGET", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 2\rG"},
    {"CR CR LF", T4 "1.2.3.4 5.6.7.8 1 2\r\r\n", PROXY_E_INVALID, T4 "1.2.3.4 5.6.7.8 1 2\r\r"},
    {"UNKNOWN LF only", "PROXY UNKNOWN\n", PROXY_E_INVALID, "PROXY UNKNOWN\n"},
    {"UNKNOWN tail LF only", "PROXY UNKNOWN 1.2.3.4\n", PROXY_E_INVALID, "PROXY UNKNOWN 1.2.3.4\n"},
    {"UNKNOWN tail bare LF", "PROXY UNKNOWN ab\ncd\r\n", PROXY_E_INVALID, "PROXY UNKNOWN ab\n"},
    {"UNKNOWN tail bare CR", "PROXY UNKNOWN ab\rcd\r\n", PROXY_E_INVALID, "PROXY UNKNOWN ab\rc"},
    /* length */
    {"UNKNOWN 108 bytes",
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "65535 \r\n",
     PROXY_E_TOO_LONG,
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "65535 \r"},
    {"UNKNOWN, CR at byte 107",
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "655351\r\n",
     PROXY_E_TOO_LONG,
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "655351\r"},
    /* valid in form, but the addresses with IPv4 tails make it 116 bytes */
    {"TCP6 116 bytes",
     T6 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 "
        "65535\r\n",
     PROXY_E_TOO_LONG,
     T6 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 6553"},
    {"invalid before byte 107 is invalid",
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "6553\n",
     PROXY_E_INVALID,
     "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
     "6553\n"},
};

static void test_v1_malformed(void)
{
	for (size_t i = 0; i < sizeof v1_bad / sizeof v1_bad[0]; i++) {
		const struct v1_bad *c = &v1_bad[i];
		check_context("v1 bad: %s", c->name);
		struct proxy_info info;
		size_t n = strlen(c->line);
		CHECK_EQ_INT(decode(c->line, n, &info), c->verdict);
		/* an HTTP request behind it changes nothing */
		char buf[512];
		snprintf(buf, sizeof buf, "%s%s", c->line, HTTP_REQ);
		CHECK_EQ_INT(decode_str(buf, &info), c->verdict);
		CHECK_EQ_INT(check_prefixes(c->line, n), strlen(c->upto));
		CHECK(strncmp(c->line, c->upto, strlen(c->upto)) == 0);
	}
	check_context(NULL);
}

/* Lines that are not finished yet: PARTIAL, whatever their length below 107. */
static void test_v1_partial(void)
{
	static const char *const partial[] = {
	    "",
	    "P",
	    "PROXY",
	    "PROXY ",
	    "PROXY TCP",
	    "PROXY UNKNOWN",
	    "PROXY UNKNOWN anything at all",
	    T4,
	    T4 "1.2.3.4 5.6.7.8 1 2",
	    T4 "1.2.3.4 5.6.7.8 1 2\r",
	    T4 "255.255.255.25",
	    T4 "1.2.3.4 5.6.7.8 6553",
	    T6 ":",
	    T6 "::",
	    T6 "1:2:3:4:5:6:7",
	    T6 "1:2:3:4:5:6:7:",
	    T6 "1:2:3:4:5:6:255.",
	    T6 "::ffff:1.2.3",
	    ("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	     "65535 "
	     "65535\r"), /* 106 bytes */
	};
	for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
		check_context("v1 partial: %s", partial[i]);
		struct proxy_info info;
		CHECK_EQ_INT(decode_str(partial[i], &info), PROXY_PARTIAL);
		check_prefixes(partial[i], strlen(partial[i]));
	}

	/* exactly 107 bytes without a line end: too long; one byte less: partial */
	char line[256];
	int n = snprintf(line, sizeof line, "PROXY UNKNOWN %0*d", PROXY_V1_MAX - 14, 7);
	check_context("UNKNOWN without CRLF");
	CHECK_EQ_INT(n, PROXY_V1_MAX);
	struct proxy_info info;
	CHECK_EQ_INT(decode(line, PROXY_V1_MAX - 1, &info), PROXY_PARTIAL);
	CHECK_EQ_INT(decode(line, PROXY_V1_MAX, &info), PROXY_E_TOO_LONG);
	memset(line + 14, 'x', sizeof line - 14);
	CHECK_EQ_INT(decode(line, sizeof line, &info), PROXY_E_TOO_LONG);
	CHECK_EQ_INT(check_prefixes(line, sizeof line), PROXY_V1_MAX);
	/* and 105 bytes of tail + CRLF = 107: fine */
	line[105] = '\r';
	line[106] = '\n';
	CHECK_EQ_INT(decode(line, sizeof line, &info), PROXY_V1_MAX);
	CHECK_EQ_INT(info.local, 1);
	check_context(NULL);
}

/* -------------------------------------------------------------------------- */
/* not a PROXY header at all: refused at the first byte */

static void test_not_proxy(void)
{
	static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
	/* and where the verdict comes: "P" and "PR" start like "PROXY ", "\r\n"
	 * like the v2 signature */
	static const struct {
		const char *text;
		size_t at;
	} texts[] = {
	    {HTTP_REQ, 1},
	    {"POST /x HTTP/1.1\r\n", 2},
	    {"PUT / HTTP/1.0\r\n", 2},
	    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 3},
	    {"\r\nGET / HTTP/1.1\r\n\r\n", 3},
	    {"\r\n\r\nGET / HTTP/1.1\r\n\r\n", 5},
	    {"\n", 1},
	    {" ", 1},
	    {"SSH-2.0-OpenSSH_9.2\r\n", 1},
	};
	struct proxy_info info;
	check_context("TLS ClientHello");
	CHECK_EQ_INT(decode(tls, sizeof tls, &info), PROXY_E_INVALID);
	CHECK_EQ_INT(decode(tls, 1, &info), PROXY_E_INVALID);
	CHECK_EQ_INT(check_prefixes(tls, sizeof tls), 1);
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		check_context("not proxy: %s", texts[i].text);
		CHECK_EQ_INT(decode_str(texts[i].text, &info), PROXY_E_INVALID);
		CHECK_EQ_INT(check_prefixes(texts[i].text, strlen(texts[i].text)), texts[i].at);
	}
	check_context(NULL);
}

/* -------------------------------------------------------------------------- */
/* v2 */

struct v2 {
	uint8_t b[PROXY_V2_MAX + 256];
	size_t n;
};

/* The 16-byte header with the declared length len; the block is added after. */
static void v2_start(struct v2 *h, uint8_t ver_cmd, uint8_t fam, unsigned len)
{
	memcpy(h->b, SIG, 12);
	h->b[12] = ver_cmd;
	h->b[13] = fam;
	h->b[14] = (uint8_t)(len >> 8);
	h->b[15] = (uint8_t)(len & 0xff);
	h->n = 16;
}

static void v2_put(struct v2 *h, const void *p, size_t n)
{
	if (h->n + n > sizeof h->b)
		abort();
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void v2_u8(struct v2 *h, unsigned v)
{
	uint8_t b = (uint8_t)v;
	v2_put(h, &b, 1);
}

static void v2_u16(struct v2 *h, unsigned v)
{
	v2_u8(h, v >> 8);
	v2_u8(h, v & 0xff);
}

static void v2_tlv(struct v2 *h, unsigned type, unsigned len, const char *value)
{
	v2_u8(h, type);
	v2_u16(h, len);
	for (unsigned i = 0; i < len; i++)
		v2_u8(h, value ? (unsigned char)value[i] : (i * 7) & 0xff);
}

/* Sets the declared length to what the block has become. */
static void v2_fix_len(struct v2 *h)
{
	h->b[14] = (uint8_t)((h->n - 16) >> 8);
	h->b[15] = (uint8_t)((h->n - 16) & 0xff);
}

static void v2_inet4(struct v2 *h, uint8_t ver_cmd)
{
	static const uint8_t a[] = {192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb};
	v2_start(h, ver_cmd, 0x11, 0);
	v2_put(h, a, sizeof a); /* 192.0.2.1:56324 -> 198.51.100.7:443 */
}

static void v2_inet6(struct v2 *h)
{
	v2_start(h, 0x21, 0x21, 0);
	struct in6_addr s, d;
	inet_pton(AF_INET6, "2001:db8::1", &s);
	inet_pton(AF_INET6, "2001:db8:ffff::2", &d);
	v2_put(h, &s, 16);
	v2_put(h, &d, 16);
	v2_u16(h, 1234);
	v2_u16(h, 8443);
}

static void v2_unix(struct v2 *h, const char *src, size_t srclen, const char *dst, size_t dstlen)
{
	uint8_t path[108];
	v2_start(h, 0x21, 0x31, 0);
	memset(path, 0, sizeof path);
	memcpy(path, src, srclen);
	v2_put(h, path, sizeof path);
	memset(path, 0, sizeof path);
	memcpy(path, dst, dstlen);
	v2_put(h, path, sizeof path);
}

static void v2_some_tlvs(struct v2 *h)
{
	v2_tlv(h, 0x01, 2, "h2"); /* ALPN */
	v2_tlv(h, 0x02, 11, "example.com"); /* AUTHORITY */
	v2_tlv(h, 0x04, 0, NULL); /* NOOP, empty */
	v2_tlv(h, 0xE0, 300, NULL); /* custom, a length above 255 */
	v2_tlv(h, 0x05, 4, "\x01\x02\x03\x04"); /* UNIQUE_ID */
}

/* Decodes h: the whole block, prefix by prefix, and with a request behind. */
static int v2_decode_ok(const struct v2 *h, struct proxy_info *info)
{
	static uint8_t buf[sizeof((struct v2 *)0)->b + sizeof HTTP_REQ];
	memset(info, 0xAA, sizeof *info);
	if (!CHECK_EQ_INT(decode(h->b, h->n, info), (int)h->n))
		return 0;
	CHECK_EQ_INT(info->version, 2);
	memcpy(buf, h->b, h->n);
	memcpy(buf + h->n, HTTP_REQ, sizeof HTTP_REQ - 1);
	struct proxy_info other;
	CHECK_EQ_INT(decode(buf, h->n + sizeof HTTP_REQ - 1, &other), (int)h->n);
	CHECK_EQ_INT(check_prefixes(buf, h->n + sizeof HTTP_REQ - 1), h->n);
	return 1;
}

static void check_un(const struct sockaddr_storage *ss, socklen_t len, const char *path, size_t pathlen,
                     size_t wantlen)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
	uint8_t want[108];
	memset(want, 0, sizeof want);
	memcpy(want, path, pathlen);
	CHECK_EQ_INT(ss->ss_family, AF_UNIX);
	CHECK_EQ_INT(len, offsetof(struct sockaddr_un, sun_path) + wantlen);
	CHECK_EQ_MEM(sun->sun_path, sizeof sun->sun_path, want, sizeof want);
}

static void test_v2_valid(void)
{
	static struct v2 h;
	struct proxy_info info;

	check_context("v2 INET");
	v2_inet4(&h, 0x21);
	v2_fix_len(&h);
	CHECK_EQ_INT(h.n, 28);
	if (v2_decode_ok(&h, &info)) {
		CHECK_EQ_INT(info.local, 0);
		check_in4(&info.src, info.srclen, "192.0.2.1", 56324);
		check_in4(&info.dst, info.dstlen, "198.51.100.7", 443);
	}

	check_context("v2 INET + TLVs");
	v2_inet4(&h, 0x21);
	v2_some_tlvs(&h);
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info)) {
		CHECK_EQ_INT(info.local, 0);
		check_in4(&info.src, info.srclen, "192.0.2.1", 56324);
		check_in4(&info.dst, info.dstlen, "198.51.100.7", 443);
	}

	check_context("v2 INET6");
	v2_inet6(&h);
	v2_fix_len(&h);
	CHECK_EQ_INT(h.n, 52);
	if (v2_decode_ok(&h, &info)) {
		CHECK_EQ_INT(info.local, 0);
		check_in6(&info.src, info.srclen, "2001:db8::1", 1234);
		check_in6(&info.dst, info.dstlen, "2001:db8:ffff::2", 8443);
	}

	check_context("v2 INET6 + TLVs");
	v2_inet6(&h);
	v2_some_tlvs(&h);
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info)) {
		check_in6(&info.src, info.srclen, "2001:db8::1", 1234);
		check_in6(&info.dst, info.dstlen, "2001:db8:ffff::2", 8443);
	}

	check_context("v2 UNIX path / abstract");
	v2_unix(&h, "/run/lb.sock", 12, "\0hearth", 7);
	v2_fix_len(&h);
	CHECK_EQ_INT(h.n, 16 + 216);
	if (v2_decode_ok(&h, &info)) {
		CHECK_EQ_INT(info.local, 0);
		check_un(&info.src, info.srclen, "/run/lb.sock", 12, 13);
		check_un(&info.dst, info.dstlen, "\0hearth", 7, 7);
	}

	check_context("v2 UNIX 108-byte path, empty abstract + TLVs");
	char longpath[108];
	memset(longpath, 'p', sizeof longpath);
	longpath[0] = '/';
	v2_unix(&h, longpath, 108, "", 0);
	v2_some_tlvs(&h);
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info)) {
		check_un(&info.src, info.srclen, longpath, 108, 108);
		check_un(&info.dst, info.dstlen, "", 0, 1);
	}

	check_context("v2 LOCAL");
	v2_start(&h, 0x20, 0x00, 0);
	if (v2_decode_ok(&h, &info)) {
		CHECK_EQ_INT(h.n, 16);
		CHECK_EQ_INT(info.local, 1);
		CHECK_EQ_INT(info.srclen, 0);
		CHECK_EQ_INT(info.dstlen, 0);
	}

	check_context("v2 LOCAL + TLVs");
	v2_start(&h, 0x20, 0x00, 0);
	v2_some_tlvs(&h);
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info))
		CHECK_EQ_INT(info.local, 1);

	check_context("v2 LOCAL with INET addresses (ignored)");
	v2_inet4(&h, 0x20);
	v2_tlv(&h, 0x04, 1, "x");
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info)) {
		CHECK_EQ_INT(info.local, 1);
		CHECK_EQ_INT(info.srclen, 0);
	}

	/* LOCAL: the block, family included, is discarded unread */
	static const uint8_t fams[] = {0x12, 0x22, 0x32, 0xff, 0x40};
	for (size_t i = 0; i < sizeof fams; i++) {
		check_context("v2 LOCAL with family 0x%02x and a 5-byte block", fams[i]);
		v2_start(&h, 0x20, fams[i], 0);
		v2_put(&h, "\xff\xff\xff\xff\xff", 5);
		v2_fix_len(&h);
		if (v2_decode_ok(&h, &info))
			CHECK_EQ_INT(info.local, 1);
	}

	check_context("v2 PROXY UNSPEC");
	v2_start(&h, 0x21, 0x00, 0);
	if (v2_decode_ok(&h, &info))
		CHECK_EQ_INT(info.local, 1);

	check_context("v2 PROXY UNSPEC + TLVs");
	v2_start(&h, 0x21, 0x00, 0);
	v2_some_tlvs(&h);
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info))
		CHECK_EQ_INT(info.local, 1);

	check_context("v2 PROXY UNSPEC, address bytes (ignored)");
	v2_start(&h, 0x21, 0x00, 0);
	v2_put(&h, "\x01\x02\x03\x04\x05\x06\x07", 7);
	v2_fix_len(&h);
	if (v2_decode_ok(&h, &info))
		CHECK_EQ_INT(info.local, 1);

	check_context("v2 INET, exactly PROXY_V2_MAX bytes");
	v2_inet4(&h, 0x21);
	v2_tlv(&h, 0xEE, PROXY_V2_MAX - 28 - 3, NULL);
	v2_fix_len(&h);
	CHECK_EQ_INT(h.n, PROXY_V2_MAX);
	if (v2_decode_ok(&h, &info))
		check_in4(&info.src, info.srclen, "192.0.2.1", 56324);

	check_context("v2 INET, PROXY_V2_MAX bytes of empty TLVs");
	v2_inet4(&h, 0x21);
	for (int i = 0; i < (PROXY_V2_MAX - 28) / 3; i++) /* 996 = 3 * 332 */
		v2_tlv(&h, 0x04, 0, NULL);
	v2_fix_len(&h);
	CHECK_EQ_INT(h.n, PROXY_V2_MAX);
	v2_decode_ok(&h, &info);

	check_context("v2 LOCAL, exactly PROXY_V2_MAX bytes");
	v2_start(&h, 0x20, 0x00, PROXY_V2_MAX - 16);
	h.n = PROXY_V2_MAX;
	memset(h.b + 16, 0x5a, PROXY_V2_MAX - 16);
	v2_decode_ok(&h, &info);
	check_context(NULL);
}

/* decodes h whole and prefix by prefix: verdict, and where it appears */
static void v2_expect(const struct v2 *h, int verdict, size_t at)
{
	struct proxy_info info;
	CHECK_EQ_INT(decode(h->b, h->n, &info), verdict);
	CHECK_EQ_INT(check_prefixes(h->b, h->n), at);
}

static void test_v2_malformed(void)
{
	static struct v2 h;

	for (size_t i = 0; i < 12; i++) {
		static const uint8_t flips[] = {0x01, 0x20, 0x80, 0xff};
		for (size_t f = 0; f < sizeof flips; f++) {
			check_context("v2 signature byte %zu ^ 0x%02x", i, flips[f]);
			v2_inet4(&h, 0x21);
			v2_fix_len(&h);
			h.b[i] ^= flips[f];
			/* refused at once (none of the flips makes a first byte 'P') */
			v2_expect(&h, PROXY_E_INVALID, i + 1);
		}
	}
	check_context("v2 signature, 11 bytes then a request");
	memcpy(h.b, SIG, 11);
	memcpy(h.b + 11, HTTP_REQ, 20);
	h.n = 31;
	v2_expect(&h, PROXY_E_INVALID, 12);

	static const uint8_t bad_vc[] = {0x11, 0x31, 0x01, 0xF1, 0x00, 0x22, 0x2F, 0x23, 0x12};
	for (size_t i = 0; i < sizeof bad_vc; i++) {
		check_context("v2 version/command 0x%02x", bad_vc[i]);
		v2_inet4(&h, bad_vc[i]);
		v2_fix_len(&h);
		v2_expect(&h, PROXY_E_INVALID, 13);
	}

	static const uint8_t bad_fam[] = {0x12, 0x22, 0x32, 0x01, 0x02, 0x10,
	                                  0x20, 0x30, 0x13, 0x33, 0x41, 0xff};
	for (size_t i = 0; i < sizeof bad_fam; i++) {
		check_context("v2 PROXY family/transport 0x%02x", bad_fam[i]);
		v2_start(&h, 0x21, bad_fam[i], 0);
		uint8_t zero[216] = {0};
		v2_put(&h, zero, sizeof zero);
		v2_fix_len(&h);
		v2_expect(&h, PROXY_E_INVALID, 14);
	}

	static const struct {
		uint8_t fam;
		unsigned len;
	} shorts[] = {{0x11, 11}, {0x11, 0}, {0x21, 35}, {0x21, 12}, {0x31, 215}, {0x31, 36}};
	for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++) {
		check_context("v2 family 0x%02x with a %u-byte block", shorts[i].fam, shorts[i].len);
		v2_start(&h, 0x21, shorts[i].fam, shorts[i].len);
		memset(h.b + 16, 0x11, shorts[i].len);
		h.n += shorts[i].len;
		v2_expect(&h, PROXY_E_INVALID, 16);
	}

	check_context("v2 TLV overrunning the block");
	v2_inet4(&h, 0x21);
	v2_tlv(&h, 0x02, 5, "abcde");
	v2_fix_len(&h);
	h.b[28 + 2] = 6; /* claims 6 bytes, 5 are left */
	v2_expect(&h, PROXY_E_INVALID, 28 + 3);

	check_context("v2 second TLV overrunning");
	v2_inet4(&h, 0x21);
	v2_tlv(&h, 0x01, 2, "h2");
	v2_tlv(&h, 0x02, 3, "abc");
	v2_fix_len(&h);
	h.b[33 + 1] = 0x01; /* 259 bytes */
	v2_expect(&h, PROXY_E_INVALID, 33 + 3);

	check_context("v2 TLV longer than the whole");
	v2_inet4(&h, 0x21);
	v2_tlv(&h, 0x02, 0, NULL);
	v2_fix_len(&h);
	h.b[29] = 0xff;
	h.b[30] = 0xff;
	v2_expect(&h, PROXY_E_INVALID, 31);

	for (unsigned extra = 1; extra <= 2; extra++) {
		check_context("v2 %u stray bytes after the addresses", extra);
		v2_inet4(&h, 0x21);
		v2_put(&h, "\x01\x00", extra);
		v2_fix_len(&h);
		v2_expect(&h, PROXY_E_INVALID, 16);
		check_context("v2 %u stray bytes after a TLV", extra);
		v2_inet6(&h);
		v2_tlv(&h, 0x04, 0, NULL);
		v2_put(&h, "\x01\x00", extra);
		v2_fix_len(&h);
		/* the TLV walk reaches them only after the first TLV's header */
		v2_expect(&h, PROXY_E_INVALID, 52 + 3);
	}

	check_context("v2 PROXY_V2_MAX + 1");
	v2_inet4(&h, 0x21);
	v2_tlv(&h, 0xEE, PROXY_V2_MAX - 28 - 3 + 1, NULL);
	v2_fix_len(&h);
	v2_expect(&h, PROXY_E_TOO_LONG, 16);

	check_context("v2 LOCAL, PROXY_V2_MAX + 1");
	v2_start(&h, 0x20, 0x00, PROXY_V2_MAX - 16 + 1);
	v2_expect(&h, PROXY_E_TOO_LONG, 16);

	check_context("v2 length 0xffff");
	v2_start(&h, 0x21, 0x11, 0xffff);
	v2_put(&h, "\1\2\3\4\5\6\7\x08\x09\x0a\x0b\x0c", 12);
	v2_expect(&h, PROXY_E_TOO_LONG, 16);

	check_context("v2 INET, one byte short");
	v2_inet4(&h, 0x21);
	v2_fix_len(&h);
	struct proxy_info info;
	CHECK_EQ_INT(decode(h.b, 27, &info), PROXY_PARTIAL);
	check_context(NULL);
}

/* -------------------------------------------------------------------------- */
/* v1 addresses against inet_pton() */

static const char *const completions[] = {
    "", "0", ":", "::", "0::", ":0", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0", "1", "0:0", "::0",
};

/* A random address-like string: pieces of addresses glued together. */
static void random_addr(uint64_t *seed, char *out, size_t cap)
{
	static const char *const pieces[] = {
	    "0",  "1",   "9",  "10",   "99",   "100",  "255",     "256",     "01",         "00",     "a", "f",
	    "ff", "fff", "Ab", "ffff", "FFFF", "0000", "1234",    "12345",   ":",          "::",     ".", ".",
	    ":",  ":",   "g",  "-",    "%",    "x",    "1.2.3.4", "::ffff:", "2001:db8::", "fe80::",
	};
	size_t n = 0;
	unsigned count = 1 + (unsigned)check_rand_below(seed, 12);
	out[0] = '\0';
	for (unsigned i = 0; i < count; i++) {
		const char *p = pieces[check_rand_below(seed, sizeof pieces / sizeof pieces[0])];
		size_t k = strlen(p);
		if (n + k + 1 > cap)
			break;
		memcpy(out + n, p, k + 1);
		n += k;
	}
}

static void check_addr_oracle(int af, const char *s)
{
	char line[256];
	char tmp[128];
	uint8_t want[16];
	struct proxy_info info;
	const char *fam = af == AF_INET ? T4 : T6;
	const char *other = af == AF_INET ? "9.9.9.9" : "::9";
	int ok = inet_pton(af, s, want) == 1;

	/* as a whole source address */
	int n = snprintf(line, sizeof line, "%s%s %s 1 2\r\n", fam, s, other);
	check_context("%s address \"%s\"", af == AF_INET ? "TCP4" : "TCP6", s);
	if (n <= PROXY_V1_MAX) {
		int r = decode(line, (size_t)n, &info);
		if (!CHECK_EQ_INT(r > 0, ok))
			return;
		if (ok) {
			const void *got = af == AF_INET
			                      ? (const void *)&((struct sockaddr_in *)&info.src)->sin_addr
			                      : (const void *)&((struct sockaddr_in6 *)&info.src)->sin6_addr;
			CHECK_EQ_MEM(got, af == AF_INET ? 4 : 16, want, af == AF_INET ? 4 : 16);
		}
	}
	/* as the beginning of one: PARTIAL exactly when some continuation is valid */
	n = snprintf(line, sizeof line, "%s%s", fam, s);
	if (n >= PROXY_V1_MAX)
		return;
	int viable = 0;
	for (size_t i = 0; i < sizeof completions / sizeof completions[0] && !viable; i++) {
		snprintf(tmp, sizeof tmp, "%s%s", s, completions[i]);
		viable = inet_pton(af, tmp, want) == 1;
	}
	CHECK_EQ_INT(decode(line, (size_t)n, &info) == PROXY_PARTIAL, viable);
	/* and the destination address scanner is the same */
	n = snprintf(line, sizeof line, "%s%s %s", fam, other, s);
	if (n < PROXY_V1_MAX)
		CHECK_EQ_INT(decode(line, (size_t)n, &info) == PROXY_PARTIAL, viable);
}

static void test_addresses(void)
{
	static const char *const fixed[] = {
	    "::",
	    "::1",
	    "1::",
	    "1:2:3:4:5:6:7:8",
	    "1:2:3:4:5:6:7::",
	    "::2:3:4:5:6:7:8",
	    "1:2:3:4:5:6:7::8",
	    "1::2:3:4:5:6:7",
	    "::1:2:3:4:5:6:7",
	    "1:2:3:4::5:6:7",
	    "::ffff:1.2.3.4",
	    "::1.2.3.4",
	    "1:2:3:4:5:6:1.2.3.4",
	    "1:2:3:4:5::1.2.3.4",
	    "1:2:3:4:5:6::1.2.3.4",
	    "1:2:3:4:5:6:7:1.2.3.4",
	    "::01.2.3.4",
	    "::256.2.3.4",
	    "::1234.2.3.4",
	    "0:0:0:0:0:0:0:0",
	    "00000::",
	    "0.0.0.0",
	    "255.255.255.255",
	    "1.2.3.4",
	    "1.2.3.04",
	    "1.2.3",
	    "",
	    ":",
	    ":::",
	    "1:::2",
	    "fFfF::AbCd",
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		check_addr_oracle(AF_INET6, fixed[i]);
		check_addr_oracle(AF_INET, fixed[i]);
	}
	uint64_t seed = 0x70C0FFEE;
	char s[64];
	for (int i = 0; i < 40000; i++) {
		random_addr(&seed, s, sizeof s);
		check_addr_oracle(i & 1 ? AF_INET : AF_INET6, s);
	}
	/* every IPv4 octet, as each of the four */
	for (unsigned v = 0; v < 300; v++) {
		char a[32];
		snprintf(a, sizeof a, "%u.1.2.3", v);
		check_addr_oracle(AF_INET, a);
		snprintf(a, sizeof a, "1.2.3.%u", v);
		check_addr_oracle(AF_INET, a);
		snprintf(a, sizeof a, "::%x", v * 241);
		check_addr_oracle(AF_INET6, a);
	}
	check_context(NULL);
}

/* Every port value at the edges, and every 1-6 digit string with leading zeros. */
static void test_ports(void)
{
	static const char *const ports[] = {"0",     "1",     "9",     "10",    "65535",  "65534",
	                                    "65536", "65540", "65599", "99999", "100000", "00",
	                                    "01",    "000",   "0065",  "6553",  "655350"};
	char line[128];
	struct proxy_info info;
	for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
		const char *p = ports[i];
		size_t k = strlen(p);
		long v = strtol(p, NULL, 10);
		int ok = (k == 1 || p[0] != '0') && v <= 65535 && k <= 5;
		check_context("port %s", p);
		int n = snprintf(line, sizeof line, T4 "1.2.3.4 5.6.7.8 %s 7\r\n", p);
		if (!CHECK_EQ_INT(decode(line, (size_t)n, &info) > 0, ok))
			continue;
		if (ok)
			check_in4(&info.src, info.srclen, "1.2.3.4", (unsigned)v);
		n = snprintf(line, sizeof line, T4 "1.2.3.4 5.6.7.8 7 %s\r\n", p);
		if (CHECK_EQ_INT(decode(line, (size_t)n, &info) > 0, ok) && ok)
			check_in4(&info.dst, info.dstlen, "5.6.7.8", (unsigned)v);
		check_prefixes(line, (size_t)n);
	}
	check_context(NULL);
}

/* -------------------------------------------------------------------------- */
/* damaged headers: the prefix rule holds whatever the bytes */

static size_t make_valid(unsigned which, uint8_t *out)
{
	static struct v2 h;
	which %= 8 + sizeof v1_ok / sizeof v1_ok[0];
	if (which >= 8) {
		const char *l = v1_ok[which - 8].line;
		memcpy(out, l, strlen(l));
		return strlen(l);
	}
	switch (which) {
	case 0: v2_inet4(&h, 0x21); break;
	case 1:
		v2_inet4(&h, 0x21);
		v2_some_tlvs(&h);
		break;
	case 2: v2_inet6(&h); break;
	case 3:
		v2_inet6(&h);
		v2_tlv(&h, 1, 2, "h2");
		break;
	case 4: v2_unix(&h, "/s", 2, "\0a", 2); break;
	case 5: v2_start(&h, 0x20, 0, 0); break;
	case 6:
		v2_start(&h, 0x21, 0, 0);
		v2_tlv(&h, 4, 3, "abc");
		break;
	default:
		v2_unix(&h, "/s", 2, "\0a", 2);
		v2_tlv(&h, 2, 1, "x");
		break;
	}
	v2_fix_len(&h);
	memcpy(out, h.b, h.n);
	return h.n;
}

static void test_mutations(void)
{
	static uint8_t buf[2048];
	uint64_t seed = 0xBADC0DE;
	struct proxy_info info;
	for (unsigned iter = 0; iter < 3000; iter++) {
		size_t n = make_valid((unsigned)check_rand_below(&seed, 1000), buf);
		unsigned muts = 1 + (unsigned)check_rand_below(&seed, 3);
		for (unsigned m = 0; m < muts; m++) {
			size_t at = (size_t)check_rand_below(&seed, n + 1);
			switch (check_rand_below(&seed, 5)) {
			case 0: /* replace a byte */
				if (at < n)
					buf[at] = (uint8_t)check_rand_(&seed);
				break;
			case 1: /* flip a bit */
				if (at < n)
					buf[at] ^= (uint8_t)(1u << check_rand_below(&seed, 8));
				break;
			case 2: /* delete a byte */
				if (at < n) {
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
				}
				break;
			case 3: /* insert a byte */
				if (n < sizeof buf - 64) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = (uint8_t) " :.0\r\n\x00\xff"[check_rand_below(&seed, 8)];
					n++;
				}
				break;
			default: /* append a request */
				if (n + sizeof HTTP_REQ < sizeof buf) {
					memcpy(buf + n, HTTP_REQ, sizeof HTTP_REQ - 1);
					n += sizeof HTTP_REQ - 1;
				}
				break;
			}
		}
		check_context("mutation %u", iter);
		int r = decode(buf, n, &info);
		CHECK(r == PROXY_PARTIAL || r == PROXY_E_INVALID || r == PROXY_E_TOO_LONG ||
		      (r > 0 && (size_t)r <= n));
		if (r > 0) {
			CHECK(info.version == 1 || info.version == 2);
			CHECK(r <= (info.version == 1 ? PROXY_V1_MAX : PROXY_V2_MAX));
		}
		if (!check_prefixes(buf, n))
			break;
	}
	check_context(NULL);
}

/* -------------------------------------------------------------------------- */
/* fuzz seeds */

static int write_file(const char *dir, const char *name, const void *p, size_t n)
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

static const char *bad_line(const char *name)
{
	for (size_t i = 0; i < sizeof v1_bad / sizeof v1_bad[0]; i++)
		if (strcmp(v1_bad[i].name, name) == 0)
			return v1_bad[i].line;
	abort();
}

static int write_seeds(const char *dir)
{
	static struct v2 h;
	static uint8_t buf[sizeof h.b + 64];
	int err = 0;
	err |= write_file(dir, "v1_tcp4", v1_ok[0].line, strlen(v1_ok[0].line));
	err |= write_file(dir, "v1_tcp6_max", v1_ok[4].line, strlen(v1_ok[4].line));
	err |= write_file(dir, "v1_tcp6_v4tail", v1_ok[10].line, strlen(v1_ok[10].line));
	err |= write_file(dir, "v1_unknown", "PROXY UNKNOWN\r\n", 15);
	err |= write_file(dir, "v1_unknown_107", v1_ok[15].line, strlen(v1_ok[15].line));
	snprintf((char *)buf, sizeof buf, "%s%s", v1_ok[5].line, HTTP_REQ);
	err |= write_file(dir, "v1_tcp6_then_request", buf, strlen((char *)buf));
	err |= write_file(dir, "bad_http", HTTP_REQ, sizeof HTTP_REQ - 1);
	err |= write_file(dir, "bad_tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	const char *l = bad_line("port 65536");
	err |= write_file(dir, "bad_v1_port", l, strlen(l));
	l = bad_line("ipv6 ipv4 tail too late");
	err |= write_file(dir, "bad_v1_ipv6", l, strlen(l));
	err |= write_file(dir, "bad_v1_lf", T4 "1.2.3.4 5.6.7.8 1 2\n", strlen(T4 "1.2.3.4 5.6.7.8 1 2\n"));

	v2_inet4(&h, 0x21);
	v2_fix_len(&h);
	err |= write_file(dir, "v2_inet", h.b, h.n);
	memcpy(buf, h.b, h.n);
	memcpy(buf + h.n, HTTP_REQ, sizeof HTTP_REQ - 1);
	err |= write_file(dir, "v2_inet_then_request", buf, h.n + sizeof HTTP_REQ - 1);
	v2_inet4(&h, 0x21);
	v2_some_tlvs(&h);
	v2_fix_len(&h);
	err |= write_file(dir, "v2_inet_tlvs", h.b, h.n);
	v2_inet6(&h);
	v2_tlv(&h, 0x01, 2, "h2");
	v2_fix_len(&h);
	err |= write_file(dir, "v2_inet6_tlv", h.b, h.n);
	v2_unix(&h, "/run/lb.sock", 12, "\0hearth", 7);
	v2_fix_len(&h);
	err |= write_file(dir, "v2_unix", h.b, h.n);
	v2_start(&h, 0x20, 0x00, 0);
	err |= write_file(dir, "v2_local", h.b, h.n);
	v2_start(&h, 0x21, 0x00, 0);
	v2_tlv(&h, 0x04, 3, "abc");
	v2_fix_len(&h);
	err |= write_file(dir, "v2_unspec_tlv", h.b, h.n);
	v2_inet4(&h, 0x21);
	v2_tlv(&h, 0x02, 5, "abcde");
	v2_fix_len(&h);
	h.b[30] = 6;
	err |= write_file(dir, "bad_v2_tlv_overrun", h.b, h.n);
	v2_inet4(&h, 0x21);
	v2_fix_len(&h);
	h.b[13] = 0x12;
	err |= write_file(dir, "bad_v2_dgram", h.b, h.n);
	v2_start(&h, 0x21, 0x11, PROXY_V2_MAX - 15);
	err |= write_file(dir, "bad_v2_too_long", h.b, h.n);
	return err;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_v1_valid();
	test_v1_malformed();
	test_v1_partial();
	test_not_proxy();
	test_v2_valid();
	test_v2_malformed();
	test_addresses();
	test_ports();
	test_mutations();
	return check_done();
}
