// SPDX-License-Identifier: MIT
/*
 * Mount an image read-only: straight from its file where the kernel can
 * (6.12+, and only when the file's filesystem lets EROFS read it: rootfs
 * on tmpfs does not), by its open descriptor where the kernel takes one as
 * "source" (7.3+: the file opened is the file mounted, with no second path
 * lookup), else through a read-only loop device that goes away with the
 * mount (autoclear).
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

/* fsopen/fsconfig/fsmount/move_mount: "source" given as an fd (7.3+) */
static int mount_by_fd(const char *path, const char *mnt)
{
	int fs = fsopen("erofs", FSOPEN_CLOEXEC), file = -1, m = -1, ret = -1;

	if (fs < 0)
		return -1;
	file = open(path, O_RDONLY | O_CLOEXEC);
	if (file >= 0 && fsconfig(fs, FSCONFIG_SET_FD, "source", NULL, file) == 0 &&
	    fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) == 0 &&
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0 &&
	    (m = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY)) >= 0)
		ret = move_mount(m, "", AT_FDCWD, mnt, MOVE_MOUNT_F_EMPTY_PATH);
	if (m >= 0)
		close(m);
	if (file >= 0)
		close(file);
	close(fs);
	return ret;
}

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

void image_mount(const struct config *c, struct image *img)
{
	char dev[32];
	int loopfd;

	if (mkdir(img->mnt, 0755) < 0 && errno != EEXIST)
		fail(c, "mounting the image", "%s: %m", img->mnt);
	/* before 7.3 the kernel refuses an fd source at once (EINVAL) */
	if (strcmp(c->mount_how, "loop") && mount_by_fd(img->path, img->mnt) == 0) {
		note(c, "%s: mounted file-backed by descriptor", img->path);
		return;
	}
	if (strcmp(c->mount_how, "loop") &&
	    mount(img->path, img->mnt, "erofs", MS_RDONLY, NULL) == 0) {
		note(c, "%s: mounted file-backed", img->path);
		return;
	}
	if (!strcmp(c->mount_how, "file"))
		fail(c, "mounting the image", "%s file-backed: %m", img->path);
	loopfd = loop_attach(c, img->path, dev, sizeof(dev));
	if (mount(dev, img->mnt, "erofs", MS_RDONLY, NULL) < 0)
		fail(c, "mounting the image", "%s on %s: %m", img->path, dev);
	close(loopfd);
	note(c, "%s: mounted through %s", img->path, dev);
}
