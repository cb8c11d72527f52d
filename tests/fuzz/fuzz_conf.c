/* fuzz_conf.c: libFuzzer target for the configuration file parser
 * (conf_parse_text() in src/conf/file.c).
 *
 * Any bytes must give 0, or -1 with a NUL-terminated one-line message that
 * starts with the file name; nothing may leak (settings_free() frees the
 * arena) and nothing may outlive the input. A `listen` with a host name asks
 * the resolver, which only ever resolves (offline it fails fast).
 *
 * Build it with clang -fsanitize=fuzzer,address,undefined together with the
 * sources of src/conf (and -DHEARTH_VERSION, which conf.c prints), then run
 * it on the seeds: ./fuzz_conf -max_total_time=60 tests/fuzz/corpus/conf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

#define FUZZ_NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct settings s;
	char err[256];
	/* an exact-size copy, so reading past len is caught, and freed before
	 * the settings are freed, so a pointer kept into the text is caught */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	memset(err, 'X', sizeof err);

	settings_init(&s);
	int r = conf_parse_text(&s, FUZZ_NAME, text, size, err, sizeof err);
	free(text);

	if (!memchr(err, '\0', sizeof err))
		abort();
	if (r != 0 && r != -1)
		abort();
	if (r == -1) {
		if (strncmp(err, FUZZ_NAME ":", sizeof FUZZ_NAME) != 0)
			abort();
		if (strchr(err, '\n'))
			abort();
	} else {
		if (err[0] != '\0' || s.nsites > CONF_MAX_SITES || s.nlisten > CONF_MAX_LISTEN)
			abort();
		/* every string handed out must still be readable */
		for (unsigned i = 0; i < s.nsites; i++) {
			const struct site_conf *site = &s.sites[i];
			if (site->nnames > CONF_MAX_NAMES || (site->nnames == 0 && !site->is_default))
				abort();
			for (unsigned k = 0; k < site->nnames; k++)
				if (strlen(site->names[k]) == 0)
					abort();
			if (site->root && strlen(site->root) == 0)
				abort();
		}
		if (s.top.root && strlen(s.top.root) == 0)
			abort();
	}
	settings_free(&s);
	return 0;
}
