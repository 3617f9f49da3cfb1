// SPDX-License-Identifier: MIT
/*
 * Mount an image read-only: straight from its file where the kernel can
 * (6.12+, and only when the file's filesystem lets EROFS read it: rootfs
 * on tmpfs does not), else through a read-only loop device that goes away
 * with the mount (autoclear).  With a share domain (Linux 7.0 inode_share)
 * files whose fingerprints equal those of another image of the domain
 * share one page cache with it.
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
static bool share_refused;		/* the kernel said no once: not again */

/* Whether the mount at @mnt kept inode_share: the kernel drops it, with a
 * line of its own, for an image without fingerprints. */
static bool sharing(const char *mnt)
{
	char line[1024], at[80];
	bool kept = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	snprintf(at, sizeof(at), " %s ", mnt);
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, at) && strstr(line, ",inode_share"))
			kept = true;
	if (f)
		fclose(f);
	return kept;
}

/*
 * mount(2) of EROFS @src at @img->mnt, in the share domain if there is
 * one.  A kernel before 7.0, or one built without
 * EROFS_FS_PAGE_CACHE_SHARE, refuses the options (EINVAL): one line, and
 * this and every later mount go without (sharing saves memory; it is no
 * reason to fail a boot).
 */
static int erofs_mount(const struct config *c, const char *src, struct image *img)
{
	char opts[32 + LOADER_MAX_SHARE_DOMAIN];
	int saved;

	if (!c->share_domain[0] || share_refused)
		return mount(src, img->mnt, "erofs", MS_RDONLY, NULL);
	snprintf(opts, sizeof(opts), "inode_share,domain_id=%s", c->share_domain);
	if (mount(src, img->mnt, "erofs", MS_RDONLY, opts) == 0) {
		note(c, "%s: %s", img->path, sharing(img->mnt) ?
		     "sharing its page cache in the domain" :
		     "no fingerprints in it, nothing shared (the kernel turned inode_share off)");
		return 0;
	}
	saved = errno;
	if (mount(src, img->mnt, "erofs", MS_RDONLY, NULL) < 0) {
		errno = saved;		/* the first error tells more */
		return -1;
	}
	printf("eroot: the kernel refused page-cache sharing (%s: %s); mounting without it\n",
	       opts, strerror(saved));
	fflush(stdout);
	share_refused = true;
	return 0;
}

void image_mount(const struct config *c, struct image *img)
{
	char dev[32];
	int loopfd;

	if (mkdir(img->mnt, 0755) < 0 && errno != EEXIST)
		fail(c, "mounting the image", "%s: %m", img->mnt);
	if (strcmp(c->mount_how, "loop") && erofs_mount(c, img->path, img) == 0) {
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
	if (erofs_mount(c, dev, img) < 0)
		fail(c, "mounting the image", "%s on %s: %m", img->path, dev);
	close(loopfd);
	note(c, "%s: mounted through %s", img->path, dev);
}
