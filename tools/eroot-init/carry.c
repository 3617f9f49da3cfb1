// SPDX-License-Identifier: MIT
/*
 * Bootloaders append cpio archives to the initrd (systemd-stub: credentials
 * and system extensions; microcode kept with --keep-early).  The kernel
 * unpacks them into rootfs beside the loader, so the loader carries all it
 * did not bring itself into the new root, where the original init looks,
 * and removes it from rootfs, as unpacking into the root would have.
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

static void carry_entry(const struct config *c, int from, int to, const char *name);

static void carry_dir(const struct config *c, int from, int to)
{
	DIR *d = fdopendir(from);
	struct dirent *de;

	if (!d)
		fail(c, "carrying appended files", "%m");
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			carry_entry(c, dirfd(d), to, de->d_name);
	closedir(d);
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

static void carry_entry(const struct config *c, int from, int to, const char *name)
{
	struct timespec times[2];
	struct stat st;
	char target[4096];
	ssize_t n;

	if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fail(c, "carrying appended files", "%s: %m", name);
	if (S_ISDIR(st.st_mode)) {
		int sub, dsub;

		if (mkdirat(to, name, 0700) < 0 && errno != EEXIST)
			fail(c, "carrying appended files", "%s: %m", name);
		sub = openat(from, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		dsub = openat(to, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0 || dsub < 0)
			fail(c, "carrying appended files", "%s: %m", name);
		carry_dir(c, sub, dsub);
		close(dsub);
	} else {
		unlinkat(to, name, 0);	/* the appended file wins */
		if (S_ISREG(st.st_mode)) {
			copy_data(c, from, to, name, &st);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlinkat(from, name, target, sizeof(target) - 1);
			if (n < 0)
				fail(c, "carrying appended files", "%s: %m", name);
			target[n] = '\0';
			if (symlinkat(target, to, name) < 0)
				fail(c, "carrying appended files", "%s: %m", name);
		} else if (mknodat(to, name, st.st_mode, st.st_rdev) < 0) {
			fail(c, "carrying appended files", "%s: %m", name);
		}
	}
	fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
	if (!S_ISLNK(st.st_mode))
		fchmodat(to, name, st.st_mode & 07777, 0);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	utimensat(to, name, times, AT_SYMLINK_NOFOLLOW);
	unlinkat(from, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
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

void carry_rootfs(const struct config *c, const char *newroot)
{
	int from = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int to = open(newroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = from >= 0 ? fdopendir(from) : NULL;
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
		if (!skip) {
			note(c, "carrying /%s", de->d_name);
			carry_entry(c, dirfd(d), to, de->d_name);
			carried++;
		}
	}
	closedir(d);
	close(to);
	if (carried)
		note(c, "carried %d appended entries into the new root", carried);
}
