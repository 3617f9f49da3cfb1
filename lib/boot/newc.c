// SPDX-License-Identifier: MIT
/*
 * newc cpio members, written as the kernel's unpacker reads them: a
 * 110-byte header of hex fields, the name with its NUL, padding to 4 bytes,
 * the data, padding to 4 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "newc.h"

#define HEADER 110

int newc_write(struct newc *w, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			return eroot_fail(w->err, -EIO, "%s: %s", w->target,
					  n < 0 ? strerror(errno) : "short write");
		}
		p += n;
		len -= (size_t)n;
		w->pos += (uint64_t)n;
	}
	return 0;
}

int newc_pad(struct newc *w, uint64_t align)
{
	static const char zeros[4096];
	uint64_t n = (align - w->pos % align) % align;
	int err = 0;

	while (!err && n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

		err = newc_write(w, zeros, k);
		n -= k;
	}
	return err;
}

static int header(struct newc *w, const char *name, uint32_t mode, uint64_t size,
		  uint32_t major, uint32_t minor)
{
	char h[HEADER + 1];
	size_t namesize = strlen(name) + 1;
	int err;

	if (size > UINT32_MAX)
		return eroot_fail(w->err, -EFBIG, "%s: %s is over 4 GiB, more than a newc "
				  "member holds", w->target, name);
	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ++w->ino, mode, 0, 0, 1, (uint32_t)w->mtime, (uint32_t)size, 0, 0, major,
		 minor, (uint32_t)namesize, 0);
	err = newc_write(w, h, HEADER);
	if (!err)
		err = newc_write(w, name, namesize);
	return err ? err : newc_pad(w, 4);
}

int newc_dir(struct newc *w, const char *name, uint32_t mode)
{
	return header(w, name, S_IFDIR | mode, 0, 0, 0);
}

int newc_node(struct newc *w, const char *name, uint32_t mode, uint32_t major, uint32_t minor)
{
	return header(w, name, mode, 0, major, minor);
}

int newc_buf(struct newc *w, const char *name, uint32_t mode, const void *data, size_t len)
{
	int err = header(w, name, mode, len, 0, 0);

	if (!err)
		err = newc_write(w, data, len);
	return err ? err : newc_pad(w, 4);
}

/* A heap buffer: a library call may run in any thread. */
#define COPY_CHUNK (1 << 16)

static int copy_fd(struct newc *w, int fd, const char *src, uint64_t len)
{
	char *buf = malloc(COPY_CHUNK);
	int err = buf ? 0 : eroot_fail(w->err, -ENOMEM, "out of memory");

	while (!err && len) {
		ssize_t n = read(fd, buf, len < COPY_CHUNK ? (size_t)len : COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = eroot_fail(w->err, -EIO, "%s: %s", src,
					 n < 0 ? strerror(errno) : "file shrank");
		else
			err = newc_write(w, buf, (size_t)n);
		len -= n > 0 ? (uint64_t)n : 0;
	}
	free(buf);
	return err;
}

int newc_file(struct newc *w, const char *name, uint32_t mode, const char *src,
	      int page_align)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC), err;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return eroot_fail(w->err, err, "%s: %s", src, strerror(-err));
	}
	if (page_align) {
		/* data starts after the header and the 4-aligned name */
		uint64_t name_end = (HEADER + strlen(name) + 1 + 3) & ~3ull;
		uint64_t at = (w->pos + name_end + 4095) & ~4095ull;

		err = newc_pad(w, 4);
		while (!err && w->pos + name_end < at) {
			static const char zeros[4] = { 0 };

			err = newc_write(w, zeros, 4);
		}
	} else {
		err = 0;
	}
	if (!err)
		err = header(w, name, S_IFREG | mode, (uint64_t)st.st_size, 0, 0);
	if (!err)
		err = copy_fd(w, fd, src, (uint64_t)st.st_size);
	close(fd);
	return err ? err : newc_pad(w, 4);
}

int newc_trailer(struct newc *w)
{
	return header(w, "TRAILER!!!", 0, 0, 0, 0);
}

int newc_copy_prefix(struct newc *w, const char *src, uint64_t len)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return eroot_fail(w->err, -errno, "%s: %s", src, strerror(errno));
	err = copy_fd(w, fd, src, len);
	close(fd);
	return err;
}
