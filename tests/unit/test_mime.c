/* test_mime.c: extension to Content-Type (src/http/mime.h).
 *
 * Loads a mime.types file written here (comments, blank lines, tabs, an
 * over-long line, a last line without a newline), then the built-in table
 * (a path that does not exist), then the system default.
 */
#include "check.h"
#include "http/mime.h"

#include <stdlib.h>
#include <unistd.h>

#define OCTET "application/octet-stream"

static const char *mime(const char *name)
{
	/* exact-size copy without a NUL: lookups must honour len */
	size_t n = strlen(name);
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	memcpy(p, name, n);
	const char *t = mime_for_name(p, n);
	free(p);
	return t;
}

static int starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

#define CHECK_MIME(name, want)                                                                               \
	do {                                                                                                 \
		check_context("mime_for_name(\"%s\")", name);                                                \
		CHECK_EQ_STR(mime(name), want);                                                              \
	} while (0)

#define CHECK_MIME_PREFIX(name, prefix)                                                                      \
	do {                                                                                                 \
		const char *t_ = mime(name);                                                                 \
		check_context("mime_for_name(\"%s\") = \"%s\"", name, t_ ? t_ : "(null)");                   \
		CHECK(starts_with(t_, prefix));                                                              \
	} while (0)

static const char types_file[] = "# MIME types for the test\n"
                                 "#text/bogus bogus\n"
                                 "\n"
                                 "   # an indented comment\n"
                                 "text/html\t\t\t\thtml htm\n"
                                 "text/css   css\n"
                                 "text/plain txt text\n"
                                 "application/javascript js mjs\n"
                                 "application/json\t\tjson\n"
                                 "application/gzip gz\n"
                                 "application/x-tar tar\n"
                                 "image/png png\n"
                                 "image/jpeg jpeg jpg\n"
                                 "application/x-hearth-test hearthtest\n"
                                 "application/x-no-extensions\n"
                                 "text/x-upper UPX\n"
                                 "\t\n";

static void write_types(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(types_file, f);
	/* a line far longer than any sane line buffer */
	fputs("# ", f);
	for (int i = 0; i < 5000; i++)
		fputc('x', f);
	fputs("\n", f);
	fputs("application/x-after-long after\n", f);
	fputs("image/webp webp", f); /* no final newline */
	fclose(f);
}

static void test_file(void)
{
	char path[] = "/tmp/hearth-mime-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	close(fd);
	write_types(path);

	check_context("mime_load(temp file)");
	int n = mime_load(path);
	CHECK(n >= 17); /* extensions in the file */

	CHECK_MIME("x.html", "text/html; charset=utf-8");
	CHECK_MIME("x.htm", "text/html; charset=utf-8");
	CHECK_MIME("X.HTML", "text/html; charset=utf-8");
	CHECK_MIME("index.HtMl", "text/html; charset=utf-8");
	CHECK_MIME("style.css", "text/css; charset=utf-8");
	CHECK_MIME("a.txt", "text/plain; charset=utf-8");
	CHECK_MIME("a.text", "text/plain; charset=utf-8");
	CHECK_MIME("a.png", "image/png");
	CHECK_MIME("a.jpg", "image/jpeg");
	CHECK_MIME("a.JPEG", "image/jpeg");
	CHECK_MIME("f.hearthtest", "application/x-hearth-test");
	CHECK_MIME("f.after", "application/x-after-long");
	CHECK_MIME("f.webp", "image/webp");
	CHECK_MIME_PREFIX("f.upx", "text/x-upper");
	CHECK_MIME_PREFIX("app.js", "application/javascript");
	CHECK_MIME_PREFIX("app.mjs", "application/javascript");
	CHECK_MIME_PREFIX("data.json", "application/json");

	/* only the last extension counts */
	CHECK_MIME("a.tar.gz", "application/gzip");
	CHECK_MIME("a.gz.tar", "application/x-tar");
	CHECK_MIME("a.html.png", "image/png");
	CHECK_MIME("dir.d/file.css", "text/css; charset=utf-8");

	/* unknown */
	CHECK_MIME("noext", OCTET);
	CHECK_MIME("f.unknownext", OCTET);
	CHECK_MIME("f.bogus", OCTET);
	CHECK_MIME(".bashrc", OCTET);
	CHECK_MIME("x.", OCTET);
	CHECK_MIME("", OCTET);
	CHECK_MIME("f.x-no-extensions", OCTET);
	CHECK_MIME("a.html.unknownext", OCTET);
	CHECK_MIME("htmlfile", OCTET);

	char longname[600];
	memset(longname, 'h', sizeof longname - 1);
	longname[0] = 'a';
	longname[1] = '.';
	longname[sizeof longname - 1] = '\0';
	CHECK_MIME(longname, OCTET);

	/* len is honoured */
	check_context("mime_for_name len");
	CHECK_EQ_STR(mime_for_name("x.html.bak", 6), "text/html; charset=utf-8");
	CHECK_EQ_STR(mime_for_name("x.cssfoo", 5), "text/css; charset=utf-8");

	mime_free();
	unlink(path);
	check_context(NULL);
}

static void test_builtin(const char *what, const char *path)
{
	check_context("mime_load(%s)", what);
	CHECK(mime_load(path) > 0);
	CHECK_MIME("index.html", "text/html; charset=utf-8");
	CHECK_MIME("INDEX.HTM", "text/html; charset=utf-8");
	CHECK_MIME("s.css", "text/css; charset=utf-8");
	CHECK_MIME("r.txt", "text/plain; charset=utf-8");
	CHECK_MIME("i.png", "image/png");
	CHECK_MIME("i.jpg", "image/jpeg");
	CHECK_MIME("i.jpeg", "image/jpeg");
	CHECK_MIME_PREFIX("i.svg", "image/svg+xml");
	CHECK_MIME("d.pdf", "application/pdf");
	CHECK_MIME("m.wasm", "application/wasm");
	CHECK_MIME_PREFIX("d.json", "application/json");
	{
		const char *t = mime("a.js");
		check_context("mime_for_name(\"a.js\") = \"%s\" (%s)", t ? t : "(null)", what);
		CHECK(starts_with(t, "text/javascript") || starts_with(t, "application/javascript"));
	}
	CHECK_MIME("blob", OCTET);
	CHECK_MIME("x.nosuchext", OCTET);
	CHECK_MIME(".bashrc", OCTET);
	mime_free();
	check_context(NULL);
}

int main(void)
{
	test_file();
	test_builtin("built-in table", "/nonexistent/hearth/mime.types");
	test_builtin("default path", NULL);
	/* load and free again: no leak, no stale state */
	test_builtin("built-in table, again", "/nonexistent/hearth/mime.types");
	return check_done();
}
