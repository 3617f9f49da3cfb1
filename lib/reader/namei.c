// SPDX-License-Identifier: MIT
/*
 * Path lookup inside the image.  Symlinks met on the way are followed as
 * the kernel would inside a chroot at the image root (absolute targets
 * start at the root, ".." at the root stays there); the final component is
 * followed only when asked.  At most 40 symlinks per lookup, like Linux.
 */
#include <string.h>

#include "reader.h"

#define MAX_SYMLINKS 40

struct find {
	const char *name;
	size_t len;
	uint64_t nid;
	bool found;
};

static int match(void *ctx, const struct eroot_dirent *de)
{
	struct find *f = ctx;

	if (de->name_len != f->len || memcmp(de->name, f->name, f->len))
		return 0;
	f->nid = de->nid;
	f->found = true;
	return 1;	/* stop */
}

static int resolve(struct eroot_image *img, const char *path, bool follow_last,
		   int *budget, struct eroot_inode *cur);

/* Replace symlink @ino (found in directory @dir) by what it points to. */
static int follow(struct eroot_image *img, const struct eroot_inode *dir,
		  int *budget, struct eroot_inode *ino)
{
	char target[4096];
	int err;

	if (--*budget < 0)
		return eroot_fail(&img->err, -ELOOP, "too many levels of symbolic links");
	err = eroot_readlink(img, ino, target, sizeof(target));
	if (err < 0)
		return err;
	if (target[0] == '/') {
		err = eroot_iget(img, img->info.root_nid, ino);
		if (err)
			return err;
	} else {
		*ino = *dir;
	}
	return resolve(img, target, true, budget, ino);
}

/* Walk @path from the directory in @cur; the result replaces @cur. */
static int resolve(struct eroot_image *img, const char *path, bool follow_last,
		   int *budget, struct eroot_inode *cur)
{
	while (*path) {
		struct find f;
		struct eroot_inode dir;
		int err;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		f = (struct find){ .name = path, .len = strcspn(path, "/") };
		path += f.len;
		if (f.len > EROFS_NAME_LEN)
			return eroot_fail(&img->err, -ENAMETOOLONG, "name too long");
		if (!S_ISDIR(cur->mode))
			return eroot_fail(&img->err, -ENOTDIR, "not a directory");
		err = eroot_readdir(img, cur, match, &f);
		if (err < 0)
			return err;
		if (!f.found)
			return eroot_fail(&img->err, -ENOENT, "no such file or directory");
		dir = *cur;
		err = eroot_iget(img, f.nid, cur);
		if (err)
			return err;
		if (S_ISLNK(cur->mode) && (follow_last || path[strspn(path, "/")])) {
			err = follow(img, &dir, budget, cur);
			if (err)
				return err;
		}
	}
	return 0;
}

int eroot_lookup_follow(struct eroot_image *img, const char *path, bool follow_last,
			struct eroot_inode *ino)
{
	int budget = MAX_SYMLINKS;
	int err = eroot_iget(img, img->info.root_nid, ino);

	return err ? err : resolve(img, path, follow_last, &budget, ino);
}

int eroot_lookup(struct eroot_image *img, const char *path, struct eroot_inode *ino)
{
	return eroot_lookup_follow(img, path, false, ino);
}
