// SPDX-License-Identifier: MIT
/*
 * Field-by-field codecs for the EROFS on-disk structures.  Offsets are the
 * kernel's (fs/erofs/erofs_fs.h); see format.h for the constants.
 */
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "ondisk.h"

void erofs_sb_encode(const struct erofs_sb *sb, uint8_t out[EROFS_SUPER_SIZE])
{
	memset(out, 0, EROFS_SUPER_SIZE);
	put_le32(out + 0, sb->magic);
	put_le32(out + 4, sb->checksum);
	put_le32(out + 8, sb->feature_compat);
	out[12] = sb->blkszbits;
	out[13] = sb->sb_extslots;
	put_le16(out + 14, sb->root_nid);
	put_le64(out + 16, sb->inos);
	put_le64(out + 24, sb->build_time);
	put_le32(out + 32, sb->build_time_nsec);
	put_le32(out + 36, sb->blocks);
	put_le32(out + 40, sb->meta_blkaddr);
	put_le32(out + 44, sb->xattr_blkaddr);
	memcpy(out + 48, sb->uuid, 16);
	memcpy(out + 64, sb->volume_name, 16);
	put_le32(out + 80, sb->feature_incompat);
	put_le16(out + 84, sb->available_compr_algs);
	put_le16(out + 86, sb->extra_devices);
	put_le16(out + 88, sb->devt_slotoff);
	out[90] = sb->dirblkbits;
	out[91] = sb->xattr_prefix_count;
	put_le32(out + 92, sb->xattr_prefix_start);
	put_le64(out + 96, sb->packed_nid);
	out[104] = sb->xattr_filter_reserved;
	out[105] = sb->ishare_xattr_prefix_id;
	put_le32(out + 108, sb->mkfs_time);
	put_le64(out + 112, sb->rootnid_8b);
}

void erofs_sb_decode(const uint8_t in[EROFS_SUPER_SIZE], struct erofs_sb *sb)
{
	sb->magic = get_le32(in + 0);
	sb->checksum = get_le32(in + 4);
	sb->feature_compat = get_le32(in + 8);
	sb->blkszbits = in[12];
	sb->sb_extslots = in[13];
	sb->root_nid = get_le16(in + 14);
	sb->inos = get_le64(in + 16);
	sb->build_time = get_le64(in + 24);
	sb->build_time_nsec = get_le32(in + 32);
	sb->blocks = get_le32(in + 36);
	sb->meta_blkaddr = get_le32(in + 40);
	sb->xattr_blkaddr = get_le32(in + 44);
	memcpy(sb->uuid, in + 48, 16);
	memcpy(sb->volume_name, in + 64, 16);
	sb->feature_incompat = get_le32(in + 80);
	sb->available_compr_algs = get_le16(in + 84);
	sb->extra_devices = get_le16(in + 86);
	sb->devt_slotoff = get_le16(in + 88);
	sb->dirblkbits = in[90];
	sb->xattr_prefix_count = in[91];
	sb->xattr_prefix_start = get_le32(in + 92);
	sb->packed_nid = get_le64(in + 96);
	sb->xattr_filter_reserved = in[104];
	sb->ishare_xattr_prefix_id = in[105];
	sb->mkfs_time = get_le32(in + 108);
	sb->rootnid_8b = get_le64(in + 112);
	sb->metabox_nid = 0;
}

void erofs_sb_decode_ext1(const uint8_t in[EROFS_SB_EXTSLOT_SIZE], struct erofs_sb *sb)
{
	sb->metabox_nid = get_le64(in + 0);
}

size_t erofs_dinode_encode(const struct erofs_dinode *di, uint8_t *out)
{
	uint16_t format = (uint16_t)((di->extended ? 1 : 0) |
				     di->datalayout << EROFS_I_DATALAYOUT_BIT);

	if (!di->extended) {
		memset(out, 0, EROFS_INODE_COMPACT_SIZE);
		put_le16(out + 0, format);
		put_le16(out + 2, di->xattr_icount);
		put_le16(out + 4, di->mode);
		put_le16(out + 6, (uint16_t)di->nlink);
		put_le32(out + 8, (uint32_t)di->size);
		/* 12: i_mtime delta on new kernels; 0 means build_time everywhere */
		put_le32(out + 16, di->i_u);
		put_le32(out + 20, di->ino);
		put_le16(out + 24, (uint16_t)di->uid);
		put_le16(out + 26, (uint16_t)di->gid);
		return EROFS_INODE_COMPACT_SIZE;
	}
	memset(out, 0, EROFS_INODE_EXTENDED_SIZE);
	put_le16(out + 0, format);
	put_le16(out + 2, di->xattr_icount);
	put_le16(out + 4, di->mode);
	put_le64(out + 8, di->size);
	put_le32(out + 16, di->i_u);
	put_le32(out + 20, di->ino);
	put_le32(out + 24, di->uid);
	put_le32(out + 28, di->gid);
	put_le64(out + 32, di->mtime);
	put_le32(out + 40, di->mtime_nsec);
	put_le32(out + 44, di->nlink);
	return EROFS_INODE_EXTENDED_SIZE;
}

size_t erofs_dinode_decode(const uint8_t *in, size_t avail,
			   struct erofs_dinode *di)
{
	uint16_t format;

	if (avail < EROFS_INODE_COMPACT_SIZE)
		return 0;
	format = get_le16(in);
	if (format & ~EROFS_I_ALL_BITS)
		return 0;
	memset(di, 0, sizeof(*di));
	di->format = format;
	di->nb = get_le16(in + 6);
	di->extended = format & 1;
	di->datalayout = (format >> EROFS_I_DATALAYOUT_BIT) & EROFS_I_DATALAYOUT_MASK;
	di->xattr_icount = get_le16(in + 2);
	di->mode = get_le16(in + 4);
	di->i_u = get_le32(in + 16);
	di->ino = get_le32(in + 20);
	if (!di->extended) {
		di->nlink = get_le16(in + 6);
		di->size = get_le32(in + 8);
		di->compact_mtime = get_le32(in + 12);
		di->uid = get_le16(in + 24);
		di->gid = get_le16(in + 26);
		return EROFS_INODE_COMPACT_SIZE;
	}
	if (avail < EROFS_INODE_EXTENDED_SIZE)
		return 0;
	di->size = get_le64(in + 8);
	di->uid = get_le32(in + 24);
	di->gid = get_le32(in + 28);
	di->mtime = get_le64(in + 32);
	di->mtime_nsec = get_le32(in + 40);
	di->nlink = get_le32(in + 44);
	return EROFS_INODE_EXTENDED_SIZE;
}

void erofs_dirent_encode(const struct erofs_dirent_disk *de, uint8_t out[EROFS_DIRENT_SIZE])
{
	put_le64(out, de->nid);
	put_le16(out + 8, de->nameoff);
	out[10] = de->file_type;
	out[11] = 0;
}

void erofs_dirent_decode(const uint8_t in[EROFS_DIRENT_SIZE], struct erofs_dirent_disk *de)
{
	de->nid = get_le64(in);
	de->nameoff = get_le16(in + 8);
	de->file_type = in[10];
}

void erofs_xattr_entry_encode(const struct erofs_xattr_entry_disk *e, uint8_t out[EROFS_XATTR_ENTRY_SIZE])
{
	out[0] = e->name_len;
	out[1] = e->name_index;
	put_le16(out + 2, e->value_size);
}

void erofs_xattr_entry_decode(const uint8_t in[EROFS_XATTR_ENTRY_SIZE], struct erofs_xattr_entry_disk *e)
{
	e->name_len = in[0];
	e->name_index = in[1];
	e->value_size = get_le16(in + 2);
}

uint32_t erofs_encode_dev(uint32_t major, uint32_t minor)
{
	return (minor & 0xff) | (major & 0xfff) << 8 | (minor & ~0xffu) << 12;
}

void erofs_decode_dev(uint32_t rdev, uint32_t *major, uint32_t *minor)
{
	*major = (rdev & 0xfff00) >> 8;
	*minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
}

struct erofs_compact_layout erofs_compact_layout(uint64_t ebase, uint64_t nidx,
						 bool twobyte)
{
	struct erofs_compact_layout g = { 0 };

	g.initial4 = (32 - ebase % 32) / 4 % 8;
	if (g.initial4 >= nidx) {
		g.initial4 = nidx;
		return g;
	}
	if (twobyte)
		g.twobyte = (nidx - g.initial4) / 16 * 16;
	g.rest4 = nidx - g.initial4 - g.twobyte;
	return g;
}

uint64_t erofs_compact_size(const struct erofs_compact_layout *g)
{
	/* 4-byte slots come in packs of two */
	return ((g->initial4 + 1) & ~1ull) * 4 + g->twobyte * 2 + ((g->rest4 + 1) & ~1ull) * 4;
}

uint8_t erofs_ftype_from_mode(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:	return EROFS_FT_REG_FILE;
	case S_IFDIR:	return EROFS_FT_DIR;
	case S_IFCHR:	return EROFS_FT_CHRDEV;
	case S_IFBLK:	return EROFS_FT_BLKDEV;
	case S_IFIFO:	return EROFS_FT_FIFO;
	case S_IFSOCK:	return EROFS_FT_SOCK;
	case S_IFLNK:	return EROFS_FT_SYMLINK;
	default:	return EROFS_FT_UNKNOWN;
	}
}

unsigned int erofs_ftype_to_dt(uint8_t ftype)
{
	static const unsigned char dt[EROFS_FT_MAX] = {
		[EROFS_FT_UNKNOWN] = DT_UNKNOWN, [EROFS_FT_REG_FILE] = DT_REG,
		[EROFS_FT_DIR] = DT_DIR, [EROFS_FT_CHRDEV] = DT_CHR,
		[EROFS_FT_BLKDEV] = DT_BLK, [EROFS_FT_FIFO] = DT_FIFO,
		[EROFS_FT_SOCK] = DT_SOCK, [EROFS_FT_SYMLINK] = DT_LNK,
	};

	return ftype < EROFS_FT_MAX ? dt[ftype] : DT_UNKNOWN;
}

static const char *const xattr_prefixes[EROFS_XATTR_INDEX_MAX] = {
	[EROFS_XATTR_INDEX_USER] = "user.",
	[EROFS_XATTR_INDEX_POSIX_ACL_ACCESS] = "system.posix_acl_access",
	[EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT] = "system.posix_acl_default",
	[EROFS_XATTR_INDEX_TRUSTED] = "trusted.",
	[EROFS_XATTR_INDEX_LUSTRE] = "lustre.",
	[EROFS_XATTR_INDEX_SECURITY] = "security.",
};

const char *erofs_xattr_prefix(unsigned int index)
{
	return index < EROFS_XATTR_INDEX_MAX ? xattr_prefixes[index] : NULL;
}

unsigned int erofs_xattr_split(const char *name, const char **suffix)
{
	for (unsigned int i = 1; i < EROFS_XATTR_INDEX_MAX; i++) {
		const char *p = xattr_prefixes[i];
		size_t n = strlen(p);
		bool acl = i == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
			   i == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT;

		if (i == EROFS_XATTR_INDEX_LUSTRE)
			continue;	/* the kernel never lists these */
		if (acl ? strcmp(name, p) == 0 : strncmp(name, p, n) == 0) {
			*suffix = name + n;
			return i;
		}
	}
	*suffix = name;
	return EROFS_XATTR_INDEX_NONE;
}
