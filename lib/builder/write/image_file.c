// SPDX-License-Identifier: MIT
/*
 * The output file: built as an unnamed file (O_TMPFILE) in the target's
 * directory and linked into place only once complete and synced, so an
 * interrupted build (Ctrl-C, SIGTERM, a crash) leaves nothing behind.
 * Filesystems without O_TMPFILE get a named temporary file instead, whose
 * name stays readable in b->tmp_path for a signal handler to remove it
 * (eroot_builder_temp_path()).  The builder's other temporary files are
 * unnamed too (unnamed_tmpfile()).
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/write/write.h"

int image_file_create(struct eroot_builder *b, const char *path, int *fd)
{
	size_t len = strlen(path);
	char *dir = image_dir(path), tmp[sizeof(b->tmp_path)];
	struct stat st;

	b->tmp_path[0] = '\0';
	/* the link or rename would replace whatever is there: only ever a file */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		free(dir);
		return BFAIL(b, -EEXIST, "%s: exists and is not a regular file", path);
	}
	if (!dir)
		return BFAIL(b, -ENOMEM, "out of memory");
	*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	free(dir);
	if (*fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return BFAIL(b, -errno, "%s: cannot create: %s", path, strerror(errno));
	/* no O_TMPFILE on this filesystem: a named temporary file */
	if (len + 8 > sizeof(tmp))
		return BFAIL(b, -ENAMETOOLONG, "%s: path too long", path);
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", 8);
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0)
		return BFAIL(b, -errno, "%s: cannot create: %s", path, strerror(errno));
	/* a signal handler may read it at any time: the first byte, which
	 * makes the name non-empty, goes last */
	memcpy(b->tmp_path + 1, tmp + 1, len + 7);
	atomic_signal_fence(memory_order_seq_cst);
	b->tmp_path[0] = tmp[0];
	return 0;
}

const char *eroot_builder_temp_path(const struct eroot_builder *b)
{
	return b->tmp_path;
}

/* The umask without changing it (umask() itself would race other threads). */
static mode_t current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned int mask = 022;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &mask) == 1)
			break;
	if (f)
		fclose(f);
	return (mode_t)mask;
}

/* Give the unnamed file @fd the name @path, which must not exist. */
static int link_unnamed(int fd, const char *path)
{
	char proc[32];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	/* no /proc: AT_EMPTY_PATH, which needs CAP_DAC_READ_SEARCH */
	return linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0 ? 0 : -errno;
}

/*
 * No call links a file over an existing name: link under a fresh
 * temporary name, then rename over the target.  Only a signal in between
 * these two calls could leave the temporary name behind.
 */
static int link_over(struct eroot_builder *b, int fd, const char *path)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	int err = -EEXIST;

	if (!tmp)
		return BFAIL(b, -ENOMEM, "out of memory");
	for (unsigned int i = 0; err == -EEXIST && i < 1000; i++) {
		snprintf(tmp, len, "%s.%ld-%u", path, (long)getpid(), i);
		err = link_unnamed(fd, tmp);
	}
	if (!err && rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
	}
	free(tmp);
	return err ? BFAIL(b, err, "%s: cannot put the image in place: %s", path,
			   strerror(-err)) : 0;
}

int image_file_commit(struct eroot_builder *b, int fd, const char *path)
{
	mode_t mask = current_umask();
	int err;

	/* made 0600; give it the usual mode for a new file */
	if (fchmod(fd, 0644 & ~mask) < 0 || fsync(fd) < 0)
		return BFAIL(b, -errno, "%s: %s", path, strerror(errno));
	if (b->tmp_path[0]) {
		if (rename(b->tmp_path, path) < 0)
			return BFAIL(b, -errno, "%s: cannot rename into place: %s", path,
				     strerror(errno));
		b->tmp_path[0] = '\0';
		return 0;
	}
	err = link_unnamed(fd, path);
	if (err == -EEXIST)
		return link_over(b, fd, path);
	return err ? BFAIL(b, err, "%s: cannot put the image in place: %s", path,
			   strerror(-err)) : 0;
}

void image_file_abort(struct eroot_builder *b, int fd)
{
	if (fd >= 0)
		close(fd);
	if (b->tmp_path[0])
		unlink(b->tmp_path);
	b->tmp_path[0] = '\0';
}
