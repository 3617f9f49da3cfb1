/* SPDX-License-Identifier: MIT */
/*
 * Sources fill the tree: a directory (scan_dir.c), tar and cpio archives
 * (scan_archive.c), an initramfs (initramfs.c).  Archive data waits in the
 * stage file; a directory source's files are reopened when placed.
 */
#ifndef EROOT_BUILDER_SOURCE_H
#define EROOT_BUILDER_SOURCE_H

#include "builder/builder.h"

/* stage.c: archive file data on disk, read back like a source file */
int stage_begin(struct eroot_builder *b, struct bnode *n, bool sparse);
int stage_write(struct eroot_builder *b, struct bnode *n, const void *data, size_t len,
		uint64_t off);
int stage_end(struct eroot_builder *b, struct bnode *n, uint64_t size);
void stage_close(struct eroot_builder *b);

/* reopen.c: where @n's data is read from: a descriptor and the offset of
 * byte 0.  A source file is opened beneath the source's root without
 * following any symlink, and must still be the file the scan saw: -ESTALE
 * otherwise. */
int source_open(const struct eroot_builder *b, const struct bnode *n, int *fd, uint64_t *base);
void source_close(const struct eroot_builder *b, int fd);
/* Words for a source_open() error. */
const char *source_strerror(int err);

/* pathtree.c: the tree by path, for archive sources, whose entries come
 * in any order, and later ones replace earlier ones */
enum {
	PT_DOTDOT_OK = 1,		/* ".." climbs (to the root at most) */
	PT_MAKE_PARENTS = 2,		/* missing parents become directories */
};
struct pt_where {
	struct bnode *dir;		/* parent; NULL for the root itself */
	const char *name;
	size_t len;
	struct bnode *node;		/* what is there now, or NULL */
};
int pathtree_begin(struct eroot_builder *b);
const char *pathtree_relative(const char *path);
/* Find @path's parent; -ENOENT/-ENOTDIR/-ELOOP/-EPERM (".." refused). */
int pathtree_resolve(struct eroot_builder *b, const char *path, int flags, int64_t mtime,
		     struct pt_where *w);
struct bnode *pathtree_lookup(struct eroot_builder *b, struct bnode *dir,
			      const char *name, size_t len);
int pathtree_link(struct eroot_builder *b, struct pt_where *w, struct bnode *node);
void pathtree_unlink(struct eroot_builder *b, struct pt_where *w);
bool pathtree_dir_empty(const struct bnode *dir);
struct bnode *pathtree_new_dir(struct eroot_builder *b, struct bnode *parent);
/* Before layout: entries compacted and sorted, unreachable nodes freed. */
int pathtree_finish(struct eroot_builder *b);
void pathtree_free(struct eroot_builder *b);

/* acl_xattr.c */
struct archive_entry;
/* POSIX ACLs of a libarchive entry as system.posix_acl_* xattrs (if
 * @store), and the mode's group bits from the ACL mask. */
int acl_to_xattrs(struct eroot_builder *b, struct bnode *n, struct archive_entry *e,
		  bool store);
/* A raw ACL xattr value the kernel can read (version 2, known tags). */
bool acl_xattr_valid(const uint8_t *value, size_t len);

/* exclude.c */
bool exclude_match(const struct eroot_builder *b, const char *relpath);
void exclude_free(struct eroot_builder *b);

#endif
