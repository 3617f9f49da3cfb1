// SPDX-License-Identifier: MIT
/*
 * The loader's configuration has one definition (lib/boot/loader-config.h):
 * what liberoot's writer (lib/boot/config_writer.c) writes, the loader's own
 * parser (tools/eroot-init/config.c, compiled in here) reads back.  The
 * parser refuses a version it does not know, a configuration without one,
 * unknown keys and more than its tables hold; the writer refuses what the
 * loader could not take.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config_writer.h"
#include "init.h"

/* The loader's fail() prints one line and ends PID 1; here it returns to
 * the test through a jump, with the line. */
static jmp_buf failed;
static char fail_line[1024];

void fail(const struct config *c, const char *what, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(fail_line, sizeof(fail_line), "eroot: %s failed: ", what);

	(void)c;
	va_start(ap, fmt);
	vsnprintf(fail_line + n, sizeof(fail_line) - (size_t)n, fmt, ap);
	va_end(ap);
	longjmp(failed, 1);
}

/* Parse @text as the loader does; 0, or 1 with the failure in fail_line. */
static int parse(struct config *c, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	volatile int ret = 0;

	memset(c, 0, sizeof(*c));
	fail_line[0] = '\0';
	if (!setjmp(failed))
		config_parse(c, f, "/eroot/config");
	else
		ret = 1;
	fclose(f);
	return ret;
}

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_round_trip(void)
{
	struct eroot_errmsg msg = { "" };
	struct config_writer w;
	static struct config c;

	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/crc32c_generic.ko", true), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/erofs.ko", false), 0);
	CHECK_EQ(config_writer_digest(&w, true), 0);
	CHECK_EQ(config_writer_image(&w, LOADER_ROOT_IMAGE, HEX_A), 0);
	CHECK_EQ(config_writer_run_init(&w, "/usr/bin/run-init"), 0);
	CHECK_EQ(config_writer_image(&w, "/eroot/layer1.erofs", NULL), 0);
	/* the bytes eroot initrd stores: only the version line is new since
	 * the format was first written */
	CHECK(w.text && !strcmp(w.text,
		"version 1\n"
		"module /eroot/modules/crc32c_generic.ko optional\n"
		"module /eroot/modules/erofs.ko\n"
		"digest sha256\n"
		"image /eroot/root.erofs " HEX_A "\n"
		"run-init /usr/bin/run-init\n"
		"image /eroot/layer1.erofs -\n"));
	CHECK_EQ(w.len, strlen(w.text));

	CHECK_EQ(parse(&c, w.text), 0);
	CHECK_EQ(c.nmodules, 2);
	CHECK(!strcmp(c.modules[0], "/eroot/modules/crc32c_generic.ko"));
	CHECK(c.module_optional[0] && !c.module_optional[1]);
	CHECK(!strcmp(c.modules[1], "/eroot/modules/erofs.ko"));
	CHECK(c.verify);
	CHECK_EQ(c.nimages, 2);
	CHECK(!strcmp(c.images[0].path, "/eroot/root.erofs"));
	CHECK(!strcmp(c.images[0].sha256, HEX_A));
	CHECK(!strcmp(c.images[1].path, "/eroot/layer1.erofs"));
	CHECK(c.images[1].sha256[0] == '\0');
	CHECK(!strcmp(c.run_init, "/usr/bin/run-init"));
	config_writer_free(&w);

	CHECK_EQ(config_writer_init(&w, &msg), 0);
	CHECK_EQ(config_writer_digest(&w, false), 0);
	CHECK_EQ(config_writer_image(&w, LOADER_ROOT_IMAGE, NULL), 0);
	CHECK_EQ(parse(&c, w.text), 0);
	CHECK(!c.verify && c.nimages == 1 && c.nmodules == 0 && !c.run_init[0]);
	config_writer_free(&w);
}

static void expect_refused(const char *text, const char *line)
{
	static struct config c;

	CHECK_EQ(parse(&c, text), 1);
	if (!strstr(fail_line, line))
		fprintf(stderr, "got \"%s\", expected \"%s\"\n", fail_line, line);
	CHECK(strstr(fail_line, line) != NULL);
}

static void test_parser_refuses(void)
{
	/* another version: a --loader from another build */
	expect_refused("version 2\ndigest none\nimage /eroot/root.erofs -\n",
		       "eroot: reading /eroot/config failed: version 2: this loader reads "
		       "version 1");
	expect_refused("version 1x\nimage /eroot/root.erofs -\n", "version 1x: this loader");
	/* no version: written before the version existed */
	expect_refused("digest none\nimage /eroot/root.erofs -\n",
		       "eroot: reading /eroot/config failed: no version line first");
	expect_refused("", "eroot: reading /eroot/config failed: empty");
	expect_refused("# only a comment\n", "failed: empty");
	expect_refused("version 1\ndigest none\n", "failed: no image named");
	expect_refused("version 1\nimage /a -\nlayer /b\n", "failed: unknown line: layer /b");
	expect_refused("version 1\nimage /a -\nversion 1\n", "failed: unknown line: version 1");
	expect_refused("version 1\ndigest md5\nimage /a -\n", "failed: digest md5: sha256 or none");
	/* comments and blank lines are fine anywhere */
	{
		static struct config c;

		CHECK_EQ(parse(&c, "# eroot\n\nversion 1\n# x\nimage /a -\n"), 0);
		CHECK_EQ(c.nimages, 1);
	}
}

static void test_limits(void)
{
	char many[LOADER_MAX_IMAGES * 40 + 64], path[LOADER_MAX_WORD + 2];
	struct eroot_errmsg msg = { "" };
	struct config_writer w;
	size_t len = 0;

	/* the parser: one image more than its table */
	len += (size_t)snprintf(many, sizeof(many), "version 1\n");
	for (int i = 0; i <= LOADER_MAX_IMAGES; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "image /eroot/l%d -\n", i);
	expect_refused(many, "failed: more than 16 images");

	/* the writer refuses the same, and what the parser would misread */
	CHECK_EQ(config_writer_init(&w, &msg), 0);
	for (int i = 0; i < LOADER_MAX_IMAGES; i++)
		CHECK_EQ(config_writer_image(&w, "/eroot/x.erofs", NULL), 0);
	CHECK_EQ(config_writer_image(&w, "/eroot/x.erofs", NULL), -E2BIG);
	CHECK(strstr(msg.text, "more than 16 images") != NULL);
	for (int i = 0; i < LOADER_MAX_MODULES; i++)
		CHECK_EQ(config_writer_module(&w, "/eroot/modules/m.ko", false), 0);
	CHECK_EQ(config_writer_module(&w, "/eroot/modules/m.ko", false), -E2BIG);
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
	config_writer_free(&w);
}

int main(void)
{
	test_round_trip();
	test_parser_refuses();
	test_limits();
	return check_result("loader-config");
}
