// SPDX-License-Identifier: MIT
/*
 * Regular file data from the source into the image, file after file in nid
 * order: flat files as full blocks (the inline tail waits in the spill file
 * for the metadata), sparse files chunk by chunk (holes are not written, so
 * the image file stays sparse), compressed files through zfile.c, whole
 * files into the packed inode through fragments.c; the packed inode last.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"
#include "builder/place/place.h"

int read_source(struct copy *c, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(c->src, p + got, len - got, (off_t)(c->base + off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return BFAIL(c->b, -errno, "%s: read error: %s", c->n->src_path, strerror(errno));
		if (r == 0)
			return BFAIL(c->b, -EIO, "%s: file shrank during the build", c->n->src_path);
		got += (size_t)r;
	}
	return 0;
}

void progress(struct copy *c, uint64_t bytes)
{
	c->done += bytes;
	if (c->b->opts.progress)
		c->b->opts.progress(c->b->opts.progress_ctx, c->done, c->total);
}

/*
 * Copy @len source bytes at @off to image byte @to, in reserved blocks.
 * @hash: into the UUID hash too (not when a digest pass already did).
 * @check: XXH3 of the bytes, to match the digest pass's (NULL: none).
 */
static int copy_range(struct copy *c, uint64_t off, uint64_t len, uint64_t to, bool hash,
		      bool count, XXH3_state_t *check)
{
	while (len) {
		size_t n = len < COPY_BUF ? (size_t)len : COPY_BUF;
		int err = read_source(c, off, c->buf, n);

		if (!err)
			err = placer_write(c->pl, c->buf, n, to);
		if (err)
			return err;
		if (hash)
			placer_hash(c->pl, c->buf, n);
		if (check)
			XXH3_64bits_update(check, c->buf, n);
		off += n;
		to += n;
		len -= n;
		if (count)
			progress(c, n);
	}
	return 0;
}

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
	uint64_t body = n->size - n->tail_len, check = 0, told = c->done, to;
	const struct bnode *twin = NULL;
	bool held = false;
	uint8_t digest[32];
	int err = 0;

	if (b->opts.dedupe) {
		/* the body goes to the UUID hash here, shared or not */
		err = dedupe_digest_source(c, n, true, digest, &check);
		if (!err)
			err = dedupe_lookup(c, n, digest, &twin);
		if (err)
			return err;
		held = n->size <= COPY_BUF;
	}
	if (twin) {
		err = dedupe_share(b, n, twin);
	} else {
		err = placer_reserve(c->pl, n->data_blocks, &n->blkaddr);
		to = (uint64_t)n->blkaddr << b->blkszbits;
		if (!err && held)
			err = placer_write(c->pl, c->buf, body, to);
		else if (!err && b->opts.dedupe)
			err = copy_checked(c, n, body, to, check);
		else if (!err)
			err = copy_range(c, 0, body, to, true, !counted, NULL);
		if (!err)
			err = placer_zero_tail(c->pl, to + body);
	}
	/* the tail is inline in @n's own inode, shared or not */
	if (!err && n->tail_len && !held)
		err = read_source(c, body, c->buf, n->tail_len);
	if (!err && n->tail_len)
		err = placer_spill(c->pl, n, held ? c->buf + body : c->buf, n->tail_len);
	if (!counted)
		progress(c, n->size - (c->done - told));
	return err;
}

static int place_chunks(struct copy *c, struct bnode *n)
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
		if (!err)
			err = placer_zero_tail(c->pl, to + len);
	}
	return err;
}

static int place_file(struct copy *c)
{
	struct eroot_builder *b = c->b;
	struct bnode *n = c->n;
	struct stat st;
	uint8_t probe;
	int err;

	if (!n->staged && !n->is_packed &&
	    (fstat(c->src, &st) < 0 || (uint64_t)st.st_size != n->size))
		return BFAIL(b, -EIO, "%s: file changed during the build", n->src_path);
	switch (n->datalayout) {
	case EROFS_INODE_CHUNK_BASED:
		err = place_chunks(c, n);
		break;
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT:
		err = n->frag_all ? place_all_fragment(c, n) : place_compressed(c, n);
		break;
	default:
		err = place_flat(c, n, false);
	}
	if (!err && !n->staged && !n->is_packed && pread(c->src, &probe, 1, (off_t)n->size) > 0)
		err = BFAIL(b, -EIO, "%s: file grew during the build", n->src_path);
	return err;
}

int place_file_data(struct eroot_builder *b, struct placer *pl)
{
	struct copy c = { .b = b, .pl = pl, .spool_fd = -1 };
	int err = 0;

	for (size_t i = 0; i < b->nnodes; i++)
		if (S_ISREG(b->nodes[i]->mode))
			c.total += b->nodes[i]->size;
	c.buf = malloc(COPY_BUF);
	if (!c.buf || (b->nprofiles && zpipe_new(b, &c.zpipe)))
		err = BFAIL(b, -ENOMEM, "cannot set up compression: out of memory or threads");
	for (size_t i = 0; !err && i < b->nnodes; i++) {
		struct bnode *n = b->nodes[i];

		if (n->is_packed) {
			/* the last node: every fragment is in */
			plan_packed_size(b, placer_packed_len(pl));
			zpipe_packed_sized(c.zpipe);
		}
		if (!S_ISREG(n->mode) || !n->size)
			continue;
		c.n = n;
		err = source_open(b, n, &c.src, &c.base);
		if (err) {
			err = BFAIL(b, err, "%s: %s", n->src_path, source_strerror(err));
			break;
		}
		posix_fadvise(c.src, (off_t)c.base, (off_t)n->size, POSIX_FADV_SEQUENTIAL);
		err = place_file(&c);
		source_close(b, c.src);
	}
	zpipe_free(c.zpipe);
	dedupe_free(&c);
	if (c.spool_fd >= 0)
		close(c.spool_fd);
	free(c.buf);
	b->stats.data_bytes = c.done;
	return err;
}
