/* target.h: request-target decoding and path normalization.
 *
 * Pure. Turns the raw path of a request-target into a clean relative path that
 * can be opened beneath the document root: percent-decoded exactly once, dot
 * segments resolved, always starting with a single '/', never containing a ".."
 * or "." segment, "//" or NUL.
 * The kernel (openat2 RESOLVE_BENEATH) is the second line of defence; this is
 * the first.
 */
#ifndef HEARTH_HTTP_TARGET_H
#define HEARTH_HTTP_TARGET_H

#include <stddef.h>

enum path_err {
	PATH_OK = 0,
	PATH_E_BAD = -400, /* malformed: bad %XX, not starting with '/', escapes above root */
	PATH_E_FORBIDDEN = -403, /* NUL or encoded '/' */
	PATH_E_TOOLONG = -414,
};

/* Decode and normalize raw[0..len) (the path part of the target, without the
 * query) into out (capacity cap, NUL-terminated). On success *outlen is the
 * length of the normalized absolute path (it starts with '/'; a trailing '/' of
 * the input is kept, so "/dir/" stays a directory request). Returns PATH_OK or
 * a negative status. */
int path_normalize(const char *raw, size_t len, char *out, size_t cap, size_t *outlen);

/* Is any segment of the normalized path a dotfile ('.' first)? Returns 1 if so,
 * except for segments under a leading "/.well-known/". */
int path_has_dotfile(const char *path, size_t len);

/* Percent-encode path for use in a Location header or an HTML href: every byte
 * outside unreserved, '/', ':', '@' and the sub-delims other than '&' and '\''
 * becomes %XX ('&' and '\'' are encoded too, so the result is also safe in an
 * HTML attribute). Returns the length
 * written (without NUL), or 0 when cap is too small. */
size_t path_encode(const char *path, size_t len, char *out, size_t cap);

#endif
