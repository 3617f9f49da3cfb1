// SPDX-License-Identifier: MIT
/* The superblock and what follows it: compression configurations, the
 * device table, the long xattr prefix table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/plan/plan.h"
#include "builder/write/write.h"

/*
 * --fingerprint: the long xattr prefix table in the raw image
 * (COMPAT_PLAIN_XATTR_PFX) after the compression configurations and the
 * device table (eroot merge), all of them in the space first_data_block()
 * keeps; its one entry is the one ishare_xattr_prefix_id names.
 */
static int write_prefix_table(struct eroot_builder *b, int fd, struct erofs_sb *sb,
			      size_t cfgs)
{
	uint64_t at = b->ndevices ? devices_table_end(b) :
				    EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE + cfgs;
	uint8_t entry[2 + 1 + EROFS_NAME_LEN + 3];

	if (!fingerprint_table_size(b))
		return 0;
	at = erofs_xattr_align((uint32_t)at);
	sb->feature_compat |= EROFS_FEATURE_COMPAT_ISHARE_XATTRS |
			      EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX;
	sb->feature_incompat |= EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES;
	sb->xattr_prefix_count = 1;
	sb->xattr_prefix_start = (uint32_t)(at / 4);
	sb->ishare_xattr_prefix_id = 0;	/* an index, without the 0x80 bit */
	fingerprint_table_encode(b, entry);
	return pwrite_all(b, fd, entry, fingerprint_table_size(b), at);
}

/*
 * The superblock goes in last: its checksum covers the rest of its block,
 * which holds inodes and maybe inline file data written before it.
 */
int write_super(struct eroot_builder *b, int fd)
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

	if (b->compressed_any || b->ref_algs) {
		sb.feature_incompat |= EROFS_FEATURE_INCOMPAT_ZERO_PADDING |
				       EROFS_FEATURE_INCOMPAT_COMPR_CFGS;
		sb.available_compr_algs = b->algs_used | b->ref_algs;
	}
	if (b->ndevices) {
		sb.feature_incompat |= EROFS_FEATURE_INCOMPAT_DEVICE_TABLE;
		sb.extra_devices = b->ndevices;
		sb.devt_slotoff = (uint16_t)(devices_table_off() / 128);
	}
	if (b->ztail_any || b->ref_ztail)
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
	err = write_prefix_table(b, fd, &sb, cfgs);
	erofs_sb_encode(&sb, region);
	if (!err)
		err = pwrite_all(b, fd, region, EROFS_SUPER_SIZE + cfgs, EROFS_SUPER_OFFSET);
	if (!err && b->ndevices) {
		uint64_t tlen = devices_table_end(b) - devices_table_off();
		uint8_t *table = malloc(tlen);

		if (!table)
			err = BFAIL(b, -ENOMEM, "out of memory");
		if (table)
			devices_encode(b, table);
		if (table)
			err = pwrite_all(b, fd, table, tlen, devices_table_off());
		free(table);
	}
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
