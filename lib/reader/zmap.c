// SPDX-License-Identifier: MIT
/*
 * Compressed inodes: map one extent at a time, as the kernel's
 * fs/erofs/zmap.c does.  The map header is read once per inode into a small
 * struct zinode; each lookup then reads only the index entries it needs:
 * the lcluster holding the position, back over NONHEAD entries to the
 * extent's head, forward to the next head.  (-E48bit images may use extent
 * records instead: read directly or found by binary search.)  Nothing is
 * allocated here, and walks stop once an extent would decode to more than
 * the kernel's limit, so no number in the image sizes the work or memory.
 */
#include <string.h>

#include "reader.h"

/* The kernel's limits on one extent (erofs_fs.h). */
#define ZMAX_PLEN	Z_EROFS_PCLUSTER_MAX_SIZE	/* encoded */
#define ZMAX_LLEN	(12u << 20)			/* Z_EROFS_PCLUSTER_MAX_DSIZE */

/* Map header and index bits not in format.h (erofs_fs.h names). */
#define Z_EROFS_ADVISE_EXTENTS		0x0001	/* full layout: extent records */
#define Z_EROFS_LI_PARTIAL_REF		(1u << 15)
#define Z_EROFS_EXTENT_PLEN_PARTIAL	(1u << 27)
#define Z_EROFS_EXTENT_PLEN_FMT_BIT	28
#define Z_EROFS_EXTENT_PLEN_MASK	((Z_EROFS_PCLUSTER_MAX_SIZE << 1) - 1)

static int zbad(struct eroot_image *img, const struct zinode *zi, const char *why)
{
	return CORRUPT(img, "nid %llu: compressed data: %s", (unsigned long long)zi->nid, why);
}

static int zunsupported(struct eroot_image *img, const struct zinode *zi, const char *what)
{
	return eroot_fail(&img->err, -EOPNOTSUPP, "nid %llu: %s",
			  (unsigned long long)zi->nid, what);
}

static int too_long(struct eroot_image *img, const struct zinode *zi)
{
	return zunsupported(img, zi, "an extent decompresses to more than 12 MiB");
}

/* The end of the part of the image @off is in: the image proper, or the
 * metabox's metadata that img_read() shows after it. */
static uint64_t region_end(const struct eroot_image *img, uint64_t off)
{
	return img->metabox_base && off < img->metabox_base ? img->metabox_base :
	       img->image_bytes;
}

/*
 * Index bytes, through a small window: the walks read neighbouring entries,
 * and one read of the image (a system call for a descriptor) serves many.
 */
static int index_read(struct eroot_image *img, struct zinode *zi, uint64_t off,
		      void *buf, size_t len)
{
	uint64_t start = off & ~31ull, n = sizeof(zi->win), end = region_end(img, start);
	int err;

	if (off < zi->win_off || off + len > zi->win_off + zi->win_len) {
		if (start < end && n > end - start)
			n = end - start;
		if (start >= end || off + len > start + n)
			return img_read(img, off, buf, len);	/* says what is wrong */
		err = img_read(img, start, zi->win, n);
		if (err)
			return err;
		zi->win_off = start;
		zi->win_len = (uint32_t)n;
	}
	memcpy(buf, zi->win + (off - zi->win_off), len);
	return 0;
}

/* One lcluster index entry, decoded (the kernel's z_erofs_maprecorder). */
struct lcluster {
	uint64_t lcn;
	uint8_t type;
	bool partial;
	uint16_t clusterofs;
	uint16_t delta[2];		/* NONHEAD: back to its head, on to the next */
	uint32_t pblk;			/* heads */
	uint32_t cblks;			/* NONHEAD with CBLKCNT: pcluster blocks */
	uint64_t nextpackoff;		/* first byte after this entry's pack */
};

static bool is_head(uint8_t type)
{
	return type != Z_EROFS_LCLUSTER_TYPE_NONHEAD;
}

static int load_full(struct eroot_image *img, struct zinode *zi, uint64_t lcn,
		     struct lcluster *m)
{
	uint64_t pos = zi->ebase + lcn * 8;
	uint8_t e[8];
	uint16_t advise;
	int err = index_read(img, zi, pos, e, sizeof(e));

	if (err)
		return err;
	advise = get_le16(e);
	m->type = advise & 3;
	m->nextpackoff = pos + 8;
	if (m->type == Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
		m->delta[0] = get_le16(e + 4);
		m->delta[1] = get_le16(e + 6);
		if (m->delta[0] & Z_EROFS_LI_D0_CBLKCNT) {
			if (!(zi->advise & (Z_EROFS_ADVISE_BIG_PCLUSTER_1 |
					    Z_EROFS_ADVISE_BIG_PCLUSTER_2)))
				return zbad(img, zi, "block count without big pclusters");
			m->cblks = m->delta[0] & ~Z_EROFS_LI_D0_CBLKCNT;
			m->delta[0] = 1;
		}
	} else {
		m->partial = advise & Z_EROFS_LI_PARTIAL_REF;
		m->clusterofs = get_le16(e + 2);
		m->pblk = get_le32(e + 4);
	}
	return 0;
}

/* Compact packs: @vcnt entries of @bits bits, then the pack's le32 block. */
struct pack {
	uint8_t raw[32 + 4];		/* +4: 32-bit reads at any entry */
	unsigned int size, vcnt, bits, lobits;
};

static uint32_t pack_entry(const struct pack *k, int i, uint8_t *type)
{
	unsigned int pos = (unsigned int)i * k->bits;
	uint32_t v = get_le32(k->raw + pos / 8) >> (pos & 7);

	*type = (v >> k->lobits) & 3;
	return v & ((1u << k->lobits) - 1);
}

/* Where a head's pcluster starts: the pack's block plus those before it. */
static int pack_pblk(struct eroot_image *img, struct zinode *zi,
		     const struct pack *k, int i, uint32_t *pblk)
{
	bool big = zi->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
	uint32_t nblk = big ? 0 : 1, lo;
	uint8_t type;

	while (i > 0) {
		lo = pack_entry(k, --i, &type);
		if (type != Z_EROFS_LCLUSTER_TYPE_NONHEAD) {
			nblk++;
		} else if (!big) {
			i -= (int)lo;
			if (i >= 0)
				nblk++;
		} else if (lo & Z_EROFS_LI_D0_CBLKCNT) {
			i--;
			nblk += lo & ~Z_EROFS_LI_D0_CBLKCNT;
		} else if (lo <= 1) {
			return zbad(img, zi, "NONHEAD distance below 2 with big pclusters");
		} else {
			i -= (int)lo - 2;
		}
	}
	*pblk = get_le32(k->raw + k->size - 4) + nblk;
	return 0;
}

static int load_compact(struct eroot_image *img, struct zinode *zi, uint64_t lcn,
			struct lcluster *m)
{
	/* 4-byte entries until 32-byte alignment, 2-byte packs, 4-byte again;
	 * the regions count blocks, not lclusters, as the kernel does */
	uint64_t initial4 = ((32 - zi->ebase % 32) / 4) & 7, twob = 0, pos = zi->ebase, l = lcn;
	unsigned int shift = 2;
	struct pack k = { .raw = { 0 } };
	uint8_t type;
	uint32_t lo;
	int i, err;

	if ((zi->advise & Z_EROFS_ADVISE_COMPACTED_2B) && initial4 < zi->nblocks)
		twob = (zi->nblocks - initial4) / 16 * 16;
	if (l >= initial4) {
		pos += initial4 * 4;
		l -= initial4;
		if (l < twob) {
			shift = 1;
		} else {
			pos += twob * 2;
			l -= twob;
		}
	}
	pos += l << shift;
	if (shift == 2 && zi->lclusterbits <= 14)
		k.vcnt = 2;
	else if (shift == 1 && zi->lclusterbits <= 12)
		k.vcnt = 16;
	else
		return zunsupported(img, zi, "compact indexes for this lcluster size");
	k.size = k.vcnt << shift;
	k.bits = (k.size - 4) * 8 / k.vcnt;
	k.lobits = zi->lclusterbits > 12 ? zi->lclusterbits : 12;	/* room for CBLKCNT */
	err = index_read(img, zi, pos & ~(uint64_t)(k.size - 1), k.raw, k.size);
	if (err)
		return err;
	m->nextpackoff = (pos & ~(uint64_t)(k.size - 1)) + k.size;
	i = (int)((pos & (k.size - 1)) >> shift);
	lo = pack_entry(&k, i, &m->type);
	if (is_head(m->type)) {
		m->clusterofs = (uint16_t)lo;
		return pack_pblk(img, zi, &k, i, &m->pblk);
	}
	if (lo & Z_EROFS_LI_D0_CBLKCNT) {
		if (!(zi->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1))
			return zbad(img, zi, "block count without big pclusters");
		m->cblks = lo & ~Z_EROFS_LI_D0_CBLKCNT;
		m->delta[0] = 1;
	} else if (i + 1 < (int)k.vcnt) {
		m->delta[0] = (uint16_t)lo;
	} else {
		/* the pack's last entry holds delta[1]; delta[0] follows
		 * from the entry before it */
		lo = i ? pack_entry(&k, i - 1, &type) : 0;
		if (!i || is_head(type))
			lo = 0;
		else if (lo & Z_EROFS_LI_D0_CBLKCNT)
			lo = 1;
		m->delta[0] = (uint16_t)(lo + 1);
	}
	return 0;
}

static int load_lcluster(struct eroot_image *img, struct zinode *zi, uint64_t lcn,
			 struct lcluster *m)
{
	int err;

	if (lcn >= zi->nlc)
		return zbad(img, zi, "index past the end of the file");
	memset(m, 0, sizeof(*m));
	m->lcn = lcn;
	err = zi->compact ? load_compact(img, zi, lcn, m) : load_full(img, zi, lcn, m);
	if (err)
		return err;
	if (is_head(m->type) && m->clusterofs >> zi->lclusterbits)
		return zbad(img, zi, "head offset out of range");
	return 0;
}

/* Back from @m over NONHEAD entries to the head that @m's data belongs to. */
static int lookback(struct eroot_image *img, struct zinode *zi, struct lcluster *m,
		    unsigned int distance)
{
	uint64_t from = m->lcn;
	int err;

	while (distance && m->lcn >= distance) {
		uint64_t lcn = m->lcn - distance;

		if (from - lcn > (ZMAX_LLEN >> zi->lclusterbits) + 1)
			return too_long(img, zi);
		err = load_lcluster(img, zi, lcn, m);
		if (err)
			return err;
		if (is_head(m->type))
			return 0;
		distance = m->delta[0];
	}
	return zbad(img, zi, "NONHEAD distance does not lead to a head");
}

/* The head of the extent holding @pos (the kernel's first steps). */
static int find_head(struct eroot_image *img, struct zinode *zi, uint64_t pos,
		     struct lcluster *m)
{
	uint64_t lcn = pos >> zi->lclusterbits;
	int err = load_lcluster(img, zi, lcn, m);

	if (err)
		return err;
	if (is_head(m->type)) {
		if ((pos & ((1ull << zi->lclusterbits) - 1)) >= m->clusterofs)
			return 0;
		if (!lcn)
			return zbad(img, zi, "file starts inside a pcluster");
		return lookback(img, zi, m, 1);
	}
	return lookback(img, zi, m, m->delta[0]);
}

/*
 * Where the extent with head @h ends: the next head (*@at_head; the
 * reference mkfs may write one at the end of file), or the end of file.
 * Every NONHEAD on the way must point back to @h, as the kernel will
 * follow it when that lcluster is read first.  mkfs caps distances below
 * CBLKCNT (compact packs may add one): those lead to an earlier NONHEAD.
 */
static int extent_end(struct eroot_image *img, struct zinode *zi,
		      const struct lcluster *h, uint64_t la, uint64_t *end, bool *at_head)
{
	unsigned int lcb = zi->lclusterbits;
	uint64_t lcn = h->lcn + 1, dist;
	struct lcluster m;
	int err;

	for (;; lcn++) {
		if ((lcn << lcb) >= zi->size) {
			*end = zi->size;
			*at_head = false;
			return 0;
		}
		if ((lcn << lcb) > la + ZMAX_LLEN)
			return too_long(img, zi);
		err = load_lcluster(img, zi, lcn, &m);
		if (err)
			return err;
		if (is_head(m.type))
			break;
		dist = lcn - h->lcn;
		if (m.cblks ? dist != 1 : m.delta[0] != dist &&
		    (m.delta[0] < Z_EROFS_LI_D0_CBLKCNT - 1 || m.delta[0] > dist))
			return zbad(img, zi, "NONHEAD distance does not lead to its head");
	}
	*end = (lcn << lcb) + m.clusterofs;
	*at_head = true;
	return 0;
}

/* Blocks of the pcluster behind head @h (the kernel's compressedlen). */
static int pcluster_blocks(struct eroot_image *img, struct zinode *zi,
			   const struct lcluster *h, uint32_t *blocks)
{
	bool big1 = zi->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1;
	bool big2 = zi->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2;
	struct lcluster m;
	int err;

	*blocks = 1;
	if ((h->type == Z_EROFS_LCLUSTER_TYPE_HEAD1 && !big1) ||
	    (h->type != Z_EROFS_LCLUSTER_TYPE_HEAD1 && !big2) ||
	    ((h->lcn + 1) << zi->lclusterbits) >= zi->size)
		return 0;
	err = load_lcluster(img, zi, h->lcn + 1, &m);
	if (err)
		return err;
	if (is_head(m.type))
		return 0;
	if (m.delta[0] != 1 || !m.cblks)
		return zbad(img, zi, "no block count after a big pcluster's head");
	*blocks = m.cblks;
	return 0;
}

/*
 * The kernel maps a plain pcluster only up to the next head or the end of
 * the lcluster being read, and refuses more than the pcluster holds: check
 * the furthest such end, that of the extent's last byte.
 */
static bool plain_fits(const struct zinode *zi, const struct lcluster *h, uint64_t la,
		       uint64_t end, bool at_head, uint64_t plen)
{
	unsigned int lcb = zi->lclusterbits;
	uint64_t last = (end - 1) >> lcb, kend;

	if (last == h->lcn) {
		kend = (last + 1) << lcb;
		if (zi->idata_size && kend > zi->size)
			kend = zi->size;
	} else if (at_head && end >> lcb == last) {
		kend = end;
	} else {
		kend = (last + 1) << lcb;
	}
	return kend - la <= plen;
}

static int map_lcluster(struct eroot_image *img, struct zinode *zi, uint64_t pos,
			struct zext *e)
{
	uint32_t blksz = 1u << img->blkszbits, blocks;
	bool inline_tail = false, at_head;
	struct lcluster h;
	uint64_t end = 0;
	int err;

	if ((zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && !zi->tail_headlcn) {
		*e = (struct zext){ .la = 0, .llen = zi->size, .kind = ZEXT_FRAGMENT,
				    .pa = zi->fragment_off };
		return 0;
	}
	err = find_head(img, zi, pos, &h);
	if (err)
		return err;
	memset(e, 0, sizeof(*e));
	e->la = (h.lcn << zi->lclusterbits) | h.clusterofs;
	err = extent_end(img, zi, &h, e->la, &end, &at_head);
	if (err)
		return err;
	/* the head behind a NONHEAD must be that of the data at @pos */
	if (end <= pos)
		return zbad(img, zi, "NONHEAD distance does not lead to its head");
	e->llen = end - e->la;
	e->partial = h.partial;
	if (zi->idata_size && h.lcn == zi->tail_headlcn) {
		inline_tail = true;
		e->meta = true;
		e->pa = zi->idata_off;
		e->plen = zi->idata_size;
		if ((e->pa & (blksz - 1)) + e->plen > blksz)
			return zbad(img, zi, "inline tail pcluster crosses a block");
	} else if ((zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) &&
		   h.lcn == zi->tail_headlcn) {
		if (h.type == Z_EROFS_LCLUSTER_TYPE_PLAIN)
			return zbad(img, zi, "fragment behind a plain head");
		e->kind = ZEXT_FRAGMENT;
		e->pa = zi->fragment_off;
		return 0;
	} else {
		err = pcluster_blocks(img, zi, &h, &blocks);
		if (err)
			return err;
		if (!blocks)
			return zbad(img, zi, "bad pcluster block count");
		if (blocks > ZMAX_PLEN >> img->blkszbits)
			return zunsupported(img, zi, "a pcluster larger than 1 MiB");
		e->pa = (uint64_t)h.pblk << img->blkszbits;
		e->plen = blocks << img->blkszbits;
	}
	if (h.type == Z_EROFS_LCLUSTER_TYPE_PLAIN) {
		if (!plain_fits(zi, &h, e->la, end, at_head, e->plen))
			return zbad(img, zi, "plain pcluster larger than the kernel maps");
		e->kind = ZEXT_PLAIN;
		e->interlaced = (zi->advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER) && !inline_tail;
		return 0;
	}
	e->kind = ZEXT_COMPRESSED;
	e->alg = zi->algs[h.type == Z_EROFS_LCLUSTER_TYPE_HEAD2];
	return 0;
}

/* Extent records, 4 or 8 bytes: one per lcluster. */
static int map_ext_lcluster(struct eroot_image *img, struct zinode *zi, uint64_t pos,
			    struct zext *e)
{
	unsigned int lcb = zi->lclusterbits;
	uint64_t lcn = pos >> lcb, at, pa;
	uint8_t rec[256];
	uint32_t plen = 0;
	int err;

	if (zi->recsz == 8) {
		err = index_read(img, zi, zi->ebase + lcn * 8, rec, 8);
		if (err)
			return err;
		plen = get_le32(rec);
		pa = get_le32(rec + 4);
	} else {
		/* 4 bytes: lengths only, each pcluster follows the one before */
		if (lcn < zi->cur_lcn) {	/* backwards, or the first walk */
			err = img_read(img, zi->ebase, rec, 8);
			if (err)
				return err;
			zi->cur_lcn = 0;
			zi->cur_pa = get_le64(rec);
		}
		at = zi->cur_lcn;
		for (;;) {
			size_t n = lcn - at + 1 < 64 ? (size_t)(lcn - at + 1) : 64;

			err = img_read(img, zi->ebase + 8 + at * 4, rec, n * 4);
			if (err)
				return err;
			for (size_t i = 0; i < n; i++, at++) {
				plen = get_le32(rec + i * 4);
				if (at == lcn)
					break;
				zi->cur_pa += plen & Z_EROFS_EXTENT_PLEN_MASK;
			}
			if (at == lcn)
				break;
		}
		zi->cur_lcn = lcn;
		pa = zi->cur_pa;
	}
	memset(e, 0, sizeof(*e));
	e->la = lcn << lcb;
	e->llen = ((lcn + 1) << lcb < zi->size ? (lcn + 1) << lcb : zi->size) - e->la;
	if (lcn + 1 == zi->nlc && (zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)) {
		e->kind = ZEXT_FRAGMENT;
		e->pa = plen | (zi->recsz == 8 ? pa << 32 : 0);
		return 1;
	}
	e->pa = pa;
	e->plen = plen;
	return 0;
}

/* Extent records, 16 or 32 bytes: each with its logical start. */
static int read_record(struct eroot_image *img, struct zinode *zi, uint64_t i,
		       uint64_t *la, uint64_t *pa, uint32_t *plen)
{
	uint8_t rec[20];
	int err = index_read(img, zi, zi->ebase + i * zi->recsz, rec, zi->recsz > 16 ? 20 : 16);

	if (err)
		return err;
	*plen = get_le32(rec);
	*pa = get_le32(rec + 4) | (uint64_t)get_le32(rec + 8) << 32;
	*la = get_le32(rec + 12) | (zi->recsz > 16 ? (uint64_t)get_le32(rec + 16) << 32 : 0);
	return 0;
}

static int map_ext_search(struct eroot_image *img, struct zinode *zi, uint64_t pos,
			  struct zext *e)
{
	uint64_t lo = 0, hi = zi->nrec, la, pa, lend = zi->size;
	uint32_t plen;
	bool found = false;
	int err;

	memset(e, 0, sizeof(*e));
	while (lo < hi) {	/* the last record starting at or before @pos */
		uint64_t mid = lo + (hi - lo) / 2;

		err = read_record(img, zi, mid, &la, &pa, &plen);
		if (err)
			return err;
		if (la > pos) {
			if (la > lend)
				return zbad(img, zi, "extent records out of order");
			lend = la;
			hi = mid;
		} else {
			e->la = la;
			e->pa = pa;
			e->plen = plen;
			found = true;
			lo = mid + 1;
		}
	}
	if (!found) {		/* before the first record: unmapped */
		*e = (struct zext){ .la = pos, .llen = lend - pos, .kind = ZEXT_HOLE };
		return 2;
	}
	if (lend <= e->la)
		return zbad(img, zi, "extent records out of order");
	e->llen = lend - e->la;
	if (lo == zi->nrec && (zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)) {
		e->kind = ZEXT_FRAGMENT;
		e->pa = e->plen | e->pa << 32;
		return 1;
	}
	return 0;
}

static int map_extents(struct eroot_image *img, struct zinode *zi, uint64_t pos,
		       struct zext *e)
{
	uint32_t bmask = (1u << img->blkszbits) - 1, plen, fmt;
	int err = zi->recsz <= 8 ? map_ext_lcluster(img, zi, pos, e) :
		  map_ext_search(img, zi, pos, e);

	if (err)
		return err > 0 ? 0 : err;	/* a fragment or a hole */
	plen = e->plen & Z_EROFS_EXTENT_PLEN_MASK;
	fmt = e->plen >> Z_EROFS_EXTENT_PLEN_FMT_BIT;
	e->partial = e->plen & Z_EROFS_EXTENT_PLEN_PARTIAL;
	e->plen = plen;
	if (!plen) {
		e->kind = ZEXT_HOLE;
		return 0;
	}
	if (plen > ZMAX_PLEN)
		return zunsupported(img, zi, "a pcluster larger than 1 MiB");
	if (fmt) {
		e->kind = ZEXT_COMPRESSED;
		e->alg = (uint8_t)(fmt - 1);
		return 0;
	}
	if (e->llen > plen)
		return zbad(img, zi, "plain extent longer than its pcluster");
	e->kind = ZEXT_PLAIN;
	e->interlaced = (zi->advise & Z_EROFS_ADVISE_INTERLACED_PCLUSTER) &&
			!((e->pa | plen) & bmask);
	return 0;
}

/* The last extent's head, and where an inline tail starts (FINDTAIL). */
static int find_tail(struct eroot_image *img, struct zinode *zi)
{
	uint64_t pos = zi->size - 1;
	struct lcluster m;
	int err = load_lcluster(img, zi, pos >> zi->lclusterbits, &m);

	if (err)
		return err;
	zi->idata_off = m.nextpackoff;
	err = find_head(img, zi, pos, &m);
	if (err)
		return err;
	zi->tail_headlcn = m.lcn;
	/* full indexes keep the offset's high half in the head's block */
	if ((zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && !zi->compact)
		zi->fragment_off |= (uint64_t)m.pblk << 32;
	return 0;
}

/* Index area bounds, so that a size near 2^64 fails here, at once. */
static int check_index_area(struct eroot_image *img, const struct zinode *zi)
{
	uint64_t room = region_end(img, zi->ebase) > zi->ebase ?
			region_end(img, zi->ebase) - zi->ebase : 0;
	uint64_t need;

	uint64_t ini = zi->nblocks < 8 ? zi->nblocks : 8, twob = 0, rest;

	if (zi->extents && zi->recsz > 8) {
		need = zi->nrec * zi->recsz;
	} else if (zi->extents) {
		need = zi->nlc * zi->recsz + (zi->recsz == 4 ? 8 : 0);
	} else if (zi->compact) {
		/* the layout of load_compact(), with 4-byte entries in pairs */
		ini = ((32 - zi->ebase % 32) / 4) & 7;
		if (ini > zi->nblocks)
			ini = zi->nblocks;
		if ((zi->advise & Z_EROFS_ADVISE_COMPACTED_2B) && ini < zi->nblocks)
			twob = (zi->nblocks - ini) / 16 * 16;
		rest = zi->nblocks - ini - twob;
		need = ini * 4 + twob * 2 + (rest + (rest & 1)) * 4;
	} else {
		need = zi->nlc * 8;
	}
	if (need > room)
		return zbad(img, zi, "indexes run past the image end");
	return 0;
}

static int parse_header(struct eroot_image *img, struct zinode *zi, const uint8_t *h)
{
	bool packed = img->packed_nid && zi->nid == img->packed_nid;

	/* the top bit: the whole file is in the packed inode, no indexes */
	if (h[7] & 0x80) {
		zi->whole_fragment = true;
		zi->fragment_off = get_le64(h) & ~(1ull << 63);
		return !img->packed_nid || packed ?
		       zbad(img, zi, "fragment without a packed inode") : 0;
	}
	zi->advise = get_le16(h + 4);
	/* (in the 16/32-byte record form these bits count records) */
	zi->lclusterbits = (uint8_t)(img->blkszbits + (h[7] & 15));
	zi->nlc = (zi->size >> zi->lclusterbits) + !!(zi->size & ((1ull << zi->lclusterbits) - 1));
	if (!zi->compact && (zi->advise & Z_EROFS_ADVISE_EXTENTS)) {
		zi->extents = true;
		zi->recsz = (uint8_t)(4 << ((zi->advise >> 1) & 3));
		zi->ebase = (zi->ebase + zi->recsz - 1) & ~(uint64_t)(zi->recsz - 1);
		zi->nrec = get_le32(h) | (uint64_t)get_le16(h + 6) << 32;
		zi->cur_lcn = UINT64_MAX;
		if ((zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) && (!img->packed_nid || packed))
			return zbad(img, zi, "fragment without a packed inode");
		return 0;
	}
	zi->algs[0] = h[6] & 15;
	zi->algs[1] = h[6] >> 4;
	if (zi->algs[0] >= Z_EROFS_COMPRESSION_MAX || zi->algs[1] >= Z_EROFS_COMPRESSION_MAX)
		return zunsupported(img, zi, "an unknown compression algorithm");
	if (zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER) {
		zi->fragment_off = get_le32(h);
		if (!img->packed_nid || packed)
			return zbad(img, zi, "fragment without a packed inode");
	} else if (zi->advise & Z_EROFS_ADVISE_INLINE_PCLUSTER) {
		zi->idata_size = get_le16(h + 2);
	}
	if ((zi->advise & (Z_EROFS_ADVISE_BIG_PCLUSTER_1 | Z_EROFS_ADVISE_BIG_PCLUSTER_2)) &&
	    !(img->info.feature_incompat & EROFS_FEATURE_INCOMPAT_BIG_PCLUSTER))
		return zbad(img, zi, "big pclusters without the superblock feature");
	if (zi->compact && !(zi->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_1) !=
			   !(zi->advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2))
		return zbad(img, zi, "compact indexes with one kind of big pcluster");
	if (!zi->compact)
		zi->ebase += 8;		/* full indexes start 8 bytes later */
	return 0;
}

/* Read the map header of @ino once (the kernel's z_erofs_fill_inode_lazy). */
static int zinode_load(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino)
{
	struct zinode *zi = &z->zi;
	uint64_t hdr = (inode_inline_off(img, ino) + 7) & ~7ull;
	uint8_t h[Z_EROFS_MAP_HEADER_SIZE];
	int err;

	if (zi->valid && zi->nid == ino->nid)
		return 0;
	memset(zi, 0, sizeof(*zi));
	z->ext_valid = false;
	zcache_drop(&z->cache);
	zi->nid = ino->nid;
	zi->size = ino->size;
	zi->compact = ino->datalayout == EROFS_INODE_COMPRESSED_COMPACT;
	zi->nblocks = (ino->size >> img->blkszbits) +
		      !!(ino->size & ((1u << img->blkszbits) - 1));
	zi->ebase = hdr + Z_EROFS_MAP_HEADER_SIZE;
	err = img_read(img, hdr, h, sizeof(h));
	if (!err)
		err = parse_header(img, zi, h);
	if (!err && !zi->whole_fragment)
		err = check_index_area(img, zi);
	if (!err && !zi->whole_fragment && !zi->extents && zi->size &&
	    (zi->idata_size || (zi->advise & Z_EROFS_ADVISE_FRAGMENT_PCLUSTER)))
		err = find_tail(img, zi);
	if (err)
		return err;
	zi->valid = true;
	return 0;
}

int zmap_extent(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino,
		uint64_t pos, struct zext *e)
{
	struct zinode *zi = &z->zi;
	uint64_t limit;
	int err = zinode_load(img, z, ino);

	if (err)
		return err;
	if (zi->whole_fragment) {
		*e = (struct zext){ .la = 0, .llen = zi->size, .kind = ZEXT_FRAGMENT,
				    .pa = zi->fragment_off };
		return 0;
	}
	e->meta = false;
	err = zi->extents ? map_extents(img, zi, pos, e) : map_lcluster(img, zi, pos, e);
	if (err)
		return err;
	if (e->kind == ZEXT_FRAGMENT || e->kind == ZEXT_HOLE)
		return 0;
	if (e->kind == ZEXT_COMPRESSED) {
		if (e->alg >= Z_EROFS_COMPRESSION_MAX)
			return zunsupported(img, zi, "an unknown compression algorithm");
		if (!(img->available_algs & (1u << e->alg)))
			return zbad(img, zi, "algorithm not declared in the superblock");
		if (e->llen > ZMAX_LLEN)
			return too_long(img, zi);
	}
	/* data lies in the image proper, never in the metabox's metadata, or
	 * on a device through the unified space (dev_locate) */
	limit = region_end(img, 0);
	if (e->meta && (e->pa > limit || e->plen > limit - e->pa))
		return zbad(img, zi, "pcluster beyond the image");
	if (!e->meta) {
		unsigned int dev = 0;
		uint64_t off = e->pa;

		err = dev_locate(img, ino->nid, &dev, &off, e->plen);
		if (err)
			return err;
		if (!dev && off + e->plen > limit)
			return zbad(img, zi, "pcluster beyond the image");
	}
	return 0;
}
