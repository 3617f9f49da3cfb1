// SPDX-License-Identifier: MIT
/*
 * Fragments (-E fragments, -E all-fragments): the tails of compressed files,
 * or whole files, are gathered into one special "packed" inode, which is
 * then compressed like any file, so small pieces share pclusters instead of
 * each taking a block.  A file points at its piece by offset (the map
 * header's h_fragmentoff, or a whole 63-bit offset for all-fragments).
 * The packed data waits in a temporary file until every file is written.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/plan/plan.h"
#include "builder/place/place.h"
#include "builder/write/write.h"
/*
 * The packed data can be as large as the tree (all-fragments), so it waits
 * next to @image, not in /tmp, which may be memory; in an unnamed file, so
 * that nothing is left behind whatever ends the build.
 */
int packed_open(struct eroot_builder *b, const char *image)
{
	char *dir;
	int fd;

	if (!uses_fragments(b) || !b->nprofiles)
		return 0;
	dir = image_dir(image);
	if (!dir)
		return BFAIL(b, -ENOMEM, "out of memory");
	fd = unnamed_tmpfile(dir);
	if (fd < 0)
		fd = BFAIL(b, fd, "cannot create the fragment file in %s: %s", dir,
			   strerror(-fd));
	free(dir);
	b->packed_fd = fd;
	return fd < 0 ? fd : 0;
}

/* Append @len bytes: the fragment of @n starts where they land. */
int packed_append(struct eroot_builder *b, struct bnode *n, const void *data, size_t len)
{
	if (pwrite(b->packed_fd, data, len, (off_t)b->packed_len) != (ssize_t)len)
		return BFAIL(b, -errno, "writing the fragment file: %s", strerror(errno));
	n->frag_off = b->packed_len;
	n->has_fragment = true;
	b->packed_len += len;
	return 0;
}

/* -E all-fragments: the whole file goes to the packed inode. */
int copy_to_packed(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	uint64_t start = b->packed_len;
	int err = 0;

	for (uint64_t off = 0; off < n->size && !err; ) {
		size_t len = n->size - off < (1u << 20) ? (size_t)(n->size - off) : 1u << 20;

		err = read_source(c, off, c->buf, len);
		if (!err)
			err = pwrite(b->packed_fd, c->buf, len, (off_t)(b->packed_len + off)) ==
			      (ssize_t)len ? 0 : BFAIL(b, -errno, "writing the fragment file: %s",
						       strerror(errno));
		if (!err)
			dedupe_update(c, c->buf, len);
		off += len;
		progress(c, len);
	}
	n->frag_off = start;
	n->has_fragment = true;
	b->packed_len += n->size;
	b->compressed_any = true;
	b->profiles_used |= 1u << n->zprofile;
	b->algs_used |= (uint16_t)(1u << profile_of(b, n)->codec->alg);
	return err;
}

/*
 * Once every file is written: the packed inode, an unnamed regular file,
 * joins the list to be compressed and placed like the others.
 */
int packed_add_inode(struct eroot_builder *b)
{
	struct bnode *p;

	if (!b->packed_len)
		return 0;
	/* fragments given back (dedupe, flat fallback) may lie past the end */
	if (ftruncate(b->packed_fd, (off_t)b->packed_len) < 0)
		return BFAIL(b, -errno, "the fragment file: %s", strerror(errno));
	p = tree_new_node(b);
	if (!p)
		return BFAIL(b, -ENOMEM, "out of memory");
	p->mode = S_IFREG | 0600;
	p->nlink = 1;
	p->mtime = b->build_time;
	p->mtime_nsec = b->build_time_nsec;
	p->size = b->packed_len;
	p->ino = (uint32_t)b->nnodes;
	p->is_packed = true;
	p->src_path = strdup("(packed inode)");
	if (!p->src_path)
		return BFAIL(b, -ENOMEM, "out of memory");
	p->extended = p->size > 0xffffffffull;
	p->datalayout = zindex_compact(b) ? EROFS_INODE_COMPRESSED_COMPACT :
					    EROFS_INODE_COMPRESSED_FULL;
	b->packed = p;
	return 0;
}

void packed_close(struct eroot_builder *b)
{
	if (b->packed_fd >= 0)
		close(b->packed_fd);
	b->packed_fd = -1;
}
