// SPDX-License-Identifier: MIT
/*
 * Data stored as it is: flat files as full blocks (the inline tail waits
 * in the spill file for the metadata), sparse files chunk by chunk (holes
 * are not written, so the image file stays sparse).
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/place/place.h"

/* The body again, after a digest pass over a file larger than c->buf: it
 * must be what the digest saw. */
static int copy_checked(struct copy *c, struct bnode *n, uint64_t body, uint64_t to,
			uint64_t check)
{
	XXH3_state_t *st = XXH3_createState();
	int err;

	if (!st)
		return BFAIL(c->b, -ENOMEM, "out of memory");
	XXH3_64bits_reset(st);
	err = copy_range(c, 0, body, to, false, false, st);
	if (!err && n->tail_len)
		err = read_source(c, body, c->buf, n->tail_len);
	if (!err && n->tail_len)
		XXH3_64bits_update(st, c->buf, n->tail_len);
	if (!err && XXH3_64bits_digest(st) != check)
		err = BFAIL(c->b, -EIO, "%s: file changed during the build", n->src_path);
	XXH3_freeState(st);
	return err;
}

int place_flat(struct copy *c, struct bnode *n, bool counted)
{
	struct eroot_builder *b = c->b;
	uint64_t body = n->size - n->tail_len, check = 0, told = c->done, to = 0;
	const struct bnode *twin = NULL;
	bool in_buf = false, placed = false;
	uint8_t digest[32];
	int err = 0;

	if (b->opts.dedupe) {
		/* a file of a size not seen before repeats no file: placed as
		 * its digest is taken; any other once its digest is known */
		placed = !dedupe_may_repeat(c, n);
		if (placed) {
			err = placer_reserve(c->pl, n->data_blocks, &n->blkaddr);
			to = (uint64_t)n->blkaddr << b->blkszbits;
		}
		/* the body goes to the UUID hash here, shared or not */
		if (!err)
			err = dedupe_digest_source(c, n, true, placed ? &to : NULL, digest, &check);
		if (!err)
			err = dedupe_lookup(c, n, digest, &twin);
		if (!err && placed && twin)
			err = BFAIL(b, -EIO, "%s: a duplicate of a file of another size", n->src_path);
		if (err)
			return err;
		in_buf = n->size <= COPY_BUF;
	}
	if (b->opts.dedupe && fingerprint_wanted(b, n)) {
		memcpy(n->fp_digest, digest, sizeof(digest));	/* the same SHA-256 */
		n->fp_done = true;
	}
	/* otherwise hashed as it is copied, the tail last */
	if (!b->opts.dedupe && fingerprint_wanted(b, n))
		err = fp_start(c);
	if (err) {
	} else if (twin) {
		err = dedupe_share(b, n, twin);
	} else if (!placed) {
		err = placer_reserve(c->pl, n->data_blocks, &n->blkaddr);
		to = (uint64_t)n->blkaddr << b->blkszbits;
		if (!err && in_buf)
			err = placer_write(c->pl, c->buf, body, to);
		else if (!err && b->opts.dedupe)
			err = copy_checked(c, n, body, to, check);
		else if (!err)
			err = copy_range(c, 0, body, to, true, !counted, NULL);
	}
	/* the tail is inline in @n's own inode, shared or not */
	if (!err && n->tail_len && !in_buf)
		err = read_source(c, body, c->buf, n->tail_len);
	if (!err && n->tail_len)
		fp_update(c, in_buf ? c->buf + body : c->buf, n->tail_len);
	if (!err && c->fp_on)
		fp_finish(c, n);
	c->fp_on = false;
	if (!err && n->tail_len)
		err = placer_spill(c->pl, n, in_buf ? c->buf + body : c->buf, n->tail_len);
	if (!counted)
		progress(c, n->size - (c->done - told));
	return err;
}

int place_chunks(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	int err = 0;

	for (uint32_t i = 0; i < n->nchunks && !err; i++) {
		uint64_t start = (uint64_t)i << n->chunkbits, to;
		uint64_t len = n->size - start < (1ull << n->chunkbits) ?
			       n->size - start : 1ull << n->chunkbits;

		if (n->chunk_addr[i] == EROFS_NULL_ADDR) {
			progress(c, len);
			continue;
		}
		err = placer_reserve(c->pl, (len + blksz_of(b) - 1) >> b->blkszbits,
				     &n->chunk_addr[i]);
		to = (uint64_t)n->chunk_addr[i] << b->blkszbits;
		if (!err)
			err = copy_range(c, start, len, to, true, true, NULL);
	}
	return err;
}
