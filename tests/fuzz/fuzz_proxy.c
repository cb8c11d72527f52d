/* fuzz_proxy.c: libFuzzer target for the PROXY protocol decoder
 * (proxy_decode() in src/net/proxy.c).
 *
 * The whole input is decoded, then every prefix of it (all prefixes up to
 * PROXY_V2_MAX + 64 bytes, then a few longer ones), each from an exact-size
 * heap buffer so ASan sees a read past len. The rules:
 *   - the answer is PARTIAL, INVALID, TOO_LONG or a length <= the input's;
 *   - a success is at most PROXY_V1_MAX (v1) or PROXY_V2_MAX (v2) bytes, with
 *     a sane proxy_info (version, local, families and address lengths), and
 *     decoding exactly those bytes gives the same length and the same info;
 *   - a prefix answers PARTIAL until the whole input's verdict appears, and
 *     that verdict from then on: an error never changes into another one or
 *     back into PARTIAL, and a success of n bytes appears with exactly n bytes.
 *
 * Seeds: tests/fuzz/corpus/proxy/, written by `test_proxy --write-seeds DIR`.
 * Run: ./fuzz_proxy -max_total_time=60 tests/fuzz/corpus/proxy
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "net/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		abort();
}

/* Decodes data[0..n) from the end of buf (allocated with size bytes). */
static int decode_tail(uint8_t *buf, size_t size, const uint8_t *data, size_t n, struct proxy_info *info)
{
	uint8_t *p = buf + (size - n);
	if (n)
		memcpy(p, data, n);
	return proxy_decode(p, n, info);
}

static void check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	switch (ss->ss_family) {
	case AF_INET: require(len == sizeof(struct sockaddr_in)); break;
	case AF_INET6: require(len == sizeof(struct sockaddr_in6)); break;
	case AF_UNIX:
		require(len > offsetof(struct sockaddr_un, sun_path));
		require(len <= sizeof(struct sockaddr_un));
		break;
	default: abort();
	}
}

static void same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
                      socklen_t blen)
{
	require(alen == blen && a->ss_family == b->ss_family);
	require(memcmp(a, b, alen) == 0); /* sockaddr_in/in6/un: no padding inside alen but sin_zero (0) */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	require(buf != NULL);
	struct proxy_info info, again;

	int whole = decode_tail(buf, size, data, size, &info);
	require(whole == PROXY_PARTIAL || whole == PROXY_E_INVALID || whole == PROXY_E_TOO_LONG ||
	        (whole > 0 && (size_t)whole <= size));
	if (whole > 0) {
		require(info.version == 1 || info.version == 2);
		require(whole <= (info.version == 1 ? PROXY_V1_MAX : PROXY_V2_MAX));
		require(info.version == 1 ? data[0] == 'P' : data[0] == 0x0D);
		require(info.local == 0 || info.local == 1);
		if (info.local) {
			require(info.srclen == 0 && info.dstlen == 0);
		} else {
			check_addr(&info.src, info.srclen);
			check_addr(&info.dst, info.dstlen);
			require(info.src.ss_family == info.dst.ss_family);
			require(info.version == 2 || info.src.ss_family != AF_UNIX);
		}
		/* exactly the header: the same answer */
		require(decode_tail(buf, size, data, (size_t)whole, &again) == whole);
		require(again.version == info.version && again.local == info.local);
		if (!info.local) {
			same_addr(&info.src, info.srclen, &again.src, again.srclen);
			same_addr(&info.dst, info.dstlen, &again.dst, again.dstlen);
		}
	}

	/* every prefix (the verdict must be decided within the first
	 * PROXY_V2_MAX bytes, so longer ones are only sampled) */
	int reached = 0;
	for (size_t k = 0; k < size; k++) {
		if (k > PROXY_V2_MAX + 64 && k != size - 1 && k % 251 != 0)
			continue;
		int r = decode_tail(buf, size, data, k, &again);
		if (whole > 0) {
			require(r == ((size_t)whole <= k ? whole : PROXY_PARTIAL));
		} else if (r == whole && whole != PROXY_PARTIAL) {
			reached = 1;
		} else {
			require(r == PROXY_PARTIAL && !reached);
		}
	}
	free(buf);
	return 0;
}
