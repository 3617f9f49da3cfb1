/* SPDX-License-Identifier: MIT */
/*
 * Decoded extents kept for reuse (zdata.c).  A file read in order meets
 * each extent once, so one entry is enough; the packed inode is read
 * fragment by fragment in the order of a tree walk, which is not the
 * order its pieces were packed in, so it keeps the last ZCACHE_SLOTS
 * extents, least recently used out first.  Either way the buffers held
 * total at most ZCACHE_BYTES (one extent of the kernel's largest size):
 * an extent that does not fit with the others evicts them.  32 slots:
 * -C 128K pclusters of text decode to ~400 KiB, so about 30 fit the
 * budget (an extract of /usr/share's best-ratio image decoded its packed
 * inode 15x over with one slot, 10x with 8, 7x with 32, 7x with 64).
 */
#ifndef EROOT_ZCACHE_H
#define EROOT_ZCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZCACHE_SLOTS	32
#define ZCACHE_BYTES	(12u << 20)	/* Z_EROFS_PCLUSTER_MAX_DSIZE */

struct zcache {
	struct zcache_slot {
		bool valid;
		uint64_t la;		/* the extent's logical start */
		uint64_t used;		/* @clock at the last hit */
		uint8_t *buf;
		size_t cap;		/* counted against ZCACHE_BYTES */
	} slot[ZCACHE_SLOTS];
	uint64_t clock;
	unsigned int claimed;	/* the slot zcache_claim() gave out */
};

/* The decoded extent at @la, or NULL; a hit makes it the most recent. */
const uint8_t *zcache_find(struct zcache *c, unsigned int nslots, uint64_t la);

/*
 * A buffer of @len (<= ZCACHE_BYTES) bytes for the extent at @la, to be
 * filled and then published with zcache_commit(); NULL when memory ran
 * out.  It replaces an empty or the least recently used of the first
 * @nslots slots, and frees others' buffers while the total would pass
 * ZCACHE_BYTES (NULL too when @len is larger).
 */
uint8_t *zcache_claim(struct zcache *c, unsigned int nslots, uint64_t la, size_t len);
/* The buffer of the last zcache_claim() holds its extent now. */
void zcache_commit(struct zcache *c);

/* Forget every extent (another inode); keep the buffers. */
void zcache_drop(struct zcache *c);
/* Free the buffers. */
void zcache_release(struct zcache *c);

#endif
