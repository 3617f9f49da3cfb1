/* SPDX-License-Identifier: MIT */
/*
 * Writing the loader's configuration (the format: loader-config.h).  Lines
 * are appended in call order; each call checks the item against the
 * loader's limits, so what the loader cannot take fails here, at build
 * time, not at boot.
 */
#ifndef EROOT_BOOT_CONFIG_WRITER_H
#define EROOT_BOOT_CONFIG_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

struct config_writer {
	char *text;			/* the lines so far, NUL-terminated */
	size_t len, cap;
	int nimages, nmodules;
	struct eroot_errmsg *err;	/* where failures are described */
};

/* Start a configuration: its version line.  0 or -ENOMEM. */
int config_writer_init(struct config_writer *w, struct eroot_errmsg *err);
/* How the loader treats a module (or'ed). */
enum {
	CONFIG_MODULE_OPTIONAL = 1,	/* may fail to load */
	CONFIG_MODULE_FOR_LOOP = 2,	/* needed only to mount through a loop device */
	CONFIG_MODULE_FOR_VIRTIO_PMEM = 4, /* needed only for a virtio-pmem device */
	CONFIG_MODULE_FOR_E820 = 8,	/* needed only for an e820 (memmap=) range */
};

/* A module to load, in load order, with the SHA-256 of its bytes (64
 * lowercase hex digits) and CONFIG_MODULE_* @flags: at most one FOR_*. */
int config_writer_module(struct config_writer *w, const char *path, const char *sha256_hex,
			 unsigned int flags);
/* The verification policy without eroot.digest=: @sha256, or none. */
int config_writer_digest(struct config_writer *w, bool sha256);
/* An image: the content image first, then layers bottom to top, with its
 * SHA-256 (64 lowercase hex digits). */
int config_writer_image(struct config_writer *w, const char *path, const char *sha256_hex);
/* The content image on a DAX device, in place of its image line: the
 * SHA-256 of its first @bytes bytes (all of the image file). */
int config_writer_dax_image(struct config_writer *w, const char *sha256_hex,
			    unsigned long long bytes);
/* klibc's run-init inside the image, which the loader stands in for. */
int config_writer_run_init(struct config_writer *w, const char *path);
/* The page-cache sharing domain the loader mounts the images in (Linux
 * 7.0 inode_share): letters, digits, '.', '_', '-', at most
 * LOADER_MAX_SHARE_DOMAIN bytes; -EINVAL for anything else. */
int config_writer_share_domain(struct config_writer *w, const char *id);
bool config_share_domain_ok(const char *id);
/* The message for one that is not (the domain, the length limit). */
#define CONFIG_SHARE_DOMAIN_RULE "share domain '%s': 1 to %d letters, digits, '.', '_' or '-'"

void config_writer_free(struct config_writer *w);

#endif
