// SPDX-License-Identifier: MIT
/*
 * The output file: built under a temporary name in the target's directory
 * and renamed over the target only once complete and synced.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder.h"

int pwrite_all(struct eroot_builder *b, int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return BFAIL(b, -errno, "writing the image: %s", strerror(errno));
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int image_file_create(struct eroot_builder *b, const char *path, char **tmp_path, int *fd)
{
	size_t len = strlen(path);
	struct stat st;
	char *tmp;

	/* the rename would replace whatever is there: only ever a file */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return BFAIL(b, -EEXIST, "%s: exists and is not a regular file", path);
	tmp = malloc(len + 8);
	if (!tmp)
		return BFAIL(b, -ENOMEM, "out of memory");
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", 8);
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0) {
		int err = BFAIL(b, -errno, "%s: cannot create: %s", path, strerror(errno));
		free(tmp);
		return err;
	}
	*tmp_path = tmp;
	return 0;
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

int image_file_commit(struct eroot_builder *b, int fd, const char *tmp_path, const char *path)
{
	mode_t mask = current_umask();

	/* mkostemp made it 0600; give it the usual mode for a new file */
	if (fchmod(fd, 0644 & ~mask) < 0 || fsync(fd) < 0)
		return BFAIL(b, -errno, "%s: %s", tmp_path, strerror(errno));
	if (rename(tmp_path, path) < 0)
		return BFAIL(b, -errno, "%s: cannot rename into place: %s", path, strerror(errno));
	return 0;
}

void image_file_abort(int fd, const char *tmp_path)
{
	if (fd >= 0)
		close(fd);
	if (tmp_path)
		unlink(tmp_path);
}
