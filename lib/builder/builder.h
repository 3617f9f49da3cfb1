/* SPDX-License-Identifier: MIT */
/*
 * Internal state of the builder.  A build has three stages:
 *  1. a source (scan_dir.c) fills an in-memory tree of nodes (tree.c) and
 *     the table of distinct xattrs (xattrs.c);
 *  2. layout.c decides every inode's form, nid, data blocks and the
 *     image's geometry;
 *  3. write_data.c copies file data and write_meta.c encodes inodes,
 *     directories, shared xattrs and the superblock (image_file.c owns
 *     the temporary file and the final rename).
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
	uint64_t src_dev, src_ino;	/* directory sources: the file the scan saw */
	struct timespec src_mtime;
	char *link_target;		/* symlinks */
	bool sparse;			/* regular file with holes */
	bool staged;			/* data in the stage file, at src_off */
	uint64_t src_off;

	/* archive sources (pathtree.c) */
	bool implicit;			/* a parent no entry described (yet) */
	bool opaque;			/* overlayfs opaque directory */
	uint16_t layer;			/* the archive that added it */

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

	/* compressed files, filled by compress_file.c */
	struct zextent *extents;
	uint32_t nextents, extents_cap;
	uint32_t compressed_blocks;
	bool ztail_inline;		/* -E ztailpacking: last pcluster after the indexes */
	uint16_t zprofile;		/* index into builder->profiles */
	bool frag_all;			/* -E all-fragments: all data in the packed inode */
	bool has_fragment;		/* its tail (or all of it) is at frag_off */
	bool is_packed;			/* the packed inode itself */
	uint64_t frag_off;
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
};

struct eroot_builder {
	struct eroot_errmsg err;
	struct eroot_build_options opts;
	char *label;
	char *compressor;		/* "ALGO[,LEVEL]", split when checked */
	char *hints_path;
	uint8_t uuid[16];
	bool have_uuid;
	unsigned int blkszbits;

	char **exclude_paths;
	size_t nexclude_paths;
	regex_t *exclude_regexes;
	size_t nexclude_regexes;

	struct bnode *root;
	int src_root_fd;		/* directory source: its root, held open */
	struct bnode **nodes;		/* every inode once; nid order after layout */
	size_t nnodes, nodes_cap;

	struct bxattr *xattrs;
	size_t nxattrs, xattrs_cap;
	uint32_t *xattr_hash;		/* open addressing: index + 1, 0 = empty */
	size_t xattr_hash_cap;

	/* geometry decided by layout.c */
	uint32_t meta_blkaddr;
	uint64_t meta_bytes;		/* inode area, from meta_blkaddr */
	uint32_t xattr_blkaddr;
	uint64_t xattr_bytes;
	uint64_t total_blocks;
	int64_t build_time;
	uint32_t build_time_nsec;
	bool uses_chunks;
	uint64_t data_cursor;		/* next free block while data is written */
	int spill_fd;			/* inline tails waiting for the metadata */
	uint64_t spill_len;

	/* compression (zconfig.c); no profiles for uncompressed images */
	struct zprofile *profiles;
	size_t nprofiles;
	struct zhint *hints;
	size_t nhints;
	size_t root_prefix_len;		/* of src_path, for hint matching */
	/* archive sources: file data waits in the stage file (stage.c);
	 * paths are found through the path index (pathtree.c) */
	char *stage_dir;
	int stage_fd;
	uint64_t stage_len;
	struct pathtree *ptree;
	uint16_t layers;		/* archives added */
	uint32_t profiles_used;		/* bit i: a file kept profile i */
	uint16_t algs_used;		/* bit N: algorithm N in use */
	bool compressed_any;
	bool ztail_any;			/* some tail pcluster is inline */
	bool fragments_any;
	/* fragments.c */
	int packed_fd;			/* unnamed, next to the image */
	uint64_t packed_len;
	struct bnode *packed;		/* the packed inode, once added */

	struct eroot_build_stats stats;
	/* the output's temporary name, "" while it has none (image_file.c) */
	char tmp_path[PATH_MAX];
};

#define BFAIL(b, code, ...) eroot_fail(&(b)->err, (code), __VA_ARGS__)

/* i_u.rdev holds the kernel's 32-bit device number: 12-bit major, 20-bit minor */
#define EROFS_DEV_MAJOR_MAX 0xfffu
#define EROFS_DEV_MINOR_MAX 0xfffffu

struct copy;

/* fragments.c: tails or whole files in the packed inode */
bool uses_fragments(const struct eroot_builder *b);
int packed_open(struct eroot_builder *b, const char *image);
int packed_append(struct eroot_builder *b, struct bnode *n, const void *data, size_t len);
int copy_to_packed(struct copy *c, struct bnode *n);
int packed_add_inode(struct eroot_builder *b);
void packed_close(struct eroot_builder *b);

/* zconfig.c: compression profiles, hints, superblock configurations */
int zconfig_init(struct eroot_builder *b);
uint16_t zconfig_profile_of(const struct eroot_builder *b, const struct bnode *n);
void zconfig_free(struct eroot_builder *b);

static inline const struct zprofile *profile_of(const struct eroot_builder *b,
						const struct bnode *n)
{
	return &b->profiles[n->zprofile];
}

/* options.c: validate options, derive blkszbits */
int builder_check_options(struct eroot_builder *b);

/* tree.c */
struct bnode *tree_new_node(struct eroot_builder *b);
int tree_add_entry(struct eroot_builder *b, struct bnode *dir,
		   const char *name, struct bnode *node);
void tree_sort_entries(struct bnode *dir);
void tree_free_node(struct eroot_builder *b, struct bnode *n);
void tree_free(struct eroot_builder *b);

/* stage.c: archive file data on disk, read back like a source file */
int stage_begin(struct eroot_builder *b, struct bnode *n, bool sparse);
int stage_write(struct eroot_builder *b, struct bnode *n, const void *data, size_t len,
		uint64_t off);
int stage_end(struct eroot_builder *b, struct bnode *n, uint64_t size);
void stage_close(struct eroot_builder *b);

/* source.c: where @n's data is read from: a descriptor and the offset of
 * byte 0.  A source file is opened beneath the source's root without
 * following any symlink, and must still be the file the scan saw: -ESTALE
 * otherwise. */
int source_open(const struct eroot_builder *b, const struct bnode *n, int *fd, uint64_t *base);
void source_close(const struct eroot_builder *b, int fd);
/* Words for a source_open() error. */
const char *source_strerror(int err);

/* pathtree.c: the tree by path, for archive sources, whose entries come
 * in any order, and later ones replace earlier ones */
enum {
	PT_DOTDOT_OK = 1,		/* ".." climbs (to the root at most) */
	PT_MAKE_PARENTS = 2,		/* missing parents become directories */
};
struct pt_where {
	struct bnode *dir;		/* parent; NULL for the root itself */
	const char *name;
	size_t len;
	struct bnode *node;		/* what is there now, or NULL */
};
int pathtree_begin(struct eroot_builder *b);
const char *pathtree_relative(const char *path);
/* Find @path's parent; -ENOENT/-ENOTDIR/-ELOOP/-EPERM (".." refused). */
int pathtree_resolve(struct eroot_builder *b, const char *path, int flags, int64_t mtime,
		     struct pt_where *w);
struct bnode *pathtree_lookup(struct eroot_builder *b, struct bnode *dir,
			      const char *name, size_t len);
int pathtree_link(struct eroot_builder *b, struct pt_where *w, struct bnode *node);
void pathtree_unlink(struct eroot_builder *b, struct pt_where *w);
bool pathtree_dir_empty(const struct bnode *dir);
struct bnode *pathtree_new_dir(struct eroot_builder *b, struct bnode *parent);
/* Before layout: entries compacted and sorted, unreachable nodes freed. */
int pathtree_finish(struct eroot_builder *b);
void pathtree_free(struct eroot_builder *b);

/* acl_xattr.c */
struct archive_entry;
/* POSIX ACLs of a libarchive entry as system.posix_acl_* xattrs (if
 * @store), and the mode's group bits from the ACL mask. */
int acl_to_xattrs(struct eroot_builder *b, struct bnode *n, struct archive_entry *e,
		  bool store);
/* A raw ACL xattr value the kernel can read (version 2, known tags). */
bool acl_xattr_valid(const uint8_t *value, size_t len);

/* exclude.c */
bool exclude_match(const struct eroot_builder *b, const char *relpath);
void exclude_free(struct eroot_builder *b);

/* xattrs.c */
int xattrs_add(struct eroot_builder *b, struct bnode *node, const char *name,
	       const void *value, size_t len);
void xattrs_finish_node(struct eroot_builder *b, struct bnode *node);
/* Forget @node's xattrs (it is replaced or dropped). */
void xattrs_drop_node(struct eroot_builder *b, struct bnode *node);
/* Choose shared entries, give them ids; returns the shared area size. */
uint64_t xattrs_plan_shared(struct eroot_builder *b);
/* Inline xattr bytes of @node (0 if none), after xattrs_plan_shared(). */
uint32_t xattrs_ibody_size(const struct eroot_builder *b, const struct bnode *node);
void xattrs_encode_ibody(const struct eroot_builder *b, const struct bnode *node,
			 uint8_t *out);
void xattrs_encode_shared(const struct eroot_builder *b, uint8_t *out);
void xattrs_free(struct eroot_builder *b);

/* layout.c: forms before the data is written, nids after */
int layout_prepare(struct eroot_builder *b);
int layout_metadata(struct eroot_builder *b);
void layout_plan_flat(struct eroot_builder *b, struct bnode *n);
uint32_t dir_encoded_size(const struct eroot_builder *b, const struct bnode *dir);

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

/* zindex.c: compression indexes, compact where the block size allows */
bool zindex_compact(const struct eroot_builder *b);
/* Record size of a compressed inode whose inode and xattrs take @base. */
uint64_t zindex_size(const struct eroot_builder *b, uint64_t base, uint64_t size);
int zindex_encode(struct eroot_builder *b, const struct bnode *n, uint8_t *inode_at);

/* write_meta.c */
void encode_dir(const struct eroot_builder *b, const struct bnode *dir, uint8_t *out);
int write_metadata(struct eroot_builder *b, int fd, void *hash_state);

/* write_data.c: file data from the source to the image, at the cursor */
struct copy {
	struct eroot_builder *b;
	struct bnode *n;
	int src, dst;
	uint64_t base;			/* of the file's data in src */
	uint8_t *buf;			/* COPY_BUF bytes */
	void *hash;
	uint64_t done, total;		/* progress, in source bytes */
	struct zpipe *zpipe;		/* compression, when -z */
	struct evp_md_ctx_st *md;	/* dedupe: digest of the current file */
	struct dedupe *dedupe;		/* dedupe: digests of earlier files */
};

/* dedupe.c: whole-file deduplication (-E dedupe) */
int dedupe_begin(struct copy *c);
void dedupe_update(struct copy *c, const void *data, size_t len);
/* After @n's data went out from block @first: share an earlier copy? */
int dedupe_finish(struct copy *c, struct bnode *n, uint64_t first);
void dedupe_free(struct copy *c);

int write_file_data(struct eroot_builder *b, int fd, void *hash_state);
int read_source(struct copy *c, uint64_t off, void *buf, size_t len);
/* Write @len bytes at image byte @to, hashing them for the UUID. */
int emit(struct copy *c, const void *data, size_t len, uint64_t to);
void progress(struct copy *c, uint64_t bytes);
int zero_block_tail(struct eroot_builder *b, int fd, uint64_t end);
int spill_tail(struct copy *c, struct bnode *n, const void *data, uint32_t len);
/* Flat layout: full blocks at the cursor, the tail to the spill file. */
int copy_flat(struct copy *c, struct bnode *n);

/* compress_file.c: one fixed-size segment of a file into pclusters */
struct zworker {			/* what one compressing thread owns */
	struct codec_state **states;	/* per profile, made when first needed */
	uint8_t *in;			/* a segment of input */
	uint8_t *zout;			/* one pcluster of output */
};

struct zseg {
	struct bnode *n;
	uint64_t start, len;		/* input range */
	int state;			/* zpipe.c: pending, claimed, done */
	/* result: blocks, and extents with block numbers from 0 */
	uint8_t *out;
	uint64_t out_blocks;
	struct zextent *ext;
	uint32_t next, cap;
	uint8_t digest[32];		/* SHA-256 of the input, for dedupe */
	/* -E ztailpacking: the file's last logical cluster, compressed apart */
	uint8_t *tail;
	uint32_t tail_len;
	bool tail_plain;
	int err;
	char errmsg[320];
};

int compress_segment(const struct eroot_builder *b, struct zworker *w, struct zseg *s);
struct codec_state *zworker_state(const struct eroot_builder *b, struct zworker *w,
				  uint16_t profile);
void zseg_release(struct zseg *s);
int place_segment(struct copy *c, struct bnode *n, struct zseg *s);
int finish_compressed(struct copy *c, struct bnode *n, uint64_t first, uint64_t done);

/* zpipe.c: segments compressed ahead, by worker threads, taken in order */
struct zpipe;
uint64_t zpipe_segment_bytes(const struct zprofile *p);
int zpipe_new(struct eroot_builder *b, struct zpipe **out);
/* The next segment, which must belong to @n; NULL when out of memory. */
struct zseg *zpipe_take(struct zpipe *p, struct bnode *n);
void zpipe_release(struct zpipe *p);
void zpipe_free(struct zpipe *p);

/* Compression configuration records that follow the superblock. */
size_t compr_cfgs_encode(const struct eroot_builder *b, uint8_t *out);

/* image_file.c */
/* An unnamed read-write file in @dir (O_TMPFILE, or named and unlinked at
 * once); a descriptor, or a negative errno. */
int unnamed_tmpfile(const char *dir);
/* The directory part of @path ("." if none); NULL when out of memory. */
char *image_dir(const char *path);
/* The output, unnamed or, where O_TMPFILE is missing, under the temporary
 * name b->tmp_path; then committed to @path, or aborted. */
int image_file_create(struct eroot_builder *b, const char *path, int *fd);
int image_file_commit(struct eroot_builder *b, int fd, const char *path);
void image_file_abort(struct eroot_builder *b, int fd);
int pwrite_all(struct eroot_builder *b, int fd, const void *buf, size_t len, uint64_t off);

static inline uint32_t blksz_of(const struct eroot_builder *b)
{
	return 1u << b->blkszbits;
}

#endif
