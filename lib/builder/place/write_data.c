// SPDX-License-Identifier: MIT
/*
 * Regular files' data into the image, file after file in nid order: flat
 * and sparse files through flat.c, compressed ones through zfile.c, whole
 * files into the packed inode through fragments.c.  The packed inode comes
 * last, once every fragment is in.  The hot list's files (all flat) come
 * first, in its order, so that what a boot reads lies together.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"
#include "builder/tree/tree.h"
#include "builder/place/place.h"

static int place_file(struct copy *c)
{
	struct eroot_builder *b = c->b;
	struct bnode *n = c->n;
	struct stat st;
	uint8_t probe;
	int err;

	if (source_may_change(n) && (fstat(c->src, &st) < 0 || (uint64_t)st.st_size != n->size))
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
	/* the files whose bytes did not pass by in order */
	if (!err && fingerprint_wanted(b, n) && !n->fp_done)
		err = fp_read_file(c, n);
	if (!err && source_may_change(n) && pread(c->src, &probe, 1, (off_t)n->size) > 0)
		err = BFAIL(b, -EIO, "%s: file grew during the build", n->src_path);
	return err;
}

int place_file_data(struct eroot_builder *b, struct placer *pl)
{
	struct copy c = { .b = b, .pl = pl };
	uint64_t packed = 0;		/* the packed inode's bytes, read twice */
	int err = 0;

	for (size_t i = 0; i < b->nnodes; i++)
		if (S_ISREG(b->nodes[i]->mode) && !b->nodes[i]->ref)
			c.total += b->nodes[i]->size;
	c.buf = malloc(COPY_BUF);
	if (!c.buf || (b->nprofiles && zpipe_new(b, &c.zpipe)))
		err = BFAIL(b, -ENOMEM, "cannot set up compression: out of memory or threads");
	for (size_t i = 0; !err && i < b->nhot_nodes + b->nnodes; i++) {
		bool hot_pass = i < b->nhot_nodes;
		struct bnode *n = hot_pass ? b->hot_nodes[i] : b->nodes[i - b->nhot_nodes];

		if (!hot_pass && n->hot)
			continue;	/* placed already */
		if (n->is_packed) {
			/* the last node: every fragment is in */
			uint64_t size;

			err = fragments_order(&c, &size);
			if (err)
				break;
			plan_packed_size(b, size);
			zpipe_packed_sized(c.zpipe);
			packed = size;
			c.total += size;	/* progress goes on through it */
		}
		if (n->ref && S_ISREG(n->mode) && fingerprint_wanted(b, n) && !n->fp_done)
			err = fp_read_ref(&c, n);	/* its input had none */
		if (err)
			break;
		if (!S_ISREG(n->mode) || !n->size || n->ref)
			continue;	/* (n->ref: its data stays in an input image) */
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
	fragments_free(&c);
	fp_free(&c);
	free(c.buf);
	/* file bytes, each once: not their pieces again in the packed inode */
	b->stats.data_bytes = c.done > packed ? c.done - packed : 0;
	return err;
}
