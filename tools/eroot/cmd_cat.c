// SPDX-License-Identifier: MIT
/* eroot cat: copy files of an image to stdout. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static const char cat_usage[] =
"usage: eroot cat [OPTIONS] IMAGE PATH...\n"
"Write the content of each file PATH of an EROFS image to stdout\n"
"(symlinks are followed inside the image).\n"
"\n"
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n";

static int write_all(const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cat_one(struct eroot_image *img, const char *path, char *buf, size_t size)
{
	struct eroot_inode ino;
	int err = eroot_lookup_follow(img, path, true, &ino);

	if (err)
		return image_error(img, path, err);
	if (S_ISDIR(ino.mode)) {
		err_msg("%s: is a directory", path);
		return EXIT_FAIL;
	}
	for (uint64_t off = 0; off < ino.size;) {
		ssize_t n = eroot_pread(img, &ino, buf, size, off);

		if (n <= 0)
			return image_error(img, path, n ? (int)n : -EUCLEAN);
		err = write_all(buf, (size_t)n);
		if (err) {
			err_msg("writing stdout: %s", strerror(-err));
			return EXIT_FAIL;
		}
		off += (uint64_t)n;
	}
	return EXIT_OK;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct eroot_image *img;
	uint64_t offset = 0;
	size_t size = 1 << 20;
	char *buf;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(cat_usage, "--offset", optarg);
			break;
		case 'h':
			return usage(cat_usage, false);
		default:
			return usage(cat_usage, true);
		}
	}
	if (argc - optind < 2)
		return bad_args(cat_usage, "IMAGE PATH...");
	ret = open_image(argv[optind], offset, &img);
	if (ret)
		return ret;
	buf = malloc(size);
	for (int i = optind + 1; buf && i < argc; i++) {
		int r = cat_one(img, argv[i], buf, size);

		if (r && ret != EXIT_CORRUPT)
			ret = r;
	}
	if (!buf)
		ret = EXIT_FAIL;
	free(buf);
	eroot_image_close(img);
	return ret;
}
