// SPDX-License-Identifier: MIT
/* Encoders and decoders of every on-disk structure, against known bytes. */
#include <string.h>

#include "check.h"
#include "ondisk.h"

static void test_crc32c(void)
{
	/* CRC-32C check value of "123456789" is 0xE3069283; the kernel's
	 * crc32c(~0, ...) leaves out the final inversion. */
	uint8_t region[12] = { '1', '2', '3', '4', 0, 0, 0, 0, '5', '6', '7', '8' };
	uint8_t plain[9] = { '1', '2', '3', '4', '5', '6', '7', '8', '9' };
	uint8_t zeroed[12] = { '1', '2', '3', '4', 0, 0, 0, 0, '5', '6', '7', '8' };

	(void)plain;
	/* the checksum field (bytes 4..7) counts as zero whatever it holds */
	region[5] = 0xff;
	CHECK_EQ(erofs_sb_checksum(region, sizeof(region)),
		 erofs_sb_checksum(zeroed, sizeof(zeroed)));
	CHECK_EQ(erofs_sb_checksum_len(12), 4096 - 1024);
	CHECK_EQ(erofs_sb_checksum_len(9), 512);
	CHECK_EQ(erofs_sb_checksum_len(10), 1024);
	CHECK_EQ(erofs_sb_checksum_len(11), 1024);
}

static void test_crc32c_vector(void)
{
	/* Build a region whose bytes 0..3 and 8.. spell "123456789" minus the
	 * hole: checked against an independent bitwise CRC of the same bytes. */
	const uint8_t msg[] = "1234\0\0\0\0" "56789";
	uint32_t crc = ~0u;

	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		crc ^= msg[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	CHECK_EQ(erofs_sb_checksum(msg, sizeof(msg) - 1), crc);
	/* and the standard check value for "123456789" */
	crc = ~0u;
	for (const char *p = "123456789"; *p; p++) {
		crc ^= (uint8_t)*p;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	CHECK_EQ(~crc, 0xE3069283u);
}

static void test_super(void)
{
	struct erofs_sb in = {
		.magic = EROFS_MAGIC, .checksum = 0x11223344, .feature_compat = 1,
		.blkszbits = 12, .root_nid = 36, .inos = 1234567, .build_time = 1700000000,
		.build_time_nsec = 999999999, .blocks = 0xabcdef, .meta_blkaddr = 0,
		.xattr_blkaddr = 77, .feature_incompat = 4, .packed_nid = 0,
	}, out;
	uint8_t raw[EROFS_SUPER_SIZE];

	memcpy(in.uuid, "0123456789abcdef", 16);
	memcpy(in.volume_name, "label", 5);
	erofs_sb_encode(&in, raw);
	CHECK_EQ(get_le32(raw), 0xE0F5E1E2u);
	CHECK_EQ(raw[0], 0xE2);
	CHECK_EQ(raw[12], 12);
	CHECK_EQ(get_le16(raw + 14), 36);
	CHECK_EQ(get_le32(raw + 36), 0xabcdef);
	CHECK(!memcmp(raw + 48, "0123456789abcdef", 16));
	CHECK(!memcmp(raw + 64, "label", 5));
	CHECK_EQ(get_le32(raw + 80), 4);
	memset(&out, 0xee, sizeof(out));
	erofs_sb_decode(raw, &out);
	CHECK_EQ(out.inos, in.inos);
	CHECK_EQ(out.build_time_nsec, in.build_time_nsec);
	CHECK_EQ(out.xattr_blkaddr, 77);
	CHECK(!memcmp(out.uuid, in.uuid, 16));
}

static void test_inode(void)
{
	struct erofs_dinode c = {
		.extended = false, .datalayout = EROFS_INODE_FLAT_INLINE, .xattr_icount = 3,
		.mode = 0100644, .nlink = 2, .size = 5000, .i_u = 9, .ino = 42,
		.uid = 1000, .gid = 100,
	}, e = {
		.extended = true, .datalayout = EROFS_INODE_CHUNK_BASED, .mode = 040755,
		.nlink = 70000, .size = 5ull << 30, .i_u = 3, .ino = 7, .uid = 4000000000u,
		.gid = 65536, .mtime = (uint64_t)-86400, .mtime_nsec = 123456789,
	}, out;
	uint8_t raw[64];

	CHECK_EQ(erofs_dinode_encode(&c, raw), 32);
	CHECK_EQ(get_le16(raw), EROFS_INODE_FLAT_INLINE << 1);
	CHECK_EQ(get_le16(raw + 4), 0100644);
	CHECK_EQ(erofs_dinode_decode(raw, 32, &out), 32);
	CHECK(!out.extended);
	CHECK_EQ(out.size, 5000);
	CHECK_EQ(out.uid, 1000);
	CHECK_EQ(out.i_u, 9);
	CHECK_EQ(out.xattr_icount, 3);

	CHECK_EQ(erofs_dinode_encode(&e, raw), 64);
	CHECK_EQ(get_le16(raw), 1 | EROFS_INODE_CHUNK_BASED << 1);
	CHECK_EQ(erofs_dinode_decode(raw, 32, &out), 0);	/* truncated */
	CHECK_EQ(erofs_dinode_decode(raw, 64, &out), 64);
	CHECK_EQ(out.nlink, 70000);
	CHECK_EQ(out.size, 5ull << 30);
	CHECK_EQ(out.uid, 4000000000u);
	CHECK_EQ((int64_t)out.mtime, -86400);
	CHECK_EQ(out.mtime_nsec, 123456789);

	raw[0] |= 0x40;	/* an unknown i_format bit */
	CHECK_EQ(erofs_dinode_decode(raw, 64, &out), 0);
	CHECK_EQ(erofs_xattr_ibody_size(0), 0);
	CHECK_EQ(erofs_xattr_ibody_size(1), 12);
	CHECK_EQ(erofs_xattr_ibody_size(3), 20);
}

static void test_dirent_xattr_dev(void)
{
	struct erofs_dirent_disk d = { .nid = 0x123456789ull, .nameoff = 36, .file_type = 7 }, dd;
	struct erofs_xattr_entry_disk x = { .name_len = 5, .name_index = 6, .value_size = 65535 }, xx;
	uint8_t raw[12];
	uint32_t ma, mi;
	const char *suffix;

	erofs_dirent_encode(&d, raw);
	CHECK_EQ(get_le64(raw), 0x123456789ull);
	CHECK_EQ(raw[10], 7);
	CHECK_EQ(raw[11], 0);
	erofs_dirent_decode(raw, &dd);
	CHECK_EQ(dd.nid, d.nid);
	CHECK_EQ(dd.nameoff, 36);

	erofs_xattr_entry_encode(&x, raw);
	CHECK_EQ(raw[0], 5);
	CHECK_EQ(raw[1], 6);
	CHECK_EQ(get_le16(raw + 2), 65535);
	erofs_xattr_entry_decode(raw, &xx);
	CHECK_EQ(xx.value_size, 65535);

	/* the kernel's new_encode_dev() */
	CHECK_EQ(erofs_encode_dev(1, 3), 0x103);
	CHECK_EQ(erofs_encode_dev(259, 1048575), (0xffu) | (259u << 8) | (0xfff00u << 12));
	erofs_decode_dev(erofs_encode_dev(259, 1048575), &ma, &mi);
	CHECK_EQ(ma, 259);
	CHECK_EQ(mi, 1048575);

	CHECK_EQ(erofs_xattr_split("user.foo", &suffix), EROFS_XATTR_INDEX_USER);
	CHECK(!strcmp(suffix, "foo"));
	CHECK_EQ(erofs_xattr_split("security.capability", &suffix), EROFS_XATTR_INDEX_SECURITY);
	CHECK_EQ(erofs_xattr_split("system.posix_acl_access", &suffix),
		 EROFS_XATTR_INDEX_POSIX_ACL_ACCESS);
	CHECK(!strcmp(suffix, ""));
	CHECK_EQ(erofs_xattr_split("system.posix_acl_accessx", &suffix), EROFS_XATTR_INDEX_NONE);
	CHECK_EQ(erofs_xattr_split("system.nfs4_acl", &suffix), EROFS_XATTR_INDEX_NONE);
	CHECK_EQ(erofs_xattr_align(5), 8);
	CHECK_EQ(erofs_ftype_from_mode(0120777), EROFS_FT_SYMLINK);
}

/* The fields mkfs.erofs 1.9 added: 48-bit layout, metabox, inode digests. */
static void test_new_fields(void)
{
	struct erofs_sb in = {
		.magic = EROFS_MAGIC, .blkszbits = 12, .root_nid = 0x0102,
		.feature_incompat = EROFS_FEATURE_INCOMPAT_48BIT, .ishare_xattr_prefix_id = 3,
		.mkfs_time = 0x89abcdef, .rootnid_8b = 0x8000000000000002ull,
		.xattr_filter_reserved = 1,
	}, out;
	uint8_t raw[EROFS_SUPER_SIZE], ext[EROFS_SB_EXTSLOT_SIZE] = { 0 }, ino[32] = { 0 };
	struct erofs_dinode di;

	erofs_sb_encode(&in, raw);
	CHECK_EQ(raw[104], 1);
	CHECK_EQ(raw[105], 3);
	CHECK_EQ(get_le32(raw + 108), 0x89abcdef);
	CHECK_EQ(get_le64(raw + 112), 0x8000000000000002ull);
	erofs_sb_decode(raw, &out);
	CHECK_EQ(out.root_nid, 0x0102);
	CHECK_EQ(out.xattr_filter_reserved, 1);
	CHECK_EQ(out.ishare_xattr_prefix_id, 3);
	CHECK_EQ(out.mkfs_time, 0x89abcdef);
	CHECK_EQ(out.rootnid_8b, 0x8000000000000002ull);
	CHECK_EQ(out.metabox_nid, 0);
	put_le64(ext, 109);
	erofs_sb_decode_ext1(ext, &out);
	CHECK_EQ(out.metabox_nid, 109);

	/* a compact NLINK_1 file: i_nb is the block address MSB, then i_mtime */
	put_le16(ino, 1 << EROFS_I_NLINK_1_BIT | EROFS_INODE_FLAT_PLAIN << 1);
	put_le16(ino + 4, 0100644);
	put_le16(ino + 6, 0x0007);
	put_le32(ino + 12, 86400);
	CHECK_EQ(erofs_dinode_decode(ino, 32, &di), 32);
	CHECK_EQ(di.format, 0x10);
	CHECK_EQ(di.nb, 7);
	CHECK_EQ(di.compact_mtime, 86400);
	put_le16(ino, 0x20);	/* bit 5 is still unknown */
	CHECK_EQ(erofs_dinode_decode(ino, 32, &di), 0);
}

int main(void)
{
	test_crc32c();
	test_crc32c_vector();
	test_super();
	test_inode();
	test_new_fields();
	test_dirent_xattr_dev();
	return check_result("ondisk");
}
