// SPDX-License-Identifier: MIT
/*
 * Compress one segment of a file into physical clusters (pclusters).
 *
 * Each pcluster is filled with as much input as its codec fits in at most
 * -C bytes, then rounded up to whole blocks with the compressed bytes at
 * the end (the zero padding lets the kernel decompress in place and find
 * where the stream starts).  Input that does not shrink by a block is
 * stored as a plain one-block pcluster.  Every pcluster but a segment's
 * last decodes to more than a block, and segments start on block
 * boundaries, so each pcluster starts in its own logical cluster, as the
 * indexes require.
 *
 * Segments have a fixed size, so the output is the same whether they are
 * compressed one after the other or by several threads (zpipe.c).  This
 * runs on worker threads: it touches only its segment and its worker.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"
#include "builder/place/place.h"
#include <openssl/sha.h>


static int seg_fail(struct zseg *s, int err, const char *what)
{
	s->err = err;
	snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", s->n->src_path, what);
	return err;
}

static int read_segment(const struct eroot_builder *b, struct zseg *s, uint8_t *buf)
{
	uint64_t base;
	size_t got = 0;
	int fd, err = source_open(b, s->n, &fd, &base);

	if (err)
		return seg_fail(s, err, source_strerror(err));
	while (got < s->len) {
		ssize_t r = pread(fd, buf + got, s->len - got, (off_t)(base + s->start + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			source_close(b, fd);
			return r < 0 ? seg_fail(s, -errno, strerror(errno)) :
			       seg_fail(s, -EIO, "file shrank during the build");
		}
		got += (size_t)r;
	}
	source_close(b, fd);
	return 0;
}

static int add_extent(struct zseg *s, uint64_t la, uint16_t blocks, bool plain)
{
	if (s->next == s->cap) {
		uint32_t more = s->cap ? s->cap * 2 : 16;
		struct zextent *e = realloc(s->ext, more * sizeof(*e));

		if (!e)
			return seg_fail(s, -ENOMEM, "out of memory");
		s->ext = e;
		s->cap = more;
	}
	/* blkaddr is relative to the segment until the writer places it */
	s->ext[s->next++] = (struct zextent){
		.la = la, .blkaddr = (uint32_t)s->out_blocks, .blocks = blocks, .plain = plain,
	};
	s->out_blocks += blocks;
	return 0;
}

/* Append @len bytes as @blocks blocks: data at the end (compressed) or at
 * the start (plain), zeros elsewhere. */
static void put_blocks(const struct eroot_builder *b, struct zseg *s, const uint8_t *data,
		       size_t len, uint32_t blocks, bool at_end)
{
	uint8_t *dst = s->out + (s->out_blocks << b->blkszbits);
	size_t total = (size_t)blocks << b->blkszbits, pad = total - len;

	memset(at_end ? dst : dst + len, 0, pad);
	memcpy(at_end ? dst + pad : dst, data, len);
}

/*
 * -E ztailpacking: the file's last logical cluster is compressed on its own
 * so that it can sit inline after the indexes (or stay plain if that is no
 * smaller).  The pclusters before it end on that cluster's boundary.
 */
static int compress_tail(const struct eroot_builder *b, struct zworker *w, struct zseg *s,
			 struct codec_state *st, size_t pos)
{
	const struct zprofile *p = profile_of(b, s->n);
	size_t len = s->len - pos, used = len;
	/* a fragment is compressed later, with the packed inode */
	long clen = b->opts.fragments ? 0 :
		    p->codec->compress(st, w->in + pos, &used, w->zout, blksz_of(b));

	if (clen < 0)
		return seg_fail(s, (int)clen, "compression failed");
	s->tail_plain = !(clen > 0 && used == len && (size_t)clen < len && w->zout[0]);
	s->tail_len = s->tail_plain ? (uint32_t)len : (uint32_t)clen;
	s->tail = malloc(s->tail_len);
	if (!s->tail)
		return seg_fail(s, -ENOMEM, "out of memory");
	memcpy(s->tail, s->tail_plain ? w->in + pos : w->zout, s->tail_len);
	return 0;
}

int compress_segment(const struct eroot_builder *b, struct zworker *w, struct zseg *s)
{
	const struct zprofile *p = profile_of(b, s->n);
	struct codec_state *st = zworker_state(b, w, s->n->zprofile);
	uint32_t blksz = blksz_of(b);
	size_t pos = 0, end = s->len;
	int err;

	s->out = malloc(s->len + blksz);
	if (!s->out || !st)
		return seg_fail(s, -ENOMEM, "out of memory");
	if (p->codec->enc_reset)
		p->codec->enc_reset(st);
	err = read_segment(b, s, w->in);
	if (!err && b->opts.dedupe)
		SHA256(w->in, s->len, s->digest);
	if ((b->opts.ztailpacking || b->opts.fragments) && !s->n->is_packed &&
	    s->start + s->len == s->n->size)
		end = (size_t)(((s->n->size - 1) & ~(uint64_t)(blksz - 1)) - s->start);
	/*
	 * After data that did not shrink, each next block is first probed
	 * with a one-block target: incompressible stretches then cost one
	 * small try per block instead of a full -C try, and the full target
	 * comes back as soon as a probe compresses.
	 */
	bool probing = false;

	while (!err && pos < end) {
		size_t used = end - pos < p->max_in ? end - pos : p->max_in, blocks;
		uint32_t target = probing ? blksz : p->pcluster_bytes;
		long clen = p->codec->compress(st, w->in + pos, &used, w->zout, target);

		if (clen < 0)
			return seg_fail(s, (int)clen, "compression failed");
		blocks = ((size_t)clen + blksz - 1) >> b->blkszbits;
		/* a stream starting with a zero byte would be taken for padding */
		if (clen > 0 && w->zout[0] && used > (blocks << b->blkszbits)) {
			if (probing && target < p->pcluster_bytes) {
				probing = false;	/* compressible again: full size */
				continue;
			}
			put_blocks(b, s, w->zout, (size_t)clen, (uint32_t)blocks, true);
			err = add_extent(s, s->start + pos, (uint16_t)blocks, false);
		} else {
			used = end - pos < blksz ? end - pos : blksz;
			put_blocks(b, s, w->in + pos, used, 1, false);
			err = add_extent(s, s->start + pos, 1, true);
			probing = true;
		}
		pos += used;
	}
	return err || end == s->len ? err : compress_tail(b, w, s, st, end);
}

void zseg_release(struct zseg *s)
{
	free(s->tail);
	free(s->out);
	free(s->ext);
	memset(s, 0, sizeof(*s));
}

static int push_extent(struct eroot_builder *b, struct bnode *n, struct zextent e)
{
	if (n->nextents == n->extents_cap) {
		uint32_t cap = n->extents_cap ? n->extents_cap * 2 : 16;
		struct zextent *v = realloc(n->extents, cap * sizeof(*v));

		if (!v)
			return BFAIL(b, -ENOMEM, "out of memory");
		n->extents = v;
		n->extents_cap = cap;
	}
	n->extents[n->nextents++] = e;
	return 0;
}

/*
 * The tail pcluster goes inline when the whole record (inode, xattrs,
 * indexes, tail) fits in one block, as the kernel requires; else into a
 * block of its own like any other pcluster.
 */
static int place_tail(struct copy *c, struct bnode *n, struct zseg *s)
{
	struct eroot_builder *b = c->b;
	uint32_t blksz = blksz_of(b);
	struct zextent e = {
		.la = (n->size - 1) & ~(uint64_t)(blksz - 1), .plain = s->tail_plain,
		.blkaddr = (uint32_t)b->data_cursor, .blocks = 1,
	};
	uint8_t *blk;
	int err;

	if (b->opts.fragments) {
		/* the raw tail goes to the packed inode, compressed there */
		/* a HEAD, never PLAIN: the kernel maps no blocks for a fragment
		 * and would find a plain one larger than its (zero) blocks */
		e.fragment = true;
		e.plain = false;
		e.blocks = 0;
		e.blkaddr = 0;
		err = packed_append(b, n, s->tail, s->tail_len);
		return err ? err : push_extent(b, n, e);
	}
	if (zindex_size(b, inode_base_size(n), n->size) + s->tail_len <= blksz) {
		e.inline_tail = true;
		e.blocks = 0;
		n->ztail_inline = true;
		n->tail_len = s->tail_len;
		err = spill_tail(c, n, s->tail, s->tail_len);
		return err ? err : push_extent(b, n, e);
	}
	blk = calloc(1, blksz);
	if (!blk)
		return BFAIL(b, -ENOMEM, "out of memory");
	memcpy(blk + (s->tail_plain ? 0 : blksz - s->tail_len), s->tail, s->tail_len);
	err = emit(c, blk, blksz, b->data_cursor << b->blkszbits);
	free(blk);
	n->compressed_blocks++;
	b->data_cursor++;
	return err ? err : push_extent(b, n, e);
}

/* Place a finished segment at the data cursor and take its extents. */
int place_segment(struct copy *c, struct bnode *n, struct zseg *s)
{
	struct eroot_builder *b = c->b;
	int err;

	if (s->err)
		return BFAIL(b, s->err, "%s", s->errmsg);
	err = emit(c, s->out, s->out_blocks << b->blkszbits, b->data_cursor << b->blkszbits);
	if (err)
		return err;
	if (n->nextents + s->next > n->extents_cap) {
		uint32_t cap = (n->nextents + s->next) * 2;
		struct zextent *e = realloc(n->extents, cap * sizeof(*e));

		if (!e)
			return BFAIL(b, -ENOMEM, "out of memory");
		n->extents = e;
		n->extents_cap = cap;
	}
	for (uint32_t i = 0; i < s->next; i++) {
		struct zextent e = s->ext[i];

		e.blkaddr += (uint32_t)b->data_cursor;
		n->extents[n->nextents++] = e;
	}
	n->compressed_blocks += (uint32_t)s->out_blocks;
	b->data_cursor += s->out_blocks;
	dedupe_update(c, s->digest, sizeof(s->digest));
	progress(c, s->len);
	return s->tail ? place_tail(c, n, s) : 0;
}

/* Called once the file's segments are placed: keep it, or store it flat. */
int finish_compressed(struct copy *c, struct bnode *n, uint64_t first, uint64_t done)
{
	struct eroot_builder *b = c->b;
	uint32_t blksz = blksz_of(b);
	uint64_t full = n->size & ~(uint64_t)(blksz - 1), rest = n->size - full;
	/* what flat storage would take: full blocks, then an inline tail
	 * (when it can be inline) or one more block */
	uint64_t flat = full + (rest && inode_base_size(n) + rest <= blksz ? rest :
				rest ? blksz : 0);
	int err;

	if (((uint64_t)n->compressed_blocks << b->blkszbits) + (n->ztail_inline ? n->tail_len : 0) <
	    flat || (n->has_fragment && !n->compressed_blocks)) {
		b->compressed_any = true;
		b->profiles_used |= 1u << n->zprofile;
		b->algs_used |= (uint16_t)(1u << profile_of(b, n)->codec->alg);
		return 0;
	}
	/* no block saved: store it flat, over what was just written */
	free(n->extents);
	n->extents = NULL;
	n->nextents = n->extents_cap = 0;
	n->compressed_blocks = 0;
	n->ztail_inline = false;
	n->tail_len = 0;
	if (n->has_fragment)
		b->packed_len = n->frag_off;	/* give back its fragment */
	n->has_fragment = false;
	b->data_cursor = first;
	c->done = done;
	layout_plan_flat(b, n);
	err = dedupe_begin(c);	/* the digest restarts over the flat copy */
	return err ? err : copy_flat(c, n);
}
