// SPDX-License-Identifier: MIT
/* eroot merge: one metadata image over several EROFS images (the builder's
 * image source, lib/builder/source/image.c). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char merge_usage[] =
"usage: eroot merge [OPTIONS] OUT IMAGE...\n"
"Build OUT, an EROFS image whose tree is the union of the IMAGEs: later ones\n"
"win, directories merge, overlayfs whiteouts (0/0 character devices), OCI\n"
"\".wh.\" names and opaque directories hide what earlier images have.  Each\n"
"IMAGE becomes an extra device of OUT, tagged with its SHA-256; its files'\n"
"data stays there wherever the kernel can map it, and is copied otherwise.\n"
"Fingerprints (mkfs --fingerprint) are kept, computed for IMAGEs without\n"
"them; IMAGEs of two fingerprint names are refused.\n"
"Mount with one device= per IMAGE, in order, all loop devices (mount(8)\n"
"puts a file OUT on a loop device, and then takes block devices only):\n"
"  mount -t erofs -o ro,device=/dev/loop1,device=/dev/loop2 /dev/loop0 DIR\n"
"\n"
"  --copy                copy all data: OUT stands alone, with no devices\n"
"  -T EPOCH              set every mtime and the build time to EPOCH\n"
"  --tmpdir DIR          where copied file data waits during the build\n"
"                        (default: OUT's directory)\n"
"  -q, --quiet           no progress, no summary\n"
"  -h, --help            show this help\n"
"\n"
"The IMAGEs must share one block size.\n";

enum { OPT_COPY = 0x100, OPT_TMPDIR };

static const struct option long_opts[] = {
	{ "copy", no_argument, NULL, OPT_COPY },
	{ "fixed-time", required_argument, NULL, 'T' },
	{ "tmpdir", required_argument, NULL, OPT_TMPDIR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The output's block size is the first input's; the others must match. */
static int first_block_size(const char *path, unsigned int *out)
{
	struct eroot_image *img = NULL;
	int ret = open_image(path, 0, &img);

	if (ret == EXIT_OK)
		*out = eroot_image_super(img)->block_size;
	eroot_image_close(img);
	return ret;
}

int cmd_merge(int argc, char **argv)
{
	struct eroot_build_options opts;
	struct eroot_build_stats stats;
	struct eroot_builder *b;
	unsigned int flags = EROOT_IMAGE_REFERENCE;
	char *tmpdir = NULL, *copy;
	uint64_t v;
	int c, err, ret;

	eroot_build_options_init(&opts);
	while ((c = getopt_long(argc, argv, "T:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'T':
			if (!parse_u64(optarg, &v) || v > INT64_MAX)
				return bad_value(merge_usage, argv[optind - 1], optarg);
			opts.fixed_time = (int64_t)v;
			break;
		case 'q':
			opts.quiet = 1;
			break;
		case OPT_COPY:
			flags = 0;
			break;
		case OPT_TMPDIR:
			opts.stage_dir = optarg;
			break;
		case 'h':
			return usage(merge_usage, false);
		default:
			return usage(merge_usage, true);
		}
	}
	if (argc - optind < 2)
		return bad_args(merge_usage, "OUT and at least one IMAGE");
	ret = first_block_size(argv[optind + 1], &opts.block_size);
	if (ret != EXIT_OK)
		return ret;
	if (!opts.stage_dir) {	/* /tmp may be memory */
		copy = strdup(argv[optind]);
		tmpdir = copy ? strdup(dirname(copy)) : NULL;
		free(copy);
		if (!tmpdir)
			return EXIT_FAIL;
		opts.stage_dir = tmpdir;
	}
	b = eroot_builder_new(&opts);
	if (!b) {
		free(tmpdir);
		err_msg("out of memory");
		return EXIT_FAIL;
	}
	err = 0;
	for (int i = optind + 1; !err && i < argc; i++) {
		if (!opts.quiet && isatty(STDERR_FILENO))
			fprintf(stderr, "\r%s: reading %d/%d: %s\033[K", prog, i - optind,
				argc - optind - 1, argv[i]);
		err = eroot_builder_add_image(b, argv[i], flags);
	}
	if (!opts.quiet && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (!err) {
		remove_on_fatal_signals(b, NULL, NULL);
		err = eroot_builder_write(b, argv[optind], &stats);
		remove_on_fatal_signals(NULL, NULL, NULL);
	}
	ret = EXIT_OK;
	if (err) {
		err_msg("%s", eroot_builder_errmsg(b));
		ret = err == -EINVAL ? EXIT_USAGE : exit_code(err);
	} else if (!opts.quiet) {
		printf("%s: %llu inodes (%llu files, %llu dirs, %llu symlinks, %llu special) "
		       "over %d images: %llu files referred to, %llu files copied "
		       "(%llu bytes), image %llu bytes\n", argv[optind],
		       (unsigned long long)stats.inodes, (unsigned long long)stats.files,
		       (unsigned long long)stats.dirs, (unsigned long long)stats.symlinks,
		       (unsigned long long)stats.specials, argc - optind - 1,
		       (unsigned long long)stats.files_referenced,
		       (unsigned long long)stats.files_copied,
		       (unsigned long long)stats.data_bytes,
		       (unsigned long long)stats.image_bytes);
	}
	eroot_builder_free(b);
	free(tmpdir);
	return ret;
}
