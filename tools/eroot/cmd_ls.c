// SPDX-License-Identifier: MIT
/* eroot ls: list a directory of an image, optionally long and recursive. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "walk.h"

static const char ls_usage[] =
"usage: eroot ls [OPTIONS] IMAGE [PATH]\n"
"List the directory PATH of an EROFS image (default: the root).\n"
"\n"
"  -l               long format: mode, links, uid, gid, size, mtime, name\n"
"  -R               recursive: every path below PATH\n"
"  -a               include . and ..\n"
DEVICE_USAGE
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n";

struct ls {
	struct eroot_image *img;
	bool longfmt, all;
	int status;
};

/* Names are escaped as GNU ls -b does, so one entry is always one line. */
static void print_entry(struct ls *l, const char *name, const struct eroot_inode *ino)
{
	char mode[11], when[64], target[4096];
	int n;

	if (!l->longfmt) {
		put_escaped(stdout, name, strlen(name));
		putchar('\n');
		return;
	}
	mode_string(ino->mode, mode);
	time_string(ino->mtime, ino->mtime_nsec, when, sizeof(when));
	when[19] = '\0';	/* seconds are enough here */
	printf("%s %5u %6u %6u ", mode, ino->nlink, ino->uid, ino->gid);
	if (S_ISCHR(ino->mode) || S_ISBLK(ino->mode))
		printf("%5u,%5u", ino->rdev_major, ino->rdev_minor);
	else
		printf("%11llu", (unsigned long long)ino->size);
	printf(" %s ", when);
	put_escaped(stdout, name, strlen(name));
	if (S_ISLNK(ino->mode) && (n = eroot_readlink(l->img, ino, target, sizeof(target))) >= 0) {
		printf(" -> ");
		put_escaped(stdout, target, (size_t)n);
	}
	putchar('\n');
}

static int on_error(void *ctx, const char *path, int err, const char *why)
{
	struct ls *l = ctx;

	char *shown = escaped(path);

	err_msg("%s: %s", shown ? shown : path, why && *why ? why : strerror(-err));
	free(shown);
	if (l->status != EXIT_CORRUPT)
		l->status = exit_code(err);
	return 0;
}

static int visit_recursive(void *ctx, const char *path, const struct eroot_inode *ino,
			   uint64_t parent)
{
	(void)parent;
	print_entry(ctx, path, ino);
	return 0;
}

struct one_dir {
	struct ls *l;
	int err;
};

static int list_one(void *ctx, const struct eroot_dirent *de)
{
	struct one_dir *d = ctx;
	struct eroot_inode ino;
	char name[256];
	int err;

	memcpy(name, de->name, de->name_len);
	name[de->name_len] = '\0';
	if (!d->l->all && (!strcmp(name, ".") || !strcmp(name, "..")))
		return 0;
	err = eroot_iget(d->l->img, de->nid, &ino);
	if (err) {
		on_error(d->l, name, err, eroot_image_errmsg(d->l->img));
		return 0;
	}
	print_entry(d->l, name, &ino);
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		DEVICE_LONG_OPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ls l = { 0 };
	struct eroot_inode ino;
	const char *path = "/";
	uint64_t offset = 0;
	bool recursive = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "lRah", long_opts, NULL)) != -1) {
		switch (c) {
		case 'l': l.longfmt = true; break;
		case 'R': recursive = true; break;
		case 'a': l.all = true; break;
		case OPT_DEVICE:
		case OPT_DEVICE_DIR:
			if (!device_option(c, optarg))
				return EXIT_FAIL;
			break;
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(ls_usage, "--offset", optarg);
			break;
		case 'h':
			return usage(ls_usage, false);
		default:
			return usage(ls_usage, true);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return bad_args(ls_usage, "IMAGE [PATH]");
	if (argc - optind == 2)
		path = argv[optind + 1];
	l.status = open_image_meta(argv[optind], offset, &l.img);
	if (l.status)
		return l.status;
	err = eroot_lookup(l.img, path, &ino);
	if (err) {
		l.status = image_error(l.img, path, err);
	} else if (!S_ISDIR(ino.mode)) {
		print_entry(&l, path, &ino);
	} else if (recursive) {
		struct walk_ops ops = { .visit = visit_recursive, .error = on_error };

		err = walk_image(l.img, path, &ino, &ops, &l);
		if (err < 0)
			on_error(&l, path, err, NULL);
	} else {
		struct one_dir d = { &l, 0 };

		err = eroot_readdir(l.img, &ino, list_one, &d);
		if (err < 0)
			on_error(&l, path, err, eroot_image_errmsg(l.img));
	}
	eroot_image_close(l.img);
	return l.status;
}
