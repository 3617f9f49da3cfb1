/* SPDX-License-Identifier: MIT */
/* Internal state of an open image, shared by the reader's files. */
#ifndef EROOT_READER_H
#define EROOT_READER_H

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "eroot/eroot.h"
#include "errmsg.h"
#include "ondisk.h"
#include "compress/codec.h"
#include "zcache.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

/*
 * Compressed inodes (zmap.c maps, zdata.c reads).  Everything here has a
 * fixed size or a bound that no image can raise: see eroot.h.
 */
enum zext_kind {
	ZEXT_HOLE,			/* unmapped: zeros */
	ZEXT_PLAIN,			/* stored as is */
	ZEXT_COMPRESSED,
	ZEXT_FRAGMENT,			/* in the packed inode, at @pa there */
};

/* One extent, as the kernel's z_erofs_map_blocks_iter() gives it. */
struct zext {
	uint64_t la, llen;		/* logical start and length */
	uint64_t pa;			/* image byte offset of the pcluster */
	uint32_t plen;			/* pcluster bytes */
	uint8_t kind;			/* enum zext_kind */
	uint8_t alg;			/* ZEXT_COMPRESSED: Z_EROFS_COMPRESSION_* */
	bool partial;			/* decodes to more than @llen: a prefix is ours */
	bool interlaced;		/* ZEXT_PLAIN: rotated by la's block offset */
	bool meta;			/* inline tail: @pa is a metadata offset */
};

/* What the map header says about one inode, read once per inode. */
struct zinode {
	uint64_t nid;
	bool valid;
	bool compact;			/* 2B/4B packs, else 8-byte entries */
	bool extents;			/* -E48bit extent records */
	bool whole_fragment;		/* all of it in the packed inode */
	uint8_t lclusterbits;
	uint8_t recsz;			/* extent record bytes: 4, 8, 16, 32 */
	uint8_t algs[2];		/* HEAD1, HEAD2 */
	uint16_t advise;
	uint16_t idata_size;		/* inline tail pcluster bytes */
	uint64_t size;
	uint64_t ebase;			/* first index entry or extent record */
	uint64_t nblocks, nlc;		/* i_size in blocks, in lclusters */
	uint64_t nrec;			/* extent records (16/32-byte form) */
	uint64_t idata_off;
	uint64_t fragment_off;
	uint64_t tail_headlcn;		/* the lcluster of the last extent's head */
	uint64_t cur_lcn, cur_pa;	/* 4-byte records: where the last walk ended */
	uint64_t win_off;		/* index bytes last read, at @win_off */
	uint32_t win_len;
	uint8_t win[512];
};

/* Per-image state of the compressed read path: [0] files, [1] packed inode. */
struct zstate {
	struct zinode zi;
	struct zext ext;		/* the last extent mapped */
	bool ext_valid;
	struct zcache cache;		/* extents decompressed: the last one, the
					 * packed inode's last ZCACHE_SLOTS */
	uint8_t *in;			/* one pcluster, at most 1 MiB */
	size_t in_cap;
	unsigned long decodes;		/* pclusters decompressed (for tests) */
};

/* A long xattr name prefix: a short prefix's index and what follows it. */
struct xattr_long_prefix {
	uint8_t base_index;		/* EROFS_XATTR_INDEX_* */
	uint8_t infix_len;
	char infix[EROFS_NAME_LEN];
};

/* One slot of the device table (device.c). */
struct reader_device {
	unsigned int id;		/* 1..count */
	int fd;				/* -1: not attached */
	uint64_t blocks, uniaddr;
	uint8_t tag[64];
};

struct eroot_image {
	struct eroot_errmsg err;
	/* backing store: a descriptor or a memory buffer */
	int fd;
	const uint8_t *mem;
	uint64_t base;			/* image start within the backing store */
	uint64_t avail;			/* bytes present from @base on */
	/* decoded superblock */
	struct eroot_super_info info;
	unsigned int blkszbits;
	uint64_t image_bytes;		/* blocks << blkszbits, <= avail; with a
					 * metabox, its data follows (img_read) */
	uint64_t meta_off;		/* byte offset of nid 0 */
	uint64_t xattr_off;		/* byte offset of shared xattr id 0 */
	uint64_t max_nid;		/* nids above this lie past the end */
	int64_t epoch;			/* compact inode mtimes count from here */
	/* METABOX: inodes whose nid has bit 63 live in this inode's data */
	uint64_t metabox_nid;
	struct eroot_inode metabox;
	uint64_t metabox_base;		/* where img_read shows its data; 0: none */
	bool metabox_busy;		/* reading it: it may not read itself */
	bool xattr_filter;		/* inodes' name filters are to be obeyed */
	/* the superblock's prefix table: at most 255 entries of 257 bytes */
	struct xattr_long_prefix *xprefixes;
	unsigned int nxprefixes;
	char *fp_name;			/* ISHARE_XATTRS: the fingerprint's full name */

	/* compression */
	uint16_t available_algs;	/* bitmap of Z_EROFS_COMPRESSION_* */
	struct codec_params cparams;
	uint64_t packed_nid;		/* fragments' packed inode, 0 if none */
	/* compressed reads: [0] for files, [1] for the packed inode */
	struct zstate zs[3];		/* [2]: the metabox inode */

	/* extra devices: at most 65535 slots, each inside the image */
	struct reader_device *devs;
	unsigned int ndevs;
	uint16_t devid_mask;		/* chunk device ids are masked by this */
	struct reader_device **unified;	/* slots with a unified range, by uniaddr */
	unsigned int nunified;
};

#define CORRUPT(img, ...) eroot_fail(&(img)->err, -EUCLEAN, __VA_ARGS__)

/*
 * Read @len bytes at image offset @off; -EUCLEAN past the image end.  In a
 * metabox image, offsets from metabox_base on read the metabox inode's
 * data, so that inline metadata is found the same way wherever it lives.
 */
int img_read(struct eroot_image *img, uint64_t off, void *buf, size_t len);

/* Size of the backing store behind @fd (regular file or block device). */
int backing_size(int fd, uint64_t *size);

static inline bool nid_in_metabox(uint64_t nid)
{
	return nid >> EROFS_DIRENT_NID_METABOX_BIT;
}

/* Does inode slot @nid lie inside the metadata area or the metabox? */
static inline bool nid_in_range(const struct eroot_image *img, uint64_t nid)
{
	if (!nid_in_metabox(nid))
		return nid <= img->max_nid;
	nid &= ~(1ull << EROFS_DIRENT_NID_METABOX_BIT);
	return img->metabox_base && nid < img->metabox.size / EROFS_ISLOT_SIZE;
}

/* img_read offset of inode slot @nid (in range). */
static inline uint64_t inode_off(const struct eroot_image *img, uint64_t nid)
{
	if (nid_in_metabox(nid))
		return img->metabox_base +
		       (nid & ~(1ull << EROFS_DIRENT_NID_METABOX_BIT)) * EROFS_ISLOT_SIZE;
	return erofs_nid_offset(img->info.meta_blkaddr, img->blkszbits, nid);
}

/* img_read offset of the first byte of inline data (just after xattrs). */
static inline uint64_t inode_inline_off(const struct eroot_image *img,
					const struct eroot_inode *ino)
{
	return inode_off(img, ino->nid) + ino->isize;
}

/*
 * Map logical offset @pos of @ino to a data address.  On success *@dev is
 * the device (DEV_META for inline data, read with img_read), *@phys the
 * byte offset there (or UINT64_MAX for a hole) and *@len the bytes
 * contiguous from there, never 0 and never past the end of file; the
 * range is checked to lie on its device.
 */
int map_data(struct eroot_image *img, const struct eroot_inode *ino,
	     uint64_t pos, unsigned int *dev, uint64_t *phys, uint64_t *len);

/* Where inline data sits: in the inode's metadata block, not a device. */
#define DEV_META UINT32_MAX

/* The device table at open, and its release (device.c). */
int load_devices(struct eroot_image *img, const struct erofs_sb *sb);
void release_devices(struct eroot_image *img);
/*
 * Resolve data address @*off of @len bytes on device @*dev (0: the image,
 * through the unified space as the kernel's erofs_map_dev() does) to a
 * device and an offset in it, checked against that device's size.
 */
int dev_locate(struct eroot_image *img, uint64_t nid, unsigned int *dev, uint64_t *off,
	       uint64_t len);
/* Read on device @dev (0: img_read); -ENXIO when it is not attached. */
int dev_read(struct eroot_image *img, unsigned int dev, uint64_t off, void *buf, size_t len);
/* dev_locate() on device 0, then dev_read(). */
int data_pread(struct eroot_image *img, uint64_t nid, uint64_t pa, void *buf, size_t len);

/* Check an inode's data layout once, when it is read. */
int validate_data_layout(struct eroot_image *img, const struct eroot_inode *ino);

#endif

/* Compressed inodes (zdata.c): read like data_read().  Without
 * @fragments, bytes in the packed inode are bounds-checked and zeroed. */
ssize_t zdata_read(struct eroot_image *img, const struct eroot_inode *ino,
		   void *buf, size_t len, uint64_t off, bool fragments);
/* The extent of @ino holding @pos (< i_size), checked (zmap.c). */
int zmap_extent(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino,
		uint64_t pos, struct zext *e);
/* Free what @z holds (image close). */
void zstate_release(struct zstate *z);
/* The long xattr name prefix table, at open (xattr.c). */
int load_xattr_prefixes(struct eroot_image *img, const struct erofs_sb *sb);
/* Superblock compression configurations (super.c). */
int load_compr_cfgs(struct eroot_image *img, const struct erofs_sb *sb);

/* Read file data of any inode type (directories included); @fragments as
 * for zdata_read(). */
ssize_t data_read_mode(struct eroot_image *img, const struct eroot_inode *ino,
		       void *buf, size_t len, uint64_t off, bool fragments);
static inline ssize_t data_read(struct eroot_image *img, const struct eroot_inode *ino,
				void *buf, size_t len, uint64_t off)
{
	return data_read_mode(img, ino, buf, len, off, true);
}
