// SPDX-License-Identifier: MIT
/* eroot fsck: each file's fingerprint xattr against its content. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "fsck_fingerprint.h"

#define FP_TAG "sha256:"
#define FP_TAG_LEN (sizeof(FP_TAG) - 1)
#define PIECE FSCK_FINGERPRINT_BUF

/* SHA-256 of @ino's content into @digest. */
static int content_sha256(struct eroot_image *img, const struct eroot_inode *ino,
			  uint8_t *buf, uint8_t digest[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len;
	int err = 0;

	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		err = -ENOMEM;
	for (uint64_t off = 0; !err && off < ino->size; ) {
		size_t want = ino->size - off < PIECE ? (size_t)(ino->size - off) : PIECE;
		ssize_t n = eroot_pread(img, ino, buf, want, off);

		if (n <= 0)
			err = n ? (int)n : -EIO;
		else
			EVP_DigestUpdate(md, buf, (size_t)n);
		off += n > 0 ? (uint64_t)n : 0;
	}
	if (!err)
		EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	return err;
}

int fsck_fingerprint(struct eroot_image *img, const struct eroot_inode *ino, const char *name,
		     uint8_t *buf, char *why, size_t why_size)
{
	uint8_t value[64], digest[32];
	ssize_t len = eroot_getxattr(img, ino, name, value, sizeof(value));
	int err;

	if (len == -ENODATA) {
		snprintf(why, why_size, "no fingerprint xattr %s", name);
		return -EUCLEAN;
	}
	if (len == -ERANGE || (len >= 0 && ((size_t)len != FP_TAG_LEN + 32 ||
					    memcmp(value, FP_TAG, FP_TAG_LEN)))) {
		snprintf(why, why_size, "fingerprint xattr %s malformed (not \"sha256:\" and 32 bytes)",
			 name);
		return -EUCLEAN;
	}
	if (len < 0) {
		snprintf(why, why_size, "%s", eroot_image_errmsg(img));
		return (int)len;
	}
	err = content_sha256(img, ino, buf, digest);
	if (err) {
		snprintf(why, why_size, "%s", err == -ENOMEM ? "out of memory" :
			 eroot_image_errmsg(img));
		return err;
	}
	if (memcmp(digest, value + FP_TAG_LEN, 32)) {
		snprintf(why, why_size, "fingerprint xattr %s does not match the content", name);
		return -EUCLEAN;
	}
	return 0;
}
