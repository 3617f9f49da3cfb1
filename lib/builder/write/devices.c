// SPDX-License-Identifier: MIT
/*
 * eroot merge: the device table (one 128-byte slot per input image, in
 * block 0 after the compression configurations) and the inode records of
 * files whose data stays on those devices (bnode.ref).
 *
 * Chunk indexes name their device.  Flat and compressed files have no
 * device id: the kernel's erofs_map_dev() (fs/erofs/data.c) finds the
 * device whose [uniaddr, uniaddr + blocks) holds the address, for plain
 * reads and for compressed pclusters alike (z_erofs_submit_queue() maps
 * each with device id 0), so their addresses move by the device's uniaddr.
 */
#include <string.h>

#include "builder/builder.h"
#include "builder/write/write.h"

#define DEVT_SLOT_SIZE 128

uint64_t devices_table_off(void)
{
	uint64_t end = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE + 16 * Z_EROFS_COMPRESSION_MAX;

	return (end + DEVT_SLOT_SIZE - 1) & ~(uint64_t)(DEVT_SLOT_SIZE - 1);
}

uint64_t devices_table_end(const struct eroot_builder *b)
{
	return devices_table_off() + (uint64_t)b->ndevices * DEVT_SLOT_SIZE;
}

int devices_assign(struct eroot_builder *b, uint64_t own_blocks)
{
	uint64_t at = own_blocks;

	for (uint16_t i = 0; i < b->ndevices; i++) {
		b->devices[i].uniaddr = at;
		at += b->devices[i].blocks;
	}
	if (at > UINT32_MAX)
		return BFAIL(b, -EFBIG, "the inputs take more than 2^32 blocks of address space");
	return 0;
}

void devices_encode(const struct eroot_builder *b, uint8_t *out)
{
	for (uint16_t i = 0; i < b->ndevices; i++) {
		uint8_t *slot = out + (size_t)i * DEVT_SLOT_SIZE;

		memset(slot, 0, DEVT_SLOT_SIZE);
		memcpy(slot, b->devices[i].tag, sizeof(b->devices[i].tag));
		put_le32(slot + 64, (uint32_t)b->devices[i].blocks);
		put_le32(slot + 68, (uint32_t)b->devices[i].uniaddr);
	}
}

static uint32_t uniaddr_of(const struct eroot_builder *b, const struct bref *r)
{
	return (uint32_t)b->devices[r->device - 1].uniaddr;
}

uint32_t ref_i_u(const struct eroot_builder *b, const struct bnode *n)
{
	switch (n->ref->kind) {
	case REF_CHUNKS:
		return (n->chunkbits - b->blkszbits) | EROFS_CHUNK_FORMAT_INDEXES;
	case REF_ZMAP:
		return n->compressed_blocks;
	default:
		return n->ref->blkaddr + uniaddr_of(b, n->ref);
	}
}

static void add_le32(uint8_t *p, uint32_t v)
{
	put_le32(p, get_le32(p) + v);
}

/*
 * Move a compressed map's block addresses into the device's range: full
 * indexes hold one in each head entry; compact ones one at the end of each
 * pack (8 bytes of 4-byte entries, 32 bytes of 2-byte ones), from which
 * the kernel counts the pack's pclusters.
 */
static void rebase_zmap(const struct eroot_builder *b, const struct bref *r, uint8_t *map)
{
	uint32_t uni = uniaddr_of(b, r);
	uint8_t *e = map + Z_EROFS_MAP_HEADER_SIZE;

	if (r->datalayout == EROFS_INODE_COMPRESSED_FULL) {
		for (uint64_t l = 0; l < r->nlc; l++) {
			uint8_t *ent = e + 8 + l * 8;	/* after 8 reserved bytes */

			if ((get_le16(ent) & 3) != Z_EROFS_LCLUSTER_TYPE_NONHEAD)
				add_le32(ent + 4, uni);
		}
		return;
	}
	struct erofs_compact_layout g = erofs_compact_layout(
		r->ebase_mod32, r->nlc, r->advise & Z_EROFS_ADVISE_COMPACTED_2B);
	uint64_t packs4 = (g.initial4 + 1) / 2, packs2 = g.twobyte / 16, rest = (g.rest4 + 1) / 2;

	for (uint64_t p = 0; p < packs4; p++, e += 8)
		add_le32(e + 4, uni);
	for (uint64_t p = 0; p < packs2; p++, e += 32)
		add_le32(e + 28, uni);
	for (uint64_t p = 0; p < rest; p++, e += 8)
		add_le32(e + 4, uni);
}

void ref_encode(const struct eroot_builder *b, const struct bnode *n, uint8_t *inode_at)
{
	const struct bref *r = n->ref;
	uint32_t base = (inode_base_size(n) + 7) & ~7u;

	switch (r->kind) {
	case REF_CHUNKS:
		for (uint32_t c = 0; c < n->nchunks; c++) {
			uint8_t *ent = inode_at + base + (size_t)c * EROFS_CHUNK_INDEX_SIZE;

			put_le16(ent, 0);
			put_le16(ent + 2, n->chunk_addr[c] == EROFS_NULL_ADDR ? 0 : r->device);
			put_le32(ent + 4, n->chunk_addr[c]);
		}
		break;
	case REF_ZMAP:
		memcpy(inode_at + base, r->bytes, r->len);
		rebase_zmap(b, r, inode_at + base);
		break;
	default:
		memcpy(inode_at + inode_base_size(n), r->bytes, r->len);
		break;
	}
}
