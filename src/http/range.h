/* range.h: Range header parsing (RFC 9110 §14).
 *
 * Pure. Parses "bytes=..." against a representation size, sorts and coalesces
 * overlapping or adjacent ranges so a client can never make us send more bytes
 * than the file holds (no amplification), and limits the number of parts.
 */
#ifndef HEARTH_HTTP_RANGE_H
#define HEARTH_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RANGE_MAX 16 /* parts after coalescing; more is refused (full 200) */
#define RANGE_MAX_SPECS 100 /* specs in the header before coalescing */

struct byte_range {
	uint64_t first, last; /* inclusive */
};

enum range_result {
	RANGE_NONE = 0, /* malformed, unknown unit or too many: ignore, send 200 */
	RANGE_OK = 1, /* n ranges, sorted, non-overlapping */
	RANGE_UNSATISFIABLE = -1, /* 416 */
};

/* Parse value[0..len) for a representation of size bytes. */
int range_parse(const char *value, size_t len, uint64_t size, struct byte_range *out, unsigned *n);

#endif
