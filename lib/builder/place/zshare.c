// SPDX-License-Identifier: MIT
/*
 * Pcluster sharing (-E dedupe): a pcluster whose input equals the input of
 * a pcluster placed earlier, for an earlier file or for the same one (same
 * profile, same length, same bytes), points at that pcluster's blocks
 * instead of taking blocks of its own.  The kernel maps each pcluster by its own index entry, so the same
 * blocks may serve files at any offset.
 *
 * The compressing threads note an XXH3-128 of each pcluster's input
 * (zshare_note()); the writer looks them up in file order and checks a hit
 * against both sources byte for byte before it trusts it, so the result
 * depends neither on the number of workers nor on the hash alone.  A file's
 * own pclusters serve its later ones at once, and later files once it is
 * placed compressed (zshare_commit()): one that goes flat, or repeats an
 * earlier file whole, leaves none.
 *
 * Compact indexes derive a pcluster's block from the previous ones in the
 * same pack (the kernel counts from the pack's base), so a file that
 * points at blocks out of its own run gets full indexes; it starts to share
 * only once what it found elsewhere outweighs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/place/place.h"
#include "builder/plan/plan.h"

struct zshare_entry {
	XXH128_hash_t digest;
	const struct bnode *n;		/* whose source has the input */
	uint64_t la;
	uint32_t blkaddr;		/* in the image (pending: in the file) */
	uint32_t len;
	uint16_t blocks;
	uint16_t profile;
	bool plain;
	uint32_t next;			/* in the bucket's chain, + 1; 0: end */
};

struct zshare {
	struct zshare_entry *v;		/* registered, then from @mark on the
					 * current file's, blkaddr in the file */
	size_t used, cap, mark;
	uint32_t *buckets;		/* last entry + 1, 0: empty */
	size_t nbuckets;
	const struct bnode *current;	/* whose entries follow @mark */
	uint64_t matched;		/* its bytes found elsewhere so far */
	uint64_t index_cost;		/* its full indexes beyond compact ones */
	uint8_t *mine, *theirs;		/* inputs being compared */
	size_t buf_len;
	const struct bnode *open_n;	/* the earlier source kept open */
	int open_fd;
	uint64_t open_base;
};

int zshare_note(const struct eroot_builder *b, struct zseg *s, const uint8_t *in, size_t len)
{
	XXH128_hash_t h;

	(void)b;
	if (s->next > s->pdig_cap) {
		uint32_t cap = s->cap;
		struct zshare_digest *d = realloc(s->pdig, cap * sizeof(*d));

		if (!d) {
			s->err = -ENOMEM;
			snprintf(s->errmsg, sizeof(s->errmsg), "%s: out of memory", s->n->src_path);
			return -ENOMEM;
		}
		s->pdig = d;
		s->pdig_cap = cap;
	}
	h = XXH3_128bits(in, len);
	s->pdig[s->next - 1] = (struct zshare_digest){
		.lo = h.low64, .hi = h.high64, .len = (uint32_t)len,
	};
	return 0;
}

static size_t bucket_of(const struct zshare *z, XXH128_hash_t d, uint32_t len, uint16_t profile)
{
	uint64_t k = d.low64 ^ (uint64_t)len << 16 ^ profile;

	return (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (z->nbuckets - 1);
}

static int grow_buckets(struct zshare *z)
{
	size_t nb = z->nbuckets ? z->nbuckets * 2 : 4096;
	uint32_t *v = calloc(nb, sizeof(*v));

	if (!v)
		return -ENOMEM;
	free(z->buckets);
	z->buckets = v;
	z->nbuckets = nb;
	for (size_t i = 0; i < z->used; i++) {
		size_t h = bucket_of(z, z->v[i].digest, z->v[i].len, z->v[i].profile);

		z->v[i].next = z->buckets[h];
		z->buckets[h] = (uint32_t)(i + 1);
	}
	return 0;
}

static int add_entry(struct zshare *z, const struct zshare_entry *e)
{
	size_t h;

	if (z->used == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 4096;
		struct zshare_entry *v = cap < UINT32_MAX ? realloc(z->v, cap * sizeof(*v)) : NULL;

		if (!v)
			return -ENOMEM;
		z->v = v;
		z->cap = cap;
	}
	if (z->used >= z->nbuckets && grow_buckets(z))
		return -ENOMEM;
	z->v[z->used] = *e;
	h = bucket_of(z, e->digest, e->len, e->profile);
	z->v[z->used].next = z->buckets[h];
	z->buckets[h] = (uint32_t)++z->used;
	return 0;
}

static int read_at(struct copy *c, int fd, uint64_t off, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return BFAIL(c->b, -EIO, "cannot read back a source to compare pclusters");
		got += (size_t)r;
	}
	return 0;
}

/* Whether the input of @e equals @len bytes of the current file at @la. */
static int same_input(struct copy *c, struct zshare *z, const struct zshare_entry *e,
		      uint64_t la, uint32_t len, bool *same)
{
	int err;

	*same = false;
	if (len > z->buf_len) {
		uint8_t *a = realloc(z->mine, len), *b2;

		if (a)
			z->mine = a;
		b2 = a ? realloc(z->theirs, len) : NULL;
		if (!b2)
			return BFAIL(c->b, -ENOMEM, "out of memory");
		z->theirs = b2;
		z->buf_len = len;
	}
	if (z->open_n != e->n) {
		if (z->open_n)
			source_close(c->b, z->open_fd);
		z->open_n = NULL;
		err = source_open(c->b, e->n, &z->open_fd, &z->open_base);
		if (err)
			return BFAIL(c->b, err, "%s: %s", e->n->src_path, source_strerror(err));
		z->open_n = e->n;
	}
	err = read_at(c, z->open_fd, z->open_base + e->la, z->theirs, len);
	if (!err)
		err = read_source(c, la, z->mine, len);
	if (!err)
		*same = !memcmp(z->mine, z->theirs, len);
	return err;
}

static int find_shared(struct copy *c, struct zshare *z, const struct zshare_digest *d,
		       uint16_t profile, uint64_t la, const struct zshare_entry **hit)
{
	XXH128_hash_t h = { .low64 = d->lo, .high64 = d->hi };

	*hit = NULL;
	if (!z->nbuckets)
		return 0;
	for (uint32_t i = z->buckets[bucket_of(z, h, d->len, profile)]; i; i = z->v[i - 1].next) {
		const struct zshare_entry *e = &z->v[i - 1];
		bool same;
		int err;

		if (e->len != d->len || e->profile != profile || !XXH128_isEqual(e->digest, h))
			continue;
		err = same_input(c, z, e, la, d->len, &same);
		if (err || same) {
			*hit = same ? e : NULL;
			return err;
		}
	}
	return 0;
}

/* The current file's entries leave the table: it was not placed compressed.
 * Each is the head of its chain, the last added first. */
static void drop_current(struct zshare *z)
{
	while (z->used > z->mark) {
		const struct zshare_entry *e = &z->v[--z->used];

		z->buckets[bucket_of(z, e->digest, e->len, e->profile)] = e->next;
	}
}

int zshare_segment(struct copy *c, struct zseg *s, uint64_t file_blocks)
{
	struct eroot_builder *b = c->b;
	struct zshare *z = c->zshare;
	struct bnode *n = s->n;
	uint64_t kept = 0;
	bool shared = false;

	if (!z && !(z = c->zshare = calloc(1, sizeof(*z))))
		return BFAIL(b, -ENOMEM, "out of memory");
	if (z->current != n) {	/* a file before was not placed compressed */
		drop_current(z);
		z->current = n;
		z->matched = 0;
		z->index_cost = zindex_full_extra(b, n);
	}
	if (n->is_packed || !s->pdig)
		return 0;
	for (uint32_t i = 0; i < s->next; i++) {
		struct zextent *e = &s->ext[i];
		const struct zshare_digest *d = &s->pdig[i];
		const struct zshare_entry *hit;
		int err = find_shared(c, z, d, n->zprofile, e->la, &hit);

		if (err)
			return err;
		/* sharing costs compact indexes: only once it saves more */
		if (hit && (z->matched += (uint64_t)hit->blocks << b->blkszbits) <= z->index_cost)
			hit = NULL;
		if (hit) {
			e->blocks = hit->blocks;
			e->plain = hit->plain;
			shared = true;
			if (hit < z->v + z->mark) {
				e->blkaddr = hit->blkaddr;
				e->shared = true;
			} else {
				/* this file's own: in the file, from the
				 * segment's start (take_segment() adds
				 * @file_blocks back; unsigned wraps) */
				e->blkaddr = hit->blkaddr - (uint32_t)file_blocks;
			}
			continue;
		}
		if (kept != e->blkaddr)
			memmove(s->out + (kept << b->blkszbits),
				s->out + ((uint64_t)e->blkaddr << b->blkszbits),
				(size_t)e->blocks << b->blkszbits);
		e->blkaddr = (uint32_t)kept;
		kept += e->blocks;
		if (add_entry(z, &(struct zshare_entry){
				.digest = { .low64 = d->lo, .high64 = d->hi }, .n = n,
				.la = e->la, .blkaddr = (uint32_t)(file_blocks + e->blkaddr),
				.len = d->len, .blocks = e->blocks, .profile = n->zprofile,
				.plain = e->plain }))
			return BFAIL(b, -ENOMEM, "out of memory");
	}
	s->out_blocks = kept;
	if (shared && n->datalayout == EROFS_INODE_COMPRESSED_COMPACT)
		n->datalayout = EROFS_INODE_COMPRESSED_FULL;
	return 0;
}

void zshare_commit(struct copy *c, const struct bnode *n, uint32_t first)
{
	struct zshare *z = c->zshare;

	if (!z || z->current != n)
		return;
	for (size_t i = z->mark; i < z->used; i++)
		z->v[i].blkaddr += first;
	z->mark = z->used;
	z->current = NULL;
}

void zshare_free(struct copy *c)
{
	struct zshare *z = c->zshare;

	if (!z)
		return;
	if (z->open_n)
		source_close(c->b, z->open_fd);
	free(z->v);
	free(z->buckets);
	free(z->mine);
	free(z->theirs);
	free(z);
	c->zshare = NULL;
}
