// SPDX-License-Identifier: MIT
/*
 * SHA-256 in the loader: libcrypto's low-level functions, linked statically
 * (about 25 KB of loader), so that hashing needs no kernel module.  Not the
 * one-shot SHA256() or EVP: those pull in providers and dlopen.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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

/*
 * Hash the first @bytes of @path (all of it for ULLONG_MAX), opened with
 * @flags.  The buffer is page-aligned so that O_DIRECT can use it, and
 * reads are whole CHUNKs (a multiple of any logical block size).
 */
static int sha256_read(const char *path, int flags, unsigned long long bytes, char hex[65],
		       char *why, size_t whylen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned long long done = 0;
	void *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	SHA256_CTX ctx;
	ssize_t n = 1;

	if (fd < 0 || posix_memalign(&buf, 4096, CHUNK)) {
		snprintf(why, whylen, "%s: %s", path, fd < 0 ? strerror(errno) : "out of memory");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	SHA256_Init(&ctx);
	while (done < bytes && (n = read(fd, buf, CHUNK)) > 0) {
		size_t use = (unsigned long long)n < bytes - done ? (size_t)n : (size_t)(bytes - done);

		SHA256_Update(&ctx, buf, use);
		done += use;
	}
	SHA256_Final(md, &ctx);
	if (n < 0)
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
	else if (bytes != ULLONG_MAX && done < bytes)
		snprintf(why, whylen, "%s: %llu bytes, the image has %llu", path, done, bytes);
	free(buf);
	close(fd);
	if (n < 0 || (bytes != ULLONG_MAX && done < bytes))
		return -1;
	to_hex(md, hex);
	return 0;
}

int sha256_file(const char *path, char hex[65], char *why, size_t whylen)
{
	return sha256_read(path, 0, ULLONG_MAX, hex, why, whylen);
}

/* O_DIRECT: the device's bytes go straight into the buffer, none into the
 * page cache, which would hold a second copy of a DAX image for nothing. */
int sha256_direct(const char *path, unsigned long long bytes, char hex[65], char *why,
		  size_t whylen)
{
	return sha256_read(path, O_DIRECT, bytes, hex, why, whylen);
}
