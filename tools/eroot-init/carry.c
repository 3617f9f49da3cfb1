// SPDX-License-Identifier: MIT
/*
 * Bootloaders append cpio archives to the initrd (systemd-stub: credentials
 * and system extensions; microcode kept with --keep-early).  The kernel
 * unpacks them into rootfs beside the loader, so the loader carries all it
 * did not bring itself into the new root, where the original init looks,
 * and removes it from rootfs, as unpacking into the root would have.
 *
 * An appended archive is not covered by eroot.digest=, so by default
 * (eroot.carry=add) it may add files but not replace an entry the verified
 * images have: such an entry is left out, with a line naming it.
 * Directories merge.  eroot.carry=replace lets the appended entry win (as
 * unpacking over a cpio would); eroot.carry=none carries nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"

/* The loader's own entries, and mount points it made. */
static const char *const own[] = { "init", "eroot", "dev", "proc", "sys" };

/* Lines about refused entries before one that counts the rest. */
#define REFUSED_SHOWN 8

struct carry {
	const struct config *c;
	char path[4096];		/* of the entry, for messages */
	int refused;
};

static void carry_entry(struct carry *k, int from, int to, const char *name);

static void carry_dir(struct carry *k, int from, int to)
{
	DIR *d = fdopendir(from);
	struct dirent *de;

	if (!d)
		fail(k->c, "carrying appended files", "%m");
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			carry_entry(k, dirfd(d), to, de->d_name);
	closedir(d);
}

/* An entry not carried leaves rootfs all the same. */
static void remove_entry(const struct config *c, int at, const char *name)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (!unlinkat(at, name, 0) || errno == ENOENT)
		return;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		fail(c, "removing appended files", "%s: %m", name);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			remove_entry(c, dirfd(d), de->d_name);
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) < 0)
		fail(c, "removing appended files", "%s: %m", name);
}

/* eroot.carry=add: the image has an entry at @name that @st would
 * replace (anything but a directory over a directory)? */
static bool refuse(struct carry *k, int to, const char *name, const struct stat *st)
{
	struct stat have;

	if (k->c->carry != CARRY_ADD || fstatat(to, name, &have, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (S_ISDIR(have.st_mode) && S_ISDIR(st->st_mode)))
		return false;
	if (++k->refused <= REFUSED_SHOWN)
		printf("eroot: not carrying %s: the image has it (eroot.carry=replace carries "
		       "it)\n", k->path);
	return true;
}

static void copy_data(const struct config *c, int from, int to, const char *name,
		      const struct stat *st)
{
	int in = openat(from, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int out = openat(to, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	off_t off = 0;

	if (in < 0 || out < 0)
		fail(c, "carrying appended files", "%s: %m", name);
	while (off < st->st_size)
		if (sendfile(out, in, &off, (size_t)(st->st_size - off)) <= 0)
			fail(c, "carrying appended files", "%s: %m", name);
	close(in);
	close(out);
}

static void carry_entry(struct carry *k, int from, int to, const char *name)
{
	const struct config *c = k->c;
	size_t plen = strlen(k->path);
	struct timespec times[2];
	struct stat st;
	char target[4096];
	bool merged = false;
	ssize_t n;

	snprintf(k->path + plen, sizeof(k->path) - plen, "/%s", name);
	if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fail(c, "carrying appended files", "%s: %m", k->path);
	if (refuse(k, to, name, &st)) {
		remove_entry(c, from, name);
		k->path[plen] = '\0';
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		int sub, dsub;

		if (mkdirat(to, name, 0700) < 0) {
			if (errno != EEXIST)
				fail(c, "carrying appended files", "%s: %m", k->path);
			/* under add the image's directory keeps its owner and mode */
			merged = c->carry != CARRY_REPLACE;
		}
		/* replace follows a link of the image, as unpacking a cpio
		 * over it would; add has refused it */
		sub = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dsub = openat(to, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0 || dsub < 0)
			fail(c, "carrying appended files", "%s: %m", k->path);
		carry_dir(k, sub, dsub);
		close(dsub);
	} else {
		unlinkat(to, name, 0);	/* the appended file wins */
		if (S_ISREG(st.st_mode)) {
			copy_data(c, from, to, name, &st);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlinkat(from, name, target, sizeof(target) - 1);
			if (n < 0)
				fail(c, "carrying appended files", "%s: %m", k->path);
			target[n] = '\0';
			if (symlinkat(target, to, name) < 0)
				fail(c, "carrying appended files", "%s: %m", k->path);
		} else if (mknodat(to, name, st.st_mode, st.st_rdev) < 0) {
			fail(c, "carrying appended files", "%s: %m", k->path);
		}
	}
	if (!merged) {
		fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
		if (!S_ISLNK(st.st_mode))
			fchmodat(to, name, st.st_mode & 07777, 0);
		times[0] = st.st_atim;
		times[1] = st.st_mtim;
		utimensat(to, name, times, AT_SYMLINK_NOFOLLOW);
	}
	unlinkat(from, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
	k->path[plen] = '\0';
}

static bool empty_dir(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n <= 2;
}

void carry_rootfs(const struct config *c, const char *rootfs, const char *newroot)
{
	int from = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int to = open(newroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = from >= 0 ? fdopendir(from) : NULL;
	struct carry k = { .c = c };
	struct dirent *de;
	int carried = 0;

	if (!d || to < 0)
		fail(c, "carrying appended files", "%m");
	while ((de = readdir(d))) {
		bool skip = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");

		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]) && !skip; i++)
			skip = !strcmp(de->d_name, own[i]);
		/* the kernel makes an empty /root of its own */
		skip = skip || (!strcmp(de->d_name, "root") && empty_dir(dirfd(d), "root"));
		if (skip)
			continue;
		if (c->carry == CARRY_NONE) {
			note(c, "not carrying /%s (eroot.carry=none)", de->d_name);
			remove_entry(c, dirfd(d), de->d_name);
			continue;
		}
		note(c, "carrying /%s", de->d_name);
		carry_entry(&k, dirfd(d), to, de->d_name);
		carried++;
	}
	closedir(d);
	close(to);
	if (k.refused > REFUSED_SHOWN)
		printf("eroot: not carrying %d more entries the image has (eroot.carry=replace "
		       "carries them)\n", k.refused - REFUSED_SHOWN);
	fflush(stdout);
	if (carried)
		note(c, "carried %d appended entries into the new root", carried);
}
