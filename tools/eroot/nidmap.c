// SPDX-License-Identifier: MIT
#include <stdlib.h>

#include "nidmap.h"

static size_t slot_of(uint64_t nid, size_t cap)
{
	nid *= 0x9E3779B97F4A7C15ull;
	return (size_t)(nid ^ nid >> 31) & (cap - 1);
}

static struct nidmap_entry *find(struct nidmap_entry *slots, size_t cap, uint64_t nid)
{
	size_t i = slot_of(nid, cap);

	while (slots[i].used && slots[i].nid != nid)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(struct nidmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	struct nidmap_entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].used)
			*find(slots, cap, m->slots[i].nid) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

struct nidmap_entry *nidmap_get(struct nidmap *m, uint64_t nid)
{
	struct nidmap_entry *e;

	if ((m->used + 1) * 2 > m->cap && grow(m))
		return NULL;
	e = find(m->slots, m->cap, nid);
	if (!e->used) {
		e->used = true;
		e->nid = nid;
		m->used++;
	}
	return e;
}

void nidmap_free(struct nidmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->used = 0;
}
