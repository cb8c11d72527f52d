/* fuzz_mime.c: libFuzzer target for the mime.types loader and the lookup
 * (mime_load, mime_for_name, mime_free in src/http/mime.c).
 *
 * The input is the content of a mime.types file: it is written to a memfd and
 * loaded through /proc/self/fd/N (mime_load takes a path; a file under /tmp
 * when memfd_create is missing). Then names are looked up: a fixed set (plain,
 * upper case, dotfiles, no extension, an extension too long to be one, paths)
 * and one "f.<token>" for each of the file's first tokens. Oracles:
 *   - every answer is a non-empty string without whitespace other than the
 *     "; charset=utf-8" that text types get (and they all get it);
 *   - the built-in extensions (html, css, png, ...) are always known, whatever
 *     the file says; a name without an extension, a dotfile or an extension of
 *     16 bytes or more is always application/octet-stream;
 *   - lookups are case-insensitive;
 *   - mime_free() releases everything (LeakSanitizer checks), and loading a
 *     missing file falls back to the built-in table.
 *
 * Run: ./fuzz_mime -max_total_time=60 tests/fuzz/corpus/mime
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

static void require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_mime: %s\n", what);
		abort();
	}
}

static void open_file(void)
{
	fd = memfd_create("fuzz-mime", MFD_CLOEXEC);
	if (fd >= 0) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (access(path, R_OK) == 0)
			return;
		close(fd);
	}
	snprintf(path, sizeof path, "/tmp/fuzz-mime-%ld.types", (long)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	require(fd >= 0, "cannot create the temporary file");
}

static void write_file(const uint8_t *data, size_t size)
{
	require(ftruncate(fd, 0) == 0, "ftruncate");
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
		require(w > 0, "pwrite");
		off += (size_t)w;
	}
}

static const char *lookup(const char *name)
{
	size_t n = strlen(name);
	/* an exact-size copy without a NUL: the lookup must stay within len */
	char *copy = malloc(n ? n : 1);
	require(copy != NULL, "malloc");
	memcpy(copy, name, n);
	const char *t = mime_for_name(copy, n);
	free(copy);
	require(t != NULL && t[0] != '\0', "empty type");
	size_t tl = strlen(t);
	require(tl < 256, "type too long");
	const char *cs = strstr(t, "; charset=utf-8");
	for (size_t i = 0; i < tl; i++) {
		if (cs && t + i >= cs)
			break;
		require(!isspace((unsigned char)t[i]), "whitespace in a type");
	}
	if (strncmp(t, "text/", 5) == 0)
		require(cs != NULL && cs[15] == '\0', "text type without charset");
	if (cs)
		require(cs[15] == '\0', "charset not at the end");
	return t;
}

static void check_lookups(const uint8_t *data, size_t size)
{
	const char *def = lookup("a.abcdefghijklmnopq"); /* 17-byte extension: never known */
	require(strcmp(def, "application/octet-stream") == 0, "default type");
	require(lookup("noext") == def && lookup(".bashrc") == def && lookup("dir/.hidden") == def,
	        "no extension or a dotfile got a type");
	require(lookup("a.") == def && lookup("") == def && lookup("dir.d/file") == def,
	        "an empty extension got a type");
	static const char *const builtin[] = {"index.html", "style.css", "a/b/app.js", "x.png",
	                                       "doc.pdf",    "font.woff2", "data.json", "x.tar.gz"};
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		require(lookup(builtin[i]) != def, "a built-in extension is unknown");
	require(lookup("INDEX.HTML") == lookup("index.html"), "not case-insensitive");
	require(lookup("Photo.JpG") == lookup("photo.jpg"), "not case-insensitive");

	/* "f.<token>" for the first tokens of the input, and the same upper-cased */
	char name[40], upper[40];
	size_t i = 0;
	for (int tokens = 0; tokens < 8 && i < size; tokens++) {
		while (i < size && isspace(data[i]))
			i++;
		size_t s = i;
		while (i < size && !isspace(data[i]) && data[i] != '\0' && i - s < 30)
			i++;
		if (i == s) {
			i++;
			continue;
		}
		snprintf(name, sizeof name, "f.%.*s", (int)(i - s), (const char *)data + s);
		for (size_t k = 0; k < sizeof name; k++)
			upper[k] = (char)toupper((unsigned char)name[k]);
		const char *t = lookup(name);
		require(lookup(upper) == t, "not case-insensitive");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0)
		open_file();
	write_file(data, size);
	int n = mime_load(path);
	require(n >= 0, "mime_load failed");
	check_lookups(data, size);
	mime_free();
	require(mime_for_name("a.html", 6) != NULL, "lookup after mime_free");

	/* a missing file: the built-in table */
	require(mime_load("/nonexistent/mime.types") > 0, "no built-in table");
	check_lookups(data, size);
	mime_free();
	return 0;
}
