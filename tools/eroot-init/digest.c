// SPDX-License-Identifier: MIT
/*
 * SHA-256 in the loader: libcrypto's low-level functions, linked statically
 * (about 25 KB of loader), so that hashing needs no kernel module.  Not the
 * one-shot SHA256() or EVP: those pull in providers and dlopen.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "init.h"

#define CHUNK (1u << 20)

static void to_hex(const unsigned char md[SHA256_DIGEST_LENGTH], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

void sha256_buf(const void *data, size_t len, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX ctx;

	SHA256_Init(&ctx);
	SHA256_Update(&ctx, data, len);
	SHA256_Final(md, &ctx);
	to_hex(md, hex);
}

int sha256_file(const char *path, char hex[65], char *why, size_t whylen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *buf = malloc(CHUNK);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	SHA256_CTX ctx;
	ssize_t n = -1;

	if (buf && fd >= 0) {
		SHA256_Init(&ctx);
		while ((n = read(fd, buf, CHUNK)) > 0)
			SHA256_Update(&ctx, buf, (size_t)n);
		SHA256_Final(md, &ctx);
	}
	if (n < 0)
		snprintf(why, whylen, "%s: %s", path, buf ? strerror(errno) : "out of memory");
	free(buf);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	to_hex(md, hex);
	return 0;
}
