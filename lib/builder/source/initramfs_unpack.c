// SPDX-License-Identifier: MIT
/*
 * One compressed member of an initramfs, decoded as the kernel does: the
 * method is known by the first two bytes (lib/decompress.c's table), one
 * stream is decoded, and the bytes it used tell where the next member
 * starts.  The real libraries do the work: zlib, libbz2, liblzma, liblz4
 * (the legacy frame "lz4 -l" writes) and libzstd.
 */
#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/source/initramfs.h"
#include "ondisk.h"

#define OUT_CHUNK (1u << 20)
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

enum method { M_NONE, M_GZIP, M_BZIP2, M_LZMA, M_XZ, M_LZO, M_LZ4, M_ZSTD };

static const struct {
	uint8_t magic[2];
	enum method m;
	const char *name;
} methods[] = {
	{ { 0x1f, 0x8b }, M_GZIP, "gzip" },
	{ { 0x1f, 0x9e }, M_GZIP, "gzip" },
	{ { 0x42, 0x5a }, M_BZIP2, "bzip2" },
	{ { 0x5d, 0x00 }, M_LZMA, "lzma" },
	{ { 0xfd, 0x37 }, M_XZ, "xz" },
	{ { 0x89, 0x4c }, M_LZO, "lzo" },
	{ { 0x02, 0x21 }, M_LZ4, "lz4" },
	{ { 0x28, 0xb5 }, M_ZSTD, "zstd" },
};

static enum method method_of(const uint8_t *in, size_t len, const char **name)
{
	for (size_t i = 0; len >= 2 && i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (!memcmp(in, methods[i].magic, 2)) {
			*name = methods[i].name;
			return methods[i].m;
		}
	}
	*name = NULL;
	return M_NONE;
}

const char *unpack_method_name(const uint8_t *in, size_t len)
{
	const char *name;

	method_of(in, len, &name);
	return name;
}

static int bad(struct unpack_out *o, const char *what)
{
	snprintf(o->why, sizeof(o->why), "%s", what);
	return -EUCLEAN;
}

static int gzip_member(const uint8_t *in, size_t len, struct unpack_out *o, uint8_t *buf)
{
	z_stream z = { .next_in = (Bytef *)in, .avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len) };
	int r, err = 0;

	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	do {
		z.next_out = buf;
		z.avail_out = OUT_CHUNK;
		r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END) {
			err = bad(o, r == Z_BUF_ERROR ? "gzip data is truncated" :
				  z.msg ? z.msg : "gzip data is corrupt");
			break;
		}
		err = o->sink(o->ctx, buf, OUT_CHUNK - z.avail_out);
	} while (!err && r != Z_STREAM_END);
	o->used = z.total_in;
	inflateEnd(&z);
	return err;
}

static int bzip2_member(const uint8_t *in, size_t len, struct unpack_out *o, uint8_t *buf)
{
	bz_stream z = { .next_in = (char *)in, .avail_in = (unsigned int)(len > UINT32_MAX ? UINT32_MAX : len) };
	int r, err = 0;

	if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK)
		return -ENOMEM;
	do {
		z.next_out = (char *)buf;
		z.avail_out = OUT_CHUNK;
		r = BZ2_bzDecompress(&z);
		if (r != BZ_OK && r != BZ_STREAM_END) {
			err = bad(o, "bzip2 data is corrupt");
			break;
		}
		if (r == BZ_OK && !z.avail_in && z.avail_out == OUT_CHUNK) {
			err = bad(o, "bzip2 data is truncated");
			break;
		}
		err = o->sink(o->ctx, buf, OUT_CHUNK - z.avail_out);
	} while (!err && r != BZ_STREAM_END);
	o->used = (uint64_t)z.total_in_hi32 << 32 | z.total_in_lo32;
	BZ2_bzDecompressEnd(&z);
	return err;
}

/*
 * The decoder's memory is mostly the dictionary its header declares (up to
 * 4 GiB, whatever the data): past 1 GiB, as libarchive's xz filter also
 * limits it, the member is refused rather than allocated.
 */
#define LZMA_MEMLIMIT (1ull << 30)

static int lzma_member(const uint8_t *in, size_t len, struct unpack_out *o, uint8_t *buf,
		       bool xz)
{
	lzma_stream z = LZMA_STREAM_INIT;
	lzma_ret r = xz ? lzma_stream_decoder(&z, LZMA_MEMLIMIT, 0) :
			  lzma_alone_decoder(&z, LZMA_MEMLIMIT);
	int err = 0;

	if (r != LZMA_OK)
		return -ENOMEM;
	z.next_in = in;
	z.avail_in = len;
	do {
		z.next_out = buf;
		z.avail_out = OUT_CHUNK;
		r = lzma_code(&z, LZMA_FINISH);
		if (r != LZMA_OK && r != LZMA_STREAM_END) {
			err = bad(o, r == LZMA_BUF_ERROR ? "xz/lzma data is truncated" :
				  r == LZMA_MEMLIMIT_ERROR ? "xz/lzma dictionary over 1 GiB" :
				  "xz/lzma data is corrupt");
			break;
		}
		err = o->sink(o->ctx, buf, OUT_CHUNK - z.avail_out);
	} while (!err && r != LZMA_STREAM_END);
	o->used = z.total_in;
	lzma_end(&z);
	return err;
}

static int zstd_member(const uint8_t *in, size_t len, struct unpack_out *o, uint8_t *buf)
{
	ZSTD_DStream *z = ZSTD_createDStream();
	ZSTD_inBuffer zin = { in, len, 0 };
	size_t r = 1;
	int err = 0;

	if (!z)
		return -ENOMEM;
	/* initramfs zstd may use a window of up to 128 MiB (--long) */
	ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, 27);
	while (!err && r) {
		ZSTD_outBuffer zout = { buf, OUT_CHUNK, 0 };

		r = ZSTD_decompressStream(z, &zout, &zin);
		if (ZSTD_isError(r)) {
			err = bad(o, ZSTD_getErrorName(r));
			break;
		}
		if (r && zin.pos == zin.size && zout.pos < zout.size) {
			err = bad(o, "zstd data is truncated");
			break;
		}
		err = o->sink(o->ctx, buf, zout.pos);
	}
	o->used = zin.pos;
	ZSTD_freeDStream(z);
	return err;
}

/* The legacy frame: a magic word, then blocks of (le32 size, data), each
 * decoding to at most 8 MiB; it ends where the input ends, at a size of
 * zero (padding), or where another legacy frame begins. */
static int lz4_member(const uint8_t *in, size_t len, struct unpack_out *o)
{
	uint8_t *buf = malloc(LZ4_LEGACY_BLOCK);
	size_t pos = 4;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (len < 4 || get_le32(in) != LZ4_LEGACY_MAGIC)
		err = bad(o, "not an lz4 legacy frame");
	while (!err && pos + 4 <= len) {
		uint32_t size = get_le32(in + pos);
		int got;

		if (size == LZ4_LEGACY_MAGIC) {
			pos += 4;
			continue;
		}
		if (!size)
			break;
		if (size > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) || size > len - pos - 4) {
			err = bad(o, "lz4 data is truncated or corrupt");
			break;
		}
		got = LZ4_decompress_safe((const char *)in + pos + 4, (char *)buf, (int)size,
					  LZ4_LEGACY_BLOCK);
		if (got < 0) {
			err = bad(o, "lz4 data is corrupt");
			break;
		}
		err = o->sink(o->ctx, buf, (size_t)got);
		pos += 4 + size;
	}
	o->used = pos;
	free(buf);
	return err;
}

int unpack_member(const uint8_t *in, size_t len, struct unpack_out *o)
{
	const char *name;
	enum method m = method_of(in, len, &name);
	uint8_t *buf;
	int err;

	o->why[0] = '\0';
	o->used = 0;
	if (m == M_NONE)
		return bad(o, "junk: neither a cpio header nor compressed data");
	if (m == M_LZO)
		return bad(o, "lzo compression is not supported");
	if (m == M_LZ4)
		return lz4_member(in, len, o);
	buf = malloc(OUT_CHUNK);
	if (!buf)
		return -ENOMEM;
	switch (m) {
	case M_GZIP: err = gzip_member(in, len, o, buf); break;
	case M_BZIP2: err = bzip2_member(in, len, o, buf); break;
	case M_LZMA: err = lzma_member(in, len, o, buf, false); break;
	case M_XZ: err = lzma_member(in, len, o, buf, true); break;
	default: err = zstd_member(in, len, o, buf); break;
	}
	free(buf);
	return err;
}
