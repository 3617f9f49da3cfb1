/* The "original /init" of the small initramfs test_boot.py converts with
 * eroot initrd (and, alone, the probe test_boot_baseline.py boots): it
 * reports on ttyS1 what the loader must have handed over:
 * PID 1, the kernel's arguments and environment, an overlayfs root, the
 * files of its own image, of a --layer image, and of a cpio the bootloader
 * appended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define OVERLAYFS_MAGIC 0x794c7630

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

int main(int argc, char **argv)
{
	char up[32], own[64], layer[64], appended[64], line[128], key[64];
	const char *env = getenv("probe_env");
	struct statfs sfs;
	long kb, avail = 0;
	FILE *f;

	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	read_line("/proc/uptime", up, sizeof(up));
	read_line("/etc/probe-own", own, sizeof(own));
	read_line("/etc/probe-layer", layer, sizeof(layer));
	read_line("/.extra/credentials/probe.cred", appended, sizeof(appended));
	if ((f = fopen("/proc/meminfo", "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%63s %ld", key, &kb) == 2 && !strcmp(key, "MemAvailable:"))
				avail = kb;
		fclose(f);
	}
	if ((f = fopen("/dev/ttyS1", "w"))) {
		fprintf(f, "EROOT-ROOT-OK uptime=%s memavail=%ld pid=%d arg=%s env=%s "
			"overlay=%d own=%s layer=%s appended=%s probe=1\n", up, avail, (int)getpid(),
			argc > 1 ? argv[1] : "-", env ? env : "-",
			statfs("/", &sfs) == 0 && sfs.f_type == OVERLAYFS_MAGIC, own, layer, appended);
		fclose(f);
	}
	sync();
	reboot(RB_POWER_OFF);
	return 1;
}
