// SPDX-License-Identifier: MIT
/*
 * SHA-256 of what the loader will verify (modules, images) and of the
 * configuration itself, which eroot.digest= names.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"

static void to_hex(const unsigned char *md, unsigned int len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned int i = 0; i < len && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

int boot_sha256_buf(struct eroot_errmsg *err, const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return eroot_fail(err, -ENOMEM, "SHA-256: libcrypto failed");
	to_hex(md, mdlen, hex);
	return 0;
}

int boot_sha256_file(struct eroot_errmsg *err, const char *path, char hex[65])
{
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	unsigned int mdlen = 0;
	size_t n;
	int ret = 0;

	if (!f)
		ret = eroot_fail(err, -errno, "%s: %s", path, strerror(errno));
	else if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		ret = eroot_fail(err, -ENOMEM, "%s: cannot hash", path);
	while (!ret && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (!EVP_DigestUpdate(ctx, buf, n))
			ret = eroot_fail(err, -ENOMEM, "%s: cannot hash", path);
	if (!ret && (ferror(f) || !EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
		ret = eroot_fail(err, -EIO, "%s: read error", path);
	if (!ret)
		to_hex(md, mdlen, hex);
	if (f)
		fclose(f);
	EVP_MD_CTX_free(ctx);
	return ret;
}
