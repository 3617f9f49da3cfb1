/* /init of test_merge_kernels.py's guest: a merged image (eroot merge) on
 * /dev/vda with its inputs on /dev/vdb, /dev/vdc, ... (merge.devices=N on
 * the kernel command line).  It mounts the primary with one device= per
 * input, block devices all, and reports every regular file's SHA-256 on
 * ttyS1 ("F blk PATH HEX").  Then it copies all the disks into a ramfs
 * and tries the other pairings by mount(2) (mount(8) would put a file on
 * a loop device itself): a file primary with file devices (a file-backed
 * mount; its files are hashed again, "F file PATH HEX"), a file primary
 * with block devices and a block primary with file devices; each try
 * reports "T PRIMARY-DEVICES rc=0|ERRNO-NAME".  Then it powers off.
 * Built static with libcrypto; virtio_blk.ko comes with it in /merge/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest-hash.h"

#define MAX_DEVICES 8

static FILE *out;			/* ttyS1 */
static const char *label;		/* "blk" or "file" while hashing */
static const char *root;		/* the mount point hashed */

static int hash_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	unsigned char md[32];
	char prefix[16];

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	snprintf(prefix, sizeof(prefix), "F %s", label);
	if (guest_sha256_file(out, path, md) == 0)
		guest_print_hash(out, prefix, path + strlen(root) + 1, md);
	return 0;
}

/* mount(2) of @primary with @n devices named by @dev(i); hashes with @hash. */
static void try_mount(const char *what, const char *primary, char devs[][64], int n,
		      const char *hash)
{
	char opts[MAX_DEVICES * 80] = "";
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(opts + len, sizeof(opts) - len, "%sdevice=%s",
					i ? "," : "", devs[i]);
	if (mount(primary, "/mnt", "erofs", MS_RDONLY, opts) < 0) {
		fprintf(out, "T %s rc=%s\n", what, strerrorname_np(errno));
		return;
	}
	fprintf(out, "T %s rc=0\n", what);
	if (hash) {
		label = hash;
		root = "/mnt";
		nftw("/mnt", hash_one, 16, FTW_PHYS);
	}
	umount("/mnt");
}

/* /dev/vdX into /ram/vdX, whole. */
static int copy_disk(const char *dev, const char *file)
{
	static unsigned char buf[1 << 16];
	int in = open(dev, O_RDONLY), o = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n = -1;

	while (in >= 0 && o >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(o, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (n < 0)
		fprintf(out, "ERR copy %s: %m\n", dev);
	if (in >= 0)
		close(in);
	if (o >= 0)
		close(o);
	return n < 0 ? -1 : 0;
}

static int device_count(void)
{
	char buf[4096], *p;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "merge.devices=");
	n = p ? (size_t)atoi(p + 14) : 0;
	return n > 0 && n < MAX_DEVICES ? (int)n : 0;
}

int main(void)
{
	char blk[MAX_DEVICES][64], file[MAX_DEVICES][64];
	int fd, ndev, ok = 1;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	out = fopen("/dev/ttyS1", "w");
	if (!out)
		out = stdout;
	setvbuf(out, NULL, _IOLBF, 0);
	mkdir("/mnt", 0755);
	mkdir("/ram", 0755);
	mount("ramfs", "/ram", "ramfs", 0, NULL);
	ndev = device_count();
	fd = open("/merge/virtio_blk.ko", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
		fprintf(out, "ERR virtio_blk: %m\n");
	if (fd >= 0)
		close(fd);
	for (int i = 0; i <= ndev; i++) {
		snprintf(blk[i], sizeof(blk[i]), "/dev/vd%c", 'a' + i);
		snprintf(file[i], sizeof(file[i]), "/ram/vd%c", 'a' + i);
		for (int w = 0; w < 100 && access(blk[i], F_OK); w++)
			usleep(100000);
		if (copy_disk(blk[i], file[i]))
			ok = 0;
	}
	if (!ndev)
		fprintf(out, "ERR no merge.devices=N on the command line\n");
	try_mount("blk-blk", blk[0], blk + 1, ndev, "blk");
	if (ok) {
		try_mount("file-file", file[0], file + 1, ndev, "file");
		try_mount("file-blk", file[0], blk + 1, ndev, NULL);
		try_mount("blk-file", blk[0], file + 1, ndev, NULL);
	}
	fprintf(out, "EROOT-MERGE-DONE\n");
	fflush(out);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
