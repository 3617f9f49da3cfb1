// SPDX-License-Identifier: MIT
/*
 * File data: map a logical offset to image bytes for the uncompressed
 * layouts (flat, flat with inline tail, chunk-based) and read through it.
 */
#include <string.h>

#include "reader.h"

#define UNMAPPED UINT64_MAX

static uint64_t blocks_of(const struct eroot_image *img, uint64_t bytes)
{
	return (bytes >> img->blkszbits) + !!(bytes & ((1u << img->blkszbits) - 1));
}

/*
 * Blocks [@blkaddr, +@nblocks) on device @*dev (0: the image or, through
 * the unified space, a device) must lie on it; *@off receives the byte
 * offset there.
 */
static int locate_extent(struct eroot_image *img, const struct eroot_inode *ino,
			 unsigned int *dev, uint64_t blkaddr, uint64_t nblocks, uint64_t *off)
{
	*off = blkaddr << img->blkszbits;	/* at most 48 + 16 bits */
	if (nblocks > 1ull << (63 - img->blkszbits))
		return CORRUPT(img, "nid %llu: %llu data blocks", (unsigned long long)ino->nid,
			       (unsigned long long)nblocks);
	return dev_locate(img, ino->nid, dev, off, nblocks << img->blkszbits);
}

static int check_extent(struct eroot_image *img, const struct eroot_inode *ino,
			uint64_t blkaddr, uint64_t nblocks)
{
	unsigned int dev = 0;
	uint64_t off;

	return nblocks ? locate_extent(img, ino, &dev, blkaddr, nblocks, &off) : 0;
}

static unsigned int chunk_bits(const struct eroot_image *img,
			       const struct eroot_inode *ino)
{
	return img->blkszbits + (ino->chunk_format & EROFS_CHUNK_FORMAT_BLKBITS_MASK);
}

static unsigned int chunk_unit(const struct eroot_inode *ino)
{
	return ino->chunk_format & EROFS_CHUNK_FORMAT_INDEXES ?
	       EROFS_CHUNK_INDEX_SIZE : EROFS_BLOCK_MAP_ENTRY_SIZE;
}

static uint64_t chunk_map_off(const struct eroot_image *img,
			      const struct eroot_inode *ino)
{
	uint64_t unit = chunk_unit(ino);

	return (inode_inline_off(img, ino) + unit - 1) & ~(unit - 1);
}

#define CHUNK_HOLE UINT64_MAX

/* Block address in one chunk map entry, or CHUNK_HOLE.  48-bit indexes
 * add bits 32..47 from the entry's first 16 bits; all 48 set is a hole. */
static uint64_t chunk_blkaddr(const struct eroot_inode *ino, const uint8_t *entry,
			      unsigned int unit)
{
	uint64_t addr;

	if (unit != EROFS_CHUNK_INDEX_SIZE)
		return get_le32(entry) == EROFS_NULL_ADDR ? CHUNK_HOLE : get_le32(entry);
	addr = get_le32(entry + 4);
	if (!(ino->chunk_format & EROFS_CHUNK_FORMAT_48BIT))
		return addr == EROFS_NULL_ADDR ? CHUNK_HOLE : addr;
	addr |= (uint64_t)get_le16(entry) << 32;
	return addr == (1ull << 48) - 1 ? CHUNK_HOLE : addr;
}

static uint64_t chunk_count(const struct eroot_image *img,
			    const struct eroot_inode *ino)
{
	unsigned int bits = chunk_bits(img, ino);

	return (ino->size >> bits) + !!(ino->size & ((1ull << bits) - 1));
}

int validate_data_layout(struct eroot_image *img, const struct eroot_inode *ino)
{
	uint64_t nblocks = blocks_of(img, ino->size);
	uint64_t blksz = 1u << img->blkszbits;

	switch (ino->datalayout) {
	case EROFS_INODE_FLAT_PLAIN:
		if (ino->raw_blkaddr == EROFS_NULL_ADDR)
			return 0;	/* no blocks: all hole (mkfs.erofs 1.9) */
		return check_extent(img, ino, ino->raw_blkaddr, nblocks);
	case EROFS_INODE_FLAT_INLINE: {
		uint64_t tail = nblocks ? ino->size - ((nblocks - 1) << img->blkszbits) : 0;
		uint64_t at = inode_inline_off(img, ino);

		if ((at & (blksz - 1)) + tail > blksz || at + tail > img->image_bytes)
			return CORRUPT(img, "nid %llu: inline data crosses a block boundary",
				       (unsigned long long)ino->nid);
		return check_extent(img, ino, ino->raw_blkaddr, nblocks ? nblocks - 1 : 0);
	}
	case EROFS_INODE_CHUNK_BASED: {
		uint64_t nchunks, end;

		if (ino->chunk_format & ~(EROFS_CHUNK_FORMAT_BLKBITS_MASK | EROFS_CHUNK_FORMAT_INDEXES |
					  EROFS_CHUNK_FORMAT_48BIT) || chunk_bits(img, ino) > 47)
			return CORRUPT(img, "nid %llu: bad chunk format 0x%x",
				       (unsigned long long)ino->nid, ino->chunk_format);
		nchunks = chunk_count(img, ino);
		end = chunk_map_off(img, ino) + nchunks * chunk_unit(ino);
		if (end > img->image_bytes)
			return CORRUPT(img, "nid %llu: chunk map runs past the image end",
				       (unsigned long long)ino->nid);
		return 0;
	}
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT:
		return 0;	/* refused when the data is read */
	default:
		return CORRUPT(img, "nid %llu: unknown data layout %u",
			       (unsigned long long)ino->nid, ino->datalayout);
	}
}

static int map_chunk(struct eroot_image *img, const struct eroot_inode *ino,
		     uint64_t pos, unsigned int *dev, uint64_t *phys, uint64_t *len)
{
	unsigned int bits = chunk_bits(img, ino), unit = chunk_unit(ino);
	uint64_t idx = pos >> bits, start = idx << bits;
	/* the last chunk ends at the file's end (no addition: it may wrap) */
	uint64_t end = ino->size - start > (1ull << bits) ? start + (1ull << bits) : ino->size;
	uint8_t entry[EROFS_CHUNK_INDEX_SIZE];
	uint64_t blkaddr, off;
	int err;

	err = img_read(img, chunk_map_off(img, ino) + idx * unit, entry, unit);
	if (err)
		return err;
	/* the kernel masks the id to the table's size, then looks it up */
	*dev = unit == EROFS_CHUNK_INDEX_SIZE ? get_le16(entry + 2) & img->devid_mask : 0;
	blkaddr = chunk_blkaddr(ino, entry, unit);
	*len = end - pos;
	if (blkaddr == CHUNK_HOLE) {
		*phys = UNMAPPED;
		return 0;
	}
	err = locate_extent(img, ino, dev, blkaddr, blocks_of(img, end - start), &off);
	if (err)
		return err;
	*phys = off + (pos - start);
	return 0;
}

/* Flat data from @pos up to @end, at block @blkaddr of the unified space. */
static int map_flat(struct eroot_image *img, const struct eroot_inode *ino, uint64_t pos,
		    uint64_t end, unsigned int *dev, uint64_t *phys, uint64_t *len)
{
	uint64_t off;
	int err;

	*dev = 0;
	err = locate_extent(img, ino, dev, ino->raw_blkaddr, blocks_of(img, end), &off);
	*phys = off + pos;
	*len = end - pos;
	return err;
}

int map_data(struct eroot_image *img, const struct eroot_inode *ino,
	     uint64_t pos, unsigned int *dev, uint64_t *phys, uint64_t *len)
{
	switch (ino->datalayout) {
	case EROFS_INODE_FLAT_PLAIN:
		if (ino->raw_blkaddr != EROFS_NULL_ADDR)
			return map_flat(img, ino, pos, ino->size, dev, phys, len);
		*phys = UNMAPPED;
		*len = ino->size - pos;
		return 0;
	case EROFS_INODE_FLAT_INLINE: {
		uint64_t tail_start = (blocks_of(img, ino->size) - 1) << img->blkszbits;

		if (pos < tail_start)
			return map_flat(img, ino, pos, tail_start, dev, phys, len);
		*dev = DEV_META;
		*phys = inode_inline_off(img, ino) + (pos - tail_start);
		*len = ino->size - pos;
		return 0;
	}
	case EROFS_INODE_CHUNK_BASED:
		return map_chunk(img, ino, pos, dev, phys, len);
	default:
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: compressed data is not supported yet",
				  (unsigned long long)ino->nid);
	}
}

ssize_t data_read_mode(struct eroot_image *img, const struct eroot_inode *ino,
		       void *buf, size_t len, uint64_t off, bool fragments)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (off >= ino->size)
		return 0;
	if (len > ino->size - off)
		len = (size_t)(ino->size - off);
	if (ino->datalayout == EROFS_INODE_COMPRESSED_FULL ||
	    ino->datalayout == EROFS_INODE_COMPRESSED_COMPACT)
		return zdata_read(img, ino, buf, len, off, fragments);
	while (done < len) {
		uint64_t phys, run;
		unsigned int dev;
		size_t n;
		int err = map_data(img, ino, off + done, &dev, &phys, &run);

		if (err)
			return err;
		n = run < len - done ? (size_t)run : len - done;
		if (phys == UNMAPPED)
			memset(p + done, 0, n);
		else if ((err = dev == DEV_META ? img_read(img, phys, p + done, n) :
				dev_read(img, dev, phys, p + done, n)))
			return err;
		done += n;
	}
	return (ssize_t)done;
}

/* The public data calls serve regular files and symlinks only. */
static int check_has_data(struct eroot_image *img, const struct eroot_inode *ino)
{
	if (S_ISDIR(ino->mode))
		return eroot_fail(&img->err, -EISDIR, "is a directory");
	if (!S_ISREG(ino->mode) && !S_ISLNK(ino->mode))
		return eroot_fail(&img->err, -EINVAL, "not a regular file");
	return 0;
}

ssize_t eroot_pread(struct eroot_image *img, const struct eroot_inode *ino,
		    void *buf, size_t len, uint64_t off)
{
	int err = check_has_data(img, ino);

	return err ? err : data_read(img, ino, buf, len, off);
}

ssize_t eroot_pread_skip_fragments(struct eroot_image *img, const struct eroot_inode *ino,
				   void *buf, size_t len, uint64_t off)
{
	int err = check_has_data(img, ino);

	return err ? err : data_read_mode(img, ino, buf, len, off, false);
}

/*
 * The first run of data chunks at or after chunk @idx.  Entries are read a
 * batch at a time and a run is reported no further than its batch, so one
 * call reads only entries that lie in the image (validate_data_layout())
 * and a hole costs one entry per chunk, one step for the largest chunks.
 */
static int next_data_chunk(struct eroot_image *img, const struct eroot_inode *ino,
			   uint64_t idx, uint64_t *first, uint64_t *count)
{
	unsigned int unit = chunk_unit(ino);
	uint64_t nchunks = chunk_count(img, ino), map = chunk_map_off(img, ino);
	uint8_t batch[64 * EROFS_CHUNK_INDEX_SIZE];

	while (idx < nchunks) {
		size_t n = sizeof(batch) / unit, i = 0;
		int err;

		if (n > nchunks - idx)
			n = (size_t)(nchunks - idx);
		err = img_read(img, map + idx * unit, batch, n * unit);
		if (err)
			return err;
		while (i < n && chunk_blkaddr(ino, batch + i * unit, unit) == CHUNK_HOLE)
			i++;
		if (i < n) {
			size_t j = i;

			while (j < n && chunk_blkaddr(ino, batch + j * unit, unit) != CHUNK_HOLE)
				j++;
			*first = idx + i;
			*count = j - i;
			return 0;
		}
		idx += n;
	}
	return -ENXIO;
}

int eroot_next_data(struct eroot_image *img, const struct eroot_inode *ino,
		    uint64_t pos, uint64_t *data_start, uint64_t *data_len)
{
	uint64_t first, count, end;
	unsigned int bits;
	int err = check_has_data(img, ino);

	if (err)
		return err;
	if (pos >= ino->size ||
	    (ino->datalayout == EROFS_INODE_FLAT_PLAIN && ino->raw_blkaddr == EROFS_NULL_ADDR))
		goto no_data;
	if (ino->datalayout != EROFS_INODE_CHUNK_BASED) {
		/* flat files with blocks have no holes; compressed ones: all data */
		*data_start = pos;
		*data_len = ino->size - pos;
		return 0;
	}
	bits = chunk_bits(img, ino);
	err = next_data_chunk(img, ino, pos >> bits, &first, &count);
	if (err == -ENXIO)
		goto no_data;
	if (err)
		return err;
	/* the last chunk ends at the file's end (no shift: it may wrap) */
	end = first + count == chunk_count(img, ino) ? ino->size : (first + count) << bits;
	first <<= bits;
	*data_start = first > pos ? first : pos;
	*data_len = (end < ino->size ? end : ino->size) - *data_start;
	return 0;
no_data:
	return eroot_fail(&img->err, -ENXIO, "no data at or after offset %llu",
			  (unsigned long long)pos);
}

int eroot_readlink(struct eroot_image *img, const struct eroot_inode *ino,
		   char *buf, size_t size)
{
	ssize_t n;

	if (!S_ISLNK(ino->mode))
		return eroot_fail(&img->err, -EINVAL, "not a symlink");
	if (ino->size == 0 || ino->size > 4095)
		return CORRUPT(img, "nid %llu: bad symlink length %llu",
			       (unsigned long long)ino->nid, (unsigned long long)ino->size);
	if (size <= ino->size)
		return eroot_fail(&img->err, -ERANGE, "buffer too small");
	n = data_read(img, ino, buf, (size_t)ino->size, 0);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n))
		return CORRUPT(img, "nid %llu: NUL byte in symlink target",
			       (unsigned long long)ino->nid);
	return (int)n;
}
