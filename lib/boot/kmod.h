/* SPDX-License-Identifier: MIT */
/*
 * Kernel modules for the loader, resolved the way modprobe would.  Every
 * call returns 0 or a negative errno with a message in the set's errmsg.
 */
#ifndef EROOT_BOOT_KMOD_H
#define EROOT_BOOT_KMOD_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"
#include "kconfig.h"

/* When the loader needs a module: always, or only for one thing, which
 * it may find it does not need at boot. */
enum kmod_need {
	KMOD_ALWAYS,
	KMOD_FOR_LOOP,			/* to mount through a loop device */
	KMOD_FOR_VIRTIO_PMEM,		/* a virtio-pmem device */
	KMOD_FOR_E820,			/* an e820 persistent memory range (memmap=) */
};

struct kmod_file {
	char name[64];			/* "erofs" */
	char path[512];			/* on the host */
	bool optional;			/* a soft dependency: may fail to load */
	enum kmod_need need;
};

struct kmod_set {
	char dir[512];			/* .../lib/modules/KVER */
	struct kmod_file *files;	/* load order: dependencies first */
	size_t n, cap;
	char **builtin;			/* names built into the kernel */
	size_t nbuiltin;
	char *dep, *softdep, *alias;	/* the modules.* files */
	struct eroot_errmsg *err;	/* where failures are described */
	/* the kernel's configuration, set by the caller after kmod_open();
	 * NULL: modules.builtin alone says what is built in */
	const struct kconfig *config;
};

/* Open the module tree of @kver under @root ("/" for the host): its
 * lib/modules/KVER, else usr/lib/modules/KVER.  -ENOENT without a
 * modules.dep.  On success, kmod_close() releases the set. */
int kmod_open(struct kmod_set *s, const char *root, const char *kver,
	      struct eroot_errmsg *err);
/* Add @name and what it needs; built-in modules add nothing, nor do the
 * loader's modules whose option the configuration leaves unset
 * (kernel_check() has refused a kernel lacking what the loader needs).  A
 * missing module is an error unless @optional. */
int kmod_want(struct kmod_set *s, const char *name, bool optional);
/* The module's content, decompressed (.ko.xz, .ko.zst, .ko.gz), in a new
 * buffer the caller frees; -EUCLEAN when it does not decompress. */
int kmod_read(const struct kmod_set *s, const struct kmod_file *f, unsigned char **data,
	      size_t *len);
/* Release what the set holds (safe on a zeroed set). */
void kmod_close(struct kmod_set *s);

#endif
