/* SPDX-License-Identifier: MIT */
/*
 * Host-side views of the EROFS on-disk structures and their codecs.
 *
 * Each *_encode() writes exactly the structure's on-disk size into @out;
 * each *_decode() reads exactly that many bytes from @in.  Decoders do no
 * validation beyond what the layout itself implies: the reader checks the
 * decoded values against the image (see reader/).
 */
#ifndef EROOT_ONDISK_H
#define EROOT_ONDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

struct erofs_sb {
	uint32_t magic;
	uint32_t checksum;
	uint32_t feature_compat;
	uint8_t blkszbits;
	uint8_t sb_extslots;
	uint16_t root_nid;		/* 48BIT with rootnid_8b: blocks MSB */
	uint64_t inos;
	uint64_t build_time;		/* the epoch compact inode times add to */
	uint32_t build_time_nsec;	/* the nanoseconds of every compact inode */
	uint32_t blocks;		/* LSB with 48BIT */
	uint32_t meta_blkaddr;
	uint32_t xattr_blkaddr;
	uint8_t uuid[16];
	uint8_t volume_name[16];
	uint32_t feature_incompat;
	uint16_t available_compr_algs;
	uint16_t extra_devices;
	uint16_t devt_slotoff;
	uint8_t dirblkbits;
	uint8_t xattr_prefix_count;
	uint32_t xattr_prefix_start;
	uint64_t packed_nid;
	uint8_t xattr_filter_reserved;	/* not 0: name filters of another kind */
	uint8_t ishare_xattr_prefix_id;	/* ISHARE_XATTRS: the digest's prefix */
	uint32_t mkfs_time;		/* 48BIT: build time, seconds after the epoch */
	uint64_t rootnid_8b;		/* 48BIT: root nid when not 0 */
	uint64_t metabox_nid;		/* METABOX: in extension slot 1 */
};

void erofs_sb_encode(const struct erofs_sb *sb, uint8_t out[EROFS_SUPER_SIZE]);
void erofs_sb_decode(const uint8_t in[EROFS_SUPER_SIZE], struct erofs_sb *sb);
/* The first extension slot, present when sb_extslots >= 1. */
void erofs_sb_decode_ext1(const uint8_t in[EROFS_SB_EXTSLOT_SIZE], struct erofs_sb *sb);

/*
 * The superblock checksum: CRC32C (seed ~0, no final inversion, as the
 * kernel's crc32c()) over the superblock's block from byte 1024 on, with
 * the checksum field taken as zero.  @region is that many bytes starting
 * at EROFS_SUPER_OFFSET; see erofs_sb_checksum_len().
 */
uint32_t erofs_sb_checksum(const uint8_t *region, size_t len);
size_t erofs_sb_checksum_len(unsigned int blkszbits);

/* Both inode forms in one host struct; @extended selects the encoding. */
struct erofs_dinode {
	bool extended;
	uint8_t datalayout;
	uint16_t xattr_icount;
	uint16_t mode;
	uint32_t nlink;
	uint64_t size;
	uint32_t i_u;			/* blkaddr, rdev, or chunk info */
	uint32_t ino;
	uint32_t uid, gid;
	uint64_t mtime;			/* extended only */
	uint32_t mtime_nsec;		/* extended only */
	/* Decoded only (the encoder writes the forms of old kernels): */
	uint16_t format;		/* i_format as stored */
	uint16_t nb;			/* i_nb: nlink, or the block address MSB */
	uint32_t compact_mtime;		/* compact: seconds after the epoch */
};

/* Encodes 32 or 64 bytes; returns the size written. */
size_t erofs_dinode_encode(const struct erofs_dinode *di, uint8_t *out);
/*
 * Decodes from @in, which holds @avail bytes.  Returns the on-disk size
 * (32 or 64), or 0 if @avail is too short or the format has unknown bits.
 */
size_t erofs_dinode_decode(const uint8_t *in, size_t avail,
			   struct erofs_dinode *di);

/* Inline xattr area size for an i_xattr_icount value. */
static inline uint32_t erofs_xattr_ibody_size(uint16_t icount)
{
	return icount ? EROFS_XATTR_IBODY_HEADER_SIZE + 4u * (icount - 1u) : 0;
}

struct erofs_dirent_disk {
	uint64_t nid;
	uint16_t nameoff;
	uint8_t file_type;
};

void erofs_dirent_encode(const struct erofs_dirent_disk *de, uint8_t out[EROFS_DIRENT_SIZE]);
void erofs_dirent_decode(const uint8_t in[EROFS_DIRENT_SIZE], struct erofs_dirent_disk *de);

struct erofs_xattr_entry_disk {
	uint8_t name_len;
	uint8_t name_index;
	uint16_t value_size;
};

void erofs_xattr_entry_encode(const struct erofs_xattr_entry_disk *e, uint8_t out[EROFS_XATTR_ENTRY_SIZE]);
void erofs_xattr_entry_decode(const uint8_t in[EROFS_XATTR_ENTRY_SIZE], struct erofs_xattr_entry_disk *e);

/* The kernel's "new" dev_t encoding: 12-bit major, 20-bit minor. */
uint32_t erofs_encode_dev(uint32_t major, uint32_t minor);
void erofs_decode_dev(uint32_t rdev, uint32_t *major, uint32_t *minor);

/*
 * Compact compression indexes: entries in 4-byte slots until the index
 * area is 32-byte aligned, then 2-byte slots in packs of 16 (4 KiB logical
 * clusters only), then 4-byte slots again.  @ebase is the offset of the
 * first entry (any base that keeps 32-byte alignment, e.g. the image's).
 */
struct erofs_compact_layout {
	uint64_t initial4, twobyte, rest4;	/* entries in each region */
};
struct erofs_compact_layout erofs_compact_layout(uint64_t ebase, uint64_t nidx,
						 bool twobyte);
/* Bytes the compact indexes of @nidx entries take. */
uint64_t erofs_compact_size(const struct erofs_compact_layout *g);

/* Mapping between S_IFMT and directory entry file types. */
uint8_t erofs_ftype_from_mode(uint32_t mode);
unsigned int erofs_ftype_to_dt(uint8_t ftype);

/*
 * xattr names: split "user.foo" into (EROFS_XATTR_INDEX_USER, "foo").
 * Returns the index, or EROFS_XATTR_INDEX_NONE when the namespace cannot
 * be stored.  ACL names map to their own index with an empty suffix.
 */
unsigned int erofs_xattr_split(const char *name, const char **suffix);
/* The prefix for an index ("user.", "system.posix_acl_access"), or NULL. */
const char *erofs_xattr_prefix(unsigned int index);

#endif /* EROOT_ONDISK_H */
