// SPDX-License-Identifier: MIT
/*
 * Copy regular file data from the source into the image: full blocks into
 * the data area, the inline tail after the inode, chunk by chunk for
 * sparse files (holes are not written, so the image file stays sparse).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder.h"

#define COPY_BUF (1u << 20)

struct copy {
	struct eroot_builder *b;
	struct bnode *n;
	int src, dst;
	uint8_t *buf;
	void *hash;
	uint64_t done, total;
};

static int read_exact(struct copy *c, uint64_t off, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(c->src, c->buf + got, len - got, (off_t)(off + got));

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

/* Copy @len source bytes at @off to image offset @to. */
static int copy_range(struct copy *c, uint64_t off, uint64_t len, uint64_t to)
{
	while (len) {
		size_t n = len < COPY_BUF ? (size_t)len : COPY_BUF;
		int err = read_exact(c, off, n);

		if (!err)
			err = pwrite_all(c->b, c->dst, c->buf, n, to);
		if (err)
			return err;
		XXH3_128bits_update(c->hash, c->buf, n);
		off += n;
		to += n;
		len -= n;
		c->done += n;
		if (c->b->opts.progress)
			c->b->opts.progress(c->b->opts.progress_ctx, c->done, c->total);
	}
	return 0;
}

static int copy_file(struct copy *c)
{
	struct eroot_builder *b = c->b;
	struct bnode *n = c->n;
	uint64_t body = n->size - n->tail_len;
	struct stat st;
	int err = 0;
	uint8_t probe;

	if (fstat(c->src, &st) < 0 || (uint64_t)st.st_size != n->size)
		return BFAIL(b, -EIO, "%s: file changed during the build", n->src_path);
	if (n->datalayout == EROFS_INODE_CHUNK_BASED) {
		for (uint32_t i = 0; i < n->nchunks && !err; i++) {
			uint64_t start = (uint64_t)i << n->chunkbits;
			uint64_t len = n->size - start < (1ull << n->chunkbits) ?
				       n->size - start : 1ull << n->chunkbits;

			if (n->chunk_addr[i] != EROFS_NULL_ADDR)
				err = copy_range(c, start, len,
						 (uint64_t)n->chunk_addr[i] << b->blkszbits);
			else
				c->done += len;
		}
	} else {
		err = copy_range(c, 0, body, (uint64_t)n->blkaddr << b->blkszbits);
		if (!err && n->tail_len) {
			uint64_t at = ((uint64_t)b->meta_blkaddr << b->blkszbits) +
				      n->nid * EROFS_ISLOT_SIZE +
				      (n->extended ? EROFS_INODE_EXTENDED_SIZE : EROFS_INODE_COMPACT_SIZE) +
				      n->ibody_size;
			err = copy_range(c, body, n->tail_len, at);
		}
	}
	if (!err && pread(c->src, &probe, 1, (off_t)n->size) > 0)
		err = BFAIL(b, -EIO, "%s: file grew during the build", n->src_path);
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
	if (!c.buf)
		return BFAIL(b, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nnodes && !err; i++) {
		struct bnode *n = b->nodes[i];

		if (!S_ISREG(n->mode) || !n->size)
			continue;
		c.n = n;
		c.src = open(n->src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (c.src < 0) {
			err = BFAIL(b, -errno, "%s: %s", n->src_path, strerror(errno));
			break;
		}
		posix_fadvise(c.src, 0, 0, POSIX_FADV_SEQUENTIAL);
		err = copy_file(&c);
		close(c.src);
	}
	free(c.buf);
	b->stats.data_bytes = c.done;
	return err;
}
