// SPDX-License-Identifier: MIT
/*
 * Directories: blocks of { dirent[n], names } sorted by name.  Each block
 * is checked fully before any entry of it is handed out.  A directory with
 * DOT_OMITTED in its i_format stores no "." entry; it is handed out first,
 * as the kernel's readdir does.
 */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

struct dir_walk {
	char prev[EROFS_NAME_LEN];
	unsigned int prev_len;
	bool have_prev;
	bool dot_made;			/* "." was made up: none may be stored */
};

static int name_cmp(const char *a, unsigned int alen, const char *b, unsigned int blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (int)alen - (int)blen;
}

static int walk_block(struct eroot_image *img, const struct eroot_inode *dir,
		      const uint8_t *blk, unsigned int size, uint64_t blkno,
		      struct dir_walk *w, eroot_dirent_fn fn, void *ctx)
{
	struct erofs_dirent_disk de;
	unsigned int count, i;

	if (size < EROFS_DIRENT_SIZE)
		return CORRUPT(img, "dir nid %llu block %llu: %u bytes, too short",
			       (unsigned long long)dir->nid, (unsigned long long)blkno, size);
	erofs_dirent_decode(blk, &de);
	if (de.nameoff < EROFS_DIRENT_SIZE || de.nameoff >= size ||
	    de.nameoff % EROFS_DIRENT_SIZE)
		return CORRUPT(img, "dir nid %llu block %llu: bad first name offset %u",
			       (unsigned long long)dir->nid, (unsigned long long)blkno,
			       de.nameoff);
	count = de.nameoff / EROFS_DIRENT_SIZE;
	for (i = 0; i < count; i++) {
		struct eroot_dirent out;
		unsigned int start, end;

		erofs_dirent_decode(blk + i * EROFS_DIRENT_SIZE, &de);
		start = de.nameoff;
		if (i + 1 < count) {
			end = get_le16(blk + (i + 1) * EROFS_DIRENT_SIZE + 8);
		} else {
			/* the last name ends at the block end or at a NUL */
			const uint8_t *nul = start < size ?
				memchr(blk + start, 0, size - start) : NULL;
			end = nul ? (unsigned int)(nul - blk) : size;
		}
		if (start < count * EROFS_DIRENT_SIZE || end > size || end <= start ||
		    end - start > EROFS_NAME_LEN)
			return CORRUPT(img, "dir nid %llu block %llu: bad name bounds %u..%u",
				       (unsigned long long)dir->nid,
				       (unsigned long long)blkno, start, end);
		if (de.file_type >= EROFS_FT_MAX || !nid_in_range(img, de.nid))
			return CORRUPT(img, "dir nid %llu: bad entry (nid %llu, type %u)",
				       (unsigned long long)dir->nid,
				       (unsigned long long)de.nid, de.file_type);
		out.nid = de.nid;
		out.name = (const char *)blk + start;
		out.name_len = end - start;
		out.file_type = erofs_ftype_to_dt(de.file_type);
		if (memchr(out.name, '/', out.name_len) || memchr(out.name, 0, out.name_len))
			return CORRUPT(img, "dir nid %llu: name with '/' or NUL",
				       (unsigned long long)dir->nid);
		if (w->have_prev && name_cmp(w->prev, w->prev_len, out.name, out.name_len) >= 0)
			return CORRUPT(img, "dir nid %llu: names out of order",
				       (unsigned long long)dir->nid);
		if (w->dot_made && out.name_len == 1 && out.name[0] == '.')
			return CORRUPT(img, "dir nid %llu: a \".\" entry although omitted",
				       (unsigned long long)dir->nid);
		memcpy(w->prev, out.name, out.name_len);
		w->prev_len = out.name_len;
		w->have_prev = true;
		int ret = fn(ctx, &out);
		if (ret)
			return ret;
	}
	return 0;
}

/* Hand out the "." that a DOT_OMITTED directory does not store. */
static int make_dot(struct eroot_image *img, const struct eroot_inode *dir,
		    struct dir_walk *w, eroot_dirent_fn fn, void *ctx)
{
	const struct eroot_dirent dot = {
		.nid = dir->nid, .name = ".", .name_len = 1,
		.file_type = erofs_ftype_to_dt(EROFS_FT_DIR),
	};
	uint8_t raw[2];
	int err = img_read(img, inode_off(img, dir->nid), raw, sizeof(raw));

	if (err || !(get_le16(raw) >> EROFS_I_DOT_OMITTED_BIT & 1))
		return err;
	w->dot_made = true;
	return fn(ctx, &dot);
}

int eroot_readdir(struct eroot_image *img, const struct eroot_inode *dir,
		  eroot_dirent_fn fn, void *ctx)
{
	uint32_t blksz = 1u << img->blkszbits;
	struct dir_walk w = { .have_prev = false };
	uint8_t *blk;
	uint64_t pos;
	int err = 0;

	if (!S_ISDIR(dir->mode))
		return eroot_fail(&img->err, -ENOTDIR, "not a directory");
	err = make_dot(img, dir, &w, fn, ctx);
	if (err)
		return err;
	blk = malloc(blksz);
	if (!blk)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	for (pos = 0; pos < dir->size && !err; pos += blksz) {
		ssize_t n = data_read(img, dir, blk, blksz, pos);

		if (n < 0)
			err = (int)n;
		else
			err = walk_block(img, dir, blk, (unsigned int)n,
					 pos >> img->blkszbits, &w, fn, ctx);
	}
	free(blk);
	return err;
}
