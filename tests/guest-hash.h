/* For the static guest probes (share-probe.c, merge-probe.c): the SHA-256
 * of a whole file, read the way a program reads it (plain read(2) through
 * the page cache).  Errors go to @out as "ERR ..." lines, which the host
 * side counts as failures. */
#ifndef GUEST_HASH_H
#define GUEST_HASH_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Returns 0 with @md filled, -1 when the file could not be opened. */
static int guest_sha256_file(FILE *out, const char *path, unsigned char md[32])
{
	static unsigned char buf[1 << 20];
	unsigned int mdlen;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fprintf(out, "ERR open %s: %m\n", path);
		return -1;
	}
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	if (n < 0)
		fprintf(out, "ERR read %s: %m\n", path);
	close(fd);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	return 0;
}

/* "PREFIX RELPATH HEX\n" on @out. */
static void guest_print_hash(FILE *out, const char *prefix, const char *rel,
			     const unsigned char md[32])
{
	fprintf(out, "%s %s ", prefix, rel);
	for (int i = 0; i < 32; i++)
		fprintf(out, "%02x", md[i]);
	fputc('\n', out);
}

#endif
