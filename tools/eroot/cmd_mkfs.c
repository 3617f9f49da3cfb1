// SPDX-License-Identifier: MIT
/* eroot mkfs: argument parsing over the liberoot builder. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char mkfs_usage[] =
"usage: eroot mkfs [OPTIONS] IMAGE SOURCE\n"
"       eroot mkfs [OPTIONS] (--tar FILE | --cpio FILE)... IMAGE\n"
"       eroot mkfs [OPTIONS] --initramfs FILE [--keep-early] IMAGE\n"
"Build an EROFS image of SOURCE: a directory, or a tar or cpio archive\n"
"(compressed or not; \"-\" reads standard input).\n"
"\n"
"  --tar FILE            a tar archive; repeat to apply layers in order, with\n"
"                        OCI whiteouts (.wh.NAME, .wh..wh..opq)\n"
"  --cpio FILE           a cpio archive (newc, crc, odc)\n"
"  --initramfs FILE      an initramfs, read as the kernel unpacks it\n"
"  --keep-early          with --initramfs: leave out its leading uncompressed\n"
"                        early archives (microcode) and print their length\n"
"  --overlay-whiteouts   keep whiteouts as overlayfs whiteouts in the image\n"
"  --tmpdir DIR          where archive file data waits during the build\n"
"                        (default: the image's directory)\n"
"  -z ALGO[,LEVEL][:ALGO[,LEVEL]...]\n"
"                        compress: lz4, lz4hc, lzma, deflate or zstd (default: none);\n"
"                        the first is the default, others serve --compress-hints\n"
"  -C SIZE               largest physical cluster in bytes (default: one block)\n"
"  --compress-hints=FILE per-file settings: lines \"PCLUSTER-SIZE REGEX [ALGORITHM-INDEX]\"\n"
"  --hot-list=FILE       store the files FILE lists (one path a line) uncompressed,\n"
"                        their data first, in the list's order (needs -z)\n"
"  --dax                 DAX layout: every file stored uncompressed is flat, none\n"
"                        inline nor sparse, so that a kernel mounting the image\n"
"                        from a pmem device with -o dax=always maps it without\n"
"                        the page cache; the image is padded to a multiple of\n"
"                        2 MiB; needs 4096-byte blocks\n"
"  --fingerprint[=NAME]  give every regular file with data the xattr NAME\n"
"                        (default erofs.fingerprint.v1, in no namespace) holding\n"
"                        \"sha256:\" and the SHA-256 of its content, as mkfs.erofs\n"
"                        --xattr-inode-digest does: files of equal content in\n"
"                        images mounted -o inode_share,domain_id=ID (Linux 7.0+)\n"
"                        share their page cache\n"
"  --workers=N           compression threads (default: one per core; same image for any N)\n"
"  --pipeline-mib=N      compression input in flight, in MiB (default 64, at least\n"
"                        3 segments; bounds memory; same image for any N)\n"
"  -E OPTS               extended options, comma separated: dedupe (files with\n"
"                        equal content, and equal pclusters of different\n"
"                        files, share their data), ztailpacking (a\n"
"                        compressed file's last pcluster inline), fragments\n"
"                        (files up to -C and final extents in one packed inode;\n"
"                        equal files share their data),\n"
"                        all-fragments (whole files)\n"
"  -b SIZE               block size: 512, 1024, 2048 or 4096 (default 4096)\n"
"  -L LABEL              volume label (at most 16 bytes)\n"
"  -U UUID               volume UUID (default: derived from the content)\n"
"  -T EPOCH              set every mtime and the build time to EPOCH\n"
"  --all-root            make every owner root (0:0)\n"
"  --force-uid=UID       make every owner UID\n"
"  --force-gid=GID       make every group GID\n"
"  --exclude-path=PATH   leave out PATH (relative to SOURCE); repeatable\n"
"  --exclude-regex=RE    leave out paths matching the extended regex RE; repeatable\n"
"  -x N                  share an xattr carried by N or more inodes (default 2, 0 never)\n"
"  -q, --quiet           no progress, no summary\n"
"  -h, --help            show this help\n"
"\n"
"Environment: SOURCE_DATE_EPOCH clamps later mtimes to it (unless -T).\n";

enum { OPT_ALL_ROOT = 0x100, OPT_FORCE_UID, OPT_FORCE_GID, OPT_EXCL_PATH, OPT_EXCL_REGEX,
       OPT_WORKERS, OPT_HINTS, OPT_TAR, OPT_CPIO, OPT_INITRAMFS, OPT_KEEP_EARLY,
       OPT_OVERLAY_WH, OPT_TMPDIR, OPT_PIPELINE, OPT_HOT_LIST, OPT_DAX, OPT_FINGERPRINT };

static const struct option long_opts[] = {
	{ "all-root", no_argument, NULL, OPT_ALL_ROOT },
	{ "force-uid", required_argument, NULL, OPT_FORCE_UID },
	{ "force-gid", required_argument, NULL, OPT_FORCE_GID },
	{ "exclude-path", required_argument, NULL, OPT_EXCL_PATH },
	{ "exclude-regex", required_argument, NULL, OPT_EXCL_REGEX },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "pipeline-mib", required_argument, NULL, OPT_PIPELINE },
	{ "compress-hints", required_argument, NULL, OPT_HINTS },
	{ "hot-list", required_argument, NULL, OPT_HOT_LIST },
	{ "dax", no_argument, NULL, OPT_DAX },
	{ "fingerprint", optional_argument, NULL, OPT_FINGERPRINT },
	{ "tar", required_argument, NULL, OPT_TAR },
	{ "cpio", required_argument, NULL, OPT_CPIO },
	{ "initramfs", required_argument, NULL, OPT_INITRAMFS },
	{ "keep-early", no_argument, NULL, OPT_KEEP_EARLY },
	{ "overlay-whiteouts", no_argument, NULL, OPT_OVERLAY_WH },
	{ "tmpdir", required_argument, NULL, OPT_TMPDIR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static bool parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (const char *p = s; *p; p++) {
		unsigned int v;

		if (*p == '-' && (p - s == 8 || p - s == 13 || p - s == 18 || p - s == 23))
			continue;
		if (n == 32 || sscanf(p, "%1x", &v) != 1)
			return false;
		out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
		n++;
	}
	return n == 32 && strlen(s) == 36;
}

struct progress {
	time_t last;
	bool shown;
};

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	time_t now = time(NULL);

	if (now == p->last && done != total)
		return;
	p->last = now;
	p->shown = true;
	fprintf(stderr, "\r%s: %llu/%llu MiB of file data (%u%%)", prog,
		(unsigned long long)(done >> 20), (unsigned long long)(total >> 20),
		total ? (unsigned int)(done * 100 / total) : 100);
}

/* -E: comma-separated extended options, as mkfs.erofs users write them */
static bool parse_extended(char *list, struct eroot_build_options *opts)
{
	char *save = NULL;

	for (char *opt = strtok_r(list, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strcmp(opt, "dedupe")) {
			opts->dedupe = 1;
		} else if (!strcmp(opt, "ztailpacking")) {
			opts->ztailpacking = 1;
		} else if (!strcmp(opt, "fragments")) {
			opts->fragments = 1;
		} else if (!strcmp(opt, "all-fragments")) {
			opts->all_fragments = 1;
		} else {
			err_msg("unknown extended option '%s'", opt);
			return false;
		}
	}
	return true;
}

static bool parse_id(const char *s, int64_t *out)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

/* A source named on the command line, in order. */
struct source {
	int kind;			/* OPT_TAR, OPT_CPIO, OPT_INITRAMFS, 0: positional */
	const char *path;
};

static int add_source(struct eroot_builder *b, const struct source *src, bool keep_early,
		      uint64_t *early)
{
	struct stat st;

	switch (src->kind) {
	case OPT_TAR:
		return eroot_builder_add_archive(b, src->path, EROOT_ARCHIVE_TAR);
	case OPT_CPIO:
		return eroot_builder_add_archive(b, src->path, EROOT_ARCHIVE_CPIO);
	case OPT_INITRAMFS:
		return eroot_builder_add_initramfs(b, src->path, keep_early ? early : NULL);
	}
	if (strcmp(src->path, "-") && stat(src->path, &st) == 0 && S_ISDIR(st.st_mode))
		return eroot_builder_add_dir(b, src->path);
	return eroot_builder_add_archive(b, src->path, EROOT_ARCHIVE_AUTO);
}

/*
 * Test only (tests/test_mkfs_safe.py): with EROOT_TEST_PAUSE_AFTER_SCAN set
 * to a FIFO, wait between the scan and the write until a writer opens and
 * closes it, so that a test can change the source tree right there.
 */
static void test_pause_after_scan(void)
{
	const char *fifo = getenv("EROOT_TEST_PAUSE_AFTER_SCAN");
	char buf[64];
	int fd;

	if (!fifo || !*fifo)
		return;
	fd = open(fifo, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
	if (fd >= 0)
		close(fd);
}

/* Archive data waits next to the image by default: /tmp may be memory. */
static char *default_tmpdir(const char *image)
{
	char *copy = strdup(image), *dir = copy ? strdup(dirname(copy)) : NULL;

	free(copy);
	return dir;
}

int cmd_mkfs(int argc, char **argv)
{
	struct eroot_build_options opts;
	struct eroot_build_stats stats;
	struct eroot_builder *b;
	struct progress prog_state = { 0 };
	const char **excl_paths = calloc((size_t)argc, sizeof(char *));
	const char **excl_res = calloc((size_t)argc, sizeof(char *));
	struct source *sources = calloc((size_t)argc, sizeof(*sources));
	size_t nexcl_paths = 0, nexcl_res = 0, nsources = 0;
	bool keep_early = false;
	uint64_t early = 0;
	char *tmpdir = NULL;
	uint8_t uuid[16];
	const char *epoch;
	uint64_t v;
	int c, err, ret = EXIT_OK;

	if (!excl_paths || !excl_res || !sources)
		return EXIT_FAIL;
	eroot_build_options_init(&opts);
	while ((c = getopt_long(argc, argv, "b:C:E:L:U:T:x:z:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (!parse_u64(optarg, &v) || v > 65536)
				goto bad_value;
			opts.block_size = (unsigned int)v;
			break;
		case 'C':
			if (!parse_u64(optarg, &v) || v > UINT32_MAX)
				goto bad_value;
			opts.pcluster_size = (unsigned int)v;
			break;
		case 'z':
			opts.compressor = optarg;
			break;
		case 'E':
			if (!parse_extended(optarg, &opts))
				goto bad;	/* the reason is printed already */
			break;
		case 'L':
			opts.label = optarg;
			break;
		case 'U':
			if (!parse_uuid(optarg, uuid)) {
				err_msg("bad UUID '%s'", optarg);
				goto bad;
			}
			opts.uuid = uuid;
			break;
		case 'T':
			if (!parse_u64(optarg, &v) || v > INT64_MAX)
				goto bad_value;
			opts.fixed_time = (int64_t)v;
			break;
		case 'x':
			if (!parse_u64(optarg, &v) || v > UINT32_MAX)
				goto bad_value;
			opts.shared_xattr_min = (unsigned int)v;
			break;
		case 'q':
			opts.quiet = 1;
			break;
		case OPT_ALL_ROOT:
			opts.force_uid = opts.force_gid = 0;
			break;
		case OPT_FORCE_UID:
			if (!parse_id(optarg, &opts.force_uid))
				goto bad_value;
			break;
		case OPT_FORCE_GID:
			if (!parse_id(optarg, &opts.force_gid))
				goto bad_value;
			break;
		case OPT_WORKERS:
			if (!parse_u64(optarg, &v) || v < 1 || v > 1024)
				goto bad_value;
			opts.workers = (unsigned int)v;
			break;
		case OPT_PIPELINE:
			if (!parse_u64(optarg, &v) || v < 1 || v > 65536)
				goto bad_value;
			opts.pipeline_bytes = v << 20;
			break;
		case OPT_HINTS:
			opts.compress_hints = optarg;
			break;
		case OPT_HOT_LIST:
			opts.hot_list = optarg;
			break;
		case OPT_DAX:
			opts.dax = 1;
			break;
		case OPT_FINGERPRINT:
			opts.fingerprint = optarg ? optarg : EROOT_FINGERPRINT_DEFAULT;
			break;
		case OPT_TAR: case OPT_CPIO: case OPT_INITRAMFS:
			sources[nsources++] = (struct source){ c, optarg };
			break;
		case OPT_KEEP_EARLY:
			keep_early = true;
			break;
		case OPT_OVERLAY_WH:
			opts.overlay_whiteouts = 1;
			break;
		case OPT_TMPDIR:
			opts.stage_dir = optarg;
			break;
		case OPT_EXCL_PATH:
			excl_paths[nexcl_paths++] = optarg;
			break;
		case OPT_EXCL_REGEX:
			excl_res[nexcl_res++] = optarg;
			break;
		case 'h':
			ret = usage(mkfs_usage, false);
			goto out_args;
		default:
			goto bad;
		}
	}
	if (argc - optind != (nsources ? 1 : 2)) {
		err_msg(nsources ? "expected IMAGE only: the source is given by option"
				 : "expected IMAGE and SOURCE");
		goto bad;
	}
	if (!nsources)
		sources[nsources++] = (struct source){ 0, argv[optind + 1] };
	for (size_t i = 0; i < nsources; i++) {
		if (sources[i].kind == OPT_INITRAMFS && nsources > 1) {
			err_msg("--initramfs takes no other source");
			goto bad;
		}
	}
	if (keep_early && sources[0].kind != OPT_INITRAMFS) {
		err_msg("--keep-early goes with --initramfs");
		goto bad;
	}
	if (!opts.stage_dir) {
		tmpdir = default_tmpdir(argv[optind]);
		if (!tmpdir) {
			ret = EXIT_FAIL;
			goto out_args;
		}
		opts.stage_dir = tmpdir;
	}
	epoch = getenv("SOURCE_DATE_EPOCH");
	if (epoch && *epoch && opts.fixed_time < 0) {
		if (!parse_u64(epoch, &v) || v > INT64_MAX) {
			err_msg("SOURCE_DATE_EPOCH is not a number of seconds: '%s'", epoch);
			ret = EXIT_USAGE;
			goto out_args;
		}
		opts.clamp_time = (int64_t)v;
	}
	if (!opts.quiet && isatty(STDERR_FILENO)) {
		opts.progress = show_progress;
		opts.progress_ctx = &prog_state;
	}

	b = eroot_builder_new(&opts);
	if (!b) {
		err_msg("out of memory");
		ret = EXIT_FAIL;
		goto out_args;
	}
	err = 0;
	for (size_t i = 0; !err && i < nexcl_paths; i++)
		err = eroot_builder_exclude_path(b, excl_paths[i]);
	for (size_t i = 0; !err && i < nexcl_res; i++)
		err = eroot_builder_exclude_regex(b, excl_res[i]);
	if (err) {
		err_msg("%s", eroot_builder_errmsg(b));
		ret = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; !err && i < nsources; i++)
		err = add_source(b, &sources[i], keep_early, &early);
	if (!err && keep_early)
		printf("early archives: %llu bytes\n", (unsigned long long)early);
	if (!err)
		test_pause_after_scan();
	if (!err) {
		remove_on_fatal_signals(b, NULL, NULL);
		err = eroot_builder_write(b, argv[optind], &stats);
		remove_on_fatal_signals(NULL, NULL, NULL);
	}
	if (prog_state.shown)
		fputc('\n', stderr);
	if (err) {
		err_msg("%s", eroot_builder_errmsg(b));
		ret = err == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (stats.hot_missing)
		fprintf(stderr, "%s: warning: %llu %s of %s %s no file of the image\n", prog,
			(unsigned long long)stats.hot_missing,
			stats.hot_missing == 1 ? "path" : "paths", opts.hot_list,
			stats.hot_missing == 1 ? "is" : "are");
	if (!opts.quiet)
		printf("%s: %llu inodes (%llu files, %llu dirs, %llu symlinks, %llu special), "
		       "%llu bytes of data, %llu files deduplicated, image %llu bytes, "
		       "compression buffers peak %llu bytes\n", argv[optind],
		       (unsigned long long)stats.inodes, (unsigned long long)stats.files,
		       (unsigned long long)stats.dirs, (unsigned long long)stats.symlinks,
		       (unsigned long long)stats.specials, (unsigned long long)stats.data_bytes,
		       (unsigned long long)stats.deduped,
		       (unsigned long long)stats.image_bytes,
		       (unsigned long long)stats.pipeline_peak_bytes);
out:
	eroot_builder_free(b);
out_args:
	free(excl_paths);
	free(excl_res);
	free(sources);
	free(tmpdir);
	return ret;
bad_value:
	err_msg("invalid value for %s: '%s'", argv[optind - 1], optarg);
bad:
	free(excl_paths);
	free(excl_res);
	free(sources);
	free(tmpdir);
	return usage(mkfs_usage, true);
}
