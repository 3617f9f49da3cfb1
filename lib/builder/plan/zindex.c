// SPDX-License-Identifier: MIT
/*
 * Compression indexes: one entry per logical cluster (one block here).
 *
 * The cluster where a pcluster's data starts holds its HEAD (or PLAIN)
 * entry: the start offset and the block address.  Clusters after it are
 * NONHEAD entries: delta[0] back to the head, delta[1] on to the next head;
 * with big pclusters the first NONHEAD holds the block count (CBLKCNT).
 *
 * Full indexes spend 8 bytes per entry.  Compact ones pack entries into
 * 2-byte (16 per 32-byte pack) or 4-byte (2 per 8-byte pack) slots: each
 * slot keeps a type and one 12-bit value, and each pack ends with a base
 * block address; the reader counts pclusters from that base, so a file's
 * pclusters must be consecutive (they are, written in order, unless some
 * are shared with earlier files: such a file has full indexes, zshare.c).
 */
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/plan/plan.h"

struct zentry {
	uint8_t type;
	uint16_t ofs;		/* HEAD/PLAIN: clusterofs */
	uint32_t blkaddr;	/* HEAD/PLAIN */
	uint16_t d0, d1;	/* NONHEAD; d0 may be CBLKCNT | blocks */
	uint16_t blocks;	/* HEAD/PLAIN: pcluster size in blocks */
};

static bool use_big(const struct eroot_builder *b, const struct bnode *n)
{
	return profile_of(b, n)->pcluster_bytes > blksz_of(b);
}

/* Compact indexes need 12-bit values (block offsets and CBLKCNT): 4 KiB. */
bool zindex_compact(const struct eroot_builder *b)
{
	return b->blkszbits == 12;
}

static bool is_compact(const struct bnode *n)
{
	return n->datalayout == EROFS_INODE_COMPRESSED_COMPACT;
}

/* The entries of @n, one per logical cluster. */
static void build_entries(const struct eroot_builder *b, const struct bnode *n,
			  struct zentry *v, uint64_t nidx)
{
	uint32_t blksz = blksz_of(b);

	const struct zextent *last = &n->extents[n->nextents - 1];
	/*
	 * The kernel maps a plain pcluster up to the next head or to the end of
	 * the logical cluster being read, and refuses more than a block.  When
	 * the last one runs into a further cluster, a head at the end of the
	 * file (which maps nothing) bounds it.
	 */
	uint64_t eof_head = last->plain && (last->la >> b->blkszbits) + 1 < nidx ?
			    n->size >> b->blkszbits : nidx;

	memset(v, 0, nidx * sizeof(*v));
	if (eof_head < nidx)
		v[eof_head] = (struct zentry){
			.type = Z_EROFS_LCLUSTER_TYPE_PLAIN,
			.ofs = (uint16_t)(n->size & (blksz - 1)),
			.blkaddr = last->blkaddr + last->blocks, .blocks = 1,
		};
	for (uint32_t k = 0; k < n->nextents; k++) {
		const struct zextent *e = &n->extents[k];
		uint64_t head = e->la >> b->blkszbits;
		uint64_t next = k + 1 < n->nextents ? n->extents[k + 1].la >> b->blkszbits : eof_head;

		v[head] = (struct zentry){
			.type = e->plain ? Z_EROFS_LCLUSTER_TYPE_PLAIN : Z_EROFS_LCLUSTER_TYPE_HEAD1,
			.ofs = (uint16_t)(e->la & (blksz - 1)), .blkaddr = e->blkaddr,
			.blocks = e->blocks,
		};
		/* full indexes keep a fragment offset's high half there */
		if (e->fragment)
			v[head].blkaddr = (uint32_t)(n->frag_off >> 32);
		for (uint64_t l = head + 1; l < next; l++) {
			v[l] = (struct zentry){
				.type = Z_EROFS_LCLUSTER_TYPE_NONHEAD,
				.d0 = (uint16_t)(l - head), .d1 = (uint16_t)(next - l),
			};
			if (l == head + 1 && use_big(b, n) && !e->plain)
				v[l].d0 = Z_EROFS_LI_D0_CBLKCNT | e->blocks;
		}
	}
}

static uint64_t index_size(const struct eroot_builder *b, bool compact, uint64_t base,
			   uint64_t size)
{
	uint64_t nidx = (size + blksz_of(b) - 1) >> b->blkszbits;
	uint64_t hdr = (base + 7) & ~7ull;
	struct erofs_compact_layout g;

	if (!compact)
		return hdr + 16 + nidx * 8;
	g = erofs_compact_layout(hdr + Z_EROFS_MAP_HEADER_SIZE, nidx, true);
	return hdr + Z_EROFS_MAP_HEADER_SIZE + erofs_compact_size(&g);
}

uint64_t zindex_size(const struct eroot_builder *b, const struct bnode *n, uint64_t base)
{
	return index_size(b, is_compact(n), base, n->size);
}

uint64_t zindex_full_extra(const struct eroot_builder *b, const struct bnode *n)
{
	uint64_t base = inode_base_size(n);

	if (!is_compact(n))
		return 0;
	return index_size(b, false, base, n->size) - index_size(b, true, base, n->size);
}

static void encode_full(const struct zentry *v, uint64_t nidx, uint8_t *out)
{
	for (uint64_t l = 0; l < nidx; l++, out += 8) {
		put_le16(out, v[l].type);
		if (v[l].type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			put_le16(out + 4, v[l].d0);
			put_le16(out + 6, v[l].d1);
		} else {
			put_le16(out + 2, v[l].ofs);
			put_le32(out + 4, v[l].blkaddr);
		}
	}
}

/* OR @bits (at most 16 wide) into the little-endian bit stream at @pos. */
static void put_bits(uint8_t *p, unsigned int pos, uint32_t v)
{
	uint32_t w = v << (pos & 7);

	for (unsigned int i = 0; i < 3; i++)
		p[pos / 8 + i] |= (uint8_t)(w >> (8 * i));
}

/*
 * One pack of @vcnt entries from @v (entries past @nidx are padding).  The
 * base address is chosen so that counting pclusters from it, the way the
 * kernel does, lands on each head's block address.
 */
static void encode_pack(const struct eroot_builder *b, bool big, const struct zentry *v,
			uint64_t first, uint64_t nidx, unsigned int vcnt, unsigned int bytes,
			uint8_t *out)
{
	unsigned int bits = (bytes * 8 - 32) / vcnt, lcb = b->blkszbits;
	uint32_t base = 0;
	bool found = false;

	memset(out, 0, bytes);
	for (unsigned int i = 0; i < vcnt && first + i < nidx; i++) {
		const struct zentry *e = &v[first + i];
		uint32_t lo;

		if (e->type != Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			lo = e->ofs;
			if (!found) {
				/* without big pclusters the count starts at 1; with
				 * them a block count at slot 0 belongs to the head
				 * before this pack but is counted here */
				const struct zentry *z = &v[first];

				found = true;
				if (!big)
					base = e->blkaddr - 1;
				else if (i && z->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD &&
					 (z->d0 & Z_EROFS_LI_D0_CBLKCNT))
					base = e->blkaddr - (z->d0 & ~Z_EROFS_LI_D0_CBLKCNT);
				else
					base = e->blkaddr;
			}
		} else if (e->d0 & Z_EROFS_LI_D0_CBLKCNT) {
			lo = e->d0;
		} else {
			/* the last slot of a pack keeps delta[1] instead */
			lo = i + 1 == vcnt ? e->d1 : e->d0;
		}
		put_bits(out, i * bits, (uint32_t)e->type << lcb | lo);
	}
	put_le32(out + bytes - 4, base);
}

static void encode_compact(const struct eroot_builder *b, bool big, const struct zentry *v,
			   uint64_t nidx, uint64_t ebase, uint8_t *out)
{
	struct erofs_compact_layout g = erofs_compact_layout(ebase, nidx, true);
	uint64_t l = 0;

	for (; l < g.initial4; l += 2, out += 8)
		encode_pack(b, big, v, l, nidx, 2, 8, out);
	l = g.initial4;
	for (; l < g.initial4 + g.twobyte; l += 16, out += 32)
		encode_pack(b, big, v, l, nidx, 16, 32, out);
	for (; l < nidx; l += 2, out += 8)
		encode_pack(b, big, v, l, nidx, 2, 8, out);
}

int zindex_encode(struct eroot_builder *b, const struct bnode *n, uint8_t *inode_at)
{
	uint32_t base = inode_base_size(n);
	uint64_t hdr = (base + 7) & ~7ull;
	uint64_t nidx = (n->size + blksz_of(b) - 1) >> b->blkszbits;
	uint16_t advise = 0;
	struct zentry *v = calloc(nidx ? nidx : 1, sizeof(*v));
	uint8_t *h = inode_at + hdr;
	uint8_t alg = profile_of(b, n)->codec->alg;

	if (!v)
		return BFAIL(b, -ENOMEM, "out of memory");
	if (n->frag_all) {
		/* no indexes: the header is the offset, top bit set */
		put_le64(h, n->frag_off | 1ull << 63);
		free(v);
		return 0;
	}
	build_entries(b, n, v, nidx);

	if (use_big(b, n))
		advise |= Z_EROFS_ADVISE_BIG_PCLUSTER_1 |
			  (is_compact(n) ? Z_EROFS_ADVISE_BIG_PCLUSTER_2 : 0);
	if (is_compact(n))
		advise |= Z_EROFS_ADVISE_COMPACTED_2B;
	if (n->has_fragment) {
		if (is_compact(n) && n->frag_off > UINT32_MAX) {
			free(v);
			return BFAIL(b, -EFBIG, "fragments beyond 4 GiB need full indexes");
		}
		advise |= Z_EROFS_ADVISE_FRAGMENT_PCLUSTER;
		put_le32(h, (uint32_t)n->frag_off);		/* h_fragmentoff */
		b->fragments_any = true;
	}
	if (n->ztail_inline) {
		advise |= Z_EROFS_ADVISE_INLINE_PCLUSTER;
		put_le16(h + 2, (uint16_t)n->tail_len);		/* h_idata_size */
		b->ztail_any = true;
	}
	put_le16(h + 4, advise);
	h[6] = (uint8_t)(alg | alg << 4);
	h[7] = 0;	/* logical cluster = block */
	if (is_compact(n))
		/* inodes sit at 32-byte slots, so offsets from the inode keep
		 * the kernel's 32-byte alignment arithmetic */
		encode_compact(b, use_big(b, n), v, nidx, hdr + Z_EROFS_MAP_HEADER_SIZE,
			       h + Z_EROFS_MAP_HEADER_SIZE);
	else
		encode_full(v, nidx, h + 16);
	free(v);
	return 0;
}
