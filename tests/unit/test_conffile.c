/* test_conffile.c: the configuration file's syntax (conf_parse_text() in
 * src/conf/file.c).
 *
 * Every error path with its exact "FILE:LINE: DIRECTIVE: message" text, valid
 * files (comments, quotes, CRLF, sites) and their effect on the settings, the
 * limits at their edges, and a deterministic mutation loop checking that any
 * verdict is a clean one-line message. Texts are parsed from exact-size heap
 * copies without a NUL, freed before the settings are looked at: the parser
 * must honour len and keep no pointer into the text.
 */
#include "check.h"
#include "conf/conf.h"
#include "core/log.h"

#include <stdlib.h>

#define FNAME "t.conf"

/* Parse n bytes of text (may hold NUL) as FNAME into s (already initialised). */
static int parse_mem(struct settings *s, const char *text, size_t n, char *err, size_t errlen)
{
	char *p = malloc(n ? n : 1);
	if (!p)
		abort();
	memcpy(p, text, n);
	int r = conf_parse_text(s, FNAME, p, n, err, errlen);
	memset(p, 'Z', n); /* anything still pointing here would now read garbage */
	free(p);
	return r;
}

static int parse_str(struct settings *s, const char *text, char *err, size_t errlen)
{
	return parse_mem(s, text, strlen(text), err, errlen);
}

static int starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* The whole message must be exactly want. */
static void expect_error_mem(const char *label, const char *text, size_t n, const char *want)
{
	struct settings s;
	char err[512];
	check_context("%s", label);
	settings_init(&s);
	memset(err, 'X', sizeof err);
	CHECK_EQ_INT(parse_mem(&s, text, n, err, sizeof err), -1);
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	CHECK_EQ_STR(err, want);
	settings_free(&s);
	check_context(NULL);
}

static void expect_error(const char *label, const char *text, const char *want)
{
	expect_error_mem(label, text, strlen(text), want);
}

/* For conf_apply's messages: the "FILE:LINE: DIRECTIVE: " prefix, then a
 * message containing `has` (NULL: anything non-empty). */
static void expect_apply_error(const char *label, const char *text, const char *prefix, const char *has)
{
	struct settings s;
	char err[512];
	check_context("%s", label);
	settings_init(&s);
	CHECK_EQ_INT(parse_str(&s, text, err, sizeof err), -1);
	if (!CHECK(starts_with(err, prefix)))
		CHECK_EQ_STR(err, prefix);
	CHECK(strlen(err) > strlen(prefix));
	if (has && !CHECK(strstr(err + strlen(prefix), has) != NULL))
		CHECK_EQ_STR(err, has);
	CHECK(one_line(err));
	settings_free(&s);
	check_context(NULL);
}

static void expect_ok(const char *label, const char *text)
{
	struct settings s;
	char err[512] = "";
	check_context("%s", label);
	settings_init(&s);
	if (!CHECK_EQ_INT(parse_str(&s, text, err, sizeof err), 0))
		CHECK_EQ_STR(err, "");
	settings_free(&s);
	check_context(NULL);
}

/* A string of n copies of c, on the heap. */
static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		abort();
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* ---- errors ---- */

static void test_site_errors(void)
{
	expect_error("site without names", "site {\n}\n", FNAME ":1: site: site needs at least one name");
	expect_error("site; alone", "root /x;\nsite;\n", FNAME ":2: site: site needs at least one name");
	expect_error("site at EOF", "site", FNAME ":1: site: site needs at least one name");
	expect_error("missing { (;)", "site a.com;\n", FNAME ":1: site: missing '{'");
	expect_error("missing { (EOF)", "\n\nsite a.com b.com", FNAME ":3: site: missing '{'");
	expect_error("missing { (})", "site a.com }", FNAME ":1: site: missing '{'");
	expect_error("nested site", "site a.com {\n  root /a;\n  site b.com {\n  }\n}\n",
	             FNAME ":3: site: site blocks cannot nest");
	expect_error("nested default", "site default {\nsite default {\n}\n}\n",
	             FNAME ":2: site: site blocks cannot nest");
	expect_error("unterminated block", "root /x;\nsite a.com {\n  root /y;\n",
	             FNAME ":2: site: unterminated site block");
	expect_error("unterminated empty block", "site a.com {", FNAME ":1: site: unterminated site block");
	expect_error("unterminated after a closed one", "site a {\n}\nsite b {\n# }\n",
	             FNAME ":3: site: unterminated site block");
	expect_error("stray } at top", "root /x;\n}\n", FNAME ":2: unexpected '}'");
	expect_error("stray } after a block", "site a.com {\n}\n}\n", FNAME ":3: unexpected '}'");
	expect_error("stray } first", "}", FNAME ":1: unexpected '}'");
	expect_error("stray {", "root /x;\n{ }\n", FNAME ":2: unexpected '{'");
	expect_error("stray { in a site", "site a {\n{\n}\n}\n", FNAME ":2: unexpected '{'");
	expect_error("same host twice", "site a.com {\n}\n\nsite b.com a.com {\n}\n",
	             FNAME ":4: site: host a.com already belongs to the site on line 1");
	expect_error("same host, other case", "site WWW.Example.COM {\n}\nsite www.example.com {\n}\n",
	             FNAME ":3: site: host www.example.com already belongs to the site on line 1");
	expect_error("same wildcard twice", "site *.a.com {\n}\nsite *.A.com {\n}\n",
	             FNAME ":3: site: host *.a.com already belongs to the site on line 1");
	expect_error("host listed twice in one site", "site a.com b.com A.COM {\n}\n",
	             FNAME ":1: site: host a.com is listed twice");
	expect_error("two default sites", "site default {\n}\nsite x.com {\n}\nsite DEFAULT y.com {\n}\n",
	             FNAME ":5: site: there is already a default site, on line 1");
	expect_error("default in a named list", "site a default {\n}\nsite default {\n}\n",
	             FNAME ":3: site: there is already a default site, on line 1");
	expect_error("empty host name", "site \"\" {\n}\n",
	             FNAME ":1: site: bad host name '' (a name or *.domain, without a port)");
	expect_error("lone star", "site * {\n}\n",
	             FNAME ":1: site: bad host name '*' (a name or *.domain, without a port)");
	expect_error("star inside", "site a.*.com {\n}\n",
	             FNAME ":1: site: bad host name 'a.*.com' (a name or *.domain, without a port)");
	expect_error("star without dot", "site *a.com {\n}\n",
	             FNAME ":1: site: bad host name '*a.com' (a name or *.domain, without a port)");
	expect_error("host with port", "site a.com:8080 {\n}\n",
	             FNAME ":1: site: bad host name 'a.com:8080' (a name or *.domain, without a port)");
	expect_error("host with path", "site a.com/x {\n}\n",
	             FNAME ":1: site: bad host name 'a.com/x' (a name or *.domain, without a port)");
	expect_error("lex error in site names", "site a.com \"b.com {\n}\n",
	             FNAME ":1: site: unterminated quoted string");

	/* too many names: 16 fit, 17 do not */
	char text[1024];
	size_t n = (size_t)snprintf(text, sizeof text, "site");
	for (int i = 0; i < CONF_MAX_NAMES; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, " h%d.example", i);
	snprintf(text + n, sizeof text - n, " {\n}\n");
	expect_ok("16 names", text);
	snprintf(text + n, sizeof text - n, " default {\n}\n");
	expect_ok("16 names and default", text);
	snprintf(text + n, sizeof text - n, "\n  one.more {\n}\n");
	expect_error("17 names", text, FNAME ":1: site: too many names (at most 16)");

	/* too many sites: 64 fit, the 65th does not */
	char *big = malloc(65 * 64);
	if (!big)
		abort();
	n = 0;
	for (int i = 0; i < CONF_MAX_SITES; i++)
		n += (size_t)sprintf(big + n, "site s%d.example {\n}\n", i);
	expect_ok("64 sites", big);
	sprintf(big + n, "site default {\n}\n");
	expect_error("65 sites", big, FNAME ":129: site: too many sites (at most 64)");
	free(big);
}

static void test_syntax_errors(void)
{
	expect_error("missing ; before }", "site a.com {\n  root /x\n}\n", FNAME ":2: root: missing ';'");
	expect_error("missing ; before {", "root /x {\n}\n", FNAME ":1: root: missing ';'");
	expect_error("missing ; at EOF", "workers 3;\nroot /x", FNAME ":2: root: missing ';'");
	expect_error("missing ; at EOF after comment", "workers 3\n# done\n",
	             FNAME ":1: workers: missing ';'");
	expect_error("missing ; reported on the directive's line", "listen\n  127.0.0.1:80\n}\n",
	             FNAME ":1: listen: missing ';'");
	expect_error("name alone at EOF", "\n\ndaemon", FNAME ":3: daemon: missing ';'");
	expect_error("unknown block", "server {\n}\n", FNAME ":1: server: missing ';'");
	expect_error("empty directive", "root /x;\n;\n", FNAME ":2: empty directive");
	expect_error("double ;", "root /x;;\n", FNAME ":1: empty directive");
	expect_error("; first", ";", FNAME ":1: empty directive");
	expect_error("empty directive in a site", "site a {\n  ;\n}\n", FNAME ":2: empty directive");

	expect_error("unterminated quote (newline)", "root \"/srv/www\n;\n",
	             FNAME ":1: root: unterminated quoted string");
	expect_error("unterminated quote (CR)", "root \"/srv/www\r\n;\r\n",
	             FNAME ":1: root: unterminated quoted string");
	expect_error("unterminated quote (EOF)", "workers 1;\nroot \"/srv",
	             FNAME ":2: root: unterminated quoted string");
	expect_error("unterminated quote (backslash at EOF)", "root \"/srv\\",
	             FNAME ":1: root: unterminated quoted string");
	expect_error("unterminated quote (escaped newline)", "root \"/srv\\\n\";\n",
	             FNAME ":1: root: unterminated quoted string");
	expect_error("unterminated quote (escaped end)", "root \"/srv\\\";\n",
	             FNAME ":1: root: unterminated quoted string");
	expect_error("unterminated quote as the name", "\n\"root /x;\n",
	             FNAME ":2: unterminated quoted string");
	expect_error("quote on a later line", "listen\n  \"127.0.0.1:80\n;",
	             FNAME ":2: listen: unterminated quoted string");
	expect_error("bad escape", "root \"/a\\n\";\n",
	             FNAME ":1: root: bad escape '\\n' (only \\\" and \\\\)");
	expect_error("text after a quote", "root \"/a\"b;\n",
	             FNAME ":1: root: a quoted string must be followed by a space, ';', '{' or '}'");
	expect_error("two quotes glued", "root \"/a\"\"b\";\n",
	             FNAME ":1: root: a quoted string must be followed by a space, ';', '{' or '}'");
	expect_error("quote inside a word", "root /a\"b\";\n",
	             FNAME ":1: root: a quote cannot start in the middle of a word");
	expect_error("quote inside the name", "ro\"ot\" /a;\n",
	             FNAME ":1: a quote cannot start in the middle of a word");

	/* control bytes, outside and inside quotes, and in comments */
	expect_error_mem("NUL in a word", "root /a\0b;\n", 11, FNAME ":1: root: unexpected NUL byte");
	expect_error_mem("NUL between statements", "root /a;\n\0", 10, FNAME ":2: unexpected NUL byte");
	expect_error_mem("NUL in a quoted string", "\nroot \"/a\0b\";\n", 14,
	                 FNAME ":2: root: unexpected NUL byte");
	expect_error_mem("NUL in a comment", "# a\0b\nroot /a;\n", 15, FNAME ":1: unexpected NUL byte");
	expect_error_mem("NUL as an escape", "root \"\\\0\";\n", 10, FNAME ":1: root: unexpected NUL byte");
	expect_error("SOH in a word", "root /a\x01;\n", FNAME ":1: root: unexpected control byte 0x01");
	expect_error("ESC in a quoted string", "root \"/a\x1b[0m\";\n",
	             FNAME ":1: root: unexpected control byte 0x1b");
	expect_error("DEL", "root /a\x7f;\n", FNAME ":1: root: unexpected control byte 0x7f");
	expect_error("vertical tab inside the name", "root\v/a;\n", FNAME ":1: unexpected control byte 0x0b");
	expect_error("form feed between statements", "root /a;\n\f\n",
	             FNAME ":2: unexpected control byte 0x0c");
}

/* The comment after a complete directive belongs to no directive. */
static void test_comment_control(void)
{
	expect_error("control byte in a trailing comment", "root /a; # \x02\n",
	             FNAME ":1: unexpected control byte 0x02");
	expect_error("control byte in a comment inside a directive", "root # \x02\n /a;\n",
	             FNAME ":1: root: unexpected control byte 0x02");
}

static void test_limits(void)
{
	/* a token of 4096 bytes is fine (here an unknown directive name), 4097 is not */
	char *name = repeat('n', 4096);
	char *text = malloc(4096 + 64);
	if (!text)
		abort();
	sprintf(text, "%s;\n", name);
	expect_apply_error("4096-byte name", text, FNAME ":1: nnnn", "unknown directive");
	sprintf(text, "%sn;\n", name);
	expect_error("4097-byte name", text, FNAME ":1: token too long (at most 4096 bytes)");
	sprintf(text, "root %s;\n", name);
	expect_ok("4096-byte argument", text);
	sprintf(text, "root\n%sn;\n", name);
	expect_error("4097-byte argument", text, FNAME ":2: root: token too long (at most 4096 bytes)");
	sprintf(text, "root \"%s\";\n", name);
	expect_ok("4096-byte quoted argument", text);
	sprintf(text, "root \"%sn\";\n", name);
	expect_error("4097-byte quoted argument", text,
	             FNAME ":1: root: token too long (at most 4096 bytes)");
	free(text);
	free(name);

	/* escapes count once: 4096 decoded bytes from 8192 raw ones */
	char *esc = malloc(8192 + 32);
	if (!esc)
		abort();
	size_t n = (size_t)sprintf(esc, "root \"");
	for (int i = 0; i < 4096; i++) {
		esc[n++] = '\\';
		esc[n++] = '\\';
	}
	strcpy(esc + n, "\";");
	{
		struct settings s;
		char err[256] = "";
		settings_init(&s);
		check_context("4096 escaped backslashes");
		if (CHECK_EQ_INT(parse_str(&s, esc, err, sizeof err), 0) && CHECK(s.top.root != NULL)) {
			CHECK_EQ_INT(strlen(s.top.root), 4096);
			CHECK(strspn(s.top.root, "\\") == 4096);
		}
		settings_free(&s);
		check_context(NULL);
	}
	free(esc);

	/* 64 arguments reach conf_apply, the 65th is refused here */
	char args[1024];
	n = (size_t)sprintf(args, "root");
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(args + n, " a%d", i);
	sprintf(args + n, ";\n");
	expect_apply_error("64 arguments", args, FNAME ":1: root: ", "takes one value");
	sprintf(args + n, "\n a64;\n");
	expect_error("65 arguments", args, FNAME ":1: root: too many arguments (at most 64)");
}

static void test_apply_errors(void)
{
	expect_apply_error("unknown directive", "workers 2;\n\nbogus 1 2;\n",
	                   FNAME ":3: bogus: ", "unknown directive");
	expect_apply_error("max-conns not a number", "fastcgi *.php unix:/s max-conns=x;\n",
	                   FNAME ":1: fastcgi: ", "invalid value in 'max-conns=x'");
	expect_apply_error("max-conns negative", "fastcgi *.php unix:/s max-conns=-1;\n",
	                   FNAME ":1: fastcgi: ", "invalid value");
	expect_apply_error("max-conns too large", "fastcgi *.php unix:/s max-conns=4097;\n",
	                   FNAME ":1: fastcgi: ", "invalid value");
	expect_apply_error("queue-timeout", "fastcgi *.php unix:/s queue-timeout=soon;\n",
	                   FNAME ":1: fastcgi: ", "invalid value");
	expect_apply_error("unknown fastcgi option", "fastcgi *.php unix:/s max-children=2;\n",
	                   FNAME ":1: fastcgi: ", "unknown option 'max-children'");
	expect_apply_error("send-lowat below 1k", "send-lowat 100;\n",
	                   FNAME ":1: send-lowat: ", "invalid value '100' (1k to 65536k, or off)");
	expect_apply_error("send-lowat above 64m", "send-lowat 65m;\n", FNAME ":1: send-lowat: ", "'65m'");
	expect_apply_error("send-lowat no", "send-lowat no;\n", FNAME ":1: send-lowat: ", "'no'");
	expect_apply_error("unknown quoted directive", "\"work ers\" 2;\n",
	                   FNAME ":1: work ers: ", "unknown directive");
	expect_apply_error("empty name", "\"\" 2;\n", FNAME ":1: : ", "unknown directive");
	expect_apply_error("site-only directives", "site a.com {\n  root /a;\n  workers 3;\n}\n",
	                   FNAME ":3: workers: ", "not allowed inside a site block");
	expect_apply_error("listen in a site", "site a.com {\n  listen :80;\n}\n",
	                   FNAME ":2: listen: ", "not allowed inside a site block");
	expect_apply_error("bad seconds", "\n\n# three\ntimeout-header abc;\n",
	                   FNAME ":4: timeout-header: ", "abc");
	expect_apply_error("bad seconds after CRLF", "root /x;\r\n\r\ntimeout-idle -1;\r\n",
	                   FNAME ":3: timeout-idle: ", "-1");
	expect_apply_error("line of the name, not of the bad value", "listen\n  127.0.0.1:80\n  :81;\n",
	                   FNAME ":1: listen: ", "takes one value");
	expect_apply_error("bad bool", "site a {\n  listing maybe;\n}\n", FNAME ":2: listing: ", "on or off");
	expect_apply_error("bad listen", "listen 127.0.0.1:99999;\n", FNAME ":1: listen: ", "99999");
	expect_apply_error("root without value", "root;\n", FNAME ":1: root: ", NULL);
	expect_apply_error("empty root", "root \"\";\n", FNAME ":1: root: ", NULL);
	expect_apply_error("bad workers", "workers many;\n", FNAME ":1: workers: ", "many");
	expect_apply_error("bad accept-mode", "accept-mode all;\n", FNAME ":1: accept-mode: ", "all");
	expect_apply_error("bad log-level", "log-level loud;\n", FNAME ":1: log-level: ", "loud");
	expect_apply_error("directive names are case-sensitive", "Root /x;\n",
	                   FNAME ":1: Root: ", "unknown directive");
	expect_apply_error("site is not a directive", "site a.com {\n}\nsites x;\n",
	                   FNAME ":3: sites: ", "unknown directive");
}

static void test_error_buffer(void)
{
	struct settings s;
	char err[64];

	/* truncated to errlen, always terminated */
	settings_init(&s);
	memset(err, 'X', sizeof err);
	CHECK_EQ_INT(parse_str(&s, "root /x;\n}\n", err, 10), -1);
	CHECK_EQ_STR(err, FNAME ":2:");
	CHECK_EQ_INT(err[10], 'X');
	settings_free(&s);

	settings_init(&s);
	memset(err, 'X', sizeof err);
	CHECK_EQ_INT(parse_str(&s, "}", err, 1), -1);
	CHECK_EQ_INT(err[0], '\0');
	CHECK_EQ_INT(err[1], 'X');
	settings_free(&s);

	settings_init(&s);
	memset(err, 'X', sizeof err);
	CHECK_EQ_INT(parse_str(&s, "}", err, 0), -1);
	CHECK_EQ_INT(err[0], 'X');
	settings_free(&s);

	/* a NULL buffer is tolerated */
	settings_init(&s);
	CHECK_EQ_INT(conf_parse_text(&s, FNAME, "}", 1, NULL, 0), -1);
	settings_free(&s);

	/* a long directive name is shortened in the message, which stays one line */
	char *name = repeat('d', 300);
	char text[400], big[512];
	snprintf(text, sizeof text, "%s 1;", name);
	settings_init(&s);
	CHECK_EQ_INT(parse_str(&s, text, big, sizeof big), -1);
	snprintf(text, sizeof text, FNAME ":1: %.64s: unknown directive", name);
	CHECK_EQ_STR(big, text);
	settings_free(&s);
	free(name);

	/* the file name is kept on one line too */
	settings_init(&s);
	CHECK_EQ_INT(conf_parse_text(&s, "a\nb.conf", "}", 1, big, sizeof big), -1);
	CHECK_EQ_STR(big, "a?b.conf:1: unexpected '}'");
	settings_free(&s);

	/* success clears the buffer */
	settings_init(&s);
	strcpy(big, "old");
	CHECK_EQ_INT(parse_str(&s, "workers 2;", big, sizeof big), 0);
	CHECK_EQ_STR(big, "");
	settings_free(&s);
}

/* ---- valid files ---- */

static void test_empty_files(void)
{
	expect_ok("empty", "");
	expect_ok("blank lines", "\n\n  \t\r\n");
	expect_ok("comments only", "# nothing here\n   # still nothing ; { } \" \n#");
	expect_ok("comment without newline", "workers 2; # two");
	expect_ok("byte order mark", "\xEF\xBB\xBFworkers 2;\n");
	expect_ok("empty site", "site a.com {}");
	expect_ok("utf-8 bytes in values", "root /srv/\xc3\xa9t\xc3\xa9;\n");
}

static void test_values_reach_settings(void)
{
	struct settings s;
	char err[256] = "";
	static const char text[] = "# hearth.conf\n"
	                           "root /x;            # top-level root\n"
	                           "listen 127.0.0.1:9000;\n"
	                           "workers 3;\n"
	                           "timeout-header 2.5;\n"
	                           "listing;\n"
	                           "dotfiles off;\n";
	settings_init(&s);
	check_context("values");
	{
		struct settings o;
		settings_init(&o);
		if (CHECK_EQ_INT(parse_str(&o, "send-lowat off;\n", err, sizeof err), 0))
			CHECK_EQ_U64(o.send_lowat, 0);
		settings_free(&o);
	}
	if (CHECK_EQ_INT(parse_str(&s, text, err, sizeof err), 0)) {
		CHECK_EQ_STR(s.top.root, "/x");
		CHECK_EQ_INT(s.nlisten, 1);
		CHECK_EQ_STR(s.listen[0].text, "127.0.0.1:9000");
		CHECK_EQ_INT(s.listen[0].addr.ss_family, AF_INET);
		CHECK_EQ_INT(s.workers, 3);
		CHECK_EQ_U64(s.timeout_header_ms, 2500);
		CHECK_EQ_U64(s.timeout_body_ms, DEFAULT_TIMEOUT_BODY_MS);
		CHECK_EQ_U64(s.send_lowat, 32u << 10); /* the default */
		CHECK_EQ_INT(s.top.listing, 1);
		CHECK_EQ_INT(s.top.dotfiles, 0);
		CHECK_EQ_INT(s.top.follow_symlinks, -1);
		CHECK_EQ_INT(s.nsites, 0);
	} else {
		CHECK_EQ_STR(err, "");
	}
	settings_free(&s);
	check_context(NULL);
}

static void test_every_directive(void)
{
	struct settings s;
	char err[256] = "";
	static const char text[] =
	    "root /srv/www;\n"
	    "listing on;\n"
	    "follow-symlinks;\n"
	    "dotfiles off;\n"
	    "listen 127.0.0.1:9000;\n"
	    "listen [::1]:9001;\n"
	    "listen :9002;\n"
	    "listen unix:/run/hearth.sock;\n"
	    "unix-mode 0600;\n"
	    "workers 0;\n"
	    "worker-nice 5;\n"
	    "worker-cpu-affinity 0,2-3;\n"
	    "user www-data:www-data;\n"
	    "pid-file /run/hearth.pid;\n"
	    "daemon off;\n"
	    "shutdown-timeout 5;\n"
	    "accept-mode reuseport;\n"
	    "timeout-header 2.5;\n"
	    "timeout-body 10;\n"
	    "timeout-idle 0.5;\n"
	    "timeout-send 60;\n"
	    "keepalive-requests 100;\n"
	    "max-body-size 2m;\n"
	    "fastcgi-spool-max 512m;\n"
	    "send-lowat 64k;\n"
	    "max-request-line 4k;\n"
	    "max-header-size 32k;\n"
	    "max-header-fields 50;\n"
	    "access-log off;\n"
	    "error-log \"/var/log/hearth/error log\";\n"
	    "log-level warn;\n"
	    "mime-types /etc/hearth/mime.types;\n"
	    "fastcgi *.php unix:/run/php.sock 127.0.0.1:9000 read-timeout=30 max-conns=3;\n"
	    "fastcgi /app/ unix:/run/app.sock queue-timeout=2.5 connect-timeout=1;\n";
	settings_init(&s);
	check_context("every directive");
	if (!CHECK_EQ_INT(parse_str(&s, text, err, sizeof err), 0)) {
		CHECK_EQ_STR(err, "");
		settings_free(&s);
		return;
	}
	CHECK_EQ_STR(s.top.root, "/srv/www");
	CHECK_EQ_INT(s.top.listing, 1);
	CHECK_EQ_INT(s.top.follow_symlinks, 1);
	CHECK_EQ_INT(s.top.dotfiles, 0);
	CHECK_EQ_INT(s.nlisten, 4);
	CHECK_EQ_INT(s.listen[1].addr.ss_family, AF_INET6);
	CHECK_EQ_STR(s.listen[2].text, ":9002");
	CHECK_EQ_INT(s.listen[3].is_unix, 1);
	CHECK_EQ_U64(s.unix_mode, 0600);
	CHECK_EQ_INT(s.workers, 0);
	CHECK_EQ_INT(s.worker_nice, 5);
	CHECK_EQ_INT(s.worker_nice_set, 1);
	CHECK_EQ_STR(s.worker_cpu_affinity, "0,2-3");
	CHECK_EQ_STR(s.user, "www-data:www-data");
	CHECK_EQ_STR(s.pid_file, "/run/hearth.pid");
	CHECK_EQ_INT(s.daemon, 0);
	CHECK_EQ_U64(s.shutdown_timeout_ms, 5000);
	CHECK_EQ_INT(s.accept_mode, ACCEPT_REUSEPORT);
	CHECK_EQ_U64(s.timeout_header_ms, 2500);
	CHECK_EQ_U64(s.timeout_body_ms, 10000);
	CHECK_EQ_U64(s.timeout_idle_ms, 500);
	CHECK_EQ_U64(s.timeout_send_ms, 60000);
	CHECK_EQ_U64(s.keepalive_requests, 100);
	CHECK_EQ_U64(s.max_body_size, 2u << 20);
	CHECK_EQ_U64(s.fastcgi_spool_max, 512ull << 20);
	CHECK_EQ_U64(s.send_lowat, 64u << 10);
	CHECK_EQ_U64(s.max_request_line, 4096);
	CHECK_EQ_U64(s.max_head, 32768);
	CHECK_EQ_U64(s.max_fields, 50);
	CHECK_EQ_STR(s.access_log, "off");
	CHECK_EQ_STR(s.error_log, "/var/log/hearth/error log");
	CHECK_EQ_INT(s.log_level, LOG_WARN);
	CHECK_EQ_STR(s.mime_types, "/etc/hearth/mime.types");
	if (CHECK_EQ_INT(s.top.nroutes, 2)) {
		const struct fcgi_route *r = &s.top.routes[0];
		CHECK_EQ_STR(r->pattern, "*.php");
		CHECK_EQ_INT(r->nbackends, 2);
		CHECK_EQ_U64(r->max_conns, 3);
		CHECK_EQ_U64(r->read_timeout_ms, 30000);
		CHECK_EQ_U64(r->queue_timeout_ms, 30000); /* as long as the read timeout */
		r = &s.top.routes[1];
		CHECK_EQ_U64(r->max_conns, 0);
		CHECK_EQ_U64(r->queue_timeout_ms, 2500);
		CHECK_EQ_U64(r->connect_timeout_ms, 1000);
		CHECK_EQ_U64(r->read_timeout_ms, FCGI_DEFAULT_READ_MS);
	}
	CHECK_EQ_INT(s.nsites, 0);
	settings_free(&s);
	check_context(NULL);
}

static void test_quotes_and_comments(void)
{
	struct settings s;
	char err[256] = "";
	static const char text[] = "root \"/srv/my site; #1 {x}\";\n"
	                           "pid-file \"/run/a\\\"b\\\\c\";  # escaped quote and backslash\n"
	                           "mime-types /etc/m#not part of the word\n"
	                           "  ;\n"
	                           "user\t\"with\ttab\";\n"
	                           "access-log \"-\";error-log /e;log-level\n"
	                           "debug\n"
	                           ";\n"
	                           "worker-cpu-affinity \"auto\"#glued comment\n"
	                           ";";
	settings_init(&s);
	check_context("quotes and comments");
	if (CHECK_EQ_INT(parse_str(&s, text, err, sizeof err), 0)) {
		CHECK_EQ_STR(s.top.root, "/srv/my site; #1 {x}");
		CHECK_EQ_STR(s.pid_file, "/run/a\"b\\c");
		CHECK_EQ_STR(s.mime_types, "/etc/m");
		CHECK_EQ_STR(s.user, "with\ttab");
		CHECK_EQ_STR(s.access_log, "-");
		CHECK_EQ_STR(s.error_log, "/e");
		CHECK_EQ_INT(s.log_level, LOG_DEBUG);
		CHECK_EQ_STR(s.worker_cpu_affinity, "auto");
	} else {
		CHECK_EQ_STR(err, "");
	}
	settings_free(&s);
	check_context(NULL);

	/* backslashes outside quotes are ordinary bytes */
	settings_init(&s);
	check_context("unquoted backslash");
	if (CHECK_EQ_INT(parse_str(&s, "root C:\\www\\;", err, sizeof err), 0))
		CHECK_EQ_STR(s.top.root, "C:\\www\\");
	settings_free(&s);

	/* a quoted "site" is still the keyword; a quoted "{" is a word */
	settings_init(&s);
	check_context("quoted keyword");
	if (CHECK_EQ_INT(parse_str(&s, "\"site\" \"A.com\" {\n}\n", err, sizeof err), 0) &&
	    CHECK_EQ_INT(s.nsites, 1))
		CHECK_EQ_STR(s.sites[0].names[0], "a.com");
	settings_free(&s);

	settings_init(&s);
	check_context("quoted brace is a word");
	if (CHECK_EQ_INT(parse_str(&s, "root \"{\";\nsite x {\n root \"}\";\n}\n", err, sizeof err), 0)) {
		CHECK_EQ_STR(s.top.root, "{");
		CHECK_EQ_STR(s.sites[0].root, "}");
	}
	settings_free(&s);
	check_context(NULL);
}

static void test_several_listen(void)
{
	struct settings s;
	char err[256] = "";
	settings_init(&s);
	check_context("several listen");
	if (CHECK_EQ_INT(parse_str(&s,
	                           "listen 127.0.0.1:8080;\n"
	                           "listen \"[::1]:8080\";\n"
	                           "listen unix:@hearth;\n",
	                           err, sizeof err),
	                 0)) {
		CHECK_EQ_INT(s.nlisten, 3);
		CHECK_EQ_STR(s.listen[0].text, "127.0.0.1:8080");
		CHECK_EQ_STR(s.listen[1].text, "[::1]:8080");
		CHECK_EQ_STR(s.listen[2].text, "unix:@hearth");
		CHECK_EQ_INT(s.listen[2].is_unix, 1);
	} else {
		CHECK_EQ_STR(err, "");
	}
	settings_free(&s);
	check_context(NULL);
}

static void test_sites(void)
{
	struct settings s;
	char err[256] = "";
	static const char text[] = "root /srv/default;\n" /* 1 */
	                           "listing off;\n" /* 2 */
	                           "\n" /* 3 */
	                           "site Example.COM www.example.com {\n" /* 4 */
	                           "    root /srv/example;\n" /* 5 */
	                           "    listing on;\n" /* 6 */
	                           "}\n" /* 7 */
	                           "site *.Blog.example.org\n" /* 8 */
	                           "     blog.example.org\n" /* 9 */
	                           "{\n" /* 10 */
	                           "    dotfiles;\n" /* 11 */
	                           "    follow-symlinks off;\n" /* 12 */
	                           "}\n" /* 13 */
	                           "site default {\n" /* 14 */
	                           "    root \"/srv/fall back\";\n" /* 15 */
	                           "}\n" /* 16 */
	                           "site default localhost { }\n"
	    /* 17: a second default: refused (checked below separately) */;
	size_t good = (size_t)(strstr(text, "site default localhost") - text);

	settings_init(&s);
	check_context("sites");
	if (!CHECK_EQ_INT(parse_mem(&s, text, good, err, sizeof err), 0)) {
		CHECK_EQ_STR(err, "");
		settings_free(&s);
		return;
	}
	CHECK_EQ_STR(s.top.root, "/srv/default");
	CHECK_EQ_INT(s.top.listing, 0);
	if (!CHECK_EQ_INT(s.nsites, 3)) {
		settings_free(&s);
		return;
	}
	const struct site_conf *a = &s.sites[0], *b = &s.sites[1], *d = &s.sites[2];
	CHECK_EQ_INT(a->nnames, 2);
	CHECK_EQ_STR(a->names[0], "example.com");
	CHECK_EQ_STR(a->names[1], "www.example.com");
	CHECK_EQ_INT(a->is_default, 0);
	CHECK_EQ_STR(a->root, "/srv/example");
	CHECK_EQ_INT(a->listing, 1);
	CHECK_EQ_INT(a->follow_symlinks, -1);
	CHECK_EQ_INT(a->dotfiles, -1);
	CHECK_EQ_INT(a->line, 4);

	CHECK_EQ_INT(b->nnames, 2);
	CHECK_EQ_STR(b->names[0], "*.blog.example.org");
	CHECK_EQ_STR(b->names[1], "blog.example.org");
	CHECK(b->root == NULL);
	CHECK_EQ_INT(b->listing, -1);
	CHECK_EQ_INT(b->dotfiles, 1);
	CHECK_EQ_INT(b->follow_symlinks, 0);
	CHECK_EQ_INT(b->line, 8);

	CHECK_EQ_INT(d->nnames, 0);
	CHECK_EQ_INT(d->is_default, 1);
	CHECK_EQ_STR(d->root, "/srv/fall back");
	CHECK_EQ_INT(d->line, 14);

	/* the top level is untouched by site directives */
	CHECK_EQ_INT(s.top.dotfiles, -1);
	CHECK_EQ_INT(s.top.follow_symlinks, -1);

	/* and conf_finish() then lets the sites inherit */
	if (CHECK_EQ_INT(conf_finish(&s, err, sizeof err), 0)) {
		CHECK_EQ_STR(b->root, "/srv/default");
		CHECK_EQ_INT(b->listing, 0);
		CHECK_EQ_INT(a->dotfiles, 0);
		CHECK(conf_site_for_host(&s, "WWW.example.com:8080", 20) == a);
		CHECK(conf_site_for_host(&s, "x.blog.example.org", 18) == b);
		CHECK(conf_site_for_host(&s, "blog.example.org", 16) == b);
		CHECK(conf_site_for_host(&s, "other.net", 9) == d);
	}
	settings_free(&s);

	expect_error("second default after valid sites", text,
	             FNAME ":17: site: there is already a default site, on line 14");

	/* "site default example.com": the default site with a name */
	settings_init(&s);
	check_context("default with names");
	if (CHECK_EQ_INT(parse_str(&s, "site default example.com {\n  listing;\n}\n", err, sizeof err), 0) &&
	    CHECK_EQ_INT(s.nsites, 1)) {
		CHECK_EQ_INT(s.sites[0].is_default, 1);
		CHECK_EQ_INT(s.sites[0].nnames, 1);
		CHECK_EQ_STR(s.sites[0].names[0], "example.com");
		CHECK_EQ_INT(s.sites[0].listing, 1);
	}
	settings_free(&s);

	/* IPv6 literals keep their brackets and may hold ':' */
	settings_init(&s);
	check_context("IPv6 site name");
	if (CHECK_EQ_INT(parse_str(&s, "site [::1] 127.0.0.1 {\n}\n", err, sizeof err), 0) &&
	    CHECK_EQ_INT(s.nsites, 1))
		CHECK_EQ_STR(s.sites[0].names[0], "[::1]");
	settings_free(&s);

	/* directives after a site block are top-level again */
	settings_init(&s);
	check_context("after a block");
	if (CHECK_EQ_INT(parse_str(&s, "site a {\n  root /a;\n}\nroot /top;\nworkers 2;\n", err, sizeof err),
	                 0)) {
		CHECK_EQ_STR(s.sites[0].root, "/a");
		CHECK_EQ_STR(s.top.root, "/top");
		CHECK_EQ_INT(s.workers, 2);
	}
	settings_free(&s);
	check_context(NULL);
}

static void test_crlf(void)
{
	struct settings s;
	char err[256] = "";
	static const char text[] = "# windows\r\n"
	                           "root \"/srv/a b\";\r\n"
	                           "site A.example {\r\n"
	                           "\tlisting on;\r\n"
	                           "}\r\n"
	                           "workers 2;\r\n";
	settings_init(&s);
	check_context("CRLF");
	if (CHECK_EQ_INT(parse_str(&s, text, err, sizeof err), 0)) {
		CHECK_EQ_STR(s.top.root, "/srv/a b");
		CHECK_EQ_INT(s.nsites, 1);
		CHECK_EQ_STR(s.sites[0].names[0], "a.example");
		CHECK_EQ_INT(s.sites[0].listing, 1);
		CHECK_EQ_INT(s.sites[0].line, 3);
		CHECK_EQ_INT(s.workers, 2);
	} else {
		CHECK_EQ_STR(err, "");
	}
	settings_free(&s);
	check_context(NULL);
	expect_error("CRLF line numbers", "root /a;\r\n\r\n}\r\n", FNAME ":3: unexpected '}'");
	expect_error("bare CR is not a line break", "root /a;\r\r}\r", FNAME ":1: unexpected '}'");
}

/* Strings must outlive the text and stay distinct from one another. */
static void test_strings_are_copies(void)
{
	struct settings s;
	char err[256] = "";
	settings_init(&s);
	check_context("copies");
	if (CHECK_EQ_INT(
	        parse_str(&s, "root /one;\nsite b {\n root /two;\n}\nroot /three;\n", err, sizeof err), 0)) {
		CHECK_EQ_STR(s.top.root, "/three");
		CHECK_EQ_STR(s.sites[0].root, "/two");
		CHECK_EQ_STR(s.sites[0].names[0], "b");
	}
	settings_free(&s);
	check_context(NULL);
}

/* Mutations of a valid file: every verdict is 0, or -1 with one terminated
 * line starting with the file name and a line number. No listen here, so no
 * name is ever looked up. */
static void test_mutations(void)
{
	static const char base[] = "# a file\nroot \"/srv/a b\";\nworkers 2;\nsite a.com *.b.org {\n"
	                           "  listing on;\n  dotfiles;\n}\nsite default {\n  root /d;\n}\n"
	                           "timeout-idle 1.5;\n";
	static const char alphabet[] = "\"\\#;{}\n\r\t \0\x01\x7fsiteZ";
	uint64_t seed = 12345;
	char buf[sizeof base + 8];
	unsigned failures = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = sizeof base - 1;
		memcpy(buf, base, n);
		int edits = 1 + (int)check_rand_below(&seed, 4);
		for (int e = 0; e < edits; e++) {
			size_t at = (size_t)check_rand_below(&seed, n);
			switch (check_rand_below(&seed, 3)) {
			case 0: /* replace */
				buf[at] = alphabet[check_rand_below(&seed, sizeof alphabet - 1)];
				break;
			case 1: /* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default: /* truncate */ n = at; break;
			}
			if (n == 0)
				break;
		}
		struct settings s;
		char err[300];
		memset(err, 'X', sizeof err);
		settings_init(&s);
		int r = parse_mem(&s, buf, n, err, sizeof err);
		int ok = 1;
		if (r == -1)
			ok = memchr(err, '\0', sizeof err) && starts_with(err, FNAME ":") && err[7] >= '1' &&
			     err[7] <= '9' && one_line(err);
		else
			ok = r == 0 && s.nsites <= 2;
		if (!ok && failures++ < 5) {
			check_context("mutation %d", iter);
			CHECK_FAIL("r=%d err=%.60s", r, err);
			CHECK_EQ_MEM(buf, n, "", 0);
		}
		settings_free(&s);
	}
	check_context(NULL);
	CHECK_EQ_INT(failures, 0);
}

/* Sizes: any value that fits in 64 bits, with or without a suffix (plain
 * numbers of 1 GiB and more were once refused while "2g" was not). */
static void test_sizes(void)
{
	static const struct {
		const char *text;
		int ok;
		uint64_t want;
	} cases[] = {
	    {"0", 1, 0},
	    {"1023", 1, 1023},
	    {"2000000000", 1, 2000000000ull},
	    {"2g", 1, 2ull << 30},
	    {"4096k", 1, 4ull << 20},
	    {"99999999999k", 1, 99999999999ull << 10},
	    {"17179869183g", 1, 17179869183ull << 30},
	    {"17179869184g", 0, 0},
	    {"18446744073709551615", 1, UINT64_MAX},
	    {"18446744073709551616", 0, 0},
	    {"1t", 0, 0},
	    {"-1", 0, 0},
	    {"1e3", 0, 0},
	    {"", 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		check_context("size '%s'", cases[i].text);
		uint64_t v = 12345;
		int r = conf_parse_size(cases[i].text, &v);
		CHECK_EQ_INT(r, cases[i].ok ? 0 : -1);
		if (cases[i].ok)
			CHECK_EQ_U64(v, cases[i].want);
	}
	check_context(NULL);
}

int main(void)
{
	test_sizes();
	test_site_errors();
	test_syntax_errors();
	test_comment_control();
	test_limits();
	test_apply_errors();
	test_error_buffer();
	test_empty_files();
	test_values_reach_settings();
	test_every_directive();
	test_quotes_and_comments();
	test_several_listen();
	test_sites();
	test_crlf();
	test_strings_are_copies();
	test_mutations();
	return check_done();
}
