// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "codec.h"

static const struct codec *const codecs[] = {
	&codec_lz4, &codec_lz4hc, &codec_lzma, &codec_deflate, &codec_zstd,
};

const struct codec *codec_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (!strcmp(codecs[i]->name, name))
			return codecs[i];
	return NULL;
}

const struct codec *codec_by_alg(unsigned int alg)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i]->alg == alg)
			return codecs[i];
	return NULL;
}

int codec_decompress(unsigned int alg, const struct codec_params *p,
		     const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
	switch (alg) {
	case Z_EROFS_COMPRESSION_LZ4:
		return lz4_decompress(src, src_len, dst, dst_len);
	case Z_EROFS_COMPRESSION_LZMA:
		return lzma_decompress(p, src, src_len, dst, dst_len);
	case Z_EROFS_COMPRESSION_DEFLATE:
		return deflate_decompress(src, src_len, dst, dst_len);
	case Z_EROFS_COMPRESSION_ZSTD:
		return zstd_decompress(src, src_len, dst, dst_len);
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * Largest prefix of @src (to 256 bytes) whose compressed form fits @dst_cap.
 * Starts at @guess (the previous pcluster's input), gallops away from it,
 * then bisects, so similar data costs few tries per pcluster.
 */
long codec_fit_search(struct codec_state *st, codec_try_fn try_fn, const uint8_t *src,
		      size_t *src_len, uint8_t *dst, size_t dst_cap, size_t *guess)
{
	size_t lo = 0, hi = *src_len, n, step = 1024, last_ok = 0;
	long r, last_r = 0;

	r = try_fn(st, src, hi, dst, dst_cap);		/* all of it? */
	if (r)
		return r < 0 ? r : (*guess = hi, r);
	n = *guess && *guess < hi ? *guess : hi / 2;
	while (hi - lo > 256) {
		r = try_fn(st, src, n, dst, dst_cap);
		if (r < 0)
			return r;
		if (r > 0) {
			lo = n;
			last_ok = n;
			last_r = r;
			n = n + step < hi ? n + step : lo + (hi - lo) / 2;
		} else {
			hi = n;
			n = n > lo + step ? n - step : lo + (hi - lo) / 2;
		}
		step *= 2;
		if (n <= lo || n >= hi)
			n = lo + (hi - lo) / 2;
	}
	if (!lo)
		return 0;
	if (last_ok != lo || r <= 0)	/* @dst holds a later, failed try */
		last_r = try_fn(st, src, lo, dst, dst_cap);
	if (last_r <= 0)
		return last_r < 0 ? last_r : 0;
	*src_len = lo;
	*guess = lo;
	return last_r;
}
