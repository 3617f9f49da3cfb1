// SPDX-License-Identifier: MIT
/* LZ4 and LZ4HC through liblz4, whose destSize modes fill a pcluster. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <lz4.h>
#include <lz4hc.h>

#include "codec.h"

struct codec_state {
	int level;			/* 0: fast LZ4 */
	void *hc_state;
};

static struct codec_state *lz4_new(int level, size_t max_in, int hc)
{
	struct codec_state *st = calloc(1, sizeof(*st));

	(void)max_in;
	if (!st)
		return NULL;
	st->level = hc ? level : 0;
	if (hc && !(st->hc_state = malloc((size_t)LZ4_sizeofStateHC()))) {
		free(st);
		return NULL;
	}
	return st;
}

static struct codec_state *lz4_enc_new(int level, size_t max_in)
{
	return lz4_new(level, max_in, 0);
}

static struct codec_state *lz4hc_enc_new(int level, size_t max_in)
{
	return lz4_new(level, max_in, 1);
}

static long lz4_compress(struct codec_state *st, const uint8_t *src, size_t *src_len,
			 uint8_t *dst, size_t dst_cap)
{
	int in = *src_len > INT_MAX ? INT_MAX : (int)*src_len, out;

	if (st->hc_state)
		out = LZ4_compress_HC_destSize(st->hc_state, (const char *)src, (char *)dst,
					       &in, (int)dst_cap, st->level);
	else
		out = LZ4_compress_destSize((const char *)src, (char *)dst, &in, (int)dst_cap);
	if (out <= 0)
		return 0;
	*src_len = (size_t)in;
	return out;
}

static void lz4_free(struct codec_state *st)
{
	if (st)
		free(st->hc_state);
	free(st);
}

const struct codec codec_lz4 = {
	.name = "lz4", .alg = Z_EROFS_COMPRESSION_LZ4,
	.min_level = 0, .max_level = 0, .default_level = 0,
	.max_window = 4u << 20,
	.enc_new = lz4_enc_new, .compress = lz4_compress, .enc_free = lz4_free,
};

const struct codec codec_lz4hc = {
	.name = "lz4hc", .alg = Z_EROFS_COMPRESSION_LZ4,
	.min_level = 1, .max_level = LZ4HC_CLEVEL_MAX, .default_level = 9,
	.max_window = 4u << 20,
	.enc_new = lz4hc_enc_new, .compress = lz4_compress, .enc_free = lz4_free,
};

int lz4_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		   bool partial)
{
	int n;

	if (src_len > INT_MAX || dst_len > INT_MAX)
		return -EUCLEAN;
	if (partial)
		n = LZ4_decompress_safe_partial((const char *)src, (char *)dst, (int)src_len,
						(int)dst_len, (int)dst_len);
	else
		n = LZ4_decompress_safe((const char *)src, (char *)dst, (int)src_len,
					(int)dst_len);
	return n == (int)dst_len ? 0 : -EUCLEAN;
}
