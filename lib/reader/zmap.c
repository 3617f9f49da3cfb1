// SPDX-License-Identifier: MIT
/*
 * Compressed inodes: decode the lcluster indexes (full or compact) into a
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

static void decode_full(const uint8_t *raw, uint64_t nidx, struct zindex *v)
{
	for (uint64_t l = 0; l < nidx; l++, raw += 8) {
		v[l].type = get_le16(raw) & 3;
		v[l].clusterofs = get_le16(raw + 2);
		v[l].blkaddr = get_le32(raw + 4);
		v[l].d0 = get_le16(raw + 4);
		v[l].d1 = get_le16(raw + 6);
	}
}

struct pack {
	const uint8_t *p;
	unsigned int vcnt, bits, lcb;
	bool big;
};

static uint32_t slot(const struct pack *k, unsigned int i, uint8_t *type)
{
	unsigned int pos = i * k->bits;
	uint32_t v = (uint32_t)k->p[pos / 8] | (uint32_t)k->p[pos / 8 + 1] << 8 |
		     (uint32_t)k->p[pos / 8 + 2] << 16;

	v >>= pos & 7;
	*type = (v >> k->lcb) & 3;
	return v & ((1u << k->lcb) - 1);
}

/* A head's block: the pack's base plus the pclusters counted before it. */
static int pack_blkaddr(const struct pack *k, int i, uint32_t *blkaddr)
{
	uint32_t nblk = k->big ? 0 : 1;
	uint8_t type;

	while (i > 0) {
		uint32_t lo = slot(k, (unsigned int)--i, &type);

		if (type != Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			nblk++;
		} else if (!k->big) {
			i -= (int)lo;
			if (i >= 0)
				nblk++;
		} else if (lo & Z_EROFS_LI_D0_CBLKCNT) {
			i--;
			nblk += lo & ~Z_EROFS_LI_D0_CBLKCNT;
		} else if (lo <= 1) {
			return -EUCLEAN;
		} else {
			i -= (int)lo - 2;
		}
	}
	*blkaddr = get_le32(k->p + (k->vcnt == 2 ? 8 : 32) - 4) + nblk;	/* pack's base */
	return 0;
}

static int decode_pack(struct pack *k, uint64_t first, uint64_t nidx, struct zindex *v)
{
	for (unsigned int i = 0; i < k->vcnt && first + i < nidx; i++) {
		struct zindex *z = &v[first + i];
		uint32_t lo = slot(k, i, &z->type);

		if (z->type != Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			z->clusterofs = (uint16_t)lo;
			if (pack_blkaddr(k, (int)i, &z->blkaddr))
				return -EUCLEAN;
		} else if ((lo & Z_EROFS_LI_D0_CBLKCNT) || i + 1 < k->vcnt) {
			z->d0 = (uint16_t)lo;
		} else {
			/* the last slot keeps delta[1]; delta[0] follows the slot before */
			uint8_t t;
			uint32_t prev = i ? slot(k, i - 1, &t) : 0;

			if (!i || t != Z_EROFS_LCLUSTER_TYPE_NONHEAD)
				prev = 0;
			else if (prev & Z_EROFS_LI_D0_CBLKCNT)
				prev = 1;
			z->d0 = (uint16_t)(prev + 1);
			z->d1 = (uint16_t)lo;
		}
	}
	return 0;
}

static int decode_compact(const uint8_t *raw, uint64_t ebase, uint64_t nidx,
			  unsigned int lcb, bool big, bool twobyte, struct zindex *v)
{
	struct erofs_compact_layout g = erofs_compact_layout(ebase, nidx, twobyte);
	struct pack k = { .p = raw, .lcb = lcb, .big = big };
	uint64_t l = 0;

	for (; l < nidx; ) {
		bool two = l >= g.initial4 && l < g.initial4 + g.twobyte;

		k.vcnt = two ? 16 : 2;
		k.bits = two ? 14 : 16;
		if (decode_pack(&k, l, nidx, v))
			return -EUCLEAN;
		k.p += two ? 32 : 8;
		l += k.vcnt;
	}
	return 0;
}

#define ZCORRUPT(img, ino, why) \
	CORRUPT(img, "nid %llu: compression indexes: %s", (unsigned long long)(ino)->nid, why)

static int parse_header(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino,
			uint64_t at, uint16_t *advise)
{
	uint8_t h[Z_EROFS_MAP_HEADER_SIZE];
	int err = img_read(img, at, h, sizeof(h));
	unsigned int alg;

	if (err)
		return err;
	*advise = get_le16(h + 4);
	alg = h[6] & 0xf;
	z->map.idata_size = get_le16(h + 2);
	z->map.frag_off = get_le32(h);
	if (*advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: interlaced pclusters are not supported yet",
				  (unsigned long long)ino->nid);
	if (h[7] & 7)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: logical clusters larger than a block",
				  (unsigned long long)ino->nid);
	if (alg >= Z_EROFS_COMPRESSION_MAX || !(img->available_algs & (1u << alg)))
		return ZCORRUPT(img, ino, "algorithm not declared in the superblock");
	z->map.alg = (uint8_t)alg;
	return 0;
}

static int add_ext(struct eroot_image *img, struct zstate *z, struct zext *e, size_t *cap)
{
	if (z->map.n == *cap) {
		size_t more = *cap ? *cap * 2 : 16;
		struct zext *v = realloc(z->map.ext, more * sizeof(*v));

		if (!v)
			return eroot_fail(&img->err, -ENOMEM, "out of memory");
		z->map.ext = v;
		*cap = more;
	}
	z->map.ext[z->map.n++] = *e;
	return 0;
}

/* Walk the indexes; every rule the kernel relies on is checked here. */
static int parse_indexes(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino,
			 const struct zindex *v, uint64_t nidx, bool big)
{
	uint32_t blksz = 1u << img->blkszbits;
	uint64_t head = 0;
	size_t cap = 0;
	int err;

	for (uint64_t l = 0; l < nidx; l++) {
		struct zindex zi = v[l];
		struct zext e = { 0 };

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
				struct zext *last = &z->map.ext[z->map.n - 1];

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
		err = add_ext(img, z, &e, &cap);
		if (err)
			return err;
	}
	return 0;
}

/* Lengths from the starts, then the checks that need them. */
static int finish_extents(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino)
{
	uint32_t blksz = 1u << img->blkszbits;

	/* a head at the end of the file maps nothing but bounds a plain
	 * pcluster before it (see below) */
	size_t n = z->map.n;
	bool eof_head = n && z->map.ext[n - 1].la == ino->size;

	z->map.n -= eof_head;
	for (size_t i = 0; i < z->map.n; i++) {
		struct zext *e = &z->map.ext[i];
		uint64_t end = i + 1 < z->map.n ? z->map.ext[i + 1].la : ino->size;
		uint64_t lcn_end = ((e->la >> img->blkszbits) + 1) << img->blkszbits;
		bool bounded = i + 1 < n;	/* another head follows */

		if (end <= e->la)
			return ZCORRUPT(img, ino, "pcluster starts past the end of the file");
		e->len = end - e->la;
		if (e->fragment)
			continue;
		if (e->inline_tail) {
			if (e->plain && e->len != z->map.idata_size)
				return ZCORRUPT(img, ino, "inline plain tail of the wrong size");
			continue;
		}
		if (e->blkaddr >= img->info.blocks || e->blocks > img->info.blocks - e->blkaddr)
			return ZCORRUPT(img, ino, "pcluster beyond the image");
		if (e->len > ZEXT_MAX_LEN)
			return ZCORRUPT(img, ino, "pcluster decompresses to more than 16 MiB");
		/* the kernel maps a plain pcluster up to the next head or the end
		 * of the cluster being read, and wants no more than a block */
		if (e->plain && (e->len > blksz ||
				 (end > lcn_end && (!bounded || end >= lcn_end + blksz))))
			return ZCORRUPT(img, ino, "plain pcluster larger than the kernel maps");
	}
	return 0;
}

/*
 * Tail packing: the last pcluster sits right after the indexes, in the
 * same block, and decodes the file's last logical cluster.
 */
static int inline_tail(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino, uint64_t at)
{
	uint32_t blksz = 1u << img->blkszbits;
	struct zext *last = z->map.n ? &z->map.ext[z->map.n - 1] : NULL;
	uint16_t size = z->map.idata_size;

	if (!last || !size || (at & (blksz - 1)) + size > blksz || at + size > img->image_bytes)
		return ZCORRUPT(img, ino, "bad inline tail pcluster");
	if ((last->la >> img->blkszbits) != (ino->size - 1) >> img->blkszbits)
		return ZCORRUPT(img, ino, "inline tail pcluster is not in the last cluster");
	last->inline_tail = true;
	last->idata_off = at;
	last->blkaddr = 0;
	last->blocks = 0;
	return 0;
}

/*
 * A whole file in the packed inode: the map header holds only the offset,
 * with its top bit set, and there are no indexes.  Returns 1 when the file
 * is not one of these.
 */
static int whole_fragment(struct eroot_image *img, struct zstate *z,
			  const struct eroot_inode *ino, uint64_t hdr)
{
	uint8_t h[Z_EROFS_MAP_HEADER_SIZE];
	struct zext e = { .la = 0, .len = ino->size, .fragment = true };
	size_t cap = 0;
	int err = img_read(img, hdr, h, sizeof(h));

	if (err)
		return err;
	if (!(h[7] & 0x80))
		return 1;
	if (!img->packed_nid || z == &img->zs[1])
		return ZCORRUPT(img, ino, "fragment without a packed inode");
	z->map.frag_off = get_le64(h) & ~(1ull << 63);
	err = add_ext(img, z, &e, &cap);
	if (err)
		return err;
	z->map.nid = ino->nid;
	z->map.valid = true;
	return 0;
}

static int zmap_load(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino)
{
	uint64_t hdr = (inode_inline_off(img, ino) + 7) & ~7ull;
	uint64_t nidx = (ino->size + (1u << img->blkszbits) - 1) >> img->blkszbits;
	uint64_t ebase = hdr + Z_EROFS_MAP_HEADER_SIZE, bytes;
	bool compact = ino->datalayout == EROFS_INODE_COMPRESSED_COMPACT;
	struct erofs_compact_layout g;
	struct zindex *v = NULL;
	uint16_t advise;
	uint8_t *raw = NULL;
	int err;

	if (z->map.valid && z->map.nid == ino->nid)
		return 0;
	z->map.valid = false;
	z->map.n = 0;
	z->cache.valid = false;
	err = whole_fragment(img, z, ino, hdr);
	if (err <= 0)
		return err;
	err = parse_header(img, z, ino, hdr, &advise);
	if (err)
		return err;
	if ((advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && (!img->packed_nid || z == &img->zs[1]))
		return ZCORRUPT(img, ino, "fragment without a packed inode");
	if (compact && img->blkszbits > 12)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: compact indexes with blocks over 4 KiB",
				  (unsigned long long)ino->nid);
	if (nidx > (img->image_bytes - hdr) / 2)
		return ZCORRUPT(img, ino, "indexes run past the image end");
	g = erofs_compact_layout(ebase, nidx, (advise & Z_EROFS_ADVISE_COMPACTED_2B) &&
				 img->blkszbits == 12);
	bytes = compact ? erofs_compact_size(&g) + 2 : nidx * 8;	/* +2: bit reads */
	if (!compact)
		ebase = hdr + 16;
	raw = calloc(1, bytes ? bytes : 1);
	v = calloc(nidx ? nidx : 1, sizeof(*v));
	if (!raw || !v) {
		err = eroot_fail(&img->err, -ENOMEM, "out of memory");
		goto out;
	}
	err = img_read(img, ebase, raw, compact ? bytes - 2 : bytes);
	if (err)
		goto out;
	if (!compact)
		decode_full(raw, nidx, v);
	else if (decode_compact(raw, ebase, nidx, img->blkszbits,
				advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1,
				advise & Z_EROFS_ADVISE_COMPACTED_2B, v))
		err = ZCORRUPT(img, ino, "bad compact index");
	if (!err)
		err = parse_indexes(img, z, ino, v, nidx, advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1);
	if (!err && (advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && z->map.n) {
		/* the last pcluster lives in the packed inode; with full
		 * indexes its "block address" holds the offset's high half */
		struct zext *last = &z->map.ext[z->map.n - 1];

		if (!compact)
			z->map.frag_off |= (uint64_t)last->blkaddr << 32;
		if (last->plain)
			return ZCORRUPT(img, ino, "fragment behind a plain head");
		last->fragment = true;
		last->blkaddr = 0;
		last->blocks = 0;
	} else if (!err && (advise & Z_EROFS_ADVISE_INLINE_PCLUSTER)) {
		err = inline_tail(img, z, ino, ebase + (compact ? erofs_compact_size(&g) : nidx * 8));
	}
	if (!err)
		err = finish_extents(img, z, ino);
out:
	free(raw);
	free(v);
	if (err)
		return err;
	z->map.nid = ino->nid;
	z->map.valid = true;
	return 0;
}

/* @len bytes of the packed inode's data from @off. */
static int read_fragment(struct eroot_image *img, const struct eroot_inode *ino,
			 uint64_t off, uint8_t *buf, size_t len)
{
	struct eroot_inode packed;
	ssize_t n;
	int err = eroot_iget(img, img->packed_nid, &packed);

	if (err)
		return err;
	if (!S_ISREG(packed.mode) || off > packed.size || len > packed.size - off)
		return ZCORRUPT(img, ino, "fragment outside the packed inode");
	n = data_read(img, &packed, buf, len, off);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : ZCORRUPT(img, ino, "short fragment");
}

/* Decompress extent @i into the cache. */
static int zcache_fill(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino, size_t i)
{
	const struct zext *e = &z->map.ext[i];
	size_t plen = e->inline_tail ? z->map.idata_size :
		      (size_t)e->blocks << img->blkszbits, pad = 0;
	uint64_t at = e->inline_tail ? e->idata_off : (uint64_t)e->blkaddr << img->blkszbits;
	uint8_t *src;
	int err;

	if (z->cache.valid && z->cache.idx == i)
		return 0;
	z->cache.valid = false;
	if (z->cache.cap < e->len) {
		uint8_t *buf = realloc(z->cache.buf, e->len);

		if (!buf)
			return eroot_fail(&img->err, -ENOMEM, "out of memory");
		z->cache.buf = buf;
		z->cache.cap = e->len;
	}
	if (e->fragment) {
		err = read_fragment(img, ino, z->map.frag_off, z->cache.buf, e->len);
		if (err)
			return err;
		z->cache.valid = true;
		z->cache.idx = i;
		return 0;
	}
	src = malloc(plen);
	if (!src)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = img_read(img, at, src, plen);
	if (!err && e->plain) {
		memcpy(z->cache.buf, src, e->len);
	} else if (!err) {
		/* the compressed stream is at the end, zeros before it */
		while (pad < plen && !src[pad])
			pad++;
		if (pad >= (1u << img->blkszbits))
			err = ZCORRUPT(img, ino, "pcluster holds no compressed data");
		else
			err = codec_decompress(z->map.alg, &img->cparams, src + pad, plen - pad,
					       z->cache.buf, e->len);
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
	z->cache.valid = true;
	z->cache.idx = i;
	return 0;
}

static size_t find_extent(const struct zstate *z, uint64_t pos)
{
	size_t lo = 0, hi = z->map.n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->map.ext[mid].la <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

ssize_t zdata_read(struct eroot_image *img, const struct eroot_inode *ino,
		   void *buf, size_t len, uint64_t off)
{
	struct zstate *z = &img->zs[img->packed_nid && ino->nid == img->packed_nid];
	uint8_t *p = buf;
	size_t done = 0;
	int err = zmap_load(img, z, ino);

	if (err)
		return err;
	while (done < len) {
		uint64_t pos = off + done;
		size_t i = find_extent(z, pos), n;
		const struct zext *e = &z->map.ext[i];

		err = zcache_fill(img, z, ino, i);
		if (err)
			return err;
		n = (size_t)(e->la + e->len - pos);
		if (n > len - done)
			n = len - done;
		memcpy(p + done, z->cache.buf + (pos - e->la), n);
		done += n;
	}
	return (ssize_t)done;
}
