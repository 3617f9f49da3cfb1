// SPDX-License-Identifier: MIT
/*
 * The content image on a DAX device (a dax-image line): a virtio-pmem
 * device, or a memmap=SIZE!ADDR range the boot loader filled (nd_e820),
 * which the kernel shows as /dev/pmemN once the modules are loaded.  No
 * udev runs here, so devtmpfs is polled until a device holds the image:
 * at least its size, an EROFS superblock.  It is verified through O_DIRECT
 * reads and mounted dax=always, so that file data is read in place from
 * the device's memory and never copied into the page cache.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"

/* The EROFS superblock: its magic, little-endian, at byte 1024. */
#define EROFS_SUPER_OFFSET 1024
#define EROFS_SUPER_MAGIC 0xE0F5E1E2u
#define POLL_US 20000

/* Why @dev cannot hold the image, in @why; true when it can. */
static bool holds_image(const struct config *c, const char *dev, char *why, size_t whylen)
{
	unsigned char m[4];
	unsigned long long size = 0;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	bool ok = false;

	if (fd < 0)
		snprintf(why, whylen, "%s: %s", dev, strerror(errno));
	else if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		snprintf(why, whylen, "%s: not a block device", dev);
	else if (size < c->dax_bytes)
		snprintf(why, whylen, "%s: %llu bytes, the image has %llu", dev, size, c->dax_bytes);
	else if (pread(fd, m, sizeof(m), EROFS_SUPER_OFFSET) != (ssize_t)sizeof(m) ||
		 (m[0] | m[1] << 8 | m[2] << 16 | (unsigned int)m[3] << 24) != EROFS_SUPER_MAGIC)
		snprintf(why, whylen, "%s: no EROFS superblock", dev);
	else
		ok = true;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* "pmem0", "pmem12": whole devices, not partitions ("pmem0p1") or
 * namespaces' other personalities ("pmem0s"). */
static bool is_pmem(const char *name)
{
	return !strncmp(name, "pmem", 4) && name[4] &&
	       strspn(name + 4, "0123456789") == strlen(name + 4);
}

/* The first /dev/pmemN (by N) holding the image into @img->path; @why
 * says what the last one lacked. */
static bool find_in_dev(const struct config *c, struct image *img, char *why, size_t whylen)
{
	DIR *d = opendir("/dev");
	struct dirent *de;
	long best = -1;

	while (d && (de = readdir(d))) {
		char dev[sizeof(img->path)];
		long n = strtol(de->d_name + 4, NULL, 10);

		if (!is_pmem(de->d_name) || (best >= 0 && n >= best))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%.200s", de->d_name);
		if (holds_image(c, dev, why, whylen)) {
			best = n;
			snprintf(img->path, sizeof(img->path), "%s", dev);
		}
	}
	if (d)
		closedir(d);
	return best >= 0;
}

static bool find_device(const struct config *c, struct image *img, char *why, size_t whylen)
{
	if (!c->dax_device[0])
		return find_in_dev(c, img, why, whylen);
	if (!holds_image(c, c->dax_device, why, whylen))
		return false;
	snprintf(img->path, sizeof(img->path), "%s", c->dax_device);
	return true;
}

/* The kernel mounts EROFS without DAX, with a warning only, when the
 * device cannot do it: /proc/mounts tells. */
static bool mounted_dax(const char *mnt)
{
	char line[1024], where[256], opts[700];
	FILE *f = fopen("/proc/mounts", "r");
	bool dax = false;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %255s %*s %699s", where, opts) == 2 && !strcmp(where, mnt))
			dax = strstr(opts, "dax=always") != NULL;	/* the last mount there */
	if (f)
		fclose(f);
	return dax;
}

void dax_attach(const struct config *c, struct image *img)
{
	double deadline = uptime() + c->dax_wait;
	char why[LOADER_MAX_WORD + 64] = "";

	while (!find_device(c, img, why, sizeof(why))) {
		if (uptime() >= deadline) {
			if (why[0])
				fail(c, "finding the DAX image", "none of %llu bytes after %d s (%s; "
				     "eroot.dax.wait=SECONDS waits longer)", c->dax_bytes, c->dax_wait,
				     why);
			fail(c, "finding the DAX image", "no %s after %d s (attach the image as "
			     "virtio-pmem or memmap=; eroot.dax.wait=SECONDS waits longer)",
			     c->dax_device[0] ? c->dax_device : "/dev/pmem*", c->dax_wait);
		}
		usleep(POLL_US);
	}
	note(c, "%s: holds the DAX image", img->path);
	verify_image(c, img);
	if (mkdir(img->mnt, 0755) < 0 && errno != EEXIST)
		fail(c, "mounting the DAX image", "%s: %m", img->mnt);
	if (mount(img->path, img->mnt, "erofs", MS_RDONLY, "dax=always") < 0)
		fail(c, "mounting the DAX image", "%s -o dax=always: %m (EROFS DAX needs Linux "
		     "5.15 and CONFIG_FS_DAX)", img->path);
	if (!mounted_dax(img->mnt))
		fail(c, "mounting the DAX image", "%s: the kernel refused DAX and mounted it "
		     "without (its log says why)", img->path);
	note(c, "%s: mounted dax=always", img->path);
}
