// SPDX-License-Identifier: MIT
/*
 * The tree by path, for archive sources.  Entries arrive in archive order,
 * may name any path, and may replace what an earlier entry made, so every
 * entry needs a lookup: one hash table over all directories maps
 * (directory, name) to the entry's slot in that directory.  Removed
 * entries leave an empty slot; pathtree_finish() compacts, adds "." and
 * "..", sorts, and frees nodes no entry reaches any more.
 */
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"

#define XXH_INLINE_ALL
#include <xxhash.h>


#define MAX_SYMLINK_HOPS 40

struct pt_slot {
	struct bnode *dir;		/* NULL: free */
	uint32_t entry;
	uint32_t hash;
};

struct pathtree {
	struct pt_slot *slots;
	size_t cap, used;
};

static uint32_t name_hash(const struct bnode *dir, const char *name, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(name, len, (uint64_t)(uintptr_t)dir);
}

static bool slot_is(const struct pt_slot *s, const struct bnode *dir, const char *name,
		    size_t len)
{
	const struct bentry *e = &s->dir->entries[s->entry];

	return s->dir == dir && e->name_len == len && !memcmp(e->name, name, len);
}

static struct pt_slot *find_slot(struct pathtree *t, const struct bnode *dir,
				 const char *name, size_t len, uint32_t h)
{
	size_t i = h & (t->cap - 1);

	while (t->slots[i].dir && !(t->slots[i].hash == h && slot_is(&t->slots[i], dir, name, len)))
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

static int grow(struct pathtree *t)
{
	struct pathtree bigger = { .cap = t->cap * 2, .used = t->used };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct pt_slot *s = &t->slots[i];
		size_t j = s->hash & (bigger.cap - 1);

		if (!s->dir)
			continue;
		while (bigger.slots[j].dir)
			j = (j + 1) & (bigger.cap - 1);
		bigger.slots[j] = *s;
	}
	free(t->slots);
	*t = bigger;
	return 0;
}

struct bnode *pathtree_new_dir(struct eroot_builder *b, struct bnode *parent)
{
	struct bnode *d = tree_new_node(b);

	if (!d)
		return NULL;
	d->mode = S_IFDIR | 0755;
	d->parent = parent;
	d->implicit = true;
	d->layer = b->layers;
	return d;
}

int pathtree_begin(struct eroot_builder *b)
{
	if (b->ptree)
		return 0;
	if (b->root)
		return BFAIL(b, -EEXIST, "the image already has a root");
	b->ptree = calloc(1, sizeof(*b->ptree));
	if (b->ptree) {
		b->ptree->cap = 1024;
		b->ptree->slots = calloc(b->ptree->cap, sizeof(struct pt_slot));
	}
	if (!b->ptree || !b->ptree->slots || !(b->root = pathtree_new_dir(b, NULL)))
		return BFAIL(b, -ENOMEM, "out of memory");
	b->root_prefix_len = 0;		/* src_path is the path in the archive */
	return 0;
}

struct bnode *pathtree_lookup(struct eroot_builder *b, struct bnode *dir,
			      const char *name, size_t len)
{
	struct pt_slot *s = find_slot(b->ptree, dir, name, len, name_hash(dir, name, len));

	return s->dir ? s->dir->entries[s->entry].node : NULL;
}

int pathtree_link(struct eroot_builder *b, struct pt_where *w, struct bnode *node)
{
	struct pathtree *t = b->ptree;
	uint32_t h = name_hash(w->dir, w->name, w->len);
	struct pt_slot *s;
	char name[EROFS_NAME_LEN + 1];
	int err;

	if (w->len > EROFS_NAME_LEN)
		return -ENAMETOOLONG;
	if ((t->used + 1) * 4 > t->cap * 3 && grow(t))
		return BFAIL(b, -ENOMEM, "out of memory");
	memcpy(name, w->name, w->len);
	name[w->len] = '\0';
	err = tree_add_entry(b, w->dir, name, node);
	if (err)
		return err;
	s = find_slot(t, w->dir, w->name, w->len, h);
	*s = (struct pt_slot){ w->dir, w->dir->nentries - 1, h };
	t->used++;
	if (S_ISDIR(node->mode))
		node->parent = w->dir;
	w->node = node;
	return 0;
}

/* Take the entry out; its node lives on until pathtree_finish(). */
void pathtree_unlink(struct eroot_builder *b, struct pt_where *w)
{
	struct pathtree *t = b->ptree;
	struct pt_slot *s = find_slot(t, w->dir, w->name, w->len,
				      name_hash(w->dir, w->name, w->len));
	size_t hole, i;

	if (!s->dir)
		return;
	s->dir->entries[s->entry].node = NULL;
	/* backward-shift deletion keeps every probe chain unbroken */
	hole = (size_t)(s - t->slots);
	for (i = (hole + 1) & (t->cap - 1); t->slots[i].dir; i = (i + 1) & (t->cap - 1)) {
		size_t home = t->slots[i].hash & (t->cap - 1);

		if (((i - home) & (t->cap - 1)) >= ((i - hole) & (t->cap - 1))) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	t->slots[hole].dir = NULL;
	t->used--;
	w->node = NULL;
}

bool pathtree_dir_empty(const struct bnode *dir)
{
	for (uint32_t i = 0; i < dir->nentries; i++)
		if (dir->entries[i].node)
			return false;
	return true;
}

static int walk(struct eroot_builder *b, const char *path, int flags, int64_t mtime,
		struct bnode *from, int *hops, struct pt_where *w);

/* Continue at a symlink's target, as the kernel's path walk does. */
static int follow(struct eroot_builder *b, struct bnode *link, struct bnode *dir,
		  int flags, int64_t mtime, int *hops, struct bnode **out)
{
	struct pt_where w;
	int err;

	if (++*hops > MAX_SYMLINK_HOPS)
		return -ELOOP;
	err = walk(b, link->link_target, flags | PT_DOTDOT_OK, mtime,
		   link->link_target[0] == '/' ? b->root : dir, hops, &w);
	if (err)
		return err;
	if (w.node && S_ISLNK(w.node->mode))
		return follow(b, w.node, w.dir, flags, mtime, hops, out);
	if (!w.node && w.dir && (flags & PT_MAKE_PARENTS)) {
		/* a dangling link in the middle of a path: make its target */
		struct bnode *d = pathtree_new_dir(b, w.dir);

		if (!d)
			return -ENOMEM;
		d->mtime = mtime;
		err = pathtree_link(b, &w, d);
		if (err)
			return err;
	}
	if (!w.node)
		return -ENOENT;
	*out = w.node;
	return S_ISDIR(w.node->mode) ? 0 : -ENOTDIR;
}

static int walk(struct eroot_builder *b, const char *path, int flags, int64_t mtime,
		struct bnode *from, int *hops, struct pt_where *w)
{
	struct bnode *dir = from;
	const char *p = path;

	*w = (struct pt_where){ .node = from };
	for (;;) {
		const char *name, *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		name = p;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		p += len;
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			if (!(flags & PT_DOTDOT_OK))
				return -EPERM;
			dir = w->node->parent ? w->node->parent : b->root;
			*w = (struct pt_where){ .node = dir };
			continue;
		}
		if (!S_ISDIR(w->node->mode))
			return -ENOTDIR;
		dir = w->node;
		*w = (struct pt_where){ dir, name, len, pathtree_lookup(b, dir, name, len) };
		while (*p == '/')
			p++;
		if (!*p)
			return 0;	/* the last component is never followed */
		if (w->node && S_ISLNK(w->node->mode)) {
			struct bnode *target;
			int err = follow(b, w->node, dir, flags, mtime, hops, &target);

			if (err)
				return err;
			*w = (struct pt_where){ .node = target };
		} else if (!w->node && (flags & PT_MAKE_PARENTS)) {
			struct bnode *d = pathtree_new_dir(b, dir);
			int err;

			if (!d)
				return -ENOMEM;
			d->mtime = mtime;
			err = pathtree_link(b, w, d);
			if (err)
				return err;
			*w = (struct pt_where){ .node = d };
		} else if (!w->node) {
			return -ENOENT;
		} else {
			*w = (struct pt_where){ .node = w->node };
		}
	}
}

/* As tar does, names are relative: "/etc" and "./etc" are "etc". */
const char *pathtree_relative(const char *path)
{
	while (path[0] == '/' || (path[0] == '.' && path[1] == '/'))
		path += path[0] == '/' ? 1 : 2;
	return path;
}

/*
 * Resolve @path from the root: on success @w names the last component in
 * its parent directory (w->dir NULL when @path is the root itself) and
 * what is there now.  Intermediate symlinks are followed inside the tree.
 */
int pathtree_resolve(struct eroot_builder *b, const char *path, int flags, int64_t mtime,
		     struct pt_where *w)
{
	int hops = 0;

	return walk(b, path, flags, mtime, b->root, &hops, w);
}

void pathtree_free(struct eroot_builder *b)
{
	if (b->ptree)
		free(b->ptree->slots);
	free(b->ptree);
	b->ptree = NULL;
}

/* Nodes reachable from the root, marked through their 'assigned' bit. */
static int mark_reachable(struct eroot_builder *b)
{
	struct bnode **stack = malloc(b->nnodes * sizeof(*stack));
	size_t top = 0;

	if (!stack)
		return -ENOMEM;
	stack[top++] = b->root;
	b->root->assigned = true;
	while (top) {
		struct bnode *d = stack[--top];

		for (uint32_t i = 0; i < d->nentries; i++) {
			struct bnode *c = d->entries[i].node;

			if (!c || c->assigned)
				continue;
			c->assigned = true;
			if (S_ISDIR(c->mode))
				stack[top++] = c;
		}
	}
	free(stack);
	return 0;
}

static int compact_dir(struct eroot_builder *b, struct bnode *d)
{
	uint32_t kept = 0;
	int err;

	for (uint32_t i = 0; i < d->nentries; i++) {
		if (d->entries[i].node)
			d->entries[kept++] = d->entries[i];
		else
			free(d->entries[i].name);
	}
	d->nentries = kept;
	err = tree_add_entry(b, d, ".", d);
	if (!err)
		err = tree_add_entry(b, d, "..", d->parent ? d->parent : d);
	if (!err)
		tree_sort_entries(d);
	return err;
}

int pathtree_finish(struct eroot_builder *b)
{
	int64_t newest = 0;
	size_t kept = 0;
	int err;

	if (!b->ptree)
		return 0;
	pathtree_free(b);
	if (mark_reachable(b))
		return BFAIL(b, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nnodes; i++) {
		struct bnode *n = b->nodes[i];

		if (!n->assigned) {
			tree_free_node(b, n);
			continue;
		}
		n->assigned = false;
		b->nodes[kept++] = n;
		if (!n->implicit && n->mtime > newest)
			newest = n->mtime;
	}
	b->nnodes = kept;
	for (size_t i = 0; i < b->nnodes; i++) {
		struct bnode *n = b->nodes[i];

		/* parents no entry described take the archive's newest time */
		if (n->implicit)
			n->mtime = newest, n->mtime_nsec = 0;
		if (n->opaque && (err = xattrs_add(b, n, "trusted.overlay.opaque", "y", 1)))
			return err;
		if (n->opaque)
			xattrs_finish_node(b, n);
		if (S_ISDIR(n->mode) && (err = compact_dir(b, n)))
			return err;
	}
	return 0;
}
