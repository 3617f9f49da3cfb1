// SPDX-License-Identifier: MIT
/* The builder's public entry points: options, handle, and the build itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder.h"

void eroot_build_options_init(struct eroot_build_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->block_size = 4096;
	opts->fixed_time = -1;
	opts->clamp_time = -1;
	opts->force_uid = -1;
	opts->force_gid = -1;
	opts->shared_xattr_min = 2;
}

static bool copy_string(const char *from, char **to)
{
	*to = from ? strdup(from) : NULL;
	return !from || *to;
}

struct eroot_builder *eroot_builder_new(const struct eroot_build_options *opts)
{
	struct eroot_builder *b = calloc(1, sizeof(*b));
	bool ok;

	if (!b)
		return NULL;
	b->opts = *opts;
	b->stage_fd = -1;
	b->spill_fd = -1;
	b->packed_fd = -1;
	b->src_root_fd = -1;
	if (!b->opts.block_size)
		b->opts.block_size = 4096;
	if (opts->uuid) {
		memcpy(b->uuid, opts->uuid, 16);
		b->have_uuid = true;
	}
	b->opts.uuid = NULL;
	/* the compressor is parsed by builder_check_options() */
	ok = copy_string(opts->label, &b->label) &&
	     copy_string(opts->compressor, &b->compressor) &&
	     copy_string(opts->compress_hints, &b->hints_path) &&
	     copy_string(opts->stage_dir, &b->stage_dir);
	b->opts.label = b->label;
	b->opts.compressor = NULL;
	b->opts.compress_hints = b->hints_path;
	b->opts.stage_dir = b->stage_dir;
	if (!ok) {
		eroot_builder_free(b);
		return NULL;
	}
	return b;
}

void eroot_builder_free(struct eroot_builder *b)
{
	if (!b)
		return;
	tree_free(b);
	xattrs_free(b);
	exclude_free(b);
	zconfig_free(b);
	free(b->label);
	free(b->compressor);
	free(b->hints_path);
	free(b->stage_dir);
	stage_close(b);
	pathtree_free(b);
	if (b->spill_fd >= 0)
		close(b->spill_fd);
	if (b->src_root_fd >= 0)
		close(b->src_root_fd);
	free(b);
}

const char *eroot_builder_errmsg(const struct eroot_builder *b)
{
	return b ? b->err.text : "out of memory";
}

int builder_check_options(struct eroot_builder *b)
{
	unsigned int bs = b->opts.block_size, bits = 0;

	if (b->blkszbits)
		return 0;	/* checked already */
	while ((1u << bits) < bs)
		bits++;
	if ((1u << bits) != bs || bits < EROFS_MIN_BLKSZBITS || bits > 16)
		return BFAIL(b, -EINVAL, "block size %u: must be a power of two from 512 to 4096", bs);
	if (bits > EROFS_MAX_BLKSZBITS)
		return BFAIL(b, -EINVAL,
			     "block size %u: a kernel with 4 KiB pages cannot mount it (512 to 4096 allowed)",
			     bs);
	if (b->label && strlen(b->label) > 16)
		return BFAIL(b, -EINVAL, "volume label longer than 16 bytes");
	b->blkszbits = bits;
	int err = zconfig_init(b);

	if (err)
		b->blkszbits = 0;	/* not checked after all */
	return err;
}

/*
 * The superblock goes in last: its checksum covers the rest of its block,
 * which holds inodes and maybe inline file data written before it.
 */
static int write_super(struct eroot_builder *b, int fd)
{
	size_t len = erofs_sb_checksum_len(b->blkszbits);
	uint8_t *region = malloc(len > 256 ? len : 256);
	size_t cfgs;
	struct erofs_sb sb = {
		.magic = EROFS_MAGIC,
		.feature_compat = EROFS_FEATURE_COMPAT_SB_CHKSUM,
		.blkszbits = (uint8_t)b->blkszbits,
		.root_nid = (uint16_t)b->root->nid,
		.inos = b->nnodes,
		.build_time = (uint64_t)b->build_time,
		.build_time_nsec = b->build_time_nsec,
		.blocks = (uint32_t)b->total_blocks,
		.meta_blkaddr = b->meta_blkaddr,
		.xattr_blkaddr = b->xattr_blkaddr,
		.feature_incompat = b->uses_chunks ? EROFS_FEATURE_INCOMPAT_CHUNKED_FILE : 0,
	};
	ssize_t got;

	if (b->compressed_any) {
		sb.feature_incompat |= EROFS_FEATURE_INCOMPAT_ZERO_PADDING |
				       EROFS_FEATURE_INCOMPAT_COMPR_CFGS;
		sb.available_compr_algs = b->algs_used;
	}
	if (b->ztail_any)
		sb.feature_incompat |= EROFS_FEATURE_INCOMPAT_ZTAILPACKING;
	if (b->packed) {
		sb.feature_incompat |= EROFS_FEATURE_INCOMPAT_FRAGMENTS;
		sb.packed_nid = b->packed->nid;
		sb.inos--;	/* it is no file of the tree */
	}
	int err;

	if (!region)
		return BFAIL(b, -ENOMEM, "out of memory");
	memcpy(sb.uuid, b->uuid, 16);
	if (b->label)
		memcpy(sb.volume_name, b->label, strlen(b->label));
	erofs_sb_encode(&sb, region);
	cfgs = compr_cfgs_encode(b, region + EROFS_SUPER_SIZE);
	err = pwrite_all(b, fd, region, EROFS_SUPER_SIZE + cfgs, EROFS_SUPER_OFFSET);
	if (!err) {
		got = pread(fd, region, len, EROFS_SUPER_OFFSET);
		if (got != (ssize_t)len)
			err = BFAIL(b, -EIO, "reading back the superblock block: %s",
				    got < 0 ? strerror(errno) : "short read");
	}
	if (!err) {
		put_le32(region + 4, erofs_sb_checksum(region, len));
		err = pwrite_all(b, fd, region + 4, 4, EROFS_SUPER_OFFSET + 4);
	}
	free(region);
	return err;
}

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
