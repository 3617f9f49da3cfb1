// SPDX-License-Identifier: MIT
/*
 * The loader's carrying of appended archives (tools/eroot-init/carry.c,
 * compiled in here) between two directories standing for rootfs and the new
 * root: under eroot.carry=add new files and directories go in, and no entry
 * the image has is replaced (a file, a symbolic link over which a directory
 * would be followed, a directory a file would replace), each refused path
 * named on one line, at most 8 and then a count; the image's directories
 * keep their mode.  eroot.carry=replace lets the appended entries win;
 * eroot.carry=none carries nothing.  Every appended entry leaves rootfs.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "init.h"
#include "loader_stubs.h"

static char top[64];

static void put(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", top, dir, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void dir(const char *dir, const char *rel, mode_t mode)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", top, dir, rel);
	CHECK_EQ(mkdir(path, mode), 0);
	chmod(path, mode);
}

static void link_to(const char *dir, const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", top, dir, rel);
	CHECK_EQ(symlink(target, path), 0);
}

/* The file's text, "" when missing, "<dir>" for a directory. */
static const char *text_of(const char *dir, const char *rel)
{
	static char buf[256];
	char path[512];
	struct stat st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s/%s", top, dir, rel);
	if (lstat(path, &st) < 0)
		return "";
	if (S_ISDIR(st.st_mode))
		return "<dir>";
	if (S_ISLNK(st.st_mode))
		return "<link>";
	f = fopen(path, "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A new root with the image's files; rootfs with the loader's own entries
 * and what an appended archive brought. */
static void setup(void)
{
	nftw(top, rm, 16, FTW_DEPTH | FTW_PHYS);
	CHECK_EQ(mkdir(top, 0700), 0);
	dir("", "new", 0755);
	dir("new", "etc", 0755);
	put("new", "etc/probe-own", "image");
	dir("new", "usr", 0755);
	dir("new", "usr/lib", 0755);
	link_to("new", "lib", "usr/lib");
	dir("new", "bin", 0755);

	dir("", "rootfs", 0755);
	put("rootfs", "init", "loader");
	dir("rootfs", "eroot", 0700);
	put("rootfs", "eroot/config", "config");
	dir("rootfs", "root", 0700);	/* the kernel's own, empty */
	dir("rootfs", "etc", 0777);
	put("rootfs", "etc/probe-own", "appended");
	put("rootfs", "etc/new", "new");
	dir("rootfs", ".extra", 0755);
	dir("rootfs", ".extra/credentials", 0755);
	put("rootfs", ".extra/credentials/c", "cred");
	dir("rootfs", "lib", 0755);
	dir("rootfs", "lib/firmware", 0755);
	put("rootfs", "lib/firmware/x", "firmware");
}

/* carry_rootfs() with @policy; its stdout in @out. */
static int carry(enum carry_policy policy, char *out, size_t size)
{
	static struct config c;
	char rootfs[128], newroot[128], capture[128];
	int saved = dup(STDOUT_FILENO), fd;
	volatile int ret = 0;
	ssize_t n;

	memset(&c, 0, sizeof(c));
	c.carry = policy;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", top);
	snprintf(newroot, sizeof(newroot), "%s/new", top);
	snprintf(capture, sizeof(capture), "%s/stdout", top);
	fflush(stdout);
	fd = open(capture, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDOUT_FILENO);
	loader_fail_line[0] = '\0';
	if (!setjmp(loader_failed))
		carry_rootfs(&c, rootfs, newroot);
	else
		ret = 1;
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, out, size - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(capture);
	return ret;
}

/* Only the loader's own entries are left in rootfs. */
static void rootfs_emptied(void)
{
	CHECK(!strcmp(text_of("rootfs", "init"), "loader"));
	CHECK(!strcmp(text_of("rootfs", "eroot/config"), "config"));
	CHECK(!strcmp(text_of("rootfs", "root"), "<dir>"));
	CHECK(!*text_of("rootfs", "etc"));
	CHECK(!*text_of("rootfs", ".extra"));
	CHECK(!*text_of("rootfs", "lib"));
	CHECK(!*text_of("rootfs", "bin"));
}

static void test_add(void)
{
	char out[4096];
	struct stat st;
	char path[512];

	setup();
	put("rootfs", "bin", "a file over the image's directory");
	CHECK_EQ(carry(CARRY_ADD, out, sizeof(out)), 0);
	CHECK(!strcmp(text_of("new", "etc/probe-own"), "image"));
	CHECK(!strcmp(text_of("new", "etc/new"), "new"));
	CHECK(!strcmp(text_of("new", ".extra/credentials/c"), "cred"));
	CHECK(!strcmp(text_of("new", "lib"), "<link>"));
	CHECK(!*text_of("new", "usr/lib/firmware"));
	CHECK(!strcmp(text_of("new", "bin"), "<dir>"));
	snprintf(path, sizeof(path), "%s/new/etc", top);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755);
	CHECK(strstr(out, "eroot: not carrying /etc/probe-own: the image has it "
		      "(eroot.carry=replace carries it)\n") != NULL);
	CHECK(strstr(out, "eroot: not carrying /lib: the image has it") != NULL);
	CHECK(strstr(out, "eroot: not carrying /bin: the image has it") != NULL);
	CHECK(!strstr(out, "/etc/new"));
	rootfs_emptied();
}

static void test_replace(void)
{
	char out[4096];

	setup();
	CHECK_EQ(carry(CARRY_REPLACE, out, sizeof(out)), 0);
	CHECK(!strcmp(text_of("new", "etc/probe-own"), "appended"));
	CHECK(!strcmp(text_of("new", "etc/new"), "new"));
	/* through the image's link, as unpacking a cpio over it would */
	CHECK(!strcmp(text_of("new", "usr/lib/firmware/x"), "firmware"));
	CHECK(!strcmp(out, ""));
	rootfs_emptied();
}

static void test_none(void)
{
	char out[4096];

	setup();
	CHECK_EQ(carry(CARRY_NONE, out, sizeof(out)), 0);
	CHECK(!strcmp(text_of("new", "etc/probe-own"), "image"));
	CHECK(!*text_of("new", "etc/new"));
	CHECK(!*text_of("new", ".extra"));
	rootfs_emptied();
}

/* Many refused paths: 8 lines, then one with the count. */
static void test_cap(void)
{
	char out[8192], name[64], lib[128];
	int lines = 0;

	setup();
	snprintf(lib, sizeof(lib), "%s/rootfs/lib", top);
	nftw(lib, rm, 16, FTW_DEPTH | FTW_PHYS);
	/* with etc/probe-own, 12 refused */
	for (int i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "etc/f%d", i);
		put("new", name, "image");
		put("rootfs", name, "appended");
	}
	CHECK_EQ(carry(CARRY_ADD, out, sizeof(out)), 0);
	for (char *p = out; (p = strstr(p, "eroot: not carrying /")); p++)
		lines++;
	CHECK_EQ(lines, 8);
	CHECK(strstr(out, "eroot: not carrying 4 more entries the image has "
		      "(eroot.carry=replace carries them)\n") != NULL);
	CHECK(!strcmp(text_of("new", "etc/f10"), "image"));
}

int main(void)
{
	snprintf(top, sizeof(top), "carry-test.%d", (int)getpid());
	test_add();
	test_replace();
	test_none();
	test_cap();
	nftw(top, rm, 16, FTW_DEPTH | FTW_PHYS);
	return check_result("loader-carry");
}
