/* beneath.h: opening a path strictly beneath a directory.
 *
 * The kernel does it: openat2() with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
 * (| RESOLVE_NO_SYMLINKS unless symlinks are followed) refuses any escape,
 * through "..", absolute paths or symlinks. Where openat2 is missing (kernels
 * before 5.6, valgrind), the path is walked one component at a time with
 * O_NOFOLLOW: safe because the paths given here are normalized (no "." or
 * ".." segments), and it never follows a symlink at all then, whatever
 * follow says — the conservative answer.
 */
#ifndef HEARTH_HTTP_BENEATH_H
#define HEARTH_HTTP_BENEATH_H

/* Open rel (relative, normalized; "." for the directory itself) beneath
 * dirfd with open flags (O_RDONLY or O_PATH; O_CLOEXEC is added). Returns the
 * fd or -1 with errno (ELOOP for a refused symlink, EXDEV for an escape). */
int open_beneath(int dirfd, const char *rel, int flags, int follow);
/* The fallback alone (for tests). */
int open_beneath_walk(int dirfd, const char *rel, int flags);

#endif
