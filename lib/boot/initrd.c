// SPDX-License-Identifier: MIT
/*
 * Initrd assembly (include/eroot/boot.h): the input's content becomes an
 * EROFS image, then three parts are written in a row:
 *   1. the input's leading uncompressed early archives (microcode), byte
 *      for byte;
 *   2. the loader archive: /init (eroot-init), /dev/console, the modules
 *      the loader needs, /eroot/config;
 *   3. an archive holding the image (and the layer images), each with its
 *      data at a multiple of 4096 in the file.
 * Bootloaders may append more archives after it; the loader carries what
 * they bring into the final root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eroot/boot.h"
#include "config_writer.h"
#include "digest.h"
#include "errmsg.h"
#include "kconfig.h"
#include "kernel_check.h"
#include "kmod.h"
#include "loader-config.h"
#include "newc.h"
#include "own_output.h"

/* Temporary names: "@output.image.XXXXXX" (or "@dax_image.XXXXXX") and
 * "@output.XXXXXX". */
#define TEMP_NAME_MAX 4096

struct eroot_initrd {
	struct eroot_initrd_options o;	/* strings below are copies */
	char **layers;
	struct eroot_builder *b;	/* builds the image of the input */
	struct eroot_errmsg err;
	bool used;
	/* for a signal handler: fixed buffers, "" while unused */
	char tmp_out[TEMP_NAME_MAX], tmp_image[TEMP_NAME_MAX];
	uint64_t early;			/* bytes of early archives kept */
	struct eroot_build_stats image;	/* of the image built */
	uint64_t dax_bytes;		/* the DAX image's size, padded */
	char kver[128];
	unsigned int block_size;	/* the image's */
	struct kconfig kc;		/* the target kernel's configuration */
	struct kmod_set ks;		/* the loader's modules for it */
	bool kernel_ready;		/* kc and ks are those of kver */
	char digest_arg[96];		/* "eroot.digest=sha256:HEX" once written */
};

/* The modules the loader may load: what it mounts with (it hashes in
 * userspace).  What loop adds is loaded only when the kernel cannot mount
 * the image from its file (before 6.12). */
static const char *const loader_modules[] = { "erofs", "overlay", "loop" };
#define LOOP_MODULE "loop"

/* With a DAX image: the pmem block driver, then the devices' providers,
 * optional, as one suffices: virtio-pmem (through virtio-pci, a module
 * in 6.1's cloud kernel) and memmap= ranges (nd_e820).  What each provider
 * alone adds is marked for it: the loader loads it when it sees such a
 * device, or sees neither (a provider it cannot tell, such as virtio-mmio).
 * nd_pmem comes first, so what it adds (libnvdimm, nd_btt) is always
 * loaded; the providers share nothing else (a module both needed would
 * be marked for the first alone). */
static const struct { const char *name; bool optional; enum kmod_need need; } dax_modules[] = {
	{ "nd_pmem", false, KMOD_ALWAYS },
	{ "virtio_pci", true, KMOD_FOR_VIRTIO_PMEM },
	{ "virtio_pmem", true, KMOD_FOR_VIRTIO_PMEM },
	{ "nd_e820", true, KMOD_FOR_E820 },
};

/* klibc's run-init, which the loader stands in for (see eroot-init). */
static const char *const run_init_paths[] = { "/usr/bin/run-init", "/bin/run-init",
	"/usr/sbin/run-init", "/sbin/run-init", "/usr/lib/klibc/bin/run-init" };

void eroot_initrd_options_init(struct eroot_initrd_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->compressor = "lz4hc";
	opts->verify = 1;
}

static char *copy(const char *s, bool *oom)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		*oom = true;
	return c;
}

struct eroot_initrd *eroot_initrd_new(const struct eroot_initrd_options *opts)
{
	struct eroot_initrd *r = calloc(1, sizeof(*r));
	struct eroot_build_options bo;
	bool oom = !r;

	if (oom)
		return NULL;
	r->o = *opts;
	r->o.input = copy(opts->input, &oom);
	r->o.loader = copy(opts->loader, &oom);
	r->o.kver = copy(opts->kver, &oom);
	r->o.modules_root = copy(opts->modules_root ? opts->modules_root : "/", &oom);
	r->o.kernel_config = copy(opts->kernel_config, &oom);
	r->o.compressor = copy(opts->compressor, &oom);
	r->o.hot_list = copy(opts->hot_list, &oom);
	r->o.stage_dir = copy(opts->stage_dir, &oom);
	r->o.dax_image = copy(opts->dax_image, &oom);
	r->o.fingerprint = copy(opts->fingerprint, &oom);
	r->o.share_domain = copy(opts->share_domain, &oom);
	r->layers = calloc(opts->nlayers + 1, sizeof(char *));
	oom |= !r->layers;
	for (unsigned int i = 0; r->layers && i < opts->nlayers; i++)
		r->layers[i] = copy(opts->layers[i], &oom);
	r->o.layers = (const char *const *)r->layers;

	eroot_build_options_init(&bo);
	bo.compressor = r->o.compressor;
	bo.pcluster_size = r->o.pcluster_size;
	bo.hot_list = r->o.hot_list;
	bo.dax = r->o.dax_image != NULL;
	bo.fingerprint = r->o.fingerprint;
	bo.quiet = 1;
	bo.stage_dir = r->o.stage_dir;
	bo.progress = r->o.progress;
	bo.progress_ctx = r->o.progress_ctx;
	r->block_size = bo.block_size;
	r->b = oom ? NULL : eroot_builder_new(&bo);
	if (!r->b) {
		eroot_initrd_free(r);
		return NULL;
	}
	return r;
}

void eroot_initrd_free(struct eroot_initrd *r)
{
	if (!r)
		return;
	eroot_builder_free(r->b);
	kmod_close(&r->ks);
	kconfig_free(&r->kc);
	for (unsigned int i = 0; r->layers && i < r->o.nlayers; i++)
		free(r->layers[i]);
	free(r->layers);
	free((char *)r->o.input);
	free((char *)r->o.loader);
	free((char *)r->o.kver);
	free((char *)r->o.modules_root);
	free((char *)r->o.kernel_config);
	free((char *)r->o.compressor);
	free((char *)r->o.hot_list);
	free((char *)r->o.stage_dir);
	free((char *)r->o.dax_image);
	free((char *)r->o.fingerprint);
	free((char *)r->o.share_domain);
	free(r);
}

const char *eroot_initrd_errmsg(const struct eroot_initrd *r)
{
	return r->err.text;
}

const char *eroot_initrd_temp_path(const struct eroot_initrd *r, unsigned int which)
{
	return which == 0 ? r->tmp_out : which == 1 ? r->tmp_image : NULL;
}

struct eroot_builder *eroot_initrd_image_builder(struct eroot_initrd *r)
{
	return r->b;
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

/* The kernel version the input carries modules for: its lib/modules/KVER. */
static int guess_kver(struct eroot_initrd *r)
{
	static const char *const dirs[] = { "/usr/lib/modules", "/lib/modules" };
	struct eroot_image *img;
	struct eroot_inode ino;
	int err = eroot_image_open_path(r->tmp_image, 0, &img);

	for (size_t i = 0; !err && i < 2 && !r->kver[0]; i++)
		if (!eroot_lookup_follow(img, dirs[i], true, &ino) && S_ISDIR(ino.mode))
			eroot_readdir(img, &ino, first_name, r->kver);
	eroot_image_close(img);
	if (!r->kver[0])
		return eroot_fail(&r->err, -ENOENT, "%s carries no lib/modules/KVER: name the "
				  "kernel with -k", r->o.input);
	return 0;
}

/* klibc's run-init in the image, "" if it has none. */
static void find_run_init(const char *image, char *out, size_t size)
{
	struct eroot_image *img;
	struct eroot_inode ino;

	out[0] = '\0';
	if (eroot_image_open_path(image, 0, &img)) {
		eroot_image_close(img);
		return;
	}
	for (size_t i = 0; i < sizeof(run_init_paths) / sizeof(run_init_paths[0]) && !out[0]; i++)
		if (!eroot_lookup_follow(img, run_init_paths[i], true, &ino) && S_ISREG(ino.mode))
			snprintf(out, size, "%s", run_init_paths[i]);
	eroot_image_close(img);
}

/* The input's content as an EROFS image in r->tmp_image. */
static int build_image(struct eroot_initrd *r)
{
	struct stat st;
	int err;

	if (stat(r->o.input, &st) == 0 && S_ISDIR(st.st_mode))
		err = eroot_builder_add_dir(r->b, r->o.input);
	else
		err = eroot_builder_add_initramfs(r->b, r->o.input, &r->early);
	if (!err)
		err = eroot_builder_write(r->b, r->tmp_image, &r->image);
	if (err)
		eroot_fail(&r->err, err, "%s", eroot_builder_errmsg(r->b));
	return err;
}

/* The first name in @dir (as an image lists it: by strcmp), "" if none. */
static void first_entry(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	out[0] = '\0';
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && strlen(de->d_name) < size &&
		    (!out[0] || strcmp(de->d_name, out) < 0))
			snprintf(out, size, "%s", de->d_name);
	if (d)
		closedir(d);
}

/* The kernel version known before the image is built: -k, or a directory
 * input's own usr/lib/modules/KVER or lib/modules/KVER, as guess_kver()
 * would find it in the image.  Only through real directories: a symlink
 * may point out of the input (the image resolves it inside). */
static bool early_kver(struct eroot_initrd *r)
{
	static const char *const parts[][3] = { { "/usr", "/lib", "/modules" },
						{ "/lib", "/modules", NULL } };
	struct stat st;

	if (r->o.kver) {
		snprintf(r->kver, sizeof(r->kver), "%s", r->o.kver);
		return true;
	}
	if (stat(r->o.input, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	for (size_t i = 0; i < 2 && !r->kver[0]; i++) {
		char path[4096];
		size_t len = strlen(r->o.input);
		bool found = len < sizeof(path) - 32;

		if (found)
			memcpy(path, r->o.input, len + 1);
		for (size_t j = 0; j < 3 && parts[i][j] && found; j++) {
			len += (size_t)snprintf(path + len, sizeof(path) - len, "%s", parts[i][j]);
			if (lstat(path, &st) < 0)
				found = false;
			else if (!S_ISDIR(st.st_mode))
				return false;	/* a symlink: after the build */
		}
		if (found)
			first_entry(path, r->kver, sizeof(r->kver));
	}
	return r->kver[0] != '\0';
}

static void warn(struct eroot_initrd *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(struct eroot_initrd *r, const char *fmt, ...)
{
	char text[EROOT_ERRMSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r->o.warn)
		r->o.warn(r->o.warn_ctx, text);
}

/* An image that exists, by its superblock, against the kernel. */
static int check_image_file(struct eroot_initrd *r, const char *path, const char *label)
{
	struct eroot_image *img;
	int err = eroot_image_open_path(path, 0, &img);

	if (err)
		eroot_fail(&r->err, err, "%s: not an EROFS image this tool can read", label);
	else
		err = kernel_check_super(&r->kc, eroot_image_super(img), label, &r->err);
	eroot_image_close(img);
	return err;
}

/* @name and what it alone adds to the set (what is there already is
 * needed earlier, or always), marked as needed only @need. */
static int want_for(struct eroot_initrd *r, const char *name, bool optional,
		    enum kmod_need need)
{
	size_t before = r->ks.n;
	int err = kmod_want(&r->ks, name, optional);

	for (size_t j = before; !err && j < r->ks.n; j++)
		r->ks.files[j].need = need;
	return err;
}

/* Check the kernel of r->kver (docs/boot.md, kernel_check.c) against the
 * options and the layers, and resolve the loader's modules for it, within
 * the loader's limits. */
static int prepare_kernel(struct eroot_initrd *r)
{
	const struct kernel_image img = { r->o.compressor, r->block_size, r->o.pcluster_size,
					   r->o.dax_image != NULL, r->o.nlayers };
	int err = kconfig_read(&r->kc, r->o.modules_root, r->kver, r->o.kernel_config, &r->err);

	if (!err && !r->kc.path[0])
		warn(r, "no configuration of kernel %s under %s (lib/modules/%s/config, "
		     "boot/config-%s): checking its version alone", r->kver, r->o.modules_root,
		     r->kver, r->kver);
	if (!err)
		err = kernel_check(&r->kc, &img, &r->err);
	for (unsigned int i = 0; !err && i < r->o.nlayers; i++) {
		char label[4200];

		snprintf(label, sizeof(label), "--layer %s", r->layers[i]);
		err = check_image_file(r, r->layers[i], label);
	}
	if (!err)
		err = kmod_open(&r->ks, r->o.modules_root, r->kver, &r->err);
	if (err)
		return err;
	r->ks.config = &r->kc;
	for (size_t i = 0; !err && i < sizeof(loader_modules) / sizeof(loader_modules[0]); i++) {
		bool for_loop = !strcmp(loader_modules[i], LOOP_MODULE);

		if (for_loop && r->o.dax_image && !r->o.nlayers)
			continue;	/* no image file to mount */
		err = want_for(r, loader_modules[i], false, for_loop ? KMOD_FOR_LOOP : KMOD_ALWAYS);
	}
	for (size_t i = 0; !err && r->o.dax_image && i < sizeof(dax_modules) /
	     sizeof(dax_modules[0]); i++)
		err = want_for(r, dax_modules[i].name, dax_modules[i].optional, dax_modules[i].need);
	if (!err && r->ks.n > LOADER_MAX_MODULES)
		err = eroot_fail(&r->err, -E2BIG, "kernel %s: the loader needs %zu modules, it "
				 "loads at most %d", r->kver, r->ks.n, LOADER_MAX_MODULES);
	r->kernel_ready = !err;
	return err;
}

/* The configuration's word for each kmod_need. */
static const unsigned int config_need[] = {
	[KMOD_ALWAYS] = 0,
	[KMOD_FOR_LOOP] = CONFIG_MODULE_FOR_LOOP,
	[KMOD_FOR_VIRTIO_PMEM] = CONFIG_MODULE_FOR_VIRTIO_PMEM,
	[KMOD_FOR_E820] = CONFIG_MODULE_FOR_E820,
};

/* The loader's modules into the archive (stored decompressed) and the
 * configuration, dependencies first. */
static int add_modules(struct eroot_initrd *r, struct newc *w, struct config_writer *cfg)
{
	int err = newc_dir(w, &LOADER_MODULES_DIR[1], 0700);

	for (size_t i = 0; !err && i < r->ks.n; i++) {
		char name[128], hex[65];
		unsigned char *data = NULL;
		size_t len = 0;

		snprintf(name, sizeof(name), LOADER_MODULES_DIR "/%s.ko", r->ks.files[i].name);
		err = kmod_read(&r->ks, &r->ks.files[i], &data, &len);
		if (!err)
			err = newc_buf(w, name + 1, S_IFREG | 0600, data, len);
		if (!err)
			err = boot_sha256_buf(&r->err, data, len, hex);
		if (!err)
			err = config_writer_module(cfg, name, hex,
						   (r->ks.files[i].optional ? CONFIG_MODULE_OPTIONAL : 0) |
						   config_need[r->ks.files[i].need]);
		free(data);
	}
	return err;
}

/* The images' entries in the configuration, with their digests (always:
 * eroot.digest= covers them whatever the policy). */
static int add_image_config(struct eroot_initrd *r, struct config_writer *cfg)
{
	char hex[65], run_init[64];
	int err = boot_sha256_file(&r->err, r->tmp_image, hex);

	if (!err)
		err = config_writer_digest(cfg, r->o.verify);
	if (!err && r->o.dax_image)
		err = config_writer_dax_image(cfg, hex, r->dax_bytes);
	else if (!err)
		err = config_writer_image(cfg, LOADER_ROOT_IMAGE, hex);
	find_run_init(r->tmp_image, run_init, sizeof(run_init));
	if (!err && run_init[0])
		err = config_writer_run_init(cfg, run_init);
	if (!err && r->o.share_domain)
		err = config_writer_share_domain(cfg, r->o.share_domain);
	for (unsigned int i = 0; !err && i < r->o.nlayers; i++) {
		char path[64];

		snprintf(path, sizeof(path), LOADER_LAYER_IMAGE, i + 1);
		err = boot_sha256_file(&r->err, r->layers[i], hex);
		if (!err)
			err = config_writer_image(cfg, path, hex);
	}
	return err;
}

/* Part 2: the archive the kernel unpacks into rootfs for the loader. */
static int write_loader_archive(struct eroot_initrd *r, struct newc *w)
{
	struct config_writer cfg;
	char hex[65];
	int err = config_writer_init(&cfg, &r->err);

	if (!err)
		err = newc_dir(w, "dev", 0755);
	if (!err)
		err = newc_node(w, "dev/console", S_IFCHR | 0600, 5, 1);
	if (!err)
		err = newc_file(w, "init", 0755, r->o.loader, 0);
	if (!err)
		err = newc_dir(w, &LOADER_DIR[1], 0700);
	if (!err)
		err = add_modules(r, w, &cfg);
	if (!err)
		err = add_image_config(r, &cfg);
	if (!err)
		err = newc_buf(w, &LOADER_CONFIG_PATH[1], S_IFREG | 0600, cfg.text, cfg.len);
	/* the one value that covers the configuration, so all it names */
	if (!err)
		err = boot_sha256_buf(&r->err, cfg.text, cfg.len, hex);
	if (!err)
		snprintf(r->digest_arg, sizeof(r->digest_arg), "eroot.digest=sha256:%s", hex);
	if (!err)
		err = newc_trailer(w);
	config_writer_free(&cfg);
	return err;
}

/* Part 3: the images, page-aligned, in an archive of their own (with a
 * DAX image, the layers alone; none without layers). */
static int write_image_archive(struct eroot_initrd *r, struct newc *w)
{
	int err = 0;

	if (r->o.dax_image && !r->o.nlayers)
		return 0;
	if (!r->o.dax_image)
		err = newc_file(w, &LOADER_ROOT_IMAGE[1], 0400, r->tmp_image, 1);

	for (unsigned int i = 0; !err && i < r->o.nlayers; i++) {
		char name[64];

		snprintf(name, sizeof(name), LOADER_LAYER_IMAGE, i + 1);
		err = newc_file(w, name + 1, 0400, r->layers[i], 1);
	}
	return err ? err : newc_trailer(w);
}

static int write_parts(struct eroot_initrd *r, const char *output, int fd,
		       struct eroot_initrd_stats *st)
{
	struct newc w = { .fd = fd, .target = output, .err = &r->err };
	uint64_t loader_start, loader_end;
	int err = 0;

	/* 1. the early archives, as they were */
	if (r->early)
		err = newc_copy_prefix(&w, r->o.input, r->early);
	if (!err)
		err = newc_pad(&w, 4);
	loader_start = w.pos;
	if (!err)
		err = write_loader_archive(r, &w);
	loader_end = w.pos;
	if (!err)
		err = write_image_archive(r, &w);
	st->early_bytes = r->early;
	st->loader_bytes = loader_end - loader_start;
	st->image_bytes = w.pos - loader_end;
	st->total_bytes = w.pos;
	st->dax_bytes = r->dax_bytes;
	st->hot_files = r->image.hot_files;
	st->hot_missing = r->image.hot_missing;
	snprintf(st->kver, sizeof(st->kver), "%s", r->kver);
	return err;
}

/* The DAX image, built (the builder pads it to EROOT_DAX_ALIGN, as pmem
 * devices map memory in 2 MiB sections): mode 0644, on disk before the
 * initrd names it. */
static int finish_dax_image(struct eroot_initrd *r)
{
	int fd = open(r->tmp_image, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		return eroot_fail(&r->err, err, "%s: %s", r->tmp_image, strerror(-err));
	r->dax_bytes = r->image.image_bytes;
	return 0;
}

/* What must hold before anything is built. */
/* The kernel excludes FSDAX with inode_share; without fingerprints the
 * kernel turns sharing off for the image (nothing of it to share). */
static int check_share_domain(struct eroot_initrd *r)
{
	if (!r->o.share_domain)
		return 0;
	if (!config_share_domain_ok(r->o.share_domain))
		return eroot_fail(&r->err, -EINVAL, CONFIG_SHARE_DOMAIN_RULE, r->o.share_domain,
				  LOADER_MAX_SHARE_DOMAIN);
	if (r->o.dax_image)
		return eroot_fail(&r->err, -EINVAL, "a share domain with a DAX image: the kernel "
				  "shares no page cache of DAX mounts (inode_share excludes dax)");
	if (!r->o.fingerprint)
		warn(r, "a share domain without fingerprints: the content image has none, so "
		     "nothing of it is shared (the layers' own fingerprints still count)");
	return 0;
}

static int check_inputs(struct eroot_initrd *r, const char *output)
{
	if (!r->o.input || !r->o.loader)
		return eroot_fail(&r->err, -EINVAL, "no %s given", r->o.input ? "loader" : "input");
	if (r->o.nlayers > LOADER_MAX_IMAGES - 1)
		return eroot_fail(&r->err, -E2BIG, "%u layers: the loader takes at most %d",
				  r->o.nlayers, LOADER_MAX_IMAGES - 1);
	for (unsigned int i = 0; i < r->o.nlayers; i++) {
		struct eroot_image *img;
		int err = eroot_image_open_path(r->layers[i], 0, &img);

		eroot_image_close(img);
		if (err)
			return eroot_fail(&r->err, -EINVAL, "--layer %s: not an EROFS image this "
					  "tool can read", r->layers[i]);
	}
	if (access(r->o.loader, R_OK) < 0)
		return eroot_fail(&r->err, -errno, "the loader %s: %s", r->o.loader,
				  strerror(errno));
	if (strlen(output) + sizeof(".image.XXXXXX") > TEMP_NAME_MAX)
		return eroot_fail(&r->err, -ENAMETOOLONG, "%s: name too long", output);
	if (r->o.dax_image && strlen(r->o.dax_image) + sizeof(".XXXXXX") > TEMP_NAME_MAX)
		return eroot_fail(&r->err, -ENAMETOOLONG, "%s: name too long", r->o.dax_image);
	if (r->o.dax_image && !strcmp(r->o.dax_image, output))
		return eroot_fail(&r->err, -EINVAL, "%s: the initrd and the DAX image must be "
				  "two files", output);
	return check_share_domain(r);
}

int eroot_initrd_write(struct eroot_initrd *r, const char *output,
		       struct eroot_initrd_stats *stats)
{
	struct eroot_initrd_stats unused;
	int fd, reserved, err;

	if (r->used)
		return eroot_fail(&r->err, -EINVAL, "eroot_initrd_write: called twice");
	r->used = true;
	err = check_inputs(r, output);
	if (!err && early_kver(r))
		err = prepare_kernel(r);
	if (err)
		return err;
	/* a DAX image is renamed into place: a temporary file beside it */
	if (r->o.dax_image)
		snprintf(r->tmp_image, sizeof(r->tmp_image), "%s.XXXXXX", r->o.dax_image);
	else
		snprintf(r->tmp_image, sizeof(r->tmp_image), "%s.image.XXXXXX", output);
	snprintf(r->tmp_out, sizeof(r->tmp_out), "%s.XXXXXX", output);
	fd = mkstemp(r->tmp_out);
	if (fd < 0) {
		err = eroot_fail(&r->err, -errno, "%s: %s", r->tmp_out, strerror(errno));
		r->tmp_out[0] = r->tmp_image[0] = '\0';
		return err;
	}
	/* reserve the image's name; the builder replaces the file */
	reserved = mkstemp(r->tmp_image);
	if (reserved < 0)
		err = eroot_fail(&r->err, -errno, "%s: %s", r->tmp_image, strerror(errno));
	else
		close(reserved);
	if (!err)
		err = build_image(r);
	if (!err && initrd_image_is_own_output(r->tmp_image))
		err = eroot_fail(&r->err, -EINVAL, "%s: already an initrd made by eroot initrd "
				 "(it holds /init and " LOADER_CONFIG_PATH "): give the initramfs "
				 "it was made from", r->o.input);
	if (!err && !r->kernel_ready)
		err = guess_kver(r);
	if (!err && !r->kernel_ready)
		err = prepare_kernel(r);
	/* what the options did not say: features and algorithms it records */
	if (!err)
		err = check_image_file(r, r->tmp_image, "the image");
	if (!err && r->o.dax_image)
		err = finish_dax_image(r);
	if (!err)
		err = write_parts(r, output, fd, stats ? stats : &unused);
	if (!err && (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(r->tmp_out, output) < 0))
		err = eroot_fail(&r->err, -errno, "%s: %s", output, strerror(errno));
	/* two renames, each atomic; should the second fail, the new initrd
	 * names an image not in place, which its loader refuses at boot */
	if (!err && r->o.dax_image && rename(r->tmp_image, r->o.dax_image) < 0)
		err = eroot_fail(&r->err, -errno, "%s: %s", r->o.dax_image, strerror(errno));
	close(fd);
	if (err) {
		unlink(r->tmp_out);
		r->digest_arg[0] = '\0';
	}
	r->tmp_out[0] = '\0';
	if (reserved >= 0)
		unlink(r->tmp_image);
	r->tmp_image[0] = '\0';
	return err;
}

const char *eroot_initrd_digest_arg(const struct eroot_initrd *r)
{
	return r->digest_arg;
}

int eroot_initrd_save_digest_arg(struct eroot_initrd *r, const char *path)
{
	char tmp[TEMP_NAME_MAX], line[sizeof(r->digest_arg) + 1];
	int len = snprintf(line, sizeof(line), "%s\n", r->digest_arg);
	int fd, err = 0;

	if (!r->digest_arg[0])
		return eroot_fail(&r->err, -EINVAL, "no initrd written: no digest to save");
	if (strlen(path) + sizeof(".XXXXXX") > sizeof(tmp))
		return eroot_fail(&r->err, -ENAMETOOLONG, "%s: name too long", path);
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return eroot_fail(&r->err, -errno, "%s: %s", path, strerror(errno));
	errno = EIO;			/* a short write sets none */
	if (write(fd, line, (size_t)len) != len || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		err = eroot_fail(&r->err, -errno, "%s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && !err)
		err = eroot_fail(&r->err, -errno, "%s: %s", tmp, strerror(errno));
	if (!err && rename(tmp, path) < 0)
		err = eroot_fail(&r->err, -errno, "%s: %s", path, strerror(errno));
	if (err)
		unlink(tmp);
	return err;
}
