/* SPDX-License-Identifier: MIT */
/*
 * The tree model the sources fill: nodes, directory entries, and the
 * table of distinct xattrs they refer to.
 */
#ifndef EROOT_BUILDER_TREE_H
#define EROOT_BUILDER_TREE_H

#include "builder/builder.h"

/* tree.c */
struct bnode *tree_new_node(struct eroot_builder *b);
int tree_add_entry(struct eroot_builder *b, struct bnode *dir,
		   const char *name, struct bnode *node);
void tree_sort_entries(struct bnode *dir);
void tree_free_node(struct eroot_builder *b, struct bnode *n);
void tree_free(struct eroot_builder *b);

/* xattrs.c */
int xattrs_add(struct eroot_builder *b, struct bnode *node, const char *name,
	       const void *value, size_t len);
void xattrs_finish_node(struct eroot_builder *b, struct bnode *node);
/* Forget @node's xattrs (it is replaced or dropped). */
void xattrs_drop_node(struct eroot_builder *b, struct bnode *node);
/* Choose shared entries, give them ids; returns the shared area size. */
uint64_t xattrs_plan_shared(struct eroot_builder *b);
/* Inline xattr bytes of @node (0 if none), after xattrs_plan_shared(). */
uint32_t xattrs_ibody_size(const struct eroot_builder *b, const struct bnode *node);
void xattrs_encode_ibody(const struct eroot_builder *b, const struct bnode *node,
			 uint8_t *out);
void xattrs_encode_shared(const struct eroot_builder *b, uint8_t *out);
void xattrs_free(struct eroot_builder *b);
/* Remove @node's xattr (@index, @suffix) if it has one. */
void xattrs_remove(struct eroot_builder *b, struct bnode *node, unsigned int index,
		   const char *suffix);

/* fingerprint.c: --fingerprint, the inode digests of ISHARE_XATTRS */
/* Check and split opts.fingerprint (nothing without one). */
int fingerprint_check_name(struct eroot_builder *b);
/* Whether @n gets a fingerprint: a regular file with data. */
bool fingerprint_wanted(const struct eroot_builder *b, const struct bnode *n);
/* Drop the sources' xattrs of the fingerprint's name. */
void fingerprint_drop_source_xattrs(struct eroot_builder *b);
/* The inline entry: its size, and its bytes (n->fp_digest) at @out. */
uint32_t fingerprint_entry_size(void);
uint8_t *fingerprint_encode_entry(const struct bnode *n, uint8_t *out);
/* The long prefix table (0 bytes without a fingerprint). */
uint32_t fingerprint_table_size(const struct eroot_builder *b);
void fingerprint_table_encode(const struct eroot_builder *b, uint8_t *out);

#endif
