/* SPDX-License-Identifier: MIT */
/*
 * Link counts for eroot fsck, in memory that grows with the metadata, not
 * with the inode count: a bit per inode slot met (in pages for the slots in
 * use), the first path of hard-linked files only, and a stack of the
 * directories being walked with their subdirectory counts.
 */
#ifndef EROOT_TOOL_FSCK_LINKS_H
#define EROOT_TOOL_FSCK_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eroot/eroot.h"
#include "nidmap.h"

struct nidbits {
	struct nidbits_page *pages;	/* open addressing on the page index */
	size_t cap, used;
};

struct link_problem {
	uint64_t seq;			/* walk order of the inode's first name */
	char *path;
	char why[96];
};

struct hard_ref {
	uint64_t seq, nid;
};

struct dir_level {
	uint64_t seq;
	uint32_t nlink;
	uint64_t subdirs;
	bool first;			/* entered at its first name */
};

struct fsck_links {
	struct nidbits seen;
	struct nidmap multi;		/* nid -> names found and first path, for
					 * files of several links or names */
	struct hard_ref *hard;		/* those nids in walk order */
	size_t nhard, hard_cap;
	struct dir_level *dirs;		/* the directories being walked */
	size_t depth, dirs_cap;
	struct link_problem *problems;	/* deferred: reported only on an image
					 * with no other problem, in walk order */
	size_t nproblems, problems_cap;
	uint64_t seq;
};

/*
 * One name of @ino at @path.  Returns 1 when the inode was met before (a
 * hard link: its content is checked at its first name), 0 the first time,
 * -ENOMEM.  A directory adds a level that link_leave_dir() removes.
 */
int link_visit(struct fsck_links *l, const char *path, const struct eroot_inode *ino);

/* After a directory's entries: its link count must be 2 + subdirectories. */
int link_leave_dir(struct fsck_links *l, const char *path);

/* The counts of files met by several names, then every mismatch in walk
 * order, each passed to @report (path, why). */
int link_finish(struct fsck_links *l,
		void (*report)(void *ctx, const char *path, const char *why), void *ctx);

void links_free(struct fsck_links *l);

#endif
