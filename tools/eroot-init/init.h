/* SPDX-License-Identifier: MIT */
/*
 * eroot-init: the loader eroot initrd puts at /init.  Static, no shell, no
 * library beyond libc: the kernel unpacks it with the rest of the small
 * loader archive, and it turns the EROFS image beside it into the root the
 * original /init then runs on (docs/boot.md).
 */
#ifndef EROOT_INIT_H
#define EROOT_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The configuration's format, shared with eroot initrd's writer. */
#include "loader-config.h"

#define EROOT_DIR LOADER_DIR
#define CONFIG_PATH LOADER_CONFIG_PATH
#define NEWROOT EROOT_DIR "/root"

struct image {
	char path[LOADER_MAX_WORD + 1];
	char sha256[LOADER_SHA256_HEX_LEN + 1];	/* lowercase hex; "" when not recorded */
	char mnt[64];
};

struct config {
	struct image images[LOADER_MAX_IMAGES];	/* [0] the content, then --layer ones */
	int nimages;
	char modules[LOADER_MAX_MODULES][LOADER_MAX_WORD + 1];
	bool module_optional[LOADER_MAX_MODULES];	/* a soft dependency */
	int nmodules;
	bool verify;			/* digest policy sha256 (else none) */
	char run_init[LOADER_MAX_WORD + 1];	/* klibc run-init to stand in for, if any */
	/* kernel command line */
	char cmdline_digest[65];	/* eroot.digest=sha256:HEX */
	char emergency[256];		/* eroot.emergency=PATH of a shell */
	char mount_how[16];		/* eroot.mount=auto|file|loop */
	bool debug;			/* eroot.debug */
	bool profile;			/* eroot.profile */
};

/* main.c: one line on the console, then the emergency shell or a panic */
void fail(const struct config *c, const char *what, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
void note(const struct config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double uptime(void);

/* config.c: the command line, then the configuration (loader-config.h);
 * config_parse() reads @f, named @path, into @c and fails on a version it
 * does not know, an unknown key or a limit passed. */
void config_load(struct config *c);
void config_parse(struct config *c, FILE *f, const char *path);

/* modules.c */
void modules_load(const struct config *c);

/* digest.c: sha256 through the kernel's crypto API (AF_ALG) */
int sha256_file(const char *path, char hex[65], char *why, size_t whylen);

/* image.c: an image mounted read-only, file-backed where the kernel can */
void image_mount(const struct config *c, struct image *img);

/* carry.c: what appended archives put in rootfs goes into the new root */
void carry_rootfs(const struct config *c, const char *newroot);

/* profile.c: eroot.profile, the files opened until the switch to the
 * real root, into /run/eroot/profile by a child; call with the overlay
 * mounted at NEWROOT, /proc and /dev still there.  @argv0 is marked '@'
 * in the child, which systemd spares at switch-root. */
void profile_start(const struct config *c, char *argv0);

/* switch.c */
void switch_root(const struct config *c, const char *newroot);
int run_init_main(int argc, char **argv);

#endif
