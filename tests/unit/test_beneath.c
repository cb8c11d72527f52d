/* test_beneath.c: opening beneath a root, with openat2 and with the
 * component walk used where openat2 is missing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "http/beneath.h"

static char top[256];

static void mkfile(const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	FILE *f = fopen(p, "w");
	fputs(content, f);
	fclose(f);
}

static void mkdirs(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	mkdir(p, 0755);
}

static void mklink(const char *target, const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	if (symlink(target, p) != 0)
		perror("symlink");
}

static int opens(int (*fn)(int, const char *, int, int), int root, const char *rel, int follow)
{
	int fd = fn(root, rel, O_RDONLY, follow);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static int via_walk(int dirfd, const char *rel, int flags, int follow)
{
	(void)follow;
	return open_beneath_walk(dirfd, rel, flags);
}

int main(void)
{
	snprintf(top, sizeof top, "/tmp/hearth-beneath-XXXXXX");
	CHECK(mkdtemp(top) != NULL);
	mkdirs("root");
	mkdirs("root/dir");
	mkdirs("root/dir/sub");
	mkfile("root/a.txt", "a");
	mkfile("root/dir/sub/b.txt", "b");
	mkfile("secret", "outside");
	mklink("a.txt", "root/link_in");
	mklink("../secret", "root/link_out");
	mklink("dir", "root/dirlink");
	mklink("/etc/passwd", "root/abs");
	char rp[512];
	snprintf(rp, sizeof rp, "%s/root", top);
	int root = open(rp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(root >= 0);

	int (*fns[2])(int, const char *, int, int) = {open_beneath, via_walk};
	for (int k = 0; k < 2; k++) {
		int (*fn)(int, const char *, int, int) = fns[k];
		CHECK(opens(fn, root, "a.txt", 0));
		CHECK(opens(fn, root, "dir/sub/b.txt", 0));
		CHECK(opens(fn, root, ".", 0));
		CHECK(fn(root, "dir/", O_RDONLY, 0) >= 0);
		CHECK(!opens(fn, root, "missing", 0));
		CHECK(!opens(fn, root, "a.txt/x", 0)); /* ENOTDIR */
		CHECK(!opens(fn, root, "link_in", 0)); /* symlinks refused without follow */
		CHECK(!opens(fn, root, "link_out", 0));
		CHECK(!opens(fn, root, "link_out", 1)); /* and never out of the root */
		CHECK(!opens(fn, root, "abs", 1));
		CHECK(!opens(fn, root, "dirlink/sub/b.txt", 0));
		CHECK(!opens(fn, root, "../secret", 1));
		CHECK(!opens(fn, root, "dir/../../secret", 1));
	}
	/* O_PATH works both ways too (the FastCGI router asks with it) */
	for (int k = 0; k < 2; k++) {
		int fd = fns[k](root, "dir/sub/b.txt", O_PATH, 0);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	/* with openat2, follow lets links that stay inside through */
	CHECK(opens(open_beneath, root, "link_in", 1));
	CHECK(opens(open_beneath, root, "dirlink/sub/b.txt", 1));
	/* the walk never follows: the conservative answer */
	CHECK(!opens(via_walk, root, "link_in", 1));
	errno = 0;
	CHECK(open_beneath_walk(root, "link_in", O_RDONLY) < 0 && errno == ELOOP);
	close(root);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
	return check_done();
}
