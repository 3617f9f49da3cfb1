/* SPDX-License-Identifier: MIT */
/*
 * Sources fill the tree.  Each kind of source is one table of operations,
 * struct source_ops, defined in its own file:
 *   dir.c        a directory on a mounted filesystem (data: dir_reopen.c)
 *   archive.c    tar and cpio archives, through libarchive
 *   initramfs.c  an initramfs, read as the kernel reads it
 *   image.c      an EROFS image, a layer of eroot merge
 * Helpers they share: the stage (archive data on disk until placed), the
 * path index (entries in any order, layers), the exclude lists.
 * source.c holds the public eroot_builder_add_*() calls and the list of
 * kinds; the rest of the builder reads a node's data through source_open()
 * and never asks which kind made it.
 *
 * To add a kind (say, an existing EROFS image as input):
 *  1. write source/NAME.c with its scan(), its open_data() (or use the
 *     stage's, stage_open_data(), if the data is copied there while
 *     scanning), and `const struct source_ops NAME_source`; scan() sets
 *     n->source on every regular file with data;
 *  2. declare NAME_source below, list it in source.c's kinds[] and the
 *     file in lib/builder/meson.build;
 *  3. add a public eroot_builder_add_NAME() to include/eroot/eroot.h and
 *     source.c, a thin call of source_add().
 */
#ifndef EROOT_BUILDER_SOURCE_H
#define EROOT_BUILDER_SOURCE_H

#include "builder/builder.h"

/* What eroot_builder_add_*() was given; each kind reads what it needs. */
struct source_args {
	const char *path;		/* directory, archive ("-": stdin), initramfs */
	enum eroot_archive_format format;	/* archives */
	uint64_t *early_bytes;		/* initramfs: length of its early archives */
	unsigned int flags;		/* images: EROOT_IMAGE_* */
};

struct source_ops {
	const char *name;
	/*
	 * Layered kinds stack over what earlier sources made: their entries
	 * come in any order and may replace earlier ones, so they go through
	 * the path index (pathtree.c), and b->layers counts the sources.  A
	 * kind not layered is the whole tree, scanned into an empty builder.
	 */
	bool layered;
	/* The data of regular files is read from files others may change
	 * during the build: sizes are checked again when the data is read. */
	bool live;
	/* Fill the tree (options checked, the path index begun if layered). */
	int (*scan)(struct eroot_builder *b, const struct source_args *a);
	/* @n's data: a descriptor the caller closes, and the offset of byte 0;
	 * -ESTALE if the file is no longer the one the scan saw. */
	int (*open_data)(const struct eroot_builder *b, const struct bnode *n, int *fd,
			 uint64_t *base);
	/* What the kind holds in @b, freed with it (NULL: nothing). */
	void (*release)(struct eroot_builder *b);
};

extern const struct source_ops dir_source, archive_source, initramfs_source, image_source;

/* image.c: a file of an input image whose data plan/ finds it cannot refer
 * to (n->ref) gets its data copied after all; or just forgets the ref. */
int image_copy_ref(struct eroot_builder *b, struct bnode *n);
void image_drop_ref(struct bnode *n);
/* Field by field, the larger of two compression configuration records. */
void image_cfg_max(unsigned int alg, uint8_t *into, const uint8_t *from);

/* source.c: the one way in and the one way to the data */
int source_add(struct eroot_builder *b, const struct source_ops *kind,
	       const struct source_args *a);
/* Where @n's data is read from: a descriptor and the offset of byte 0. */
int source_open(const struct eroot_builder *b, const struct bnode *n, int *fd, uint64_t *base);
void source_close(const struct eroot_builder *b, int fd);
/* Words for a source_open() error. */
const char *source_strerror(int err);
/* Whether @n's data is in a file others may change while the image is
 * written, so that its size is worth checking again (the stage and the
 * packed file are the builder's own). */
bool source_may_change(const struct bnode *n);
/* Everything the sources hold, at eroot_builder_free(). */
void sources_free(struct eroot_builder *b);

/* dir_reopen.c: a directory source's file, opened again beneath the
 * source's root without following any symlink */
int dir_open_data(const struct eroot_builder *b, const struct bnode *n, int *fd,
		  uint64_t *base);

/* stage.c: file data of streamed sources on disk, read back like a file */
int stage_begin(struct eroot_builder *b, struct bnode *n, bool sparse);
int stage_write(struct eroot_builder *b, struct bnode *n, const void *data, size_t len,
		uint64_t off);
int stage_end(struct eroot_builder *b, struct bnode *n, uint64_t size);
int stage_open_data(const struct eroot_builder *b, const struct bnode *n, int *fd,
		    uint64_t *base);
void stage_close(struct eroot_builder *b);

/* pathtree.c: the tree by path, for layered sources, whose entries come
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

/* archive_acl.c */
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
