// SPDX-License-Identifier: MIT
/*
 * SHA-256 of a file through the kernel's crypto API (AF_ALG): no library
 * in the static loader, and the kernel's fastest implementation.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_alg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "init.h"

#define CHUNK (1u << 20)

int sha256_file(const char *path, char hex[65], char *why, size_t whylen)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "hash",
				   .salg_name = "sha256" };
	unsigned char md[32];
	int s = -1, op = -1, fd = -1, err = -1;
	char *buf = malloc(CHUNK);
	ssize_t n;

	if (!buf) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	s = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (op = accept4(s, NULL, 0, SOCK_CLOEXEC)) < 0) {
		snprintf(why, whylen, "kernel sha256 (AF_ALG): %s", strerror(errno));
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf, CHUNK)) > 0) {
		if (send(op, buf, (size_t)n, MSG_MORE) != n) {
			snprintf(why, whylen, "hashing: %s", strerror(errno));
			goto out;
		}
	}
	if (n < 0 || send(op, NULL, 0, 0) < 0 || read(op, md, sizeof(md)) != sizeof(md)) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	err = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (op >= 0)
		close(op);
	if (s >= 0)
		close(s);
	return err;
}
