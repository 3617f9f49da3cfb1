/* SPDX-License-Identifier: MIT */
/*
 * Placing data: file data copied flat, compressed by worker threads,
 * packed as fragments or shared with an earlier equal file; then directory
 * and symlink blocks.  A file's form is decided (plan/) before any of its
 * bytes are placed; the placer hands out blocks only forward.
 */
#ifndef EROOT_BUILDER_PLACE_H
#define EROOT_BUILDER_PLACE_H

#include "builder/builder.h"

/* placer.c: the data cursor and the ends of the spill and packed files,
 * each only moved forward */
struct placer;
/* Data from block @first_block on; the spill file, and the packed file when
 * the plan has a packed inode, next to @image. */
int placer_new(struct eroot_builder *b, int fd, void *hash, const char *image,
	       uint64_t first_block, struct placer **out);
void placer_free(struct placer *pl);
/* The next @blocks blocks of the data area, from *@first. */
int placer_reserve(struct placer *pl, uint64_t blocks, uint32_t *first);
/* Write into blocks reserved before (image byte @to); not hashed.  The
 * image starts empty and each block is handed out once, so what a write
 * leaves of a block stays zero (the kernel reads a directory's last name
 * up to the end of its block). */
int placer_write(struct placer *pl, const void *data, size_t len, uint64_t to);
/* The UUID hash: data in the order it is produced, kept or not (build.c). */
void placer_hash(struct placer *pl, const void *data, size_t len);
/* The first block after the data: where the metadata goes. */
uint64_t placer_end(const struct placer *pl);
/* The image's directory, where temporary files may grow large. */
const char *placer_dir(const struct placer *pl);
/* @n's inline tail, for the metadata (n->tail_spill). */
int placer_spill(struct placer *pl, struct bnode *n, const void *data, uint32_t len);
/* Append to the packed inode's data; *@at is where it landed. */
int placer_pack(struct placer *pl, const void *data, size_t len, uint64_t *at);
uint64_t placer_packed_len(const struct placer *pl);

/* dirs.c: directory and symlink blocks (not inline), after the nids */
int place_dir_blocks(struct eroot_builder *b, struct placer *pl);

/* write_data.c: regular files' data, file after file in nid order; the
 * packed inode last */
struct copy {
	struct eroot_builder *b;
	struct placer *pl;
	struct bnode *n;
	int src;
	uint64_t base;			/* of the file's data in src */
	uint8_t *buf;			/* COPY_BUF bytes */
	uint64_t done, total;		/* progress, in source bytes */
	struct zpipe *zpipe;		/* compression, when -z */
	struct dedupe *dedupe;		/* dedupe: digests of earlier files */
	struct fragments *frags;	/* fragments: the pieces packed so far */
	struct zshare *zshare;		/* dedupe: pclusters of earlier files */
	void *fp_md;			/* fingerprint.c: SHA-256 state */
	bool fp_on;			/* copy_range() feeds it */
};

#define COPY_BUF (1u << 20)

/* Whole files equal to an earlier one share its data under -E dedupe, and
 * under -E fragments too: mkfs.erofs shares a file whose data its packed
 * inode already holds, so -E fragments users expect copies to cost nothing. */
static inline bool dedupes_files(const struct eroot_builder *b)
{
	return b->opts.dedupe || b->opts.fragments;
}

int place_file_data(struct eroot_builder *b, struct placer *pl);

/* fingerprint.c: --fingerprint digests (n->fp_digest) */
/* Hash what copy_range() and fp_update() see from now on, until finished. */
int fp_start(struct copy *c);
void fp_update(struct copy *c, const void *data, size_t len);
void fp_finish(struct copy *c, struct bnode *n);
/* Read @n whole, once more, for its digest. */
int fp_read_file(struct copy *c, struct bnode *n);
/* ... or of a file whose data stays in an input image (eroot merge). */
int fp_read_ref(struct copy *c, struct bnode *n);
void fp_free(struct copy *c);

/* copy.c: reading the source */
int read_source(struct copy *c, uint64_t off, void *buf, size_t len);
void progress(struct copy *c, uint64_t bytes);
/* Copy @len source bytes at @off into reserved blocks at image byte @to;
 * @hash: into the UUID hash too; @count: as progress; @check: XXH3-64
 * state the bytes go to (NULL: none). */
int copy_range(struct copy *c, uint64_t off, uint64_t len, uint64_t to, bool hash,
	       bool count, void *check);

/* flat.c: data stored as it is */
/* Flat layout: full blocks, the tail to the spill file; shared with an
 * earlier equal file under -E dedupe.  @counted: progress told already. */
int place_flat(struct copy *c, struct bnode *n, bool counted);
/* Chunk-based (sparse) files: chunks with data, holes left out. */
int place_chunks(struct copy *c, struct bnode *n);

/* dedupe.c: whole-file deduplication (-E dedupe), decided before placing */
/* SHA-256 of @n's content as read from the source (flat and all-fragments
 * files), and its XXH3-64 in *@check; the body (n->size - n->tail_len
 * bytes) goes on the way to the UUID hash (@uuid_body) and to the image at
 * byte *@to (@to not NULL).  A file that fits c->buf stays there. */
int dedupe_digest_source(struct copy *c, struct bnode *n, bool uuid_body, const uint64_t *to,
			 uint8_t *digest, uint64_t *check);
/* Whether an earlier file had @n's size (else @n repeats none). */
bool dedupe_may_repeat(const struct copy *c, const struct bnode *n);
/* The earlier file whose data can serve @n, or NULL (then @n is the first
 * of its content, remembered). */
int dedupe_lookup(struct copy *c, struct bnode *n, const uint8_t *digest,
		  const struct bnode **twin);
/* @n takes @twin's blocks, pclusters or fragment. */
int dedupe_share(struct eroot_builder *b, struct bnode *n, const struct bnode *twin);
void dedupe_free(struct copy *c);

/* zshare.c: pclusters shared across files (-E dedupe) */
struct zshare_digest {
	uint64_t lo, hi;		/* XXH3-128 of the pcluster's input */
	uint32_t len;			/* input bytes */
};
struct zseg;
/* On a worker: the digest of @len input bytes at @in for the extent just
 * added to @s. */
int zshare_note(const struct eroot_builder *b, struct zseg *s, const uint8_t *in, size_t len);
/* On the writer, for each segment of the current file in order, before its
 * extents are taken: pclusters equal to one of an earlier file (absolute
 * blkaddr, zextent.shared) or an earlier one of this file point at it and
 * leave @s->out, which is compacted; the others are noted, @file_blocks
 * being the file's blocks so far.  A file with shared pclusters gets full
 * indexes. */
int zshare_segment(struct copy *c, struct zseg *s, uint64_t file_blocks);
/* @n is placed compressed from block @first: its own pclusters register
 * (else they are forgotten when the next file's are noted). */
void zshare_commit(struct copy *c, const struct bnode *n, uint32_t first);
void zshare_free(struct copy *c);

/* fragments.c: pieces of files gathered for the packed inode */
/* A whole file (all-fragments, or no larger than a pcluster) into it. */
int place_all_fragment(struct copy *c, struct bnode *n);
/* @len bytes of @n's (its final extent, or all of it) into it, unless an
 * equal piece is there already; n->frag_off: where, until sorted. */
int fragment_pack(struct copy *c, struct bnode *n, const uint8_t *data, size_t len);
/* Every piece is in: lay them out sorted by name, move every frag_off to
 * match, and give the packed inode's *@size. */
int fragments_order(struct copy *c, uint64_t *size);
void fragments_free(struct copy *c);

/* compress_file.c: one fixed-size segment of a file into pclusters, on a
 * worker thread */
struct zworker {			/* what one compressing thread owns */
	struct codec_state **states;	/* per profile, made when first needed */
	uint8_t *in;			/* a segment of input */
	uint8_t *zout;			/* one pcluster of output */
};

struct zseg {
	struct bnode *n;
	uint64_t start, len;		/* input range */
	int state;			/* zpipe.c: pending, claimed, done */
	uint64_t mem;			/* zpipe.c: its buffers' bytes, counted */
	/* result: blocks, and extents with block numbers from 0 */
	uint8_t *out;
	uint64_t out_blocks;
	struct zextent *ext;
	uint32_t next, cap;
	uint8_t digest[32];		/* SHA-256 of the input, for dedupe */
	struct zshare_digest *pdig;	/* dedupe: per extent, its input's */
	uint32_t pdig_cap;
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

/* zfile.c: a compressed file's segments, held until its form is decided,
 * then placed */
int place_compressed(struct copy *c, struct bnode *n);

/* zpipe.c: segments compressed ahead, by worker threads, taken in order,
 * as many as a budget of input bytes allows (opts.pipeline_bytes) */
struct zpipe;
uint64_t zpipe_segment_bytes(const struct zprofile *p);
int zpipe_new(struct eroot_builder *b, struct zpipe **out);
/* The next segment, which must belong to @n; NULL when out of step.  It
 * stays in its slot, counted against the budget, until released; at most
 * 2 may be taken and not released when taking the next. */
struct zseg *zpipe_take(struct zpipe *p, struct bnode *n);
/* Free the oldest segment taken, for its slot to be refilled. */
void zpipe_release(struct zpipe *p);
/* The packed inode's size is final: its segments may be queued. */
void zpipe_packed_sized(struct zpipe *p);
void zpipe_free(struct zpipe *p);

#endif
