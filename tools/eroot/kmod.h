/* SPDX-License-Identifier: MIT */
/* Kernel modules for the loader, resolved the way modprobe would. */
#ifndef EROOT_TOOL_KMOD_H
#define EROOT_TOOL_KMOD_H

#include <stdbool.h>
#include <stddef.h>

struct kmod_file {
	char name[64];			/* "erofs" */
	char path[512];			/* on the host */
	bool optional;			/* a soft dependency: may fail to load */
};

struct kmod_set {
	char dir[512];			/* .../lib/modules/KVER */
	struct kmod_file *files;	/* load order: dependencies first */
	size_t n, cap;
	char **builtin;			/* names built into the kernel */
	size_t nbuiltin;
	char *dep, *softdep, *alias;	/* the modules.* files */
};

/* Open the module tree of @kver under @root ("/" for the host). */
int kmod_open(struct kmod_set *s, const char *root, const char *kver);
/* Add @name and what it needs; built-in modules add nothing.  A missing
 * module is an error unless @optional. */
int kmod_want(struct kmod_set *s, const char *name, bool optional);
/* The module's content, decompressed (.ko.xz, .ko.zst, .ko.gz). */
int kmod_read(const struct kmod_file *f, unsigned char **data, size_t *len);
void kmod_close(struct kmod_set *s);

#endif
