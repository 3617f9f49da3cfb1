// SPDX-License-Identifier: MIT
/*
 * Mount an image read-only: straight from its file where the kernel can
 * (6.12+, and only when the file's filesystem lets EROFS read it: rootfs
 * on tmpfs does not), else through a read-only loop device that goes away
 * with the mount (autoclear).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"

static int loop_attach(const struct config *c, const char *path, char *dev, size_t devlen)
{
	struct loop_config cfg = { .info = { .lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR } };
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), nr, fd, file;

	if (ctl < 0)
		fail(c, "setting up a loop device", "/dev/loop-control: %m");
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (nr < 0)
		fail(c, "setting up a loop device", "no free loop device: %m");
	snprintf(dev, devlen, "/dev/loop%d", nr);
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	file = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || file < 0)
		fail(c, "setting up a loop device", "%s: %m", fd < 0 ? dev : path);
	cfg.fd = (uint32_t)file;
	if (ioctl(fd, LOOP_CONFIGURE, &cfg) < 0)
		fail(c, "setting up a loop device", "%s: %m", dev);
	close(file);
	return fd;			/* open until the mount holds the device */
}

static bool loop_modules_loaded;

void image_mount(const struct config *c, struct image *img)
{
	char dev[32];
	int loopfd;

	if (mkdir(img->mnt, 0755) < 0 && errno != EEXIST)
		fail(c, "mounting the image", "%s: %m", img->mnt);
	if (strcmp(c->mount_how, "loop") &&
	    mount(img->path, img->mnt, "erofs", MS_RDONLY, NULL) == 0) {
		note(c, "%s: mounted file-backed", img->path);
		return;
	}
	if (!strcmp(c->mount_how, "file"))
		fail(c, "mounting the image", "%s file-backed: %m", img->path);
	if (!loop_modules_loaded) {	/* only now: file-backed mounts need none */
		modules_load(c, true, PROVIDER_ALL);
		loop_modules_loaded = true;
	}
	loopfd = loop_attach(c, img->path, dev, sizeof(dev));
	if (mount(dev, img->mnt, "erofs", MS_RDONLY, NULL) < 0)
		fail(c, "mounting the image", "%s on %s: %m", img->path, dev);
	close(loopfd);
	note(c, "%s: mounted through %s", img->path, dev);
}
