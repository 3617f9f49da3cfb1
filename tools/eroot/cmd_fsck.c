// SPDX-License-Identifier: MIT
/*
 * eroot fsck: open (superblock and checksum), walk every directory, read
 * every inode, xattr, symlink and byte of file data, and check link counts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "fsck_fingerprint.h"
#include "fsck_links.h"
#include "fsck_pool.h"
#include "walk.h"

static const char fsck_usage[] =
"usage: eroot fsck [OPTIONS] IMAGE\n"
"Check an EROFS image: superblock, every inode, directory, xattr and byte of data;\n"
"with content fingerprints (mkfs --fingerprint), each file's against its data.\n"
"\n"
DEVICE_USAGE
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -j, --workers=N  threads reading file data (default: one per core; the\n"
"                   report is the same for any N)\n"
"  -q, --quiet      print only problems\n"
"  -h, --help       show this help\n"
"\n"
"Exit status: 0 clean, 3 corrupt, 4 unsupported feature, 1 unreadable, 2 usage.\n";

enum { OPT_WORKERS = OPT_OFFSET + 1 };

struct fsck {
	struct eroot_image *img;
	struct fsck_pool *pool;		/* reads file data, reports in walk order */
	struct fsck_links links;
	unsigned int corrupt, unsupported, io;
	uint64_t inodes, bytes;
	uint64_t files;			/* regular files met, numbering them */
	uint64_t failed;		/* the last file whose data failed, + 1 */
	uint64_t packed_file;		/* the packed inode's number + 1, or 0 */
	const char *fp_name;		/* ISHARE_XATTRS: every file's fingerprint */
	uint8_t *fp_buf;		/* FSCK_FINGERPRINT_BUF bytes to hash files */
};

/* Fragments are checked where they live, the packed inode, read whole and
 * once, not through each file: neighbours in a pcluster there are seldom
 * neighbours in the tree. */
#define PACKED_PATH "(packed inode)"

static void count_problem(struct fsck *f, const char *path, int err, const char *why)
{
	char *shown = escaped(path);	/* an image's names may hold newlines */

	err_msg("%s: %s", shown ? shown : path, why && *why ? why : strerror(-err));
	free(shown);
	if (err == -EUCLEAN)
		f->corrupt++;
	else if (err == -EOPNOTSUPP)
		f->unsupported++;
	else
		f->io++;
}

/* A problem the walk found: after what the workers found before it. */
static void problem(struct fsck *f, const char *path, int err, const char *why)
{
	char saved[512];

	if (f->pool) {
		/* @why may be the handle's message, which the drain may reuse */
		snprintf(saved, sizeof(saved), "%s", why ? why : "");
		fsck_pool_drain(f->pool);
		why = saved;
	}
	count_problem(f, path, err, why);
}

static int on_error(void *ctx, const char *path, int err, const char *why)
{
	problem(ctx, path, err, why);
	return 0;	/* keep going: report everything */
}

static void range_done(void *ctx, const struct fsck_range *r)
{
	struct fsck *f = ctx;

	if (f->failed == r->file + 1)
		return;	/* a file is reported once, at its first failure */
	if (f->packed_file != r->file + 1)
		f->bytes += r->bytes;	/* file data, as the summary says */
	if (r->err) {
		f->failed = r->file + 1;
		count_problem(f, r->path, r->err, r->why);
	}
}

static int xattr_ok(void *ctx, const char *name, const void *value, size_t len)
{
	(void)ctx; (void)name; (void)value; (void)len;
	return 0;
}

/* Every byte of data, read by the pool; holes hold none, so a huge sparse
 * file costs nothing.  A file stops at its first failure. */
static int read_all(struct fsck *f, const char *path, const struct eroot_inode *ino)
{
	uint64_t file = f->files++, off = 0, start, len;
	int err = 0;

	while (off < ino->size && f->failed != file + 1 &&
	       (err = eroot_next_data(f->img, ino, off, &start, &len)) == 0) {
		/* a huge size stops at the first range that fails */
		for (off = start; off < start + len && f->failed != file + 1; ) {
			int64_t n = fsck_pool_add(f->pool, ino, path, file, off, start + len);

			if (n < 0)
				return (int)n;
			off += (uint64_t)n;
		}
	}
	if (err && err != -ENXIO) {
		char why[512];

		/* unless reading its data stopped first, as one thread would */
		snprintf(why, sizeof(why), "%s", eroot_image_errmsg(f->img));
		fsck_pool_drain(f->pool);
		if (f->failed != file + 1)
			count_problem(f, path, err, why);
		f->failed = file + 1;
	}
	return 0;
}

/* Data that cannot be read is read_all()'s to report, once. */
static void check_fingerprint(struct fsck *f, const char *path, const struct eroot_inode *ino)
{
	char why[512];
	int err = fsck_fingerprint(f->img, ino, f->fp_name, f->fp_buf, why, sizeof(why));

	if (err == -EUCLEAN || err == -ENOMEM)
		problem(f, path, err, why);
}

static int visit(void *ctx, const char *path, const struct eroot_inode *ino,
		 uint64_t parent)
{
	struct fsck *f = ctx;
	char target[4096];
	int err = link_visit(&f->links, path, ino);

	(void)parent;
	if (err)
		return err < 0 ? err : 0;	/* met before: checked at its first name */
	f->inodes++;
	err = eroot_listxattr(f->img, ino, xattr_ok, NULL);
	if (err)
		problem(f, path, err, eroot_image_errmsg(f->img));
	else if (S_ISREG(ino->mode) && ino->size && f->fp_name)
		check_fingerprint(f, path, ino);
	if (S_ISREG(ino->mode))
		return read_all(f, path, ino);
	if (S_ISLNK(ino->mode) && (err = eroot_readlink(f->img, ino, target, sizeof(target))) < 0)
		problem(f, path, err, eroot_image_errmsg(f->img));
	return 0;
}

static int leave_dir(void *ctx, const char *path, const struct eroot_inode *ino)
{
	struct fsck *f = ctx;

	(void)ino;
	return link_leave_dir(&f->links, path);
}

static void link_problem(void *ctx, const char *path, const char *why)
{
	problem(ctx, path, -EUCLEAN, why);
}

/* mkfs.erofs also counts its packed and metabox inodes (incompat 0x20
 * fragments, 0x100 metabox), which no directory names; eroot mkfs does not */
static void check_inode_count(struct fsck *f)
{
	uint32_t incompat = eroot_image_super(f->img)->feature_incompat;
	uint64_t unnamed = !!(incompat & 0x20) + !!(incompat & 0x100);
	uint64_t counted = eroot_image_super(f->img)->inodes;
	char why[128];

	if (f->inodes == counted || f->inodes + unnamed == counted)
		return;
	snprintf(why, sizeof(why), "superblock counts %llu inodes, %llu found",
		 (unsigned long long)counted, (unsigned long long)f->inodes);
	problem(f, "/", -EUCLEAN, why);
}

static void check_packed(struct fsck *f)
{
	struct eroot_inode packed;
	uint64_t nid = eroot_image_super(f->img)->packed_nid;
	int err;

	if (!nid)
		return;
	err = eroot_iget(f->img, nid, &packed);
	if (err) {
		problem(f, PACKED_PATH, err, eroot_image_errmsg(f->img));
	} else if (!S_ISREG(packed.mode)) {
		problem(f, PACKED_PATH, -EUCLEAN, "not a regular file");
	} else {
		f->packed_file = f->files + 1;
		if ((err = read_all(f, PACKED_PATH, &packed)))
			problem(f, PACKED_PATH, err, "out of memory");
	}
}

static void check_tree(struct fsck *f)
{
	struct walk_ops ops = { .visit = visit, .leave_dir = leave_dir, .error = on_error };
	struct eroot_inode root;
	int err;

	check_packed(f);
	err = eroot_lookup(f->img, "/", &root);
	if (err) {
		problem(f, "/", err, eroot_image_errmsg(f->img));
		return;
	}
	err = walk_image(f->img, "/", &root, &ops, f);
	if (err < 0)
		problem(f, "/", err, "walk stopped");
	fsck_pool_drain(f->pool);
	if (!f->corrupt && !f->unsupported && !f->io &&
	    (err = link_finish(&f->links, link_problem, f)))
		problem(f, "/", err, "out of memory");
	if (!f->corrupt && !f->unsupported)
		check_inode_count(f);
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		DEVICE_LONG_OPTS,
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck f = { 0 };
	unsigned int workers = 0;
	uint64_t offset = 0, v;
	bool quiet = false;
	char why[512];
	int c, ret, err;

	while ((c = getopt_long(argc, argv, "j:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DEVICE:
		case OPT_DEVICE_DIR:
			if (!device_option(c, optarg))
				return EXIT_FAIL;
			break;
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(fsck_usage, "--offset", optarg);
			break;
		case 'j':
		case OPT_WORKERS:
			if (!parse_u64(optarg, &v) || v < 1 || v > 1024)
				return bad_value(fsck_usage, "--workers", optarg);
			workers = (unsigned int)v;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			return usage(fsck_usage, false);
		default:
			return usage(fsck_usage, true);
		}
	}
	if (argc - optind != 1)
		return bad_args(fsck_usage, "IMAGE");
	ret = open_image(argv[optind], offset, &f.img);
	if (ret)
		return ret;
	err = fsck_pool_new(f.img, argv[optind], offset, workers ? workers : fsck_default_workers(),
			    range_done, &f, &f.pool, why, sizeof(why));
	if (err) {
		err_msg("%s: %s", argv[optind], why);
		eroot_image_close(f.img);
		return exit_code(err);
	}
	f.fp_name = eroot_image_fingerprint_name(f.img);
	if (f.fp_name && !(f.fp_buf = malloc(FSCK_FINGERPRINT_BUF))) {
		err_msg("%s: out of memory", argv[optind]);
		fsck_pool_free(f.pool);
		eroot_image_close(f.img);
		return EXIT_FAIL;
	}
	check_tree(&f);
	free(f.fp_buf);
	fsck_pool_free(f.pool);
	f.pool = NULL;
	if (!quiet)
		printf("%s: %llu inodes, %llu bytes of data checked, %u problems\n",
		       argv[optind], (unsigned long long)f.inodes,
		       (unsigned long long)f.bytes, f.corrupt + f.unsupported + f.io);
	links_free(&f.links);
	eroot_image_close(f.img);
	/* corruption outranks what could not be read, which outranks I/O */
	return f.corrupt ? EXIT_CORRUPT : f.unsupported ? EXIT_UNSUPPORTED :
	       f.io ? EXIT_FAIL : EXIT_OK;
}
