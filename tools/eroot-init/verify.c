// SPDX-License-Identifier: MIT
/*
 * What eroot.digest= covers: it is the SHA-256 of /eroot/config, which
 * records the SHA-256 of every module and image.  Each is read once and
 * used from what was hashed (the configuration, the modules), or hashed
 * whole before it is mounted (the images, which stay in rootfs, where only
 * PID 1 runs until the original init starts).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"

char *read_whole(const struct config *c, const char *path, size_t max, size_t *len)
{
	char what[LOADER_MAX_WORD + 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	snprintf(what, sizeof(what), "reading %s", path);
	if (fd < 0 || fstat(fd, &st) < 0)
		fail(c, what, "%m");
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
		fail(c, what, "not a regular file of at most %zu bytes", max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		fail(c, what, "out of memory");
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			fail(c, what, "%s", n ? strerror(errno) : "shorter than its size");
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

bool verifying(const struct config *c)
{
	return c->verify || c->cmdline_digest[0];
}

static void check_hex(const struct config *c, const char *path, const char *hex,
		      const char *want, const char *whose, double t0)
{
	char what[LOADER_MAX_WORD + 16];

	snprintf(what, sizeof(what), "verifying %s", path);
	if (strcmp(hex, want))
		fail(c, what, "sha256 %s, %s says %s", hex, whose, want);
	note(c, "%s: sha256 verified in %.3f s", path, uptime() - t0);
}

void verify_data(const struct config *c, const char *path, const void *data, size_t len,
		 const char *want, const char *whose)
{
	double t0 = uptime();
	char hex[65];

	sha256_buf(data, len, hex);
	check_hex(c, path, hex, want, whose, t0);
}

void verify_image(const struct config *c, const struct image *img)
{
	char what[LOADER_MAX_WORD + 16], hex[65], why[LOADER_MAX_WORD + 64];
	double t0 = uptime();

	if (!verifying(c))
		return;
	snprintf(what, sizeof(what), "verifying %s", img->path);
	/* a DAX image's device: its first dax_bytes, through no page cache */
	if ((c->dax && img == &c->images[0] ?
	     sha256_direct(img->path, c->dax_bytes, hex, why, sizeof(why)) :
	     sha256_file(img->path, hex, why, sizeof(why))) < 0)
		fail(c, what, "%s", why);
	check_hex(c, img->path, hex, img->sha256, CONFIG_PATH, t0);
}
