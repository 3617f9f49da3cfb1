// SPDX-License-Identifier: MIT
/*
 * A file's data read from its source (the source tree, the stage file or
 * the packed file: source/reopen.c), for every kind of placement.
 */
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
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

/* @hash is false where a digest pass hashed the bytes already; @check
 * matches the bytes against that pass. */
int copy_range(struct copy *c, uint64_t off, uint64_t len, uint64_t to, bool hash,
	       bool count, void *check)
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
		fp_update(c, c->buf, n);
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
