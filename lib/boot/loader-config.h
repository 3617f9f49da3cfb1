/* SPDX-License-Identifier: MIT */
/*
 * The loader's configuration, /eroot/config in the loader archive: the one
 * definition shared by its writer (lib/boot/loader_config.c, for eroot
 * initrd) and its parser (tools/eroot-init/config.c).  Self-contained, no
 * includes: the static loader builds without liberoot.
 *
 * Text, one item a line, words separated by single spaces:
 *   version N                 the first line; the loader refuses a version
 *                             it does not know
 *   module PATH SHA256 [optional] [for-loop|for-virtio-pmem|for-e820]
 *                             a kernel module, in load order, and the
 *                             SHA-256 of the bytes stored; "optional" for
 *                             soft dependencies that may fail to load,
 *                             "for-loop" for what only mounting through a
 *                             loop device needs (loaded only then),
 *                             "for-virtio-pmem" and "for-e820" for what
 *                             only that DAX device provider needs (loaded
 *                             when the loader sees such a device, or sees
 *                             neither)
 *   digest sha256|none        the policy when the command line names no
 *                             eroot.digest=: verify the modules and images
 *                             against this file, or not
 *   image PATH SHA256         the content image, then the layers bottom to
 *                             top
 *   dax-image SHA256 BYTES    instead of the content image's line: the
 *                             content image is on a DAX device (virtio-pmem,
 *                             memmap=), not in the initrd; its first BYTES
 *                             have that SHA-256; the image lines are then
 *                             the layers
 *   run-init PATH             klibc's run-init inside the image (the
 *                             loader stands in for it)
 *   share-domain ID           mount the images with inode_share,domain_id=ID
 *                             (Linux 7.0 page-cache sharing: files with the
 *                             same fingerprint in images of one domain share
 *                             their pages) where the kernel takes it; ID is
 *                             letters, digits, '.', '_', '-' (at most
 *                             LOADER_MAX_SHARE_DOMAIN bytes)
 *   # ...                     a comment
 * eroot initrd writes version, modules, digest, the content image (or
 * dax-image), run-init, then the layers; the loader takes the other lines
 * in any order.
 *
 * SHA256 is 64 lowercase hex digits.  eroot.digest=sha256:HEX on the kernel
 * command line is the SHA-256 of this file's bytes: with it the loader
 * verifies this file, then every module and image against it, whatever
 * the digest line says (docs/boot.md, the threat model).
 *
 * A change the loader of the previous version would misread (a new key it
 * must not ignore, a changed meaning) bumps LOADER_CONFIG_VERSION.  The
 * loader and its configuration always come from one eroot build, so a
 * mismatch means a --loader from another build: refused at boot with one
 * "eroot: reading /eroot/config failed" line.
 */
#ifndef EROOT_BOOT_LOADER_CONFIG_H
#define EROOT_BOOT_LOADER_CONFIG_H

/* 2: every module and image has its SHA-256; 3: dax-image; 4: for-virtio-pmem,
 * for-e820; 5: share-domain */
#define LOADER_CONFIG_VERSION 5

/* Where the loader archive puts things (paths in the booted rootfs). */
#define LOADER_DIR "/eroot"
#define LOADER_CONFIG_PATH LOADER_DIR "/config"
#define LOADER_MODULES_DIR LOADER_DIR "/modules"
#define LOADER_ROOT_IMAGE LOADER_DIR "/root.erofs"
#define LOADER_LAYER_IMAGE LOADER_DIR "/layer%d.erofs"	/* 1, 2, ... */

/* Keys, the first word of a line. */
#define LOADER_KEY_VERSION "version"
#define LOADER_KEY_MODULE "module"
#define LOADER_KEY_DIGEST "digest"
#define LOADER_KEY_IMAGE "image"
#define LOADER_KEY_RUN_INIT "run-init"
#define LOADER_KEY_DAX_IMAGE "dax-image"
#define LOADER_KEY_SHARE_DOMAIN "share-domain"

/* Values. */
#define LOADER_MODULE_OPTIONAL "optional"
#define LOADER_MODULE_FOR_LOOP "for-loop"
#define LOADER_MODULE_FOR_VIRTIO_PMEM "for-virtio-pmem"
#define LOADER_MODULE_FOR_E820 "for-e820"
#define LOADER_DIGEST_SHA256 "sha256"
#define LOADER_DIGEST_NONE "none"
#define LOADER_SHA256_HEX_LEN 64

/* Limits: the loader's fixed tables.  The writer refuses more. */
#define LOADER_MAX_IMAGES 16		/* the content image and 15 layers */
#define LOADER_MAX_MODULES 64
#define LOADER_MAX_WORD 255		/* bytes of a path or value, no NUL */
#define LOADER_MAX_LINE 800		/* bytes of a line, newline included */
#define LOADER_MAX_CONFIG (1 << 17)	/* bytes of the file: the loader reads it whole */
#define LOADER_MAX_SHARE_DOMAIN 64	/* bytes of a share domain, no NUL */
#define LOADER_SHARE_DOMAIN_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

#endif
