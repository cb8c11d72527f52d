/* file.c: the configuration file's syntax (conf_parse_text() in conf.h).
 *
 * The file is a list of directives ("NAME ARG... ;") and site blocks
 * ("site NAME... { directives }"). This module only splits the text into
 * directives and site blocks; every directive is handed to conf_apply(), the
 * same code that validates the command-line flags, so the two cannot disagree.
 * It is pure (no I/O, no globals) and allocates only from the settings' arena,
 * so it can be unit-tested and fuzzed on its own, and a bad file on reload
 * leaves nothing behind once the half-filled settings are freed.
 *
 * Errors are one line: "FILE:LINE: DIRECTIVE: message", or "FILE:LINE:
 * message" when no directive has started (a stray '}', an empty ';').
 */
#include "conf/conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FILE_TOKEN_MAX 4096 /* bytes in one word, after unquoting */
#define FILE_ARGS_MAX 64 /* arguments of one directive */
#define FILE_SHOWN_MAX 64 /* bytes of a directive or host name quoted in messages */

enum file_tok { TOK_EOF, TOK_WORD, TOK_SEMI, TOK_OPEN, TOK_CLOSE, TOK_ERROR };

struct file_parser {
	struct settings *s;
	const char *name; /* file name, for messages */
	const char *p, *end;
	unsigned line; /* line of p */
	unsigned tok_line; /* line where the last token (or lexical error) is */
	char tok[FILE_TOKEN_MAX + 1];
	size_t tok_len;
	char lex_err[64]; /* after TOK_ERROR */
	char *err;
	size_t errlen;
};

/* Formats "NAME:LINE: [DIRECTIVE: ]message" into the caller's buffer, keeping
 * it on one line whatever the file name holds. Always returns -1. */
__attribute__((format(printf, 4, 5))) static int file_fail(struct file_parser *fp, unsigned line,
                                                           const char *directive, const char *fmt, ...)
{
	if (!fp->err || fp->errlen == 0)
		return -1;
	int n;
	if (directive)
		n = snprintf(fp->err, fp->errlen, "%s:%u: %.*s: ", fp->name, line, FILE_SHOWN_MAX, directive);
	else
		n = snprintf(fp->err, fp->errlen, "%s:%u: ", fp->name, line);
	if (n >= 0 && (size_t)n < fp->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(fp->err + n, fp->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	for (char *c = fp->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -1;
}

static int file_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Control bytes other than the whitespace ones: never valid in the file. */
static int file_is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

/* Where a word (or a quoted string) must end. */
static int file_is_delim(unsigned char c)
{
	return file_is_space(c) || c == ';' || c == '{' || c == '}' || c == '#' || c == '"';
}

__attribute__((format(printf, 2, 3))) static enum file_tok file_lex_error(struct file_parser *fp,
                                                                          const char *fmt, ...)
{
	va_list ap;
	fp->tok_line = fp->line;
	va_start(ap, fmt);
	vsnprintf(fp->lex_err, sizeof fp->lex_err, fmt, ap);
	va_end(ap);
	return TOK_ERROR;
}

static enum file_tok file_lex_control(struct file_parser *fp, unsigned char c)
{
	if (c == 0)
		return file_lex_error(fp, "unexpected NUL byte");
	return file_lex_error(fp, "unexpected control byte 0x%02x", c);
}

static int file_tok_append(struct file_parser *fp, char c)
{
	if (fp->tok_len >= FILE_TOKEN_MAX)
		return -1;
	fp->tok[fp->tok_len++] = c;
	return 0;
}

/* A double-quoted string; fp->p is on the opening quote. */
static enum file_tok file_lex_quoted(struct file_parser *fp)
{
	fp->p++;
	for (;;) {
		if (fp->p == fp->end)
			return file_lex_error(fp, "unterminated quoted string");
		unsigned char c = (unsigned char)*fp->p;
		if (c == '"') {
			fp->p++;
			break;
		}
		if (c == '\n' || c == '\r')
			return file_lex_error(fp, "unterminated quoted string");
		if (c == '\\') {
			if (fp->end - fp->p < 2 || fp->p[1] == '\n' || fp->p[1] == '\r')
				return file_lex_error(fp, "unterminated quoted string");
			c = (unsigned char)fp->p[1];
			if (c != '"' && c != '\\') {
				if (file_is_control(c))
					return file_lex_control(fp, c);
				return file_lex_error(fp, "bad escape '\\%c' (only \\\" and \\\\)", c);
			}
			fp->p++;
		} else if (file_is_control(c)) {
			return file_lex_control(fp, c);
		}
		if (file_tok_append(fp, (char)c) < 0)
			return file_lex_error(fp, "token too long (at most %d bytes)", FILE_TOKEN_MAX);
		fp->p++;
	}
	if (fp->p < fp->end && (!file_is_delim((unsigned char)*fp->p) || *fp->p == '"'))
		return file_lex_error(fp, "a quoted string must be followed by a space, ';', '{' or '}'");
	return TOK_WORD;
}

/* The next token: a word (quotes removed) in fp->tok, or punctuation. */
static enum file_tok file_lex_next(struct file_parser *fp)
{
	for (;;) {
		while (fp->p < fp->end && file_is_space((unsigned char)*fp->p)) {
			if (*fp->p == '\n')
				fp->line++;
			fp->p++;
		}
		if (fp->p == fp->end || *fp->p != '#')
			break;
		while (fp->p < fp->end && *fp->p != '\n') {
			if (file_is_control((unsigned char)*fp->p))
				return file_lex_control(fp, (unsigned char)*fp->p);
			fp->p++;
		}
	}
	fp->tok_line = fp->line;
	fp->tok_len = 0;
	fp->tok[0] = '\0';
	if (fp->p == fp->end)
		return TOK_EOF;
	unsigned char c = (unsigned char)*fp->p;
	switch (c) {
	case ';': fp->p++; return TOK_SEMI;
	case '{': fp->p++; return TOK_OPEN;
	case '}': fp->p++; return TOK_CLOSE;
	case '"': {
		enum file_tok t = file_lex_quoted(fp);
		fp->tok[fp->tok_len] = '\0';
		return t;
	}
	default: break;
	}
	while (fp->p < fp->end && !file_is_delim((unsigned char)*fp->p)) {
		c = (unsigned char)*fp->p;
		if (file_is_control(c))
			return file_lex_control(fp, c);
		if (file_tok_append(fp, (char)c) < 0)
			return file_lex_error(fp, "token too long (at most %d bytes)", FILE_TOKEN_MAX);
		fp->p++;
	}
	fp->tok[fp->tok_len] = '\0';
	if (fp->p < fp->end && *fp->p == '"')
		return file_lex_error(fp, "a quote cannot start in the middle of a word");
	return TOK_WORD;
}

static const char *file_copy_token(struct file_parser *fp)
{
	return conf_strdup(fp->s, fp->tok, fp->tok_len);
}

/* "NAME ARG... ;" after its name was read; site is NULL at top level. */
static int file_parse_directive(struct file_parser *fp, struct site_conf *site)
{
	unsigned line = fp->tok_line;
	const char *name = file_copy_token(fp);
	const char *argv[FILE_ARGS_MAX + 1];
	int argc = 0;
	if (!name)
		return file_fail(fp, line, NULL, "out of memory");
	for (;;) {
		switch (file_lex_next(fp)) {
		case TOK_WORD:
			if (argc == FILE_ARGS_MAX)
				return file_fail(fp, line, name, "too many arguments (at most %d)",
				                 FILE_ARGS_MAX);
			argv[argc] = file_copy_token(fp);
			if (!argv[argc])
				return file_fail(fp, line, name, "out of memory");
			argc++;
			break;
		case TOK_SEMI: {
			char msg[256];
			argv[argc] = NULL;
			msg[0] = '\0';
			if (conf_apply(fp->s, site, name, argc, argv, msg, sizeof msg) < 0)
				return file_fail(fp, line, name, "%s", msg[0] ? msg : "invalid");
			return 0;
		}
		case TOK_OPEN:
		case TOK_CLOSE:
		case TOK_EOF: return file_fail(fp, line, name, "missing ';'");
		case TOK_ERROR: return file_fail(fp, fp->tok_line, name, "%s", fp->lex_err);
		}
	}
}

/* Where a host name was already used (0: nowhere). */
static unsigned file_host_taken(const struct settings *s, const char *host)
{
	for (unsigned i = 0; i < s->nsites; i++)
		for (unsigned j = 0; j < s->sites[i].nnames; j++)
			if (strcmp(s->sites[i].names[j], host) == 0)
				return s->sites[i].line ? s->sites[i].line : 1;
	return 0;
}

/* A host name as written after "site": not empty, a '*' only as the "*."
 * prefix of a wildcard, no port (the Host's port is ignored) and no '/':
 * anything else would never match a Host. */
static int file_host_valid(const char *h, size_t n)
{
	if (n == 0)
		return 0;
	size_t from = 0;
	if (h[0] == '*') {
		if (n < 3 || h[1] != '.')
			return 0;
		from = 2;
	}
	for (size_t i = from; i < n; i++)
		if (h[i] == '*' || h[i] == '/' || (h[i] == ':' && h[0] != '['))
			return 0;
	return 1;
}

/* "site NAME... {" after "site" was read: the new site, or NULL on error. */
static struct site_conf *file_parse_site_head(struct file_parser *fp)
{
	struct settings *s = fp->s;
	unsigned line = fp->tok_line;
	if (s->nsites >= CONF_MAX_SITES) {
		file_fail(fp, line, "site", "too many sites (at most %d)", CONF_MAX_SITES);
		return NULL;
	}
	struct site_conf *site = &s->sites[s->nsites];
	memset(site, 0, sizeof *site);
	site->root = NULL;
	site->listing = -1;
	site->follow_symlinks = -1;
	site->dotfiles = -1;
	site->line = line;
	for (;;) {
		enum file_tok t = file_lex_next(fp);
		if (t == TOK_ERROR) {
			file_fail(fp, fp->tok_line, "site", "%s", fp->lex_err);
			return NULL;
		}
		if (t != TOK_WORD) {
			if (site->nnames == 0 && !site->is_default) {
				file_fail(fp, line, "site", "site needs at least one name");
				return NULL;
			}
			if (t != TOK_OPEN) {
				file_fail(fp, line, "site", "missing '{'");
				return NULL;
			}
			s->nsites++;
			return site;
		}
		for (size_t i = 0; i < fp->tok_len; i++)
			if (fp->tok[i] >= 'A' && fp->tok[i] <= 'Z')
				fp->tok[i] = (char)(fp->tok[i] - 'A' + 'a');
		if (strcmp(fp->tok, "default") == 0) {
			for (unsigned i = 0; i < s->nsites; i++)
				if (s->sites[i].is_default) {
					file_fail(fp, line, "site",
					          "there is already a default site, on line %u",
					          s->sites[i].line);
					return NULL;
				}
			site->is_default = 1;
			continue;
		}
		if (!file_host_valid(fp->tok, fp->tok_len)) {
			file_fail(fp, line, "site",
			          "bad host name '%.*s' (a name or *.domain, without a port)", FILE_SHOWN_MAX,
			          fp->tok);
			return NULL;
		}
		for (unsigned i = 0; i < site->nnames; i++)
			if (strcmp(site->names[i], fp->tok) == 0) {
				file_fail(fp, line, "site", "host %.*s is listed twice", FILE_SHOWN_MAX,
				          fp->tok);
				return NULL;
			}
		unsigned other = file_host_taken(s, fp->tok);
		if (other) {
			file_fail(fp, line, "site", "host %.*s already belongs to the site on line %u",
			          FILE_SHOWN_MAX, fp->tok, other);
			return NULL;
		}
		if (site->nnames >= CONF_MAX_NAMES) {
			file_fail(fp, line, "site", "too many names (at most %d)", CONF_MAX_NAMES);
			return NULL;
		}
		const char *copy = file_copy_token(fp);
		if (!copy) {
			file_fail(fp, line, "site", "out of memory");
			return NULL;
		}
		site->names[site->nnames++] = copy;
	}
}

int conf_parse_text(struct settings *s, const char *name, const char *text, size_t len, char *err,
                    size_t errlen)
{
	struct file_parser fp;
	struct site_conf *site = NULL;

	if (err && errlen)
		err[0] = '\0';
	fp.s = s;
	fp.name = name ? name : "(config)";
	fp.p = text;
	fp.end = text + len;
	fp.line = 1;
	fp.tok_line = 1;
	fp.tok_len = 0;
	fp.lex_err[0] = '\0';
	fp.err = err;
	fp.errlen = errlen;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte order mark */
		fp.p += 3;

	for (;;) {
		switch (file_lex_next(&fp)) {
		case TOK_EOF:
			if (site)
				return file_fail(&fp, site->line, "site", "unterminated site block");
			return 0;
		case TOK_ERROR: return file_fail(&fp, fp.tok_line, NULL, "%s", fp.lex_err);
		case TOK_SEMI: return file_fail(&fp, fp.tok_line, NULL, "empty directive");
		case TOK_OPEN: return file_fail(&fp, fp.tok_line, NULL, "unexpected '{'");
		case TOK_CLOSE:
			if (!site)
				return file_fail(&fp, fp.tok_line, NULL, "unexpected '}'");
			site = NULL;
			break;
		case TOK_WORD:
			if (strcmp(fp.tok, "site") == 0) {
				if (site)
					return file_fail(&fp, fp.tok_line, "site", "site blocks cannot nest");
				site = file_parse_site_head(&fp);
				if (!site)
					return -1;
			} else if (file_parse_directive(&fp, site) < 0) {
				return -1;
			}
			break;
		}
	}
}
