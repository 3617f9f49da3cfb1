/* SPDX-License-Identifier: MIT */
/*
 * On-disk facts of an open image that the reader's API keeps to itself,
 * for eroot merge (lib/builder/source/image.c), which refers to an input's
 * blocks instead of copying them: where an inode's chunk table or
 * compression map lies, how long it is, and the raw bytes there.  Every
 * value is checked as the reader checks it for a read.
 */
#ifndef EROOT_READER_RAW_H
#define EROOT_READER_RAW_H

#include <stdbool.h>
#include <stdint.h>

#include "eroot/eroot.h"

/* A compressed inode's map header, indexes and inline tail pcluster. */
struct raw_zmap {
	uint64_t off;			/* image offset of the map header */
	uint32_t len;			/* header + indexes (+ inline pcluster) */
	uint32_t idata_size;		/* inline tail pcluster bytes, or 0 */
	uint16_t advise;		/* Z_EROFS_ADVISE_* */
	uint8_t algs[2];
	bool compact;			/* 2B/4B packs (else 8-byte entries) */
	bool referable;			/* indexes the merge can rebase */
	uint64_t nlc;			/* logical clusters (index entries) */
	uint64_t ebase;			/* image offset of the first entry */
};

/* The compressed map of @ino (a compressed inode with data). */
int raw_zmap(struct eroot_image *img, const struct eroot_inode *ino, struct raw_zmap *out);

/*
 * Map all of @ino's data as a read would, so that every block address its
 * chunk indexes, flat block or compressed indexes give is checked to lie
 * in the image's blocks: 0, or the reader's error for the first that does
 * not.  The merge copies those addresses unread into an image the kernel
 * mounts, and the kernel checks none of them against a device's length.
 */
int raw_check_map(struct eroot_image *img, const struct eroot_inode *ino);

/* Image offset of @ino's inline part (just after its xattrs). */
uint64_t raw_inline_off(struct eroot_image *img, const struct eroot_inode *ino);

/* @len bytes at image offset @off, bounds-checked. */
int raw_read(struct eroot_image *img, uint64_t off, void *buf, size_t len);

/* The superblock's compression configuration records, by algorithm:
 * @cfg[alg] gets the record's payload (zeros when absent). */
int raw_compr_cfgs(struct eroot_image *img, uint8_t cfg[][14]);

#endif
