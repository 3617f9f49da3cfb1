// SPDX-License-Identifier: MIT
/*
 * Fragments (-E fragments, -E all-fragments): the tails of compressed files,
 * or whole files, are gathered into one special "packed" inode, which is
 * then compressed like any file, so small pieces share pclusters instead of
 * each taking a block.  A file points at its piece by offset (the map
 * header's h_fragmentoff, or a whole 63-bit offset for all-fragments).
 * The plan has the packed inode last; its data waits in the packed file
 * (placer.c) until every other file is placed.  Tails go there from
 * zfile.c once their file's form is decided; whole files from here.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/place/place.h"

/* -E all-fragments: the whole file goes to the packed inode. */
int place_all_fragment(struct copy *c, struct bnode *n)
{
	struct eroot_builder *b = c->b;
	const struct bnode *twin = NULL;
	XXH3_state_t *st = NULL;
	uint64_t check = 0, at;
	uint8_t digest[32];
	int err = 0;

	if (b->opts.dedupe) {
		err = dedupe_digest_source(c, n, false, NULL, digest, &check);
		if (!err)
			err = dedupe_lookup(c, n, digest, &twin);
		if (!err && twin)
			err = dedupe_share(b, n, twin);
		if (err || twin) {
			progress(c, n->size);
			return err;
		}
		if (n->size <= COPY_BUF) {	/* still in c->buf */
			err = placer_pack(c->pl, c->buf, n->size, &n->frag_off);
			progress(c, n->size);
			return err;
		}
	}
	/* read again after a digest pass: it must be what the digest saw */
	if (b->opts.dedupe && !(st = XXH3_createState()))
		return BFAIL(b, -ENOMEM, "out of memory");
	if (st)
		XXH3_64bits_reset(st);
	for (uint64_t off = 0; off < n->size && !err; ) {
		size_t len = n->size - off < COPY_BUF ? (size_t)(n->size - off) : COPY_BUF;

		err = read_source(c, off, c->buf, len);
		if (!err)
			err = placer_pack(c->pl, c->buf, len, &at);
		if (!err && !off)
			n->frag_off = at;
		if (st)
			XXH3_64bits_update(st, c->buf, len);
		off += len;
		progress(c, len);
	}
	if (!err && st && XXH3_64bits_digest(st) != check)
		err = BFAIL(b, -EIO, "%s: file changed during the build", n->src_path);
	XXH3_freeState(st);
	return err;
}
