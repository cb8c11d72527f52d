/* test_pidfile.c: the pid file (src/proc/pidfile.h).
 *
 * In a private directory: acquiring writes our pid and holds the lock, so a
 * second acquire says "already running" and pidfile_running() finds us;
 * release removes it. The name is never followed through a symlink: a pid
 * file path that is a symlink is refused and its target left alone, and a
 * symlink planted at the temporary name (PATH.PID.tmp) is replaced, not
 * written through. A stale file (nobody holds the lock) is taken over.
 * Sixteen processes acquiring at the same moment, 100 times: exactly one wins.
 */
#include "check.h"
#include "core/log.h"
#include "proc/pidfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/hearth-test-pidfile-XXXXXX";

static void make_file(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (!CHECK(fd >= 0))
		return;
	CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

static void file_is(const char *path, const char *want)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY);
	if (!CHECK(fd >= 0))
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(buf, want);
}

static void test_acquire_release(void)
{
	check_context("acquire");
	char path[200], err[300], want[32];
	snprintf(path, sizeof path, "%s/a.pid", dir);
	snprintf(want, sizeof want, "%ld\n", (long)getpid());
	int fd = pidfile_acquire(path, err, sizeof err);
	if (!CHECK(fd >= 0))
		return;
	file_is(path, want);
	CHECK_EQ_INT(pidfile_running(path, err, sizeof err), getpid());
	/* a second acquire (another open file description) finds it locked */
	CHECK_EQ_INT(pidfile_acquire(path, err, sizeof err), -1);
	CHECK(strstr(err, "already running") != NULL);
	pidfile_release(path, fd);
	CHECK_EQ_INT(access(path, F_OK), -1);
	/* a file nobody holds is stale and taken over */
	make_file(path, "999999\n");
	CHECK_EQ_INT(pidfile_running(path, err, sizeof err), -1);
	CHECK(strstr(err, "stale") != NULL);
	fd = pidfile_acquire(path, err, sizeof err);
	if (CHECK(fd >= 0)) {
		file_is(path, want);
		pidfile_release(path, fd);
	}
}

static void test_symlinks(void)
{
	check_context("symlinks");
	char path[200], victim[200], tmp[240], err[300], want[32];
	snprintf(path, sizeof path, "%s/b.pid", dir);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	snprintf(want, sizeof want, "%ld\n", (long)getpid());
	make_file(victim, "precious\n");
	/* the pid file's name is a symlink: refused, target untouched */
	CHECK_EQ_INT(symlink(victim, path), 0);
	CHECK_EQ_INT(pidfile_acquire(path, err, sizeof err), -1);
	CHECK(strstr(err, "symbolic link") != NULL);
	file_is(victim, "precious\n");
	unlink(path);
	/* a dangling symlink is not created through either */
	char absent[200];
	snprintf(absent, sizeof absent, "%s/created", dir);
	CHECK_EQ_INT(symlink(absent, path), 0);
	CHECK_EQ_INT(pidfile_acquire(path, err, sizeof err), -1);
	CHECK_EQ_INT(access(absent, F_OK), -1);
	unlink(path);
	/* a symlink planted at the temporary name is replaced, not written through */
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	CHECK_EQ_INT(symlink(victim, tmp), 0);
	int fd = pidfile_acquire(path, err, sizeof err);
	if (CHECK(fd >= 0)) {
		file_is(path, want);
		struct stat st;
		CHECK_EQ_INT(lstat(path, &st), 0);
		CHECK(S_ISREG(st.st_mode));
		pidfile_release(path, fd);
	}
	file_is(victim, "precious\n");
	CHECK_EQ_INT(access(tmp, F_OK), -1);
	unlink(victim);
}

/* Many hearths started at the same moment with one pid file: exactly one
 * wins, whether the name is new or holds a stale file. The loser's danger:
 * it opened the old file, and locked it after the winner renamed its own
 * over the name and let the old one go; that lock is on a file no longer at
 * the name, and counts for nothing (open_locked looks again). */
#define RACERS 16
#define RACE_ROUNDS 100

static void race_child(const char *path, int go, int res, int hold)
{
	char b, err[300];
	(void)!read(go, &b, 1); /* EOF: everyone starts now */
	int fd = pidfile_acquire(path, err, sizeof err);
	char c = fd >= 0 ? 'Y' : 'N';
	(void)!write(res, &c, 1);
	if (fd >= 0) {
		(void)!read(hold, &b, 1); /* hold the pid file until the parent has looked */
		pidfile_release(path, fd);
	}
	_exit(0);
}

static void test_racing_acquires(void)
{
	char path[200];
	snprintf(path, sizeof path, "%s/race.pid", dir);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		check_context("race round %d (%s)", round, round % 2 ? "stale file" : "no file");
		if (round % 2)
			make_file(path, "999999\n");
		int go[2], res[2], hold[2];
		if (!CHECK(pipe(go) == 0 && pipe(res) == 0 && pipe(hold) == 0))
			return;
		pid_t kids[RACERS];
		for (int i = 0; i < RACERS; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				close(go[1]);
				close(res[0]);
				close(hold[1]);
				race_child(path, go[0], res[1], hold[0]);
			}
		}
		close(go[0]);
		close(res[1]);
		close(hold[0]);
		close(go[1]); /* go */
		int yes = 0, answers = 0;
		char c;
		while (answers < RACERS && read(res[0], &c, 1) == 1) {
			answers++;
			yes += c == 'Y';
		}
		CHECK_EQ_INT(answers, RACERS);
		CHECK_EQ_INT(yes, 1);
		/* the file names the winner, one of the children */
		char err[300];
		pid_t holder = pidfile_running(path, err, sizeof err);
		int known = 0;
		for (int i = 0; i < RACERS; i++)
			known |= kids[i] == holder;
		CHECK(known);
		close(hold[1]); /* the winner lets go */
		close(res[0]);
		for (int i = 0; i < RACERS; i++)
			waitpid(kids[i], NULL, 0);
		CHECK_EQ_INT(access(path, F_OK), -1);
	}
	check_context(NULL);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_acquire_release();
	test_symlinks();
	log_set_level(LOG_WARN); /* fifty "replacing stale pid file" notices */
	test_racing_acquires();
	rmdir(dir);
	return check_done();
}
