// SPDX-License-Identifier: MIT
/*
 * Is INPUT eroot initrd's own output (own_output.h)?  Its loader archive
 * is an uncompressed newc archive after the early ones, so walking the
 * headers of the leading uncompressed archives finds it without reading
 * any file data: a newc header is "070701" and 13 fields of 8 hex digits,
 * the name (namesize bytes with its NUL) follows, and the name and the
 * data each end at a multiple of 4.  The kernel skips zero bytes between
 * archives, so does this walk (up to ZERO_RUN_MAX of them).  What the walk
 * cannot see into (an eroot initrd compressed again) shows in the image of
 * the input, once built: the loader's files are in it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eroot/eroot.h"
#include "loader-config.h"
#include "own_output.h"

#define NEWC_HEADER 110
#define NAME_MAX_BYTES 4096
#define ZERO_RUN_MAX (64u << 20)

static bool hex_field(const char *h, unsigned int index, uint32_t *out)
{
	uint32_t v = 0;

	for (const char *p = h + 6 + 8 * index; p < h + 14 + 8 * index; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 :
			*p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* Past the zero bytes at @pos, at a multiple of 4; false at the end. */
static bool skip_zeros(int fd, uint64_t *pos)
{
	unsigned char buf[4096];
	uint64_t start = *pos;

	while (*pos - start < ZERO_RUN_MAX) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)*pos);
		ssize_t i = 0;

		if (n <= 0)
			return false;
		while (i < n && !buf[i])
			i++;
		*pos += (uint64_t)i;
		if (i < n) {
			*pos &= ~(uint64_t)3;
			return true;
		}
	}
	return false;
}

static const char *plain_name(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	return name;
}

static bool file_is_own_output(int fd)
{
	bool has_init = false, has_config = false;
	uint64_t pos = 0;

	for (unsigned int entries = 0; entries < OWN_OUTPUT_MAX_ENTRIES; entries++) {
		char h[NEWC_HEADER], name[NAME_MAX_BYTES];
		uint32_t filesize, namesize;
		const char *plain;

		if (!skip_zeros(fd, &pos) || pread(fd, h, sizeof(h), (off_t)pos) != sizeof(h))
			return false;
		if ((memcmp(h, "070701", 6) && memcmp(h, "070702", 6)) ||
		    !hex_field(h, 6, &filesize) || !hex_field(h, 11, &namesize) ||
		    !namesize || namesize > sizeof(name) ||
		    pread(fd, name, namesize, (off_t)(pos + NEWC_HEADER)) != (ssize_t)namesize)
			return false;	/* compressed, or not newc: the end of the walk */
		name[namesize - 1] = '\0';
		plain = plain_name(name);
		has_init |= !strcmp(plain, "init");
		has_config |= !strcmp(plain, &LOADER_CONFIG_PATH[1]);
		if (has_init && has_config)
			return true;
		if (!strcmp(name, "TRAILER!!!"))
			has_init = has_config = false;	/* one archive ends */
		pos = (pos + NEWC_HEADER + namesize + 3) & ~(uint64_t)3;
		pos = (pos + filesize + 3) & ~(uint64_t)3;
	}
	return false;
}

bool initrd_is_own_output(const char *input)
{
	char path[4096];
	struct stat st;
	bool own = false;
	int fd;

	if (stat(input, &st) < 0)
		return false;
	if (S_ISDIR(st.st_mode)) {
		snprintf(path, sizeof(path), "%s%s", input, LOADER_CONFIG_PATH);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			return false;
		snprintf(path, sizeof(path), "%s/init", input);
		return stat(path, &st) == 0;
	}
	fd = open(input, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	own = file_is_own_output(fd);
	close(fd);
	return own;
}

bool initrd_image_is_own_output(const char *image)
{
	static const char *const files[] = { "/init", LOADER_CONFIG_PATH, LOADER_ROOT_IMAGE };
	struct eroot_image *img;
	struct eroot_inode ino;
	bool own = !eroot_image_open_path(image, 0, &img);

	for (size_t i = 0; own && i < sizeof(files) / sizeof(files[0]); i++)
		own = !eroot_lookup_follow(img, files[i], false, &ino) && S_ISREG(ino.mode);
	eroot_image_close(img);
	return own;
}
