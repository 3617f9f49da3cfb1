// SPDX-License-Identifier: MIT
/* Opening an image: find, check and decode the superblock. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

/* Incompat bits that only concern compressed inodes: such images open, and
 * the layouts the reader lacks report -EOPNOTSUPP per inode.  0x8 also
 * means a device table, which extra_devices reveals (device.c). */
#define COMPRESSION_ONLY_INCOMPAT \
	(EROFS_FEATURE_INCOMPAT_ZERO_PADDING | EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER | \
	 EROFS_FEATURE_INCOMPAT_DEVICE_TABLE | \
	 EROFS_FEATURE_INCOMPAT_ZTAILPACKING | EROFS_FEATURE_INCOMPAT_FRAGMENTS)
#define KNOWN_INCOMPAT (EROOT_READER_INCOMPAT | COMPRESSION_ONLY_INCOMPAT | \
			EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES | \
			EROFS_FEATURE_INCOMPAT_48BIT | EROFS_FEATURE_INCOMPAT_METABOX)

static int check_checksum(struct eroot_image *img, const struct erofs_sb *sb)
{
	size_t len = erofs_sb_checksum_len(sb->blkszbits);
	uint8_t *region = malloc(len);
	uint32_t crc;
	int err;

	if (!region)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = img_read(img, EROFS_SUPER_OFFSET, region, len);
	if (!err) {
		crc = erofs_sb_checksum(region, len);
		if (crc != sb->checksum)
			err = CORRUPT(img, "superblock checksum mismatch: stored 0x%08x, computed 0x%08x",
				      sb->checksum, crc);
	}
	free(region);
	return err;
}

/* With 48BIT and a rootnid_8b, the old root nid field holds blocks MSB. */
static bool wide_root(const struct erofs_sb *sb)
{
	return (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_48BIT) && sb->rootnid_8b;
}

static uint64_t sb_blocks(const struct erofs_sb *sb)
{
	return sb->blocks | (wide_root(sb) ? (uint64_t)sb->root_nid << 32 : 0);
}

static uint64_t sb_root_nid(const struct erofs_sb *sb)
{
	return wide_root(sb) ? sb->rootnid_8b : sb->root_nid;
}

static int check_super(struct eroot_image *img, const struct erofs_sb *sb)
{
	uint64_t bytes, blocks = sb_blocks(sb);
	uint32_t unknown;

	if (sb->magic != EROFS_MAGIC)
		return CORRUPT(img, "not an EROFS image (bad magic 0x%08x)", sb->magic);
	/* The reader is not bound by the page size: accept up to 64 KiB. */
	if (sb->blkszbits < EROFS_MIN_BLKSZBITS || sb->blkszbits > 16)
		return CORRUPT(img, "bad block size 2^%u", sb->blkszbits);
	unknown = sb->feature_incompat & ~KNOWN_INCOMPAT;
	if (unknown)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "image uses unsupported features (incompat 0x%x)", unknown);
	if (sb->build_time_nsec >= 1000000000)
		return CORRUPT(img, "bad build time nanoseconds %u", sb->build_time_nsec);
	if (sb->dirblkbits)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "directory block size differs from block size");

	img->blkszbits = sb->blkszbits;
	if (blocks > img->avail >> sb->blkszbits)	/* 48 bits: no shift overflow */
		return CORRUPT(img, "image truncated: %llu blocks expected, %llu bytes present",
			       (unsigned long long)blocks, (unsigned long long)img->avail);
	bytes = blocks << sb->blkszbits;
	if (bytes < EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE +
		    (uint64_t)sb->sb_extslots * EROFS_SB_EXTSLOT_SIZE)
		return CORRUPT(img, "block count %llu too small", (unsigned long long)blocks);
	img->image_bytes = bytes;
	if (sb->meta_blkaddr >= blocks)
		return CORRUPT(img, "metadata start %u beyond %llu blocks",
			       sb->meta_blkaddr, (unsigned long long)blocks);
	img->meta_off = (uint64_t)sb->meta_blkaddr << sb->blkszbits;
	img->xattr_off = (uint64_t)sb->xattr_blkaddr << sb->blkszbits;
	img->max_nid = (bytes - img->meta_off) / EROFS_ISLOT_SIZE - 1;
	if (sb->feature_compat & EROFS_FEATURE_COMPAT_SB_CHKSUM) {
		int err = check_checksum(img, sb);

		if (err)
			return err;
	}
	if (sb->feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS)
		img->packed_nid = sb->packed_nid;
	img->xattr_filter = (sb->feature_compat & EROFS_FEATURE_COMPAT_XATTR_FILTER) &&
			    !sb->xattr_filter_reserved;
	if (nid_in_metabox(sb->packed_nid))
		return CORRUPT(img, "packed inode %llu inside the metabox",
			       (unsigned long long)sb->packed_nid);
	if ((sb->feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS) &&
	    sb->ishare_xattr_prefix_id >= sb->xattr_prefix_count)
		return CORRUPT(img, "inode digest xattr prefix %u beyond %u prefixes",
			       sb->ishare_xattr_prefix_id, sb->xattr_prefix_count);
	return load_compr_cfgs(img, sb);
}

/*
 * With COMPR_CFGS the superblock names the algorithms in use, and a record
 * per algorithm follows it (4-byte aligned: le16 length, then the data).
 */
int load_compr_cfgs(struct eroot_image *img, const struct erofs_sb *sb)
{
	uint64_t off = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE + sb->sb_extslots * 16u;

	if (!(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS)) {
		img->available_algs = 1u << Z_EROFS_COMPRESSION_LZ4;
		return 0;
	}
	img->available_algs = sb->available_compr_algs;
	if (img->available_algs & ~((1u << Z_EROFS_COMPRESSION_MAX) - 1))
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "unknown compression algorithms 0x%x", img->available_algs);
	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++) {
		uint8_t raw[2 + 14] = { 0 };
		uint16_t len;
		int err;

		if (!(img->available_algs & (1u << alg)))
			continue;
		off = (off + 3) & ~3ull;
		err = img_read(img, off, raw, 2);
		if (err)
			return err;
		len = get_le16(raw);
		if (len > 14 || len < 6)
			return CORRUPT(img, "bad compression configuration length %u", len);
		err = img_read(img, off + 2, raw + 2, len);
		if (err)
			return err;
		if (alg == Z_EROFS_COMPRESSION_LZMA) {
			img->cparams.lzma_dict_size = get_le32(raw + 2);
			if (img->cparams.lzma_dict_size > (8u << 20))
				return CORRUPT(img, "LZMA dictionary larger than 8 MiB");
		}
		off += 2 + len;
	}
	return 0;
}

/*
 * METABOX: the inodes whose nid has bit 63 set, with their inline parts
 * (and the shared xattrs with SHARED_EA_IN_METABOX), are in the data of
 * the metabox inode, itself an ordinary (compressed) inode.  img_read
 * shows that data after the image's last byte.
 */
static int load_metabox(struct eroot_image *img, const struct erofs_sb *sb)
{
	struct eroot_inode *mb = &img->metabox;
	int err;

	if (!(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_METABOX))
		return 0;
	if (sb->sb_extslots < 1)
		return CORRUPT(img, "metabox image without a superblock extension");
	if (nid_in_metabox(sb->metabox_nid))
		return CORRUPT(img, "metabox nid %llu inside the metabox",
			       (unsigned long long)sb->metabox_nid);
	err = eroot_iget(img, sb->metabox_nid, mb);
	if (err)
		return err;
	if (!S_ISREG(mb->mode) || mb->size > UINT64_MAX - img->image_bytes)
		return CORRUPT(img, "bad metabox inode %llu", (unsigned long long)sb->metabox_nid);
	img->metabox_nid = sb->metabox_nid;
	img->metabox_base = img->image_bytes;
	img->image_bytes += mb->size;
	if (sb->feature_compat & EROFS_FEATURE_COMPAT_SHARED_EA_IN_METABOX)
		img->xattr_off = img->metabox_base + ((uint64_t)sb->xattr_blkaddr << sb->blkszbits);
	return 0;
}

static void fill_info(struct eroot_image *img, const struct erofs_sb *sb)
{
	struct eroot_super_info *info = &img->info;

	info->block_size = 1u << sb->blkszbits;
	info->blocks = sb_blocks(sb);
	info->root_nid = sb_root_nid(sb);
	info->inodes = sb->inos;
	/* old images: the build time is the epoch; 48-bit ones add seconds */
	img->epoch = (int64_t)sb->build_time;
	info->build_time = (int64_t)(sb->build_time + sb->mkfs_time);
	info->build_time_nsec = sb->build_time_nsec;
	info->meta_blkaddr = sb->meta_blkaddr;
	info->xattr_blkaddr = sb->xattr_blkaddr;
	info->feature_compat = sb->feature_compat;
	info->feature_incompat = sb->feature_incompat;
	memcpy(info->uuid, sb->uuid, 16);
	memcpy(info->volume_name, sb->volume_name, 16);
	info->volume_name[16] = '\0';
	info->checksum = sb->checksum;
	info->packed_nid = sb->feature_incompat & EROFS_FEATURE_INCOMPAT_FRAGMENTS ?
			   sb->packed_nid : 0;
	/* legacy images name no algorithms; compressed inodes there are LZ4 */
	info->compr_algs = sb->feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS ?
			   img->available_algs : 0;
}

static int open_common(struct eroot_image *img)
{
	uint8_t raw[EROFS_SUPER_SIZE];
	struct eroot_inode root;
	struct erofs_sb sb;
	int err;

	img->image_bytes = img->avail;	/* until the superblock says more */
	if (img->avail < EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE)
		return CORRUPT(img, "too small for an EROFS image (%llu bytes)",
			       (unsigned long long)img->avail);
	err = img_read(img, EROFS_SUPER_OFFSET, raw, sizeof(raw));
	if (err)
		return err;
	erofs_sb_decode(raw, &sb);
	if (sb.sb_extslots >= 1) {
		uint8_t ext[EROFS_SB_EXTSLOT_SIZE];

		err = img_read(img, EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE, ext, sizeof(ext));
		if (err)
			return err;
		erofs_sb_decode_ext1(ext, &sb);
	}
	err = check_super(img, &sb);
	if (err)
		return err;
	fill_info(img, &sb);
	err = load_devices(img, &sb);
	if (err)
		return err;
	err = load_metabox(img, &sb);
	if (err)
		return err;
	err = eroot_iget(img, img->info.root_nid, &root);
	if (err)
		return err;
	if (!S_ISDIR(root.mode))
		return CORRUPT(img, "root inode %llu is not a directory",
			       (unsigned long long)img->info.root_nid);
	return load_xattr_prefixes(img, &sb);
}

static struct eroot_image *image_alloc(void)
{
	struct eroot_image *img = calloc(1, sizeof(*img));

	if (img)
		img->fd = -1;
	return img;
}

int eroot_image_open_fd(int fd, uint64_t offset, struct eroot_image **out)
{
	struct eroot_image *img = image_alloc();
	uint64_t size;
	int err;

	*out = img;
	if (!img)
		return -ENOMEM;
	img->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (img->fd < 0)
		return eroot_fail(&img->err, -errno, "%s", strerror(errno));
	err = backing_size(img->fd, &size);
	if (err)
		return eroot_fail(&img->err, err, "cannot size the image: %s",
				  err == -EINVAL ? "not a file or block device" : strerror(-err));
	if (offset > size)
		return CORRUPT(img, "offset %llu beyond the end (%llu bytes)",
			       (unsigned long long)offset, (unsigned long long)size);
	img->base = offset;
	img->avail = size - offset;
	return open_common(img);
}

int eroot_image_open_path(const char *path, uint64_t offset,
			  struct eroot_image **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = -errno;
		*out = image_alloc();
		if (*out)
			eroot_fail(&(*out)->err, err, "%s", strerror(-err));
		return err;
	}
	err = eroot_image_open_fd(fd, offset, out);
	close(fd);
	return err;
}

int eroot_image_open_mem(const void *buf, size_t len, uint64_t offset,
			 struct eroot_image **out)
{
	struct eroot_image *img = image_alloc();

	*out = img;
	if (!img)
		return -ENOMEM;
	if (offset > len)
		return CORRUPT(img, "offset %llu beyond the buffer (%zu bytes)",
			       (unsigned long long)offset, len);
	img->mem = buf;
	img->base = offset;
	img->avail = len - offset;
	return open_common(img);
}

void eroot_image_close(struct eroot_image *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	for (size_t i = 0; i < sizeof(img->zs) / sizeof(img->zs[0]); i++)
		zstate_release(&img->zs[i]);
	free(img->xprefixes);
	free(img->fp_name);
	release_devices(img);
	free(img);
}

const char *eroot_image_errmsg(const struct eroot_image *img)
{
	return img ? img->err.text : "out of memory";
}

const struct eroot_super_info *eroot_image_super(const struct eroot_image *img)
{
	return &img->info;
}
