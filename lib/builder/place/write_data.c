// SPDX-License-Identifier: MIT
/*
 * Copy regular file data from the source into the image's data area, file
 * after file at the data cursor: flat files as full blocks (the inline tail
 * waits in the spill file for the metadata), sparse files chunk by chunk
 * (holes are not written, so the image file stays sparse), compressed files
 * through compress_file.c.
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
#include "builder/write/write.h"
#define COPY_BUF (1u << 20)

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

int emit(struct copy *c, const void *data, size_t len, uint64_t to)
{
	XXH3_128bits_update(c->hash, data, len);
	return pwrite_all(c->b, c->dst, data, len, to);
}

void progress(struct copy *c, uint64_t bytes)
{
	c->done += bytes;
	if (c->b->opts.progress)
		c->b->opts.progress(c->b->opts.progress_ctx, c->done, c->total);
}

/* Copy @len source bytes at @off to image offset @to. */
static int copy_range(struct copy *c, uint64_t off, uint64_t len, uint64_t to)
{
	while (len) {
		size_t n = len < COPY_BUF ? (size_t)len : COPY_BUF;
		int err = read_source(c, off, c->buf, n);

		if (!err)
			err = emit(c, c->buf, n, to);
		if (err)
			return err;
		dedupe_update(c, c->buf, n);
		off += n;
		to += n;
		len -= n;
		progress(c, n);
	}
	return 0;
}

int copy_flat(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	uint64_t body = n->size - n->tail_len;
	int err;

	n->blkaddr = (uint32_t)b->data_cursor;
	err = copy_range(c, 0, body, b->data_cursor << b->blkszbits);
	if (!err)
		err = zero_block_tail(b, c->dst, (b->data_cursor << b->blkszbits) + body);
	b->data_cursor += n->data_blocks;
	if (err || !n->tail_len)
		return err;
	err = read_source(c, body, c->buf, n->tail_len);
	if (!err)
		dedupe_update(c, c->buf, n->tail_len);
	if (!err)
		err = spill_tail(c, n, c->buf, n->tail_len);
	progress(c, n->tail_len);
	return err;
}

/* Inline tails wait in the spill file until the metadata is written. */
int spill_tail(struct copy *c, struct bnode *n, const void *data, uint32_t len)
{
	struct eroot_builder *b = c->b;

	if (pwrite(b->spill_fd, data, len, (off_t)b->spill_len) != (ssize_t)len)
		return BFAIL(b, -errno, "writing the tail spill file: %s", strerror(errno));
	n->tail_spill = b->spill_len;
	b->spill_len += len;
	return 0;
}

static int copy_chunks(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	int err = 0;

	for (uint32_t i = 0; i < n->nchunks && !err; i++) {
		uint64_t start = (uint64_t)i << n->chunkbits;
		uint64_t len = n->size - start < (1ull << n->chunkbits) ?
			       n->size - start : 1ull << n->chunkbits;

		if (n->chunk_addr[i] == EROFS_NULL_ADDR) {
			progress(c, len);
			continue;
		}
		n->chunk_addr[i] = (uint32_t)b->data_cursor;
		err = copy_range(c, start, len, b->data_cursor << b->blkszbits);
		if (!err)
			err = zero_block_tail(b, c->dst, (b->data_cursor << b->blkszbits) + len);
		b->data_cursor += (len + blksz_of(b) - 1) >> b->blkszbits;
	}
	return err;
}

/* The file's segments, compressed by the pipeline, placed in order. */
static int copy_compressed(struct copy *c, struct bnode *n)
{
	uint64_t first = c->b->data_cursor, done = c->done;
	int err = 0;

	for (uint64_t off = 0; off < n->size && !err; ) {
		struct zseg *s = zpipe_take(c->zpipe, n);

		if (!s)
			return BFAIL(c->b, -EIO, "%s: compression pipeline out of step", n->src_path);
		off += s->len;
		err = place_segment(c, n, s);
		zpipe_release(c->zpipe);
	}
	return err ? err : finish_compressed(c, n, first, done);
}

static int copy_file(struct copy *c)
{
	struct eroot_builder *b = c->b;
	struct bnode *n = c->n;
	uint64_t first = b->data_cursor;
	struct stat st;
	uint8_t probe;
	int err;

	if (!n->staged && (fstat(c->src, &st) < 0 || (uint64_t)st.st_size != n->size))
		return BFAIL(b, -EIO, "%s: file changed during the build", n->src_path);
	if (n->datalayout != EROFS_INODE_CHUNK_BASED && (err = dedupe_begin(c)))
		return err;
	switch (n->datalayout) {
	case EROFS_INODE_CHUNK_BASED:
		err = copy_chunks(c, n);
		break;
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT:
		err = n->frag_all ? copy_to_packed(c, n) : copy_compressed(c, n);
		break;
	default:
		err = copy_flat(c, n);
	}
	if (!err && !n->staged && pread(c->src, &probe, 1, (off_t)n->size) > 0)
		err = BFAIL(b, -EIO, "%s: file grew during the build", n->src_path);
	if (!err && n->datalayout != EROFS_INODE_CHUNK_BASED)
		err = dedupe_finish(c, n, first);
	if (!err && b->data_cursor > UINT32_MAX)
		err = BFAIL(b, -EFBIG, "image too large: more than 2^32 blocks");
	return err;
}

int write_file_data(struct eroot_builder *b, int fd, void *hash_state)
{
	struct copy c = { .b = b, .dst = fd, .hash = hash_state };
	int err = 0;

	for (size_t i = 0; i < b->nnodes; i++)
		if (S_ISREG(b->nodes[i]->mode))
			c.total += b->nodes[i]->size;
	c.buf = malloc(COPY_BUF);
	if (!c.buf || (b->nprofiles && zpipe_new(b, &c.zpipe)))
		err = BFAIL(b, -ENOMEM, "cannot set up compression: out of memory or threads");
	for (size_t i = 0; !err; i++) {
		struct bnode *n;

		/* after the last file, the packed inode of fragments (if any)
		 * joins the list and is written like a file */
		if (i == b->nnodes && (b->packed || !uses_fragments(b) ||
				       (err = packed_add_inode(b)) || !b->packed))
			break;
		n = b->nodes[i];
		if (!S_ISREG(n->mode) || !n->size)
			continue;
		c.n = n;
		err = source_open(b, n, &c.src, &c.base);
		if (err) {
			err = BFAIL(b, err, "%s: %s", n->src_path, source_strerror(err));
			break;
		}
		posix_fadvise(c.src, (off_t)c.base, (off_t)n->size, POSIX_FADV_SEQUENTIAL);
		err = copy_file(&c);
		source_close(b, c.src);
	}
	zpipe_free(c.zpipe);
	dedupe_free(&c);
	free(c.buf);
	b->stats.data_bytes = c.done;
	return err;
}
