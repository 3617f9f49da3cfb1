// SPDX-License-Identifier: MIT
/* Zstandard frames through libzstd; pclusters are filled by search. */
#include <errno.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"

struct codec_state {
	ZSTD_CCtx *cctx;
	size_t guess;
	uint8_t *scratch;		/* room for any one compression */
	size_t scratch_cap;
};

static struct codec_state *zstd_enc_new(int level, size_t max_in)
{
	struct codec_state *st = calloc(1, sizeof(*st));
	int wlog = 10;

	if (!st)
		return NULL;
	st->cctx = ZSTD_createCCtx();
	st->scratch_cap = ZSTD_compressBound(max_in);
	st->scratch = malloc(st->scratch_cap);
	if (!st->cctx || !st->scratch) {
		ZSTD_freeCCtx(st->cctx);
		free(st->scratch);
		free(st);
		return NULL;
	}
	while (((size_t)1 << wlog) < max_in)
		wlog++;
	ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_windowLog, wlog);
	/* the pcluster boundaries say where a frame ends: no checksum */
	ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_checksumFlag, 0);
	return st;
}

static long zstd_try(struct codec_state *st, const uint8_t *src, size_t len,
		     uint8_t *dst, size_t dst_cap)
{
	size_t n = ZSTD_compress2(st->cctx, dst, dst_cap, src, len);

	if (!ZSTD_isError(n))
		return (long)n;
	return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
}

static long zstd_compress(struct codec_state *st, const uint8_t *src, size_t *src_len,
			  uint8_t *dst, size_t dst_cap)
{
	return codec_fit_search(st, zstd_try, src, src_len, dst, dst_cap, &st->guess,
				st->scratch, st->scratch_cap);
}

static void zstd_enc_free(struct codec_state *st)
{
	if (st) {
		ZSTD_freeCCtx(st->cctx);
		free(st->scratch);
	}
	free(st);
}

static void zstd_enc_reset(struct codec_state *st)
{
	st->guess = 0;
}

const struct codec codec_zstd = {
	.name = "zstd", .alg = Z_EROFS_COMPRESSION_ZSTD,
	.min_level = 1, .max_level = 22, .default_level = 3,
	.max_window = 1u << 20,
	.enc_new = zstd_enc_new, .compress = zstd_compress, .enc_free = zstd_enc_free,
	.enc_reset = zstd_enc_reset,
};

/*
 * Streamed as the kernel does, with its window limit, so a frame cannot
 * make us allocate more; decoding stops when the output is full (the frame
 * may go on: a shared pcluster).
 */
int zstd_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		    bool partial)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { src, src_len, 0 };
	ZSTD_outBuffer out = { dst, dst_len, 0 };
	int err = 0;

	(void)partial;
	if (!d)
		return -ENOMEM;
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 20);	/* CODEC_ZSTD_MAX_WINDOW */
	while (out.pos < out.size) {
		size_t n = ZSTD_decompressStream(d, &out, &in);

		if (ZSTD_isError(n)) {
			err = ZSTD_getErrorCode(n) == ZSTD_error_frameParameter_windowTooLarge ?
			      -EOPNOTSUPP : ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ?
			      -ENOMEM : -EUCLEAN;
			break;
		}
		/* the frame ended, or wants input that is not there */
		if (out.pos < out.size && (!n || in.pos == in.size)) {
			err = -EUCLEAN;
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return err;
}
