/* SPDX-License-Identifier: MIT */
/*
 * The plan: compression profiles, each inode's form and place in the
 * metadata, the image's geometry, and the compression indexes.
 */
#ifndef EROOT_BUILDER_PLAN_H
#define EROOT_BUILDER_PLAN_H

#include "builder/builder.h"
#include "builder/tree/tree.h"

/* zconfig.c: compression profiles, hints, superblock configurations */
int zconfig_init(struct eroot_builder *b);
bool uses_fragments(const struct eroot_builder *b);
uint16_t zconfig_profile_of(const struct eroot_builder *b, const struct bnode *n);
void zconfig_free(struct eroot_builder *b);

/* Compression configuration records that follow the superblock. */
size_t compr_cfgs_encode(const struct eroot_builder *b, uint8_t *out);

/* layout.c: forms before the data is written, nids after */
int layout_prepare(struct eroot_builder *b);
int layout_metadata(struct eroot_builder *b);
void layout_plan_flat(struct eroot_builder *b, struct bnode *n);
uint32_t dir_encoded_size(const struct eroot_builder *b, const struct bnode *dir);

/* zindex.c: compression indexes, compact where the block size allows */
bool zindex_compact(const struct eroot_builder *b);
/* Record size of a compressed inode whose inode and xattrs take @base. */
uint64_t zindex_size(const struct eroot_builder *b, uint64_t base, uint64_t size);
int zindex_encode(struct eroot_builder *b, const struct bnode *n, uint8_t *inode_at);

#endif
