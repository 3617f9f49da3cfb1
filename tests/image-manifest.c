/* SPDX-License-Identifier: MIT */
/*
 * image-manifest: print the manifest of an EROFS image, read through
 * liberoot's public API, in exactly the format of tests/manifest.py.
 *
 *     image-manifest [--offset=N] [--fingerprints] [--device-dir=DIR] IMAGE
 *
 * Besides printing, it cross-checks what the API says: "." and ".." of each
 * directory, dirent file types against inode modes, eroot_lookup() against
 * the walk, eroot_getxattr() against eroot_listxattr(), and file sizes
 * against the bytes eroot_pread() returns.  Exit 0 on success, 3 when the
 * image is corrupt (or the checks disagree), 1 on other errors.
 * --fingerprints: regular files get a field fingerprint=NAME:HEX, their
 * ISHARE_XATTRS fingerprint found by eroot_image_fingerprint_name() (also
 * in no namespace, where the xattrs= field never shows it).
 * --device-dir: a multi-device image's devices, found in DIR by tag.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include <openssl/evp.h>

#include <eroot/eroot.h>

struct entry {
	char *path;			/* relative, "." for the root */
	size_t len;
	struct eroot_inode ino;
	size_t link;			/* index of its hardlink group's first path */
};

struct child {
	char *name;
	unsigned int name_len;
	uint64_t nid;
	unsigned int file_type;
};

struct children {
	struct child *v;
	size_t n, cap;
	uint64_t dot, dotdot;
	int have_dot, have_dotdot;
};

struct xattr {
	char *name;
	unsigned char *value;
	size_t len;
};

struct xattrs {
	struct xattr *v;
	size_t n, cap;
};

static struct eroot_image *img;
static int show_fingerprints;
static struct entry *entries;
static size_t nentries, entries_cap;
static uint64_t *dir_nids;		/* directories seen, to refuse cycles */
static size_t ndirs, dirs_cap;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "image-manifest: out of memory\n");
		exit(1);
	}
	return p;
}

static void *grow(void *v, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return v;
	*cap = *cap ? *cap * 2 : 64;
	if (*cap < need)
		*cap = need;
	return xrealloc(v, *cap * elem);
}

/* Exit codes as eroot's: 3 corrupt, 4 a feature liberoot cannot read, else 1. */
static int exit_for(int err)
{
	if (err == -EUCLEAN)
		return 3;
	return err == -EOPNOTSUPP ? 4 : 1;
}

/* Report and exit: 3 for corruption (or a failed cross-check), 4, or 1. */
static void fail(int err, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "image-manifest: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s (%s)", strerror(-err),
			img ? eroot_image_errmsg(img) : "");
	fputc('\n', stderr);
	exit(err ? exit_for(err) : 3);
}

static void put_escaped(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x20 && c < 0x7f && !strchr("\\=,:", c))
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "dir";
	case S_IFREG: return "reg";
	case S_IFLNK: return "lnk";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	}
	return "unknown";
}

static unsigned int dt_of(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return DT_DIR;
	case S_IFREG: return DT_REG;
	case S_IFLNK: return DT_LNK;
	case S_IFCHR: return DT_CHR;
	case S_IFBLK: return DT_BLK;
	case S_IFIFO: return DT_FIFO;
	case S_IFSOCK: return DT_SOCK;
	}
	return DT_UNKNOWN;
}

static void add_entry(const char *path, size_t len, const struct eroot_inode *ino)
{
	struct entry *e;

	entries = grow(entries, &entries_cap, nentries + 1, sizeof(*entries));
	e = &entries[nentries++];
	e->path = xrealloc(NULL, len + 1);
	memcpy(e->path, path, len);
	e->path[len] = '\0';
	e->len = len;
	e->ino = *ino;
}

static int collect_child(void *ctx, const struct eroot_dirent *de)
{
	struct children *c = ctx;
	struct child *ch;

	if (de->name_len == 1 && de->name[0] == '.') {
		c->dot = de->nid;
		c->have_dot++;
		return 0;
	}
	if (de->name_len == 2 && de->name[0] == '.' && de->name[1] == '.') {
		c->dotdot = de->nid;
		c->have_dotdot++;
		return 0;
	}
	c->v = grow(c->v, &c->cap, c->n + 1, sizeof(*c->v));
	ch = &c->v[c->n++];
	ch->name = xrealloc(NULL, de->name_len);
	memcpy(ch->name, de->name, de->name_len);
	ch->name_len = de->name_len;
	ch->nid = de->nid;
	ch->file_type = de->file_type;
	return 0;
}

static void walk_dir(const char *path, size_t len, const struct eroot_inode *dir,
		     uint64_t parent_nid)
{
	struct children c = { 0 };
	int err;

	for (size_t i = 0; i < ndirs; i++)
		if (dir_nids[i] == dir->nid)
			fail(0, "%s: directory nid %" PRIu64 " reached twice",
			     path, dir->nid);
	dir_nids = grow(dir_nids, &dirs_cap, ndirs + 1, sizeof(*dir_nids));
	dir_nids[ndirs++] = dir->nid;

	err = eroot_readdir(img, dir, collect_child, &c);
	if (err)
		fail(err, "%s: readdir", path);
	if (c.have_dot != 1 || c.dot != dir->nid)
		fail(0, "%s: bad \".\" entry", path);
	if (c.have_dotdot != 1 || c.dotdot != parent_nid)
		fail(0, "%s: \"..\" is nid %" PRIu64 ", expected %" PRIu64,
		     path, c.dotdot, parent_nid);

	for (size_t i = 0; i < c.n; i++) {
		struct child *ch = &c.v[i];
		size_t clen = (len == 1 && path[0] == '.') ? ch->name_len :
			      len + 1 + ch->name_len;
		char *cpath = xrealloc(NULL, clen + 1);
		struct eroot_inode ino;

		if (clen == ch->name_len) {
			memcpy(cpath, ch->name, ch->name_len);
		} else {
			memcpy(cpath, path, len);
			cpath[len] = '/';
			memcpy(cpath + len + 1, ch->name, ch->name_len);
		}
		cpath[clen] = '\0';
		err = eroot_iget(img, ch->nid, &ino);
		if (err)
			fail(err, "%s: iget %" PRIu64, cpath, ch->nid);
		if (ch->file_type != dt_of(ino.mode))
			fail(0, "%s: dirent type %u but inode mode %o", cpath,
			     ch->file_type, ino.mode);
		add_entry(cpath, clen, &ino);
		if (S_ISDIR(ino.mode))
			walk_dir(cpath, clen, &ino, dir->nid);
		free(cpath);
		free(ch->name);
	}
	free(c.v);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->path, y->path, n);

	if (r)
		return r;
	return (x->len > y->len) - (x->len < y->len);
}

static const struct entry *by_nid_base;

static int cmp_nid(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	uint64_t x = by_nid_base[i].ino.nid, y = by_nid_base[j].ino.nid;

	if (x != y)
		return x < y ? -1 : 1;
	return (i > j) - (i < j);
}

/* entries[] sorted by path: point each one at the first path of its nid. */
static void assign_links(void)
{
	size_t *idx = xrealloc(NULL, nentries * sizeof(*idx));

	for (size_t i = 0; i < nentries; i++)
		idx[i] = i;
	by_nid_base = entries;
	qsort(idx, nentries, sizeof(*idx), cmp_nid);
	for (size_t k = 0; k < nentries; k++) {
		size_t first = idx[k];

		if (k && entries[idx[k - 1]].ino.nid == entries[first].ino.nid)
			first = entries[idx[k - 1]].link;
		entries[idx[k]].link = first;
	}
	free(idx);
}

static void print_sha256(const struct entry *e)
{
	static unsigned char buf[1 << 20];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t off = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		fail(-ENOMEM, "EVP init");
	for (;;) {
		ssize_t n = eroot_pread(img, &e->ino, buf, sizeof(buf), off);

		if (n < 0)
			fail((int)n, "%s: pread at %" PRIu64, e->path, off);
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			fail(-ENOMEM, "EVP update");
		off += (uint64_t)n;
		if (off > e->ino.size)
			fail(0, "%s: pread returned more than size %" PRIu64,
			     e->path, e->ino.size);
	}
	if (off != e->ino.size)
		fail(0, "%s: read %" PRIu64 " bytes, size is %" PRIu64,
		     e->path, off, e->ino.size);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	printf(" sha256=");
	for (unsigned int i = 0; i < mdlen; i++)
		printf("%02x", md[i]);
}

static void print_target(const struct entry *e)
{
	size_t size = e->ino.size + 1;
	char *buf;
	int err;

	if (e->ino.size > 65536)
		fail(0, "%s: symlink size %" PRIu64, e->path, e->ino.size);
	buf = xrealloc(NULL, size);
	err = eroot_readlink(img, &e->ino, buf, size);
	if (err < 0)
		fail(err, "%s: readlink", e->path);
	if (strlen(buf) != e->ino.size)
		fail(0, "%s: target length %zu, size %" PRIu64, e->path,
		     strlen(buf), e->ino.size);
	printf(" target=");
	put_escaped(buf, strlen(buf));
	free(buf);
}

static int collect_xattr(void *ctx, const char *name, const void *value,
			 size_t len)
{
	struct xattrs *xs = ctx;
	struct xattr *x;

	xs->v = grow(xs->v, &xs->cap, xs->n + 1, sizeof(*xs->v));
	x = &xs->v[xs->n++];
	x->name = strdup(name);
	x->value = xrealloc(NULL, len);
	if (!x->name)
		fail(-ENOMEM, "strdup");
	if (len)
		memcpy(x->value, value, len);
	x->len = len;
	return 0;
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name,
		      ((const struct xattr *)b)->name);
}

/* eroot_getxattr() must agree with what eroot_listxattr() reported. */
static void check_getxattr(const struct entry *e, const struct xattr *x)
{
	unsigned char *buf = xrealloc(NULL, x->len + 1);
	ssize_t n = eroot_getxattr(img, &e->ino, x->name, NULL, 0);

	if (n < 0)
		fail((int)n, "%s: getxattr %s (size)", e->path, x->name);
	if ((size_t)n != x->len)
		fail(0, "%s: getxattr %s size %zd, listxattr %zu", e->path,
		     x->name, n, x->len);
	n = eroot_getxattr(img, &e->ino, x->name, buf, x->len + 1);
	if (n < 0)
		fail((int)n, "%s: getxattr %s", e->path, x->name);
	if ((size_t)n != x->len || memcmp(buf, x->value, x->len))
		fail(0, "%s: getxattr %s differs from listxattr", e->path,
		     x->name);
	free(buf);
}

static void print_xattrs(const struct entry *e)
{
	struct xattrs xs = { 0 };
	int err = eroot_listxattr(img, &e->ino, collect_xattr, &xs);

	if (err)
		fail(err, "%s: listxattr", e->path);
	if (xs.n > 1)
		qsort(xs.v, xs.n, sizeof(*xs.v), cmp_xattr);
	printf(" xattrs=");
	for (size_t i = 0; i < xs.n; i++) {
		check_getxattr(e, &xs.v[i]);
		if (i)
			putchar(',');
		put_escaped(xs.v[i].name, strlen(xs.v[i].name));
		putchar(':');
		for (size_t j = 0; j < xs.v[i].len; j++)
			printf("%02x", xs.v[i].value[j]);
		free(xs.v[i].name);
		free(xs.v[i].value);
	}
	free(xs.v);
}

/* eroot_lookup() of a path found by walking must give the same inode. */
static void check_lookup(const struct entry *e)
{
	struct eroot_inode ino;
	int err = eroot_lookup(img, e->path, &ino);

	if (err)
		fail(err, "%s: lookup", e->path);
	if (ino.nid != e->ino.nid)
		fail(0, "%s: lookup gives nid %" PRIu64 ", readdir %" PRIu64,
		     e->path, ino.nid, e->ino.nid);
}

static void print_fingerprint(const struct entry *e)
{
	const char *name = eroot_image_fingerprint_name(img);
	uint8_t value[256];
	ssize_t len;

	if (!name)
		return;
	len = eroot_getxattr(img, &e->ino, name, value, sizeof(value));
	if (len == -ENODATA)
		return;
	if (len < 0)
		fail((int)len, "%s: fingerprint", e->path);
	printf(" fingerprint=");
	put_escaped(name, strlen(name));
	putchar(':');
	for (ssize_t i = 0; i < len; i++)
		printf("%02x", value[i]);
}

static void print_entry(const struct entry *e)
{
	const struct eroot_inode *ino = &e->ino;

	put_escaped(e->path, e->len);
	printf(" type=%s mode=%04o uid=%" PRIu32 " gid=%" PRIu32
	       " mtime=%" PRId64 ".%09" PRIu32, type_name(ino->mode),
	       ino->mode & 07777, ino->uid, ino->gid, ino->mtime,
	       ino->mtime_nsec);
	if (!S_ISDIR(ino->mode)) {
		printf(" size=%" PRIu64 " nlink=%" PRIu32 " link=", ino->size,
		       ino->nlink);
		put_escaped(entries[e->link].path, entries[e->link].len);
	}
	if (S_ISREG(ino->mode)) {
		print_sha256(e);
		if (show_fingerprints)
			print_fingerprint(e);
	} else if (S_ISLNK(ino->mode))
		print_target(e);
	else if (S_ISCHR(ino->mode) || S_ISBLK(ino->mode))
		printf(" rdev=%" PRIu32 ":%" PRIu32, ino->rdev_major,
		       ino->rdev_minor);
	print_xattrs(e);
	putchar('\n');
}

static void usage(void)
{
	fprintf(stderr, "usage: image-manifest [--offset=N] [--fingerprints] [--device-dir=DIR] IMAGE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *device_dir = NULL;
	uint64_t offset = 0;
	struct eroot_inode root;
	size_t lookup_step;
	int err;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		char *end;

		if (!strncmp(arg, "--offset=", 9) || !strcmp(arg, "--offset")) {
			if (!strcmp(arg, "--offset")) {
				if (++i == argc)
					usage();
				arg = argv[i];
			} else {
				arg += 9;
			}
			errno = 0;
			offset = strtoull(arg, &end, 0);
			if (errno || *end || end == arg)
				usage();
		} else if (!strcmp(arg, "--fingerprints")) {
			show_fingerprints = 1;
		} else if (!strncmp(arg, "--device-dir=", 13)) {
			device_dir = arg + 13;
		} else if (!path && arg[0] != '-') {
			path = arg;
		} else {
			usage();
		}
	}
	if (!path)
		usage();

	err = eroot_image_open_path(path, offset, &img);
	if (err) {
		fprintf(stderr, "image-manifest: %s: open: %s (%s)\n", path,
			strerror(-err), img ? eroot_image_errmsg(img) : "");
		eroot_image_close(img);
		return exit_for(err);
	}
	if (device_dir && (err = eroot_image_attach_search(img, device_dir)) != 0)
		fail(err < 0 ? err : -ENXIO, "%s: devices in %s", path, device_dir);
	err = eroot_iget(img, eroot_image_super(img)->root_nid, &root);
	if (err)
		fail(err, "root inode");
	if (!S_ISDIR(root.mode))
		fail(0, "root inode is not a directory");
	add_entry(".", 1, &root);
	walk_dir(".", 1, &root, root.nid);

	qsort(entries, nentries, sizeof(*entries), cmp_entry);
	assign_links();
	/* Look every path up in small images, a sample in big ones. */
	lookup_step = nentries < 5000 ? 1 : 97;
	for (size_t i = 0; i < nentries; i++) {
		if (i % lookup_step == 0 && strcmp(entries[i].path, "."))
			check_lookup(&entries[i]);
		print_entry(&entries[i]);
	}
	if (fflush(stdout) || ferror(stdout))
		fail(-EIO, "writing stdout");
	for (size_t i = 0; i < nentries; i++)
		free(entries[i].path);
	free(entries);
	free(dir_nids);
	eroot_image_close(img);
	return 0;
}
