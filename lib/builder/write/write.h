/* SPDX-License-Identifier: MIT */
/*
 * Writing: metadata, the superblock and the image file itself.
 */
#ifndef EROOT_BUILDER_WRITE_H
#define EROOT_BUILDER_WRITE_H

#include "builder/builder.h"
#include "builder/files.h"

/* write_meta.c */
void encode_dir(const struct eroot_builder *b, const struct bnode *dir, uint8_t *out);
/* A directory's encoded blocks (kept in n->dir_data until freed) or a
 * symlink's target; NULL when out of memory. */
uint8_t *node_content(const struct eroot_builder *b, struct bnode *n);
/* The metadata area from b->meta_blkaddr, after the data. */
int write_metadata(struct eroot_builder *b, int fd, void *hash_state);

/* image_file.c */
/* The output, unnamed or, where O_TMPFILE is missing, under the temporary
 * name b->tmp_path; then committed to @path, or aborted. */
int image_file_create(struct eroot_builder *b, const char *path, int *fd);
int image_file_commit(struct eroot_builder *b, int fd, const char *path);
void image_file_abort(struct eroot_builder *b, int fd);

/* devices.c: eroot merge's device table and referring inodes */
uint64_t devices_table_off(void);
uint64_t devices_table_end(const struct eroot_builder *b);
/* Give each device its place in the unified space past @own_blocks. */
int devices_assign(struct eroot_builder *b, uint64_t own_blocks);
void devices_encode(const struct eroot_builder *b, uint8_t *out);
uint32_t ref_i_u(const struct eroot_builder *b, const struct bnode *n);
void ref_encode(const struct eroot_builder *b, const struct bnode *n, uint8_t *inode_at);

/* super.c: the superblock last, its checksum over its block */
int write_super(struct eroot_builder *b, int fd);

#endif
