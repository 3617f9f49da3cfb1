/* SPDX-License-Identifier: MIT */
/*
 * liberoot: build and read EROFS images.
 *
 * Conventions for every function here:
 *  - Functions returning int return 0 (or a non-negative count) on success
 *    and a negative errno value on failure.  -EUCLEAN means "the image is
 *    corrupt"; -EIO means the backing storage failed; -EOPNOTSUPP means the
 *    image uses a feature this version cannot read.
 *  - A failing call on an image leaves a human readable explanation in
 *    eroot_image_errmsg(); the builder does the same in eroot_builder_errmsg().
 *  - There is no process-wide state: each handle is independent and may be
 *    used from its own thread.  One handle must not be used by two threads
 *    at once.
 *  - Every byte read from an image is untrusted.  Offsets, sizes, nids and
 *    name lengths are checked before use; a hostile image yields -EUCLEAN,
 *    never an out-of-bounds access, and directory walks are bounded.
 *  - Memory: one open image uses at most 48 MiB, whatever the image says.
 *    Compressed files are mapped one extent at a time; their reads hold
 *    three caches of decoded extents (a file's last extent, the packed
 *    inode's last 32 and the metabox's last, at most 12 MiB each
 *    cache, the kernel's limit for one extent: a larger extent is
 *    -EOPNOTSUPP), three compressed pclusters (at most 1 MiB each) and one
 *    decoder's working memory (at most 9 MiB: LZMA's dictionary is capped
 *    at 8 MiB, Zstandard's window at 1 MiB).  The rest of the reader works
 *    in buffers of a block or of one xattr value (64 KiB).
 */
#ifndef EROOT_EROOT_H
#define EROOT_EROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EROOT_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

struct eroot_image;

/* Superblock facts, decoded and validated. */
struct eroot_super_info {
	uint32_t block_size;
	uint64_t blocks;		/* image size in blocks */
	uint64_t root_nid;
	uint64_t inodes;		/* inode count recorded at build time */
	int64_t build_time;
	uint32_t build_time_nsec;
	uint32_t meta_blkaddr;
	uint32_t xattr_blkaddr;
	uint32_t feature_compat;
	uint32_t feature_incompat;
	uint8_t uuid[16];
	char volume_name[17];		/* NUL-terminated */
	uint32_t checksum;		/* as stored; 0 without SB_CHKSUM */
	uint16_t compr_algs;		/* bit N: algorithm N (0 lz4, 1 lzma,
					 * 2 deflate, 3 zstd) may be used */
	uint64_t packed_nid;		/* the inode holding fragments (feature
					 * fragments), 0 without */
};

/*
 * eroot_image_open_path - open an image stored in a file or block device.
 * @path:   file or block device
 * @offset: byte offset of the image inside @path (any value; need not be
 *          aligned)
 * @out:    receives the new handle on success
 *
 * Validates the superblock (magic, block size, checksum, feature bits,
 * root inode).  Returns 0 or a negative errno; on failure *@out is set to a
 * handle holding only the error message (use eroot_image_errmsg() then
 * eroot_image_close()) or NULL when memory ran out.
 */
int eroot_image_open_path(const char *path, uint64_t offset,
			  struct eroot_image **out);

/*
 * eroot_image_open_fd - like eroot_image_open_path() on an open descriptor.
 * The descriptor is duplicated; the caller keeps ownership of @fd.
 */
int eroot_image_open_fd(int fd, uint64_t offset, struct eroot_image **out);

/*
 * eroot_image_open_mem - open an image held in memory.
 * @buf/@len: the whole buffer; the image starts @offset bytes into it.  The
 *            buffer is not copied and must outlive the handle.
 */
int eroot_image_open_mem(const void *buf, size_t len, uint64_t offset,
			 struct eroot_image **out);

/* Release a handle (NULL is fine). */
void eroot_image_close(struct eroot_image *img);

/* The message of the last failure on @img ("" if none). */
const char *eroot_image_errmsg(const struct eroot_image *img);

/* Superblock facts of an open image. */
const struct eroot_super_info *eroot_image_super(const struct eroot_image *img);

/* One inode, decoded.  Plain data: copy it freely. */
struct eroot_inode {
	uint64_t nid;
	uint32_t mode;			/* S_IFMT type and permission bits */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size;
	int64_t mtime;
	uint32_t mtime_nsec;
	uint32_t rdev_major, rdev_minor;
	uint32_t ino;			/* 32-bit inode number from disk */
	uint8_t extended;		/* 64-byte on-disk form */
	uint8_t datalayout;		/* EROFS datalayout, see eroot_layout_name */
	uint16_t xattr_icount;
	/* Internal mapping data; callers leave these alone. */
	uint32_t raw_blkaddr;
	uint16_t chunk_format;
	uint32_t isize;			/* inode + inline xattr bytes */
	uint32_t compressed_blocks;	/* compressed layouts: blocks of data */
};

/* Read inode @nid.  -EUCLEAN when the inode is out of range or corrupt. */
int eroot_iget(struct eroot_image *img, uint64_t nid, struct eroot_inode *ino);

/*
 * Resolve @path (absolute or relative to the root; "/" or "" is the root).
 * Symlinks in the middle of the path are followed as inside a chroot at the
 * image root (absolute targets start at the root), at most 40 of them
 * (-ELOOP beyond).  eroot_lookup() does not follow a final symlink (like
 * lstat); eroot_lookup_follow() does when @follow_last is true.  Returns 0
 * and fills @ino, -ENOENT, -ENOTDIR, -ELOOP, or -EUCLEAN.
 */
int eroot_lookup(struct eroot_image *img, const char *path,
		 struct eroot_inode *ino);
int eroot_lookup_follow(struct eroot_image *img, const char *path,
			bool follow_last, struct eroot_inode *ino);

/* A directory entry handed to a readdir callback.  @name is not
 * NUL-terminated; @name_len is 1..255.  "." and ".." are included. */
struct eroot_dirent {
	uint64_t nid;
	const char *name;
	unsigned int name_len;
	unsigned int file_type;		/* DT_* value */
};

/*
 * Call @fn for each entry of directory @dir, in on-disk (sorted) order.
 * A non-zero return from @fn stops the walk and is returned.  Entries are
 * validated (name bounds, ordering, nid range) before @fn sees them.
 */
typedef int (*eroot_dirent_fn)(void *ctx, const struct eroot_dirent *de);
int eroot_readdir(struct eroot_image *img, const struct eroot_inode *dir,
		  eroot_dirent_fn fn, void *ctx);

/*
 * Read up to @len bytes of regular file or symlink @ino at @off into @buf.
 * Returns the byte count (short only at end of file) or a negative errno.
 */
ssize_t eroot_pread(struct eroot_image *img, const struct eroot_inode *ino,
		    void *buf, size_t len, uint64_t off);

/*
 * eroot_pread_skip_fragments - eroot_pread() for a checker that reads the
 * packed inode (eroot_super_info.packed_nid) whole on its own: the bytes of
 * @ino kept in the packed inode are checked to lie inside it, but neither
 * read nor decompressed; they come back as zeros.  Everything else is read
 * and checked as eroot_pread() does.  Without fragments, eroot_pread().
 */
ssize_t eroot_pread_skip_fragments(struct eroot_image *img, const struct eroot_inode *ino,
				   void *buf, size_t len, uint64_t off);

/*
 * eroot_next_data - find data past the holes, like lseek(SEEK_DATA) then
 * lseek(SEEK_HOLE) on regular file or symlink @ino.
 * @pos:        a byte offset in the file
 * @data_start: receives the first byte of data at or after @pos
 * @data_len:   receives how many bytes of data follow from there (> 0),
 *              never past a hole or the end of file
 *
 * Holes are the unmapped chunks of chunk-based files (and the whole of a
 * flat file with no blocks, as mkfs.erofs 1.9 writes); they read as zeros.
 * Other flat files have none; compressed files are reported as data whole.
 * A run of data may come in several pieces: call again from
 * *@data_start + *@data_len.  Returns 0; -ENXIO when no data lies at or
 * after @pos (a file that ends in a hole, @pos at or past its end);
 * -EISDIR or -EINVAL for other file types; -EUCLEAN or -EIO.
 *
 * Bounded whatever size the inode declares: a call reads only chunk map
 * entries, all inside the image, one per chunk of hole (the largest chunks
 * skip 8 TiB a step), so a 1 PiB file of holes in a small image costs a few
 * reads, and reading just its data visits no hole byte.
 */
int eroot_next_data(struct eroot_image *img, const struct eroot_inode *ino,
		    uint64_t pos, uint64_t *data_start, uint64_t *data_len);

/* Symlink target into @buf (NUL-terminated).  -ERANGE if @size is too small. */
int eroot_readlink(struct eroot_image *img, const struct eroot_inode *ino,
		   char *buf, size_t size);

/*
 * Extended attributes.  eroot_listxattr() calls @fn with each full name
 * ("user.foo", "system.posix_acl_access", ...) and the value, inline ones
 * first, then shared ones.  eroot_getxattr() copies one value: returns its
 * length, -ENODATA if absent, -ERANGE if @size is too small (with @size 0
 * it only returns the length).  Names under a long prefix in no namespace
 * are listed by neither (as by the kernel), but eroot_getxattr() finds the
 * fingerprint by eroot_image_fingerprint_name() even there.
 */
typedef int (*eroot_xattr_fn)(void *ctx, const char *name,
			      const void *value, size_t value_len);
int eroot_listxattr(struct eroot_image *img, const struct eroot_inode *ino,
		    eroot_xattr_fn fn, void *ctx);
ssize_t eroot_getxattr(struct eroot_image *img, const struct eroot_inode *ino,
		       const char *name, void *buf, size_t size);

/* Short names for datalayouts ("flat-plain", "flat-inline", "chunk", ...). */
const char *eroot_layout_name(unsigned int datalayout);

/* ------------------------------------------------------------------ */
/* Multi-device images (eroot merge, mkfs.erofs rebuild mode)          */
/* ------------------------------------------------------------------ */

/*
 * A multi-device image keeps its metadata in the primary image and file
 * data in extra devices (device table, superblock extra_devices).  A chunk
 * index names its device (device_id 1..count; 0 is the primary); flat and
 * compressed files address a unified space in which device N occupies
 * blocks [uniaddr, uniaddr + blocks) (uniaddr 0: not in the space).
 *
 * Tags: a 64-character lowercase hex tag is the SHA-256 of the device's
 * first blocks * block_size bytes (eroot merge writes these); a
 * 32-character hex tag is the UUID in the device's own superblock (the
 * reference tool's rebuild mode).  Any other tag cannot be verified.
 *
 * eroot_image_open_*() open a multi-device image with no device attached:
 * metadata reads work, reading data that lies on an unattached device
 * fails with -ENXIO and a message naming the device.
 */
struct eroot_device_info {
	char tag[65];			/* the slot's tag, NUL-terminated */
	uint64_t blocks;		/* device size in blocks */
	uint64_t uniaddr;		/* first block in the unified space, 0: none */
	bool attached;
};

/* Extra devices of @img (0 for a single-device image). */
unsigned int eroot_image_device_count(const struct eroot_image *img);

/* Slot @device_id (1..count) of @img.  -EINVAL outside the range. */
int eroot_image_device_info(const struct eroot_image *img, unsigned int device_id,
			    struct eroot_device_info *out);

#define EROOT_DEVICE_VERIFY	0x1	/* check the device against its tag */

/*
 * Attach @path (file or block device) as device @device_id.  With
 * EROOT_DEVICE_VERIFY, a device that does not match its tag is refused
 * with -EUCLEAN ("device N: ... does not match its tag"); an unverifiable
 * tag is -EOPNOTSUPP then.  A device shorter than its slot's blocks is
 * -EUCLEAN.  Attaching again replaces the earlier one.
 */
int eroot_image_attach_device(struct eroot_image *img, unsigned int device_id,
			      const char *path, unsigned int flags);

/*
 * Find and attach every unattached device in directory @dir: candidates are
 * its regular files (and block devices) at least as long as a slot needs,
 * matched by tag (hashing only candidates of a fitting size).  Returns the
 * count of devices still missing (0: all attached) or a negative errno.
 */
int eroot_image_attach_search(struct eroot_image *img, const char *dir);

/*
 * The full name of the fingerprint xattr (feature ISHARE_XATTRS), e.g.
 * "trusted.erofs.fingerprint.v1", or NULL when the image has none.
 */
const char *eroot_image_fingerprint_name(const struct eroot_image *img);

/* ------------------------------------------------------------------ */
/* Builder                                                             */
/* ------------------------------------------------------------------ */

struct eroot_builder;

/* A DAX image's size is a multiple of this: pmem devices map memory in
 * 2 MiB subsections (a memmap= region, a virtio-pmem device). */
#define EROOT_DAX_ALIGN (2u << 20)

/* The fingerprint name mkfs.erofs uses when given none. */
#define EROOT_FINGERPRINT_DEFAULT "erofs.fingerprint.v1"

struct eroot_build_options {
	unsigned int block_size;	/* 0: 4096 */
	const char *label;		/* volume name, at most 16 bytes */
	const uint8_t *uuid;		/* 16 bytes; NULL: derived from content */
	int64_t fixed_time;		/* >= 0: every mtime and build time */
	int64_t clamp_time;		/* >= 0: mtimes above it are lowered */
	int64_t force_uid, force_gid;	/* >= 0: override owners */
	unsigned int shared_xattr_min;	/* share an xattr used this often; 0 never */
	/* Compression: "lz4", "lz4hc", "lzma", "deflate", "zstd", optionally
	 * ",LEVEL"; NULL for an uncompressed image. */
	const char *compressor;
	unsigned int pcluster_size;	/* bytes, block multiple up to 1 MiB; 0: a block */
	unsigned int workers;		/* compression threads; 0: one per core.  The
					 * image is the same whatever the count. */
	/* Input bytes the compression pipeline may hold at once (segments
	 * queued, being compressed, or compressed and waiting to be placed),
	 * which bounds its memory; 0: 64 MiB.  At least 3 segments (4 MiB
	 * each by default) are allowed whatever the value; the image is the
	 * same whatever it is. */
	uint64_t pipeline_bytes;
	int dedupe;			/* files with equal content share their data */
	int ztailpacking;		/* a compressed file's last pcluster inline */
	int fragments;			/* tails of compressed files in a packed inode */
	int all_fragments;		/* whole compressed files in the packed inode */
	/* Per-file settings, mkfs.erofs style: lines "PCLUSTER-SIZE REGEX
	 * [ALGORITHM-INDEX]" matched against paths relative to the source. */
	const char *compress_hints;
	/* Files stored uncompressed whatever the compressor, the ones a boot
	 * reads (eroot.profile, docs/boot.md): a file of exact paths, one a
	 * line ("usr/bin/sh", a leading "/" allowed), '#' starts a comment.
	 * Their data goes first in the image, in the list's order.  A path
	 * the image lacks is no error: eroot_build_stats counts it. */
	const char *hot_list;
	/* DAX layout (docs/boot.md): every regular file stored uncompressed
	 * is flat and never inline nor chunked, so that a kernel mounting the
	 * image from a pmem device with "-o dax=always" maps its pages
	 * straight from the device; the image is padded to a multiple of
	 * EROOT_DAX_ALIGN. */
	int dax;
	/* Content fingerprints for page-cache sharing (kernel 7.0
	 * inode_share): every regular file with data gets the xattr this
	 * names, as mkfs.erofs --xattr-inode-digest=NAME writes it, value
	 * "sha256:" + the SHA-256 of its content.  NULL: none; see
	 * EROOT_FINGERPRINT_DEFAULT. */
	const char *fingerprint;
	/* Archive sources: keep OCI whiteouts as overlayfs whiteouts (0/0
	 * character devices, trusted.overlay.opaque) instead of only applying
	 * them, so the image can be an overlayfs lower layer. */
	int overlay_whiteouts;
	/* Where archive file data waits during the build (a temporary file);
	 * NULL: $TMPDIR, else /var/tmp. */
	const char *stage_dir;
	int quiet;
	/* Progress: called now and then with bytes done/total of file data. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/* Statistics of a finished build. */
struct eroot_build_stats {
	uint64_t inodes, files, dirs, symlinks, specials, hardlinks;
	uint64_t data_bytes;		/* file bytes read from the source */
	uint64_t image_bytes;
	uint64_t xattrs, shared_xattrs;
	uint64_t deduped;		/* files sharing an earlier file's data */
	uint64_t hot_files;		/* files of the hot list, stored uncompressed */
	uint64_t hot_missing;		/* hot list paths that are no regular file */
	/* Most memory the compression pipeline's buffers held at once: the
	 * workers' input and pcluster buffers and the output of the segments
	 * in flight; 0 without compression. */
	uint64_t pipeline_peak_bytes;
	/* eroot_builder_add_image(): regular files with data whose data stays
	 * in an input (an extra device), and those copied into the image. */
	uint64_t files_referenced, files_copied;
};

/* Fill @opts with defaults (4096 blocks, no overrides, sharing at 2). */
void eroot_build_options_init(struct eroot_build_options *opts);

/*
 * Create a builder.  Returns NULL only when memory runs out.  @opts is
 * copied (strings included).
 */
struct eroot_builder *eroot_builder_new(const struct eroot_build_options *opts);
void eroot_builder_free(struct eroot_builder *b);
const char *eroot_builder_errmsg(const struct eroot_builder *b);

/*
 * Exclusions, matched against the path relative to the source root without
 * a leading slash ("etc/passwd").  A literal path excludes that entry and
 * everything below it; a regex (POSIX extended) excludes every path it
 * matches.  -EINVAL for a bad regex.
 */
int eroot_builder_exclude_path(struct eroot_builder *b, const char *path);
int eroot_builder_exclude_regex(struct eroot_builder *b, const char *regex);

/*
 * Add the tree under @dir as the image's root (file data is read later, in
 * eroot_builder_write(), from the very files the scan found: one replaced,
 * moved or modified in between fails the write with -ESTALE, "changed
 * during the build").  Errors name the offending path.
 */
int eroot_builder_add_dir(struct eroot_builder *b, const char *dir);

/* Archive formats for eroot_builder_add_archive(). */
enum eroot_archive_format {
	EROOT_ARCHIVE_AUTO,		/* tar or cpio, whichever it is */
	EROOT_ARCHIVE_TAR,
	EROOT_ARCHIVE_CPIO,
};

/*
 * Add a tar or cpio archive (compressed or not; "-" is standard input) as
 * the image's content.  Called again, it adds a layer on top: the last
 * entry for a path wins, directories merge, and in tar layers OCI
 * whiteouts (".wh.NAME", ".wh..wh..opq") remove earlier content.  Names
 * are relative ("/" and "./" prefixes dropped); ".." is refused; missing
 * parents are made (0755, root).  Errors name the archive and the entry.
 */
int eroot_builder_add_archive(struct eroot_builder *b, const char *path,
			      enum eroot_archive_format format);

/*
 * Add an initramfs file as the kernel unpacks it: newc cpio archives, each
 * optionally compressed (gzip, bzip2, lzma, xz, lz4, zstd), separated by
 * zero padding, later entries overriding earlier ones by the kernel's
 * rules.  With @early_bytes, the leading uncompressed archives that carry
 * only early-boot files (kernel/..., e.g. CPU microcode) are left out and
 * their length in bytes is stored there (0 if there are none).
 */
int eroot_builder_add_initramfs(struct eroot_builder *b, const char *path,
				uint64_t *early_bytes);

/*
 * Add an EROFS image as a layer, as eroot merge does: its tree goes on top
 * of what earlier calls added (the last entry for a path wins, directories
 * merge, overlayfs whiteouts (0/0 character devices) and OCI ".wh." names
 * remove earlier content, trusted.overlay.opaque / user.overlay.opaque
 * directories hide it; whiteouts themselves do not reach the output).
 * With EROOT_IMAGE_REFERENCE the image becomes an extra device of the
 * output (one slot per image, in call order, tagged with its SHA-256) and
 * its files' data is referred to, not copied, wherever the kernel can map
 * it; other data is copied.  Without it, all data is copied.
 */
#define EROOT_IMAGE_REFERENCE	0x1
int eroot_builder_add_image(struct eroot_builder *b, const char *path, unsigned int flags);

/*
 * Write the image to @path: built as an unnamed file (O_TMPFILE) next to it
 * and linked into place only when complete, so neither a failure nor a
 * signal leaves anything behind, and an existing @path is replaced in one
 * step.  Where the filesystem has no O_TMPFILE, the file is "@path.XXXXXX"
 * until renamed.  @stats may be NULL.
 */
int eroot_builder_write(struct eroot_builder *b, const char *path,
			struct eroot_build_stats *stats);

/*
 * The temporary name eroot_builder_write() is writing under, or "" while
 * there is none (always, where O_TMPFILE works).  Async-signal-safe, for a
 * handler that removes it before the process dies; valid until @b is freed.
 */
const char *eroot_builder_temp_path(const struct eroot_builder *b);

#ifdef __cplusplus
}
#endif
#endif /* EROOT_EROOT_H */
