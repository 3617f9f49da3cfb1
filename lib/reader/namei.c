// SPDX-License-Identifier: MIT
/* Path lookup, one component at a time, nothing followed. */
#include <string.h>

#include "reader.h"

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

int eroot_lookup(struct eroot_image *img, const char *path,
		 struct eroot_inode *ino)
{
	int err = eroot_iget(img, img->info.root_nid, ino);

	while (!err && *path) {
		struct find f = { .name = path };

		while (*path == '/')
			path++;
		if (!*path)
			break;
		f.name = path;
		f.len = strcspn(path, "/");
		path += f.len;
		if (f.len > EROFS_NAME_LEN)
			return eroot_fail(&img->err, -ENAMETOOLONG, "name too long");
		if (!S_ISDIR(ino->mode))
			return eroot_fail(&img->err, -ENOTDIR, "not a directory");
		err = eroot_readdir(img, ino, match, &f);
		if (err < 0)
			return err;
		if (!f.found)
			return eroot_fail(&img->err, -ENOENT, "no such file or directory");
		err = eroot_iget(img, f.nid, ino);
	}
	return err;
}
