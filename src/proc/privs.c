/* privs.c: see privs.h. */
#include "proc/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int lookup_group(const char *name, gid_t *gid)
{
	struct group *gr = getgrnam(name);
	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	char *end;
	unsigned long v = strtoul(name, &end, 10);
	if (*name && !*end) {
		*gid = (gid_t)v;
		return 0;
	}
	return -1;
}

int privs_resolve(const char *spec, struct identity *id, char *err, size_t errlen)
{
	memset(id, 0, sizeof *id);
	char user[64], group[64] = "";
	const char *colon = spec ? strchr(spec, ':') : NULL;
	if (!spec) {
		if (geteuid() != 0)
			return 0; /* not root: nothing to drop */
		spec = "nobody";
	}
	size_t ul = colon ? (size_t)(colon - spec) : strlen(spec);
	if (ul == 0 || ul >= sizeof user || (colon && strlen(colon + 1) >= sizeof group)) {
		snprintf(err, errlen, "--user: invalid value '%s' (USER[:GROUP])", spec);
		return -1;
	}
	memcpy(user, spec, ul);
	user[ul] = '\0';
	if (colon)
		strcpy(group, colon + 1);
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "--user: no such user '%s'", user);
		return -1;
	}
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	snprintf(id->name, sizeof id->name, "%s", user);
	if (group[0] && lookup_group(group, &id->gid) < 0) {
		snprintf(err, errlen, "--user: no such group '%s'", group);
		return -1;
	}
	if (geteuid() != 0) {
		if (id->uid != geteuid() || (group[0] && id->gid != getegid())) {
			snprintf(err, errlen, "--user: switching to '%s' needs root", spec);
			return -1;
		}
		return 0;
	}
	id->change = id->uid != 0 || id->gid != 0;
	return 0;
}

int privs_drop(const struct identity *id, char *err, size_t errlen)
{
	if (!id->change)
		return 0;
	if (setgroups(1, &id->gid) < 0) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setgid(id->gid) < 0) {
		snprintf(err, errlen, "setgid(%u): %s", (unsigned)id->gid, strerror(errno));
		return -1;
	}
	if (setuid(id->uid) < 0) {
		snprintf(err, errlen, "setuid(%u): %s", (unsigned)id->uid, strerror(errno));
		return -1;
	}
	/* verify: the ids took, and root cannot be had back */
	if (getuid() != id->uid || geteuid() != id->uid || getgid() != id->gid || getegid() != id->gid ||
	    (id->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))) {
		snprintf(err, errlen, "privileges were not dropped as asked");
		return -1;
	}
	return 0;
}
