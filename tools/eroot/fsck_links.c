// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsck_links.h"

/* 4096 inode slots (128 KiB of metadata) a page: an image's inodes lie
 * close together, so a few pages cover them all */
#define PAGE_SHIFT 12
#define PAGE_WORDS ((1u << PAGE_SHIFT) / 64)

struct nidbits_page {
	uint64_t key;			/* nid >> PAGE_SHIFT, + 1 (0: free) */
	uint64_t *bits;
};

static size_t page_slot(uint64_t key, size_t cap)
{
	key *= 0x9E3779B97F4A7C15ull;
	return (size_t)(key ^ key >> 31) & (cap - 1);
}

static struct nidbits_page *page_find(struct nidbits_page *pages, size_t cap, uint64_t key)
{
	size_t i = page_slot(key, cap);

	while (pages[i].key && pages[i].key != key)
		i = (i + 1) & (cap - 1);
	return &pages[i];
}

/* Set the bit of @nid; returns its old value, or -ENOMEM. */
static int nidbits_test_and_set(struct nidbits *s, uint64_t nid)
{
	uint64_t key = (nid >> PAGE_SHIFT) + 1, bit = nid & ((1u << PAGE_SHIFT) - 1);
	struct nidbits_page *p;
	int old;

	if ((s->used + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct nidbits_page *pages = calloc(cap, sizeof(*pages));

		if (!pages)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->pages[i].key)
				*page_find(pages, cap, s->pages[i].key) = s->pages[i];
		free(s->pages);
		s->pages = pages;
		s->cap = cap;
	}
	p = page_find(s->pages, s->cap, key);
	if (!p->key) {
		p->bits = calloc(PAGE_WORDS, sizeof(uint64_t));
		if (!p->bits)
			return -ENOMEM;
		p->key = key;
		s->used++;
	}
	old = (int)(p->bits[bit / 64] >> (bit % 64) & 1);
	p->bits[bit / 64] |= 1ull << (bit % 64);
	return old;
}

static int add_problem(struct fsck_links *l, uint64_t seq, const char *path,
		       uint32_t nlink, uint64_t found)
{
	struct link_problem *p;

	if (l->nproblems == l->problems_cap) {
		size_t cap = l->problems_cap ? l->problems_cap * 2 : 8;

		p = realloc(l->problems, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->problems = p;
		l->problems_cap = cap;
	}
	p = &l->problems[l->nproblems];
	p->seq = seq;
	p->path = strdup(path);
	if (!p->path)
		return -ENOMEM;
	snprintf(p->why, sizeof(p->why), "link count %u, but %llu links found",
		 nlink, (unsigned long long)found);
	l->nproblems++;
	return 0;
}

/* A file of several links, or of one met again: count its names. */
static int several_names(struct fsck_links *l, const char *path,
			 const struct eroot_inode *ino, uint64_t seq, bool first)
{
	struct nidmap_entry *e = nidmap_get(&l->multi, ino->nid);

	if (!e)
		return -ENOMEM;
	if (e->path) {
		e->count++;
		return 0;
	}
	if (l->nhard == l->hard_cap) {
		size_t cap = l->hard_cap ? l->hard_cap * 2 : 64;
		struct hard_ref *h = realloc(l->hard, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->hard = h;
		l->hard_cap = cap;
	}
	/* met again with one link: its first name was not kept, this one
	 * stands for both */
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->nlink = ino->nlink;
	e->count = first ? 1 : 2;
	l->hard[l->nhard++] = (struct hard_ref){ .seq = seq, .nid = ino->nid };
	return 0;
}

int link_visit(struct fsck_links *l, const char *path, const struct eroot_inode *ino)
{
	uint64_t seq = l->seq++;
	int old = nidbits_test_and_set(&l->seen, ino->nid), err;

	if (old < 0)
		return old;
	if (S_ISDIR(ino->mode)) {
		/* its ".." counts in its parent's links */
		if (l->depth)
			l->dirs[l->depth - 1].subdirs++;
		if (l->depth == l->dirs_cap) {
			size_t cap = l->dirs_cap ? l->dirs_cap * 2 : 64;
			struct dir_level *d = realloc(l->dirs, cap * sizeof(*d));

			if (!d)
				return -ENOMEM;
			l->dirs = d;
			l->dirs_cap = cap;
		}
		l->dirs[l->depth++] = (struct dir_level){
			.seq = seq, .nlink = ino->nlink, .first = !old,
		};
		return old;
	}
	if (!old && ino->nlink == 1)
		return 0;	/* the common case costs one bit */
	err = several_names(l, path, ino, seq, !old);
	return err ? err : old;
}

int link_leave_dir(struct fsck_links *l, const char *path)
{
	struct dir_level *d;

	if (!l->depth)
		return 0;
	d = &l->dirs[--l->depth];
	/* a directory met twice is reported by the walk, not counted here */
	if (!d->first || 2 + d->subdirs == d->nlink)
		return 0;
	return add_problem(l, d->seq, path, d->nlink, 2 + d->subdirs);
}

static int by_seq(const void *a, const void *b)
{
	const struct link_problem *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

int link_finish(struct fsck_links *l,
		void (*report)(void *ctx, const char *path, const char *why), void *ctx)
{
	for (size_t i = 0; i < l->nhard; i++) {
		struct nidmap_entry *e = nidmap_get(&l->multi, l->hard[i].nid);
		int err;

		if (!e)
			return -ENOMEM;
		if (e->count != e->nlink &&
		    (err = add_problem(l, l->hard[i].seq, e->path, e->nlink, e->count)))
			return err;
	}
	if (l->nproblems)
		qsort(l->problems, l->nproblems, sizeof(*l->problems), by_seq);
	for (size_t i = 0; i < l->nproblems; i++)
		report(ctx, l->problems[i].path, l->problems[i].why);
	return 0;
}

void links_free(struct fsck_links *l)
{
	for (size_t i = 0; i < l->seen.cap; i++)
		free(l->seen.pages[i].bits);
	free(l->seen.pages);
	nidmap_free(&l->multi);
	free(l->hard);
	free(l->dirs);
	for (size_t i = 0; i < l->nproblems; i++)
		free(l->problems[i].path);
	free(l->problems);
	memset(l, 0, sizeof(*l));
}
