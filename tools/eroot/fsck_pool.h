/* SPDX-License-Identifier: MIT */
/*
 * File data checks for eroot fsck on every core.  The walk (on the calling
 * thread) hands over byte ranges of files; they are gathered into batches
 * of consecutive files (neighbours share pclusters and fragments), and a
 * bounded ring of batches feeds the workers, each reading through an image
 * handle of its own (a handle is never shared between threads, eroot.h).
 * Results come back in the order the ranges were added, so the report is
 * the same for any number of workers.  Bytes of files kept in the packed
 * inode are only bounds-checked (eroot_pread_skip_fragments()): the caller
 * adds the packed inode itself.
 */
#ifndef EROOT_TOOL_FSCK_POOL_H
#define EROOT_TOOL_FSCK_POOL_H

#include <stdint.h>

#include "eroot/eroot.h"

/* One range of one file, and what reading it found. */
struct fsck_range {
	struct eroot_inode ino;
	uint64_t file;			/* the caller's number for the file */
	uint64_t start, end;
	uint64_t bytes;			/* read before the end or a failure */
	int err;			/* 0, or a negative errno */
	const char *why;		/* with @err: the explanation */
	const char *path;
};

/* Called on the adding thread for each range, in the order added. */
typedef void (*fsck_result_fn)(void *ctx, const struct fsck_range *r);

struct fsck_pool;

/*
 * A pool of @workers threads, each with its own handle on @path at
 * @offset, or none (0 or 1 worker): ranges are then read on the calling
 * thread through @img.  Returns 0 or a negative errno (the handle's
 * message in @why, at least @why_size bytes).
 */
int fsck_pool_new(struct eroot_image *img, const char *path, uint64_t offset,
		  unsigned int workers, fsck_result_fn done, void *ctx,
		  struct fsck_pool **out, char *why, size_t why_size);

/* Queue the first bytes of [@start, @end) (not empty) of regular file
 * @ino at @path for reading; returns how many (call again for the rest,
 * unless @done said the file failed) or a negative errno.  May report
 * earlier ranges through @done first. */
int64_t fsck_pool_add(struct fsck_pool *p, const struct eroot_inode *ino, const char *path,
		      uint64_t file, uint64_t start, uint64_t end);

/* Read everything queued and report it; returns when all is reported. */
void fsck_pool_drain(struct fsck_pool *p);

/* Drain, stop the workers, free (NULL is fine). */
void fsck_pool_free(struct fsck_pool *p);

/* Workers to use by default: the cores this process may run on. */
unsigned int fsck_default_workers(void);

#endif
