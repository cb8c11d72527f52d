/* test_cond.c: entity-tag lists (If-Match / If-None-Match). */
#include <string.h>

#include "check.h"
#include "http/cond.h"

static int m(const char *list, int weak)
{
	return etag_list_match(list, strlen(list), "\"abc\"", weak);
}

int main(void)
{
	CHECK(m("\"abc\"", 0));
	CHECK(m("\"abc\"", 1));
	CHECK(m("*", 0));
	CHECK(m("\"x\", \"abc\"", 0));
	CHECK(m(" ,\t\"x\" ,\"abc\" ", 1));
	CHECK(!m("W/\"abc\"", 0)); /* strong comparison: a weak tag never matches */
	CHECK(m("W/\"abc\"", 1));
	CHECK(!m("\"abcd\"", 1));
	CHECK(!m("\"ab\"", 1));
	CHECK(!m("abc", 1)); /* unquoted: malformed */
	CHECK(!m("\"abc", 1)); /* unterminated */
	CHECK(!m("\"", 1));
	CHECK(!m("W/", 1));
	CHECK(!m("W", 1));
	CHECK(!m("", 1));
	CHECK(!m("\"x\" junk \"abc\"", 1)); /* malformed after a tag: no match */
	CHECK(!etag_list_match(NULL, 0, "\"abc\"", 1));
	return check_done();
}
