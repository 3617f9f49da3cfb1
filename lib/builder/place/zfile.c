// SPDX-License-Identifier: MIT
/*
 * A compressed file, placed.  Its segments come from the pipeline in order;
 * its form (compressed, or flat when that saves no block) and, under
 * -E dedupe, whether it repeats an earlier file are decided before any of
 * it is placed.  Until then its output is held: its last segment in its
 * pipeline slot, earlier ones in an unnamed spool file next to the image.
 * Under dedupe its pclusters that equal an earlier file's point at those
 * (zshare.c) as its segments are taken, and its own register once placed.
 * A file that has saved enough is certain to stay compressed
 * (plan_compressed_certain()): unless an earlier file had its size (under
 * dedupe it may be that file's twin), what it holds is placed then, and
 * the rest as it comes, so most files never spool.
 *
 * The UUID hash takes each pcluster as it comes, placed or not: that is
 * the order in which earlier versions wrote them (see build.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "builder/builder.h"
#include "builder/plan/plan.h"
#include "builder/place/place.h"
#include "builder/write/write.h"

/*
 * Segments a file holds in their pipeline slots while its form is open:
 * one, the last taken; earlier ones wait in the spool file.  The pipeline
 * then holds what it held when segments were placed as they came (one
 * being placed, the others being compressed), so held output costs no
 * memory; only a tail block (one block) is held in memory of its own.
 * More would count against the pipeline's budget of input in flight
 * (zpipe.c) and leave the workers less to compress ahead.
 */
#define ZHOLD_IN_RING 1

struct held {
	struct zseg *seg;		/* still in its ring slot, or NULL */
	const uint8_t *data;		/* NULL: in the spool file, at spool_off */
	uint8_t *own;			/* data allocated here (a tail block) */
	uint64_t blocks;
	uint64_t spool_off;
};

struct zfile {
	struct copy *c;
	struct bnode *n;
	struct zextent *ext;		/* block numbers from the file's first,
					 * but for a fragment's */
	uint32_t next, cap;
	struct zoutcome out;		/* blocks so far, the tail's fate */
	uint64_t done;			/* input bytes so far */
	struct held *held;		/* in order; ring slots oldest first */
	size_t nheld, held_cap, first_held;
	unsigned int in_ring;		/* segments taken and not released */
	int spool_fd;			/* the file's own spool, or -1 */
	uint64_t spool_len;
	bool placing;			/* certain: output goes to the image */
	uint32_t first;			/* the file's first block, once placing */
	uint8_t *tail;			/* an inline or fragment tail */
	uint32_t tail_len;
	EVP_MD_CTX *md;			/* dedupe: over the segments' SHA-256s */
	bool may_repeat;		/* dedupe: an earlier file had its size */
};

static int spool_write(struct zfile *zf, const uint8_t *data, size_t len, uint64_t *at)
{
	struct copy *c = zf->c;

	if (zf->spool_fd < 0) {
		/* next to the image: it may grow as large as the file */
		int fd = unnamed_tmpfile(placer_dir(c->pl));

		if (fd < 0)
			return BFAIL(c->b, fd, "cannot create a spool file in %s: %s",
				     placer_dir(c->pl), strerror(-fd));
		zf->spool_fd = fd;
	}
	*at = zf->spool_len;
	if (pwrite_all(c->b, zf->spool_fd, data, len, zf->spool_len))
		return -EIO;
	zf->spool_len += len;
	return 0;
}

/* Write held output @h at image block @blk. */
static int place_held(struct zfile *zf, const struct held *h, uint64_t blk)
{
	struct copy *c = zf->c;
	uint64_t len = h->blocks << c->b->blkszbits, to = blk << c->b->blkszbits;
	int err = 0;

	if (h->data)
		return placer_write(c->pl, h->data, len, to);
	for (uint64_t off = 0; off < len && !err; ) {
		size_t piece = len - off < COPY_BUF ? (size_t)(len - off) : COPY_BUF;

		if (pread(zf->spool_fd, c->buf, piece, (off_t)(h->spool_off + off)) != (ssize_t)piece)
			return BFAIL(c->b, -EIO, "reading the spool file");
		err = placer_write(c->pl, c->buf, piece, to + off);
		off += piece;
	}
	return err;
}

/* Give the oldest segment still in the ring back to the pipeline. */
static void release_oldest(struct zfile *zf)
{
	while (!zf->held[zf->first_held].seg)
		zf->first_held++;
	zf->held[zf->first_held++].seg = NULL;
	zf->in_ring--;
	zpipe_release(zf->c->zpipe);
}

static void drop_held(struct zfile *zf)
{
	while (zf->in_ring)
		release_oldest(zf);
	for (size_t i = 0; i < zf->nheld; i++)
		free(zf->held[i].own);
	free(zf->held);
	zf->held = NULL;
	zf->nheld = zf->held_cap = zf->first_held = 0;
	if (zf->spool_fd >= 0)
		close(zf->spool_fd);	/* a later one is a new file */
	zf->spool_fd = -1;
	zf->spool_len = 0;
}

/* Before the next segment is taken: the oldest held waits in the spool. */
static int spool_oldest(struct zfile *zf)
{
	struct held *h;
	int err = 0;

	while (!zf->held[zf->first_held].seg)
		zf->first_held++;
	h = &zf->held[zf->first_held];
	if (h->blocks)
		err = spool_write(zf, h->data, h->blocks << zf->c->b->blkszbits, &h->spool_off);
	h->data = NULL;
	release_oldest(zf);
	return err;
}

/* The form is certain: everything held goes to the image, in order. */
static int start_placing(struct zfile *zf)
{
	uint64_t blk;
	int err = placer_reserve(zf->c->pl, zf->out.blocks, &zf->first);

	blk = zf->first;
	for (size_t i = 0; i < zf->nheld && !err; i++) {
		err = place_held(zf, &zf->held[i], blk);
		blk += zf->held[i].blocks;
	}
	zf->placing = true;
	drop_held(zf);
	return err;
}

/*
 * @blocks blocks of output at @data, from segment @seg (still in the ring)
 * or allocated in @own: placed now, or held.
 */
static int keep_output(struct zfile *zf, struct zseg *seg, uint8_t *own, const uint8_t *data,
		       uint64_t blocks)
{
	struct eroot_builder *b = zf->c->b;
	uint32_t at;
	int err;

	if (zf->placing) {
		err = placer_reserve(zf->c->pl, blocks, &at);
		if (!err && at != zf->first + zf->out.blocks)
			err = BFAIL(b, -EIO, "%s: data placement out of step", zf->n->src_path);
		if (!err && blocks)
			err = placer_write(zf->c->pl, data, (size_t)blocks << b->blkszbits,
					   (uint64_t)at << b->blkszbits);
		free(own);
		if (seg)
			zpipe_release(zf->c->zpipe);
		return err;
	}
	if (zf->nheld == zf->held_cap) {
		size_t cap = zf->held_cap ? zf->held_cap * 2 : 8;
		struct held *v = realloc(zf->held, cap * sizeof(*v));

		if (!v) {
			free(own);
			if (seg)
				zpipe_release(zf->c->zpipe);
			return BFAIL(b, -ENOMEM, "out of memory");
		}
		zf->held = v;
		zf->held_cap = cap;
	}
	zf->held[zf->nheld++] = (struct held){
		.seg = seg, .data = data, .own = own, .blocks = blocks,
	};
	if (seg)
		zf->in_ring++;
	return 0;
}

static int add_extent(struct zfile *zf, struct zextent e)
{
	if (zf->next == zf->cap) {
		uint32_t cap = zf->cap ? zf->cap * 2 : 16;
		struct zextent *v = realloc(zf->ext, cap * sizeof(*v));

		if (!v)
			return BFAIL(zf->c->b, -ENOMEM, "out of memory");
		zf->ext = v;
		zf->cap = cap;
	}
	zf->ext[zf->next++] = e;
	return 0;
}

/*
 * The file's last logical cluster, compressed apart: inline after the
 * indexes when the whole record fits in a block, else into a block of its
 * own like any other pcluster.  Under -E fragments, its final extent, raw,
 * for the packed inode; it starts where the last pcluster ended.
 */
static int take_tail(struct zfile *zf, uint8_t *tail, uint32_t len, bool plain)
{
	struct eroot_builder *b = zf->c->b;
	uint32_t blksz = blksz_of(b);
	struct zextent e = {
		.la = (zf->n->size - 1) & ~(uint64_t)(blksz - 1), .plain = plain,
		.blkaddr = (uint32_t)zf->out.blocks, .blocks = 1,
	};
	uint8_t *blk;
	int err;

	if (b->opts.fragments || plan_ztail_inline(b, zf->n, len)) {
		if (b->opts.fragments) {
			/* the raw tail, compressed with the packed inode; a
			 * HEAD, never PLAIN: the kernel maps no blocks for a
			 * fragment and would find a plain one larger than its
			 * (zero) blocks */
			e = (struct zextent){ .la = zf->n->size - len, .fragment = true };
			zf->out.fragment = true;
		} else {
			e.inline_tail = true;
			e.blocks = 0;
			zf->out.inline_tail = len;
		}
		zf->tail = tail;
		zf->tail_len = len;
		return add_extent(zf, e);
	}
	blk = calloc(1, blksz);
	if (blk)
		memcpy(blk + (plain ? 0 : blksz - len), tail, len);
	free(tail);
	if (!blk)
		return BFAIL(b, -ENOMEM, "out of memory");
	placer_hash(zf->c->pl, blk, blksz);
	err = add_extent(zf, e);
	if (err)
		free(blk);
	else
		err = keep_output(zf, NULL, blk, blk, 1);
	zf->out.blocks++;
	zf->out.pclusters = true;
	return err;
}

/* One segment taken from the pipeline; it is released here or held. */
static int take_segment(struct zfile *zf, struct zseg *s)
{
	struct eroot_builder *b = zf->c->b;
	/* the segment may be released before its tail is taken */
	uint8_t *tail = s->tail;
	uint32_t tail_len = s->tail_len;
	bool tail_plain = s->tail_plain;
	uint64_t blocks;
	int err = s->err ? BFAIL(b, s->err, "%s", s->errmsg) : 0;

	s->tail = NULL;
	if (!err)
		placer_hash(zf->c->pl, s->out, s->out_blocks << b->blkszbits);
	if (!err && zf->md)
		EVP_DigestUpdate(zf->md, s->digest, sizeof(s->digest));
	/* pclusters an earlier file has leave the segment's output */
	if (!err && b->opts.dedupe)
		err = zshare_segment(zf->c, s, zf->out.blocks);
	for (uint32_t i = 0; i < s->next && !err; i++) {
		struct zextent e = s->ext[i];

		if (!e.shared)
			e.blkaddr += (uint32_t)zf->out.blocks;
		err = add_extent(zf, e);
	}
	if (err) {
		free(tail);
		zpipe_release(zf->c->zpipe);
		return err;
	}
	zf->done += s->len;
	progress(zf->c, s->len);
	if (s->next)	/* shared ones too: then it is no whole-file fragment */
		zf->out.pclusters = true;
	blocks = s->out_blocks;
	err = keep_output(zf, s, NULL, s->out, blocks);
	zf->out.blocks += blocks;
	if (!err && tail)
		err = take_tail(zf, tail, tail_len, tail_plain);
	else
		free(tail);
	if (!err && !zf->placing && !zf->may_repeat &&
	    plan_compressed_certain(b, zf->n, zf->out.blocks, zf->done))
		err = start_placing(zf);
	return err;
}

/* Compressed it stays: its pclusters, tail and extents in place. */
static int place_kept(struct zfile *zf)
{
	struct copy *c = zf->c;
	struct bnode *n = zf->n;
	int err = zf->placing ? 0 : start_placing(zf);

	for (uint32_t i = 0; i < zf->next; i++)
		if (!zf->ext[i].fragment && !zf->ext[i].shared)
			zf->ext[i].blkaddr += zf->first;
	if (!err && c->b->opts.dedupe)
		zshare_commit(c, n, zf->first);
	n->extents = zf->ext;
	n->nextents = n->extents_cap = zf->next;
	zf->ext = NULL;
	if (!err && zf->out.inline_tail)
		err = placer_spill(c->pl, n, zf->tail, zf->tail_len);
	if (!err && zf->out.fragment)
		err = fragment_pack(c, n, zf->tail, zf->tail_len);
	return err;
}

/* After its last segment: the form, a twin under dedupe, then the bytes. */
static int finish(struct zfile *zf)
{
	struct eroot_builder *b = zf->c->b;
	struct bnode *n = zf->n;
	const struct bnode *twin = NULL;
	uint8_t digest[32];
	unsigned int len;
	int err;

	if (!plan_compressed_form(b, n, &zf->out)) {
		if (zf->placing)	/* plan_compressed_certain() said otherwise */
			return BFAIL(b, -EIO, "%s: compressed form undecided", n->src_path);
		drop_held(zf);
		return place_flat(zf->c, n, true);
	}
	if (zf->md) {
		EVP_DigestFinal_ex(zf->md, digest, &len);
		err = dedupe_lookup(zf->c, n, digest, &twin);
		if (err)
			return err;
	}
	if (!twin)
		return place_kept(zf);
	if (zf->placing)	/* a twin has an earlier file's size */
		return BFAIL(b, -EIO, "%s: placed before its twin was known", n->src_path);
	err = dedupe_share(b, n, twin);
	/* an inline tail is in @n's own record */
	if (!err && zf->out.inline_tail)
		err = placer_spill(zf->c->pl, n, zf->tail, zf->tail_len);
	return err;
}

/* The file's segments, compressed by the pipeline, taken in order. */
int place_compressed(struct copy *c, struct bnode *n)
{
	struct zfile zf = { .c = c, .n = n, .spool_fd = -1 };
	int err = 0;

	if (dedupes_files(c->b) && (!(zf.md = EVP_MD_CTX_new()) ||
				  !EVP_DigestInit_ex(zf.md, EVP_sha256(), NULL)))
		err = BFAIL(c->b, -ENOMEM, "out of memory or no SHA-256");
	zf.may_repeat = zf.md && dedupe_may_repeat(c, n);
	for (uint64_t off = 0; off < n->size && !err; ) {
		struct zseg *s;

		if (zf.in_ring == ZHOLD_IN_RING)
			err = spool_oldest(&zf);
		s = err ? NULL : zpipe_take(c->zpipe, n);
		if (!s) {
			err = err ? err : BFAIL(c->b, -EIO, "%s: compression pipeline out of step",
						n->src_path);
			break;
		}
		off += s->len;
		err = take_segment(&zf, s);
	}
	if (!err)
		err = finish(&zf);
	drop_held(&zf);
	free(zf.ext);
	free(zf.tail);
	EVP_MD_CTX_free(zf.md);
	return err;
}
