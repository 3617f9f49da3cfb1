// SPDX-License-Identifier: MIT
/* Raw DEFLATE through libdeflate (zlib for a stream's prefix); pclusters are
 * filled by search. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <libdeflate.h>
#include <zlib.h>

#include "codec.h"

struct codec_state {
	struct libdeflate_compressor *c;
	size_t guess;
	uint8_t *scratch;		/* room for any one compression */
	size_t scratch_cap;
};

static struct codec_state *deflate_enc_new(int level, size_t max_in)
{
	struct codec_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->c = libdeflate_alloc_compressor(level);
	st->scratch_cap = st->c ? libdeflate_deflate_compress_bound(st->c, max_in) : 0;
	st->scratch = malloc(st->scratch_cap ? st->scratch_cap : 1);
	if (!st->c || !st->scratch) {
		if (st->c)
			libdeflate_free_compressor(st->c);
		free(st->scratch);
		free(st);
		return NULL;
	}
	return st;
}

static long deflate_try(struct codec_state *st, const uint8_t *src, size_t len,
			uint8_t *dst, size_t dst_cap)
{
	return (long)libdeflate_deflate_compress(st->c, src, len, dst, dst_cap);
}

static long deflate_compress(struct codec_state *st, const uint8_t *src, size_t *src_len,
			     uint8_t *dst, size_t dst_cap)
{
	return codec_fit_search(st, deflate_try, src, src_len, dst, dst_cap, &st->guess,
				st->scratch, st->scratch_cap);
}

static void deflate_enc_free(struct codec_state *st)
{
	if (st) {
		libdeflate_free_compressor(st->c);
		free(st->scratch);
	}
	free(st);
}

static void deflate_enc_reset(struct codec_state *st)
{
	st->guess = 0;
}

const struct codec codec_deflate = {
	.name = "deflate", .alg = Z_EROFS_COMPRESSION_DEFLATE,
	.min_level = 0, .max_level = 12, .default_level = 6,
	.max_window = 4u << 20,
	.enc_new = deflate_enc_new, .compress = deflate_compress, .enc_free = deflate_enc_free,
	.enc_reset = deflate_enc_reset,
};

/* A prefix of the stream: zlib stops where the output is full. */
static int inflate_prefix(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
	z_stream zs = { 0 };
	int ret;

	if (src_len > UINT_MAX || dst_len > UINT_MAX)
		return -EUCLEAN;
	ret = inflateInit2(&zs, -15);	/* raw DEFLATE, 32 KiB window */
	if (ret != Z_OK)
		return ret == Z_MEM_ERROR ? -ENOMEM : -EUCLEAN;
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)src_len;
	zs.next_out = dst;
	zs.avail_out = (uInt)dst_len;
	ret = inflate(&zs, Z_SYNC_FLUSH);
	inflateEnd(&zs);
	if (ret == Z_MEM_ERROR)
		return -ENOMEM;
	return (ret == Z_OK || ret == Z_STREAM_END) && !zs.avail_out ? 0 : -EUCLEAN;
}

int deflate_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
		       bool partial)
{
	struct libdeflate_decompressor *d;
	enum libdeflate_result r;

	if (partial)
		return inflate_prefix(src, src_len, dst, dst_len);
	d = libdeflate_alloc_decompressor();
	if (!d)
		return -ENOMEM;
	r = libdeflate_deflate_decompress(d, src, src_len, dst, dst_len, NULL);
	libdeflate_free_decompressor(d);
	return r == LIBDEFLATE_SUCCESS ? 0 : -EUCLEAN;
}
