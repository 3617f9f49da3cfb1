/* SPDX-License-Identifier: MIT */
/*
 * The EROFS on-disk format, as the Linux kernel reads it
 * (fs/erofs/erofs_fs.h, Documentation/filesystems/erofs.rst).
 *
 * Only constants and sizes live here.  The structures are encoded and
 * decoded field by field in ondisk.c, so nothing depends on the host's
 * struct packing or byte order.  All multi-byte values are little-endian.
 */
#ifndef EROOT_FORMAT_H
#define EROOT_FORMAT_H

#include <stdint.h>

#define EROFS_MAGIC			0xE0F5E1E2u
#define EROFS_SUPER_OFFSET		1024	/* room for boot sectors */
#define EROFS_SUPER_SIZE		128
#define EROFS_SB_EXTSLOT_SIZE		16	/* each of sb_extslots after it */
#define EROFS_ISLOT_SIZE		32	/* nid unit: inode slot size */
#define EROFS_INODE_COMPACT_SIZE	32
#define EROFS_INODE_EXTENDED_SIZE	64
#define EROFS_DIRENT_SIZE		12
#define EROFS_XATTR_IBODY_HEADER_SIZE	12
#define EROFS_XATTR_ENTRY_SIZE		4
#define EROFS_NAME_LEN			255
#define EROFS_NULL_ADDR			0xFFFFFFFFu	/* hole in a chunk map */

/* Block sizes the kernel accepts: 512 bytes up to the page size. */
#define EROFS_MIN_BLKSZBITS		9
#define EROFS_MAX_BLKSZBITS		12	/* 4 KiB pages */

/* feature_compat */
#define EROFS_FEATURE_COMPAT_SB_CHKSUM		0x00000001
#define EROFS_FEATURE_COMPAT_MTIME		0x00000002
#define EROFS_FEATURE_COMPAT_XATTR_FILTER	0x00000004
#define EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX	0x00000008
#define EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX	0x00000010	/* prefixes in the raw image */
#define EROFS_FEATURE_COMPAT_ISHARE_XATTRS	0x00000020	/* inode digests as xattrs */

/* feature_incompat */
#define EROFS_FEATURE_INCOMPAT_ZERO_PADDING	0x00000001
#define EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER	0x00000002
#define EROFS_FEATURE_INCOMPAT_CHUNKED_FILE	0x00000004
#define EROFS_FEATURE_INCOMPAT_DEVICE_TABLE	0x00000008
#define EROFS_FEATURE_INCOMPAT_ZTAILPACKING	0x00000010
#define EROFS_FEATURE_INCOMPAT_FRAGMENTS	0x00000020
#define EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES	0x00000040
#define EROFS_FEATURE_INCOMPAT_48BIT		0x00000080
#define EROFS_FEATURE_INCOMPAT_METABOX		0x00000100

#define EROFS_FEATURE_INCOMPAT_COMPR_CFGS	0x00000002	/* same bit as BIG_PCLUSTER */

/* Compressed inodes: the map header's h_advise bits */
#define Z_EROFS_ADVISE_COMPACTED_2B		0x0001
#define Z_EROFS_ADVISE_BIG_PCLUSTER_1		0x0002
#define Z_EROFS_ADVISE_BIG_PCLUSTER_2		0x0004
#define Z_EROFS_ADVISE_INLINE_PCLUSTER		0x0008
#define Z_EROFS_ADVISE_INTERLACED_PCLUSTER	0x0010
#define Z_EROFS_ADVISE_FRAGMENT_PCLUSTER	0x0020
#define Z_EROFS_MAP_HEADER_SIZE			8

/* Logical cluster (index entry) types */
enum {
	Z_EROFS_LCLUSTER_TYPE_PLAIN = 0,
	Z_EROFS_LCLUSTER_TYPE_HEAD1 = 1,
	Z_EROFS_LCLUSTER_TYPE_NONHEAD = 2,
	Z_EROFS_LCLUSTER_TYPE_HEAD2 = 3,
};
#define Z_EROFS_LI_D0_CBLKCNT		(1 << 11)	/* delta[0] holds a block count */
#define Z_EROFS_PCLUSTER_MAX_SIZE	(1024u * 1024u)

/* What this reader understands. */
#define EROOT_READER_INCOMPAT	(EROFS_FEATURE_INCOMPAT_CHUNKED_FILE)

/* i_format: bit 0 inode version, bits 1..3 datalayout, bit 4 by file type */
#define EROFS_I_VERSION_BIT		0
#define EROFS_I_DATALAYOUT_BIT		1
#define EROFS_I_DATALAYOUT_MASK		0x7
#define EROFS_I_NLINK_1_BIT		4	/* compact non-directory: nlink is 1,
						 * i_nb holds the block address MSB */
#define EROFS_I_DOT_OMITTED_BIT		4	/* directory: no "." dirent stored */
#define EROFS_I_ALL_BITS		0x1F	/* any other bit is unknown */

enum erofs_datalayout {
	EROFS_INODE_FLAT_PLAIN = 0,
	EROFS_INODE_COMPRESSED_FULL = 1,
	EROFS_INODE_FLAT_INLINE = 2,
	EROFS_INODE_COMPRESSED_COMPACT = 3,
	EROFS_INODE_CHUNK_BASED = 4,
};

/* Chunk-based inodes: i_u holds { le16 format; le16 reserved; } */
#define EROFS_CHUNK_FORMAT_BLKBITS_MASK	0x001F
#define EROFS_CHUNK_FORMAT_INDEXES	0x0020
#define EROFS_CHUNK_FORMAT_48BIT	0x0040	/* indexes carry 48-bit addresses */
#define EROFS_BLOCK_MAP_ENTRY_SIZE	4
#define EROFS_CHUNK_INDEX_SIZE		8

/* Directory entry file types (the kernel's FT_* values). */
enum erofs_file_type {
	EROFS_FT_UNKNOWN = 0,
	EROFS_FT_REG_FILE = 1,
	EROFS_FT_DIR = 2,
	EROFS_FT_CHRDEV = 3,
	EROFS_FT_BLKDEV = 4,
	EROFS_FT_FIFO = 5,
	EROFS_FT_SOCK = 6,
	EROFS_FT_SYMLINK = 7,
	EROFS_FT_MAX
};

/* xattr name indexes: the short prefixes stored as one byte. */
enum erofs_xattr_index {
	EROFS_XATTR_INDEX_NONE = 0,
	EROFS_XATTR_INDEX_USER = 1,
	EROFS_XATTR_INDEX_POSIX_ACL_ACCESS = 2,
	EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT = 3,
	EROFS_XATTR_INDEX_TRUSTED = 4,
	EROFS_XATTR_INDEX_LUSTRE = 5,
	EROFS_XATTR_INDEX_SECURITY = 6,
	EROFS_XATTR_INDEX_MAX
};
#define EROFS_XATTR_LONG_PREFIX		0x80	/* low 7 bits: prefix table index */
#define EROFS_XATTR_LONG_PREFIX_MASK	0x7f
/* h_name_filter: bit xxh32(name after the short prefix, seed + index) % 32
 * set means "no such name here" (COMPAT_XATTR_FILTER) */
#define EROFS_XATTR_FILTER_BITS		32
#define EROFS_XATTR_FILTER_SEED		0x25BBE08Fu
#define EROFS_XATTR_VALUE_MAX		65535	/* e_value_size is le16 */

static inline uint32_t erofs_xattr_align(uint32_t size)
{
	return (size + 3) & ~3u;
}

/* Metabox images: a nid with this bit lives in the metabox inode's data. */
#define EROFS_DIRENT_NID_METABOX_BIT	63

/* Byte offset of the inode slot @nid. */
static inline uint64_t erofs_nid_offset(uint32_t meta_blkaddr,
					unsigned int blkszbits, uint64_t nid)
{
	return ((uint64_t)meta_blkaddr << blkszbits) + nid * EROFS_ISLOT_SIZE;
}

#endif /* EROOT_FORMAT_H */
