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

#endif
