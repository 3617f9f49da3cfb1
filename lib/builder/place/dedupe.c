// SPDX-License-Identifier: MIT
/*
 * Whole-file deduplication (-E dedupe): a regular file whose content equals
 * an earlier file's points its inode at that file's data (blocks, or
 * compressed pclusters) instead of keeping a copy.  Files are compared by
 * SHA-256 of their content (compressed files: of their segments' SHA-256s),
 * taken while the data is written anyway, so nothing is read twice; the
 * copy just written is given back by rewinding the data cursor.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "builder/builder.h"
#include "builder/place/place.h"
struct dedupe_slot {
	uint8_t digest[32];
	struct bnode *n;
};

struct dedupe {
	struct dedupe_slot *slots;
	size_t cap, used;
};

int dedupe_begin(struct copy *c)
{
	if (!c->b->opts.dedupe)
		return 0;
	if (!c->md && !(c->md = EVP_MD_CTX_new()))
		return BFAIL(c->b, -ENOMEM, "out of memory");
	return EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) ? 0 :
	       BFAIL(c->b, -EIO, "SHA-256 unavailable");
}

void dedupe_update(struct copy *c, const void *data, size_t len)
{
	if (c->md && c->b->opts.dedupe)
		EVP_DigestUpdate(c->md, data, len);
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
	bigger.used = d->used;
	free(d->slots);
	*d = bigger;
	return 0;
}

/* Same content, same storage class: the earlier data can serve @n. */
static bool can_share(const struct bnode *n, const struct bnode *m)
{
	if (n->size != m->size || is_compressed(n) != is_compressed(m) ||
	    n->ztail_inline != m->ztail_inline || n->has_fragment != m->has_fragment ||
	    n->frag_all != m->frag_all)
		return false;
	/* flat: @n's full blocks must be a prefix of @m's (its tail may be
	 * inline where @m's is not, never the other way round) */
	return is_compressed(n) || n->data_blocks <= m->data_blocks;
}

static int share(struct eroot_builder *b, struct bnode *n, const struct bnode *m)
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
	} else {
		n->blkaddr = m->blkaddr;
	}
	if (n->has_fragment) {
		b->packed_len = n->frag_off;	/* give back its fragment too */
		n->frag_off = m->frag_off;
	}
	b->stats.deduped++;
	return 0;
}

int dedupe_finish(struct copy *c, struct bnode *n, uint64_t first)
{
	struct eroot_builder *b = c->b;
	struct dedupe *d = c->dedupe;
	uint8_t digest[32];
	struct dedupe_slot *slot;
	unsigned int len;

	if (!b->opts.dedupe || !c->md)
		return 0;
	if (!d && !(d = c->dedupe = calloc(1, sizeof(*d))))
		return BFAIL(b, -ENOMEM, "out of memory");
	EVP_DigestFinal_ex(c->md, digest, &len);
	if ((d->used + 1) * 2 > d->cap && grow(d))
		return BFAIL(b, -ENOMEM, "out of memory");
	slot = find(d, digest);
	if (!slot->n) {
		memcpy(slot->digest, digest, 32);
		slot->n = n;
		d->used++;
		return 0;
	}
	if (!can_share(n, slot->n))
		return 0;
	b->data_cursor = first;	/* give back the copy just written */
	return share(b, n, slot->n);
}

void dedupe_free(struct copy *c)
{
	if (c->dedupe)
		free(c->dedupe->slots);
	free(c->dedupe);
	EVP_MD_CTX_free(c->md);
}
