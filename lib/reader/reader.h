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

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

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
	uint64_t image_bytes;		/* blocks << blkszbits, <= avail */
	uint64_t meta_off;		/* byte offset of nid 0 */
	uint64_t xattr_off;		/* byte offset of shared xattr id 0 */
	uint64_t max_nid;		/* nids above this lie past the end */

	/* compression */
	uint16_t available_algs;	/* bitmap of Z_EROFS_COMPRESSION_* */
	struct codec_params cparams;
	uint64_t packed_nid;		/* fragments' packed inode, 0 if none */
	/* [0] for files, [1] for the packed inode their fragments live in */
	struct zstate {
		struct zmap {		/* extents of the last compressed inode */
			uint64_t nid;
			bool valid;
			uint8_t alg;
			uint16_t idata_size;	/* inline tail pcluster bytes */
			uint64_t frag_off;	/* fragment: offset in the packed inode */
			struct zext *ext;
			size_t n;
		} map;
		struct zcache {		/* its last decompressed extent */
			bool valid;
			size_t idx;
			uint8_t *buf;
			size_t cap;
		} cache;
	} zs[2];
};

/* One physical cluster of a compressed inode, decoded from its indexes. */
struct zext {
	uint64_t la;			/* first decompressed byte */
	uint64_t len;			/* decompressed bytes */
	uint32_t blkaddr;
	uint32_t blocks;
	bool plain;
	bool inline_tail;		/* @blkaddr unused: data at zmap's idata_off */
	bool fragment;			/* data in the packed inode at zmap's frag_off */
	uint64_t idata_off;
};

#define CORRUPT(img, ...) eroot_fail(&(img)->err, -EUCLEAN, __VA_ARGS__)

/* Read @len bytes at image offset @off; -EUCLEAN past the image end. */
int img_read(struct eroot_image *img, uint64_t off, void *buf, size_t len);

/* Size of the backing store behind @fd (regular file or block device). */
int backing_size(int fd, uint64_t *size);

/* Image offset of the first byte of inline data (just after xattrs). */
static inline uint64_t inode_inline_off(const struct eroot_image *img,
					const struct eroot_inode *ino)
{
	return erofs_nid_offset(img->info.meta_blkaddr, img->blkszbits, ino->nid) +
	       ino->isize;
}

/*
 * Map logical offset @pos of @ino to an image byte offset.  On success
 * *@phys is the image offset (or UINT64_MAX for a hole) and *@len the bytes
 * contiguous from there, never 0 and never past the end of file.
 */
int map_data(struct eroot_image *img, const struct eroot_inode *ino,
	     uint64_t pos, uint64_t *phys, uint64_t *len);

/* Check an inode's data layout once, when it is read. */
int validate_data_layout(struct eroot_image *img, const struct eroot_inode *ino);

#endif

/* Compressed inodes (zmap.c): read like data_read(). */
ssize_t zdata_read(struct eroot_image *img, const struct eroot_inode *ino,
		   void *buf, size_t len, uint64_t off);
/* Superblock compression configurations (super.c). */
int load_compr_cfgs(struct eroot_image *img, const struct erofs_sb *sb);

/* Read file data of any inode type (directories included). */
ssize_t data_read(struct eroot_image *img, const struct eroot_inode *ino,
		  void *buf, size_t len, uint64_t off);
