// SPDX-License-Identifier: MIT
/*
 * After the file data: directory and symlink blocks that are not inline,
 * then the metadata area (inodes, inline xattrs, inline tails, chunk maps,
 * compression indexes) and the shared xattrs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/plan/plan.h"
#include "builder/write/write.h"

void encode_dir(const struct eroot_builder *b, const struct bnode *dir, uint8_t *out)
{
	uint32_t blksz = blksz_of(b);
	uint32_t first = 0;	/* first entry of the current block */

	/* Entries are grouped per block exactly as dir_encoded_size() does. */
	while (first < dir->nentries) {
		uint32_t end = first, used = 0, nameoff;
		uint8_t *blk = out;

		while (end < dir->nentries &&
		       used + EROFS_DIRENT_SIZE + dir->entries[end].name_len <= blksz)
			used += EROFS_DIRENT_SIZE + dir->entries[end++].name_len;
		nameoff = (end - first) * EROFS_DIRENT_SIZE;
		for (uint32_t j = first; j < end; j++) {
			const struct bentry *e = &dir->entries[j];
			struct erofs_dirent_disk de = {
				.nid = e->node->nid, .nameoff = (uint16_t)nameoff,
				.file_type = erofs_ftype_from_mode(e->node->mode),
			};

			erofs_dirent_encode(&de, blk + (j - first) * EROFS_DIRENT_SIZE);
			memcpy(blk + nameoff, e->name, e->name_len);
			nameoff += e->name_len;
		}
		out += end < dir->nentries ? blksz : used;
		first = end;
	}
}

uint8_t *node_content(const struct eroot_builder *b, struct bnode *n)
{
	if (S_ISLNK(n->mode))
		return (uint8_t *)n->link_target;
	if (!n->dir_data) {
		uint64_t blocks = (n->size + blksz_of(b) - 1) >> b->blkszbits;

		n->dir_data = calloc(blocks ? blocks : 1, blksz_of(b));
		if (n->dir_data)
			encode_dir(b, n, n->dir_data);
	}
	return n->dir_data;
}

static uint32_t i_u_of(const struct eroot_builder *b, const struct bnode *n)
{
	if (n->ref)
		return ref_i_u(b, n);
	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		return erofs_encode_dev(n->rdev_major, n->rdev_minor);
	if (n->datalayout == EROFS_INODE_CHUNK_BASED)	/* format: 4-byte block map */
		return n->chunkbits - b->blkszbits;
	if (is_compressed(n))
		return n->compressed_blocks;
	return n->blkaddr;
}

static int encode_inode(struct eroot_builder *b, const struct bnode *n, uint8_t *at)
{
	struct erofs_dinode di = {
		.extended = n->extended,
		.datalayout = n->datalayout,
		.xattr_icount = n->xattr_icount,
		.mode = (uint16_t)n->mode,
		.nlink = n->nlink,
		.size = n->size,
		.i_u = i_u_of(b, n),
		.ino = n->ino,
		.uid = n->uid,
		.gid = n->gid,
		.mtime = (uint64_t)n->mtime,
		.mtime_nsec = n->mtime_nsec,
	};
	uint32_t base = inode_base_size(n);

	erofs_dinode_encode(&di, at);
	if (n->ibody_size)
		xattrs_encode_ibody(b, n, at + base - n->ibody_size);
	if (n->ref) {
		ref_encode(b, n, at);
		return 0;
	}
	switch (n->datalayout) {
	case EROFS_INODE_CHUNK_BASED: {
		uint8_t *map = at + ((base + 3) & ~3u);

		for (uint32_t c = 0; c < n->nchunks; c++)
			put_le32(map + 4 * c, n->chunk_addr[c]);
		return 0;
	}
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT: {
		int err = zindex_encode(b, n, at);

		if (err || !n->ztail_inline)
			return err;
		/* the tail pcluster right after the indexes */
		base = (uint32_t)zindex_size(b, n, base);
		break;
	}
	}
	if (!n->tail_len || !S_ISREG(n->mode))
		return 0;
	if (pread(b->spill_fd, at + base, n->tail_len, (off_t)n->tail_spill) != (ssize_t)n->tail_len)
		return BFAIL(b, -EIO, "reading the tail spill file");
	return 0;
}

/* A directory's or symlink's inline tail (its blocks are placed already,
 * by place/dirs.c). */
static int copy_inline_content(struct eroot_builder *b, struct bnode *n, uint8_t *at)
{
	uint8_t *content;

	if (!n->tail_len)
		return 0;
	content = node_content(b, n);
	if (!content)
		return BFAIL(b, -ENOMEM, "out of memory");
	memcpy(at + inode_base_size(n), content + n->size - n->tail_len, n->tail_len);
	free(n->dir_data);
	n->dir_data = NULL;
	return 0;
}

int write_metadata(struct eroot_builder *b, int fd, void *hash_state)
{
	uint32_t blksz = blksz_of(b);
	uint64_t area = b->meta_bytes + b->xattr_bytes;
	uint8_t *buf = calloc(area ? area : 1, 1);
	int err = 0;

	if (!buf)
		return BFAIL(b, -ENOMEM, "out of memory");
	/* the devices' unified addresses follow the image's own blocks */
	err = devices_assign(b, b->meta_blkaddr + ((area + blksz - 1) >> b->blkszbits));
	for (size_t i = 0; i < b->nnodes && !err; i++) {
		struct bnode *n = b->nodes[i];

		if (S_ISDIR(n->mode) || S_ISLNK(n->mode))
			err = copy_inline_content(b, n, buf + n->nid * EROFS_ISLOT_SIZE);
	}
	for (size_t i = 0; i < b->nnodes && !err; i++)
		err = encode_inode(b, b->nodes[i], buf + b->nodes[i]->nid * EROFS_ISLOT_SIZE);
	if (!err) {
		xattrs_encode_shared(b, buf + b->meta_bytes);
		XXH3_128bits_update(hash_state, buf, area);
		err = pwrite_all(b, fd, buf, area, (uint64_t)b->meta_blkaddr << b->blkszbits);
	}
	b->xattr_blkaddr = b->xattr_bytes ? b->meta_blkaddr + (uint32_t)(b->meta_bytes / blksz) : 0;
	b->total_blocks = b->meta_blkaddr + ((area + blksz - 1) >> b->blkszbits);
	free(buf);
	return err;
}
