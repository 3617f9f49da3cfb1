// SPDX-License-Identifier: MIT
/*
 * Extended attributes for the builder: one table of distinct (name, value)
 * pairs; a pair carried by enough inodes is stored once in the shared area
 * and referenced by id, the others are stored inline after each inode.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"

#define XXH_STATIC_LINKING_ONLY /* state on the stack */
#include <xxhash.h>


static uint64_t pair_hash(unsigned int index, const char *suffix, size_t slen,
			  const void *value, size_t vlen)
{
	XXH64_state_t st;

	XXH64_reset(&st, index);
	XXH64_update(&st, suffix, slen);
	XXH64_update(&st, "\0", 1);
	XXH64_update(&st, value, vlen);
	return XXH64_digest(&st);
}

static bool pair_equal(const struct bxattr *x, unsigned int index, const char *suffix,
		       size_t slen, const void *value, size_t vlen)
{
	return x->index == index && x->suffix_len == slen && x->value_len == vlen &&
	       !memcmp(x->suffix, suffix, slen) && !memcmp(x->value, value, vlen);
}

static int hash_grow(struct eroot_builder *b)
{
	size_t cap = b->xattr_hash_cap ? b->xattr_hash_cap * 2 : 256;
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < b->nxattrs; i++) {
		const struct bxattr *x = &b->xattrs[i];
		size_t h = pair_hash(x->index, x->suffix, x->suffix_len,
				     x->value, x->value_len) & (cap - 1);

		while (slots[h])
			h = (h + 1) & (cap - 1);
		slots[h] = (uint32_t)i + 1;
	}
	free(b->xattr_hash);
	b->xattr_hash = slots;
	b->xattr_hash_cap = cap;
	return 0;
}

/* Index of the pair in the table, inserting it if new; -1 on ENOMEM. */
static long intern(struct eroot_builder *b, unsigned int index, const char *suffix,
		   size_t slen, const void *value, size_t vlen)
{
	size_t h;
	struct bxattr *x;

	if (b->nxattrs * 2 >= b->xattr_hash_cap && hash_grow(b))
		return -1;
	h = pair_hash(index, suffix, slen, value, vlen) & (b->xattr_hash_cap - 1);
	while (b->xattr_hash[h]) {
		uint32_t i = b->xattr_hash[h] - 1;

		if (pair_equal(&b->xattrs[i], index, suffix, slen, value, vlen))
			return i;
		h = (h + 1) & (b->xattr_hash_cap - 1);
	}
	if (b->nxattrs == b->xattrs_cap) {
		size_t cap = b->xattrs_cap ? b->xattrs_cap * 2 : 64;
		struct bxattr *more = realloc(b->xattrs, cap * sizeof(*more));

		if (!more)
			return -1;
		b->xattrs = more;
		b->xattrs_cap = cap;
	}
	x = &b->xattrs[b->nxattrs];
	*x = (struct bxattr){ .index = (uint8_t)index, .suffix_len = (uint8_t)slen,
			      .value_len = (uint16_t)vlen };
	x->suffix = malloc(slen + 1);
	x->value = malloc(vlen ? vlen : 1);
	if (!x->suffix || !x->value) {
		free(x->suffix);
		free(x->value);
		return -1;
	}
	memcpy(x->suffix, suffix, slen);
	x->suffix[slen] = '\0';
	memcpy(x->value, value, vlen);
	b->xattr_hash[h] = (uint32_t)b->nxattrs + 1;
	return (long)b->nxattrs++;
}

int xattrs_add(struct eroot_builder *b, struct bnode *node, const char *name,
	       const void *value, size_t len)
{
	const char *suffix;
	unsigned int index = erofs_xattr_split(name, &suffix);
	size_t slen = strlen(suffix);
	uint32_t *ids;
	long id;

	if (index == EROFS_XATTR_INDEX_NONE) {
		if (!b->opts.quiet)
			fprintf(stderr, "eroot: warning: xattr %s skipped: EROFS cannot store this namespace\n",
				name);
		return 0;
	}
	/* only the ACL names are a bare prefix; the kernel's setxattr refuses
	 * an empty name, and readers take a 0-length one for corruption */
	if (!slen && index != EROFS_XATTR_INDEX_POSIX_ACL_ACCESS &&
	    index != EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT)
		return BFAIL(b, -ERANGE, "xattr %s: empty name after the namespace", name);
	if (slen > EROFS_NAME_LEN || len > EROFS_XATTR_VALUE_MAX)
		return BFAIL(b, -E2BIG, "xattr %s: name or value too long for EROFS", name);
	id = intern(b, index, suffix, slen, value, len);
	if (id < 0)
		return BFAIL(b, -ENOMEM, "out of memory");
	/* a name given twice (an archive may carry it both as SCHILY.xattr and
	 * LIBARCHIVE.xattr): the last value wins, as a second setxattr would */
	for (uint32_t i = 0; i < node->nxattrs; i++) {
		struct bxattr *old = &b->xattrs[node->xattrs[i]];

		if (old->index == index && old->suffix_len == slen &&
		    !memcmp(old->suffix, suffix, slen)) {
			old->users--;
			node->xattrs[i] = (uint32_t)id;
			b->xattrs[id].users++;
			return 0;
		}
	}
	ids = realloc(node->xattrs, (node->nxattrs + 1) * sizeof(*ids));
	if (!ids)
		return BFAIL(b, -ENOMEM, "out of memory");
	ids[node->nxattrs++] = (uint32_t)id;
	node->xattrs = ids;
	b->xattrs[id].users++;
	return 0;
}

static int pair_order(const struct bxattr *a, const struct bxattr *b)
{
	int c = (int)a->index - (int)b->index;

	if (!c)
		c = strcmp(a->suffix, b->suffix);
	if (!c)
		c = (int)a->value_len - (int)b->value_len;
	if (!c)
		c = memcmp(a->value, b->value, a->value_len);
	return c;
}

/* Sort a node's xattrs by name, so the source's listing order never shows. */
void xattrs_finish_node(struct eroot_builder *b, struct bnode *node)
{
	for (uint32_t i = 1; i < node->nxattrs; i++)
		for (uint32_t j = i; j > 0 && pair_order(&b->xattrs[node->xattrs[j - 1]],
							 &b->xattrs[node->xattrs[j]]) > 0; j--) {
			uint32_t t = node->xattrs[j];
			node->xattrs[j] = node->xattrs[j - 1];
			node->xattrs[j - 1] = t;
		}
}

static uint32_t entry_size(const struct bxattr *x)
{
	return erofs_xattr_align(EROFS_XATTR_ENTRY_SIZE + x->suffix_len + x->value_len);
}

static int shared_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct eroot_builder *b = ctx;

	return pair_order(&b->xattrs[*(const uint32_t *)pa], &b->xattrs[*(const uint32_t *)pb]);
}

/* h_shared_count is one byte: past 255 shared ids, the rest go inline. */
static bool shared_here(const struct bxattr *x, unsigned int *count)
{
	if (!x->shared || *count == 255)
		return false;
	(*count)++;
	return true;
}

uint64_t xattrs_plan_shared(struct eroot_builder *b)
{
	unsigned int min = b->opts.shared_xattr_min;
	uint32_t *order = malloc((b->nxattrs ? b->nxattrs : 1) * sizeof(*order));
	size_t n = 0;
	uint64_t off = 0;

	if (!order)
		return UINT64_MAX;
	for (size_t i = 0; i < b->nxattrs; i++) {
		b->xattrs[i].shared = min && b->xattrs[i].users >= min;
		if (b->xattrs[i].shared)
			order[n++] = (uint32_t)i;
	}
	/* The table's order depends on scan order; ids must not. */
	qsort_r(order, n, sizeof(*order), shared_cmp, b);
	for (size_t i = 0; i < n; i++) {
		struct bxattr *x = &b->xattrs[order[i]];

		x->shared_id = (uint32_t)(off / 4);
		off += entry_size(x);
	}
	free(order);
	b->stats.shared_xattrs = n;
	return off;
}

uint32_t xattrs_ibody_size(const struct eroot_builder *b, const struct bnode *node)
{
	uint32_t size = EROFS_XATTR_IBODY_HEADER_SIZE;
	unsigned int shared = 0;
	bool fp = fingerprint_wanted(b, node);

	if (!node->nxattrs && !fp)
		return 0;
	/* the fingerprint is the node's own, inline, as mkfs.erofs keeps it */
	if (fp)
		size += fingerprint_entry_size();
	for (uint32_t i = 0; i < node->nxattrs; i++) {
		const struct bxattr *x = &b->xattrs[node->xattrs[i]];

		size += shared_here(x, &shared) ? 4 : entry_size(x);
	}
	return size;
}

static uint8_t *encode_entry(const struct bxattr *x, uint8_t *out)
{
	struct erofs_xattr_entry_disk e = {
		.name_len = x->suffix_len, .name_index = x->index, .value_size = x->value_len,
	};
	uint32_t size = entry_size(x);

	memset(out, 0, size);
	erofs_xattr_entry_encode(&e, out);
	memcpy(out + EROFS_XATTR_ENTRY_SIZE, x->suffix, x->suffix_len);
	memcpy(out + EROFS_XATTR_ENTRY_SIZE + x->suffix_len, x->value, x->value_len);
	return out + size;
}

void xattrs_encode_ibody(const struct eroot_builder *b, const struct bnode *node,
			 uint8_t *out)
{
	uint8_t *p = out + EROFS_XATTR_IBODY_HEADER_SIZE;
	unsigned int shared = 0;

	memset(out, 0, EROFS_XATTR_IBODY_HEADER_SIZE);
	for (uint32_t i = 0; i < node->nxattrs; i++) {
		const struct bxattr *x = &b->xattrs[node->xattrs[i]];

		if (shared_here(x, &shared)) {
			put_le32(p, x->shared_id);
			p += 4;
		}
	}
	out[4] = (uint8_t)shared;
	shared = 0;
	for (uint32_t i = 0; i < node->nxattrs; i++) {
		const struct bxattr *x = &b->xattrs[node->xattrs[i]];

		if (!shared_here(x, &shared))
			p = encode_entry(x, p);
	}
	if (fingerprint_wanted(b, node))
		fingerprint_encode_entry(node, p);
}

void xattrs_encode_shared(const struct eroot_builder *b, uint8_t *out)
{
	for (size_t i = 0; i < b->nxattrs; i++)
		if (b->xattrs[i].shared)
			encode_entry(&b->xattrs[i], out + 4ull * b->xattrs[i].shared_id);
}

void xattrs_free(struct eroot_builder *b)
{
	for (size_t i = 0; i < b->nxattrs; i++) {
		free(b->xattrs[i].suffix);
		free(b->xattrs[i].value);
	}
	free(b->xattrs);
	free(b->xattr_hash);
}

void xattrs_remove(struct eroot_builder *b, struct bnode *node, unsigned int index,
		   const char *suffix)
{
	size_t slen = strlen(suffix);

	for (uint32_t i = 0; i < node->nxattrs; i++) {
		struct bxattr *x = &b->xattrs[node->xattrs[i]];

		if (x->index != index || x->suffix_len != slen || memcmp(x->suffix, suffix, slen))
			continue;
		x->users--;
		memmove(&node->xattrs[i], &node->xattrs[i + 1],
			(node->nxattrs - i - 1) * sizeof(*node->xattrs));
		node->nxattrs--;
		return;	/* a name is there once (xattrs_add()) */
	}
}

void xattrs_drop_node(struct eroot_builder *b, struct bnode *node)
{
	for (uint32_t i = 0; i < node->nxattrs; i++)
		b->xattrs[node->xattrs[i]].users--;
	free(node->xattrs);
	node->xattrs = NULL;
	node->nxattrs = 0;
}
