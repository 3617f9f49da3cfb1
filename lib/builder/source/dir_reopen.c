// SPDX-License-Identifier: MIT
/*
 * A directory source's file data, read when the image is written: the file
 * is opened again by its path, so the path is trusted no further than the
 * scan: beneath the source's root, through no symlink, and it must still
 * be the file the scan saw (device, inode, size, mtime).
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/source/source.h"

/*
 * @rel beneath @root, through no symlink at all: the scan walked real
 * directories, so a symlink on the way now means the tree changed.  Never
 * blocks on a FIFO or takes a terminal that was swapped in.
 */
static int open_beneath(int root, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)	/* before Linux 5.6: the identity check alone */
		fd = openat(root, rel, (int)how.flags);
	return fd < 0 ? -errno : fd;
}

static bool same_file(const struct bnode *n, const struct stat *st)
{
	return S_ISREG(st->st_mode) && (uint64_t)st->st_dev == n->src_dev &&
	       (uint64_t)st->st_ino == n->src_ino && (uint64_t)st->st_size == n->size &&
	       st->st_mtim.tv_sec == n->src_mtime.tv_sec &&
	       st->st_mtim.tv_nsec == n->src_mtime.tv_nsec;
}

int dir_open_data(const struct eroot_builder *b, const struct bnode *n, int *fd,
		  uint64_t *base)
{
	struct stat st;

	*base = 0;
	*fd = open_beneath(b->src_root_fd, n->src_path + b->root_prefix_len);
	if (*fd == -ELOOP || *fd == -EXDEV || *fd == -ENOENT || *fd == -ENOTDIR)
		*fd = -ESTALE;		/* renamed, removed or replaced */
	if (*fd < 0)
		return *fd;
	if (fstat(*fd, &st) < 0 || !same_file(n, &st)) {
		close(*fd);
		*fd = -1;
		return -ESTALE;
	}
	return 0;
}
