// SPDX-License-Identifier: MIT
/*
 * The loader's configuration has one definition (lib/boot/loader-config.h):
 * what liberoot's writer (lib/boot/config_writer.c) writes, the loader's own
 * parser (tools/eroot-init/config.c, compiled in here) reads back.  The
 * parser refuses a version it does not know, a configuration without one,
 * unknown keys, a module or image without its SHA-256 and more than its
 * tables hold; the writer refuses what the loader could not take.  The
 * loader's own SHA-256 (digest.c, libcrypto's low-level functions) and its
 * check against eroot.digest= (verify.c) are compiled in too, with the
 * O_DIRECT hashing of a DAX image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config_writer.h"
#include "init.h"
#include "loader_stubs.h"

/* Parse @text as the loader does; 0, or 1 with the failure in
 * loader_fail_line (the loader's fail() ends PID 1; loader_stubs.c's jumps). */
static int parse(struct config *c, const char *text)
{
	volatile int ret = 0;

	memset(c, 0, sizeof(*c));
	loader_fail_line[0] = '\0';
	if (!setjmp(loader_failed))
		config_parse(c, text, strlen(text), "/eroot/config");
	else
		ret = 1;
	return ret;
}

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define HEX_C "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_round_trip(void)
{
	struct eroot_errmsg msg = { "" };
	struct config_writer w;
	static struct config c;

	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/crc32c_generic.ko", HEX_B, true), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/erofs.ko", HEX_C, false), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/loop.ko", HEX_A,
				      CONFIG_MODULE_FOR_LOOP), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/virtio_pmem.ko", HEX_B,
				      CONFIG_MODULE_OPTIONAL | CONFIG_MODULE_FOR_VIRTIO_PMEM), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/nd_e820.ko", HEX_C,
				      CONFIG_MODULE_FOR_E820), 0);
	/* the loader takes one "for-" word */
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/x.ko", HEX_C,
				      CONFIG_MODULE_FOR_E820 | CONFIG_MODULE_FOR_LOOP), -EINVAL);
	CHECK(strstr(msg.text, "x.ko: needed only for two things") != NULL);
	CHECK_EQ(config_writer_digest(&w, true), 0);
	CHECK_EQ(config_writer_image(&w, LOADER_ROOT_IMAGE, HEX_A), 0);
	CHECK_EQ(config_writer_run_init(&w, "/usr/bin/run-init"), 0);
	CHECK_EQ(config_writer_image(&w, "/eroot/layer1.erofs", HEX_B), 0);
	/* the bytes eroot initrd stores: version 2 gave every module and
	 * image its SHA-256 */
	CHECK(w.text && !strcmp(w.text,
		"version 5\n"
		"module /eroot/modules/crc32c_generic.ko " HEX_B " optional\n"
		"module /eroot/modules/erofs.ko " HEX_C "\n"
		"module /eroot/modules/loop.ko " HEX_A " for-loop\n"
		"module /eroot/modules/virtio_pmem.ko " HEX_B " optional for-virtio-pmem\n"
		"module /eroot/modules/nd_e820.ko " HEX_C " for-e820\n"
		"digest sha256\n"
		"image /eroot/root.erofs " HEX_A "\n"
		"run-init /usr/bin/run-init\n"
		"image /eroot/layer1.erofs " HEX_B "\n"));
	CHECK_EQ(w.len, strlen(w.text));

	CHECK_EQ(parse(&c, w.text), 0);
	CHECK_EQ(c.nmodules, 5);
	CHECK(!strcmp(c.modules[0].path, "/eroot/modules/crc32c_generic.ko"));
	CHECK(!strcmp(c.modules[0].sha256, HEX_B));
	CHECK(c.modules[0].optional && !c.modules[1].optional && !c.modules[2].optional);
	CHECK(!c.modules[0].for_loop && !c.modules[1].for_loop && c.modules[2].for_loop);
	CHECK(!c.modules[0].provider && !c.modules[1].provider && !c.modules[2].provider);
	CHECK(c.modules[3].optional && !c.modules[3].for_loop &&
	      c.modules[3].provider == PROVIDER_VIRTIO_PMEM);
	CHECK(!c.modules[4].optional && !c.modules[4].for_loop &&
	      c.modules[4].provider == PROVIDER_E820);
	CHECK(!strcmp(c.modules[1].path, "/eroot/modules/erofs.ko"));
	CHECK(!strcmp(c.modules[1].sha256, HEX_C));
	CHECK(c.verify);
	CHECK_EQ(c.nimages, 2);
	CHECK(!strcmp(c.images[0].path, "/eroot/root.erofs"));
	CHECK(!strcmp(c.images[0].sha256, HEX_A));
	CHECK(!strcmp(c.images[1].path, "/eroot/layer1.erofs"));
	CHECK(!strcmp(c.images[1].sha256, HEX_B));
	CHECK(!strcmp(c.run_init, "/usr/bin/run-init"));
	config_writer_free(&w);

	/* digest none is a policy: the SHA-256 are recorded all the same */
	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_digest(&w, false), 0);
	CHECK_EQ(config_writer_image(&w, LOADER_ROOT_IMAGE, HEX_A), 0);
	CHECK_EQ(parse(&c, w.text), 0);
	CHECK(!c.verify && c.nimages == 1 && c.nmodules == 0 && !c.run_init[0]);
	CHECK(!strcmp(c.images[0].sha256, HEX_A));
	/* a configuration without a trailing newline reads the same */
	CHECK_EQ(parse(&c, "version 5\nimage /a " HEX_A), 0);
	CHECK(c.nimages == 1 && !strcmp(c.images[0].sha256, HEX_A));
	config_writer_free(&w);
}

/* dax-image: the content image on a device, images[0] wherever its line
 * is; the image lines are the layers */
static void test_dax_image(void)
{
	struct eroot_errmsg msg = { "" };
	struct config_writer w;
	static struct config c;

	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_digest(&w, true), 0);
	CHECK_EQ(config_writer_dax_image(&w, HEX_A, 6ull << 30), 0);
	CHECK_EQ(config_writer_image(&w, "/eroot/layer1.erofs", HEX_B), 0);
	CHECK(w.text && !strcmp(w.text, "version 5\ndigest sha256\n"
				"dax-image " HEX_A " 6442450944\n"
				"image /eroot/layer1.erofs " HEX_B "\n"));
	CHECK_EQ(parse(&c, w.text), 0);
	CHECK(c.dax && c.dax_bytes == 6ull << 30 && c.nimages == 2);
	CHECK(!c.images[0].path[0] && !strcmp(c.images[0].sha256, HEX_A));
	CHECK(!strcmp(c.images[0].mnt, "/eroot/lower0"));
	CHECK(!strcmp(c.images[1].path, "/eroot/layer1.erofs"));
	CHECK(!strcmp(c.images[1].sha256, HEX_B) && !strcmp(c.images[1].mnt, "/eroot/lower1"));
	config_writer_free(&w);
	/* after the layers' lines, it still comes first */
	CHECK_EQ(parse(&c, "version 5\nimage /l " HEX_B "\ndax-image " HEX_A " 4096\n"), 0);
	CHECK(c.dax && c.nimages == 2 && !strcmp(c.images[0].sha256, HEX_A) &&
	      !strcmp(c.images[1].path, "/l") && !strcmp(c.images[1].mnt, "/eroot/lower1"));
	/* alone it names the image */
	CHECK_EQ(parse(&c, "version 5\ndax-image " HEX_A " 4096\n"), 0);
	CHECK(c.dax && c.nimages == 1);
	/* the writer refuses what the parser would */
	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_dax_image(&w, "abc", 4096), -EINVAL);
	CHECK_EQ(config_writer_dax_image(&w, HEX_A, 0), -EINVAL);
	config_writer_free(&w);
}

static void expect_refused(const char *text, const char *line);

/* share-domain ID: the writer takes letters, digits, '.', '_', '-' (it
 * goes into comma-separated mount options), the parser the same */
static void test_share_domain(void)
{
	struct eroot_errmsg msg = { "" };
	struct config_writer w;
	static struct config c;
	char longest[LOADER_MAX_SHARE_DOMAIN + 2];

	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_image(&w, LOADER_ROOT_IMAGE, HEX_A), 0);
	CHECK_EQ(config_writer_share_domain(&w, "debian-13_x86.64"), 0);
	CHECK(w.text && strstr(w.text, "\nshare-domain debian-13_x86.64\n"));
	CHECK_EQ(parse(&c, w.text), 0);
	CHECK(!strcmp(c.share_domain, "debian-13_x86.64"));
	CHECK_EQ(config_writer_share_domain(&w, "a,dax"), -EINVAL);
	CHECK(strstr(msg.text, "share domain 'a,dax': 1 to 64 letters") != NULL);
	CHECK_EQ(config_writer_share_domain(&w, ""), -EINVAL);
	CHECK_EQ(config_writer_share_domain(&w, "a b"), -EINVAL);
	memset(longest, 'x', sizeof(longest) - 1);
	longest[LOADER_MAX_SHARE_DOMAIN] = '\0';
	CHECK_EQ(config_writer_share_domain(&w, longest), 0);
	longest[LOADER_MAX_SHARE_DOMAIN] = 'x';
	longest[LOADER_MAX_SHARE_DOMAIN + 1] = '\0';
	CHECK_EQ(config_writer_share_domain(&w, longest), -EINVAL);
	config_writer_free(&w);
	/* none: no sharing */
	CHECK_EQ(parse(&c, "version 5\nimage /a " HEX_A "\n"), 0);
	CHECK(!c.share_domain[0]);
	expect_refused("version 5\nimage /a " HEX_A "\nshare-domain a,dax\n",
		       "failed: share-domain a,dax: not a domain");
	expect_refused("version 5\nimage /a " HEX_A "\nshare-domain\n",
		       "failed: unknown line: share-domain");
}

static void expect_refused(const char *text, const char *line)
{
	static struct config c;

	CHECK_EQ(parse(&c, text), 1);
	if (!strstr(loader_fail_line, line))
		fprintf(stderr, "got \"%s\", expected \"%s\"\n", loader_fail_line, line);
	CHECK(strstr(loader_fail_line, line) != NULL);
}

static void test_parser_refuses(void)
{
	/* another version: a --loader from another build */
	expect_refused("version 6\ndigest none\nimage /eroot/root.erofs " HEX_A "\n",
		       "eroot: reading /eroot/config failed: version 6: this loader reads "
		       "version 5");
	/* version 4 had no share-domain */
	expect_refused("version 4\ndigest none\nimage /eroot/root.erofs " HEX_A "\n",
		       "failed: version 4: this loader reads version 5");
	/* version 3 had no for-virtio-pmem, for-e820 */
	expect_refused("version 3\ndigest none\nimage /eroot/root.erofs " HEX_A "\n",
		       "failed: version 3: this loader reads version 5");
	/* version 2 had no dax-image */
	expect_refused("version 2\ndigest none\nimage /eroot/root.erofs " HEX_A "\n",
		       "failed: version 2: this loader reads version 5");
	/* version 1 had no SHA-256 on module lines, and "-" for an image */
	expect_refused("version 1\ndigest none\nimage /eroot/root.erofs -\n",
		       "failed: version 1: this loader reads version 5");
	expect_refused("version 5x\nimage /eroot/root.erofs " HEX_A "\n",
		       "version 5x: this loader");
	/* no version: written before the version existed */
	expect_refused("digest none\nimage /eroot/root.erofs " HEX_A "\n",
		       "eroot: reading /eroot/config failed: no version line first");
	expect_refused("", "eroot: reading /eroot/config failed: empty");
	expect_refused("# only a comment\n", "failed: empty");
	expect_refused("version 5\ndigest none\n", "failed: no image named");
	/* dax-image SHA256 BYTES, once */
	expect_refused("version 5\ndax-image " HEX_A "\n", "failed: unknown line: dax-image");
	expect_refused("version 5\ndax-image abc 4096\n", "failed: dax-image: no SHA-256");
	expect_refused("version 5\ndax-image " HEX_A " 0\n", "failed: dax-image: 0 is no size");
	expect_refused("version 5\ndax-image " HEX_A " -1\n", "failed: dax-image: -1 is no size");
	expect_refused("version 5\ndax-image " HEX_A " 4k\n", "failed: dax-image: 4k is no size");
	expect_refused("version 5\ndax-image " HEX_A " 4096\ndax-image " HEX_A " 4096\n",
		       "failed: more than one dax-image");
	expect_refused("version 5\nimage /a " HEX_A "\nlayer /b\n",
		       "failed: unknown line: layer /b");
	expect_refused("version 5\nimage /a " HEX_A "\nversion 5\n",
		       "failed: unknown line: version 5");
	expect_refused("version 5\ndigest md5\nimage /a " HEX_A "\n",
		       "failed: digest md5: sha256 or none");
	/* every module and image names its SHA-256, 64 lowercase hex digits */
	expect_refused("version 5\nimage /a -\n", "failed: image /a: no SHA-256");
	expect_refused("version 5\nimage /a\n", "failed: unknown line: image /a");
	expect_refused("version 5\nimage /a " HEX_A "0\n", "failed: image /a: no SHA-256");
	expect_refused("version 5\nimage /a 0123456789ABCDEF0123456789abcdef0123456789abcdef"
		       "0123456789abcdef\n", "failed: image /a: no SHA-256");
	expect_refused("version 5\nmodule /m.ko\nimage /a " HEX_A "\n",
		       "failed: unknown line: module /m.ko");
	expect_refused("version 5\nmodule /m.ko optional\nimage /a " HEX_A "\n",
		       "failed: module /m.ko: no SHA-256");
	expect_refused("version 5\nmodule /m.ko " HEX_A " maybe\nimage /a " HEX_A "\n",
		       "failed: unknown line: module /m.ko");
	expect_refused("version 5\nmodule /m.ko " HEX_A " for-loop for-loop\nimage /a " HEX_A
		       "\n", "failed: unknown line: module /m.ko");
	expect_refused("version 5\nmodule /m.ko " HEX_A " optional for-loop x\nimage /a "
		       HEX_A "\n", "failed: unknown line: module /m.ko");
	/* one "for-" word: a module for two things is always needed */
	expect_refused("version 5\nmodule /m.ko " HEX_A " for-e820 for-virtio-pmem\nimage /a "
		       HEX_A "\n", "failed: unknown line: module /m.ko");
	expect_refused("version 5\nmodule /m.ko " HEX_A " for-loop for-e820\nimage /a "
		       HEX_A "\n", "failed: unknown line: module /m.ko");
	expect_refused("version 5\nmodule /m.ko " HEX_A " optional optional\nimage /a "
		       HEX_A "\n", "failed: unknown line: module /m.ko");
	expect_refused("version 5\nmodule /m.ko " HEX_A " for-pmem\nimage /a "
		       HEX_A "\n", "failed: unknown line: module /m.ko");
	{
		static struct config c;

		CHECK_EQ(parse(&c, "version 5\nmodule /m.ko " HEX_A " for-loop optional\n"
			       "image /a " HEX_A "\n"), 0);
		CHECK(c.nmodules == 1 && c.modules[0].optional && c.modules[0].for_loop);
		CHECK_EQ(parse(&c, "version 5\nmodule /m.ko " HEX_A " for-e820 optional\n"
			       "image /a " HEX_A "\n"), 0);
		CHECK(c.nmodules == 1 && c.modules[0].optional &&
		      c.modules[0].provider == PROVIDER_E820);
	}
	/* bytes that are no text */
	{
		static const char nul[] = "version 5\nimage /a " HEX_A "\n\0\n";
		static struct config c;

		loader_fail_line[0] = '\0';
		if (!setjmp(loader_failed))
			config_parse(&c, nul, sizeof(nul) - 1, "/eroot/config");
		CHECK(strstr(loader_fail_line, "failed: a NUL byte") != NULL);
	}
	/* comments and blank lines are fine anywhere */
	{
		static struct config c;

		CHECK_EQ(parse(&c, "# eroot\n\nversion 5\n# x\nimage /a " HEX_A "\n"), 0);
		CHECK_EQ(c.nimages, 1);
	}
}

static void test_limits(void)
{
	char many[LOADER_MAX_IMAGES * 100 + 64], path[LOADER_MAX_WORD + 2];
	struct eroot_errmsg msg = { "" };
	struct config_writer w;
	size_t len = 0;

	/* the parser: one image more than its table */
	len += (size_t)snprintf(many, sizeof(many), "version 5\n");
	for (int i = 0; i <= LOADER_MAX_IMAGES; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len,
					"image /eroot/l%d " HEX_A "\n", i);
	expect_refused(many, "failed: more than 16 images");
	/* a dax-image is one of them */
	len = (size_t)snprintf(many, sizeof(many), "version 5\ndax-image " HEX_A " 4096\n");
	for (int i = 1; i <= LOADER_MAX_IMAGES; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len,
					"image /eroot/l%d " HEX_A "\n", i);
	expect_refused(many, "failed: more than 16 images");

	/* the writer refuses the same, and what the parser would misread */
	CHECK_EQ(config_writer_init(&w, &msg), 0);
	for (int i = 0; i < LOADER_MAX_IMAGES; i++)
		CHECK_EQ(config_writer_image(&w, "/eroot/x.erofs", HEX_A), 0);
	CHECK_EQ(config_writer_image(&w, "/eroot/x.erofs", HEX_A), -E2BIG);
	CHECK(strstr(msg.text, "more than 16 images") != NULL);
	CHECK_EQ(config_writer_dax_image(&w, HEX_A, 4096), -E2BIG);
	for (int i = 0; i < LOADER_MAX_MODULES; i++)
		CHECK_EQ(config_writer_module(&w, "/eroot/modules/m.ko", HEX_C, false), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/m.ko", HEX_C, false), -E2BIG);
	CHECK_EQ(config_writer_run_init(&w, "/usr/bin/run init"), -EINVAL);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	CHECK_EQ(config_writer_run_init(&w, path), -ENAMETOOLONG);
	path[sizeof(path) - 2] = '\0';	/* LOADER_MAX_WORD bytes: fits */
	CHECK_EQ(config_writer_run_init(&w, path), 0);
	config_writer_free(&w);
	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_image(&w, "/eroot/y.erofs", "abc"), -EINVAL);
	CHECK_EQ(config_writer_image(&w, "/eroot/y.erofs", NULL), -EINVAL);
	CHECK(strstr(msg.text, "image /eroot/y.erofs: a SHA-256 is 64 lowercase hex") != NULL);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/m.ko", NULL, false), -EINVAL);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/m.ko",
				      "0123456789ABCDEF0123456789abcdef0123456789abcdef"
				      "0123456789abcdef", false), -EINVAL);
	CHECK_EQ(w.nimages + w.nmodules, 0);
	config_writer_free(&w);
}

/* eroot.digest= is the SHA-256 of the configuration's bytes; the loader's
 * check fails with one line naming the file. */
static void test_verify(void)
{
	static const char text[] = "version 5\nimage /eroot/root.erofs " HEX_A "\n";
	static struct config c;
	char hex[65], want[65];

	sha256_buf("abc", 3, hex);	/* FIPS 180-2's example */
	CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	sha256_buf(text, strlen(text), want);
	memset(&c, 0, sizeof(c));
	loader_fail_line[0] = '\0';
	if (!setjmp(loader_failed))
		verify_data(&c, CONFIG_PATH, text, strlen(text), want, "eroot.digest=");
	CHECK(loader_fail_line[0] == '\0');
	/* one byte changed: a digit of the image's SHA-256 */
	{
		char changed[sizeof(text)];
		char line[200];

		memcpy(changed, text, sizeof(text));
		changed[sizeof(text) - 3] ^= 1;
		sha256_buf(changed, strlen(changed), hex);
		snprintf(line, sizeof(line), "eroot: verifying /eroot/config failed: sha256 %s, "
			 "eroot.digest= says %s", hex, want);
		if (!setjmp(loader_failed))
			verify_data(&c, CONFIG_PATH, changed, strlen(changed), want,
				    "eroot.digest=");
		CHECK(!strcmp(loader_fail_line, line));
	}
	/* without eroot.digest= the policy decides; with it, always */
	CHECK(!verifying(&c));
	c.verify = true;
	CHECK(verifying(&c));
	c.verify = false;
	memcpy(c.cmdline_digest, want, sizeof(want));
	CHECK(verifying(&c));
}

/* A DAX image's hash: its first bytes read with O_DIRECT into an aligned
 * buffer (a pmem device at boot; a file here), whatever follows them. */
static void test_sha256_direct(void)
{
	char path[] = "loader-direct-XXXXXX", hex[65], want[65], why[300] = "";
	size_t len = (3u << 20) + 4096, bytes = (3u << 20) + 100;
	unsigned char *data = malloc(len);
	int fd = mkstemp(path), probe;

	CHECK(data && fd >= 0);
	if (!data || fd < 0)
		return;
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 ^ i >> 9);
	CHECK_EQ(write(fd, data, len), (ssize_t)len);
	close(fd);
	probe = open(path, O_RDONLY | O_DIRECT);
	if (probe < 0) {
		printf("note: no O_DIRECT on this directory's file system: sha256_direct() "
		       "not tried\n");
	} else {
		close(probe);
		sha256_buf(data, bytes, want);
		CHECK_EQ(sha256_direct(path, bytes, hex, why, sizeof(why)), 0);
		CHECK(!strcmp(hex, want));
		sha256_buf(data, len, want);
		CHECK_EQ(sha256_direct(path, len, hex, why, sizeof(why)), 0);
		CHECK(!strcmp(hex, want));
		/* a device smaller than the image says */
		CHECK_EQ(sha256_direct(path, len + 1, hex, why, sizeof(why)), -1);
		CHECK(strstr(why, "3149824 bytes, the image has 3149825") != NULL);
	}
	CHECK_EQ(sha256_direct("/nonexistent/x", 1, hex, why, sizeof(why)), -1);
	CHECK(strstr(why, "/nonexistent/x: No such file") != NULL);
	unlink(path);
	free(data);
}

int main(void)
{
	test_round_trip();
	test_dax_image();
	test_share_domain();
	test_parser_refuses();
	test_limits();
	test_verify();
	test_sha256_direct();
	return check_result("loader-config");
}
