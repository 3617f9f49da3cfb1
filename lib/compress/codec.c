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
		     const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		     bool partial)
{
	switch (alg) {
	case Z_EROFS_COMPRESSION_LZ4:
		return lz4_decompress(src, src_len, dst, dst_len, partial);
	case Z_EROFS_COMPRESSION_LZMA:
		return lzma_decompress(p, src, src_len, dst, dst_len, partial);
	case Z_EROFS_COMPRESSION_DEFLATE:
		return deflate_decompress(src, src_len, dst, dst_len, partial);
	case Z_EROFS_COMPRESSION_ZSTD:
		return zstd_decompress(src, src_len, dst, dst_len, partial);
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * A long prefix of @src whose compressed form fits @dst_cap, for codecs
 * that cannot stop at an output size themselves.  Each try compresses into
 * @scratch (big enough for anything) and so measures the exact size; the
 * next length is predicted from that ratio, so a pcluster usually takes
 * two or three tries.  It starts from @guess (the previous pcluster's
 * input, reset at each segment), which keeps the result independent of
 * anything but the segment's own data.
 */
long codec_fit_search(struct codec_state *st, codec_try_fn try_fn, const uint8_t *src,
		      size_t *src_len, uint8_t *dst, size_t dst_cap, size_t *guess,
		      uint8_t *scratch, size_t scratch_cap)
{
	const size_t margin = 8, close = 16;
	size_t avail = *src_len, n, best_n = 0;
	long best = 0;

	n = *guess ? *guess : 4 * dst_cap;
	if (n > avail)
		n = avail;
	for (int tries = 0; tries < 10 && n; tries++) {
		long c = try_fn(st, src, n, scratch, scratch_cap);
		size_t next;

		if (c <= 0)
			return c < 0 ? c : 0;
		if ((size_t)c <= dst_cap) {
			if (n > best_n) {
				best_n = n;
				best = c;
				memcpy(dst, scratch, (size_t)c);
			}
			if (n == avail)
				break;
			next = (size_t)((double)n * (double)(dst_cap - margin) / (double)c);
			if (next > avail)
				next = avail;
			if (next <= n + close)
				break;
		} else {
			next = (size_t)((double)n * (double)(dst_cap > margin ? dst_cap - margin : dst_cap) /
					(double)c);
			if (next >= n)
				next = n > 256 ? n - 256 : 0;
			if (best_n && next <= best_n + close)
				break;
		}
		n = next;
	}
	*src_len = best_n;
	*guess = best_n;
	return best;
}
