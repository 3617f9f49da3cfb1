// SPDX-License-Identifier: MIT
/* Reading one inode: decode, then check every field against the image. */
#include <string.h>

#include "reader.h"

static bool mode_is_known(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	}
	return false;
}

/* A compact non-directory with NLINK_1 has one link and no nlink field. */
static bool nlink_1(const struct erofs_dinode *di)
{
	return !di->extended && !S_ISDIR(di->mode) && (di->format >> EROFS_I_NLINK_1_BIT & 1);
}

/*
 * The 16 bits at offset 6 (i_nb) hold the link count of a compact inode,
 * unless NLINK_1 frees them: then, as always in extended inodes, they are
 * bits 32..47 of the block address or block count.
 */
static uint16_t addr_hi(const struct erofs_dinode *di)
{
	return di->extended || nlink_1(di) ? di->nb : 0;
}

/* Does i_u (with i_nb) give a block address or count? */
static bool has_blocks(const struct erofs_dinode *di)
{
	return (S_ISREG(di->mode) || S_ISDIR(di->mode) || S_ISLNK(di->mode)) &&
	       di->datalayout != EROFS_INODE_CHUNK_BASED;
}

static void fill_inode(struct eroot_image *img, uint64_t nid,
		       const struct erofs_dinode *di, size_t disk_size,
		       struct eroot_inode *ino)
{
	memset(ino, 0, sizeof(*ino));
	ino->nid = nid;
	ino->mode = di->mode;
	ino->uid = di->uid;
	ino->gid = di->gid;
	ino->nlink = nlink_1(di) ? 1 : di->nlink;
	ino->size = di->size;
	ino->ino = di->ino;
	ino->extended = di->extended;
	ino->datalayout = di->datalayout;
	ino->xattr_icount = di->xattr_icount;
	ino->isize = (uint32_t)disk_size + erofs_xattr_ibody_size(di->xattr_icount);
	if (di->extended) {
		ino->mtime = (int64_t)di->mtime;
		ino->mtime_nsec = di->mtime_nsec;
	} else {
		/* seconds after the superblock's epoch (0 in old images: the
		 * build time); unsigned, so that it wraps as the kernel does */
		ino->mtime = (int64_t)((uint64_t)img->epoch + di->compact_mtime);
		ino->mtime_nsec = img->info.build_time_nsec;
	}
	if (S_ISCHR(di->mode) || S_ISBLK(di->mode))
		erofs_decode_dev(di->i_u, &ino->rdev_major, &ino->rdev_minor);
	else if (di->datalayout == EROFS_INODE_CHUNK_BASED)
		ino->chunk_format = (uint16_t)di->i_u;
	else if (di->datalayout == EROFS_INODE_COMPRESSED_FULL ||
		 di->datalayout == EROFS_INODE_COMPRESSED_COMPACT)
		ino->compressed_blocks = di->i_u;
	else
		ino->raw_blkaddr = di->i_u;
}

int eroot_iget(struct eroot_image *img, uint64_t nid, struct eroot_inode *ino)
{
	uint8_t raw[EROFS_INODE_EXTENDED_SIZE];
	struct erofs_dinode di;
	uint64_t off, end, room;
	size_t got, disk_size;
	int err;

	if (!nid_in_range(img, nid))
		return CORRUPT(img, "nid %llu out of range", (unsigned long long)nid);
	off = inode_off(img, nid);
	/* an inode and its inline parts lie in the image or in the metabox */
	end = nid_in_metabox(nid) || !img->metabox_base ? img->image_bytes : img->metabox_base;
	room = end - off;
	got = room < sizeof(raw) ? (size_t)room : sizeof(raw);
	err = img_read(img, off, raw, got);
	if (err)
		return err;
	/* unknown format bits and data layouts are the kernel's EOPNOTSUPP:
	 * a newer format, not necessarily damage */
	if (got >= 2 && (get_le16(raw) & ~EROFS_I_ALL_BITS))
		return eroot_fail(&img->err, -EOPNOTSUPP, "nid %llu: unknown inode format bits 0x%04x",
				  (unsigned long long)nid, get_le16(raw));
	disk_size = erofs_dinode_decode(raw, got, &di);
	if (!disk_size)
		return CORRUPT(img, "nid %llu: bad inode format 0x%04x",
			       (unsigned long long)nid, get_le16(raw));
	if (di.datalayout > EROFS_INODE_CHUNK_BASED)
		return eroot_fail(&img->err, -EOPNOTSUPP, "nid %llu: unknown data layout %u",
				  (unsigned long long)nid, di.datalayout);
	if (!mode_is_known(di.mode))
		return CORRUPT(img, "nid %llu: bad file type in mode 0%o",
			       (unsigned long long)nid, di.mode);
	if (di.mtime_nsec >= 1000000000)
		return CORRUPT(img, "nid %llu: bad mtime nanoseconds %u",
			       (unsigned long long)nid, di.mtime_nsec);
	fill_inode(img, nid, &di, disk_size, ino);
	/* 2^48 - 1 is the 48-bit null address (no blocks), which the low
	 * bits alone say as well */
	if (addr_hi(&di) && has_blocks(&di) &&
	    !(di.i_u == EROFS_NULL_ADDR && addr_hi(&di) == 0xFFFF)) {
		uint64_t wide = di.i_u | (uint64_t)addr_hi(&di) << 32;

		if (wide >= img->info.blocks)
			return CORRUPT(img, "nid %llu: block address or count %llu beyond %llu blocks",
				       (unsigned long long)nid, (unsigned long long)wide,
				       (unsigned long long)img->info.blocks);
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: block addresses past 2^32 (48-bit layout) are not supported",
				  (unsigned long long)nid);
	}
	if (ino->isize > room)
		return CORRUPT(img, "nid %llu: inode and xattrs run past the image end",
			       (unsigned long long)nid);
	if (S_ISREG(ino->mode) || S_ISDIR(ino->mode) || S_ISLNK(ino->mode))
		return validate_data_layout(img, ino);
	if (ino->size)
		return CORRUPT(img, "nid %llu: special file with size %llu",
			       (unsigned long long)nid, (unsigned long long)ino->size);
	return 0;
}

const char *eroot_layout_name(unsigned int datalayout)
{
	static const char *const names[] = {
		[EROFS_INODE_FLAT_PLAIN] = "flat-plain",
		[EROFS_INODE_COMPRESSED_FULL] = "compressed-full",
		[EROFS_INODE_FLAT_INLINE] = "flat-inline",
		[EROFS_INODE_COMPRESSED_COMPACT] = "compressed-compact",
		[EROFS_INODE_CHUNK_BASED] = "chunk-based",
	};

	return datalayout < sizeof(names) / sizeof(names[0]) ? names[datalayout] : "unknown";
}
