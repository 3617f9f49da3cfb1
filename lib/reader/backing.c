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

/* Metadata in the metabox inode's (compressed) data, at @off there. */
static int metabox_read(struct eroot_image *img, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (img->metabox_busy)	/* its own data mapped into itself: no end */
		return CORRUPT(img, "the metabox inode refers to its own data");
	img->metabox_busy = true;
	n = data_read(img, &img->metabox, buf, len, off);
	img->metabox_busy = false;

	if (n >= 0 && (size_t)n != len)
		return CORRUPT(img, "read of %zu bytes at %llu beyond the metabox (%llu bytes)",
			       len, (unsigned long long)off,
			       (unsigned long long)img->metabox.size);
	return n < 0 ? (int)n : 0;
}

int img_read(struct eroot_image *img, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (off > img->image_bytes || len > img->image_bytes - off)
		return CORRUPT(img, "read of %zu bytes at %llu beyond the image end (%llu)",
			       len, (unsigned long long)off,
			       (unsigned long long)img->image_bytes);
	if (img->metabox_base && off + len > img->metabox_base) {
		if (off < img->metabox_base)
			return CORRUPT(img, "read of %zu bytes at %llu across the image end",
				       len, (unsigned long long)off);
		return metabox_read(img, off - img->metabox_base, buf, len);
	}
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
