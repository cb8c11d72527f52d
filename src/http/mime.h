/* mime.h: file name extension to Content-Type.
 *
 * Loads /etc/mime.types (or another file) once at start-up into a hash table;
 * falls back to a built-in table when the file cannot be read. Text types get
 * "; charset=utf-8". Lookups never allocate.
 */
#ifndef HEARTH_HTTP_MIME_H
#define HEARTH_HTTP_MIME_H

#include <stddef.h>

/* Load types from path (NULL: /etc/mime.types). Returns the number of
 * extensions known; with the built-in table when the file is missing. */
int mime_load(const char *path);
void mime_free(void);

/* Content-Type for a file name (only its last extension counts,
 * case-insensitive); "application/octet-stream" when unknown. */
const char *mime_for_name(const char *name, size_t len);

#endif
