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
#include "nidmap.h"
#include "walk.h"

static const char fsck_usage[] =
"usage: eroot fsck [OPTIONS] IMAGE\n"
"Check an EROFS image: superblock, every inode, directory, xattr and byte of data.\n"
"\n"
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -q, --quiet      print only problems\n"
"  -h, --help       show this help\n"
"\n"
"Exit status: 0 clean, 3 corrupt, 4 unsupported feature, 1 unreadable, 2 usage.\n";

struct fsck {
	struct eroot_image *img;
	struct nidmap links;		/* nid -> references seen, nlink */
	struct nidmap subdirs;		/* directory nid -> subdirectories */
	uint8_t *buf;
	unsigned int corrupt, unsupported, io;
	uint64_t inodes, bytes;
};

static void problem(struct fsck *f, const char *path, int err, const char *why)
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

static int on_error(void *ctx, const char *path, int err, const char *why)
{
	problem(ctx, path, err, why);
	return 0;	/* keep going: report everything */
}

static int xattr_ok(void *ctx, const char *name, const void *value, size_t len)
{
	(void)ctx; (void)name; (void)value; (void)len;
	return 0;
}

static bool read_range(struct fsck *f, const char *path, const struct eroot_inode *ino,
		       uint64_t off, uint64_t end)
{
	while (off < end) {
		size_t want = end - off < (1 << 20) ? (size_t)(end - off) : 1 << 20;
		ssize_t n = eroot_pread(f->img, ino, f->buf, want, off);

		if (n <= 0) {
			problem(f, path, n ? (int)n : -EUCLEAN, n ? eroot_image_errmsg(f->img) :
				"file data ends early");
			return false;
		}
		off += (uint64_t)n;
		f->bytes += (uint64_t)n;
	}
	return true;
}

/* Every byte of data; holes hold none, so a huge sparse file costs nothing. */
static void read_all(struct fsck *f, const char *path, const struct eroot_inode *ino)
{
	uint64_t off = 0, start, len;
	int err;

	while ((err = eroot_next_data(f->img, ino, off, &start, &len)) == 0) {
		if (!read_range(f, path, ino, start, start + len))
			return;
		off = start + len;
	}
	if (err != -ENXIO)
		problem(f, path, err, eroot_image_errmsg(f->img));
}

static int visit(void *ctx, const char *path, const struct eroot_inode *ino,
		 uint64_t parent)
{
	struct fsck *f = ctx;
	struct nidmap_entry *e = nidmap_get(&f->links, ino->nid);
	char target[4096];
	int err;

	if (!e)
		return -ENOMEM;
	if (S_ISDIR(ino->mode) && parent != UINT64_MAX) {
		struct nidmap_entry *d = nidmap_get(&f->subdirs, parent);

		if (!d)
			return -ENOMEM;
		d->count++;
	}
	e->count++;
	if (e->path)
		return 0;	/* a hard link: checked at its first name */
	f->inodes++;
	e->nlink = ino->nlink;
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	err = eroot_listxattr(f->img, ino, xattr_ok, NULL);
	if (err)
		problem(f, path, err, eroot_image_errmsg(f->img));
	if (S_ISREG(ino->mode))
		read_all(f, path, ino);
	else if (S_ISLNK(ino->mode) && (err = eroot_readlink(f->img, ino, target, sizeof(target))) < 0)
		problem(f, path, err, eroot_image_errmsg(f->img));
	if (S_ISDIR(ino->mode))
		e->count = 0;	/* its references are its subdirectories' ".." */
	return 0;
}

/* Directories: 2 + subdirectories.  Others: one per name. */
static void check_links(struct fsck *f)
{
	for (size_t i = 0; i < f->links.cap; i++) {
		struct nidmap_entry *e = &f->links.slots[i];
		struct nidmap_entry *d;
		uint64_t expect = e->count;
		char why[128];

		if (!e->used)
			continue;
		if (e->count == 0) {	/* a directory */
			d = nidmap_get(&f->subdirs, e->nid);
			expect = 2 + (d ? d->count : 0);
		}
		if (expect != e->nlink) {
			snprintf(why, sizeof(why), "link count %u, but %llu links found",
				 e->nlink, (unsigned long long)expect);
			problem(f, e->path ? e->path : "?", -EUCLEAN, why);
		}
	}
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck f = { 0 };
	struct eroot_inode root;
	uint64_t offset = 0;
	bool quiet = false;
	int c, ret, err;

	while ((c = getopt_long(argc, argv, "qh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(fsck_usage, "--offset", optarg);
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
	f.buf = malloc(1 << 20);
	if (!f.buf) {
		eroot_image_close(f.img);
		return EXIT_FAIL;
	}
	err = eroot_lookup(f.img, "/", &root);
	if (err) {
		problem(&f, "/", err, eroot_image_errmsg(f.img));
	} else {
		struct walk_ops ops = { .visit = visit, .error = on_error };

		err = walk_image(f.img, "/", &root, &ops, &f);
		if (err < 0)
			problem(&f, "/", err, "walk stopped");
		if (!f.corrupt && !f.unsupported && !f.io)
			check_links(&f);
		/* mkfs.erofs also counts its packed and metabox inodes (incompat
		 * 0x20 fragments, 0x100 metabox), which no directory names;
		 * eroot mkfs does not */
		uint32_t incompat = eroot_image_super(f.img)->feature_incompat;
		uint64_t unnamed = !!(incompat & 0x20) + !!(incompat & 0x100);
		uint64_t counted = eroot_image_super(f.img)->inodes;

		if (f.inodes != counted && f.inodes + unnamed != counted &&
		    !f.corrupt && !f.unsupported) {
			char why[128];

			snprintf(why, sizeof(why), "superblock counts %llu inodes, %llu found",
				 (unsigned long long)eroot_image_super(f.img)->inodes,
				 (unsigned long long)f.inodes);
			problem(&f, "/", -EUCLEAN, why);
		}
	}
	if (!quiet)
		printf("%s: %llu inodes, %llu bytes of data checked, %u problems\n",
		       argv[optind], (unsigned long long)f.inodes,
		       (unsigned long long)f.bytes, f.corrupt + f.unsupported + f.io);
	nidmap_free(&f.links);
	nidmap_free(&f.subdirs);
	free(f.buf);
	eroot_image_close(f.img);
	/* corruption outranks what could not be read, which outranks I/O */
	return f.corrupt ? EXIT_CORRUPT : f.unsupported ? EXIT_UNSUPPORTED :
	       f.io ? EXIT_FAIL : EXIT_OK;
}
