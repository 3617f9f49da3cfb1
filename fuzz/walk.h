/* SPDX-License-Identifier: MIT */
/*
 * A bounded walk of everything an open image offers through the public
 * API, for the fuzz harnesses.  Every call's result (error codes, inode
 * fields, names, bytes) is folded into a digest, so two walks of the same
 * image opened two ways must end with the same digest.
 */
#ifndef EROOT_FUZZ_WALK_H
#define EROOT_FUZZ_WALK_H

#include <stdint.h>

#include <eroot/eroot.h>

/* Caps that keep one input in the milliseconds, whatever the image says. */
#define WALK_MAX_INODES		2048	/* distinct inodes looked at */
#define WALK_MAX_DIRENTS	8192	/* entries handled, all directories */
#define WALK_MAX_DIR_ENTRIES	1024	/* entries kept from one directory */
#define WALK_MAX_DEPTH		48
#define WALK_MAX_XATTRS		64	/* per inode */
#define WALK_MAX_EXTENTS	64	/* eroot_next_data() calls per file */
#define WALK_FILE_BYTES		(256u << 10)
#define WALK_TOTAL_BYTES	(1u << 20)

struct walk_stats {
	unsigned long calls;		/* API calls made */
	unsigned long errors;		/* ... that failed (any negative errno) */
	unsigned long bad;		/* ... that said -EUCLEAN, -EOPNOTSUPP or -EIO */
	/* Answers that contradict each other (none in a sound image): a
	 * lookup of a name found by readdir that fails or finds another
	 * inode, a dirent type that is not the inode's, "." or ".." pointing
	 * elsewhere, getxattr disagreeing with listxattr. */
	unsigned long mismatches;
	char first_bad[200];		/* the first of either: call, path, message */
	unsigned long inodes;
	uint64_t bytes;			/* file bytes read */
};

/*
 * Walk @img from its root.  @label names the walk in a trace: with
 * EROOT_FUZZ_TRACE=1 in the environment, every record is printed to
 * stderr, so two traces that disagree can be diffed.  Returns the digest;
 * @stats (may be NULL) receives the counts.  Traps (a finding) only when
 * the API breaks its own contract inside one walk: bytes read twice
 * differ, a read returns more than asked or stops short before the end of
 * file, eroot_next_data() goes backwards or leaves the file, or a hole it
 * reports reads as non-zero.  One walk at a time: the buffers are reused
 * (the harnesses are single-threaded).
 */
uint64_t walk_image(struct eroot_image *img, const char *label, struct walk_stats *stats);

#endif
