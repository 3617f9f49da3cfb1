/* SPDX-License-Identifier: MIT */
/*
 * Placing file data: copied flat, compressed by worker threads, packed
 * as fragments, or shared with an earlier equal file.
 */
#ifndef EROOT_BUILDER_PLACE_H
#define EROOT_BUILDER_PLACE_H

#include "builder/builder.h"

struct copy;

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
int spill_tail(struct copy *c, struct bnode *n, const void *data, uint32_t len);
/* Flat layout: full blocks at the cursor, the tail to the spill file. */
int copy_flat(struct copy *c, struct bnode *n);

/* fragments.c: tails or whole files in the packed inode */
int packed_open(struct eroot_builder *b, const char *image);
int packed_append(struct eroot_builder *b, struct bnode *n, const void *data, size_t len);
int copy_to_packed(struct copy *c, struct bnode *n);
int packed_add_inode(struct eroot_builder *b);
void packed_close(struct eroot_builder *b);

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



#endif
