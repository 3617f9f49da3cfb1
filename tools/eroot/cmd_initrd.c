// SPDX-License-Identifier: MIT
/*
 * eroot initrd: an initramfs whose content stays an EROFS image.  The
 * output is a valid initramfs for a stock kernel:
 *   1. INPUT's leading uncompressed early archives (microcode), byte for byte;
 *   2. the loader archive: /init (eroot-init), /dev/console, the modules the
 *      loader needs, /eroot/config;
 *   3. an archive holding the image (and --layer images), each with its data
 *      at a multiple of 4096 in the file.
 * Bootloaders may append more archives after it; the loader carries what
 * they bring into the final root.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "kmod.h"
#include "newc.h"

#ifndef EROOT_LIBEXECDIR
#define EROOT_LIBEXECDIR "/usr/local/libexec/eroot"
#endif

static const char initrd_usage[] =
"usage: eroot initrd [OPTIONS] OUTPUT INPUT\n"
"Turn INPUT, an initramfs file or a directory, into an initrd that boots a\n"
"stock kernel with INPUT's content kept as an EROFS image.\n"
"\n"
"  -z ALGO[,LEVEL]       image compression (default lz4hc; \"none\" for none)\n"
"  -C SIZE               largest physical cluster in bytes (default: one block)\n"
"  -k KVER               kernel version whose modules the loader may need\n"
"                        (default: the one INPUT carries modules for)\n"
"  --modules-dir ROOT    find lib/modules/KVER under ROOT (default /)\n"
"  --layer IMG           an extra EROFS image stacked on top; repeatable\n"
"  --digest POLICY       sha256 (default: the loader verifies every image\n"
"                        against the digest recorded here) or none\n"
"  --loader PATH         the eroot-init binary (default: the build tree's,\n"
"                        else " EROOT_LIBEXECDIR "/eroot-init)\n"
"  --stats               print the sizes of the parts\n"
"  -q, --quiet           no progress, no summary\n"
"  -h, --help            show this help\n";

enum { OPT_MODULES_DIR = 0x100, OPT_LAYER, OPT_DIGEST, OPT_LOADER, OPT_STATS };

static const struct option long_opts[] = {
	{ "modules-dir", required_argument, NULL, OPT_MODULES_DIR },
	{ "layer", required_argument, NULL, OPT_LAYER },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "loader", required_argument, NULL, OPT_LOADER },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The modules the loader may load: what it mounts with and hashes with. */
static const struct { const char *name; bool for_digest; } loader_modules[] = {
	{ "erofs", false }, { "overlay", false }, { "loop", false },
	{ "af_alg", true }, { "algif_hash", true }, { "sha256", true },
};

struct initrd {
	const char *output, *input, *kver, *modules_root, *loader;
	const char *compressor;
	unsigned int pcluster;
	const char **layers;
	int nlayers;
	bool verify, stats, quiet;
	/* work files next to OUTPUT */
	char *tmp_out, *tmp_image;
	uint64_t early;
	char kver_found[128];
};

static int sha256_hex(const char *path, char hex[65])
{
	unsigned char buf[1 << 16], md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	unsigned int mdlen = 0;
	size_t n;
	int err = 0;

	if (!f || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err_msg("%s: %s", path, f ? "cannot hash" : strerror(errno));
		err = -EIO;
	}
	while (!err && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	if (!err && (ferror(f) || !EVP_DigestFinal_ex(ctx, md, &mdlen))) {
		err_msg("%s: read error", path);
		err = -EIO;
	}
	for (unsigned int i = 0; !err && i < mdlen; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	if (f)
		fclose(f);
	EVP_MD_CTX_free(ctx);
	return err;
}

static int first_name(void *ctx, const struct eroot_dirent *de)
{
	char *out = ctx;

	if (de->name[0] == '.' || de->name_len >= 128)
		return 0;
	memcpy(out, de->name, de->name_len);
	out[de->name_len] = '\0';
	return 1;			/* stop */
}

/* The kernel version INPUT carries modules for: its lib/modules/KVER. */
static int guess_kver(struct initrd *r)
{
	static const char *const dirs[] = { "/usr/lib/modules", "/lib/modules" };
	struct eroot_image *img;
	struct eroot_inode ino;
	int err = eroot_image_open_path(r->tmp_image, 0, &img);

	for (size_t i = 0; !err && i < 2 && !r->kver_found[0]; i++)
		if (!eroot_lookup_follow(img, dirs[i], true, &ino) && S_ISDIR(ino.mode))
			eroot_readdir(img, &ino, first_name, r->kver_found);
	if (!err)
		eroot_image_close(img);
	if (!r->kver_found[0]) {
		err_msg("%s carries no lib/modules/KVER: name the kernel with -k", r->input);
		return -ENOENT;
	}
	r->kver = r->kver_found;
	return 0;
}

/* klibc's run-init, which the loader stands in for (see eroot-init). */
static void find_run_init(const char *image, char *out, size_t size)
{
	static const char *const paths[] = { "/usr/bin/run-init", "/bin/run-init",
		"/usr/sbin/run-init", "/sbin/run-init", "/usr/lib/klibc/bin/run-init" };
	struct eroot_image *img;
	struct eroot_inode ino;

	out[0] = '\0';
	if (eroot_image_open_path(image, 0, &img))
		return;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && !out[0]; i++)
		if (!eroot_lookup_follow(img, paths[i], true, &ino) && S_ISREG(ino.mode))
			snprintf(out, size, "%s", paths[i]);
	eroot_image_close(img);
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	fprintf(stderr, "\r%s: image %llu/%llu MiB", prog, (unsigned long long)(done >> 20),
		(unsigned long long)(total >> 20));
}

/* INPUT's content as an EROFS image in r->tmp_image. */
static int build_image(struct initrd *r)
{
	struct eroot_build_options opts;
	struct eroot_builder *b;
	struct stat st;
	char *dir = strdup(r->output);
	int err;

	eroot_build_options_init(&opts);
	opts.compressor = r->compressor;
	opts.pcluster_size = r->pcluster;
	opts.quiet = 1;
	opts.stage_dir = dir ? dirname(dir) : ".";
	if (!r->quiet && isatty(STDERR_FILENO))
		opts.progress = show_progress;
	b = eroot_builder_new(&opts);
	if (!b || !dir) {
		free(dir);
		eroot_builder_free(b);
		err_msg("out of memory");
		return -ENOMEM;
	}
	if (stat(r->input, &st) == 0 && S_ISDIR(st.st_mode))
		err = eroot_builder_add_dir(b, r->input);
	else
		err = eroot_builder_add_initramfs(b, r->input, &r->early);
	if (!err) {
		remove_on_fatal_signals(b, r->tmp_out, r->tmp_image);
		err = eroot_builder_write(b, r->tmp_image, NULL);
		remove_on_fatal_signals(NULL, r->tmp_out, r->tmp_image);
	}
	if (opts.progress)
		fputc('\n', stderr);
	if (err)
		err_msg("%s", eroot_builder_errmsg(b));
	eroot_builder_free(b);
	free(dir);
	return err;
}

static int add_modules(struct initrd *r, struct newc *w, FILE *config)
{
	struct kmod_set ks;
	int err;

	if (!r->kver && (err = guess_kver(r)))
		return err;
	err = kmod_open(&ks, r->modules_root, r->kver);
	/* the hashing modules also serve eroot.digest= under --digest none */
	for (size_t i = 0; !err && i < sizeof(loader_modules) / sizeof(loader_modules[0]); i++)
		err = kmod_want(&ks, loader_modules[i].name,
				!strcmp(loader_modules[i].name, "sha256") ||
				(loader_modules[i].for_digest && !r->verify));
	if (!err)
		err = newc_dir(w, "eroot/modules", 0700);
	for (size_t i = 0; !err && i < ks.n; i++) {
		char name[128];
		unsigned char *data = NULL;
		size_t len = 0;

		snprintf(name, sizeof(name), "eroot/modules/%s.ko", ks.files[i].name);
		err = kmod_read(&ks.files[i], &data, &len);
		if (!err)
			err = newc_buf(w, name, S_IFREG | 0600, data, len);
		if (!err)
			fprintf(config, "module /%s%s\n", name, ks.files[i].optional ? " optional" : "");
		free(data);
	}
	if (ks.dep)
		kmod_close(&ks);
	return err;
}

static int write_initrd(struct initrd *r, int fd)
{
	struct newc w = { .fd = fd, .target = r->output };
	char hex[65] = "-", run_init[64], *config_text = NULL;
	size_t config_len = 0;
	FILE *config = open_memstream(&config_text, &config_len);
	uint64_t loader_start, loader_end = 0;
	int err = config ? 0 : -ENOMEM;

	/* 1. the early archives, as they were */
	if (!err && r->early)
		err = newc_copy_prefix(&w, r->input, r->early);
	if (!err)
		err = newc_pad(&w, 4);
	loader_start = w.pos;
	/* 2. the loader archive */
	if (!err)
		err = newc_dir(&w, "dev", 0755);
	if (!err)
		err = newc_node(&w, "dev/console", S_IFCHR | 0600, 5, 1);
	if (!err)
		err = newc_file(&w, "init", 0755, r->loader, 0);
	if (!err)
		err = newc_dir(&w, "eroot", 0700);
	if (!err)
		err = add_modules(r, &w, config);
	if (!err && r->verify)
		err = sha256_hex(r->tmp_image, hex);
	if (!err) {
		fprintf(config, "digest %s\nimage /eroot/root.erofs %s\n",
			r->verify ? "sha256" : "none", hex);
		find_run_init(r->tmp_image, run_init, sizeof(run_init));
		if (run_init[0])
			fprintf(config, "run-init %s\n", run_init);
	}
	for (int i = 0; !err && i < r->nlayers; i++) {
		if (r->verify)
			err = sha256_hex(r->layers[i], hex);
		fprintf(config, "image /eroot/layer%d.erofs %s\n", i + 1, hex);
	}
	if (config)
		fclose(config);
	if (!err)
		err = newc_buf(&w, "eroot/config", S_IFREG | 0600, config_text, config_len);
	if (!err)
		err = newc_trailer(&w);
	loader_end = w.pos;
	/* 3. the images, page-aligned, in an archive of their own */
	if (!err)
		err = newc_file(&w, "eroot/root.erofs", 0400, r->tmp_image, 1);
	for (int i = 0; !err && i < r->nlayers; i++) {
		char name[64];

		snprintf(name, sizeof(name), "eroot/layer%d.erofs", i + 1);
		err = newc_file(&w, name, 0400, r->layers[i], 1);
	}
	if (!err)
		err = newc_trailer(&w);
	if (!err && r->stats)
		printf("early archives %llu bytes\nloader archive %llu bytes\n"
		       "image archive %llu bytes\ninitrd %llu bytes\n", (unsigned long long)r->early,
		       (unsigned long long)(loader_end - loader_start),
		       (unsigned long long)(w.pos - loader_end), (unsigned long long)w.pos);
	free(config_text);
	return err;
}

/* eroot-init beside this eroot (a build tree), else the installed one. */
static char *default_loader(void)
{
	char self[4096], *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if (asprintf(&path, "%s/../eroot-init/eroot-init", dirname(self)) > 0 &&
		    access(path, X_OK) == 0)
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
			r->compressor = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'C':
			if (!parse_u64(optarg, &v) || v > UINT32_MAX)
				return bad_value(initrd_usage, "-C", optarg);
			r->pcluster = (unsigned int)v;
			break;
		case 'k':
			r->kver = optarg;
			break;
		case OPT_MODULES_DIR:
			r->modules_root = optarg;
			break;
		case OPT_LAYER:
			r->layers[r->nlayers++] = optarg;
			break;
		case OPT_DIGEST:
			if (strcmp(optarg, "sha256") && strcmp(optarg, "none"))
				return bad_value(initrd_usage, "--digest", optarg);
			r->verify = !strcmp(optarg, "sha256");
			break;
		case OPT_LOADER:
			r->loader = optarg;
			break;
		case OPT_STATS:
			r->stats = true;
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
	r->input = argv[optind + 1];
	return 0;
}

int cmd_initrd(int argc, char **argv)
{
	const char **layers = calloc((size_t)argc, sizeof(char *));
	struct initrd r = { .compressor = "lz4hc", .modules_root = "/", .verify = true,
			    .layers = layers };
	char *loader = NULL;
	int fd = -1, err, ret;

	if (!layers)
		return EXIT_FAIL;
	ret = parse_initrd_args(argc, argv, &r);
	if (ret) {
		free(layers);
		return ret < 0 ? ret + 1000 : ret;
	}
	if (!r.loader)
		r.loader = loader = default_loader();
	for (int i = 0; i < r.nlayers; i++) {
		struct eroot_image *img;

		if (eroot_image_open_path(r.layers[i], 0, &img)) {
			err_msg("--layer %s: not an EROFS image this tool can read", r.layers[i]);
			ret = EXIT_FAIL;
			goto out;
		}
		eroot_image_close(img);
	}
	if (access(r.loader, R_OK) < 0) {
		err_msg("the loader %s: %s", r.loader, strerror(errno));
		ret = EXIT_FAIL;
		goto out;
	}
	if (asprintf(&r.tmp_image, "%s.image.XXXXXX", r.output) < 0 ||
	    asprintf(&r.tmp_out, "%s.XXXXXX", r.output) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	fd = mkstemp(r.tmp_out);
	if (fd < 0) {
		err_msg("%s: %s", r.tmp_out, strerror(errno));
		ret = EXIT_FAIL;
		goto out;
	}
	close(mkstemp(r.tmp_image));	/* reserve the name; the builder replaces it */
	remove_on_fatal_signals(NULL, r.tmp_out, r.tmp_image);
	err = build_image(&r);
	if (!err)
		err = write_initrd(&r, fd);
	if (!err && (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(r.tmp_out, r.output) < 0)) {
		err_msg("%s: %s", r.output, strerror(errno));
		err = -errno;
	}
	ret = err ? EXIT_FAIL : EXIT_OK;
	if (err)
		unlink(r.tmp_out);
	else if (!r.quiet)
		printf("%s: initrd of %s for kernel %s, image %s\n", r.output, r.input,
		       r.kver ? r.kver : "?", r.compressor ? r.compressor : "uncompressed");
	unlink(r.tmp_image);
	remove_on_fatal_signals(NULL, NULL, NULL);
out:
	if (fd >= 0)
		close(fd);
	free(r.tmp_image);
	free(r.tmp_out);
	free(loader);
	free(layers);
	return ret;
}
