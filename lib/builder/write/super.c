// SPDX-License-Identifier: MIT
/* The superblock and the compression configurations that follow it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/plan/plan.h"
#include "builder/write/write.h"

/*
 * --fingerprint: the long xattr prefix table right after the compression
 * configurations, in the raw image (COMPAT_PLAIN_XATTR_PFX), its one entry
 * the one ishare_xattr_prefix_id names.  Returns the bytes it takes.
 */
static size_t prefix_table(const struct eroot_builder *b, struct erofs_sb *sb,
			   uint8_t *region, size_t used)
{
	size_t at = erofs_xattr_align((uint32_t)used);

	if (!fingerprint_table_size(b))
		return 0;
	sb->feature_compat |= EROFS_FEATURE_COMPAT_ISHARE_XATTRS |
			      EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX;
	sb->feature_incompat |= EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
	sb->xattr_prefix_count = 1;
	sb->xattr_prefix_start = (uint32_t)((EROFS_SUPER_OFFSET + at) / 4);
	sb->ishare_xattr_prefix_id = 0;	/* an index, without the 0x80 bit */
	memset(region + used, 0, at - used);
	fingerprint_table_encode(b, region + at);
	return at - used + fingerprint_table_size(b);
}

/*
 * The superblock goes in last: its checksum covers the rest of its block,
 * which holds inodes and maybe inline file data written before it.
 */
int write_super(struct eroot_builder *b, int fd)
{
	size_t len = erofs_sb_checksum_len(b->blkszbits);
	/* the superblock, configurations and prefix table, or its block */
	uint8_t *region = malloc(len > 1024 ? len : 1024);
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
	cfgs = compr_cfgs_encode(b, region + EROFS_SUPER_SIZE);
	cfgs += prefix_table(b, &sb, region, EROFS_SUPER_SIZE + cfgs);
	erofs_sb_encode(&sb, region);
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
