// SPDX-License-Identifier: MIT
/*
 * The stage: archive sources are streams, read once, but file data is
 * written only after the whole tree is known (later entries may replace
 * earlier ones).  So data waits in one unnamed temporary file, on disk,
 * and memory stays bounded whatever the archive's size.  Files with holes
 * start at a 1 MiB boundary and keep their holes, so that the chunk planner
 * finds them with SEEK_DATA as it does in a source file.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "builder.h"

#define SPARSE_ALIGN (1ull << 20)

static int stage_open(struct eroot_builder *b)
{
	const char *dir = b->stage_dir;
	int fd;

	if (b->stage_fd >= 0)
		return 0;
	if (!dir)
		dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	fd = unnamed_tmpfile(dir);
	if (fd < 0)
		return BFAIL(b, fd, "cannot create a temporary file in %s: %s", dir,
			     strerror(-fd));
	b->stage_fd = fd;
	return 0;
}

int stage_begin(struct eroot_builder *b, struct bnode *n, bool sparse)
{
	int err = stage_open(b);

	if (err)
		return err;
	if (sparse)
		b->stage_len = (b->stage_len + SPARSE_ALIGN - 1) & ~(SPARSE_ALIGN - 1);
	n->staged = true;
	n->src_off = b->stage_len;
	n->size = 0;
	return 0;
}

/* @len bytes of @n's data at file offset @off (offsets only grow). */
int stage_write(struct eroot_builder *b, struct bnode *n, const void *data, size_t len,
		uint64_t off)
{
	const uint8_t *p = data;

	if (off > n->size)
		n->sparse = true;	/* a hole before this data */
	while (len) {
		ssize_t w = pwrite(b->stage_fd, p, len, (off_t)(n->src_off + off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return BFAIL(b, w < 0 ? -errno : -ENOSPC,
				     "writing the temporary copy of archive data: %s",
				     w < 0 ? strerror(errno) : "disk full");
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	if (off > n->size)
		n->size = off;
	return 0;
}

/* The file is @size bytes; a hole at its end must read back as zeros. */
int stage_end(struct eroot_builder *b, struct bnode *n, uint64_t size)
{
	uint64_t end = n->src_off + size;

	n->sparse = n->sparse || n->size < size;
	n->size = size;
	if (end > b->stage_len) {
		struct stat st;

		if (fstat(b->stage_fd, &st) < 0 ||
		    ((uint64_t)st.st_size < end && ftruncate(b->stage_fd, (off_t)end) < 0))
			return BFAIL(b, -errno, "sizing the temporary copy of archive data: %s",
				     strerror(errno));
		b->stage_len = end;
	}
	return 0;
}

void stage_close(struct eroot_builder *b)
{
	if (b->stage_fd >= 0)
		close(b->stage_fd);
	b->stage_fd = -1;
}

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

const char *source_strerror(int err)
{
	return err == -ESTALE ? "changed during the build" : strerror(-err);
}

int source_open(const struct eroot_builder *b, const struct bnode *n, int *fd, uint64_t *base)
{
	struct stat st;

	*base = 0;
	if (n->staged) {
		*fd = b->stage_fd;
		*base = n->src_off;
		return 0;
	}
	if (n->is_packed) {
		*fd = b->packed_fd;
		return 0;
	}
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

void source_close(const struct eroot_builder *b, int fd)
{
	if (fd >= 0 && fd != b->stage_fd && fd != b->packed_fd)
		close(fd);
}
