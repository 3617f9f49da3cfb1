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
#include "builder/tree/tree.h"
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
			s->files_referenced += n->ref != NULL;
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

/* Blocks before the data: the superblock, the compression config and the
 * long xattr prefix table (write/super.c). */
static uint64_t first_data_block(const struct eroot_builder *b)
{
	/* room for a configuration record per algorithm (16 bytes at most) */
	uint64_t end = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE +
		       (b->nprofiles || b->ndevices ? 16 * Z_EROFS_COMPRESSION_MAX : 0);

	if (b->ndevices)	/* eroot merge: the device table follows */
		end = devices_table_end(b);
	end += fingerprint_table_size(b);	/* the prefix table after both */

	return (end + blksz_of(b) - 1) >> b->blkszbits;
}

/*
 * A DAX image fills whole 2 MiB subsections of the pmem device that holds
 * it: its last blocks are zeros (the ftruncate() that sizes the file), part
 * of the filesystem, so that the superblock's block count is the file's.
 */
static int pad_for_dax(struct eroot_builder *b)
{
	uint64_t align = EROOT_DAX_ALIGN >> b->blkszbits;

	b->total_blocks = (b->total_blocks + align - 1) / align * align;
	if (b->total_blocks > UINT32_MAX)
		return BFAIL(b, -EFBIG, "image too large: more than 2^32 blocks");
	return 0;
}

/*
 * Order of the image: superblock, file data (each file's form decided from
 * what compressing it gives, then placed), directory and symlink blocks
 * (once the nids are known), metadata, shared xattrs.  The content-derived
 * UUID hashes the data in the order it is produced, then the metadata; that
 * order includes, as the builder has always hashed them, the pclusters of a
 * file then stored flat and the data of a file then found to be a
 * duplicate.  The superblock goes last.
 */
static int build(struct eroot_builder *b, int fd, const char *path)
{
	XXH3_state_t *hash = XXH3_createState();
	struct placer *pl = NULL;
	int err;

	if (!hash) {
		err = BFAIL(b, -ENOMEM, "cannot set up the build: out of memory");
		goto out;
	}
	XXH3_128bits_reset(hash);
	err = placer_new(b, fd, hash, path, first_data_block(b), &pl);
	if (!err)
		err = place_file_data(b, pl);
	if (!err)
		err = layout_metadata(b);
	if (!err)
		err = place_dir_blocks(b, pl);
	if (!err) {
		b->meta_blkaddr = (uint32_t)placer_end(pl);
		err = write_metadata(b, fd, hash);
	}
	if (!err && b->opts.dax)
		err = pad_for_dax(b);
	if (!err && ftruncate(fd, (off_t)(b->total_blocks << b->blkszbits)) < 0)
		err = BFAIL(b, -errno, "sizing the image: %s", strerror(errno));
	if (!err && !b->have_uuid)
		derive_uuid(b, hash);
	if (!err)
		err = write_super(b, fd);
out:
	placer_free(pl);
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
