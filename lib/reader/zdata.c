// SPDX-License-Identifier: MIT
/*
 * Reading compressed inodes: each extent that zmap.c maps is copied from
 * where it lives.  Plain pclusters and fragments go straight into the
 * caller's buffer (fragments through the packed inode, itself read here
 * with its own state); a compressed pcluster is decoded once into a cache
 * (zcache.c) that holds a file's last extent, so a sequential read decodes
 * each once, and the packed inode's last few, so a tree walk, which meets
 * fragments out of their packed order, rarely decodes one twice.
 */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

/* Grow @*buf to @len bytes; callers bound @len by the kernel's limits. */
static int reserve(struct eroot_image *img, uint8_t **buf, size_t *cap, size_t len)
{
	uint8_t *p;

	if (*cap >= len)
		return 0;
	p = realloc(*buf, len);
	if (!p)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	*buf = p;
	*cap = len;
	return 0;
}

/* Pcluster bytes: inline ones in the metadata, others maybe on a device. */
static int pcluster_read(struct eroot_image *img, const struct eroot_inode *ino,
			 const struct zext *e, uint64_t at, void *buf, size_t len)
{
	return e->meta ? img_read(img, e->pa + at, buf, len) :
	       data_pread(img, ino->nid, e->pa + at, buf, len);
}

/* Stored data; interlaced pclusters start at the block offset of @la. */
static int read_plain(struct eroot_image *img, const struct eroot_inode *ino,
		      const struct zext *e, uint64_t skip, uint8_t *dst, size_t n)
{
	uint64_t first, from;
	size_t part;
	int err;

	if (!e->interlaced)
		return pcluster_read(img, ino, e, skip, dst, n);
	/* the kernel's z_erofs_transform_plain(): the extent's first
	 * (block - offset) bytes sit at the pcluster's end, the rest wrap
	 * around from its start */
	first = (1u << img->blkszbits) - (e->la & ((1u << img->blkszbits) - 1));
	from = (e->plen - first + skip) % e->plen;
	part = e->plen - from < n ? (size_t)(e->plen - from) : n;
	err = pcluster_read(img, ino, e, from, dst, part);
	if (!err && part < n)
		err = pcluster_read(img, ino, e, 0, dst + part, n - part);
	return err;
}

/* Bytes @skip.. of fragment @e, read from the packed inode, or zeros
 * when its bytes are checked elsewhere (@read false). */
static int read_fragment(struct eroot_image *img, const struct eroot_inode *ino,
			 const struct zext *e, uint64_t skip, uint8_t *dst, size_t n,
			 bool read)
{
	struct eroot_inode packed;
	ssize_t got;
	int err = eroot_iget(img, img->packed_nid, &packed);

	if (err)
		return err;
	/* all of the extent, so a huge size fails at the first read */
	if (!S_ISREG(packed.mode) || e->llen > packed.size || e->pa > packed.size - e->llen)
		return CORRUPT(img, "nid %llu: fragment outside the packed inode",
			       (unsigned long long)ino->nid);
	if (!read) {
		memset(dst, 0, n);
		return 0;
	}
	got = data_read(img, &packed, dst, n, e->pa + skip);
	if (got < 0)
		return (int)got;
	return (size_t)got == n ? 0 : CORRUPT(img, "nid %llu: short fragment",
					      (unsigned long long)ino->nid);
}

/* Decode extent @e into @dst, its @e->llen bytes. */
static int decode_to(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino,
		     const struct zext *e, uint8_t *dst)
{
	uint32_t blksz = 1u << img->blkszbits, pad = 0;
	/* without zero padding (old images) a stream may leave garbage
	 * behind it, so the kernel decodes only what it needs */
	bool padded = img->info.feature_incompat & EROFS_FEATURE_INCOMPAT_ZERO_PADDING;
	int err = reserve(img, &z->in, &z->in_cap, e->plen);

	if (!err)
		err = pcluster_read(img, ino, e, 0, z->in, e->plen);
	if (err)
		return err;
	/* the stream ends the pcluster, zeros before it */
	while (padded && pad < e->plen && !z->in[pad])
		pad++;
	if (pad >= blksz || pad >= e->plen)
		return CORRUPT(img, "nid %llu: pcluster at byte %llu holds no compressed data",
			       (unsigned long long)ino->nid, (unsigned long long)e->pa);
	err = codec_decompress(e->alg, &img->cparams, z->in + pad, e->plen - pad,
			       dst, (size_t)e->llen, e->partial || !padded);
	if (err == -EUCLEAN)
		return CORRUPT(img, "nid %llu: pcluster at byte %llu does not decompress",
			       (unsigned long long)ino->nid, (unsigned long long)e->pa);
	if (err == -EOPNOTSUPP)
		return eroot_fail(&img->err, err, "nid %llu: pcluster at byte %llu: %s",
				  (unsigned long long)ino->nid, (unsigned long long)e->pa,
				  e->alg == Z_EROFS_COMPRESSION_ZSTD ?
				  "a Zstandard window over 1 MiB (the kernel's limit)" :
				  "a stream this reader cannot decode");
	if (err)
		return eroot_fail(&img->err, err, "nid %llu: decompression failed",
				  (unsigned long long)ino->nid);
	z->decodes++;
	return 0;
}

/* The packed inode keeps several extents (zcache.h), files one. */
static unsigned int cache_slots(const struct eroot_image *img, const struct zstate *z)
{
	return z == &img->zs[1] ? ZCACHE_SLOTS : 1;
}

/* *@out: decoded extent @e, from the cache or decoded into it. */
static int decode(struct eroot_image *img, struct zstate *z, const struct eroot_inode *ino,
		  const struct zext *e, const uint8_t **out)
{
	unsigned int nslots = cache_slots(img, z);
	uint8_t *buf;
	int err;

	*out = zcache_find(&z->cache, nslots, e->la);
	if (*out)
		return 0;
	buf = zcache_claim(&z->cache, nslots, e->la, (size_t)e->llen);
	if (!buf)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = decode_to(img, z, ino, e, buf);
	if (err)
		return err;
	zcache_commit(&z->cache);
	*out = buf;
	return 0;
}

ssize_t zdata_read(struct eroot_image *img, const struct eroot_inode *ino,
		   void *buf, size_t len, uint64_t off, bool fragments)
{
	struct zstate *z = &img->zs[img->metabox_base && ino->nid == img->metabox_nid ? 2 :
				    img->packed_nid && ino->nid == img->packed_nid];
	const struct zext *e = &z->ext;
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done, skip;
		const uint8_t *from;
		size_t n;
		int err = 0;

		if (!z->ext_valid || z->zi.nid != ino->nid || pos < e->la ||
		    pos - e->la >= e->llen) {
			z->ext_valid = false;
			err = zmap_extent(img, z, ino, pos, &z->ext);
			if (err)
				return err;
			z->ext_valid = true;
		}
		skip = pos - e->la;
		n = e->llen - skip < len - done ? (size_t)(e->llen - skip) : len - done;
		switch (e->kind) {
		case ZEXT_HOLE:
			memset(p + done, 0, n);
			break;
		case ZEXT_PLAIN:
			err = read_plain(img, ino, e, skip, p + done, n);
			break;
		case ZEXT_FRAGMENT:
			err = read_fragment(img, ino, e, skip, p + done, n, fragments);
			break;
		default:
			/* a whole extent the caller wants goes straight to
			 * its buffer, without a copy through the cache */
			if (!skip && n == e->llen &&
			    !zcache_find(&z->cache, cache_slots(img, z), e->la)) {
				err = decode_to(img, z, ino, e, p + done);
				break;
			}
			err = decode(img, z, ino, e, &from);
			if (!err)
				memcpy(p + done, from + skip, n);
		}
		if (err)
			return err;
		done += n;
	}
	return (ssize_t)done;
}

void zstate_release(struct zstate *z)
{
	zcache_release(&z->cache);
	free(z->in);
	memset(z, 0, sizeof(*z));
}
