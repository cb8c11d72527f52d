/* target.c: percent-decoding and dot-segment removal for request paths.
 *
 * Decoding happens exactly once, before dot segments are resolved, so "%2e%2e"
 * is treated as ".." (and resolved) while "%252e" stays the literal "%2e".
 * An encoded '/' or NUL is refused outright: neither can name a file beneath
 * the root, and both are classic ways to confuse a second decoder.
 */
#include "http/target.h"

#include <string.h>

#include "core/text.h"

int path_normalize(const char *raw, size_t len, char *out, size_t cap, size_t *outlen)
{
	if (len == 0 || raw[0] != '/')
		return PATH_E_BAD;
	if (cap < 2)
		return PATH_E_TOOLONG;
	/* 1. decode into out */
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '%') {
			if (len - i < 3)
				return PATH_E_BAD;
			int hi = hex_digit((unsigned char)raw[i + 1]),
			    lo = hex_digit((unsigned char)raw[i + 2]);
			if (hi < 0 || lo < 0)
				return PATH_E_BAD;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0 || c == '/')
				return PATH_E_FORBIDDEN;
			i += 2;
		} else if (c == 0) {
			return PATH_E_FORBIDDEN;
		}
		if (n + 1 >= cap)
			return PATH_E_TOOLONG;
		out[n++] = (char)c;
	}
	/* 2. resolve dot segments and collapse slashes, in place (w <= r always) */
	size_t w = 1, r = 0;
	int dir = 0; /* does the result name a directory (end with '/')? */
	out[0] = '/';
	while (r < n) {
		while (r < n && out[r] == '/')
			r++;
		if (r >= n) {
			dir = 1;
			break;
		}
		size_t s = r;
		while (r < n && out[r] != '/')
			r++;
		size_t sl = r - s;
		if (sl == 1 && out[s] == '.') {
			dir = 1;
			continue;
		}
		if (sl == 2 && out[s] == '.' && out[s + 1] == '.') {
			if (w == 1)
				return PATH_E_BAD; /* above the root */
			w--; /* drop the '/' after the previous segment */
			while (w > 1 && out[w - 1] != '/')
				w--;
			dir = 1;
			continue;
		}
		memmove(out + w, out + s, sl);
		w += sl;
		out[w++] = '/';
		dir = 0; /* unless a '/' follows: then the next turn sets it */
	}
	if (!dir && w > 1)
		w--; /* a file: no trailing slash */
	if (dir && out[w - 1] != '/')
		out[w++] = '/';
	out[w] = '\0';
	*outlen = w;
	return PATH_OK;
}

int path_has_dotfile(const char *path, size_t len)
{
	size_t i = 0;
	static const char wk[] = "/.well-known"; /* RFC 8615 */
	size_t wl = sizeof wk - 1;
	if (len >= wl && memcmp(path, wk, wl) == 0 && (len == wl || path[wl] == '/'))
		i = wl; /* .well-known itself is exempt, names under it are not */
	for (; i < len; i++)
		if (path[i] == '/' && i + 1 < len && path[i + 1] == '.')
			return 1;
	return 0;
}

size_t path_encode(const char *path, size_t len, char *out, size_t cap)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		           (c && strchr("-._~/:@!$()*+,;=", c));
		if (keep) {
			if (o + 1 >= cap)
				return 0;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return 0;
			out[o++] = '%';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 15];
		}
	}
	if (o >= cap)
		return 0;
	out[o] = '\0';
	return o;
}
