// SPDX-License-Identifier: MIT
/*
 * Content fingerprints for page-cache sharing (kernel 7.0 inode_share,
 * compat feature ISHARE_XATTRS), written as mkfs.erofs
 * --xattr-inode-digest=NAME writes them:
 *  - NAME becomes the only entry of the long xattr name prefix table: the
 *    short prefix it starts with ("user.", "trusted.", "security.") and the
 *    rest as infix; a NAME in no namespace (the default
 *    "erofs.fingerprint.v1") gets short prefix 0, which the kernel reads
 *    itself but lists to no one;
 *  - the superblock's ishare_xattr_prefix_id is that entry's index (0),
 *    stored without the long-prefix bit 0x80;
 *  - every regular file with data carries an inline entry of that long
 *    prefix with an empty suffix, value "sha256:" + the 32-byte SHA-256 of
 *    its uncompressed content.
 * The table lies in the raw image right after the superblock and the
 * compression configurations (COMPAT_PLAIN_XATTR_PFX), as mkfs.erofs puts
 * it in an image without a packed inode.
 */
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"

#define FP_TAG "sha256:"
#define FP_TAG_LEN (sizeof(FP_TAG) - 1)
#define FP_VALUE_LEN (FP_TAG_LEN + 32)

int fingerprint_check_name(struct eroot_builder *b)
{
	const char *name = b->fp_name, *infix;
	unsigned int base;

	if (!name)
		return 0;
	base = erofs_xattr_split(name, &infix);
	if (base == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
	    base == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT || !strncmp(name, "lustre.", 7) ||
	    !strncmp(name, "system.", 7))
		return BFAIL(b, -EINVAL, "fingerprint name %s: not in a namespace for it "
			     "(user., trusted., security. or none)", name);
	if (!*infix)
		return BFAIL(b, -EINVAL, "fingerprint name %s: nothing after the namespace", name);
	if (strlen(infix) > EROFS_NAME_LEN)
		return BFAIL(b, -EINVAL, "fingerprint name %s: longer than %u bytes after the namespace",
			     name, EROFS_NAME_LEN);
	b->fp_base = (uint8_t)base;
	b->fp_infix = infix;
	return 0;
}

bool fingerprint_wanted(const struct eroot_builder *b, const struct bnode *n)
{
	return b->fp_infix && S_ISREG(n->mode) && n->size && !n->is_packed;
}

/* The source's own xattr of that name would be a second one: ours wins. */
void fingerprint_drop_source_xattrs(struct eroot_builder *b)
{
	const char *suffix;
	unsigned int index;

	if (!b->fp_infix || b->fp_base == EROFS_XATTR_INDEX_NONE)
		return;	/* sources carry no xattr in no namespace */
	index = erofs_xattr_split(b->fp_name, &suffix);
	for (size_t i = 0; i < b->nnodes; i++)
		xattrs_remove(b, b->nodes[i], index, suffix);
}

uint32_t fingerprint_entry_size(void)
{
	return erofs_xattr_align(EROFS_XATTR_ENTRY_SIZE + FP_VALUE_LEN);
}

uint8_t *fingerprint_encode_entry(const struct bnode *n, uint8_t *out)
{
	struct erofs_xattr_entry_disk e = {
		.name_len = 0, .name_index = EROFS_XATTR_LONG_PREFIX | 0,
		.value_size = FP_VALUE_LEN,
	};
	uint32_t size = fingerprint_entry_size();

	memset(out, 0, size);
	erofs_xattr_entry_encode(&e, out);
	memcpy(out + EROFS_XATTR_ENTRY_SIZE, FP_TAG, FP_TAG_LEN);
	memcpy(out + EROFS_XATTR_ENTRY_SIZE + FP_TAG_LEN, n->fp_digest, 32);
	return out + size;
}

/* The prefix table: one record, a le16 length, the short prefix index and
 * the infix, padded to 4 bytes. */
uint32_t fingerprint_table_size(const struct eroot_builder *b)
{
	return b->fp_infix ? erofs_xattr_align(2 + 1 + (uint32_t)strlen(b->fp_infix)) : 0;
}

void fingerprint_table_encode(const struct eroot_builder *b, uint8_t *out)
{
	size_t len = strlen(b->fp_infix);

	memset(out, 0, fingerprint_table_size(b));
	put_le16(out, (uint16_t)(1 + len));
	out[2] = b->fp_base;
	memcpy(out + 3, b->fp_infix, len);
}
