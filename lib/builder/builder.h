/* SPDX-License-Identifier: MIT */
/*
 * The builder's shared state: the tree's nodes and the handle.  A build
 * runs through the folders in one direction (build.c is the driver):
 *   source/  a directory, tar/cpio archives or an initramfs fill the tree;
 *   tree/    the node model and the table of distinct xattrs;
 *   plan/    compression profiles, each inode's form, nids, geometry;
 *   place/   file data into the image: flat, compressed, packed, shared;
 *   write/   metadata, the superblock and the image file.
 * A folder's header declares what the later folders may call.
 */
#ifndef EROOT_BUILDER_H
#define EROOT_BUILDER_H

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdint.h>

#include "eroot/eroot.h"
#include "errmsg.h"
#include "ondisk.h"
#include "compress/codec.h"

struct bnode;
struct source_ops;

struct bentry {
	char *name;
	uint16_t name_len;
	struct bnode *node;
};

/* A distinct (name, value) pair; nodes refer to it by index. */
struct bxattr {
	uint8_t index;			/* EROFS_XATTR_INDEX_* */
	uint8_t suffix_len;
	uint16_t value_len;
	char *suffix;
	uint8_t *value;
	uint32_t users;			/* inodes carrying it */
	bool shared;
	uint32_t shared_id;		/* offset / 4 in the shared area */
};

struct bnode {
	uint32_t mode, uid, gid, nlink;
	int64_t mtime;
	uint32_t mtime_nsec;
	uint64_t size;
	uint32_t rdev_major, rdev_minor;
	char *src_path;			/* regular files: where the data is; for
					 * archive sources the entry's path */
	const struct source_ops *source;	/* regular files: who reads the data */
	uint64_t src_dev, src_ino;	/* directory sources: the file the scan saw */
	struct timespec src_mtime;
	char *link_target;		/* symlinks */
	bool sparse;			/* regular file with holes */
	bool staged;			/* data in the stage file, at src_off */
	uint64_t src_off;

	/* layered sources: archives, initramfs (pathtree.c) */
	bool implicit;			/* a parent no entry described (yet) */
	bool opaque;			/* overlayfs opaque directory */
	uint16_t layer;			/* the source that added it */

	/* directories */
	struct bnode *parent;
	struct bentry *entries;		/* sorted once scanning is done */
	uint32_t nentries, entries_cap;

	uint32_t *xattrs;		/* indexes into builder->xattrs, sorted */
	uint32_t nxattrs;

	/* decided by layout.c */
	bool assigned;
	uint64_t nid;
	uint32_t ino;
	bool extended;
	uint8_t datalayout;
	uint16_t xattr_icount;
	uint32_t ibody_size;		/* inline xattr bytes */
	uint32_t tail_len;		/* inline data bytes (compressed: the tail pcluster) */
	uint32_t blkaddr;		/* first data block (flat layouts) */
	uint64_t data_blocks;		/* blocks in the data area */
	unsigned int chunkbits;		/* chunk-based: log2 chunk size */
	uint32_t nchunks;
	uint32_t *chunk_addr;		/* per chunk: block or EROFS_NULL_ADDR */
	uint8_t *dir_data;		/* encoded directory, size bytes */
	uint64_t tail_spill;		/* regular files: inline tail in the spill file */

	/* compressed files: the form decided by layout.c from what
	 * compressing gave, the extents placed by place/zfile.c */
	struct zextent *extents;
	uint32_t nextents, extents_cap;
	uint32_t compressed_blocks;
	bool ztail_inline;		/* -E ztailpacking: last pcluster after the indexes */
	uint16_t zprofile;		/* index into builder->profiles */
	bool frag_all;			/* -E all-fragments: all data in the packed inode */
	bool hot;			/* on the hot list: stored flat, placed first */
	bool has_fragment;		/* its tail (or all of it) is at frag_off */
	bool is_packed;			/* the packed inode itself */
	uint64_t frag_off;

	/* eroot merge: data left in an input image, an extra device */
	struct bref *ref;

	/* --fingerprint: SHA-256 of the content, taken as it is placed */
	bool fp_done;
	uint8_t fp_digest[32];
};

/*
 * A regular file whose data stays where an input image has it (source/
 * image.c fills it; plan/ decides whether the form fits, else the data is
 * copied after all; write/ encodes it with addresses on the device).
 */
enum bref_kind {
	REF_CHUNKS = 1,			/* chunk indexes naming the device:
					 * chunkbits, nchunks, chunk_addr */
	REF_INLINE,			/* flat-inline: body in the unified space,
					 * @bytes the tail */
	REF_ZMAP,			/* compressed: @bytes the map header,
					 * indexes and inline pcluster, addresses
					 * moved into the unified space */
};
struct bref {
	uint8_t kind;
	uint8_t datalayout;		/* REF_ZMAP: the input's */
	uint16_t device;		/* 1..ndevices */
	uint32_t blkaddr;		/* REF_INLINE: the body's first block */
	uint32_t compressed_blocks;	/* REF_ZMAP */
	uint16_t advise;		/* REF_ZMAP: Z_EROFS_ADVISE_* */
	uint32_t idata_size;		/* REF_ZMAP: inline pcluster bytes */
	uint64_t nlc;			/* REF_ZMAP: index entries */
	uint32_t ebase_mod32;		/* REF_ZMAP: the input's first entry, mod 32
					 * (compact packs start where it says) */
	uint8_t *bytes;
	uint32_t len;
};

/* An extra device: an input image eroot merge refers to. */
struct bdevice {
	char tag[64];			/* SHA-256, lowercase hex, no NUL */
	uint64_t blocks;
	uint64_t uniaddr;		/* set once the image's own size is known */
};

/* How a file is compressed: algorithm, level, physical cluster size. */
struct zprofile {
	const struct codec *codec;
	int level;
	uint32_t pcluster_bytes;	/* -C: largest physical cluster */
	size_t max_in;			/* largest input of one pcluster */
};

/* One physical cluster of a compressed file. */
struct zextent {
	uint64_t la;			/* first decompressed byte */
	uint32_t blkaddr;
	uint16_t blocks;
	bool plain;			/* stored as is (did not shrink) */
	bool inline_tail;		/* kept after the indexes, not in blocks */
	bool fragment;			/* kept in the packed inode */
	bool shared;			/* an earlier file's pcluster: blkaddr
					 * is in the image, not in the file */
};

struct eroot_builder {
	struct eroot_errmsg err;
	struct eroot_build_options opts;
	char *label;
	char *compressor;		/* "ALGO[,LEVEL]", split when checked */
	char *hints_path;
	char *hot_list_path;
	uint8_t uuid[16];
	bool have_uuid;
	unsigned int blkszbits;

	char **exclude_paths;
	size_t nexclude_paths;
	regex_t *exclude_regexes;
	size_t nexclude_regexes;

	struct bnode *root;
	struct bnode **nodes;		/* every inode once; nid order after layout */
	size_t nnodes, nodes_cap;

	struct bxattr *xattrs;
	size_t nxattrs, xattrs_cap;
	uint32_t *xattr_hash;		/* open addressing: index + 1, 0 = empty */
	size_t xattr_hash_cap;

	/* geometry decided by layout.c; meta_blkaddr is where the placer
	 * stopped */
	uint32_t meta_blkaddr;
	uint64_t meta_bytes;		/* inode area, from meta_blkaddr */
	uint32_t xattr_blkaddr;
	uint64_t xattr_bytes;
	uint64_t total_blocks;
	int64_t build_time;
	uint32_t build_time_nsec;
	bool uses_chunks;
	int spill_fd;			/* inline tails waiting for the metadata
					 * (place/placer.c) */

	/* compression (zconfig.c); no profiles for uncompressed images */
	struct zprofile *profiles;
	size_t nprofiles;
	struct zhint *hints;
	size_t nhints;
	size_t root_prefix_len;		/* of src_path, for hint matching */
	/* the hot list (zconfig.c): its paths as read, then the files they
	 * name in the list's order, each once */
	char **hot_paths;
	size_t nhot_paths;
	struct bnode **hot_nodes;
	size_t nhot_nodes;
	/* sources (source/source.h): a directory's root, held open (dir.c);
	 * layered sources' file data waits in the stage file (stage.c),
	 * paths are found through the path index (pathtree.c) */
	int src_root_fd;
	char *stage_dir;
	int stage_fd;
	uint64_t stage_len;
	struct pathtree *ptree;
	uint16_t layers;		/* layered sources added */
	uint32_t profiles_used;		/* bit i: a file kept profile i */
	uint16_t algs_used;		/* bit N: algorithm N in use */
	bool compressed_any;
	bool ztail_any;			/* some tail pcluster is inline */
	bool fragments_any;
	/* fragments: the packed inode, planned last (layout.c); its data
	 * waits in an unnamed file next to the image (place/placer.c) */
	int packed_fd;
	struct bnode *packed;

	/* eroot merge (source/image.c): the inputs as extra devices, their
	 * compression settings (field by field, the largest), and what the
	 * referenced compressed files need of the superblock */
	struct bdevice *devices;
	uint16_t ndevices;
	struct eroot_image **images;	/* the open inputs by layer, until freed */
	uint16_t nimages;
	uint16_t ref_algs;
	uint8_t ref_cfgs[Z_EROFS_COMPRESSION_MAX][14];
	bool ref_ztail;

	/* --fingerprint (tree/fingerprint.c): the name split as the long
	 * prefix table holds it, a short prefix index and an infix */
	char *fp_name;
	uint8_t fp_base;
	const char *fp_infix;

	struct eroot_build_stats stats;
	/* the output's temporary name, "" while it has none (image_file.c) */
	char tmp_path[PATH_MAX];
};

#define BFAIL(b, code, ...) eroot_fail(&(b)->err, (code), __VA_ARGS__)

/* i_u.rdev holds the kernel's 32-bit device number: 12-bit major, 20-bit minor */
#define EROFS_DEV_MAJOR_MAX 0xfffu
#define EROFS_DEV_MINOR_MAX 0xfffffu

static inline const struct zprofile *profile_of(const struct eroot_builder *b,
						const struct bnode *n)
{
	return &b->profiles[n->zprofile];
}

/* Inode plus inline xattrs: where inline data or indexes begin. */
static inline uint32_t inode_base_size(const struct bnode *n)
{
	return (n->extended ? EROFS_INODE_EXTENDED_SIZE : EROFS_INODE_COMPACT_SIZE) +
	       n->ibody_size;
}

static inline bool is_compressed(const struct bnode *n)
{
	return n->datalayout == EROFS_INODE_COMPRESSED_FULL ||
	       n->datalayout == EROFS_INODE_COMPRESSED_COMPACT;
}

static inline uint32_t blksz_of(const struct eroot_builder *b)
{
	return 1u << b->blkszbits;
}

/* options.c: validate options, derive blkszbits */
int builder_check_options(struct eroot_builder *b);

#endif
