// SPDX-License-Identifier: MIT
/* eroot info: the superblock, decoded, and what the tree holds. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "nidmap.h"
#include "walk.h"

static const char info_usage[] =
"usage: eroot info [OPTIONS] IMAGE\n"
"Show the superblock of an EROFS image and count what it holds.\n"
"\n"
"  --json           print one JSON object\n"
DEVICE_USAGE
"  --offset=BYTES   the image starts BYTES into the file\n"
"  -h, --help       show this help\n";

enum { LAYOUTS = 5 };	/* EROFS datalayouts: flat-plain to chunk-based */

struct counts {
	struct nidmap seen;
	uint64_t by_type[7], inodes, file_bytes, extended;
	uint64_t zfiles, zbytes, zblocks;	/* compressed files: size, blocks */
	/* regular files by datalayout (0 to 4, eroot_layout_name()): a DAX
	 * image has only flat-plain ones and compressed ones, which DAX does
	 * not serve */
	uint64_t file_layouts[LAYOUTS];
	int status;
};

static const char *const type_keys[7] = {
	"files", "directories", "symlinks", "char_devices", "block_devices", "fifos", "sockets",
};

static int type_slot(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 0;
	case S_IFDIR: return 1;
	case S_IFLNK: return 2;
	case S_IFCHR: return 3;
	case S_IFBLK: return 4;
	case S_IFIFO: return 5;
	default: return 6;
	}
}

static int count(void *ctx, const char *path, const struct eroot_inode *ino, uint64_t parent)
{
	struct counts *c = ctx;
	struct nidmap_entry *e = nidmap_get(&c->seen, ino->nid);

	(void)path; (void)parent;
	if (!e)
		return -1;
	if (e->count++)
		return 0;	/* hard link */
	c->inodes++;
	c->by_type[type_slot(ino->mode)]++;
	c->extended += ino->extended;
	if (S_ISREG(ino->mode)) {
		c->file_bytes += ino->size;
		if (ino->datalayout < LAYOUTS)
			c->file_layouts[ino->datalayout]++;
	}
	/* compressed-full (1) or compressed-compact (3) */
	if (ino->datalayout == 1 || ino->datalayout == 3) {
		c->zfiles++;
		c->zbytes += ino->size;
		c->zblocks += ino->compressed_blocks;
	}
	return 0;
}

static int on_error(void *ctx, const char *path, int err, const char *why)
{
	struct counts *c = ctx;

	err_msg("%s: %s", path, why && *why ? why : strerror(-err));
	c->status = exit_code(err);
	return 1;
}

struct feature_name {
	uint32_t bit;
	const char *name;
};

static const struct feature_name compat_names[] = {
	{ 0x1, "sb_csum" }, { 0x2, "mtime" }, { 0x4, "xattr_filter" }, { 0, NULL },
};
static const struct feature_name incompat_names[] = {
	{ 0x1, "zero_padding" }, { 0x2, "big_pcluster" }, { 0x4, "chunked_file" },
	{ 0x8, "device_table" }, { 0x10, "ztailpacking" }, { 0x20, "fragments" },
	{ 0x40, "xattr_prefixes" }, { 0x80, "48bit" }, { 0x100, "metabox" }, { 0, NULL },
};

static void print_features(uint32_t bits, const struct feature_name *names, bool json, bool *first)
{
	for (const struct feature_name *f = names; f->name; f++) {
		if (!(bits & f->bit))
			continue;
		printf(json ? "%s\"%s\"" : "%s%s", *first ? "" : json ? ", " : " ", f->name);
		*first = false;
	}
}

static void uuid_string(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static const char *const alg_names[] = { "lz4", "lzma", "deflate", "zstd" };

static void print_algs(uint16_t algs, bool json)
{
	bool first = true;

	for (unsigned int i = 0; i < 4; i++) {
		if (!(algs & (1u << i)))
			continue;
		printf(json ? "%s\"%s\"" : "%s%s", first ? "" : json ? ", " : " ", alg_names[i]);
		first = false;
	}
}

/* "flat-plain 10, flat-inline 3" ("none" without files) or, JSON,
 * "\"flat-plain\": 10, ...": the layouts files use, in datalayout order. */
static void print_file_layouts(const struct counts *c, bool json)
{
	bool first = true;

	for (unsigned int i = 0; i < LAYOUTS; i++) {
		if (!c->file_layouts[i])
			continue;
		printf(json ? "%s\"%s\": %llu" : "%s%s %llu", first ? "" : ", ",
		       eroot_layout_name(i), (unsigned long long)c->file_layouts[i]);
		first = false;
	}
	if (first && !json)
		printf("none");
}

/* Compressed file bytes per stored byte, over the compressed files. */
static double ratio(const struct eroot_super_info *sb, const struct counts *c)
{
	return c->zblocks ? (double)c->zbytes / ((double)c->zblocks * sb->block_size) : 1.0;
}

/* The device table: text lines, or a JSON array's elements. */
static void print_devices(const struct eroot_image *img, bool json)
{
	unsigned int n = eroot_image_device_count(img);

	for (unsigned int id = 1; id <= n; id++) {
		struct eroot_device_info d;

		eroot_image_device_info(img, id, &d);
		if (json) {
			printf("%s{\"id\": %u, \"tag\": ", id > 1 ? ", " : "", id);
			json_string(stdout, d.tag, strlen(d.tag));
			printf(", \"blocks\": %llu, \"uniaddr\": %llu, \"attached\": %s}",
			       (unsigned long long)d.blocks, (unsigned long long)d.uniaddr,
			       d.attached ? "true" : "false");
		} else {
			printf("  device %-6u %s  %llu blocks, unified at %llu%s\n", id,
			       *d.tag ? d.tag : "(no tag)",
			       (unsigned long long)d.blocks, (unsigned long long)d.uniaddr,
			       d.attached ? ", attached" : "");
		}
	}
}

static void print_info(const struct eroot_image *img, const struct counts *c, bool json)
{
	const struct eroot_super_info *sb = eroot_image_super(img);
	char uuid[37], when[64];
	bool first = true;

	uuid_string(sb->uuid, uuid);
	time_string(sb->build_time, sb->build_time_nsec, when, sizeof(when));
	if (json) {
		printf("{\"block_size\": %u, \"blocks\": %llu, \"image_bytes\": %llu, "
		       "\"uuid\": \"%s\", \"label\": ", sb->block_size,
		       (unsigned long long)sb->blocks,
		       (unsigned long long)sb->blocks * sb->block_size, uuid);
		json_string(stdout, sb->volume_name, strlen(sb->volume_name));
		printf(", \"build_time\": %lld, \"build_time_nsec\": %u, \"root_nid\": %llu, "
		       "\"meta_blkaddr\": %u, \"xattr_blkaddr\": %u, \"checksum\": \"0x%08x\", "
		       "\"inodes_recorded\": %llu, \"features\": [",
		       (long long)sb->build_time, sb->build_time_nsec,
		       (unsigned long long)sb->root_nid, sb->meta_blkaddr, sb->xattr_blkaddr,
		       sb->checksum, (unsigned long long)sb->inodes);
		print_features(sb->feature_compat, compat_names, true, &first);
		print_features(sb->feature_incompat, incompat_names, true, &first);
		printf("], \"compression\": [");
		print_algs(sb->compr_algs, true);
		printf("], \"compressed_files\": %llu, \"compressed_file_bytes\": %llu, "
		       "\"compressed_blocks\": %llu, \"compression_ratio\": %.3f",
		       (unsigned long long)c->zfiles, (unsigned long long)c->zbytes,
		       (unsigned long long)c->zblocks, ratio(sb, c));
		printf(", \"inodes\": %llu, \"extended_inodes\": %llu, \"file_bytes\": %llu",
		       (unsigned long long)c->inodes, (unsigned long long)c->extended,
		       (unsigned long long)c->file_bytes);
		for (int i = 0; i < 7; i++)
			printf(", \"%s\": %llu", type_keys[i], (unsigned long long)c->by_type[i]);
		printf(", \"file_layouts\": {");
		print_file_layouts(c, true);
		printf("}, \"devices\": [");
		print_devices(img, true);
		printf("]}\n");
		return;
	}
	printf("block size:     %u\n", sb->block_size);
	printf("blocks:         %llu (%llu bytes)\n", (unsigned long long)sb->blocks,
	       (unsigned long long)sb->blocks * sb->block_size);
	printf("uuid:           %s\n", uuid);
	printf("label:          %s\n", sb->volume_name);
	printf("build time:     %s\n", when);
	printf("root nid:       %llu\n", (unsigned long long)sb->root_nid);
	printf("meta blkaddr:   %u\n", sb->meta_blkaddr);
	printf("xattr blkaddr:  %u\n", sb->xattr_blkaddr);
	printf("checksum:       0x%08x\n", sb->checksum);
	printf("features:       ");
	print_features(sb->feature_compat, compat_names, false, &first);
	print_features(sb->feature_incompat, incompat_names, false, &first);
	printf("\nextra devices:  %u\n", eroot_image_device_count(img));
	print_devices(img, false);
	printf("inodes:         %llu (%llu extended, %llu recorded in the superblock)\n",
	       (unsigned long long)c->inodes, (unsigned long long)c->extended,
	       (unsigned long long)sb->inodes);
	for (int i = 0; i < 7; i++)
		printf("  %-13s %llu\n", type_keys[i], (unsigned long long)c->by_type[i]);
	printf("file bytes:     %llu\n", (unsigned long long)c->file_bytes);
	printf("file layouts:   ");
	print_file_layouts(c, false);
	printf("\n");
	printf("compression:    ");
	if (!sb->compr_algs) {
		printf("none\n");
		return;
	}
	print_algs(sb->compr_algs, false);
	printf(", %llu files, %llu bytes in %llu blocks: ratio %.2f\n",
	       (unsigned long long)c->zfiles, (unsigned long long)c->zbytes,
	       (unsigned long long)c->zblocks, ratio(sb, c));
}

int cmd_info(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "offset", required_argument, NULL, OPT_OFFSET },
		DEVICE_LONG_OPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct walk_ops ops = { .visit = count, .error = on_error };
	struct counts c = { 0 };
	struct eroot_image *img;
	struct eroot_inode root;
	uint64_t offset = 0;
	bool json = false;
	int ch, ret, err;

	while ((ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_DEVICE:
		case OPT_DEVICE_DIR:
			if (!device_option(ch, optarg))
				return EXIT_FAIL;
			break;
		case OPT_OFFSET:
			if (!parse_u64(optarg, &offset))
				return bad_value(info_usage, "--offset", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return usage(info_usage, false);
		default:
			return usage(info_usage, true);
		}
	}
	if (argc - optind != 1)
		return bad_args(info_usage, "IMAGE");
	ret = open_image_meta(argv[optind], offset, &img);
	if (ret)
		return ret;
	err = eroot_lookup(img, "/", &root);
	if (err)
		c.status = image_error(img, "/", err);
	else
		walk_image(img, "/", &root, &ops, &c);
	if (!c.status)
		print_info(img, &c, json);
	nidmap_free(&c.seen);
	eroot_image_close(img);
	return c.status;
}
