// SPDX-License-Identifier: MIT
/* eroot stat: everything about one inode. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

static const char stat_usage[] =
"usage: eroot stat [OPTIONS] IMAGE PATH\n"
"Show the inode of PATH in an EROFS image.\n"
"\n"
"  --json           print one JSON object\n"
DEVICE_USAGE
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n";

struct xattr_print {
	bool json;
	bool first;
	const char *label;		/* text: what the line shows */
};

static int print_xattr(void *ctx, const char *name, const void *value, size_t len)
{
	struct xattr_print *p = ctx;
	const unsigned char *v = value;

	if (p->json) {
		printf("%s", p->first ? "" : ", ");
		json_string(stdout, name, strlen(name));
		printf(": \"");
		for (size_t i = 0; i < len; i++)
			printf("%02x", v[i]);
		printf("\"");
	} else {
		printf("  %s: ", p->label);
		put_escaped(stdout, name, strlen(name));
		printf("=0x");
		for (size_t i = 0; i < len; i++)
			printf("%02x", v[i]);
		printf("\n");
	}
	p->first = false;
	return 0;
}

/* The content fingerprint (ISHARE_XATTRS), also when its name is in no
 * namespace and so among no listed xattrs. */
static int print_fingerprint(struct eroot_image *img, const struct eroot_inode *ino, bool json)
{
	const char *name = eroot_image_fingerprint_name(img);
	struct xattr_print xp = { json, true, "fingerprint" };
	uint8_t value[256];
	ssize_t len;

	if (!name)
		return 0;
	len = eroot_getxattr(img, ino, name, value, sizeof(value));
	if (len == -ENODATA)
		return 0;
	if (len < 0)
		return (int)len;
	if (json)
		printf(", \"fingerprint\": {");
	print_xattr(&xp, name, value, (size_t)len);
	if (json)
		printf("}");
	return 0;
}

static int print_stat(struct eroot_image *img, const char *path,
		      const struct eroot_inode *ino, bool json)
{
	struct xattr_print xp = { json, true, "xattr" };
	char mode[11], when[64], target[4096] = "";
	int err;

	mode_string(ino->mode, mode);
	time_string(ino->mtime, ino->mtime_nsec, when, sizeof(when));
	if (S_ISLNK(ino->mode) && (err = eroot_readlink(img, ino, target, sizeof(target))) < 0)
		return image_error(img, path, err);
	if (json) {
		printf("{\"path\": ");
		json_string(stdout, path, strlen(path));
		printf(", \"nid\": %llu, \"ino\": %u, \"type\": \"%s\", \"mode\": %u, "
		       "\"uid\": %u, \"gid\": %u, \"nlink\": %u, \"size\": %llu, "
		       "\"mtime\": %lld, \"mtime_nsec\": %u, \"rdev_major\": %u, "
		       "\"rdev_minor\": %u, \"inode_form\": \"%s\", \"datalayout\": \"%s\"",
		       (unsigned long long)ino->nid, ino->ino, type_name(ino->mode),
		       ino->mode & 07777, ino->uid, ino->gid, ino->nlink,
		       (unsigned long long)ino->size, (long long)ino->mtime, ino->mtime_nsec,
		       ino->rdev_major, ino->rdev_minor, ino->extended ? "extended" : "compact",
		       eroot_layout_name(ino->datalayout));
		if (S_ISLNK(ino->mode)) {
			printf(", \"target\": ");
			json_string(stdout, target, strlen(target));
		}
		printf(", \"xattrs\": {");
	} else {
		printf("  path: ");
		put_escaped(stdout, path, strlen(path));
		printf("\n   nid: %llu   ino: %u   type: %s   inode: %s   layout: %s\n"
		       "  mode: %04o (%s)   uid: %u   gid: %u   links: %u\n"
		       "  size: %llu\n", (unsigned long long)ino->nid, ino->ino,
		       type_name(ino->mode), ino->extended ? "extended" : "compact",
		       eroot_layout_name(ino->datalayout), ino->mode & 07777, mode,
		       ino->uid, ino->gid, ino->nlink, (unsigned long long)ino->size);
		printf(" mtime: %s\n", when);
		if (S_ISCHR(ino->mode) || S_ISBLK(ino->mode))
			printf("  rdev: %u,%u\n", ino->rdev_major, ino->rdev_minor);
		if (S_ISLNK(ino->mode)) {
			printf("target: ");
			put_escaped(stdout, target, strlen(target));
			putchar('\n');
		}
	}
	err = eroot_listxattr(img, ino, print_xattr, &xp);
	if (json)
		printf("}");
	if (!err)
		err = print_fingerprint(img, ino, json);
	if (json)
		printf("}\n");
	return err ? image_error(img, path, err) : EXIT_OK;
}

int cmd_stat(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		DEVICE_LONG_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct eroot_image *img;
	struct eroot_inode ino;
	uint64_t offset = 0;
	bool json = false;
	int c, ret, err;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DEVICE:
		case OPT_DEVICE_DIR:
			if (!device_option(c, optarg))
				return EXIT_FAIL;
			break;
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(stat_usage, "--offset", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return usage(stat_usage, false);
		default:
			return usage(stat_usage, true);
		}
	}
	if (argc - optind != 2)
		return bad_args(stat_usage, "IMAGE PATH");
	ret = open_image_meta(argv[optind], offset, &img);
	if (ret)
		return ret;
	err = eroot_lookup(img, argv[optind + 1], &ino);
	ret = err ? image_error(img, argv[optind + 1], err) :
	      print_stat(img, argv[optind + 1], &ino, json);
	eroot_image_close(img);
	return ret;
}
