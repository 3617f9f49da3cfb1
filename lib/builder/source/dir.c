// SPDX-License-Identifier: MIT
/*
 * Source: a directory tree on a mounted filesystem.  Metadata and xattrs
 * are read now; file data later, when the image is written.  Every entry
 * is opened once, relative to its directory's descriptor and without
 * following a symlink (O_PATH), and its metadata and xattrs are read
 * through that descriptor: another process that renames or swaps paths
 * meanwhile can change what the scan sees only within the tree.  The
 * identity of each regular file (device, inode, size, mtime) is kept, and
 * dir_open_data() checks it when the data is read.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"

/* Files with several links, found by (dev, ino), so each becomes one inode. */
struct link_map {
	struct link_slot { dev_t dev; ino_t ino; struct bnode *node; } *slots;
	size_t cap, used;
};

struct scan {
	struct eroot_builder *b;
	struct link_map links;
	char path[PATH_MAX];		/* full source path of the current entry */
	size_t root_len;		/* relative path starts after this */
};

static size_t link_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;

	return (size_t)(h ^ h >> 29) & (cap - 1);
}

static struct link_slot *link_find(struct link_map *m, dev_t dev, ino_t ino)
{
	size_t i = link_hash(dev, ino, m->cap);

	while (m->slots[i].node && (m->slots[i].dev != dev || m->slots[i].ino != ino))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static int link_grow(struct link_map *m)
{
	struct link_map bigger = { .cap = m->cap ? m->cap * 2 : 1024 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].node)
			*link_find(&bigger, m->slots[i].dev, m->slots[i].ino) = m->slots[i];
	bigger.used = m->used;
	free(m->slots);
	*m = bigger;
	return 0;
}

/*
 * Where xattrs are read: /proc/self/fd/N of the entry's descriptor leads to
 * its very inode (a symlink too), so the path is followed.  Without /proc,
 * the entry's path, not followed, and its identity is checked afterwards.
 */
struct xattr_at {
	char path[32];
	bool by_path;
};

static ssize_t xlist(const struct scan *s, const struct xattr_at *x, char *buf, size_t len)
{
	return x->by_path ? llistxattr(s->path, buf, len) : listxattr(x->path, buf, len);
}

static ssize_t xget(const struct scan *s, const struct xattr_at *x, const char *name,
		    void *buf, size_t len)
{
	return x->by_path ? lgetxattr(s->path, name, buf, len) : getxattr(x->path, name, buf, len);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int read_xattrs(struct scan *s, struct bnode *node, int fd, const struct stat *st)
{
	struct eroot_builder *b = s->b;
	char *names = NULL, *value = NULL;
	struct xattr_at x = { .by_path = false };
	struct stat now;
	ssize_t len, vlen;
	int err = 0;

	snprintf(x.path, sizeof(x.path), "/proc/self/fd/%d", fd);
	len = xlist(s, &x, NULL, 0);
	if (len < 0 && errno == ENOENT) {
		x.by_path = true;	/* no /proc */
		len = xlist(s, &x, NULL, 0);
	}
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ?
		       BFAIL(b, -errno, "%s: cannot list xattrs: %s", s->path, strerror(errno)) : 0;
	names = malloc((size_t)len);
	value = malloc(EROFS_XATTR_VALUE_MAX + 1);
	if (!names || !value) {
		err = BFAIL(b, -ENOMEM, "out of memory");
		goto out;
	}
	len = xlist(s, &x, names, (size_t)len);
	if (len < 0) {
		err = BFAIL(b, -errno, "%s: cannot list xattrs: %s", s->path, strerror(errno));
		goto out;
	}
	for (char *name = names; name < names + len; name += strlen(name) + 1) {
		vlen = xget(s, &x, name, value, EROFS_XATTR_VALUE_MAX + 1);
		if (vlen < 0 && errno == ENODATA)
			continue;	/* removed meanwhile */
		if (vlen < 0) {
			err = BFAIL(b, -errno, "%s: cannot read xattr %s: %s", s->path, name,
				    errno == ERANGE ? "value too large" : strerror(errno));
			goto out;
		}
		err = xattrs_add(b, node, name, value, (size_t)vlen);
		if (err)
			goto out;
	}
	if (x.by_path && (lstat(s->path, &now) < 0 || !same_inode(&now, st))) {
		err = BFAIL(b, -ESTALE, "%s: changed during the build", s->path);
		goto out;
	}
	xattrs_finish_node(b, node);
out:
	free(names);
	free(value);
	return err;
}

static void fill_node(struct bnode *node, const struct stat *st)
{
	node->src_dev = st->st_dev;
	node->src_ino = st->st_ino;
	node->src_mtime = st->st_mtim;
	node->mode = st->st_mode;
	node->uid = st->st_uid;
	node->gid = st->st_gid;
	node->mtime = st->st_mtim.tv_sec;
	node->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		node->rdev_major = major(st->st_rdev);
		node->rdev_minor = minor(st->st_rdev);
	}
	if (S_ISREG(st->st_mode)) {
		node->size = (uint64_t)st->st_size;
		node->sparse = (uint64_t)st->st_blocks * 512 < node->size;
	}
}

static int scan_tree(struct scan *s, struct bnode *dir, int dirfd);

static int read_symlink(struct scan *s, struct bnode *node, int fd, const struct stat *st)
{
	char target[4096];
	ssize_t n = readlinkat(fd, "", target, sizeof(target));

	if (n < 0)
		return BFAIL(s->b, -errno, "%s: cannot read symlink: %s", s->path, strerror(errno));
	if (n == 0 || n >= (ssize_t)sizeof(target) || n != st->st_size)
		return BFAIL(s->b, -ENAMETOOLONG, "%s: symlink target of %zd bytes not supported",
			     s->path, n);
	node->link_target = strndup(target, (size_t)n);
	node->size = (uint64_t)n;
	return node->link_target ? 0 : BFAIL(s->b, -ENOMEM, "out of memory");
}

/*
 * A node for @name, held as the O_PATH descriptor @fd with status @st; *out
 * is NULL when @name is another link to a node made already.
 */
static int add_node(struct scan *s, struct bnode *dir, const char *name, int fd,
		    const struct stat *st, struct bnode **out)
{
	struct eroot_builder *b = s->b;
	struct link_slot *slot = NULL;
	struct bnode *node;
	int err;

	*out = NULL;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		if (s->links.used * 2 >= s->links.cap && link_grow(&s->links))
			return BFAIL(b, -ENOMEM, "out of memory");
		slot = link_find(&s->links, st->st_dev, st->st_ino);
		if (slot->node)
			return tree_add_entry(b, dir, name, slot->node);
	}
	node = tree_new_node(b);
	if (!node)
		return BFAIL(b, -ENOMEM, "out of memory");
	fill_node(node, st);
	if (slot) {
		*slot = (struct link_slot){ st->st_dev, st->st_ino, node };
		s->links.used++;
	}
	*out = node;
	err = tree_add_entry(b, dir, name, node);
	if (!err)
		err = read_xattrs(s, node, fd, st);
	if (err)
		return err;
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		node->source = &dir_source;
		node->src_path = strdup(s->path);
		return node->src_path ? 0 : BFAIL(b, -ENOMEM, "out of memory");
	case S_IFLNK:
		return read_symlink(s, node, fd, st);
	case S_IFDIR: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return 0;
	default:
		return BFAIL(b, -EOPNOTSUPP, "%s: unsupported file type", s->path);
	}
}

/* One descriptor per directory level is held while the tree is walked. */
static int add_child(struct scan *s, struct bnode *dir, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), dfd = -1, err;
	struct bnode *node;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err = BFAIL(s->b, -errno, "%s: %s", s->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	err = add_node(s, dir, name, fd, &st, &node);
	if (!err && S_ISDIR(st.st_mode)) {
		dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			err = BFAIL(s->b, -errno, "%s: %s", s->path, strerror(errno));
	}
	close(fd);
	if (dfd < 0)
		return err;
	node->parent = dir;
	err = scan_tree(s, node, dfd);
	close(dfd);
	return err;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of a directory, sorted so scanning order never depends on the
 * source filesystem. */
static int list_dir(struct scan *s, int dirfd, char ***out, size_t *count)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return BFAIL(s->b, -errno, "%s: %s", s->path, strerror(errno));
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
			if (!more)
				goto nomem;
			names = more;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto nomem;
		n++;
		errno = 0;
	}
	if (errno) {
		int err = -errno;
		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return BFAIL(s->b, err, "%s: cannot read directory: %s", s->path, strerror(-err));
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	*count = n;
	return 0;
nomem:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return BFAIL(s->b, -ENOMEM, "out of memory");
}

static int scan_tree(struct scan *s, struct bnode *dir, int dirfd)
{
	size_t base = strlen(s->path), count = 0, i;
	char **names;
	int err = list_dir(s, dirfd, &names, &count);

	for (i = 0; !err && i < count; i++) {
		size_t len = strlen(names[i]);
		const char *rel;

		if (base + 1 + len >= sizeof(s->path)) {
			err = BFAIL(s->b, -ENAMETOOLONG, "%s/%s: path too long", s->path, names[i]);
			break;
		}
		s->path[base] = '/';
		memcpy(s->path + base + 1, names[i], len + 1);
		rel = s->path + s->root_len + 1;
		if (!exclude_match(s->b, rel))
			err = add_child(s, dir, dirfd, names[i]);
		s->path[base] = '\0';
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(count ? names : NULL);
	if (!err)
		err = tree_add_entry(s->b, dir, ".", dir);
	if (!err)
		err = tree_add_entry(s->b, dir, "..", dir->parent ? dir->parent : dir);
	if (!err)
		tree_sort_entries(dir);
	return err;
}

static int dir_scan(struct eroot_builder *b, const struct source_args *a)
{
	const char *dir = a->path;
	struct scan s = { .b = b };
	struct stat st;
	int fd, err;

	if (strlen(dir) >= sizeof(s.path) - 1)
		return BFAIL(b, -ENAMETOOLONG, "%s: path too long", dir);
	strcpy(s.path, dir);
	while (s.path[0] && s.path[1] && s.path[strlen(s.path) - 1] == '/')
		s.path[strlen(s.path) - 1] = '\0';
	s.root_len = strlen(s.path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return BFAIL(b, -errno, "%s: %s", dir, strerror(errno));
	if (fstat(fd, &st) < 0) {
		err = BFAIL(b, -errno, "%s: %s", dir, strerror(errno));
		close(fd);
		return err;
	}
	b->root = tree_new_node(b);
	if (!b->root) {
		close(fd);
		return BFAIL(b, -ENOMEM, "out of memory");
	}
	fill_node(b->root, &st);
	err = read_xattrs(&s, b->root, fd, &st);
	if (s.root_len == 1 && s.path[0] == '/')
		s.path[0] = '\0', s.root_len = 0;	/* children are "/name" */
	b->root_prefix_len = s.root_len + 1;	/* src_path + this: relative path */
	if (!err)
		err = scan_tree(&s, b->root, fd);
	b->src_root_fd = fd;		/* file data is opened beneath it */
	free(s.links.slots);
	return err;
}

static void dir_release(struct eroot_builder *b)
{
	if (b->src_root_fd >= 0)
		close(b->src_root_fd);
	b->src_root_fd = -1;
}

const struct source_ops dir_source = {
	.name = "directory",
	.live = true,
	.scan = dir_scan,
	.open_data = dir_open_data,
	.release = dir_release,
};
