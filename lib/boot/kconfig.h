/* SPDX-License-Identifier: MIT */
/*
 * The target kernel's build configuration (the "config-KVER" file Debian
 * ships in /boot) and its version, read for eroot initrd's kernel checks
 * (kernel_check.h).  The file is untrusted input: it is read whole up to
 * KCONFIG_MAX_BYTES, and a line that is not "CONFIG_NAME=VALUE" or
 * "# CONFIG_NAME is not set" is ignored.
 */
#ifndef EROOT_BOOT_KCONFIG_H
#define EROOT_BOOT_KCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

/* Debian's 6.12 config is 0.25 MiB; anything past this is not a config. */
#define KCONFIG_MAX_BYTES (16u << 20)

struct kconfig_entry {
	const char *name;		/* "EROFS_FS", without CONFIG_ */
	const char *value;		/* "y", "m", "12", "\"str\""; NULL: is not set */
};

struct kconfig {
	char kver[128];			/* "6.1.0-50-cloud-amd64" */
	unsigned int major, minor;	/* 6, 1; both 0 when kver has no N.N */
	char path[600];			/* the file read; "" when none was found */
	char *text;			/* its content, entries point into it */
	struct kconfig_entry *entries;	/* sorted by name */
	size_t n;
};

/*
 * Read the configuration of kernel @kver: @file when not NULL (an error if
 * it cannot be read), else the first of lib/modules/KVER/config,
 * usr/lib/modules/KVER/config and boot/config-KVER under @root ("/" for
 * the host).  None found is not an error: kc->path stays "".  Returns 0 or
 * a negative errno with a message in @err; kconfig_free() releases @kc
 * either way.
 */
int kconfig_read(struct kconfig *kc, const char *root, const char *kver, const char *file,
		 struct eroot_errmsg *err);
void kconfig_free(struct kconfig *kc);

/* The value of CONFIG_@name: "y", "m", ... or NULL (not set, or no file). */
const char *kconfig_value(const struct kconfig *kc, const char *name);
/* CONFIG_@name is y or m. */
bool kconfig_enabled(const struct kconfig *kc, const char *name);
/* The kernel is @major.@minor or later; true when its version is unknown. */
bool kconfig_at_least(const struct kconfig *kc, unsigned int major, unsigned int minor);

#endif
