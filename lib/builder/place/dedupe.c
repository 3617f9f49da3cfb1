// SPDX-License-Identifier: MIT
/*
 * Whole-file deduplication (-E dedupe): a regular file whose content equals
 * an earlier file's points its inode at that file's data (blocks, or
 * compressed pclusters, or fragment) instead of keeping a copy.  Files are
 * compared by SHA-256 of their content (compressed files: of their
 * segments' SHA-256s, taken by the compressing threads), known before the
 * file is placed: a duplicate is never written.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/place/place.h"

struct dedupe_slot {
	uint8_t digest[32];
	const struct bnode *n;
};

struct dedupe {
	struct dedupe_slot *slots;
	size_t cap, used;
	uint64_t *sizes;		/* of the files seen, + 1; 0: empty */
	size_t sizes_cap, sizes_used;
};

int dedupe_digest_source(struct copy *c, struct bnode *n, bool uuid_body, const uint64_t *to,
			 uint8_t *digest, uint64_t *check)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	XXH3_state_t *st = XXH3_createState();
	uint64_t body = n->size - n->tail_len;
	unsigned int len;
	int err = 0;

	if (!md || !st || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		err = BFAIL(c->b, -ENOMEM, "out of memory or no SHA-256");
	if (st)
		XXH3_64bits_reset(st);
	for (uint64_t off = 0; !err && off < n->size; ) {
		size_t piece = n->size - off < COPY_BUF ? (size_t)(n->size - off) : COPY_BUF;

		err = read_source(c, off, c->buf, piece);
		if (err)
			break;
		EVP_DigestUpdate(md, c->buf, piece);
		XXH3_64bits_update(st, c->buf, piece);
		if (off < body && (uuid_body || to)) {
			size_t part = body - off < piece ? (size_t)(body - off) : piece;

			if (uuid_body)
				placer_hash(c->pl, c->buf, part);
			if (to)
				err = placer_write(c->pl, c->buf, part, *to + off);
		}
		off += piece;
	}
	if (!err) {
		EVP_DigestFinal_ex(md, digest, &len);
		*check = XXH3_64bits_digest(st);
	}
	XXH3_freeState(st);
	EVP_MD_CTX_free(md);
	return err;
}

/* Where @size is in the set of sizes seen, or the free slot for it. */
static uint64_t *find_size(const struct dedupe *d, uint64_t size)
{
	size_t i = (size_t)(size * 0x9e3779b97f4a7c15ull) & (d->sizes_cap - 1);

	while (d->sizes[i] && d->sizes[i] != size + 1)
		i = (i + 1) & (d->sizes_cap - 1);
	return &d->sizes[i];
}

static int note_size(struct dedupe *d, uint64_t size)
{
	if ((d->sizes_used + 1) * 2 > d->sizes_cap) {
		struct dedupe bigger = { .sizes_cap = d->sizes_cap ? d->sizes_cap * 2 : 1024 };

		bigger.sizes = calloc(bigger.sizes_cap, sizeof(*bigger.sizes));
		if (!bigger.sizes)
			return -ENOMEM;
		for (size_t i = 0; i < d->sizes_cap; i++)
			if (d->sizes[i])
				*find_size(&bigger, d->sizes[i] - 1) = d->sizes[i];
		free(d->sizes);
		d->sizes = bigger.sizes;
		d->sizes_cap = bigger.sizes_cap;
	}
	if (!*find_size(d, size)) {
		*find_size(d, size) = size + 1;
		d->sizes_used++;
	}
	return 0;
}

/*
 * Whether an earlier file had @n's size: only then can @n be a duplicate
 * (a twin has its content, so its size).  A file of a new size is placed
 * as its digest is taken, in one read.
 */
bool dedupe_may_repeat(const struct copy *c, const struct bnode *n)
{
	return c->dedupe && c->dedupe->sizes_cap && *find_size(c->dedupe, n->size);
}

static struct dedupe_slot *find(struct dedupe *d, const uint8_t *digest)
{
	size_t i;

	memcpy(&i, digest, sizeof(i));
	for (i &= d->cap - 1; d->slots[i].n; i = (i + 1) & (d->cap - 1))
		if (!memcmp(d->slots[i].digest, digest, 32))
			return &d->slots[i];
	return &d->slots[i];
}

static int grow(struct dedupe *d)
{
	struct dedupe bigger = { .cap = d->cap ? d->cap * 2 : 1024 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < d->cap; i++)
		if (d->slots[i].n)
			*find(&bigger, d->slots[i].digest) = d->slots[i];
	free(d->slots);
	d->slots = bigger.slots;
	d->cap = bigger.cap;
	return 0;
}

/* Same content, same storage class: the earlier data can serve @n. */
static bool can_share(const struct bnode *n, const struct bnode *m)
{
	if (n->size != m->size || is_compressed(n) != is_compressed(m) ||
	    n->ztail_inline != m->ztail_inline || n->has_fragment != m->has_fragment ||
	    n->frag_all != m->frag_all)
		return false;
	/* compressed: the inode names the algorithm and pcluster size its
	 * pclusters were made with, so only a file of the same profile may
	 * point at them (whole-file fragments have none of their own) */
	if (is_compressed(n))
		return n->frag_all || (n->zprofile == m->zprofile &&
				       /* @n's record was sized for its own
					* indexes: @m's may not be larger */
				       (n->datalayout == m->datalayout ||
					n->datalayout == EROFS_INODE_COMPRESSED_FULL));
	/* flat: @n's full blocks must be a prefix of @m's (its tail may be
	 * inline where @m's is not, never the other way round) */
	return n->data_blocks <= m->data_blocks;
}

int dedupe_lookup(struct copy *c, struct bnode *n, const uint8_t *digest,
		  const struct bnode **twin)
{
	struct dedupe *d = c->dedupe;
	struct dedupe_slot *slot;

	*twin = NULL;
	if (!d && !(d = c->dedupe = calloc(1, sizeof(*d))))
		return BFAIL(c->b, -ENOMEM, "out of memory");
	if (((d->used + 1) * 2 > d->cap && grow(d)) || note_size(d, n->size))
		return BFAIL(c->b, -ENOMEM, "out of memory");
	slot = find(d, digest);
	if (!slot->n) {
		memcpy(slot->digest, digest, 32);
		slot->n = n;
		d->used++;
	} else if (can_share(n, slot->n)) {
		*twin = slot->n;
	}
	return 0;
}

int dedupe_share(struct eroot_builder *b, struct bnode *n, const struct bnode *m)
{
	if (is_compressed(n) && m->nextents) {
		struct zextent *e = malloc(m->nextents * sizeof(*e));

		if (!e)
			return BFAIL(b, -ENOMEM, "out of memory");
		memcpy(e, m->extents, m->nextents * sizeof(*e));
		free(n->extents);
		n->extents = e;
		n->nextents = n->extents_cap = m->nextents;
		n->compressed_blocks = m->compressed_blocks;
		n->datalayout = m->datalayout;
	} else {
		n->blkaddr = m->blkaddr;
	}
	if (n->has_fragment)
		n->frag_off = m->frag_off;
	b->stats.deduped++;
	return 0;
}

void dedupe_free(struct copy *c)
{
	zshare_free(c);
	if (c->dedupe) {
		free(c->dedupe->slots);
		free(c->dedupe->sizes);
	}
	free(c->dedupe);
}
