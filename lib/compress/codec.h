/* SPDX-License-Identifier: MIT */
/*
 * Compression codecs, one file each, behind one small table.  Encoders fill
 * a fixed-size output (an EROFS physical cluster) with as much input as
 * fits; decoders rebuild exactly the decompressed length the indexes say.
 */
#ifndef EROOT_CODEC_H
#define EROOT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Algorithm ids stored on disk (h_algorithmtype, available_compr_algs). */
enum {
	Z_EROFS_COMPRESSION_LZ4 = 0,
	Z_EROFS_COMPRESSION_LZMA = 1,
	Z_EROFS_COMPRESSION_DEFLATE = 2,
	Z_EROFS_COMPRESSION_ZSTD = 3,
	Z_EROFS_COMPRESSION_MAX
};

struct codec_state;

struct codec {
	const char *name;		/* as given to -z */
	uint8_t alg;			/* Z_EROFS_COMPRESSION_* */
	int min_level, max_level, default_level;
	size_t max_window;		/* largest input per pcluster the kernel takes */
	/*
	 * Prepare an encoder.  @max_in bounds the input of one call (it also
	 * sizes windows and dictionaries).  Returns NULL when out of memory.
	 */
	struct codec_state *(*enc_new)(int level, size_t max_in);
	/*
	 * Compress a prefix of @src (*@src_len bytes available) into at most
	 * @dst_cap bytes.  On return *@src_len is the input used.  Returns the
	 * compressed length, 0 when nothing useful fits, -errno on failure.
	 */
	long (*compress)(struct codec_state *st, const uint8_t *src, size_t *src_len,
			 uint8_t *dst, size_t dst_cap);
	void (*enc_free)(struct codec_state *st);
	/*
	 * Forget what earlier calls taught the encoder (optional).  Called at
	 * each segment's start, so the output never depends on which thread
	 * compressed what before.
	 */
	void (*enc_reset)(struct codec_state *st);
};

/* Per-image decoder parameters, from the superblock's configurations. */
struct codec_params {
	uint32_t lzma_dict_size;	/* 0: the kernel's largest, 8 MiB */
};

/* The kernel's limits on one decode (fs/erofs/erofs_fs.h). */
#define CODEC_LZMA_MAX_DICT	(8u << 20)
#define CODEC_ZSTD_MAX_WINDOW	(1u << 20)

/* Look up a codec by name (NULL if unknown) or by on-disk id. */
const struct codec *codec_by_name(const char *name);
const struct codec *codec_by_alg(unsigned int alg);

/*
 * Decompress @src (@src_len bytes, exactly the stream) into exactly @dst_len
 * bytes.  With @partial the stream may decode to more than @dst_len (a
 * shared pcluster of which this extent uses a prefix): decoding stops
 * there.  Memory beyond @dst is bounded whatever the stream says: LZMA's
 * dictionary is at most min(CODEC_LZMA_MAX_DICT, @dst_len), Zstandard's
 * window at most CODEC_ZSTD_MAX_WINDOW (a larger frame is -EOPNOTSUPP, as
 * in the kernel), DEFLATE's 32 KiB.  Returns 0, -EUCLEAN for corrupt data,
 * -EOPNOTSUPP, -ENOMEM.
 */
int codec_decompress(unsigned int alg, const struct codec_params *p,
		     const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		     bool partial);

/* Search helper for codecs without a native "fill this output" mode. */
typedef long (*codec_try_fn)(struct codec_state *st, const uint8_t *src, size_t len,
			     uint8_t *dst, size_t dst_cap);
long codec_fit_search(struct codec_state *st, codec_try_fn try_fn, const uint8_t *src,
		      size_t *src_len, uint8_t *dst, size_t dst_cap, size_t *guess,
		      uint8_t *scratch, size_t scratch_cap);

/* Each codec file provides these. */
extern const struct codec codec_lz4, codec_lz4hc, codec_lzma, codec_deflate, codec_zstd;
int lz4_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		   bool partial);
int lzma_decompress(const struct codec_params *p, const uint8_t *src, size_t src_len,
		    uint8_t *dst, size_t dst_len, bool partial);
int deflate_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		       bool partial);
int zstd_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		    bool partial);

#endif
