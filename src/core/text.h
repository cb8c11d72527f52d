/* text.h: small byte helpers shared by the parsers and the hash tables. */
#ifndef HEARTH_CORE_TEXT_H
#define HEARTH_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The value of a hexadecimal digit, or -1. */
static inline int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* FNV-1a, 32 bits: start from FNV1A_BASIS, feed bytes. */
#define FNV1A_BASIS 2166136261u

static inline uint32_t fnv1a_byte(uint32_t h, unsigned char c)
{
	return (h ^ c) * 16777619u;
}

static inline uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = fnv1a_byte(h, b[i]);
	return h;
}

#endif
