/* fault.c: fault injection for integration tests, loaded into hearth with
 * LD_PRELOAD (built as libhearth_fault.so; the tests find it through
 * HEARTH_FAULT_LIB).
 *
 * fork() fails with EAGAIN (what the kernel says when the process or pids
 * limit is reached) while the file named by HEARTH_FAULT_FORK exists, so a
 * test can switch the fault on and off while hearth runs. Without the
 * variable, or while the file is absent, fork() is the C library's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

pid_t fork(void)
{
	static pid_t (*real_fork)(void);
	if (!real_fork) {
		void *sym = dlsym(RTLD_NEXT, "fork");
		if (!sym) {
			errno = ENOSYS;
			return -1;
		}
		memcpy(&real_fork, &sym, sizeof sym);
	}
	const char *flag = getenv("HEARTH_FAULT_FORK");
	if (flag && access(flag, F_OK) == 0) {
		errno = EAGAIN;
		return -1;
	}
	return real_fork();
}
