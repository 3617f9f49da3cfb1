// SPDX-License-Identifier: MIT
/* Byte access to the image, whatever stores it: file, block device, memory. */
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "reader.h"

int backing_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

int img_read(struct eroot_image *img, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (off > img->image_bytes || len > img->image_bytes - off)
		return CORRUPT(img, "read of %zu bytes at %llu beyond the image end (%llu)",
			       len, (unsigned long long)off,
			       (unsigned long long)img->image_bytes);
	if (img->mem) {
		memcpy(buf, img->mem + img->base + off, len);
		return 0;
	}
	while (len) {
		ssize_t n = pread(img->fd, p, len, (off_t)(img->base + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return eroot_fail(&img->err, -EIO, "read at %llu: %s",
					  (unsigned long long)off, strerror(errno));
		if (n == 0)	/* the file shrank under us */
			return CORRUPT(img, "image truncated at %llu",
				       (unsigned long long)(off));
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}
