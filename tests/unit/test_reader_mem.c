// SPDX-License-Identifier: MIT
/*
 * The reader on a memory buffer at an unaligned offset: build a small tree
 * with the builder, read it back through eroot_image_open_mem(), then feed
 * the reader thousands of damaged copies; every one must fail cleanly or
 * read consistently, never crash (run under ASan/UBSan).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"
#include "eroot/eroot.h"

static void put_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void make_tree(const char *dir)
{
	char path[512], big[9000];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 13);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/sub/hello", dir);
	put_file(path, "hello, world\n", 13);
	setxattr(path, "user.greeting", "hi", 2, 0);
	snprintf(path, sizeof(path), "%s/big", dir);
	put_file(path, big, sizeof(big));
	snprintf(path, sizeof(path), "%s/link", dir);
	symlink("sub/hello", path);
	snprintf(path, sizeof(path), "%s/dirlink", dir);
	symlink("/sub", path);
	snprintf(path, sizeof(path), "%s/loop", dir);
	symlink("loop", path);
}

static uint8_t *load(const char *path, size_t prefix, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;

	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	buf = calloc(1, prefix + (size_t)st.st_size);
	CHECK(read(fd, buf + prefix, (size_t)st.st_size) == st.st_size);
	close(fd);
	*len = prefix + (size_t)st.st_size;
	return buf;
}

static void test_read_back(const uint8_t *buf, size_t len, size_t offset)
{
	struct eroot_image *img;
	struct eroot_inode ino;
	char data[9000], target[64];
	ssize_t n;

	CHECK_EQ(eroot_image_open_mem(buf, len, offset, &img), 0);
	CHECK_EQ(eroot_image_super(img)->block_size, 4096);
	CHECK_EQ(eroot_lookup(img, "/sub/hello", &ino), 0);
	CHECK_EQ(ino.size, 13);
	n = eroot_pread(img, &ino, data, sizeof(data), 0);
	CHECK_EQ(n, 13);
	CHECK(!memcmp(data, "hello, world\n", 13));
	n = eroot_pread(img, &ino, data, 5, 7);
	CHECK(n == 5 && !memcmp(data, "world", 5));
	CHECK_EQ(eroot_getxattr(img, &ino, "user.greeting", data, sizeof(data)), 2);
	CHECK_EQ(eroot_getxattr(img, &ino, "user.none", data, sizeof(data)), -ENODATA);
	CHECK_EQ(eroot_lookup(img, "big", &ino), 0);
	CHECK_EQ(eroot_pread(img, &ino, data, sizeof(data), 0), 9000);
	CHECK(data[8999] == (char)(8999 * 7 + 8999 / 13));
	CHECK_EQ(eroot_pread(img, &ino, data, 100, 4090), 100);
	CHECK(data[0] == (char)(4090 * 7 + 4090 / 13));
	CHECK_EQ(eroot_lookup(img, "/link", &ino), 0);
	CHECK_EQ(eroot_readlink(img, &ino, target, sizeof(target)), 9);
	CHECK(!strcmp(target, "sub/hello"));
	CHECK_EQ(eroot_readlink(img, &ino, target, 5), -ERANGE);
	/* symlinks: followed along the path, and at the end only on request */
	CHECK_EQ(eroot_lookup_follow(img, "/link", true, &ino), 0);
	CHECK(S_ISREG(ino.mode) && ino.size == 13);
	CHECK_EQ(eroot_lookup(img, "/dirlink/hello", &ino), 0);
	CHECK(S_ISREG(ino.mode));
	CHECK_EQ(eroot_lookup(img, "/loop/x", &ino), -ELOOP);
	CHECK_EQ(eroot_lookup(img, "/nothing", &ino), -ENOENT);
	CHECK_EQ(eroot_lookup(img, "/big/x", &ino), -ENOTDIR);
	eroot_image_close(img);
}

/* Read everything reachable, bounded; errors are fine, crashes are not. */
struct walk_budget {
	struct eroot_image *img;
	int left;
};

static int ignore_xattr(void *ctx, const char *name, const void *v, size_t len)
{
	(void)ctx; (void)name; (void)v; (void)len;
	return 0;
}

static int visit(void *ctx, const struct eroot_dirent *de)
{
	struct walk_budget *w = ctx;
	struct eroot_inode ino;
	char buf[4096];

	if (--w->left < 0)
		return 1;
	if (eroot_iget(w->img, de->nid, &ino))
		return 0;
	eroot_listxattr(w->img, &ino, ignore_xattr, NULL);
	if (S_ISREG(ino.mode) || S_ISLNK(ino.mode))
		for (uint64_t off = 0; off < ino.size && off < (1 << 16); off += sizeof(buf))
			if (eroot_pread(w->img, &ino, buf, sizeof(buf), off) <= 0)
				break;
	if (S_ISDIR(ino.mode) && !(de->name_len <= 2 && de->name[0] == '.'))
		eroot_readdir(w->img, &ino, visit, w);
	return 0;
}

static void test_damaged(const uint8_t *good, size_t len, size_t offset)
{
	uint8_t *bad = malloc(len);
	size_t meta_end = offset + 8192 < len ? offset + 8192 : len;
	unsigned int seed = 1;

	for (size_t pos = offset + 1024; pos < meta_end; pos++) {
		for (int variant = 0; variant < 2; variant++) {
			struct eroot_image *img;
			struct eroot_inode root;
			struct walk_budget w;

			memcpy(bad, good, len);
			seed = seed * 1103515245 + 12345;
			bad[pos] ^= variant ? (uint8_t)(seed >> 16 | 1) : 0xff;
			if (eroot_image_open_mem(bad, len, offset, &img) == 0 &&
			    eroot_iget(img, eroot_image_super(img)->root_nid, &root) == 0) {
				w.img = img;
				w.left = 1000;
				eroot_readdir(img, &root, visit, &w);
			}
			eroot_image_close(img);
		}
	}
	/* truncations */
	for (size_t cut = offset; cut < len; cut += 97) {
		struct eroot_image *img;

		CHECK(eroot_image_open_mem(good, cut, offset, &img) < 0);
		eroot_image_close(img);
	}
	free(bad);
}

int main(void)
{
	struct eroot_build_options opts;
	struct eroot_builder *b;
	const size_t offset = 12345;	/* deliberately not aligned */
	uint8_t *buf;
	size_t len;

	system("rm -rf unit-reader-tree unit-reader.img");
	make_tree("unit-reader-tree");
	eroot_build_options_init(&opts);
	opts.quiet = 1;
	b = eroot_builder_new(&opts);
	CHECK(b != NULL);
	CHECK_EQ(eroot_builder_add_dir(b, "unit-reader-tree"), 0);
	CHECK_EQ(eroot_builder_write(b, "unit-reader.img", NULL), 0);
	eroot_builder_free(b);

	buf = load("unit-reader.img", offset, &len);
	test_read_back(buf, len, offset);
	test_damaged(buf, len, offset);
	free(buf);
	return check_result("reader_mem");
}
