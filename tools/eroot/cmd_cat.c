// SPDX-License-Identifier: MIT
/* eroot cat: copy files of an image to stdout. */
#include <errno.h>
#include <fcntl.h>
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
DEVICE_USAGE
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n";

struct output {
	char *buf;
	size_t size;
	const char *zeros;	/* @size zero bytes, for holes written out */
	bool sparse;		/* stdout is a regular file: seek over holes */
};

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

/*
 * Seeking over holes is right only where stdout has nothing yet: at or
 * past its end (as after "> file"), and not in append mode, where every
 * write lands at the end whatever the offset.
 */
static bool can_seek_holes(void)
{
	struct stat st;
	off_t at = lseek(STDOUT_FILENO, 0, SEEK_CUR);
	int flags = fcntl(STDOUT_FILENO, F_GETFL);

	return at >= 0 && flags >= 0 && !(flags & O_APPEND) &&
	       fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && at >= st.st_size;
}

static int write_hole(struct output *o, uint64_t len)
{
	if (o->sparse)
		return lseek(STDOUT_FILENO, (off_t)len, SEEK_CUR) < 0 ? -errno : 0;
	while (len) {
		size_t n = len < o->size ? (size_t)len : o->size;
		int err = write_all(o->zeros, n);

		if (err)
			return err;
		len -= n;
	}
	return 0;
}

static bool is_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

/* Data out; in sparse mode zero blocks become holes too, as cp --sparse does. */
static int emit(struct output *o, const char *buf, size_t len)
{
	if (!o->sparse)
		return write_all(buf, len);
	for (size_t at = 0; at < len; at += 4096) {
		size_t n = len - at < 4096 ? len - at : 4096;
		int err = is_zero(buf + at, n) ? write_hole(o, n) : write_all(buf + at, n);

		if (err)
			return err;
	}
	return 0;
}

/* Bytes [@off, @end) of @ino: an exit code, with *@werr set when stdout failed. */
static int write_data(struct eroot_image *img, const char *path, const struct eroot_inode *ino,
		      struct output *o, uint64_t off, uint64_t end, int *werr)
{
	while (off < end) {
		size_t want = end - off < o->size ? (size_t)(end - off) : o->size;
		ssize_t n = eroot_pread(img, ino, o->buf, want, off);

		if (n <= 0)
			return image_error(img, path, n ? (int)n : -EUCLEAN);
		if ((*werr = emit(o, o->buf, (size_t)n)))
			return EXIT_FAIL;
		off += (uint64_t)n;
	}
	return EXIT_OK;
}

/* Sparse output gets its length first, so that a file too large fails at once. */
static int extend_stdout(uint64_t size, off_t *base)
{
	*base = lseek(STDOUT_FILENO, 0, SEEK_CUR);
	if (*base < 0)
		return -errno;
	if ((uint64_t)(INT64_MAX - *base) < size)
		return -EFBIG;
	return ftruncate(STDOUT_FILENO, *base + (off_t)size) < 0 ? -errno : 0;
}

static int copy_file(struct eroot_image *img, const char *path, const struct eroot_inode *ino,
		     struct output *o, int *werr)
{
	uint64_t off = 0, start, len;
	off_t base = 0;
	int err, ret;

	o->sparse = can_seek_holes();
	if (o->sparse && (*werr = extend_stdout(ino->size, &base)))
		return EXIT_FAIL;
	while ((err = eroot_next_data(img, ino, off, &start, &len)) == 0) {
		if ((*werr = write_hole(o, start - off)))
			return EXIT_FAIL;
		ret = write_data(img, path, ino, o, start, start + len, werr);
		if (ret)
			return ret;
		off = start + len;
	}
	if (err != -ENXIO)
		return image_error(img, path, err);
	if (!o->sparse)
		return (*werr = write_hole(o, ino->size - off)) ? EXIT_FAIL : EXIT_OK;
	if (lseek(STDOUT_FILENO, base + (off_t)ino->size, SEEK_SET) < 0)
		*werr = -errno;
	return *werr ? EXIT_FAIL : EXIT_OK;
}

static int cat_one(struct eroot_image *img, const char *path, struct output *o)
{
	struct eroot_inode ino;
	int werr = 0, ret;
	int err = eroot_lookup_follow(img, path, true, &ino);

	if (err)
		return image_error(img, path, err);
	if (S_ISDIR(ino.mode)) {
		err_msg("%s: is a directory", path);
		return EXIT_FAIL;
	}
	ret = copy_file(img, path, &ino, o, &werr);
	if (werr)
		err_msg("%s: writing stdout: %s", path, strerror(-werr));
	return ret;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		DEVICE_LONG_OPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct eroot_image *img;
	uint64_t offset = 0;
	struct output out = { .size = 1 << 20 };
	char *zeros;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DEVICE:
		case OPT_DEVICE_DIR:
			if (!device_option(c, optarg))
				return EXIT_FAIL;
			break;
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
	out.buf = malloc(out.size);
	out.zeros = zeros = calloc(1, out.size);
	for (int i = optind + 1; out.buf && zeros && i < argc; i++) {
		int r = cat_one(img, argv[i], &out);

		if (r && ret != EXIT_CORRUPT)
			ret = r;
	}
	if (!out.buf || !zeros)
		ret = EXIT_FAIL;
	free(out.buf);
	free(zeros);
	eroot_image_close(img);
	return ret;
}
