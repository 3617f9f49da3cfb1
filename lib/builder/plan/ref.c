// SPDX-License-Identifier: MIT
/*
 * eroot merge: the form of a file whose data stays in an input image
 * (n->ref, source/image.c), or, where that form does not fit this image,
 * its data copied after all.
 */
#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"

/* Where a compressed inode's map header goes: after the inode and its
 * xattrs, 8-byte aligned (the kernel's z_erofs_fill_inode_lazy()). */
static uint32_t zmap_start(const struct bnode *n)
{
	return (inode_base_size(n) + 7) & ~7u;
}

/*
 * Whether the input's map fits @n as it is.  Compact packs start where the
 * first entry's offset mod 32 says (the kernel's compacted_4b_initial), so
 * that offset must be the input's; an inline pcluster must lie in the
 * inode's block, so the whole record fits one.
 */
static bool zmap_fits(const struct eroot_builder *b, const struct bnode *n)
{
	const struct bref *r = n->ref;
	uint32_t ebase = zmap_start(n) + Z_EROFS_MAP_HEADER_SIZE;

	if (r->datalayout == EROFS_INODE_COMPRESSED_COMPACT && ebase % 32 != r->ebase_mod32)
		return false;
	return !r->idata_size || zmap_start(n) + r->len <= blksz_of(b);
}

int plan_ref(struct eroot_builder *b, struct bnode *n)
{
	struct bref *r = n->ref;
	bool fits = true;

	switch (r->kind) {
	case REF_CHUNKS:
		n->datalayout = EROFS_INODE_CHUNK_BASED;
		b->uses_chunks = true;
		break;
	case REF_INLINE:
		n->datalayout = EROFS_INODE_FLAT_INLINE;
		n->tail_len = r->len;
		fits = inode_base_size(n) + r->len <= blksz_of(b);
		break;
	case REF_ZMAP:
		n->datalayout = r->datalayout;
		n->compressed_blocks = r->compressed_blocks;
		fits = zmap_fits(b, n);
		if (fits && r->idata_size)
			b->ref_ztail = true;
		break;
	}
	if (fits)
		return 0;
	n->datalayout = EROFS_INODE_FLAT_PLAIN;
	n->tail_len = 0;
	n->compressed_blocks = 0;
	int err = image_copy_ref(b, n);

	return err ? err : 1;
}

uint64_t ref_record_size(const struct eroot_builder *b, const struct bnode *n)
{
	(void)b;
	switch (n->ref->kind) {
	case REF_CHUNKS:
		return ((inode_base_size(n) + 7) & ~7ull) +
		       (uint64_t)n->nchunks * EROFS_CHUNK_INDEX_SIZE;
	case REF_ZMAP:
		return zmap_start(n) + n->ref->len;
	default:
		return inode_base_size(n) + n->tail_len;
	}
}
