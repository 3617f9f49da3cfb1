// SPDX-License-Identifier: MIT
/*
 * The kernel configuration reader (lib/boot/kconfig.c): values, "is not
 * set", the last of repeated names, lines it must skip (bad names, a NUL
 * inside, CRLF), where it looks and in which order, the version from KVER,
 * the size bound, and random noise (under the sanitizers: no read past a
 * line, no leak).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/kconfig.h"
#include "check.h"

static char root[64];

/* @rel under the root; its directories must exist (make_dirs()). */
static void put(const char *rel, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(data, 1, len, f) == len);
	fclose(f);
}

static void make_dirs(void)
{
	static const char *const dirs[] = { "boot", "usr", "usr/lib", "usr/lib/modules",
		"usr/lib/modules/7.3.0-t", "lib", "lib/modules", "lib/modules/7.3.0-t" };
	char path[512];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		CHECK(mkdir(path, 0755) == 0);
	}
}

static const char sample[] =
	"#\n# Automatically generated file; DO NOT EDIT.\n#\n"
	"CONFIG_EROFS_FS=m\n"
	"CONFIG_EROFS_FS_ZIP=y\n"
	"# CONFIG_EROFS_FS_ZIP_ZSTD is not set\n"
	"CONFIG_PAGE_SHIFT=12\n"
	"CONFIG_LOCALVERSION=\"-cloud\"\n"
	"CONFIG_OVERLAY_FS=y\r\n"
	"CONFIG_BLK_DEV_LOOP=y\n"
	"CONFIG_BLK_DEV_LOOP=m\n"		/* the last one counts */
	"CONFIG_BAD-NAME=y\n"
	"CONFIG_=y\n"
	"#CONFIG_NOSPACE is not set\n"
	"# CONFIG_TRAILING is not set, really\n"
	"CONFIG_CUT\0=y\n"
	"  CONFIG_INDENTED=y\n"
	"CONFIG_LAST=y";			/* no newline at the end */

static void test_values(void)
{
	struct eroot_errmsg err;
	struct kconfig kc;
	char path[128];

	put("sample", sample, sizeof(sample) - 1);
	snprintf(path, sizeof(path), "%s/sample", root);
	CHECK_EQ(kconfig_read(&kc, "/", "6.12.95+deb12-cloud-amd64", path, &err), 0);
	CHECK(!strcmp(kc.path, path));
	CHECK(kc.major == 6 && kc.minor == 12);
	CHECK(kconfig_value(&kc, "EROFS_FS") && !strcmp(kconfig_value(&kc, "EROFS_FS"), "m"));
	CHECK(kconfig_enabled(&kc, "EROFS_FS_ZIP"));
	CHECK(!kconfig_enabled(&kc, "EROFS_FS_ZIP_ZSTD"));
	CHECK(!kconfig_value(&kc, "EROFS_FS_ZIP_ZSTD"));
	CHECK(!kconfig_value(&kc, "NOT_THERE"));
	CHECK(!strcmp(kconfig_value(&kc, "PAGE_SHIFT"), "12"));
	CHECK(!strcmp(kconfig_value(&kc, "LOCALVERSION"), "\"-cloud\""));
	CHECK(!strcmp(kconfig_value(&kc, "OVERLAY_FS"), "y"));	/* CRLF */
	CHECK(!strcmp(kconfig_value(&kc, "BLK_DEV_LOOP"), "m"));
	CHECK(!kconfig_value(&kc, "BAD") && !kconfig_value(&kc, "BAD-NAME"));
	CHECK(!kconfig_value(&kc, "CUT") && !kconfig_value(&kc, "INDENTED"));
	CHECK(!kconfig_value(&kc, "NOSPACE") && !kconfig_value(&kc, "TRAILING"));
	CHECK(kconfig_enabled(&kc, "LAST"));
	CHECK(kconfig_at_least(&kc, 6, 12) && kconfig_at_least(&kc, 5, 16));
	CHECK(!kconfig_at_least(&kc, 6, 13) && !kconfig_at_least(&kc, 7, 0));
	kconfig_free(&kc);
}

static void test_places(void)
{
	struct eroot_errmsg err;
	struct kconfig kc;
	char want[256];

	/* none: not an error, no path; the version alone */
	CHECK_EQ(kconfig_read(&kc, root, "1.2-none", NULL, &err), 0);
	CHECK(kc.path[0] == '\0' && kc.major == 1 && kc.minor == 2);
	CHECK(!kconfig_value(&kc, "EROFS_FS"));
	kconfig_free(&kc);
	/* boot/config-KVER, then usr/lib/modules/KVER/config wins, then
	 * lib/modules/KVER/config */
	put("boot/config-7.3.0-t", "CONFIG_FROM=boot\n", 17);
	CHECK_EQ(kconfig_read(&kc, root, "7.3.0-t", NULL, &err), 0);
	snprintf(want, sizeof(want), "%s/boot/config-7.3.0-t", root);
	CHECK(!strcmp(kc.path, want) && !strcmp(kconfig_value(&kc, "FROM"), "boot"));
	kconfig_free(&kc);
	put("usr/lib/modules/7.3.0-t/config", "CONFIG_FROM=usr\n", 16);
	CHECK_EQ(kconfig_read(&kc, root, "7.3.0-t", NULL, &err), 0);
	CHECK(!strcmp(kconfig_value(&kc, "FROM"), "usr"));
	kconfig_free(&kc);
	put("lib/modules/7.3.0-t/config", "CONFIG_FROM=lib\n", 16);
	CHECK_EQ(kconfig_read(&kc, root, "7.3.0-t", NULL, &err), 0);
	CHECK(!strcmp(kconfig_value(&kc, "FROM"), "lib"));
	CHECK(kc.major == 7 && kc.minor == 3);
	kconfig_free(&kc);
	/* a named file that is missing is an error */
	snprintf(want, sizeof(want), "%s/missing", root);
	CHECK_EQ(kconfig_read(&kc, root, "7.3.0-t", want, &err), -ENOENT);
	CHECK(strstr(err.text, "missing") != NULL);
	kconfig_free(&kc);
}

static void test_versions(void)
{
	static const struct { const char *kver; unsigned int major, minor; } cases[] = {
		{ "6.1.0-50-cloud-amd64", 6, 1 }, { "6.12.95+deb12-cloud-amd64", 6, 12 },
		{ "7.3", 7, 3 }, { "custom", 0, 0 }, { "6", 0, 0 }, { "-6.1", 0, 0 },
		{ "", 0, 0 }, { "99999.1", 0, 0 },
	};
	struct eroot_errmsg err;
	struct kconfig kc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(kconfig_read(&kc, root, cases[i].kver, NULL, &err), 0);
		CHECK_EQ(kc.major, cases[i].major);
		CHECK_EQ(kc.minor, cases[i].minor);
		/* no version: every version check passes */
		if (!cases[i].major)
			CHECK(kconfig_at_least(&kc, 99, 0));
		kconfig_free(&kc);
	}
}

static void test_bounds(void)
{
	struct eroot_errmsg err;
	struct kconfig kc;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/huge", root);
	f = fopen(path, "wb");
	CHECK(f && ftruncate(fileno(f), KCONFIG_MAX_BYTES + 1) == 0);
	if (f)
		fclose(f);
	CHECK_EQ(kconfig_read(&kc, "/", "6.1", path, &err), -EFBIG);
	kconfig_free(&kc);
	/* a directory where the file should be */
	CHECK_EQ(kconfig_read(&kc, "/", "6.1", root, &err), -EFBIG);
	kconfig_free(&kc);
}

/* Noise built from the pieces that matter, parsed and looked up. */
static void test_noise(void)
{
	static const char *const pieces[] = { "CONFIG_", "# CONFIG_", " is not set", "=", "y",
		"m", "\n", "\r\n", "EROFS_FS", "A", "_", "\"", " ", "#", "\0", "\xff", "12" };
	struct eroot_errmsg err;
	char path[128], buf[4096];

	snprintf(path, sizeof(path), "%s/noise", root);
	srand(11);
	for (int round = 0; round < 2000; round++) {
		struct kconfig kc;
		size_t len = 0, want = (size_t)rand() % (sizeof(buf) - 16);

		while (len < want) {
			const char *p = pieces[rand() % (int)(sizeof(pieces) / sizeof(pieces[0]))];
			size_t n = *p ? strlen(p) : 1;

			memcpy(buf + len, p, n);
			len += n;
		}
		put("noise", buf, len);
		CHECK_EQ(kconfig_read(&kc, "/", "6.1", path, &err), 0);
		for (size_t i = 0; i < kc.n; i++) {
			CHECK(kc.entries[i].name[0] != '\0');
			CHECK(kconfig_value(&kc, kc.entries[i].name) == kc.entries[i].value);
			CHECK(i == 0 || strcmp(kc.entries[i - 1].name, kc.entries[i].name) < 0);
		}
		(void)kconfig_enabled(&kc, "EROFS_FS");
		kconfig_free(&kc);
	}
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/eroot-kconfig-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	make_dirs();
	test_values();
	test_places();
	test_versions();
	test_bounds();
	test_noise();
	if (!check_failures) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
	return check_result("unit-boot-kconfig");
}
