// SPDX-License-Identifier: MIT
/*
 * Compressed inodes: decode the full (non-compact) lcluster indexes into a
 * list of physical clusters, check it as the kernel would read it, and
 * decompress one pcluster at a time (the last one stays cached).
 */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define ZEXT_MAX_LEN	(16u << 20)	/* refuse absurd decompressed sizes */

struct zindex {
	uint8_t type;
	uint16_t clusterofs;
	uint32_t blkaddr;	/* HEAD/PLAIN */
	uint16_t d0, d1;	/* NONHEAD */
};

static void decode_index(const uint8_t *p, struct zindex *zi)
{
	zi->type = get_le16(p) & 3;
	zi->clusterofs = get_le16(p + 2);
	zi->blkaddr = get_le32(p + 4);
	zi->d0 = get_le16(p + 4);
	zi->d1 = get_le16(p + 6);
}

#define ZCORRUPT(img, ino, why) \
	CORRUPT(img, "nid %llu: compression indexes: %s", (unsigned long long)(ino)->nid, why)

static int parse_header(struct eroot_image *img, const struct eroot_inode *ino,
			uint64_t at, uint16_t *advise)
{
	uint8_t h[Z_EROFS_MAP_HEADER_SIZE];
	int err = img_read(img, at, h, sizeof(h));
	unsigned int alg;

	if (err)
		return err;
	*advise = get_le16(h + 4);
	alg = h[6] & 0xf;
	if (h[7] & 0x80 || *advise & (Z_EROFS_ADVISE_INLINE_PCLUSTER |
				      Z_EROFS_ADVISE_FRAGMENT_PCLUSTER |
				      Z_EROFS_ADVISE_INTERLACED_PCLUSTER |
				      Z_EROFS_ADVISE_BIG_PCLUSTER_2))
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: tail packing, fragments and interlaced pclusters are not supported yet",
				  (unsigned long long)ino->nid);
	if (h[7] & 7)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: logical clusters larger than a block",
				  (unsigned long long)ino->nid);
	if (alg >= Z_EROFS_COMPRESSION_MAX || !(img->available_algs & (1u << alg)))
		return ZCORRUPT(img, ino, "algorithm not declared in the superblock");
	img->zmap.alg = (uint8_t)alg;
	return 0;
}

static int add_ext(struct eroot_image *img, struct zext *e, size_t *cap)
{
	if (img->zmap.n == *cap) {
		size_t more = *cap ? *cap * 2 : 16;
		struct zext *v = realloc(img->zmap.ext, more * sizeof(*v));

		if (!v)
			return eroot_fail(&img->err, -ENOMEM, "out of memory");
		img->zmap.ext = v;
		*cap = more;
	}
	img->zmap.ext[img->zmap.n++] = *e;
	return 0;
}

/* Walk the indexes; every rule the kernel relies on is checked here. */
static int parse_indexes(struct eroot_image *img, const struct eroot_inode *ino,
			 const uint8_t *raw, uint64_t nidx, bool big)
{
	uint32_t blksz = 1u << img->blkszbits;
	uint64_t head = 0;
	size_t cap = 0;
	int err;

	for (uint64_t l = 0; l < nidx; l++) {
		struct zindex zi;
		struct zext e = { 0 };

		decode_index(raw + l * 8, &zi);
		if (zi.type == Z_EROFS_LCLUSTER_TYPE_HEAD2)
			return eroot_fail(&img->err, -EOPNOTSUPP, "nid %llu: HEAD2 pclusters",
					  (unsigned long long)ino->nid);
		if (zi.type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			bool cblk = zi.d0 & Z_EROFS_LI_D0_CBLKCNT;

			if (!l)
				return ZCORRUPT(img, ino, "file starts inside a pcluster");
			if (cblk ? (l != head + 1 || !big) : zi.d0 != l - head)
				return ZCORRUPT(img, ino, "NONHEAD distance does not lead to its head");
			if (cblk) {
				struct zext *last = &img->zmap.ext[img->zmap.n - 1];

				last->blocks = zi.d0 & ~Z_EROFS_LI_D0_CBLKCNT;
				if (last->plain || !last->blocks ||
				    last->blocks > (Z_EROFS_PCLUSTER_MAX_SIZE >> img->blkszbits))
					return ZCORRUPT(img, ino, "bad pcluster block count");
			}
			continue;
		}
		if (zi.clusterofs >= blksz || (!l && zi.clusterofs))
			return ZCORRUPT(img, ino, "head offset out of range");
		head = l;
		e.la = (l << img->blkszbits) + zi.clusterofs;
		e.blkaddr = zi.blkaddr;
		e.blocks = 1;
		e.plain = zi.type == Z_EROFS_LCLUSTER_TYPE_PLAIN;
		err = add_ext(img, &e, &cap);
		if (err)
			return err;
	}
	return 0;
}

/* Lengths from the starts, then the checks that need them. */
static int finish_extents(struct eroot_image *img, const struct eroot_inode *ino)
{
	uint32_t blksz = 1u << img->blkszbits;

	for (size_t i = 0; i < img->zmap.n; i++) {
		struct zext *e = &img->zmap.ext[i];
		uint64_t end = i + 1 < img->zmap.n ? img->zmap.ext[i + 1].la : ino->size;
		uint64_t lcn_end = ((e->la >> img->blkszbits) + 1) << img->blkszbits;

		if (end <= e->la)
			return ZCORRUPT(img, ino, "pcluster starts past the end of the file");
		e->len = end - e->la;
		if (e->blkaddr >= img->info.blocks || e->blocks > img->info.blocks - e->blkaddr)
			return ZCORRUPT(img, ino, "pcluster beyond the image");
		if (e->len > ZEXT_MAX_LEN)
			return ZCORRUPT(img, ino, "pcluster decompresses to more than 16 MiB");
		/* the kernel maps a plain pcluster up to the next head or the end
		 * of the cluster being read, and wants no more than a block */
		if (e->plain && (e->len > blksz ||
				 (end > lcn_end && (i + 1 == img->zmap.n ||
						    end >= lcn_end + blksz))))
			return ZCORRUPT(img, ino, "plain pcluster larger than the kernel maps");
	}
	return 0;
}

static int zmap_load(struct eroot_image *img, const struct eroot_inode *ino)
{
	uint64_t hdr = (inode_inline_off(img, ino) + 7) & ~7ull;
	uint64_t nidx = (ino->size + (1u << img->blkszbits) - 1) >> img->blkszbits;
	uint16_t advise;
	uint8_t *raw;
	int err;

	if (img->zmap.valid && img->zmap.nid == ino->nid)
		return 0;
	img->zmap.valid = false;
	img->zmap.n = 0;
	img->zcache.valid = false;
	if (ino->datalayout != EROFS_INODE_COMPRESSED_FULL)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: compact compression indexes are not supported yet",
				  (unsigned long long)ino->nid);
	err = parse_header(img, ino, hdr, &advise);
	if (err)
		return err;
	if (nidx > (img->image_bytes - hdr) / 8)
		return ZCORRUPT(img, ino, "indexes run past the image end");
	raw = malloc(nidx ? nidx * 8 : 1);
	if (!raw)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = img_read(img, hdr + 16, raw, nidx * 8);
	if (!err)
		err = parse_indexes(img, ino, raw, nidx,
				    advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1);
	free(raw);
	if (!err)
		err = finish_extents(img, ino);
	if (err)
		return err;
	img->zmap.nid = ino->nid;
	img->zmap.valid = true;
	return 0;
}

/* Decompress extent @i into the cache. */
static int zcache_fill(struct eroot_image *img, const struct eroot_inode *ino, size_t i)
{
	const struct zext *e = &img->zmap.ext[i];
	size_t plen = (size_t)e->blocks << img->blkszbits, pad = 0;
	uint8_t *src;
	int err;

	if (img->zcache.valid && img->zcache.idx == i)
		return 0;
	img->zcache.valid = false;
	if (img->zcache.cap < e->len) {
		uint8_t *buf = realloc(img->zcache.buf, e->len);

		if (!buf)
			return eroot_fail(&img->err, -ENOMEM, "out of memory");
		img->zcache.buf = buf;
		img->zcache.cap = e->len;
	}
	src = malloc(plen);
	if (!src)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = img_read(img, (uint64_t)e->blkaddr << img->blkszbits, src, plen);
	if (!err && e->plain) {
		memcpy(img->zcache.buf, src, e->len);
	} else if (!err) {
		/* the compressed stream is at the end, zeros before it */
		while (pad < plen && !src[pad])
			pad++;
		if (pad >= (1u << img->blkszbits))
			err = ZCORRUPT(img, ino, "pcluster holds no compressed data");
		else
			err = codec_decompress(img->zmap.alg, &img->cparams, src + pad, plen - pad,
					       img->zcache.buf, e->len);
		if (err == -EUCLEAN)
			err = CORRUPT(img, "nid %llu: pcluster at block %u does not decompress",
				      (unsigned long long)ino->nid, e->blkaddr);
		else if (err)
			err = eroot_fail(&img->err, err, "nid %llu: decompression failed",
					 (unsigned long long)ino->nid);
	}
	free(src);
	if (err)
		return err;
	img->zcache.valid = true;
	img->zcache.idx = i;
	return 0;
}

static size_t find_extent(const struct eroot_image *img, uint64_t pos)
{
	size_t lo = 0, hi = img->zmap.n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->zmap.ext[mid].la <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

ssize_t zdata_read(struct eroot_image *img, const struct eroot_inode *ino,
		   void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;
	int err = zmap_load(img, ino);

	if (err)
		return err;
	while (done < len) {
		uint64_t pos = off + done;
		size_t i = find_extent(img, pos), n;
		const struct zext *e = &img->zmap.ext[i];

		err = zcache_fill(img, ino, i);
		if (err)
			return err;
		n = (size_t)(e->la + e->len - pos);
		if (n > len - done)
			n = len - done;
		memcpy(p + done, img->zcache.buf + (pos - e->la), n);
		done += n;
	}
	return (ssize_t)done;
}
