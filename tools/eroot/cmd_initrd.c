// SPDX-License-Identifier: MIT
/*
 * eroot initrd: an initramfs whose content stays an EROFS image.  The work
 * is liberoot's (include/eroot/boot.h, lib/boot/); this is its command
 * line: options, messages, the default loader, signal cleanup.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "eroot/boot.h"

#ifndef EROOT_LIBEXECDIR
#define EROOT_LIBEXECDIR "/usr/local/libexec/eroot"
#endif

static const char initrd_usage[] =
"usage: eroot initrd [OPTIONS] OUTPUT INPUT\n"
"Turn INPUT, an initramfs file or a directory, into an initrd that boots a\n"
"stock kernel with INPUT's content kept as an EROFS image.\n"
"\n"
"  -z ALGO[,LEVEL]       image compression (default lz4hc, with --dax none;\n"
"                        \"none\" for none)\n"
"  -C SIZE               largest physical cluster in bytes (default: one block)\n"
"  --hot-list FILE       store the files FILE lists (one path a line, as\n"
"                        eroot.profile records them) uncompressed and first\n"
"  -k KVER               kernel version whose modules the loader may need\n"
"                        (default: the one INPUT carries modules for)\n"
"  --modules-dir ROOT    find lib/modules/KVER under ROOT (default /)\n"
"  --kernel-config FILE  the kernel's build configuration (default: under\n"
"                        ROOT: lib/modules/KVER/config or boot/config-KVER);\n"
"                        what that kernel cannot boot is refused\n"
"  --layer IMG           an extra EROFS image stacked on top; repeatable\n"
"  --dax IMAGE           write the content image to IMAGE, in the DAX layout,\n"
"                        for a virtio-pmem device or a memmap= range: the\n"
"                        loader mounts it from /dev/pmemN with -o dax=always\n"
"  --fingerprint[=NAME]  content fingerprints in the image (xattr NAME,\n"
"                        default " EROOT_FINGERPRINT_DEFAULT "), for page-cache\n"
"                        sharing with other images (Linux 7.0 inode_share)\n"
"  --share-domain ID     the loader mounts the images with inode_share,\n"
"                        domain_id=ID where the kernel takes it: files with\n"
"                        equal fingerprints in images of that domain (the\n"
"                        real root's) share their page cache; not with --dax\n"
"  --digest POLICY       sha256 (default: the loader verifies every module\n"
"                        and image against the SHA-256 recorded in its\n"
"                        configuration) or none (only with eroot.digest=)\n"
"  --print-digest        print eroot.digest=sha256:HEX, the kernel option\n"
"                        that pins this initrd (all but the loader itself)\n"
"  --digest-file FILE    write that line to FILE\n"
"  --loader PATH         the eroot-init binary (default: the build tree's,\n"
"                        else " EROOT_LIBEXECDIR "/eroot-init)\n"
"  --stats               print the sizes of the parts (and of the DAX image)\n"
"  -q, --quiet           no progress, no summary\n"
"  -h, --help            show this help\n";

enum { OPT_MODULES_DIR = 0x100, OPT_KERNEL_CONFIG, OPT_LAYER, OPT_DIGEST, OPT_LOADER, OPT_STATS,
       OPT_PRINT_DIGEST, OPT_DIGEST_FILE, OPT_HOT_LIST, OPT_DAX, OPT_FINGERPRINT,
       OPT_SHARE_DOMAIN };

static const struct option long_opts[] = {
	{ "modules-dir", required_argument, NULL, OPT_MODULES_DIR },
	{ "kernel-config", required_argument, NULL, OPT_KERNEL_CONFIG },
	{ "layer", required_argument, NULL, OPT_LAYER },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "loader", required_argument, NULL, OPT_LOADER },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "print-digest", no_argument, NULL, OPT_PRINT_DIGEST },
	{ "digest-file", required_argument, NULL, OPT_DIGEST_FILE },
	{ "hot-list", required_argument, NULL, OPT_HOT_LIST },
	{ "dax", required_argument, NULL, OPT_DAX },
	{ "fingerprint", optional_argument, NULL, OPT_FINGERPRINT },
	{ "share-domain", required_argument, NULL, OPT_SHARE_DOMAIN },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct initrd {
	struct eroot_initrd_options o;
	const char *output;
	const char **layers;		/* argc entries: --layer never exceeds it */
	const char *digest_file;	/* --digest-file */
	bool stats, quiet, print_digest;
	bool compressor_given;		/* -z: else none with --dax */
};

static void show_warning(void *ctx, const char *text)
{
	(void)ctx;
	fprintf(stderr, "%s: warning: %s\n", prog, text);
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	fprintf(stderr, "\r%s: image %llu/%llu MiB", prog, (unsigned long long)(done >> 20),
		(unsigned long long)(total >> 20));
}

/* How to hand the DAX image to the kernel (docs/boot.md, for VM operators). */
static void show_attach(const char *image, uint64_t bytes)
{
	unsigned long long mib = (unsigned long long)(bytes >> 20);

	printf("%s: DAX image, %llu MiB; attach it as\n"
	       "  QEMU: -m SIZE,slots=2,maxmem=MAX -object memory-backend-file,id=pm0,"
	       "share=off,readonly=on,mem-path=%s,size=%lluM -device virtio-pmem-pci,memdev=pm0\n"
	       "  cloud-hypervisor: --pmem file=%s,discard_writes=on\n"
	       "  or place it at a 2 MiB-aligned physical address ADDR with the kernel "
	       "command line memmap=%lluM!ADDR\n", image, mib, image, mib, image, mib);
}

/* eroot-init beside this eroot (a build tree), else the installed one. */
static char *default_loader(void)
{
	char self[4096], *path = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if (asprintf(&path, "%s/../eroot-init/eroot-init", dirname(self)) < 0)
			path = NULL;
		else if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return strdup(EROOT_LIBEXECDIR "/eroot-init");
}

static int parse_initrd_args(int argc, char **argv, struct initrd *r)
{
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "z:C:k:qh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'z':
			r->o.compressor = strcmp(optarg, "none") ? optarg : NULL;
			r->compressor_given = true;
			break;
		case 'C':
			if (!parse_u64(optarg, &v) || v > UINT32_MAX)
				return bad_value(initrd_usage, "-C", optarg);
			r->o.pcluster_size = (unsigned int)v;
			break;
		case 'k':
			r->o.kver = optarg;
			break;
		case OPT_MODULES_DIR:
			r->o.modules_root = optarg;
			break;
		case OPT_KERNEL_CONFIG:
			r->o.kernel_config = optarg;
			break;
		case OPT_LAYER:
			r->layers[r->o.nlayers++] = optarg;
			break;
		case OPT_DIGEST:
			if (strcmp(optarg, "sha256") && strcmp(optarg, "none"))
				return bad_value(initrd_usage, "--digest", optarg);
			r->o.verify = !strcmp(optarg, "sha256");
			break;
		case OPT_LOADER:
			r->o.loader = optarg;
			break;
		case OPT_STATS:
			r->stats = true;
			break;
		case OPT_PRINT_DIGEST:
			r->print_digest = true;
			break;
		case OPT_DIGEST_FILE:
			r->digest_file = optarg;
			break;
		case OPT_HOT_LIST:
			r->o.hot_list = optarg;
			break;
		case OPT_DAX:
			r->o.dax_image = optarg;
			break;
		case OPT_FINGERPRINT:
			if (optarg && !*optarg)
				return bad_value(initrd_usage, "--fingerprint", optarg);
			r->o.fingerprint = optarg ? optarg : EROOT_FINGERPRINT_DEFAULT;
			break;
		case OPT_SHARE_DOMAIN:
			r->o.share_domain = optarg;
			break;
		case 'q':
			r->quiet = true;
			break;
		case 'h':
			return usage(initrd_usage, false) - 1000;	/* done, exit 0 */
		default:
			return usage(initrd_usage, true);
		}
	}
	if (argc - optind != 2)
		return bad_args(initrd_usage, "OUTPUT and INPUT");
	r->output = argv[optind];
	r->o.input = argv[optind + 1];
	if (r->o.dax_image && !r->compressor_given)
		r->o.compressor = NULL;	/* every file served through DAX */
	if (r->o.dax_image && r->o.share_domain) {
		err_msg("--share-domain and --dax exclude each other: the kernel shares no page "
			"cache of a DAX mount");
		return EXIT_USAGE;
	}
	return 0;
}

/* Build the initrd, removing its temporary files if a signal ends us. */
static int run(struct initrd *r)
{
	struct eroot_initrd_stats st;
	struct eroot_initrd *w;
	char *dir = strdup(r->output);
	int err;

	r->o.stage_dir = dir ? dirname(dir) : ".";
	r->o.warn = show_warning;
	if (!r->quiet && isatty(STDERR_FILENO))
		r->o.progress = show_progress;
	w = eroot_initrd_new(&r->o);
	if (!w) {
		free(dir);
		err_msg("out of memory");
		return EXIT_FAIL;
	}
	remove_on_fatal_signals(eroot_initrd_image_builder(w), eroot_initrd_temp_path(w, 0),
				eroot_initrd_temp_path(w, 1));
	err = eroot_initrd_write(w, r->output, &st);
	remove_on_fatal_signals(NULL, NULL, NULL);
	if (r->o.progress)
		fputc('\n', stderr);
	if (!err && r->digest_file)
		err = eroot_initrd_save_digest_arg(w, r->digest_file);
	if (err)
		err_msg("%s", eroot_initrd_errmsg(w));
	else if (st.hot_missing)
		fprintf(stderr, "%s: warning: %llu %s of %s %s no file of the image\n", prog,
			(unsigned long long)st.hot_missing, st.hot_missing == 1 ? "path" : "paths",
			r->o.hot_list, st.hot_missing == 1 ? "is" : "are");
	if (!err && r->stats)
		printf("early archives %llu bytes\nloader archive %llu bytes\n"
		       "image archive %llu bytes\ninitrd %llu bytes\n",
		       (unsigned long long)st.early_bytes, (unsigned long long)st.loader_bytes,
		       (unsigned long long)st.image_bytes, (unsigned long long)st.total_bytes);
	if (!err && r->stats && r->o.dax_image)
		printf("DAX image %llu bytes\n", (unsigned long long)st.dax_bytes);
	if (!err && r->stats && r->o.hot_list)
		printf("hot files %llu uncompressed\n", (unsigned long long)st.hot_files);
	if (!err && r->print_digest)
		printf("%s\n", eroot_initrd_digest_arg(w));
	if (!err && !r->quiet)
		printf("%s: initrd of %s for kernel %s, %s %s\n", r->output, r->o.input,
		       st.kver[0] ? st.kver : "?", r->o.dax_image ? "DAX image" : "image",
		       r->o.compressor ? r->o.compressor : "uncompressed");
	if (!err && !r->quiet && r->o.dax_image)
		show_attach(r->o.dax_image, st.dax_bytes);
	eroot_initrd_free(w);
	free(dir);
	return err ? EXIT_FAIL : EXIT_OK;
}

int cmd_initrd(int argc, char **argv)
{
	const char **layers = calloc((size_t)argc, sizeof(char *));
	struct initrd r = { .layers = layers };
	char *loader = NULL;
	int ret;

	if (!layers)
		return EXIT_FAIL;
	eroot_initrd_options_init(&r.o);
	r.o.layers = layers;
	ret = parse_initrd_args(argc, argv, &r);
	if (ret) {
		free(layers);
		return ret < 0 ? ret + 1000 : ret;
	}
	if (!r.o.loader)
		r.o.loader = loader = default_loader();
	ret = r.o.loader ? run(&r) : EXIT_FAIL;
	free(loader);
	free(layers);
	return ret;
}
