// SPDX-License-Identifier: MIT
/* LZMA as the kernel reads it: MicroLZMA streams through liblzma. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <lzma.h>

#include "codec.h"

struct codec_state {
	lzma_options_lzma opt;
	lzma_stream strm;
};

static struct codec_state *lzma_enc_new(int level, size_t max_in)
{
	struct codec_state *st = calloc(1, sizeof(*st));
	uint32_t dict = 4096;

	if (!st)
		return NULL;
	if (lzma_lzma_preset(&st->opt, (uint32_t)(level > 9 ? 9 : level) |
			     (level > 9 ? LZMA_PRESET_EXTREME : 0))) {
		free(st);
		return NULL;
	}
	/* a dictionary beyond one pcluster's input buys nothing */
	while (dict < max_in)
		dict <<= 1;
	st->opt.dict_size = dict;
	st->strm = (lzma_stream)LZMA_STREAM_INIT;
	return st;
}

static long lzma_compress(struct codec_state *st, const uint8_t *src, size_t *src_len,
			  uint8_t *dst, size_t dst_cap)
{
	lzma_ret ret = lzma_microlzma_encoder(&st->strm, &st->opt);

	if (ret != LZMA_OK)
		return ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
	st->strm.next_in = src;
	st->strm.avail_in = *src_len;
	st->strm.next_out = dst;
	st->strm.avail_out = dst_cap;
	ret = lzma_code(&st->strm, LZMA_FINISH);
	if (ret != LZMA_STREAM_END)
		return ret == LZMA_MEM_ERROR ? -ENOMEM : -EIO;
	*src_len = (size_t)st->strm.total_in;
	return (long)st->strm.total_out;
}

static void lzma_enc_free(struct codec_state *st)
{
	if (st)
		lzma_end(&st->strm);
	free(st);
}

const struct codec codec_lzma = {
	.name = "lzma", .alg = Z_EROFS_COMPRESSION_LZMA,
	.min_level = 0, .max_level = 109, .default_level = 6,
	.max_window = 4u << 20,
	.enc_new = lzma_enc_new, .compress = lzma_compress, .enc_free = lzma_enc_free,
};

int lzma_decompress(const struct codec_params *p, const uint8_t *src, size_t src_len,
		    uint8_t *dst, size_t dst_len, bool partial)
{
	uint32_t dict = p && p->lzma_dict_size ? p->lzma_dict_size : CODEC_LZMA_MAX_DICT;
	lzma_stream strm = LZMA_STREAM_INIT;
	lzma_ret ret;

	/* no match reaches further back than the output so far: a larger
	 * dictionary would only be memory the image made us allocate */
	if (dict > CODEC_LZMA_MAX_DICT)
		dict = CODEC_LZMA_MAX_DICT;
	if (dict > dst_len)
		dict = dst_len < 4096 ? 4096 : (uint32_t)dst_len;
	ret = lzma_microlzma_decoder(&strm, src_len, dst_len, !partial, dict);
	if (ret != LZMA_OK)
		return ret == LZMA_MEM_ERROR ? -ENOMEM : -EUCLEAN;
	strm.next_in = src;
	strm.avail_in = src_len;
	strm.next_out = dst;
	strm.avail_out = dst_len;
	ret = lzma_code(&strm, LZMA_FINISH);
	lzma_end(&strm);
	if (ret == LZMA_MEM_ERROR)
		return -ENOMEM;
	return ret == LZMA_STREAM_END && strm.total_out == dst_len ? 0 : -EUCLEAN;
}
