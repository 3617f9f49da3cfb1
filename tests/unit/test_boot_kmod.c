// SPDX-License-Identifier: MIT
/*
 * Kernel module resolution (lib/boot/kmod.c) over a fake module tree:
 * load order (dependencies and soft dependencies first), aliases standing
 * for several modules, built-in modules, optional and missing ones, the
 * usr/lib/modules fallback, and modules compressed with xz, zstd (with and
 * without the content size in the frame) and gzip read back byte for byte.
 */
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/kmod.h"
#include "check.h"

#define KVER "6.1.0-unit"
#define BODY_LEN (256 * 1024)	/* compresses far more than 8 to 1 */

static char root[64], kdir[256];

static void put(const char *rel, const void *data, size_t len)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", kdir, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "wb");
	CHECK(f && fwrite(data, 1, len, f) == len);
	if (f)
		fclose(f);
}

static void put_text(const char *rel, const char *text)
{
	put(rel, text, strlen(text));
}

/* A module's bytes: an ELF magic, then a pattern. */
static unsigned char *body(const char *seed)
{
	unsigned char *b = malloc(BODY_LEN);

	memcpy(b, "\177ELF", 4);
	for (size_t i = 4; i < BODY_LEN; i++)
		b[i] = (unsigned char)seed[i % strlen(seed)];
	return b;
}

static void put_xz(const char *rel, const unsigned char *data)
{
	size_t cap = BODY_LEN + 4096, len = 0;
	unsigned char *out = malloc(cap);

	CHECK(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, data, BODY_LEN, out, &len,
				      cap) == LZMA_OK);
	put(rel, out, len);
	free(out);
}

/* @with_size: the frame records its content size, as `zstd FILE` does;
 * a stream does not */
static void put_zst(const char *rel, const unsigned char *data, bool with_size)
{
	size_t cap = ZSTD_compressBound(BODY_LEN), len;
	unsigned char *out = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_inBuffer ib = { data, BODY_LEN, 0 };
	ZSTD_outBuffer ob = { out, cap, 0 };

	if (with_size) {
		len = ZSTD_compress(out, cap, data, BODY_LEN, 3);
	} else {
		/* in two calls: given all at once, zstd records the size */
		ib.size = BODY_LEN / 2;
		CHECK(!ZSTD_isError(ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue)));
		ib.size = BODY_LEN;
		len = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
		CHECK_EQ(len, 0);
		len = ob.pos;
	}
	CHECK(!ZSTD_isError(len));
	CHECK_EQ(ZSTD_getFrameContentSize(out, len),
		 with_size ? BODY_LEN : ZSTD_CONTENTSIZE_UNKNOWN);
	put(rel, out, len);
	ZSTD_freeCCtx(c);
	free(out);
}

static void put_gz(const char *rel, const unsigned char *data)
{
	z_stream z = { 0 };
	size_t cap = BODY_LEN + 4096;
	unsigned char *out = malloc(cap);

	CHECK(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	z.next_in = (unsigned char *)data;
	z.avail_in = BODY_LEN;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	CHECK(z.total_out * 8 < BODY_LEN);	/* inflates past 8 times its size */
	put(rel, out, z.total_out);
	deflateEnd(&z);
	free(out);
}

static unsigned char *erofs_body, *overlay_body, *crc_body, *intel_body;

/* The tree under usr/lib/modules, as a merged-/usr system has it. */
static void make_tree(void)
{
	strcpy(root, "/tmp/eroot-unit-kmod.XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	snprintf(kdir, sizeof(kdir), "%s/usr/lib/modules/" KVER, root);
	erofs_body = body("erofs");
	overlay_body = body("overlay");
	crc_body = body("crc32c");
	intel_body = body("intel");
	put_xz("kernel/fs/erofs/erofs.ko.xz", erofs_body);
	put_zst("kernel/fs/overlayfs/overlay.ko.zst", overlay_body, false);
	put_zst("kernel/arch/x86/crypto/crc32c-intel.ko.zst", intel_body, true);
	put_gz("kernel/crypto/crc32c_generic.ko.gz", crc_body);
	put_text("kernel/lib/libcrc32c.ko", "\177ELF libcrc32c");
	put_text("kernel/crypto/af_alg.ko", "\177ELF af_alg");
	put_text("kernel/crypto/algif_hash.ko", "\177ELF algif_hash");
	put_text("kernel/crypto/sha256_generic.ko", "\177ELF sha256_generic");
	put_text("kernel/lib/crypto/libsha256.ko", "\177ELF libsha256");
	put_text("kernel/fs/broken.ko.gz", "not gzip at all");
	put_text("modules.dep",
		 "kernel/fs/erofs/erofs.ko.xz: kernel/lib/libcrc32c.ko\n"
		 "kernel/fs/overlayfs/overlay.ko.zst:\n"
		 "kernel/lib/libcrc32c.ko:\n"
		 "kernel/crypto/crc32c_generic.ko.gz:\n"
		 "kernel/arch/x86/crypto/crc32c-intel.ko.zst:\n"
		 "kernel/crypto/af_alg.ko:\n"
		 "kernel/crypto/algif_hash.ko: kernel/crypto/af_alg.ko\n"
		 "kernel/crypto/sha256_generic.ko: kernel/lib/crypto/libsha256.ko\n"
		 "kernel/lib/crypto/libsha256.ko:\n"
		 "kernel/fs/broken.ko.gz:\n");
	put_text("modules.alias",
		 "alias crypto-crc32c crc32c_generic\n"
		 "alias crc32c crc32c_generic\n"
		 "alias crc32c crc32c_intel\n"
		 "alias sha256 sha256_generic\n");
	put_text("modules.softdep", "softdep libcrc32c pre: crc32c post: nothing_here\n");
	put_text("modules.builtin", "kernel/drivers/block/loop.ko\n");
}

static void test_resolution(void)
{
	/* what eroot initrd asks for: the loader's modules */
	static const struct { const char *name; bool optional; } want[] = {
		{ "erofs", false }, { "overlay", false }, { "loop", false },
		{ "af-alg", false }, { "algif_hash", false }, { "sha256", true },
	};
	/* dependencies first; an optional alias takes every module it names */
	static const struct { const char *name; bool optional; } order[] = {
		{ "crc32c_generic", true }, { "crc32c_intel", true }, { "libcrc32c", false },
		{ "erofs", false }, { "overlay", false }, { "af_alg", false },
		{ "algif_hash", false }, { "libsha256", true }, { "sha256_generic", true },
	};
	struct eroot_errmsg msg = { "" };
	struct kmod_set s;

	CHECK_EQ(kmod_open(&s, root, KVER, &msg), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_EQ(kmod_want(&s, want[i].name, want[i].optional), 0);
	CHECK_EQ(s.n, sizeof(order) / sizeof(order[0]));
	for (size_t i = 0; i < s.n && i < sizeof(order) / sizeof(order[0]); i++) {
		if (strcmp(s.files[i].name, order[i].name))
			fprintf(stderr, "module %zu: %s, expected %s\n", i, s.files[i].name,
				order[i].name);
		CHECK(!strcmp(s.files[i].name, order[i].name));
		CHECK_EQ(s.files[i].optional, order[i].optional);
	}
	/* the host path of a module, in the tree found */
	CHECK(s.n && !strcmp(strstr(s.files[0].path, "/usr/lib/modules/"),
			     "/usr/lib/modules/" KVER "/kernel/crypto/crc32c_generic.ko.gz"));

	/* wanted again: nothing new */
	CHECK_EQ(kmod_want(&s, "erofs", false), 0);
	CHECK_EQ(s.n, sizeof(order) / sizeof(order[0]));
	/* missing: an error only when required, and it says so */
	CHECK_EQ(kmod_want(&s, "no_such_module", true), 0);
	CHECK_EQ(kmod_want(&s, "no-such-module", false), -ENOENT);
	CHECK(strstr(msg.text, "kernel module no_such_module: neither built in nor in") != NULL);
	kmod_close(&s);
}

static void check_read(struct kmod_set *s, const char *name, const unsigned char *expect)
{
	unsigned char *data = NULL;
	size_t len = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->files[i].name, name))
			continue;
		CHECK_EQ(kmod_read(s, &s->files[i], &data, &len), 0);
		CHECK_EQ(len, BODY_LEN);
		CHECK(data && len == BODY_LEN && !memcmp(data, expect, BODY_LEN));
		free(data);
		return;
	}
	CHECK(!"module resolved");
}

static void test_read(void)
{
	struct eroot_errmsg msg = { "" };
	unsigned char *data = (unsigned char *)"untouched";
	size_t len = 1;
	struct kmod_set s;

	CHECK_EQ(kmod_open(&s, root, KVER, &msg), 0);
	CHECK_EQ(kmod_want(&s, "erofs", false), 0);
	CHECK_EQ(kmod_want(&s, "overlay", false), 0);
	CHECK_EQ(kmod_want(&s, "broken", false), 0);
	check_read(&s, "erofs", erofs_body);
	check_read(&s, "overlay", overlay_body);
	check_read(&s, "crc32c_generic", crc_body);
	check_read(&s, "crc32c_intel", intel_body);
	/* a plain module comes as it is */
	for (size_t i = 0; i < s.n; i++)
		if (!strcmp(s.files[i].name, "libcrc32c")) {
			CHECK_EQ(kmod_read(&s, &s.files[i], &data, &len), 0);
			CHECK(len == 14 && !memcmp(data, "\177ELF libcrc32c", 14));
			free(data);
		}
	/* a damaged one is an error that names it, with nothing to free */
	CHECK(s.n && !strcmp(s.files[s.n - 1].name, "broken"));
	CHECK_EQ(kmod_read(&s, &s.files[s.n - 1], &data, &len), -EUCLEAN);
	CHECK(data == NULL);
	CHECK(strstr(msg.text, "broken.ko.gz: cannot decompress the module") != NULL);
	kmod_close(&s);
}

static void test_no_tree(void)
{
	struct eroot_errmsg msg = { "" };
	struct kmod_set s;

	CHECK_EQ(kmod_open(&s, root, "9.9.9-none", &msg), -ENOENT);
	CHECK(strstr(msg.text, "no modules.dep for kernel 9.9.9-none") != NULL);
	kmod_close(&s);		/* safe after a failed open */
}

int main(void)
{
	char cmd[128];

	make_tree();
	test_resolution();
	test_read();
	test_no_tree();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	free(erofs_body);
	free(overlay_body);
	free(crc_body);
	free(intel_body);
	return check_result("boot-kmod");
}
