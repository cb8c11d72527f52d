/* privs.h: who the workers run as.
 *
 * Started as root, hearth binds its listeners as root and then its workers
 * give up root for good: setgroups, setgid, setuid, in that order, each
 * checked, then verified (getting root back must fail). Without --user, a
 * root-started hearth runs its workers as "nobody"; "--user root" is the
 * explicit way to keep root.
 */
#ifndef HEARTH_PROC_PRIVS_H
#define HEARTH_PROC_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

struct identity {
	int change; /* 0: stay as we are */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Work out the workers' identity from "USER[:GROUP]" (NULL: default). */
int privs_resolve(const char *spec, struct identity *id, char *err, size_t errlen);
/* Become id for good. 0, or -1 with err. */
int privs_drop(const struct identity *id, char *err, size_t errlen);

#endif
