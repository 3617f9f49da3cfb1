/* SPDX-License-Identifier: MIT */
/*
 * What a target kernel can boot: eroot initrd's image options and the
 * loader's needs (EROFS, overlayfs, a file-backed or loop mount) checked
 * against the kernel's version and configuration (kconfig.h), so that a
 * kernel that could not mount the image is refused when the initrd is
 * made, not at boot.
 */
#ifndef EROOT_BOOT_KERNEL_CHECK_H
#define EROOT_BOOT_KERNEL_CHECK_H

#include <stdbool.h>

#include "eroot/eroot.h"
#include "errmsg.h"
#include "kconfig.h"

/* The image eroot initrd is about to build. */
struct kernel_image {
	const char *compressor;		/* "lz4hc", "lz4hc:zstd,12"; NULL: none */
	unsigned int block_size;	/* bytes */
	unsigned int pcluster_size;	/* bytes; 0: one block */
	bool dax;			/* on a pmem device, mounted dax=always */
	unsigned int layers;		/* --layer images, mounted from files */
};

/*
 * 0 when kernel @kc can mount @img the way the loader does, else -ENOTSUP
 * and one line in @err naming the option and the kernel.  With no
 * configuration file (kc->path "") only the version is checked, and with
 * no version either, nothing.
 */
int kernel_check(const struct kconfig *kc, const struct kernel_image *img,
		 struct eroot_errmsg *err);

/*
 * The same for an image that exists, from its superblock (eroot_image_super):
 * block size, algorithms, incompatible features; @label names it in the
 * message ("--layer PATH").  0, or -ENOTSUP and one line in @err.
 */
int kernel_check_super(const struct kconfig *kc, const struct eroot_super_info *si,
		       const char *label, struct eroot_errmsg *err);

/* What the configuration says of a module the loader loads. */
enum kernel_module_state {
	KERNEL_MODULE_UNKNOWN,		/* no configuration, or not a loader module */
	KERNEL_MODULE_BUILTIN,		/* =y: nothing to load */
	KERNEL_MODULE_LOADABLE,		/* =m */
	KERNEL_MODULE_ABSENT,		/* not set: kernel_check() decided it is not needed */
};
enum kernel_module_state kernel_module_state(const struct kconfig *kc, const char *module);

#endif
