/* mime.c: extension -> Content-Type, from /etc/mime.types or a built-in table.
 *
 * Loaded once at start-up (allocation happens only here); lookups hash the
 * extension and probe an open-addressing table: no allocation, no locks.
 */
#include "http/mime.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"

#define EXT_MAX 16

struct mime_entry {
	char ext[EXT_MAX]; /* lower case, NUL-terminated; "" = empty slot */
	const char *type; /* points into the type arena */
};

static struct mime_entry *table;
static size_t table_mask;
static char **types; /* distinct type strings, owned */
static size_t ntypes, captypes;

static const char *const builtin[][2] = {
    {"html", "text/html"},      {"htm", "text/html"},         {"css", "text/css"},
    {"js", "text/javascript"},  {"mjs", "text/javascript"},   {"json", "application/json"},
    {"txt", "text/plain"},      {"md", "text/markdown"},      {"xml", "application/xml"},
    {"csv", "text/csv"},        {"png", "image/png"},         {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},     {"gif", "image/gif"},         {"webp", "image/webp"},
    {"avif", "image/avif"},     {"svg", "image/svg+xml"},     {"ico", "image/vnd.microsoft.icon"},
    {"pdf", "application/pdf"}, {"wasm", "application/wasm"}, {"zip", "application/zip"},
    {"gz", "application/gzip"}, {"tar", "application/x-tar"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"},     {"mp3", "audio/mpeg"},        {"ogg", "audio/ogg"},
    {"woff", "font/woff"},      {"woff2", "font/woff2"},      {"ttf", "font/ttf"},
    {"otf", "font/otf"},        {"map", "application/json"},
};

static uint32_t hash_ext(const char *s, size_t n)
{
	uint32_t h = FNV1A_BASIS;
	for (size_t i = 0; i < n; i++)
		h = fnv1a_byte(h, (unsigned char)tolower((unsigned char)s[i]));
	return h;
}

static int wants_charset(const char *type)
{
	return strncmp(type, "text/", 5) == 0 || strcmp(type, "application/javascript") == 0 ||
	       strcmp(type, "application/json") == 0 || strcmp(type, "application/xml") == 0 ||
	       strcmp(type, "image/svg+xml") == 0;
}

static const char *intern(const char *type, size_t n)
{
	for (size_t i = 0; i < ntypes; i++)
		if (strncmp(types[i], type, n) == 0 &&
		    (types[i][n] == '\0' || strncmp(types[i] + n, "; charset", 9) == 0))
			return types[i];
	if (ntypes == captypes) {
		size_t nc = captypes ? captypes * 2 : 256;
		char **t = realloc(types, nc * sizeof *t);
		if (!t)
			return NULL;
		types = t;
		captypes = nc;
	}
	char tmp[256];
	if (n >= 200)
		return NULL;
	memcpy(tmp, type, n);
	tmp[n] = '\0';
	if (wants_charset(tmp))
		strcat(tmp, "; charset=utf-8");
	char *s = strdup(tmp);
	if (!s)
		return NULL;
	types[ntypes++] = s;
	return s;
}

static int insert(const char *ext, size_t n, const char *type)
{
	if (n == 0 || n >= EXT_MAX)
		return 0;
	size_t i = hash_ext(ext, n) & table_mask;
	for (;;) {
		struct mime_entry *e = &table[i];
		if (e->ext[0] == '\0') {
			for (size_t k = 0; k < n; k++)
				e->ext[k] = (char)tolower((unsigned char)ext[k]);
			e->ext[n] = '\0';
			e->type = type;
			return 1;
		}
		if (strncasecmp(e->ext, ext, n) == 0 && e->ext[n] == '\0')
			return 0; /* first mapping wins, as in mime.types */
		i = (i + 1) & table_mask;
	}
}

static int alloc_table(size_t slots)
{
	table = calloc(slots, sizeof *table);
	if (!table)
		return -1;
	table_mask = slots - 1;
	return 0;
}

static int load_builtin(void)
{
	int n = 0;
	if (alloc_table(128) < 0)
		return -1;
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
		const char *t = intern(builtin[i][1], strlen(builtin[i][1]));
		if (t)
			n += insert(builtin[i][0], strlen(builtin[i][0]), t);
	}
	return n;
}

int mime_load(const char *path)
{
	mime_free();
	FILE *f = fopen(path ? path : "/etc/mime.types", "r");
	if (!f)
		return load_builtin();
	if (alloc_table(8192) < 0) {
		fclose(f);
		return -1;
	}
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		char *t = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		const char *type = intern(t, (size_t)(p - t));
		if (!type)
			continue;
		for (;;) {
			while (*p && isspace((unsigned char)*p))
				p++;
			if (!*p || *p == '#')
				break;
			char *e = p;
			while (*p && !isspace((unsigned char)*p))
				p++;
			if ((size_t)n < table_mask / 2)
				n += insert(e, (size_t)(p - e), type);
		}
	}
	fclose(f);
	/* make sure the web's everyday types are right even with an odd file */
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
		const char *t = intern(builtin[i][1], strlen(builtin[i][1]));
		if (t)
			n += insert(builtin[i][0], strlen(builtin[i][0]), t);
	}
	return n;
}

void mime_free(void)
{
	for (size_t i = 0; i < ntypes; i++)
		free(types[i]);
	free(types);
	free(table);
	types = NULL;
	table = NULL;
	ntypes = captypes = 0;
	table_mask = 0;
}

const char *mime_for_name(const char *name, size_t len)
{
	static const char def[] = "application/octet-stream";
	size_t i = len;
	while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
		i--;
	if (i == 0 || name[i - 1] != '.' || !table)
		return def;
	if (i == 1 || name[i - 2] == '/')
		return def; /* ".bashrc": a dotfile, not an extension */
	const char *ext = name + i;
	size_t n = len - i;
	if (n == 0 || n >= EXT_MAX)
		return def;
	size_t h = hash_ext(ext, n) & table_mask;
	for (;;) {
		const struct mime_entry *e = &table[h];
		if (e->ext[0] == '\0')
			return def;
		if (strncasecmp(e->ext, ext, n) == 0 && e->ext[n] == '\0')
			return e->type;
		h = (h + 1) & table_mask;
	}
}
