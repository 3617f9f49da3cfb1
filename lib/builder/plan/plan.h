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
/* Mark the files of the hot list (after the tree is complete): they stay
 * flat and b->hot_nodes lists them in the list's order. */
int zconfig_mark_hot(struct eroot_builder *b);

/* Compression configuration records that follow the superblock. */
size_t compr_cfgs_encode(const struct eroot_builder *b, uint8_t *out);

/* layout.c: forms before the data is written, nids after */
int layout_prepare(struct eroot_builder *b);
/* Nids, once the data is placed; drops a packed inode left empty. */
int layout_metadata(struct eroot_builder *b);
uint32_t dir_encoded_size(const struct eroot_builder *b, const struct bnode *dir);

/* The form of a compressed file, decided from what compressing it gave,
 * before any of it is placed. */
struct zoutcome {
	uint64_t blocks;		/* pclusters' blocks, a tail block included */
	uint32_t inline_tail;		/* bytes of a tail pcluster kept inline, or 0 */
	bool fragment;			/* its tail went to the packed inode */
	bool pclusters;			/* any, its own or shared (-E dedupe) */
};
/* Whether the tail pcluster of @len bytes can sit inline after the indexes. */
bool plan_ztail_inline(const struct eroot_builder *b, const struct bnode *n, uint32_t len);
/* Whether @n stays compressed whatever the input after its first @done
 * bytes gives, once those gave @blocks blocks. */
bool plan_compressed_certain(const struct eroot_builder *b, const struct bnode *n,
			     uint64_t blocks, uint64_t done);
/* Decide, once: compressed (true; the form fields set from @z) or flat. */
bool plan_compressed_form(struct eroot_builder *b, struct bnode *n, const struct zoutcome *z);
/* The packed inode's size, once every fragment is placed. */
void plan_packed_size(struct eroot_builder *b, uint64_t size);

/* ref.c: eroot merge's files whose data stays in an input image: their
 * form (0), or 1 when their data had to be copied after all (plan it as
 * any file's); the bytes their inode record takes. */
int plan_ref(struct eroot_builder *b, struct bnode *n);
uint64_t ref_record_size(const struct eroot_builder *b, const struct bnode *n);

/* zindex.c: compression indexes, compact where the block size allows */
bool zindex_compact(const struct eroot_builder *b);
/* Record size of compressed inode @n whose inode and xattrs take @base
 * (compact or full indexes as its datalayout says). */
uint64_t zindex_size(const struct eroot_builder *b, const struct bnode *n, uint64_t base);
/* Bytes full indexes would take beyond @n's compact ones (0: not compact). */
uint64_t zindex_full_extra(const struct eroot_builder *b, const struct bnode *n);
int zindex_encode(struct eroot_builder *b, const struct bnode *n, uint8_t *inode_at);

#endif
