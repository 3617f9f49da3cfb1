// SPDX-License-Identifier: MIT
/*
 * A few decoded extents of one compressed inode, least recently used out
 * first, within a fixed byte budget (zcache.h says why).
 */
#include <stdlib.h>
#include <string.h>

#include "zcache.h"

const uint8_t *zcache_find(struct zcache *c, unsigned int nslots, uint64_t la)
{
	for (unsigned int i = 0; i < nslots; i++) {
		struct zcache_slot *s = &c->slot[i];

		if (s->valid && s->la == la) {
			s->used = ++c->clock;
			return s->buf;
		}
	}
	return NULL;
}

/* The slot to reuse: an empty one, else the least recently used. */
static unsigned int victim(const struct zcache *c, unsigned int nslots)
{
	unsigned int v = 0;

	for (unsigned int i = 0; i < nslots; i++) {
		if (!c->slot[i].valid)
			return i;
		if (c->slot[i].used < c->slot[v].used)
			v = i;
	}
	return v;
}

static void free_slot(struct zcache_slot *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

uint8_t *zcache_claim(struct zcache *c, unsigned int nslots, uint64_t la, size_t len)
{
	unsigned int v = victim(c, nslots);
	struct zcache_slot *s = &c->slot[v];
	size_t others = 0;

	if (len > ZCACHE_BYTES)
		return NULL;
	s->valid = false;
	for (unsigned int i = 0; i < nslots; i++)
		if (i != v)
			others += c->slot[i].cap;
	/* make room before growing, so the budget holds at every moment;
	 * another slot holds memory whenever the total is over */
	while (others + (len > s->cap ? len : s->cap) > ZCACHE_BYTES) {
		unsigned int old = v;

		for (unsigned int i = 0; i < nslots; i++)
			if (i != v && c->slot[i].cap &&
			    (old == v || c->slot[i].used < c->slot[old].used))
				old = i;
		others -= c->slot[old].cap;
		free_slot(&c->slot[old]);
	}
	if (s->cap < len) {
		uint8_t *p = realloc(s->buf, len);

		if (!p)
			return NULL;
		s->buf = p;
		s->cap = len;
	}
	s->la = la;
	c->claimed = v;
	return s->buf;
}

void zcache_commit(struct zcache *c)
{
	struct zcache_slot *s = &c->slot[c->claimed];

	s->valid = true;
	s->used = ++c->clock;
}

void zcache_drop(struct zcache *c)
{
	for (unsigned int i = 0; i < ZCACHE_SLOTS; i++)
		c->slot[i].valid = false;
}

void zcache_release(struct zcache *c)
{
	for (unsigned int i = 0; i < ZCACHE_SLOTS; i++)
		free_slot(&c->slot[i]);
	c->clock = 0;
}
