// SPDX-License-Identifier: MIT
/* The in-memory tree a source builds: nodes and directory entries. */
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"

struct bnode *tree_new_node(struct eroot_builder *b)
{
	struct bnode *node;

	if (b->nnodes == b->nodes_cap) {
		size_t cap = b->nodes_cap ? b->nodes_cap * 2 : 256;
		struct bnode **nodes = realloc(b->nodes, cap * sizeof(*nodes));

		if (!nodes)
			return NULL;
		b->nodes = nodes;
		b->nodes_cap = cap;
	}
	node = calloc(1, sizeof(*node));
	if (node)
		b->nodes[b->nnodes++] = node;
	return node;
}

int tree_add_entry(struct eroot_builder *b, struct bnode *dir,
		   const char *name, struct bnode *node)
{
	size_t len = strlen(name);
	struct bentry *e;

	if (len == 0 || len > EROFS_NAME_LEN)
		return BFAIL(b, -ENAMETOOLONG, "name too long: %s", name);
	if (dir->nentries == dir->entries_cap) {
		uint32_t cap = dir->entries_cap ? dir->entries_cap * 2 : 8;
		struct bentry *entries = realloc(dir->entries, cap * sizeof(*entries));

		if (!entries)
			return BFAIL(b, -ENOMEM, "out of memory");
		dir->entries = entries;
		dir->entries_cap = cap;
	}
	e = &dir->entries[dir->nentries];
	e->name = strdup(name);
	if (!e->name)
		return BFAIL(b, -ENOMEM, "out of memory");
	e->name_len = (uint16_t)len;
	e->node = node;
	dir->nentries++;
	return 0;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct bentry *a = pa, *b = pb;
	int c = memcmp(a->name, b->name, a->name_len < b->name_len ? a->name_len : b->name_len);

	return c ? c : (int)a->name_len - (int)b->name_len;
}

/* EROFS directories are sorted bytewise, "." and ".." included. */
void tree_sort_entries(struct bnode *dir)
{
	qsort(dir->entries, dir->nentries, sizeof(*dir->entries), entry_cmp);
}

void tree_free_node(struct eroot_builder *b, struct bnode *n)
{
	for (uint32_t j = 0; j < n->nentries; j++)
		free(n->entries[j].name);
	free(n->entries);
	free(n->src_path);
	free(n->link_target);
	xattrs_drop_node(b, n);
	free(n->chunk_addr);
	free(n->extents);
	free(n->dir_data);
	if (n->ref)
		free(n->ref->bytes);
	free(n->ref);
	free(n);
}

void tree_free(struct eroot_builder *b)
{
	for (size_t i = 0; i < b->nnodes; i++)
		tree_free_node(b, b->nodes[i]);
	free(b->nodes);
	b->nodes = NULL;
	b->nnodes = b->nodes_cap = 0;
	b->root = NULL;
}
