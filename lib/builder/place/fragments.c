// SPDX-License-Identifier: MIT
/*
 * Fragments (-E fragments, -E all-fragments): the final extents of
 * compressed files (what is left once no more than a pcluster of input
 * remains), and whole files no larger than a pcluster, or every file
 * (all-fragments), are gathered into one special "packed" inode, which is
 * then compressed like any file, so small pieces share big pclusters
 * instead of each taking a block.  A file points at its piece by offset
 * (the map header's h_fragmentoff, or a whole 63-bit offset when all of
 * the file is there).
 *
 * Pieces arrive as files are placed, in nid order, and wait in the packed
 * file next to the image (placer.c), not in memory.  An identical piece
 * is stored once: later files take the earlier offset.  Once every piece
 * is in, they are laid out again sorted by their file's name (extension,
 * then basename, then path), so that similar content sits in the same
 * pclusters, and every offset is moved to match before the metadata is
 * written.  All of it runs in the placing thread, in nid order: the
 * output does not depend on the number of workers.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/files.h"
#include "builder/place/place.h"

struct frag_piece {
	uint64_t off, len;		/* in the packed file as gathered */
	uint64_t sorted_off;		/* in the packed inode, once sorted */
	const struct bnode *owner;	/* the first file it came from */
	uint64_t hash;			/* XXH3-64 of its bytes */
	bool shareable;			/* hashed; streamed pieces are not */
};

struct fragments {
	struct frag_piece *pieces;	/* in gathering order: offsets rise */
	size_t npieces, cap;
	uint32_t *slots;		/* open addressing: piece index + 1 */
	size_t nslots, nshared;
	uint8_t *cmp;			/* an earlier piece read back, COPY_BUF */
};

static struct fragments *fragments_of(struct copy *c)
{
	if (!c->frags)
		c->frags = calloc(1, sizeof(*c->frags));
	return c->frags;
}

static int grow_slots(struct fragments *f)
{
	size_t nslots = f->nslots ? f->nslots * 2 : 4096;
	uint32_t *v = calloc(nslots, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->nslots; i++) {
		uint32_t k = f->slots[i];
		size_t h;

		if (!k)
			continue;
		for (h = f->pieces[k - 1].hash & (nslots - 1); v[h]; h = (h + 1) & (nslots - 1))
			;
		v[h] = k;
	}
	free(f->slots);
	f->slots = v;
	f->nslots = nslots;
	return 0;
}

static int add_piece(struct copy *c, struct frag_piece p)
{
	struct fragments *f = c->frags;

	if (f->npieces == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		struct frag_piece *v = realloc(f->pieces, cap * sizeof(*v));

		if (!v)
			return BFAIL(c->b, -ENOMEM, "out of memory");
		f->pieces = v;
		f->cap = cap;
	}
	f->pieces[f->npieces++] = p;
	if (!p.shareable)
		return 0;
	if ((f->nshared + 1) * 2 > f->nslots && grow_slots(f))
		return BFAIL(c->b, -ENOMEM, "out of memory");
	size_t h = p.hash & (f->nslots - 1);

	while (f->slots[h])
		h = (h + 1) & (f->nslots - 1);
	f->slots[h] = (uint32_t)f->npieces;
	f->nshared++;
	return 0;
}

/* An earlier piece with exactly these bytes, or NULL. */
static int find_equal(struct copy *c, const uint8_t *data, size_t len, uint64_t hash,
		      const struct frag_piece **found)
{
	struct fragments *f = c->frags;

	*found = NULL;
	if (!f->nslots)
		return 0;
	for (size_t h = hash & (f->nslots - 1); f->slots[h]; h = (h + 1) & (f->nslots - 1)) {
		const struct frag_piece *p = &f->pieces[f->slots[h] - 1];

		if (p->hash != hash || p->len != len)
			continue;
		if (!f->cmp && !(f->cmp = malloc(COPY_BUF)))
			return BFAIL(c->b, -ENOMEM, "out of memory");
		/* a hash is no proof: compare the bytes */
		if (pread(c->b->packed_fd, f->cmp, len, (off_t)p->off) != (ssize_t)len)
			return BFAIL(c->b, -EIO, "reading the fragment file");
		if (!memcmp(f->cmp, data, len)) {
			*found = p;
			return 0;
		}
	}
	return 0;
}

int fragment_pack(struct copy *c, struct bnode *n, const uint8_t *data, size_t len)
{
	const struct frag_piece *twin;
	uint64_t hash = XXH3_64bits(data, len);
	int err;

	if (!fragments_of(c))
		return BFAIL(c->b, -ENOMEM, "out of memory");
	err = len <= COPY_BUF ? find_equal(c, data, len, hash, &twin) : 0;
	if (err)
		return err;
	if (len <= COPY_BUF && twin) {
		n->frag_off = twin->off;
		return 0;
	}
	err = placer_pack(c->pl, data, len, &n->frag_off);
	if (!err)
		err = add_piece(c, (struct frag_piece){
			.off = n->frag_off, .len = len, .owner = n, .hash = hash,
			.shareable = len <= COPY_BUF,
		});
	return err;
}

/* -E all-fragments, fragments: the whole file goes to the packed inode. */
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
			err = fragment_pack(c, n, c->buf, n->size);
			progress(c, n->size);
			return err;
		}
	} else if (n->size <= COPY_BUF) {
		err = read_source(c, 0, c->buf, n->size);
		if (!err)
			err = fragment_pack(c, n, c->buf, n->size);
		progress(c, n->size);
		return err;
	}
	if (!fragments_of(c))
		return BFAIL(b, -ENOMEM, "out of memory");
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
	if (!err)	/* too large to share: no hash */
		err = add_piece(c, (struct frag_piece){ .off = n->frag_off, .len = n->size,
							.owner = n });
	return err;
}

/* The sort key of a piece: its first file's name. */
struct frag_key {
	const char *ext, *base, *path;
	size_t piece;
};

static int key_cmp(const void *pa, const void *pb)
{
	const struct frag_key *a = pa, *b = pb;
	int r = strcmp(a->ext, b->ext);

	if (!r)
		r = strcmp(a->base, b->base);
	if (!r)
		r = strcmp(a->path, b->path);
	return r ? r : a->piece < b->piece ? -1 : a->piece > b->piece;
}

static struct frag_key key_of(const struct frag_piece *p, size_t i)
{
	const char *path = p->owner->src_path ? p->owner->src_path : "";
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return (struct frag_key){
		.ext = dot && dot != base ? dot + 1 : "", .base = base, .path = path, .piece = i,
	};
}

/* Copy @p from the gathered file to the end of @fd, at *@end. */
static int copy_piece(struct copy *c, int fd, struct frag_piece *p, uint64_t *end)
{
	p->sorted_off = *end;
	for (uint64_t off = 0; off < p->len; ) {
		size_t len = p->len - off < COPY_BUF ? (size_t)(p->len - off) : COPY_BUF;

		if (pread(c->b->packed_fd, c->buf, len, (off_t)(p->off + off)) != (ssize_t)len)
			return BFAIL(c->b, -EIO, "reading the fragment file");
		if (pwrite_all(c->b, fd, c->buf, len, *end))
			return -EIO;
		off += len;
		*end += len;
	}
	return 0;
}

/* The piece holding gathered offset @off (pieces are in offset order). */
static const struct frag_piece *piece_at(const struct fragments *f, uint64_t off)
{
	size_t lo = 0, hi = f->npieces;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->pieces[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &f->pieces[lo];
}

int fragments_order(struct copy *c, uint64_t *size)
{
	struct eroot_builder *b = c->b;
	struct fragments *f = c->frags;
	struct frag_key *keys;
	uint64_t end = 0;
	int fd, err = 0;

	*size = placer_packed_len(c->pl);
	if (!f || !f->npieces)
		return 0;
	keys = malloc(f->npieces * sizeof(*keys));
	if (!keys)
		return BFAIL(b, -ENOMEM, "out of memory");
	for (size_t i = 0; i < f->npieces; i++)
		keys[i] = key_of(&f->pieces[i], i);
	qsort(keys, f->npieces, sizeof(*keys), key_cmp);
	fd = unnamed_tmpfile(placer_dir(c->pl));
	if (fd < 0) {
		free(keys);
		return BFAIL(b, fd, "cannot create the fragment file in %s: %s",
			     placer_dir(c->pl), strerror(-fd));
	}
	for (size_t i = 0; i < f->npieces && !err; i++)
		err = copy_piece(c, fd, &f->pieces[keys[i].piece], &end);
	free(keys);
	if (!err && end != *size)
		err = BFAIL(b, -EIO, "fragment file: %llu bytes sorted of %llu",
			    (unsigned long long)end, (unsigned long long)*size);
	if (err) {
		close(fd);
		return err;
	}
	close(b->packed_fd);
	b->packed_fd = fd;
	/* every file pointing into the packed inode follows its piece; files
	 * sharing a piece (or a whole file's, -E dedupe) share the move */
	for (size_t i = 0; i < b->nnodes; i++) {
		struct bnode *n = b->nodes[i];
		const struct frag_piece *p;

		if (!n->has_fragment || n->is_packed)
			continue;
		p = piece_at(f, n->frag_off);
		n->frag_off = p->sorted_off + (n->frag_off - p->off);
	}
	return 0;
}

void fragments_free(struct copy *c)
{
	if (!c->frags)
		return;
	free(c->frags->pieces);
	free(c->frags->slots);
	free(c->frags->cmp);
	free(c->frags);
	c->frags = NULL;
}
