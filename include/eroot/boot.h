/* SPDX-License-Identifier: MIT */
/*
 * liberoot's boot library: an initrd whose content stays an EROFS image
 * (docs/boot.md).  The conventions of eroot.h hold: 0 or a negative errno,
 * a message in eroot_initrd_errmsg() after a failure, no process-wide
 * state.
 *
 * The initrd is three parts in a row, each a valid initramfs for a stock
 * kernel to unpack:
 *   1. the input's leading uncompressed early archives (CPU microcode),
 *      byte for byte;
 *   2. the loader archive: /init (the static loader eroot-init),
 *      /dev/console, the kernel modules the loader needs and its
 *      configuration /eroot/config;
 *   3. an archive of the images, /eroot/root.erofs and /eroot/layerN.erofs,
 *      each with its data at a multiple of 4096 bytes in the file.
 * The same inputs and options give the same bytes.
 */
#ifndef EROOT_BOOT_H
#define EROOT_BOOT_H

#include <stdint.h>

#include "eroot/eroot.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eroot_initrd;

struct eroot_initrd_options {
	/* An initramfs file (cpio archives, compressed or not, as the
	 * kernel reads them) or a directory: the image's content. */
	const char *input;
	/* The eroot-init binary to put at /init.  Required. */
	const char *loader;
	/* The kernel version whose modules the loader may need; NULL: the
	 * first lib/modules/KVER the input carries. */
	const char *kver;
	/* Where lib/modules/KVER (or usr/lib/modules/KVER) is; NULL: "/". */
	const char *modules_root;
	/* The kernel's build configuration; NULL: the first of
	 * lib/modules/KVER/config, usr/lib/modules/KVER/config and
	 * boot/config-KVER under modules_root.  eroot_initrd_write() refuses
	 * what that kernel cannot boot (docs/boot.md); with none found it
	 * checks the version alone, after one warning. */
	const char *kernel_config;
	/* Warnings (one line, no newline); NULL: none are reported. */
	void (*warn)(void *ctx, const char *text);
	void *warn_ctx;
	/* EROFS images stacked over the content, bottom to top (at most 15);
	 * each must be an image liberoot can open. */
	const char *const *layers;
	unsigned int nlayers;
	/* The loader's policy when the command line has no eroot.digest=:
	 * non-zero (default), verify every module and image against the
	 * SHA-256 recorded in its configuration; zero, verify nothing.  The
	 * digests are recorded either way, for eroot.digest=. */
	int verify;
	/* The image's compression, as eroot_build_options: "lz4hc" by
	 * default, NULL for none; a physical cluster size (0: a block). */
	const char *compressor;
	unsigned int pcluster_size;
	/* The hot list: files stored uncompressed and first in the image,
	 * the ones the boot reads (an eroot.profile list, docs/boot.md), as
	 * eroot_build_options.hot_list; NULL: none.  Needs compression. */
	const char *hot_list;
	/* With a path: the content image is built with the DAX layout
	 * (eroot_build_options.dax) and written there (through
	 * "@dax_image.XXXXXX" renamed into place, its size a multiple of
	 * EROOT_DAX_ALIGN), for the VM to attach as virtio-pmem or the boot
	 * loader to place at a memmap= address; the initrd holds the loader
	 * (and the layers) only, its configuration the image's SHA-256 and
	 * size.  The compressor stays as set: NULL (no compression) serves
	 * every file through DAX; eroot initrd --dax makes that its default. */
	const char *dax_image;
	/* Where the image builder stages archive data; NULL: as the builder
	 * decides ($TMPDIR, else /var/tmp). */
	const char *stage_dir;
	/* Progress of the image build: bytes of file data done/total. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
	/* Content fingerprints in the image, as eroot_build_options.fingerprint
	 * (NAME as mkfs.erofs --xattr-inode-digest takes it, e.g.
	 * EROOT_FINGERPRINT_DEFAULT); NULL: none. */
	const char *fingerprint;
	/* Page-cache sharing (Linux 7.0 inode_share): the loader mounts the
	 * images with "inode_share,domain_id=@share_domain" where the kernel
	 * takes it, so that their files share pages with those of equal
	 * fingerprint in other images of that domain (the real root's, say).
	 * 1 to 64 of letters, digits, '.', '_', '-'; NULL: no sharing.  Not
	 * with dax_image (the kernel refuses DAX with sharing): -EINVAL. */
	const char *share_domain;
};

/* Sizes of a written initrd, and the kernel its modules are for. */
struct eroot_initrd_stats {
	uint64_t early_bytes;		/* part 1 */
	uint64_t loader_bytes;		/* part 2 */
	uint64_t image_bytes;		/* part 3 (the layers alone with dax_image) */
	uint64_t total_bytes;
	uint64_t dax_bytes;		/* the DAX image written to dax_image, padded */
	uint64_t hot_files;		/* of the hot list: stored uncompressed */
	uint64_t hot_missing;		/* of the hot list: not a file of the image */
	char kver[128];			/* "" when no module tree was needed */
};

/* Fill @opts with defaults: lz4hc, verify, modules under "/". */
void eroot_initrd_options_init(struct eroot_initrd_options *opts);

/*
 * Create an initrd writer.  @opts is copied (strings and the layer list
 * too).  Returns NULL only when memory runs out.
 */
struct eroot_initrd *eroot_initrd_new(const struct eroot_initrd_options *opts);
void eroot_initrd_free(struct eroot_initrd *r);
const char *eroot_initrd_errmsg(const struct eroot_initrd *r);

/*
 * Build the image of the input and write the initrd to @output: checks the
 * layers and the loader, refuses an input that is itself such an initrd,
 * checks the kernel (its configuration and version against the image's
 * compression and block size and the loader's needs) and resolves the
 * modules (the configuration, modules.dep, modules.softdep, modules.alias,
 * modules.builtin; compressed modules stored decompressed), builds the
 * image into "@output.image.XXXXXX", writes
 * "@output.XXXXXX", fsyncs it and renames it to @output (mode 0644).  On
 * failure nothing is left behind and an existing @output is untouched.
 * @stats may be NULL.  Call once per handle.
 *
 * The kernel is checked before the image is built when its version is
 * known then (@opts->kver, or a directory input), else right after.
 *
 * Errors: -ENOENT (no module tree, a module neither built in nor found,
 * an input without lib/modules/KVER and no kver), -EINVAL (a layer that is
 * not an EROFS image, an input eroot initrd made, a share_domain with
 * dax_image or not of the characters it takes), -ENOTSUP (what the
 * kernel cannot boot), -E2BIG (more layers or modules than the loader
 * takes), -EFBIG
 * (an image over 4 GiB, more than a newc member holds), -EIO, -ENOMEM,
 * and the builder's errors for the input.
 */
int eroot_initrd_write(struct eroot_initrd *r, const char *output,
		       struct eroot_initrd_stats *stats);

/*
 * The kernel command line option that pins this initrd,
 * "eroot.digest=sha256:HEX": the SHA-256 of the loader's configuration,
 * which records the SHA-256 of every module and image the loader uses, so
 * the one value covers all of them (not the loader itself; docs/boot.md,
 * the threat model).  "" until eroot_initrd_write() has succeeded.  Valid
 * until @r is freed.
 */
const char *eroot_initrd_digest_arg(const struct eroot_initrd *r);

/*
 * Write eroot_initrd_digest_arg() and a newline to @path, through
 * "@path.XXXXXX" fsynced and renamed into place (mode 0644), for a hook
 * that puts it into a boot entry.  0, or -EINVAL (no initrd written yet),
 * -ENAMETOOLONG or another negative errno with a message; on failure
 * @path is untouched.
 */
int eroot_initrd_save_digest_arg(struct eroot_initrd *r, const char *path);

/*
 * For a signal handler that removes temporary files before the process
 * dies; async-signal-safe, valid until @r is freed.
 * eroot_initrd_temp_path(): the temporary initrd (@which 0) or image (1)
 * eroot_initrd_write() is making, "" while there is none, NULL for another
 * @which.  eroot_initrd_image_builder(): the builder of the image, whose
 * eroot_builder_temp_path() names its own temporary file.
 */
const char *eroot_initrd_temp_path(const struct eroot_initrd *r, unsigned int which);
struct eroot_builder *eroot_initrd_image_builder(struct eroot_initrd *r);

#ifdef __cplusplus
}
#endif
#endif /* EROOT_BOOT_H */
