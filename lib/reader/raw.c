// SPDX-License-Identifier: MIT
/* Raw on-disk facts for eroot merge (raw.h). */
#include <string.h>

#include "reader/reader.h"
#include "reader/raw.h"

uint64_t raw_inline_off(struct eroot_image *img, const struct eroot_inode *ino)
{
	return inode_inline_off(img, ino);
}

int raw_read(struct eroot_image *img, uint64_t off, void *buf, size_t len)
{
	return img_read(img, off, buf, len);
}

/* Bytes of the index entries the kernel reads for @z's @nlc lclusters,
 * laid out as its compacted_load_cluster_from_disk() finds them. */
static uint64_t index_bytes(const struct raw_zmap *z)
{
	if (!z->compact)
		return z->nlc * 8;
	struct erofs_compact_layout g =
		erofs_compact_layout(z->ebase, z->nlc, z->advise & Z_EROFS_ADVISE_COMPACTED_2B);

	return erofs_compact_size(&g);
}

int raw_zmap(struct eroot_image *img, const struct eroot_inode *ino, struct raw_zmap *out)
{
	struct zstate *z = &img->zs[0];
	struct zext e;
	int err;

	memset(out, 0, sizeof(*out));
	if (!ino->size)
		return -EINVAL;
	/* the map header is loaded, and checked, on the first lookup */
	err = zmap_extent(img, z, ino, 0, &e);
	if (err)
		return err;
	const struct zinode *zi = &z->zi;

	out->off = (inode_inline_off(img, ino) + 7) & ~7ull;
	out->advise = zi->advise;
	out->algs[0] = zi->algs[0];
	out->algs[1] = zi->algs[1];
	out->compact = zi->compact;
	out->nlc = zi->nlc;
	out->ebase = zi->ebase;
	out->idata_size = zi->idata_size;
	/* fragments live in the packed inode, records in the 48-bit form
	 * carry addresses of another shape: neither is rebased */
	out->referable = !zi->whole_fragment && !zi->extents &&
			 !(zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
			 (!zi->compact || zi->lclusterbits == img->blkszbits);
	if (!out->referable)
		return 0;
	if (zi->idata_size)
		out->len = (uint32_t)(zi->idata_off + zi->idata_size - out->off);
	else
		out->len = (uint32_t)(zi->ebase + index_bytes(out) - out->off);
	return 0;
}

int raw_check_map(struct eroot_image *img, const struct eroot_inode *ino)
{
	bool compressed = ino->datalayout == EROFS_INODE_COMPRESSED_FULL ||
			  ino->datalayout == EROFS_INODE_COMPRESSED_COMPACT;

	for (uint64_t pos = 0, next; pos < ino->size; pos = next) {
		struct zext e;
		uint64_t phys, len;
		unsigned int dev;
		int err = compressed ? zmap_extent(img, &img->zs[0], ino, pos, &e) :
				       map_data(img, ino, pos, &dev, &phys, &len);

		if (err)
			return err;
		next = compressed ? e.la + e.llen : pos + len;
		if (next <= pos)	/* map_data never says 0; a zero extent would loop */
			return CORRUPT(img, "nid %llu: an empty extent at byte %llu",
				       (unsigned long long)ino->nid, (unsigned long long)pos);
	}
	return 0;
}

int raw_compr_cfgs(struct eroot_image *img, uint8_t cfg[][14])
{
	uint8_t sbraw[EROFS_SUPER_SIZE];
	struct erofs_sb sb;
	uint64_t off;
	int err = img_read(img, EROFS_SUPER_OFFSET, sbraw, sizeof(sbraw));

	memset(cfg, 0, Z_EROFS_COMPRESSION_MAX * sizeof(cfg[0]));
	if (err)
		return err;
	erofs_sb_decode(sbraw, &sb);
	if (!(sb.feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS))
		return 0;
	off = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE + sb.sb_extslots * 16u;
	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++) {
		uint8_t len[2];

		if (!(sb.available_compr_algs & (1u << alg)))
			continue;
		off = (off + 3) & ~3ull;
		err = img_read(img, off, len, 2);
		if (!err && (get_le16(len) > 14 || get_le16(len) < 6))
			err = CORRUPT(img, "bad compression configuration length %u", get_le16(len));
		if (!err)
			err = img_read(img, off + 2, cfg[alg], get_le16(len));
		if (err)
			return err;
		off += 2 + get_le16(len);
	}
	return 0;
}
