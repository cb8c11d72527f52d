/* proxy.c: the PROXY protocol decoder (versions 1 and 2), see proxy.h.
 *
 * The verdict only ever depends on the bytes seen so far, and every check
 * either has all the bytes it needs or answers PROXY_PARTIAL. So a verdict
 * reached on a prefix is the verdict for every longer input, and a header is
 * rejected as soon as the bytes cannot start a valid one (a plain "GET / ..."
 * at its first byte, "PROXY TCP4 1.2.3.4 ..." at the first digit that cannot
 * belong to the address, "0" followed by a digit in a port, ...).
 *
 * v1 addresses are parsed here rather than with inet_pton() so that a prefix
 * can be judged; the accepted forms are exactly those of glibc's inet_pton():
 * IPv4 as four decimal octets without leading zeros, IPv6 as up to eight groups
 * of 1-4 hex digits with at most one "::" (standing for at least one group) and
 * an optional dotted IPv4 tail in the last two groups.
 *
 * v1 line ending: the first CR or LF ends the line and must be CR LF, also
 * after "UNKNOWN" (whose tail may otherwise hold any bytes).
 *
 * v2: with the LOCAL command, or PROXY with the UNSPEC family (0x00), the block
 * after the 16-byte header is skipped whole, unread (the specification says to
 * discard it, family included, for LOCAL); only its length is checked against
 * PROXY_V2_MAX. With PROXY, the family/transport byte must be 0x00, 0x11,
 * 0x21 or 0x31 (every other value, DGRAM ones included, is invalid), and the
 * TLVs after the addresses must tile the rest of the block exactly.
 */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "core/text.h"

/* What a field scanner found in the bytes it was given. */
enum scan {
	SCAN_DONE, /* a complete field, followed by a byte that is not part of it */
	SCAN_PARTIAL, /* the bytes ran out; what came is a prefix of a valid field */
	SCAN_BAD, /* no valid field starts like this */
};

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Dotted-quad IPv4 at p[0..n): 4 decimal octets 0-255 without leading zeros.
 * On SCAN_DONE, *used is the field's length (p[*used] ends it). */
static enum scan scan_ip4(const uint8_t *p, size_t n, size_t *used, uint8_t out[4])
{
	unsigned octets = 0, val = 0, digits = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (is_digit(c)) {
			if (digits == 1 && val == 0)
				return SCAN_BAD; /* leading zero */
			val = val * 10 + (unsigned)(c - '0');
			if (val > 255)
				return SCAN_BAD;
			digits++;
		} else if (c == '.') {
			if (digits == 0 || octets == 3)
				return SCAN_BAD;
			out[octets++] = (uint8_t)val;
			val = 0;
			digits = 0;
		} else {
			if (octets != 3 || digits == 0)
				return SCAN_BAD;
			out[3] = (uint8_t)val;
			*used = i;
			return SCAN_DONE;
		}
	}
	return SCAN_PARTIAL;
}

/* Textual IPv6 at p[0..n), see the top of the file. A prefix is PARTIAL only
 * when some continuation makes it valid: a group may start only when it can
 * still fit (8 groups, or 7 with "::"), a ':' after a group only when another
 * group or "::" can follow, an IPv4 tail only where it ends the address. */
static enum scan scan_ip6(const uint8_t *p, size_t n, size_t *used, uint8_t out[16])
{
	uint16_t groups[8];
	unsigned ngroups = 0; /* complete 16-bit groups */
	int gap = -1; /* where "::" stands (index into groups), or -1 */
	unsigned digits = 0, val = 0;
	int pending = 0; /* a ':' ended a group: a group or a second ':' must follow */
	size_t tok = 0; /* where the current group's text starts */
	size_t i = 0;

	if (n == 0)
		return SCAN_PARTIAL;
	if (p[0] == ':') { /* a leading ':' is only the first half of "::" */
		if (n == 1)
			return SCAN_PARTIAL;
		if (p[1] != ':')
			return SCAN_BAD;
		i = 1;
	}
	for (; i < n; i++) {
		uint8_t c = p[i];
		int h = hex_digit(c);
		if (h >= 0) {
			if (digits == 4)
				return SCAN_BAD;
			if (digits == 0 && ngroups + 1 > (gap >= 0 ? 7u : 8u))
				return SCAN_BAD; /* no room for this group */
			val = (val << 4) | (unsigned)h;
			digits++;
			pending = 0;
		} else if (c == ':') {
			if (digits == 0) { /* the second ':' of "::" */
				if (gap >= 0)
					return SCAN_BAD;
				gap = (int)ngroups;
				pending = 0;
			} else {
				if (ngroups == 8)
					return SCAN_BAD;
				groups[ngroups++] = (uint16_t)val;
				val = 0;
				digits = 0;
				/* room for one more group ("::" needs as much) */
				if (ngroups + 1 > (gap >= 0 ? 7u : 8u))
					return SCAN_BAD;
				pending = 1;
			}
			tok = i + 1;
		} else if (c == '.') {
			/* the current group was the first octet of an IPv4 tail, which
			 * fills the last two groups */
			if (digits == 0)
				return SCAN_BAD;
			if (gap >= 0 ? ngroups > 5 : ngroups != 6)
				return SCAN_BAD;
			uint8_t v4[4];
			size_t n4 = 0;
			enum scan r = scan_ip4(p + tok, n - tok, &n4, v4);
			if (r != SCAN_DONE)
				return r;
			groups[ngroups++] = (uint16_t)(v4[0] << 8 | v4[1]);
			groups[ngroups++] = (uint16_t)(v4[2] << 8 | v4[3]);
			i = tok + n4;
			digits = 0;
			pending = 0;
			break;
		} else {
			break;
		}
	}
	if (i == n)
		return SCAN_PARTIAL;
	/* p[i] ends the field */
	if (i == 0 || pending)
		return SCAN_BAD;
	if (digits > 0) {
		if (ngroups == 8)
			return SCAN_BAD;
		groups[ngroups++] = (uint16_t)val;
	}
	if (gap >= 0 ? ngroups > 7 : ngroups != 8)
		return SCAN_BAD;

	/* "::" stands for the 8 - ngroups zero groups at gap */
	unsigned zeros = 8 - ngroups, k = 0;
	for (unsigned g = 0; g < 8; g++) {
		int written = gap < 0 || g < (unsigned)gap || g >= (unsigned)gap + zeros;
		uint16_t v = written ? groups[k++] : 0;
		out[2 * g] = (uint8_t)(v >> 8);
		out[2 * g + 1] = (uint8_t)(v & 0xff);
	}
	*used = i;
	return SCAN_DONE;
}

/* Decimal port 0-65535, no leading zeros (but "0"). */
static enum scan scan_port(const uint8_t *p, size_t n, size_t *used, uint16_t *port)
{
	unsigned val = 0, digits = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (!is_digit(c)) {
			if (digits == 0)
				return SCAN_BAD;
			*port = (uint16_t)val;
			*used = i;
			return SCAN_DONE;
		}
		if (digits == 1 && val == 0)
			return SCAN_BAD;
		val = val * 10 + (unsigned)(c - '0');
		if (val > 65535)
			return SCAN_BAD;
		digits++;
	}
	return SCAN_PARTIAL;
}

/* Matches the literal s at buf[*pos..n): 1 matched (pos advanced), 0 the
 * bytes ran out while matching, -1 a mismatch. */
static int match(const uint8_t *buf, size_t n, size_t *pos, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i < k; i++) {
		if (*pos + i == n)
			return 0;
		if (buf[*pos + i] != (uint8_t)s[i])
			return -1;
	}
	*pos += k;
	return 1;
}

/* CR LF at buf[pos..n): the header's length, or PARTIAL / INVALID. */
static int v1_crlf(const uint8_t *buf, size_t n, size_t pos)
{
	if (pos == n)
		return PROXY_PARTIAL;
	if (buf[pos] != '\r')
		return PROXY_E_INVALID;
	if (pos + 1 == n)
		return PROXY_PARTIAL;
	if (buf[pos + 1] != '\n')
		return PROXY_E_INVALID;
	return (int)(pos + 2);
}

static void set_in4(struct sockaddr_storage *ss, socklen_t *len, const uint8_t a[4], uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	uint8_t *dst = (uint8_t *)&sin->sin_addr;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	for (int i = 0; i < 4; i++)
		dst[i] = a[i];
	*len = sizeof *sin;
}

static void set_in6(struct sockaddr_storage *ss, socklen_t *len, const uint8_t a[16], uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	uint8_t *dst = (uint8_t *)&sin6->sin6_addr;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	for (int i = 0; i < 16; i++)
		dst[i] = a[i];
	*len = sizeof *sin6;
}

/* The v1 line in buf[0..n), n <= PROXY_V1_MAX. */
static int decode_v1(const uint8_t *buf, size_t n, struct proxy_info *info)
{
	size_t pos = 0;
	int m = match(buf, n, &pos, "PROXY ");
	if (m <= 0)
		return m < 0 ? PROXY_E_INVALID : PROXY_PARTIAL;

	/* the family: "TCP4 ", "TCP6 " or "UNKNOWN" (one of them is still
	 * possible as long as a match only ran out of bytes) */
	static const char *const fams[] = {"TCP4 ", "TCP6 ", "UNKNOWN"};
	int fam = -1, partial = 0;
	for (int f = 0; f < 3 && fam < 0; f++) {
		size_t at = pos;
		m = match(buf, n, &at, fams[f]);
		if (m > 0) {
			fam = f;
			pos = at;
		} else if (m == 0) {
			partial = 1;
		}
	}
	if (fam < 0)
		return partial ? PROXY_PARTIAL : PROXY_E_INVALID;

	info->version = 1;
	if (fam == 2) {
		/* "UNKNOWN" CRLF, or "UNKNOWN" SP anything up to CRLF */
		if (pos < n && buf[pos] == ' ') {
			pos++;
			while (pos < n && buf[pos] != '\r' && buf[pos] != '\n')
				pos++;
		}
		info->local = 1;
		return v1_crlf(buf, n, pos);
	}

	uint8_t a[2][16];
	uint16_t port[2];
	for (int f = 0; f < 4; f++) {
		size_t used = 0;
		enum scan r;
		if (f < 2)
			r = fam == 0 ? scan_ip4(buf + pos, n - pos, &used, a[f])
			             : scan_ip6(buf + pos, n - pos, &used, a[f]);
		else
			r = scan_port(buf + pos, n - pos, &used, &port[f - 2]);
		if (r == SCAN_PARTIAL)
			return PROXY_PARTIAL;
		if (r == SCAN_BAD)
			return PROXY_E_INVALID;
		pos += used; /* buf[pos] exists: it ended the field */
		if (f < 3) {
			if (buf[pos] != ' ')
				return PROXY_E_INVALID;
			pos++;
		}
	}
	int total = v1_crlf(buf, n, pos);
	if (total <= 0)
		return total;
	for (int s = 0; s < 2; s++) {
		struct sockaddr_storage *ss = s == 0 ? &info->src : &info->dst;
		socklen_t *len = s == 0 ? &info->srclen : &info->dstlen;
		if (fam == 0)
			set_in4(ss, len, a[s], port[s]);
		else
			set_in6(ss, len, a[s], port[s]);
	}
	return total;
}

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* A v2 Unix address: 108 bytes, NUL-padded. The length counts the path and
 * its NUL (or all 108 bytes when there is none); for an abstract name
 * (leading NUL), the name up to its last non-NUL byte. */
static void set_un(struct sockaddr_storage *ss, socklen_t *len, const uint8_t *p)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	size_t cap = sizeof sun->sun_path < 108 ? sizeof sun->sun_path : 108;
	size_t n = 0;
	sun->sun_family = AF_UNIX;
	for (size_t i = 0; i < cap; i++)
		sun->sun_path[i] = (char)p[i];
	if (p[0] != 0) {
		while (n < cap && p[n] != 0)
			n++;
		if (n < cap)
			n++; /* the NUL */
	} else {
		for (size_t i = 1; i < cap; i++)
			if (p[i] != 0)
				n = i + 1;
		if (n == 0)
			n = 1; /* an empty abstract name */
	}
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static int decode_v2(const uint8_t *buf, size_t len, struct proxy_info *info)
{
	size_t sig = len < sizeof v2_sig ? len : sizeof v2_sig;
	for (size_t i = 0; i < sig; i++)
		if (buf[i] != v2_sig[i])
			return PROXY_E_INVALID;
	if (len < 13)
		return PROXY_PARTIAL;
	uint8_t ver_cmd = buf[12];
	if (ver_cmd >> 4 != 2 || (ver_cmd & 0x0f) > 1)
		return PROXY_E_INVALID;
	int local = (ver_cmd & 0x0f) == 0;
	if (len < 14)
		return PROXY_PARTIAL;
	uint8_t fam = buf[13];
	size_t need = 0; /* the address block's size */
	if (!local) {
		switch (fam) {
		case 0x00: local = 1; break; /* UNSPEC */
		case 0x11: need = 12; break; /* TCP over IPv4 */
		case 0x21: need = 36; break; /* TCP over IPv6 */
		case 0x31: need = 216; break; /* Unix stream */
		default: return PROXY_E_INVALID; /* DGRAM, unknown */
		}
	}
	if (len < 16)
		return PROXY_PARTIAL;
	size_t total = 16 + (size_t)be16(buf + 14);
	if (total > PROXY_V2_MAX)
		return PROXY_E_TOO_LONG;
	if (total - 16 < need)
		return PROXY_E_INVALID;
	if (!local) {
		/* TLVs: type (1), length (2, big-endian), value; they must fill the
		 * rest of the block exactly */
		size_t off = 16 + need;
		while (off < total) {
			if (total - off < 3)
				return PROXY_E_INVALID;
			if (len < off + 3)
				return PROXY_PARTIAL;
			size_t tlv = 3 + (size_t)be16(buf + off + 1);
			if (tlv > total - off)
				return PROXY_E_INVALID;
			off += tlv;
		}
	}
	if (len < total)
		return PROXY_PARTIAL;

	info->version = 2;
	info->local = local;
	if (local)
		return (int)total;
	const uint8_t *a = buf + 16;
	if (fam == 0x11) {
		set_in4(&info->src, &info->srclen, a, be16(a + 8));
		set_in4(&info->dst, &info->dstlen, a + 4, be16(a + 10));
	} else if (fam == 0x21) {
		set_in6(&info->src, &info->srclen, a, be16(a + 32));
		set_in6(&info->dst, &info->dstlen, a + 16, be16(a + 34));
	} else {
		set_un(&info->src, &info->srclen, a);
		set_un(&info->dst, &info->dstlen, a + 108);
	}
	return (int)total;
}

int proxy_decode(const uint8_t *buf, size_t len, struct proxy_info *info)
{
	struct proxy_info tmp;
	memset(&tmp, 0, sizeof tmp);
	if (len == 0)
		return PROXY_PARTIAL;
	int r;
	if (buf[0] == 'P') {
		size_t n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
		r = decode_v1(buf, n, &tmp);
		if (r == PROXY_PARTIAL && n == PROXY_V1_MAX)
			r = PROXY_E_TOO_LONG; /* 107 bytes without a complete line */
	} else if (buf[0] == v2_sig[0]) {
		r = decode_v2(buf, len, &tmp);
	} else {
		r = PROXY_E_INVALID;
	}
	if (r > 0 && info)
		*info = tmp;
	return r;
}
