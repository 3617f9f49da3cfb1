// SPDX-License-Identifier: MIT
/*
 * The build driver: one source's tree, planned, its data placed, its
 * metadata and superblock written, the image committed under its name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"
#include "builder/place/place.h"
#include "builder/write/write.h"
/* A content-derived UUID (RFC 9562 version 8), so equal input gives
 * equal bytes. */
static void derive_uuid(struct eroot_builder *b, XXH3_state_t *hash)
{
	XXH128_hash_t h = XXH3_128bits_digest(hash);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(b->uuid, c.digest, 16);
	b->uuid[6] = (uint8_t)((b->uuid[6] & 0x0f) | 0x80);
	b->uuid[8] = (uint8_t)((b->uuid[8] & 0x3f) | 0x80);
}

static void count_stats(struct eroot_builder *b)
{
	struct eroot_build_stats *s = &b->stats;

	s->inodes = b->nnodes;
	s->xattrs = b->nxattrs;
	for (size_t i = 0; i < b->nnodes; i++) {
		const struct bnode *n = b->nodes[i];

		if (n->is_packed) {
			s->inodes--;
			continue;
		}
		if (S_ISREG(n->mode)) {
			s->files++;
			if (n->nlink > 1)
				s->hardlinks += n->nlink - 1;
		} else if (S_ISDIR(n->mode)) {
			s->dirs++;
		} else if (S_ISLNK(n->mode)) {
			s->symlinks++;
		} else {
			s->specials++;
		}
	}
	s->image_bytes = b->total_blocks << b->blkszbits;
}

/* Blocks before the data: the superblock and the compression config. */
static uint64_t first_data_block(const struct eroot_builder *b)
{
	/* room for a configuration record per algorithm (16 bytes at most) */
	uint64_t end = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE +
		       (b->nprofiles ? 16 * Z_EROFS_COMPRESSION_MAX : 0);

	return (end + blksz_of(b) - 1) >> b->blkszbits;
}

/*
 * Order of the image: superblock, file data (streamed: compressed or not,
 * its size is known only once written), directory and symlink blocks,
 * metadata, shared xattrs.  Everything is hashed in write order for the
 * content-derived UUID; the superblock goes last.
 */
static int build(struct eroot_builder *b, int fd, const char *path)
{
	XXH3_state_t *hash = XXH3_createState();
	FILE *spill = tmpfile();
	int err;

	if (!hash || !spill) {
		err = BFAIL(b, -ENOMEM, "cannot set up the build: %s", strerror(errno));
		goto out;
	}
	b->spill_fd = dup(fileno(spill));
	XXH3_128bits_reset(hash);
	err = packed_open(b, path);
	if (err)
		goto out;
	b->data_cursor = first_data_block(b);
	err = write_file_data(b, fd, hash);
	if (!err)
		err = layout_metadata(b);
	if (!err)
		err = write_metadata(b, fd, hash);
	if (!err && ftruncate(fd, (off_t)(b->total_blocks << b->blkszbits)) < 0)
		err = BFAIL(b, -errno, "sizing the image: %s", strerror(errno));
	if (!err && !b->have_uuid)
		derive_uuid(b, hash);
	if (!err)
		err = write_super(b, fd);
out:
	packed_close(b);
	if (spill)
		fclose(spill);
	XXH3_freeState(hash);
	return err;
}

int eroot_builder_write(struct eroot_builder *b, const char *path,
			struct eroot_build_stats *stats)
{
	int fd = -1, err;

	if (!b->root)
		return BFAIL(b, -EINVAL, "nothing to build: no source added");
	err = builder_check_options(b);
	if (!err)
		err = pathtree_finish(b);
	if (!err)
		err = layout_prepare(b);
	if (!err)
		err = image_file_create(b, path, &fd);
	if (!err)
		err = build(b, fd, path);
	if (!err)
		err = image_file_commit(b, fd, path);
	if (err) {
		image_file_abort(b, fd);
	} else {
		close(fd);
		count_stats(b);
		if (stats)
			*stats = b->stats;
	}
	return err;
}
