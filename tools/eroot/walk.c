// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "nidmap.h"
#include "walk.h"

#define MAX_DEPTH 2048
#define PATH_BUF (MAX_DEPTH * 256)

/* A directory's entries: 16 bytes each and their names in one buffer, so
 * a directory of 100000 names costs a few MiB, not 28 */
struct child {
	uint64_t nid;
	uint32_t name_off;		/* in collect.names, NUL-terminated */
	uint8_t file_type;		/* DT_* from the directory entry */
	uint8_t name_len;		/* 1..255 */
};

struct walker {
	struct eroot_image *img;
	const struct walk_ops *ops;
	void *ctx;
	struct nidmap dirs;		/* directories entered */
	char *path;
	size_t path_len;
};

struct collect {
	struct child *v;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	uint64_t self, parent;
	int bad_dots;
};

static int collect_child(void *ctx, const struct eroot_dirent *de)
{
	struct collect *c = ctx;

	if (de->name_len == 1 && de->name[0] == '.') {
		c->bad_dots |= de->nid != c->self;
		return 0;
	}
	if (de->name_len == 2 && !memcmp(de->name, "..", 2)) {
		c->bad_dots |= (c->parent != UINT64_MAX && de->nid != c->parent) << 1;
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct child *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	if (c->names_cap - c->names_len < de->name_len + 1u) {
		size_t cap = c->names_cap ? c->names_cap * 2 : 4096;
		char *names;

		if (cap > UINT32_MAX)	/* 2^32 bytes of names: beyond any image */
			return -ENOMEM;
		names = realloc(c->names, cap);
		if (!names)
			return -ENOMEM;
		c->names = names;
		c->names_cap = cap;
	}
	c->v[c->n].nid = de->nid;
	c->v[c->n].file_type = (uint8_t)de->file_type;
	c->v[c->n].name_len = (uint8_t)de->name_len;
	c->v[c->n].name_off = (uint32_t)c->names_len;
	memcpy(c->names + c->names_len, de->name, de->name_len);
	c->names[c->names_len + de->name_len] = '\0';
	c->names_len += de->name_len + 1u;
	c->n++;
	return 0;
}

static int fail(struct walker *w, int err, const char *why)
{
	if (!why)
		why = eroot_image_errmsg(w->img);
	return w->ops->error ? w->ops->error(w->ctx, w->path, err, why) : err;
}

static int walk_dir(struct walker *w, const struct eroot_inode *dir, uint64_t parent, int depth);

static int walk_node(struct walker *w, const struct eroot_inode *ino, uint64_t parent, int depth)
{
	int ret = w->ops->visit ? w->ops->visit(w->ctx, w->path, ino, parent) : 0;

	if (ret == WALK_PRUNE)
		return 0;
	if (ret || !S_ISDIR(ino->mode))
		return ret;
	ret = walk_dir(w, ino, parent, depth);
	if (!ret && w->ops->leave_dir)
		ret = w->ops->leave_dir(w->ctx, w->path, ino);
	return ret;
}

static int walk_dir(struct walker *w, const struct eroot_inode *dir, uint64_t parent, int depth)
{
	struct collect c = { .self = dir->nid, .parent = parent };

	/* the root's ".." is the root itself */
	if (dir->nid == eroot_image_super(w->img)->root_nid)
		c.parent = dir->nid;
	struct nidmap_entry *seen = nidmap_get(&w->dirs, dir->nid);
	size_t base = w->path_len;
	int ret;

	if (!seen)
		return -ENOMEM;
	if (seen->count++)
		return fail(w, -EUCLEAN, "directory reached twice (a cycle or a hard-linked directory)");
	if (depth >= MAX_DEPTH)
		return fail(w, -ELOOP, "directories nested too deep");
	ret = eroot_readdir(w->img, dir, collect_child, &c);
	if (ret == -ENOMEM)
		ret = fail(w, ret, "out of memory");
	else if (ret < 0)
		ret = fail(w, ret, NULL);
	if (!ret && c.bad_dots)
		ret = fail(w, -EUCLEAN, c.bad_dots & 1 ? "'.' does not name the directory itself" :
			   "'..' does not name the parent directory");
	for (size_t i = 0; !ret && i < c.n; i++) {
		struct eroot_inode child;

		if (base + 1 + c.v[i].name_len >= PATH_BUF) {
			ret = fail(w, -ENAMETOOLONG, "path too long");
			break;
		}
		if (base > 1)
			w->path[w->path_len++] = '/';
		memcpy(w->path + w->path_len, c.names + c.v[i].name_off, c.v[i].name_len + 1u);
		w->path_len += c.v[i].name_len;
		ret = eroot_iget(w->img, c.v[i].nid, &child);
		if (ret < 0)
			ret = fail(w, ret, NULL);
		else if (c.v[i].file_type != DT_UNKNOWN &&
			 c.v[i].file_type != IFTODT(child.mode))
			ret = fail(w, -EUCLEAN, "directory entry type differs from the inode's");
		else
			ret = walk_node(w, &child, dir->nid, depth + 1);
		w->path_len = base;
		w->path[base] = '\0';
	}
	free(c.v);
	free(c.names);
	return ret;
}

int walk_image(struct eroot_image *img, const char *path,
	       const struct eroot_inode *start, const struct walk_ops *ops, void *ctx)
{
	struct walker w = { .img = img, .ops = ops, .ctx = ctx };
	int ret;

	w.path = malloc(PATH_BUF);
	if (!w.path)
		return -ENOMEM;
	snprintf(w.path, PATH_BUF, "%s", *path ? path : "/");
	w.path_len = strlen(w.path);
	/* the parent of the start is unknown: its ".." is not checked */
	ret = walk_node(&w, start, UINT64_MAX, 0);
	nidmap_free(&w.dirs);
	free(w.path);
	return ret;
}
