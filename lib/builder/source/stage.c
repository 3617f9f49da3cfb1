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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/files.h"

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

/* Each read gets its own descriptor, a duplicate of the stage's, which the
 * caller closes as it closes any source's. */
int stage_open_data(const struct eroot_builder *b, const struct bnode *n, int *fd,
		    uint64_t *base)
{
	*fd = fcntl(b->stage_fd, F_DUPFD_CLOEXEC, 0);
	*base = n->src_off;
	return *fd < 0 ? -errno : 0;
}

void stage_close(struct eroot_builder *b)
{
	if (b->stage_fd >= 0)
		close(b->stage_fd);
	b->stage_fd = -1;
}
