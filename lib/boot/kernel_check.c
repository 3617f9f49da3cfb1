// SPDX-License-Identifier: MIT
/*
 * The kernel facts behind eroot initrd's refusals (kernel_check.h).  The
 * versions are those of Linux's fs/erofs (torvalds/linux):
 *   - big physical clusters (more than one block): 5.13, "erofs: support
 *     decompress big pcluster for lz4 backend";
 *   - LZMA (decompressor_lzma.c, EROFS_FS_ZIP_LZMA): 5.16; DEFLATE
 *     (decompressor_deflate.c, EROFS_FS_ZIP_DEFLATE): 6.6; Zstandard
 *     (decompressor_zstd.c, EROFS_FS_ZIP_ZSTD): 6.10.  An image records
 *     every algorithm it uses, and the kernel refuses to mount one naming
 *     an algorithm it was built without (z_erofs_parse_cfgs());
 *   - file-backed mounts (fileio.c, EROFS_FS_BACKED_BY_FILE): 6.12;
 *     before, or without it, the loader needs a loop device (BLK_DEV_LOOP);
 *   - block sizes: until 6.3 super.c refused any block size but PAGE_SIZE;
 *     6.4 ("erofs: set block size to the on-disk block size") reads smaller
 *     blocks in uncompressed images, 6.8 ("erofs: enable sub-page compressed
 *     block support") in compressed ones; a block larger than a page never.
 * eroot initrd's images have 4096-byte blocks, so only kernels with larger
 * pages (arm64 16K/64K, ppc64 64K) are affected.  Its physical clusters
 * stop at 1 MiB, the kernel's Z_EROFS_PCLUSTER_MAX_SIZE (the builder
 * refuses more).  The loader stacks overlayfs over the image: OVERLAY_FS.
 * An image that exists (a --layer, the content image once built) is also
 * checked by its superblock: its block size, the algorithms it records and
 * its incompatible features (erofs_fs.h's EROFS_FEATURE_INCOMPAT_*: big
 * pclusters 5.13, chunked files 5.15, extra devices 5.16, ztailpacking
 * 5.17, fragments and dedupe 6.1, xattr prefixes 6.4, 48-bit 6.15,
 * metabox 6.17).
 * A DAX image (--dax): EROFS reads uncompressed files through FSDAX from
 * 5.15 ("erofs: dax support for non-tailpacking regular file"), with
 * CONFIG_FS_DAX; the device is a pmem block device (BLK_DEV_PMEM, nd_pmem)
 * of a virtio-pmem device (VIRTIO_PMEM) or of a memmap=SIZE!ADDR range
 * (X86_PMEM_LEGACY, nd_e820).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "kernel_check.h"

static const struct algorithm {
	const char *name;
	unsigned int major, minor;	/* first kernel with it */
	const char *option;		/* beyond EROFS_FS_ZIP; NULL: none */
} algorithms[] = {
	{ "lz4", 0, 0, NULL },		/* every EROFS kernel */
	{ "lz4hc", 0, 0, NULL },
	{ "lzma", 5, 16, "EROFS_FS_ZIP_LZMA" },
	{ "deflate", 6, 6, "EROFS_FS_ZIP_DEFLATE" },
	{ "zstd", 6, 10, "EROFS_FS_ZIP_ZSTD" },
};

/* The superblock's incompatible features, as the kernel names them in
 * erofs_fs.h, and the first kernel that reads each. */
static const struct { uint32_t bit; unsigned int major, minor; const char *what; } features[] = {
	{ EROFS_FEATURE_INCOMPAT_COMPR_CFGS, 5, 13,	/* = BIG_PCLUSTER */
	  "big physical clusters and per-algorithm settings" },
	{ EROFS_FEATURE_INCOMPAT_CHUNKED_FILE, 5, 15, "chunk-based files" },
	{ EROFS_FEATURE_INCOMPAT_DEVICE_TABLE, 5, 16, "extra devices" },
	{ EROFS_FEATURE_INCOMPAT_ZTAILPACKING, 5, 17, "inline compressed tails (ztailpacking)" },
	{ EROFS_FEATURE_INCOMPAT_FRAGMENTS, 6, 1, "fragments and deduplicated extents" },
	{ EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES, 6, 4, "long xattr name prefixes" },
	{ EROFS_FEATURE_INCOMPAT_48BIT, 6, 15, "48-bit block addresses" },
	{ EROFS_FEATURE_INCOMPAT_METABOX, 6, 17, "metabox (compressed metadata)" },
};

/* The loader's modules and the options that build them. */
static const struct { const char *module, *option; } module_options[] = {
	{ "erofs", "EROFS_FS" }, { "overlay", "OVERLAY_FS" }, { "loop", "BLK_DEV_LOOP" },
	{ "nd_pmem", "BLK_DEV_PMEM" }, { "virtio_pmem", "VIRTIO_PMEM" },
	{ "nd_e820", "X86_PMEM_LEGACY" }, { "virtio_pci", "VIRTIO_PCI" },
};

static bool have_config(const struct kconfig *kc)
{
	return kc->path[0] != '\0';
}

/* The option is on, or nothing says it is not. */
static bool maybe_enabled(const struct kconfig *kc, const char *option)
{
	return !have_config(kc) || kconfig_enabled(kc, option);
}

/* "WHAT: kernel KVER cannot VERB (WHY)" */
static int refuse(const struct kconfig *kc, struct eroot_errmsg *err, const char *what,
		  const char *verb, const char *why)
{
	return eroot_fail(err, -ENOTSUP, "%s: kernel %s cannot %s (%s)", what, kc->kver, verb,
			  why);
}

/* @a in an image that @what names ("-z zstd", "--layer L") */
static int check_algorithm(const struct kconfig *kc, const struct algorithm *a,
			   const char *what, struct eroot_errmsg *err)
{
	char why[160];

	if (!maybe_enabled(kc, "EROFS_FS_ZIP"))
		return refuse(kc, err, what, "read it",
			      "EROFS compression needs CONFIG_EROFS_FS_ZIP");
	if (kconfig_at_least(kc, a->major, a->minor) && (!a->option || maybe_enabled(kc, a->option)))
		return 0;
	if (a->option)
		snprintf(why, sizeof(why), "EROFS %s needs Linux %u.%u and CONFIG_%s", a->name,
			 a->major, a->minor, a->option);
	else
		snprintf(why, sizeof(why), "EROFS %s needs Linux %u.%u", a->name, a->major,
			 a->minor);
	return refuse(kc, err, what, "read it", why);
}

/* The kernel's page size in bytes; 4096 when the configuration is silent
 * (x86 has no option for it). */
static unsigned long page_size(const struct kconfig *kc)
{
	static const struct { const char *option; unsigned long size; } named[] = {
		{ "ARM64_16K_PAGES", 16384 }, { "ARM64_64K_PAGES", 65536 },
		{ "PPC_16K_PAGES", 16384 }, { "PPC_64K_PAGES", 65536 },
		{ "PPC_256K_PAGES", 262144 }, { "PAGE_SIZE_16KB", 16384 },
		{ "PAGE_SIZE_64KB", 65536 }, { "PAGE_SIZE_256KB", 262144 },
	};
	const char *shift = kconfig_value(kc, "PAGE_SHIFT");
	char *end;

	if (shift) {
		unsigned long v = strtoul(shift, &end, 10);

		if (!*end && v >= 12 && v <= 20)
			return 1ul << v;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (kconfig_enabled(kc, named[i].option))
			return named[i].size;
	return 4096;
}

/* -z ALGO[,LEVEL][:ALGO...]: each algorithm */
static int check_compressor(const struct kconfig *kc, const char *spec,
			    struct eroot_errmsg *err)
{
	for (const char *p = spec; p && *p; ) {
		size_t len = strcspn(p, ":"), name_len = strcspn(p, ",:");

		for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
			const struct algorithm *a = &algorithms[i];
			char what[48];
			int ret;

			if (strlen(a->name) != name_len || strncmp(a->name, p, name_len))
				continue;
			snprintf(what, sizeof(what), "-z %s", a->name);
			if ((ret = check_algorithm(kc, a, what, err)))
				return ret;
		}
		p += len + (p[len] == ':');	/* the builder names what it does not know */
	}
	return 0;
}

/* Blocks of @block_size bytes in an image @label names ("" for the one
 * being built). */
static int check_blocks(const struct kconfig *kc, unsigned int block_size, bool compressed,
			const char *label, struct eroot_errmsg *err)
{
	unsigned long page = page_size(kc);
	char what[320], why[160];
	bool sub_page_ok = compressed ? kconfig_at_least(kc, 6, 8) : kconfig_at_least(kc, 6, 4);

	snprintf(what, sizeof(what), "%s%s%u-byte blocks", label, label[0] ? ": " : "",
		 block_size);
	if (block_size > page) {
		snprintf(why, sizeof(why), "EROFS blocks must not exceed its %lu-byte pages", page);
		return refuse(kc, err, what, "read them", why);
	}
	if (block_size < page && !sub_page_ok) {
		snprintf(why, sizeof(why), "its pages are %lu bytes; EROFS reads smaller blocks "
			 "from Linux 6.4, in compressed images from 6.8", page);
		return refuse(kc, err, what, "read them", why);
	}
	return 0;
}

/* --dax: a pmem device, a provider of one, FSDAX in EROFS */
static int check_dax(const struct kconfig *kc, struct eroot_errmsg *err)
{
	if (!kconfig_at_least(kc, 5, 15))
		return refuse(kc, err, "--dax", "mount it with DAX", "EROFS DAX needs Linux 5.15");
	if (!maybe_enabled(kc, "FS_DAX"))
		return refuse(kc, err, "--dax", "mount it with DAX", "CONFIG_FS_DAX is not set");
	if (!maybe_enabled(kc, "BLK_DEV_PMEM"))
		return refuse(kc, err, "--dax", "attach it", "no pmem block device: "
			      "CONFIG_BLK_DEV_PMEM is not set");
	if (!maybe_enabled(kc, "VIRTIO_PMEM") && !maybe_enabled(kc, "X86_PMEM_LEGACY"))
		return refuse(kc, err, "--dax", "attach it", "neither virtio-pmem "
			      "(CONFIG_VIRTIO_PMEM) nor memmap= ranges (CONFIG_X86_PMEM_LEGACY)");
	return 0;
}

int kernel_check(const struct kconfig *kc, const struct kernel_image *img,
		 struct eroot_errmsg *err)
{
	bool file_backed = kconfig_at_least(kc, 6, 12) &&
			   maybe_enabled(kc, "EROFS_FS_BACKED_BY_FILE");
	int ret;

	if (!maybe_enabled(kc, "EROFS_FS"))
		return refuse(kc, err, "the image", "mount it", "CONFIG_EROFS_FS is not set");
	if (!maybe_enabled(kc, "OVERLAY_FS"))
		return refuse(kc, err, "the loader", "run it", "it stacks overlayfs over the "
			      "image: CONFIG_OVERLAY_FS is not set");
	if (img->dax && (ret = check_dax(kc, err)))
		return ret;
	/* images mounted from their files: the content's unless on DAX, layers' */
	if ((!img->dax || img->layers) && !file_backed && !maybe_enabled(kc, "BLK_DEV_LOOP"))
		return refuse(kc, err, img->dax ? "a --layer image" : "the image", "mount it", "neither file-backed, which needs "
			      "Linux 6.12 and CONFIG_EROFS_FS_BACKED_BY_FILE, nor through a loop "
			      "device: CONFIG_BLK_DEV_LOOP is not set");
	if ((ret = check_compressor(kc, img->compressor, err)))
		return ret;
	if (img->compressor && img->pcluster_size > img->block_size &&
	    !kconfig_at_least(kc, 5, 13)) {
		char what[48];

		snprintf(what, sizeof(what), "-C %u", img->pcluster_size);
		return refuse(kc, err, what, "read it",
			      "physical clusters over one block need Linux 5.13");
	}
	return check_blocks(kc, img->block_size, img->compressor != NULL, "", err);
}

int kernel_check_super(const struct kconfig *kc, const struct eroot_super_info *si,
		       const char *label, struct eroot_errmsg *err)
{
	char why[160];
	int ret;

	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		if (!(si->feature_incompat & features[i].bit) ||
		    kconfig_at_least(kc, features[i].major, features[i].minor))
			continue;
		snprintf(why, sizeof(why), "EROFS %s need Linux %u.%u", features[i].what,
			 features[i].major, features[i].minor);
		return refuse(kc, err, label, "read it", why);
	}
	/* compr_algs bit N is the on-disk algorithm N: lz4, lzma, deflate, zstd */
	for (unsigned int bit = 0; bit < 4; bit++) {
		static const unsigned int index[] = { 0, 2, 3, 4 };

		if ((si->compr_algs & (1u << bit)) &&
		    (ret = check_algorithm(kc, &algorithms[index[bit]], label, err)))
			return ret;
	}
	return check_blocks(kc, si->block_size, si->compr_algs != 0, label, err);
}

enum kernel_module_state kernel_module_state(const struct kconfig *kc, const char *module)
{
	for (size_t i = 0; have_config(kc) && i < sizeof(module_options) /
	     sizeof(module_options[0]); i++) {
		const char *v;

		if (strcmp(module, module_options[i].module))
			continue;
		v = kconfig_value(kc, module_options[i].option);
		if (v && !strcmp(v, "y"))
			return KERNEL_MODULE_BUILTIN;
		if (v && !strcmp(v, "m"))
			return KERNEL_MODULE_LOADABLE;
		return KERNEL_MODULE_ABSENT;
	}
	return KERNEL_MODULE_UNKNOWN;
}
