// SPDX-License-Identifier: MIT
/*
 * Multi-device images: the device table, attaching devices, and where a
 * data address lands.  The rules are the kernel's (fs/erofs erofs_map_dev):
 * a chunk index names its device (masked by the smallest all-ones mask that
 * holds the device count); any other data address, and a chunk on device
 * 0, lies in the unified space, where device N occupies blocks [uniaddr,
 * uniaddr + blocks) unless its uniaddr is 0.  Unlike the kernel, hostile
 * tables are refused at open: slots past the image, unified ranges that
 * overlap each other or the image's own blocks.
 */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

#define DEVT_SLOT_SIZE		128
#define DEVT_TAG_SIZE		64

static const char hexdigits[] = "0123456789abcdef";

static uint64_t dev_bytes(const struct eroot_image *img, const struct reader_device *d)
{
	return d->blocks << img->blkszbits;	/* 48-bit counts: no overflow */
}

static int by_uniaddr(const void *a, const void *b)
{
	const struct reader_device *x = *(const struct reader_device *const *)a;
	const struct reader_device *y = *(const struct reader_device *const *)b;

	return x->uniaddr < y->uniaddr ? -1 : x->uniaddr > y->uniaddr;
}

/* The unified ranges, sorted, for lookups; overlaps are corruption. */
static int sort_unified(struct eroot_image *img)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < img->ndevs; i++)
		if (img->devs[i].uniaddr && img->devs[i].blocks)
			n++;
	if (!n)
		return 0;
	img->unified = malloc(n * sizeof(*img->unified));
	if (!img->unified)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	n = 0;
	for (unsigned int i = 0; i < img->ndevs; i++)
		if (img->devs[i].uniaddr && img->devs[i].blocks)
			img->unified[n++] = &img->devs[i];
	img->nunified = n;
	qsort(img->unified, n, sizeof(*img->unified), by_uniaddr);
	if (img->unified[0]->uniaddr < img->info.blocks)
		return CORRUPT(img, "device %u: unified blocks from %llu overlap the image's %llu",
			       img->unified[0]->id, (unsigned long long)img->unified[0]->uniaddr,
			       (unsigned long long)img->info.blocks);
	for (unsigned int i = 1; i < n; i++) {
		const struct reader_device *a = img->unified[i - 1], *b = img->unified[i];

		if (b->uniaddr < a->uniaddr + a->blocks)
			return CORRUPT(img, "devices %u and %u overlap in the unified space",
				       a->id, b->id);
	}
	return 0;
}

static void decode_slot(struct eroot_image *img, const uint8_t *raw, unsigned int id,
			bool wide)
{
	struct reader_device *d = &img->devs[id - 1];

	d->id = id;
	memcpy(d->tag, raw, DEVT_TAG_SIZE);
	d->blocks = get_le32(raw + 64);
	d->uniaddr = get_le32(raw + 68);
	if (wide) {	/* 48BIT: the MSBs, 16 bits each (Linux 6.18.y/7.1 layout) */
		d->blocks |= (uint64_t)get_le16(raw + 72) << 32;
		d->uniaddr |= (uint64_t)get_le16(raw + 74) << 32;
	}
}

int load_devices(struct eroot_image *img, const struct erofs_sb *sb)
{
	bool wide = sb->feature_incompat & EROFS_FEATURE_INCOMPAT_48BIT;
	uint64_t pos = (uint64_t)sb->devt_slotoff * DEVT_SLOT_SIZE;
	unsigned int n = sb->extra_devices;
	uint8_t raw[DEVT_SLOT_SIZE];

	/* the kernel reads the count only with the DEVICE_TABLE bit */
	if (!(sb->feature_incompat & EROFS_FEATURE_INCOMPAT_DEVICE_TABLE) || !n)
		return 0;
	if (pos + (uint64_t)n * DEVT_SLOT_SIZE > img->image_bytes)
		return CORRUPT(img, "device table (%u slots at byte %llu) past the image end",
			       n, (unsigned long long)pos);
	img->devs = calloc(n, sizeof(*img->devs));
	if (!img->devs)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	img->ndevs = n;
	for (unsigned int i = 0; i < n; i++)
		img->devs[i].fd = -1;
	while (img->devid_mask < n)
		img->devid_mask = (uint16_t)(img->devid_mask << 1 | 1);
	for (unsigned int id = 1; id <= n; id++) {
		int err = img_read(img, pos, raw, sizeof(raw));

		if (err)
			return err;
		decode_slot(img, raw, id, wide);
		pos += DEVT_SLOT_SIZE;
	}
	return sort_unified(img);
}

void release_devices(struct eroot_image *img)
{
	for (unsigned int i = 0; i < img->ndevs; i++)
		if (img->devs[i].fd >= 0)
			close(img->devs[i].fd);
	free(img->devs);
	free(img->unified);
}

/* The slot's tag as text: up to its first NUL, odd bytes as '?'. */
static void tag_text(const struct reader_device *d, char out[DEVT_TAG_SIZE + 1])
{
	size_t i;

	for (i = 0; i < DEVT_TAG_SIZE && d->tag[i]; i++)
		out[i] = d->tag[i] > ' ' && d->tag[i] < 0x7f ? (char)d->tag[i] : '?';
	out[i] = '\0';
}

static bool is_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memchr(hexdigits, p[i], 16) || !p[i])
			return false;
	return true;
}

enum tag_kind { TAG_OTHER, TAG_SHA256, TAG_UUID };

static enum tag_kind tag_kind(const struct reader_device *d)
{
	static const uint8_t zeros[DEVT_TAG_SIZE / 2];

	if (is_hex(d->tag, 64))
		return TAG_SHA256;
	if (is_hex(d->tag, 32) && !memcmp(d->tag + 32, zeros, 32))
		return TAG_UUID;
	return TAG_OTHER;
}

static void to_hex(const uint8_t *bin, size_t n, char *hex)
{
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = hexdigits[bin[i] >> 4];
		hex[2 * i + 1] = hexdigits[bin[i] & 15];
	}
}

/* pread all of @len bytes at @off; -EUCLEAN when the device ends before. */
static int dev_pread(struct eroot_image *img, const struct reader_device *d, int fd,
		     uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return eroot_fail(&img->err, -EIO, "device %u: read at %llu: %s", d->id,
					  (unsigned long long)off, strerror(errno));
		if (n == 0)
			return CORRUPT(img, "device %u: truncated at byte %llu", d->id,
				       (unsigned long long)off);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* SHA-256 of the first @len bytes of @fd, as 64 hex digits. */
static int hash_prefix(struct eroot_image *img, const struct reader_device *d, int fd,
		       uint64_t len, char hex[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(1u << 20), md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t off = 0;
	int err = 0;

	if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		err = eroot_fail(&img->err, -ENOMEM, "out of memory");
	while (!err && off < len) {
		size_t n = len - off < (1u << 20) ? (size_t)(len - off) : 1u << 20;

		err = dev_pread(img, d, fd, off, buf, n);
		if (!err && !EVP_DigestUpdate(ctx, buf, n))
			err = eroot_fail(&img->err, -ENOMEM, "SHA-256: libcrypto failed");
		off += n;
	}
	if (!err && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
		err = eroot_fail(&img->err, -ENOMEM, "SHA-256: libcrypto failed");
	if (!err)
		to_hex(md, 32, hex);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return err;
}

/* Does @fd hold what slot @d's tag names?  1 yes, 0 no, or an errno. */
static int matches_tag(struct eroot_image *img, const struct reader_device *d, int fd)
{
	char hex[64];
	uint8_t sb[EROFS_SUPER_SIZE];
	int err;

	switch (tag_kind(d)) {
	case TAG_SHA256:
		err = hash_prefix(img, d, fd, dev_bytes(img, d), hex);
		return err ? err : !memcmp(hex, d->tag, 64);
	case TAG_UUID:
		/* the reference tool's rebuild mode: the device's own UUID */
		if (dev_bytes(img, d) < EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE)
			return 0;
		err = dev_pread(img, d, fd, EROFS_SUPER_OFFSET, sb, sizeof(sb));
		if (err)
			return err;
		to_hex(sb + 48, 16, hex);
		return get_le32(sb) == EROFS_MAGIC && !memcmp(hex, d->tag, 32);
	default:
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "device %u: its tag cannot be verified (neither a SHA-256 nor a UUID)",
				  d->id);
	}
}

/* Open @path as a candidate for slot @d: a descriptor, or an errno. */
static int open_candidate(struct eroot_image *img, const struct reader_device *d,
			  const char *path)
{
	uint64_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return eroot_fail(&img->err, -errno, "device %u: %s: %s", d->id, path,
				  strerror(errno));
	err = backing_size(fd, &size);
	if (!err && size < dev_bytes(img, d))
		err = CORRUPT(img, "device %u: %s holds %llu bytes, its slot needs %llu (truncated?)",
			      d->id, path, (unsigned long long)size,
			      (unsigned long long)dev_bytes(img, d));
	else if (err)
		err = eroot_fail(&img->err, err, "device %u: %s: %s", d->id, path,
				 err == -EINVAL ? "not a file or block device" : strerror(-err));
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static void attach(struct reader_device *d, int fd)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = fd;
}

unsigned int eroot_image_device_count(const struct eroot_image *img)
{
	return img->ndevs;
}

int eroot_image_device_info(const struct eroot_image *img, unsigned int device_id,
			    struct eroot_device_info *out)
{
	const struct reader_device *d;

	if (device_id < 1 || device_id > img->ndevs)
		return -EINVAL;
	d = &img->devs[device_id - 1];
	tag_text(d, out->tag);
	out->blocks = d->blocks;
	out->uniaddr = d->uniaddr;
	out->attached = d->fd >= 0;
	return 0;
}

int eroot_image_attach_device(struct eroot_image *img, unsigned int device_id,
			      const char *path, unsigned int flags)
{
	struct reader_device *d;
	int fd, ok;

	if (device_id < 1 || device_id > img->ndevs)
		return eroot_fail(&img->err, -EINVAL, "no device %u: the image has %u",
				  device_id, img->ndevs);
	d = &img->devs[device_id - 1];
	fd = open_candidate(img, d, path);
	if (fd < 0)
		return fd;
	ok = flags & EROOT_DEVICE_VERIFY ? matches_tag(img, d, fd) : 1;
	if (ok <= 0) {
		char tag[DEVT_TAG_SIZE + 1];

		close(fd);
		tag_text(d, tag);
		return ok < 0 ? ok : CORRUPT(img, "device %u: %s does not match its tag %s",
					     device_id, path, *tag ? tag : "(none)");
	}
	attach(d, fd);
	return 0;
}

/* Try candidate @path for every missing slot it may fill. */
static int try_candidate(struct eroot_image *img, const char *path, uint64_t size)
{
	uint64_t hashed_len = UINT64_MAX;
	char hashed[64];

	for (unsigned int i = 0; i < img->ndevs; i++) {
		struct reader_device *d = &img->devs[i];
		enum tag_kind kind = tag_kind(d);
		int fd, ok;

		if (d->fd >= 0 || kind == TAG_OTHER || size < dev_bytes(img, d))
			continue;
		fd = open_candidate(img, d, path);
		if (fd < 0)
			continue;	/* vanished or shrank: not this one */
		if (kind == TAG_SHA256) {
			/* slots of one length share the candidate's hash */
			int err = hashed_len == dev_bytes(img, d) ? 0 :
				  hash_prefix(img, d, fd, dev_bytes(img, d), hashed);

			if (err == -ENOMEM) {
				close(fd);
				return err;
			}
			hashed_len = err ? UINT64_MAX : dev_bytes(img, d);
			ok = !err && !memcmp(hashed, d->tag, 64);
		} else {
			ok = matches_tag(img, d, fd);
		}
		if (ok > 0)
			attach(d, fd);
		else
			close(fd);
	}
	return 0;
}

int eroot_image_attach_search(struct eroot_image *img, const char *dir)
{
	uint64_t smallest = UINT64_MAX;
	unsigned int missing = 0;
	struct dirent *de;
	int err = 0;
	DIR *dp;

	for (unsigned int i = 0; i < img->ndevs; i++)
		if (img->devs[i].fd < 0 && dev_bytes(img, &img->devs[i]) < smallest)
			smallest = dev_bytes(img, &img->devs[i]);
	if (smallest == UINT64_MAX)
		return 0;
	dp = opendir(dir);
	if (!dp)
		return eroot_fail(&img->err, -errno, "%s: %s", dir, strerror(errno));
	while (!err && (de = readdir(dp))) {
		struct stat st;
		uint64_t size;
		char *path;
		int fd;

		if (de->d_name[0] == '.' || fstatat(dirfd(dp), de->d_name, &st, 0) < 0 ||
		    !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			continue;
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < smallest)
			continue;	/* too short for any slot: never hashed */
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			err = eroot_fail(&img->err, -ENOMEM, "out of memory");
			break;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && !backing_size(fd, &size))
			err = try_candidate(img, path, size);
		if (fd >= 0)
			close(fd);
		free(path);
	}
	closedir(dp);
	if (err)
		return err;
	for (unsigned int i = 0; i < img->ndevs; i++)
		missing += img->devs[i].fd < 0;
	return (int)missing;
}

/* The device slot, if any, whose unified range holds block @blk. */
static const struct reader_device *unified_at(const struct eroot_image *img, uint64_t blk)
{
	unsigned int lo = 0, hi = img->nunified;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct reader_device *d = img->unified[mid];

		if (blk < d->uniaddr)
			hi = mid;
		else if (blk - d->uniaddr >= d->blocks)
			lo = mid + 1;
		else
			return d;
	}
	return NULL;
}

int dev_locate(struct eroot_image *img, uint64_t nid, unsigned int *dev, uint64_t *off,
	       uint64_t len)
{
	const struct reader_device *d;
	uint64_t blk = *off >> img->blkszbits;

	if (*dev > img->ndevs)
		return CORRUPT(img, "nid %llu: data on device %u, the image has %u",
			       (unsigned long long)nid, *dev, img->ndevs);
	if (!*dev && (d = unified_at(img, blk))) {
		*dev = d->id;
		*off -= d->uniaddr << img->blkszbits;
	}
	if (!*dev) {
		if (*off > img->info.blocks << img->blkszbits ||
		    len > (img->info.blocks << img->blkszbits) - *off)
			return CORRUPT(img, "nid %llu: data at byte %llu+%llu beyond the image",
				       (unsigned long long)nid, (unsigned long long)*off,
				       (unsigned long long)len);
		return 0;
	}
	d = &img->devs[*dev - 1];
	if (*off > dev_bytes(img, d) || len > dev_bytes(img, d) - *off)
		return CORRUPT(img, "nid %llu: data at byte %llu+%llu beyond device %u (%llu blocks)",
			       (unsigned long long)nid, (unsigned long long)*off,
			       (unsigned long long)len, *dev, (unsigned long long)d->blocks);
	return 0;
}

int dev_read(struct eroot_image *img, unsigned int dev, uint64_t off, void *buf, size_t len)
{
	const struct reader_device *d;
	char tag[DEVT_TAG_SIZE + 1];

	if (!dev)
		return img_read(img, off, buf, len);
	d = &img->devs[dev - 1];
	if (d->fd < 0) {
		tag_text(d, tag);
		return eroot_fail(&img->err, -ENXIO, "data on device %u (tag %s), which is not attached",
				  dev, *tag ? tag : "(none)");
	}
	return dev_pread(img, d, d->fd, off, buf, len);
}

int data_pread(struct eroot_image *img, uint64_t nid, uint64_t pa, void *buf, size_t len)
{
	unsigned int dev = 0;
	int err = dev_locate(img, nid, &dev, &pa, len);

	return err ? err : dev_read(img, dev, pa, buf, len);
}
