// SPDX-License-Identifier: MIT
/*
 * The cache of decoded extents (lib/reader/zcache.c): hits, least
 * recently used out first, one slot when asked for one, and the byte
 * budget held whatever sizes come.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reader/zcache.h"

static size_t held(const struct zcache *c)
{
	size_t sum = 0;

	for (unsigned int i = 0; i < ZCACHE_SLOTS; i++)
		sum += c->slot[i].cap;
	return sum;
}

static void put(struct zcache *c, unsigned int nslots, uint64_t la, size_t len)
{
	uint8_t *buf = zcache_claim(c, nslots, la, len);

	CHECK(buf != NULL);
	if (!buf)
		return;
	memset(buf, (int)(la & 0xff), len);
	zcache_commit(c);
}

int main(void)
{
	struct zcache c;
	const uint8_t *p;

	memset(&c, 0, sizeof(c));
	for (uint64_t la = 0; la < ZCACHE_SLOTS; la++)
		put(&c, ZCACHE_SLOTS, la, 4096);
	p = zcache_find(&c, ZCACHE_SLOTS, 3);
	CHECK(p && p[0] == 3 && p[4095] == 3);
	/* 0 is the oldest but just used: 1 goes, then 2 */
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 0) != NULL);
	put(&c, ZCACHE_SLOTS, 100, 4096);
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 1) == NULL);
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 0) != NULL);
	put(&c, ZCACHE_SLOTS, 101, 4096);
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 2) == NULL);
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 3) != NULL);

	/* the budget: big extents push the others out, never past it */
	for (uint64_t la = 200; la < 220; la++) {
		put(&c, ZCACHE_SLOTS, la, la % 3 ? (5u << 20) + 1 : 1u << 20);
		CHECK(held(&c) <= ZCACHE_BYTES);
		p = zcache_find(&c, ZCACHE_SLOTS, la);
		CHECK(p && p[0] == (la & 0xff));
	}
	put(&c, ZCACHE_SLOTS, 300, ZCACHE_BYTES);
	CHECK_EQ(held(&c), ZCACHE_BYTES);
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 219) == NULL);
	CHECK(zcache_claim(&c, ZCACHE_SLOTS, 301, ZCACHE_BYTES + 1) == NULL);

	/* another inode: nothing found, buffers kept */
	zcache_drop(&c);
	CHECK(zcache_find(&c, ZCACHE_SLOTS, 300) == NULL);
	CHECK(held(&c) > 0);

	/* one slot: each new extent replaces the last */
	put(&c, 1, 400, 100);
	put(&c, 1, 401, 100);
	CHECK(zcache_find(&c, 1, 400) == NULL);
	CHECK(zcache_find(&c, 1, 401) != NULL);
	zcache_release(&c);
	CHECK_EQ(held(&c), 0);
	return check_result("zcache");
}
