// SPDX-License-Identifier: MIT
/*
 * eroot extract: restore an image's tree into a directory.
 *
 * The target is not trusted either.  Every entry is made relative to its
 * parent's descriptor (mkdirat, openat with O_CREAT|O_EXCL|O_NOFOLLOW,
 * symlinkat, mknodat, linkat) and directories are opened with O_NOFOLLOW,
 * so no symlink in the target, there before or put there meanwhile, can
 * lead a write outside it.  A directory that cannot be made is reported
 * once and its content skipped.  Directories get their final mode and times
 * after their content; owners before modes (chown clears set-id bits);
 * hard links become links to the first name; holes stay holes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
"  --no-devices     skip character and block device nodes\n"
"  --no-setid       clear set-user-ID and set-group-ID bits of files and\n"
"                   leave out file capabilities (security.capability)\n"
DEVICE_USAGE
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n"
"\n"
"Extracting an untrusted image as root wants --no-devices --no-setid.\n";

enum { OPT_NO_OWNER = 0x200, OPT_NO_DEVICES, OPT_NO_SETID };

#define SKIPPED "; its content is skipped"

struct extract {
	struct eroot_image *img;
	const char *dest;
	struct nidmap links;	/* nid -> image path of its first name */
	bool owners, no_devices, no_setid;
	char *buf;
	size_t buf_size;
	int status;
	int root;		/* DEST, opened once */
	int *dirs;		/* directories being filled, innermost last */
	size_t ndirs, dirs_cap;
	/* where set_xattr() writes: a descriptor, else a /proc/self/fd path */
	int xattr_fd;
	char xattr_path[64];
	char target[4096];
};

/* Corruption outranks what cannot be read, which outranks other failures. */
static void raise_status(struct extract *x, int code)
{
	if (x->status == EXIT_OK || code == EXIT_CORRUPT ||
	    (code == EXIT_UNSUPPORTED && x->status == EXIT_FAIL))
		x->status = code;
}

/* The image failed at @path: "/path: why". */
static void image_fail(struct extract *x, const char *path, int err, const char *why)
{
	char *shown = escaped(path);

	err_msg("%s: %s", shown ? shown : path, why && *why ? why : strerror(-err));
	free(shown);
	raise_status(x, exit_code(err));
}

/* The target refused @what with @e: "DEST/path: what: why[note]". */
static void target_fail(struct extract *x, const char *path, const char *what, int e,
			const char *note)
{
	char *shown = escaped(strcmp(path, "/") ? path : "");

	err_msg("%s%s: %s: %s%s", x->dest, shown ? shown : path, what, strerror(e), note);
	free(shown);
	raise_status(x, EXIT_FAIL);
}

static int set_xattr(void *ctx, const char *name, const void *value, size_t len)
{
	struct extract *x = ctx;
	int ret;

	/* a file capability is privilege, like a set-user-ID bit */
	if (x->no_setid && !strcmp(name, "security.capability"))
		return 0;
	if (x->xattr_fd >= 0)
		ret = fsetxattr(x->xattr_fd, name, value, len, 0);
	else
		ret = setxattr(x->xattr_path, name, value, len, 0);
	return ret < 0 ? -errno : 0;
}

static uint32_t final_mode(const struct extract *x, const struct eroot_inode *ino)
{
	uint32_t mode = ino->mode & 07777;

	/* a directory's set-group-ID only hands its group down: kept */
	if (x->no_setid && !S_ISDIR(ino->mode))
		mode &= ~(uint32_t)(S_ISUID | S_ISGID);
	return mode;
}

/*
 * Owner, xattrs, mode, times, in that order, since each may undo the one
 * before.  @fd is the entry's own descriptor; for symlinks and special
 * files it is an O_PATH one, reached through /proc/self/fd (never
 * re-resolved by name) and, for the times, by @name in @pfd without
 * following a link.
 */
static void apply_attrs(struct extract *x, const char *path, const struct eroot_inode *ino,
			int fd, int pfd, const char *name)
{
	struct timespec times[2] = {
		{ .tv_sec = 0, .tv_nsec = UTIME_OMIT },
		{ .tv_sec = (time_t)ino->mtime, .tv_nsec = ino->mtime_nsec },
	};
	bool opath = name != NULL;
	int err;

	if (x->owners && fchownat(fd, "", ino->uid, ino->gid, AT_EMPTY_PATH) < 0)
		target_fail(x, path, "chown", errno, "");
	x->xattr_fd = opath ? -1 : fd;
	snprintf(x->xattr_path, sizeof(x->xattr_path), "/proc/self/fd/%d", fd);
	err = eroot_listxattr(x->img, ino, set_xattr, x);
	if (err == -EUCLEAN || err == -EOPNOTSUPP)
		image_fail(x, path, err, eroot_image_errmsg(x->img));
	else if (err)
		target_fail(x, path, "setting xattrs", -err, "");
	if (!S_ISLNK(ino->mode) &&
	    (opath ? chmod(x->xattr_path, final_mode(x, ino)) : fchmod(fd, final_mode(x, ino))) < 0)
		target_fail(x, path, "chmod", errno, "");
	if ((opath ? utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW) : futimens(fd, times)) < 0)
		target_fail(x, path, "setting times", errno, "");
}

static bool is_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

static int pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n ? errno : ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * The size first, so that a file the target cannot hold fails at once;
 * then only the data extents, leaving holes (and whole zero blocks) as
 * holes: a huge sparse file costs what its data costs.
 */
static int write_data(struct extract *x, const char *path, const struct eroot_inode *ino, int fd)
{
	uint64_t off = 0, start, len;
	int err;

	if (ino->size > INT64_MAX || ftruncate(fd, (off_t)ino->size) < 0) {
		target_fail(x, path, "setting the size", ino->size > INT64_MAX ? EFBIG : errno, "");
		return -1;
	}
	while ((err = eroot_next_data(x->img, ino, off, &start, &len)) == 0) {
		for (uint64_t at = start; at < start + len;) {
			size_t want = start + len - at < x->buf_size ? (size_t)(start + len - at) :
				      x->buf_size;
			ssize_t n = eroot_pread(x->img, ino, x->buf, want, at);

			if (n <= 0) {
				image_fail(x, path, n ? (int)n : -EUCLEAN, eroot_image_errmsg(x->img));
				return -1;
			}
			for (size_t i = 0; i < (size_t)n; i += 4096) {
				size_t piece = (size_t)n - i < 4096 ? (size_t)n - i : 4096;

				if (!is_zero(x->buf + i, piece) &&
				    pwrite_all(fd, x->buf + i, piece, at + i) < 0) {
					target_fail(x, path, "write", errno, "");
					return -1;
				}
			}
			at += (uint64_t)n;
		}
		off = start + len;
	}
	if (err != -ENXIO) {
		image_fail(x, path, err, eroot_image_errmsg(x->img));
		return -1;
	}
	return 0;
}

static int make_file(struct extract *x, const char *path, const struct eroot_inode *ino,
		     int pfd, const char *name)
{
	int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		target_fail(x, path, "create", errno, "");
		return -1;
	}
	if (write_data(x, path, ino, fd) < 0) {
		close(fd);
		unlinkat(pfd, name, 0);	/* no file with wrong content */
		return -1;
	}
	apply_attrs(x, path, ino, fd, pfd, NULL);
	close(fd);
	return 0;
}

/* Symlinks, devices, FIFOs and sockets. */
static int make_node(struct extract *x, const char *path, const struct eroot_inode *ino,
		     int pfd, const char *name)
{
	struct stat st;
	int fd, err;

	if (S_ISLNK(ino->mode)) {
		err = eroot_readlink(x->img, ino, x->target, sizeof(x->target));
		if (err < 0) {
			image_fail(x, path, err, eroot_image_errmsg(x->img));
			return -1;
		}
		if (symlinkat(x->target, pfd, name) < 0) {
			target_fail(x, path, "symlink", errno, "");
			return -1;
		}
	} else if (mknodat(pfd, name, (ino->mode & S_IFMT) | 0600,
			   makedev(ino->rdev_major, ino->rdev_minor)) < 0) {
		target_fail(x, path, "mknod", errno, "");
		return -1;
	}
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != (ino->mode & S_IFMT)) {
		target_fail(x, path, "open", fd < 0 ? errno : EEXIST, " (replaced meanwhile)");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	apply_attrs(x, path, ino, fd, pfd, name);
	close(fd);
	return 0;
}

static bool is_symlink(int pfd, const char *name)
{
	struct stat st;

	return !fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode);
}

/* Made writable and opened; the real mode and times come in leave_dir(). */
static int make_dir(struct extract *x, const char *path, int pfd, const char *name)
{
	int fd;

	if (x->ndirs == x->dirs_cap) {
		size_t cap = x->dirs_cap ? x->dirs_cap * 2 : 64;
		int *dirs = realloc(x->dirs, cap * sizeof(*dirs));

		if (!dirs)
			return -ENOMEM;
		x->dirs = dirs;
		x->dirs_cap = cap;
	}
	if (mkdirat(pfd, name, 0700) < 0) {
		int e = errno;

		target_fail(x, path, "mkdir", e, e == EEXIST && is_symlink(pfd, name) ?
			    " (a symbolic link is in the way: not followed)" SKIPPED : SKIPPED);
		return WALK_PRUNE;
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		target_fail(x, path, "open", e, is_symlink(pfd, name) ?
			    " (replaced by a symbolic link: not followed)" SKIPPED : SKIPPED);
		return WALK_PRUNE;
	}
	x->dirs[x->ndirs++] = fd;
	return 0;
}

/* A directory of the target by its image path, each step without following links. */
static int open_beneath(struct extract *x, char *dir)
{
	int fd = openat(x->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *save = NULL;

	for (char *c = strtok_r(dir, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(fd);
		fd = next;
	}
	return fd;
}

/* Another name of an inode already extracted as @first. */
static int link_first(struct extract *x, const char *path, const char *first,
		      int pfd, const char *name)
{
	char *dir = strdup(first), *base;
	int sfd;

	if (!dir)
		return -ENOMEM;
	base = strrchr(dir, '/');
	*base++ = '\0';
	sfd = open_beneath(x, dir);
	if (sfd < 0 || linkat(sfd, base, pfd, name, 0) < 0)
		target_fail(x, path, "link", errno, "");
	if (sfd >= 0)
		close(sfd);
	free(dir);
	return 0;
}

static int visit(void *ctx, const char *path, const struct eroot_inode *ino, uint64_t parent)
{
	struct extract *x = ctx;
	struct nidmap_entry *e = NULL;
	const char *name = strrchr(path, '/') + 1;
	int pfd = x->ndirs ? x->dirs[x->ndirs - 1] : x->root;
	int ret;

	(void)parent;
	if (!strcmp(path, "/"))
		return 0;	/* DEST itself, open since the start */
	/* the reader refuses '/' in names; never leave the parent anyway */
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		image_fail(x, path, -EUCLEAN, "a name that is not one path component");
		return WALK_PRUNE;
	}
	if (x->no_devices && (S_ISCHR(ino->mode) || S_ISBLK(ino->mode)))
		return 0;
	if (!S_ISDIR(ino->mode) && ino->nlink > 1) {
		e = nidmap_get(&x->links, ino->nid);
		if (!e)
			return -ENOMEM;
		if (e->path)
			return link_first(x, path, e->path, pfd, name);
	}
	switch (ino->mode & S_IFMT) {
	case S_IFDIR:
		return make_dir(x, path, pfd, name);
	case S_IFREG:
		ret = make_file(x, path, ino, pfd, name);
		break;
	default:
		ret = make_node(x, path, ino, pfd, name);
		break;
	}
	if (!ret && e && !(e->path = strdup(path)))
		return -ENOMEM;
	return 0;
}

static int leave_dir(void *ctx, const char *path, const struct eroot_inode *ino)
{
	struct extract *x = ctx;
	int fd = strcmp(path, "/") ? x->dirs[--x->ndirs] : x->root;

	apply_attrs(x, path, ino, fd, -1, NULL);
	if (fd != x->root)
		close(fd);
	return 0;
}

static int on_error(void *ctx, const char *path, int err, const char *why)
{
	image_fail(ctx, path, err, why);
	return 0;
}

/* DEST: made now, or an empty directory; never through a symlink at its end. */
static int open_dest(const char *dest)
{
	bool made = mkdir(dest, 0700) == 0;
	struct dirent *de = NULL;
	struct stat st;
	int fd, dfd;
	DIR *d;

	if (!made && errno != EEXIST) {
		err_msg("%s: %s", dest, strerror(errno));
		return -1;
	}
	fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (!lstat(dest, &st) && S_ISLNK(st.st_mode))
			err_msg("%s: is a symbolic link; give the directory itself", dest);
		else
			err_msg("%s: exists and is not an empty directory", dest);
		return -1;
	}
	if (made)
		return fd;
	dfd = dup(fd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d) {
		while ((de = readdir(d)) && (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")))
			;
		closedir(d);
	} else if (dfd >= 0) {
		close(dfd);
	}
	if (!d || de) {
		err_msg("%s: exists and is not an empty directory", dest);
		close(fd);
		return -1;
	}
	return fd;
}

/* One descriptor per directory level is held: allow as many as we may. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int cmd_extract(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		DEVICE_LONG_OPTS,
		{ "no-owner", no_argument, NULL, OPT_NO_OWNER },
		{ "no-devices", no_argument, NULL, OPT_NO_DEVICES },
		{ "no-setid", no_argument, NULL, OPT_NO_SETID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct walk_ops ops = { .visit = visit, .leave_dir = leave_dir, .error = on_error };
	struct extract x = { .owners = geteuid() == 0, .buf_size = 1 << 20, .root = -1 };
	struct eroot_inode root;
	uint64_t offset = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DEVICE:
		case OPT_DEVICE_DIR:
			if (!device_option(c, optarg))
				return EXIT_FAIL;
			break;
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(extract_usage, "--offset", optarg);
			break;
		case OPT_NO_OWNER:
			x.owners = false;
			break;
		case OPT_NO_DEVICES:
			x.no_devices = true;
			break;
		case OPT_NO_SETID:
			x.no_setid = true;
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
	raise_fd_limit();
	x.buf = malloc(x.buf_size);
	err = eroot_lookup(x.img, "/", &root);
	if (!x.buf)
		x.status = EXIT_FAIL;
	else if (err)
		x.status = image_error(x.img, "/", err);
	else if ((x.root = open_dest(x.dest)) < 0)
		x.status = EXIT_FAIL;
	else if ((err = walk_image(x.img, "/", &root, &ops, &x)) < 0)
		image_fail(&x, "/", err, err == -ENOMEM ? "out of memory" : NULL);
	while (x.ndirs)
		close(x.dirs[--x.ndirs]);
	if (x.root >= 0)
		close(x.root);
	free(x.dirs);
	nidmap_free(&x.links);
	free(x.buf);
	eroot_image_close(x.img);
	return x.status;
}
