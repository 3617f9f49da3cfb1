/* SPDX-License-Identifier: MIT */
/*
 * Depth-first walk of an image's tree with full paths.  Each directory is
 * entered once: a directory nid met twice (a cycle, or a hard-linked
 * directory) is reported as corruption instead of followed.
 */
#ifndef EROOT_TOOL_WALK_H
#define EROOT_TOOL_WALK_H

#include "eroot/eroot.h"

/* Returned by visit for a directory: do not enter it (no leave_dir either). */
#define WALK_PRUNE 1

struct walk_ops {
	/* Every inode, parents before children; path is "/" for the root,
	 * @parent the nid of the directory holding it (UINT64_MAX at the start).
	 * 0 goes on, WALK_PRUNE skips a directory's content, others stop. */
	int (*visit)(void *ctx, const char *path, const struct eroot_inode *ino,
		     uint64_t parent);
	/* After a directory's children (optional). */
	int (*leave_dir)(void *ctx, const char *path, const struct eroot_inode *ino);
	/* A failure at @path, explained by @why; return 0 to go on with the
	 * rest, else stop.  Without this callback the walk stops. */
	int (*error)(void *ctx, const char *path, int err, const char *why);
};

/*
 * Walk from @start (an inode already read, at @path).  Returns 0, the
 * first non-zero value a callback returned, or the error that stopped it.
 */
int walk_image(struct eroot_image *img, const char *path,
	       const struct eroot_inode *start, const struct walk_ops *ops, void *ctx);

#endif
