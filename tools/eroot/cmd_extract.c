// SPDX-License-Identifier: MIT
/*
 * eroot extract: restore an image's tree into a directory.  Directories get
 * their final mode and times after their content; owners before modes
 * (chown clears set-id bits); hard links become links to the first name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common.h"
#include "nidmap.h"
#include "walk.h"

static const char extract_usage[] =
"usage: eroot extract [OPTIONS] IMAGE DIR\n"
"Restore the whole content of an EROFS image under DIR (created if missing,\n"
"else it must be empty): data, modes, owners, times, xattrs, links, devices.\n"
"\n"
"  --no-owner       keep the extracting user as owner\n"
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n";

struct extract {
	struct eroot_image *img;
	const char *dest;
	struct nidmap links;	/* nid -> first extracted path */
	bool owners;
	char *buf;
	size_t buf_size;
	int status;
	char target[4096];
};

/* Destination path for an image path ("/" is DEST itself). */
static char *dest_path(struct extract *x, const char *path)
{
	size_t dl = strlen(x->dest), pl = strcmp(path, "/") ? strlen(path) : 0;
	char *out = malloc(dl + pl + 1);

	if (out) {
		memcpy(out, x->dest, dl);
		memcpy(out + dl, path, pl);
		out[dl + pl] = '\0';
	}
	return out;
}

static int fail(struct extract *x, const char *path, int err, const char *why)
{
	err_msg("%s: %s", path, why && *why ? why : strerror(-err));
	if (x->status != EXIT_CORRUPT)
		x->status = exit_code(err);
	return 0;
}

static int sys_fail(struct extract *x, const char *what, const char *path)
{
	const char *why = strerror(errno);

	err_msg("%s: %s: %s", path, what, why);
	if (x->status == EXIT_OK)
		x->status = EXIT_FAIL;
	return 0;
}

static int set_xattr(void *ctx, const char *name, const void *value, size_t len)
{
	struct extract *x = ctx;

	if (lsetxattr(x->target, name, value, len, 0) < 0)
		return -errno;
	return 0;
}

static bool is_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

/* Copy file data, leaving holes where whole blocks are zero. */
static int write_data(struct extract *x, const char *path, const struct eroot_inode *ino, int fd)
{
	uint64_t off = 0;

	while (off < ino->size) {
		ssize_t n = eroot_pread(x->img, ino, x->buf, x->buf_size, off);

		if (n <= 0)
			return fail(x, path, n ? (int)n : -EUCLEAN, eroot_image_errmsg(x->img)), -1;
		for (ssize_t at = 0; at < n; at += 4096) {
			size_t len = (size_t)(n - at < 4096 ? n - at : 4096);

			if (is_zero(x->buf + at, len))
				continue;
			if (pwrite(fd, x->buf + at, len, (off_t)(off + (uint64_t)at)) != (ssize_t)len)
				return sys_fail(x, "write", path), -1;
		}
		off += (uint64_t)n;
	}
	if (ftruncate(fd, (off_t)ino->size) < 0)
		return sys_fail(x, "truncate", path), -1;
	return 0;
}

static int create_node(struct extract *x, const char *path, const char *dst,
		       const struct eroot_inode *ino)
{
	dev_t dev = makedev(ino->rdev_major, ino->rdev_minor);
	int fd, err;

	switch (ino->mode & S_IFMT) {
	case S_IFDIR:
		/* writable until its content is in; the real mode comes later */
		if (strcmp(path, "/") && mkdir(dst, 0700) < 0)
			return sys_fail(x, "mkdir", dst), -1;
		return 0;
	case S_IFREG:
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return sys_fail(x, "create", dst), -1;
		err = write_data(x, path, ino, fd);
		close(fd);
		return err;
	case S_IFLNK:
		err = eroot_readlink(x->img, ino, x->target, sizeof(x->target));
		if (err < 0)
			return fail(x, path, err, eroot_image_errmsg(x->img)), -1;
		if (symlink(x->target, dst) < 0)
			return sys_fail(x, "symlink", dst), -1;
		return 0;
	default:
		if (mknod(dst, (ino->mode & S_IFMT) | 0600, dev) < 0)
			return sys_fail(x, "mknod", dst), -1;
		return 0;
	}
}

/* Owner, xattrs, mode, times: in that order, since each may undo the last. */
static void apply_attrs(struct extract *x, const char *path, const char *dst,
			const struct eroot_inode *ino)
{
	struct timespec times[2] = {
		{ .tv_sec = 0, .tv_nsec = UTIME_OMIT },
		{ .tv_sec = (time_t)ino->mtime, .tv_nsec = ino->mtime_nsec },
	};
	int err;

	if (!dst)	/* never; tells GCC's -Wformat-overflow so under ASan */
		return;
	if (x->owners && lchown(dst, ino->uid, ino->gid) < 0)
		sys_fail(x, "chown", dst);
	snprintf(x->target, sizeof(x->target), "%s", dst);
	err = eroot_listxattr(x->img, ino, set_xattr, x);
	if (err == -EUCLEAN || err == -EOPNOTSUPP)
		fail(x, path, err, eroot_image_errmsg(x->img));
	else if (err)
		err_msg("%s: setting xattrs: %s", dst, strerror(-err)), x->status = EXIT_FAIL;
	if (!S_ISLNK(ino->mode) && chmod(dst, ino->mode & 07777) < 0)
		sys_fail(x, "chmod", dst);
	if (utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW) < 0)
		sys_fail(x, "utimensat", dst);
}

static int visit(void *ctx, const char *path, const struct eroot_inode *ino, uint64_t parent)
{
	struct extract *x = ctx;
	struct nidmap_entry *e = NULL;
	char *dst = dest_path(x, path);

	(void)parent;
	if (!dst)
		return -ENOMEM;
	if (!S_ISDIR(ino->mode) && ino->nlink > 1) {
		e = nidmap_get(&x->links, ino->nid);
		if (!e) {
			free(dst);
			return -ENOMEM;
		}
		if (e->path) {
			if (link(e->path, dst) < 0)
				sys_fail(x, "link", dst);
			free(dst);
			return 0;
		}
	}
	if (create_node(x, path, dst, ino) == 0) {
		if (e)
			e->path = strdup(dst);
		if (!S_ISDIR(ino->mode))
			apply_attrs(x, path, dst, ino);
	}
	free(dst);
	return 0;
}

static int leave_dir(void *ctx, const char *path, const struct eroot_inode *ino)
{
	struct extract *x = ctx;
	char *dst = dest_path(x, path);

	if (!dst)
		return -ENOMEM;
	apply_attrs(x, path, dst, ino);
	free(dst);
	return 0;
}

static int on_error(void *ctx, const char *path, int err, const char *why)
{
	return fail(ctx, path, err, why);
}

/* DEST must be a new or empty directory: never overwrite anything. */
static int prepare_dest(const char *dest)
{
	struct dirent *de;
	DIR *d;

	if (mkdir(dest, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		err_msg("%s: %s", dest, strerror(errno));
		return EXIT_FAIL;
	}
	d = opendir(dest);
	if (d) {
		while ((de = readdir(d)) && (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")))
			;
		closedir(d);
		if (!de)
			return 0;
	}
	err_msg("%s: exists and is not an empty directory", dest);
	return EXIT_FAIL;
}

int cmd_extract(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "no-owner", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct walk_ops ops = { .visit = visit, .leave_dir = leave_dir, .error = on_error };
	struct extract x = { .owners = geteuid() == 0, .buf_size = 1 << 20 };
	struct eroot_inode root;
	uint64_t offset = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(extract_usage, "--offset", optarg);
			break;
		case 'n':
			x.owners = false;
			break;
		case 'h':
			return usage(extract_usage, false);
		default:
			return usage(extract_usage, true);
		}
	}
	if (argc - optind != 2)
		return bad_args(extract_usage, "IMAGE DIR");
	x.dest = argv[optind + 1];
	x.status = open_image(argv[optind], offset, &x.img);
	if (x.status)
		return x.status;
	x.buf = malloc(x.buf_size);
	err = eroot_lookup(x.img, "/", &root);
	if (!x.buf)
		x.status = EXIT_FAIL;
	else if (err)
		x.status = image_error(x.img, "/", err);
	else if (!(x.status = prepare_dest(x.dest))) {
		err = walk_image(x.img, "/", &root, &ops, &x);
		if (err < 0)
			fail(&x, "/", err, NULL);
	}
	nidmap_free(&x.links);
	free(x.buf);
	eroot_image_close(x.img);
	return x.status;
}
