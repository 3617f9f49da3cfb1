/* SPDX-License-Identifier: MIT */
/*
 * eroot-init: the loader eroot initrd puts at /init.  Static, no shell, no
 * library beyond libc and libcrypto's SHA-256: the kernel unpacks it with
 * the rest of the small loader archive, and it turns the EROFS image beside
 * it into the root the original /init then runs on (docs/boot.md).
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
	char path[LOADER_MAX_WORD + 1];	/* a DAX image: its device, once found */
	char sha256[LOADER_SHA256_HEX_LEN + 1];	/* lowercase hex */
	char mnt[64];
};

struct module {
	char path[LOADER_MAX_WORD + 1];
	char sha256[LOADER_SHA256_HEX_LEN + 1];
	bool optional;			/* a soft dependency: may fail to load */
	bool for_loop;			/* only a loop device needs it */
	unsigned int provider;		/* PROVIDER_*: only that DAX provider needs
					 * it; 0: needed whatever the device */
};

/* The DAX device providers the loader tells apart (pmem.c). */
enum {
	PROVIDER_VIRTIO_PMEM = 1,
	PROVIDER_E820 = 2,
	PROVIDER_ALL = PROVIDER_VIRTIO_PMEM | PROVIDER_E820,
};

/* eroot.carry=: what appended archives may do to the image's files */
enum carry_policy {
	CARRY_ADD,			/* add files; never replace the image's */
	CARRY_REPLACE,			/* the appended file wins */
	CARRY_NONE,			/* carry nothing */
};

struct config {
	struct image images[LOADER_MAX_IMAGES];	/* [0] the content, then --layer ones */
	int nimages;
	bool dax;			/* images[0] is on a DAX device (dax-image) */
	unsigned long long dax_bytes;	/* its size: what its SHA-256 covers */
	struct module modules[LOADER_MAX_MODULES];
	int nmodules;
	bool verify;			/* digest policy sha256 (else none) */
	char run_init[LOADER_MAX_WORD + 1];	/* klibc run-init to stand in for, if any */
	/* kernel command line */
	char cmdline_digest[65];	/* eroot.digest=sha256:HEX, of CONFIG_PATH */
	char emergency[256];		/* eroot.emergency=PATH of a shell */
	char mount_how[16];		/* eroot.mount=auto|file|loop */
	enum carry_policy carry;	/* eroot.carry=add|replace|none */
	char dax_device[64];		/* eroot.dax=DEV: the one to use, else any */
	int dax_wait;			/* eroot.dax.wait=SECONDS for it to appear */
	/* share-domain, or eroot.share=ID ("" for eroot.share=off): mount
	 * the images with inode_share,domain_id= where the kernel takes it */
	char share_domain[LOADER_MAX_SHARE_DOMAIN + 1];
	char cmdline_share[LOADER_MAX_SHARE_DOMAIN + 1];	/* as given, or "" */
	bool debug;			/* eroot.debug */
	bool profile;			/* eroot.profile */
};

/* main.c: one line on the console, then the emergency shell or a panic */
void fail(const struct config *c, const char *what, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
void note(const struct config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double uptime(void);

/* config.c: the command line, then the configuration (loader-config.h),
 * read once, verified against eroot.digest= when given and parsed from the
 * same bytes; config_parse() reads @len bytes of @text, named @path, into
 * @c and fails on a version it does not know, an unknown key, a missing
 * digest or a limit passed. */
void config_load(struct config *c);
void config_parse(struct config *c, const char *text, size_t len, const char *path);

/* modules.c: each read once, verified, loaded from memory: those marked
 * for_loop == @for_loop whose provider is 0 or among @providers (the
 * files of the others dropped unread); then the files of those never
 * needed dropped */
void modules_load(const struct config *c, bool for_loop, unsigned int providers);
void modules_drop_unused(const struct config *c);

/* pmem.c: the DAX providers whose devices are present (PROVIDER_*), by
 * /proc/iomem and PCI ids, before any module is loaded; PROVIDER_ALL
 * when it sees none (one it cannot tell, such as virtio-mmio) */
unsigned int pmem_providers(const struct config *c);

/* digest.c: SHA-256 in userspace (libcrypto), as 64 lowercase hex digits */
void sha256_buf(const void *data, size_t len, char hex[65]);
int sha256_file(const char *path, char hex[65], char *why, size_t whylen);
/* of the first @bytes of @path (a block device), read with O_DIRECT */
int sha256_direct(const char *path, unsigned long long bytes, char hex[65], char *why,
		  size_t whylen);

/* verify.c: what eroot.digest= covers.  read_whole() reads @path, at most
 * @max bytes, into a buffer the caller frees; verifying() says whether the
 * modules and images are checked (eroot.digest= given, or policy sha256);
 * verify_data() (@want from @whose) and verify_image() fail with one line
 * naming the file; a DAX image (c->dax, images[0]) is the first
 * c->dax_bytes of its device, read with O_DIRECT: nothing of it lands in
 * the page cache. */
char *read_whole(const struct config *c, const char *path, size_t max, size_t *len);
bool verifying(const struct config *c);
void verify_data(const struct config *c, const char *path, const void *data, size_t len,
		 const char *want, const char *whose);
void verify_image(const struct config *c, const struct image *img);

/* image.c: an image mounted read-only, file-backed where the kernel can,
 * in the share domain if any: a kernel refusing inode_share (before 7.0,
 * or built without it) gets one line and a mount without */
void image_mount(const struct config *c, struct image *img);

/* dax.c: the content image on a DAX device (dax-image): the device found
 * (eroot.dax=, eroot.dax.wait=), verified, mounted dax=always at @img->mnt */
void dax_attach(const struct config *c, struct image *img);

/* carry.c: what appended archives put in @rootfs ("/"; a directory in
 * tests) goes into @newroot as eroot.carry= allows, and leaves @rootfs */
void carry_rootfs(const struct config *c, const char *rootfs, const char *newroot);

/* profile.c: eroot.profile, the files opened until the switch to the
 * real root, into /run/eroot/profile by a child; call with the overlay
 * mounted at NEWROOT, /proc and /dev still there.  @argv0 is marked '@'
 * in the child, which systemd spares at switch-root. */
void profile_start(const struct config *c, char *argv0);

/* switch.c */
void switch_root(const struct config *c, const char *newroot);
int run_init_main(int argc, char **argv);

#endif
