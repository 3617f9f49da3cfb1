/* The "original /init" of the small initramfs test_boot.py converts with
 * eroot initrd (and, alone, the probe test_boot_baseline.py boots): it
 * reports on ttyS1 what the loader must have handed over:
 * PID 1, the kernel's arguments and environment, an overlayfs root, the
 * files of its own image, of a --layer image (a large one as its length
 * and FNV-1a), and of a cpio the bootloader appended.  With the argument probe-profile it first switches to a tmpfs
 * root, taking a tmpfs /run along as initramfs-tools does, and reports
 * the loader's eroot.profile from /run/eroot/profile.  With
 * /etc/probe-dax-big (test_boot_dax.py) it reports whether that file
 * comes through DAX (statx) and how much the page cache (Cached) grew
 * while all of it was read, and whether /etc/probe-own and
 * /etc/probe-cold do. */
#define _GNU_SOURCE	/* statx */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <fcntl.h>
#include <unistd.h>

#include "guest-meminfo.h"

#define OVERLAYFS_MAGIC 0x794c7630
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000	/* Linux 5.8 */
#endif

/* Whether the kernel serves @path through DAX; -1: no such file. */
static int is_dax(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) < 0)
		return -1;
	return !!(stx.stx_attributes & STATX_ATTR_DAX);
}

/* @path through DAX (-1: no such file), the bytes read and by how many
 * kB Cached grew meanwhile. */
static void dax_read(const char *path, int *dax, long *bytes, long *grow_kb)
{
	static char buf[1 << 20];
	long before;
	ssize_t n;
	int fd;

	if ((*dax = is_dax(path)) < 0)
		return;
	before = meminfo_kb("Cached:");
	fd = open(path, O_RDONLY);
	*bytes = 0;
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		*bytes += n;
	if (fd >= 0)
		close(fd);
	*grow_kb = meminfo_kb("Cached:") - before;
}

/* Switch to a new root as an initrd's init does, then wait for the
 * profile: its number of paths, and whether it names @a and @b. */
static void switch_and_profile(int *paths, int *has_a, int *has_b, const char *a, const char *b)
{
	char line[4096];
	FILE *f = NULL;

	mkdir("/run", 0755);
	mkdir("/sysroot", 0755);
	if (mount("tmpfs", "/run", "tmpfs", 0, NULL) < 0 ||
	    mount("tmpfs", "/sysroot", "tmpfs", 0, NULL) < 0 || mkdir("/sysroot/run", 0755) < 0 ||
	    mount("/run", "/sysroot/run", NULL, MS_MOVE, NULL) < 0 || chdir("/sysroot") < 0 ||
	    mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return;
	for (int i = 0; i < 300 && !(f = fopen("/run/eroot/profile", "r")); i++)
		usleep(100000);
	*paths = 0;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#')
			continue;
		++*paths;
		*has_a |= !strcmp(line, a);
		*has_b |= !strcmp(line, b);
	}
	if (f)
		fclose(f);
}

static const char *read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "-");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n ")] = '\0';
	return buf;
}

/* "LENGTH:FNV-1a" of a file, for a large one the test cannot print. */
static const char *summarize(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	unsigned long len = 0;
	unsigned int h = 2166136261u;
	int c;

	if (!f) {
		snprintf(buf, size, "-");
		return buf;
	}
	while ((c = getc(f)) != EOF) {
		h = (h ^ (unsigned char)c) * 16777619u;
		len++;
	}
	fclose(f);
	snprintf(buf, size, "%lu:%08x", len, h);
	return buf;
}

/* The modules the kernel has loaded, from /proc/modules: "a,b,c", "-"
 * for none. */
static const char *loaded_modules(char *buf, size_t size)
{
	FILE *f = fopen("/proc/modules", "r");
	char line[256], name[64];
	size_t len = 0;

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s", name) == 1 && len + strlen(name) + 2 < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", name);
	if (f)
		fclose(f);
	if (!len)
		snprintf(buf, size, "-");
	return buf;
}

int main(int argc, char **argv)
{
	char up[32], own[64], layer[64], big[64], appended[64], line[128], key[64], mods[1024];
	const char *env = getenv("probe_env");
	struct statfs sfs;
	long kb, avail = 0;
	int overlay, paths = -1, has_init = 0, has_own = 0, dax = -1;
	long dax_bytes = -1, dax_grow = -1;
	FILE *f;

	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	read_line("/proc/uptime", up, sizeof(up));
	read_line("/etc/probe-own", own, sizeof(own));
	read_line("/etc/probe-layer", layer, sizeof(layer));
	summarize("/etc/probe-big", big, sizeof(big));
	read_line("/.extra/credentials/probe.cred", appended, sizeof(appended));
	if ((f = fopen("/proc/meminfo", "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%63s %ld", key, &kb) == 2 && !strcmp(key, "MemAvailable:"))
				avail = kb;
		fclose(f);
	}
	overlay = statfs("/", &sfs) == 0 && sfs.f_type == OVERLAYFS_MAGIC;
	dax_read("/etc/probe-dax-big", &dax, &dax_bytes, &dax_grow);
	if ((f = fopen("/dev/ttyS1", "w"))) {
		if (argc > 1 && !strcmp(argv[1], "probe-profile"))
			switch_and_profile(&paths, &has_init, &has_own, "/init", "/etc/probe-own");
		fprintf(f, "EROOT-ROOT-OK uptime=%s memavail=%ld pid=%d arg=%s env=%s "
			"overlay=%d own=%s layer=%s big=%s appended=%s profile=%d profile_init=%d "
			"profile_own=%d dax=%d daxread=%ld cachedgrow=%ld daxown=%d daxcold=%d "
			"modules=%s probe=1\n", up,
			avail, (int)getpid(), argc > 1 ? argv[1] : "-", env ? env : "-", overlay, own,
			layer, big, appended, paths, has_init, has_own, dax, dax_bytes, dax_grow,
			is_dax("/etc/probe-own"), is_dax("/etc/probe-cold"),
			loaded_modules(mods, sizeof(mods)));
		fclose(f);
	}
	sync();
	reboot(RB_POWER_OFF);
	return 1;
}
