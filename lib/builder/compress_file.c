// SPDX-License-Identifier: MIT
/*
 * Compress one file into physical clusters (pclusters) at the data cursor.
 *
 * Each pcluster is filled with as much input as its codec fits in at most
 * -C bytes, then rounded up to whole blocks with the compressed bytes at
 * the end (the zero padding lets the kernel decompress in place and find
 * where the stream starts).  Input that does not shrink by a block is
 * stored as a plain one-block pcluster.  Every pcluster but the last
 * decodes to more than a block, so each starts in its own logical cluster,
 * as the indexes require.
 */
#include <stdlib.h>
#include <string.h>

#include "builder.h"

static int add_extent(struct eroot_builder *b, struct bnode *n, uint64_t la,
		      uint16_t blocks, bool plain, uint32_t *cap)
{
	if (n->nextents == *cap) {
		uint32_t more = *cap ? *cap * 2 : 16;
		struct zextent *e = realloc(n->extents, more * sizeof(*e));

		if (!e)
			return BFAIL(b, -ENOMEM, "out of memory");
		n->extents = e;
		*cap = more;
	}
	n->extents[n->nextents++] = (struct zextent){
		.la = la, .blkaddr = (uint32_t)b->data_cursor, .blocks = blocks, .plain = plain,
	};
	n->compressed_blocks += blocks;
	b->data_cursor += blocks;
	return 0;
}

/* Write @len bytes as the tail of @blocks blocks, zeros in front. */
static int emit_padded(struct copy *c, const uint8_t *data, size_t len, uint32_t blocks,
		       bool at_end)
{
	struct eroot_builder *b = c->b;
	size_t total = (size_t)blocks << b->blkszbits, pad = total - len;

	memmove(c->buf + (at_end ? pad : 0), data, len);
	memset(c->buf + (at_end ? 0 : len), 0, pad);
	return emit(c, c->buf, total, b->data_cursor << b->blkszbits);
}

static int compress_pclusters(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	uint32_t blksz = blksz_of(b), cap = 0;
	uint64_t pos = 0, read_pos = 0;
	size_t start = 0, have = 0;
	int err = 0;

	while (!err && pos < n->size) {
		size_t used, blocks;
		long clen;

		/* keep at least one pcluster's worth of input in the window */
		if (have < b->max_in && read_pos < n->size) {
			size_t want = 2 * b->max_in - have;

			memmove(c->zin, c->zin + start, have);
			start = 0;
			if (want > n->size - read_pos)
				want = (size_t)(n->size - read_pos);
			err = read_source(c, read_pos, c->zin + have, want);
			if (err)
				break;
			have += want;
			read_pos += want;
		}
		used = have < b->max_in ? have : b->max_in;
		clen = b->codec->compress(c->zstate, c->zin + start, &used, c->zout,
					  b->pcluster_bytes);
		if (clen < 0) {
			err = BFAIL(b, (int)clen, "%s: %s compression failed", n->src_path,
				    b->codec->name);
			break;
		}
		blocks = ((size_t)clen + blksz - 1) >> b->blkszbits;
		/* a stream starting with a zero byte would be taken for padding */
		if (clen > 0 && c->zout[0] && used > (blocks << b->blkszbits)) {
			err = emit_padded(c, c->zout, (size_t)clen, (uint32_t)blocks, true);
			if (!err)
				err = add_extent(b, n, pos, (uint16_t)blocks, false, &cap);
		} else {
			used = have < blksz ? have : blksz;
			err = emit_padded(c, c->zin + start, used, 1, false);
			if (!err)
				err = add_extent(b, n, pos, 1, true, &cap);
		}
		pos += used;
		start += used;
		have -= used;
		progress(c, used);
	}
	return err;
}

int compress_file(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	uint64_t first = b->data_cursor, done = c->done;
	uint64_t flat_blocks = (n->size + blksz_of(b) - 1) >> b->blkszbits;
	int err = compress_pclusters(c, n);

	if (err)
		return err;
	if (n->compressed_blocks < flat_blocks) {
		b->compressed_any = true;
		return 0;
	}
	/* no block saved: store it flat, over what was just written */
	free(n->extents);
	n->extents = NULL;
	n->nextents = 0;
	n->compressed_blocks = 0;
	b->data_cursor = first;
	c->done = done;
	layout_plan_flat(b, n);
	return copy_flat(c, n);
}
