// SPDX-License-Identifier: MIT
/*
 * Encode the metadata area (inodes, inline xattrs, inline tails of
 * directories and symlinks, chunk maps), the shared xattr area and the
 * non-inline directory and symlink blocks, and write them.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "builder.h"

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

/* The content of a directory or symlink, in one buffer. */
static uint8_t *content_of(const struct eroot_builder *b, struct bnode *n)
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
	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		return erofs_encode_dev(n->rdev_major, n->rdev_minor);
	if (n->datalayout == EROFS_INODE_CHUNK_BASED)	/* format: 4-byte block map */
		return n->chunkbits - b->blkszbits;
	return n->blkaddr;
}

static void encode_inode(const struct eroot_builder *b, const struct bnode *n, uint8_t *at)
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
	size_t isize;

	isize = erofs_dinode_encode(&di, at);
	if (n->nxattrs)
		xattrs_encode_ibody(b, n, at + isize);
	if (n->datalayout == EROFS_INODE_CHUNK_BASED) {
		uint8_t *map = at + ((isize + n->ibody_size + 3) & ~3u);

		for (uint32_t c = 0; c < n->nchunks; c++)
			put_le32(map + 4 * c, n->chunk_addr[c]);
	}
}

int write_metadata(struct eroot_builder *b, int fd, void *hash_state)
{
	uint32_t blksz = blksz_of(b);
	uint64_t meta_len = (b->meta_bytes + blksz - 1) & ~(uint64_t)(blksz - 1);
	uint64_t area = meta_len + b->xattr_bytes;
	uint8_t *buf = calloc(area ? area : 1, 1);
	int err = 0;

	if (!buf)
		return BFAIL(b, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nnodes && !err; i++) {
		struct bnode *n = b->nodes[i];
		uint8_t *at = buf + n->nid * EROFS_ISLOT_SIZE, *content;
		uint64_t inline_at, body;

		encode_inode(b, n, at);
		if (!S_ISDIR(n->mode) && !S_ISLNK(n->mode))
			continue;	/* regular file data comes in write_data.c */
		content = content_of(b, n);
		if (!content) {
			err = BFAIL(b, -ENOMEM, "out of memory");
			break;
		}
		body = n->size - n->tail_len;
		inline_at = (n->extended ? EROFS_INODE_EXTENDED_SIZE : EROFS_INODE_COMPACT_SIZE) +
			    n->ibody_size;
		memcpy(at + inline_at, content + body, n->tail_len);
		if (body) {
			XXH3_128bits_update(hash_state, content, body);
			err = pwrite_all(b, fd, content, body, (uint64_t)n->blkaddr << b->blkszbits);
		}
		free(n->dir_data);
		n->dir_data = NULL;
	}
	if (!err) {
		xattrs_encode_shared(b, buf + meta_len);
		XXH3_128bits_update(hash_state, buf, area);
		err = pwrite_all(b, fd, buf, area, (uint64_t)b->meta_blkaddr << b->blkszbits);
	}
	free(buf);
	return err;
}
