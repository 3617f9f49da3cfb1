/* /init of the initrd test_efi_stage.py boots through the UEFI stage
 * (until the eroot DAX loader boots the real root there): it checks what
 * the stage handed over and reports one line on ttyS1.
 *   - /proc/cmdline carries memmap=SIZE!ADDR (the stage's, the last one);
 *   - the modules named in /probe/modules load (libnvdimm, nd_e820, nd_pmem
 *     and what they need, the fixture kernel's own), and /dev/pmem0 appears;
 *   - /dev/pmem0 is SIZE bytes and its FNV-1a 64 equals /probe/expect's,
 *     the padded image's: the image the stage placed is intact at ADDR.
 * Verdict: "EROOT-ROOT-OK probe=efi size=... addr=... fnv=..." or
 * "EROOT-EFI-FAIL why=...". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

static void verdict(const char *line)
{
	FILE *f = fopen("/dev/ttyS1", "w");

	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
	printf("efi-probe: %s\n", line);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void fail(const char *why, const char *what)
{
	char line[512];

	snprintf(line, sizeof(line), "EROOT-EFI-FAIL why=%s:%s errno=%d", why, what, errno);
	verdict(line);
}

static void load_modules(void)
{
	char path[256];
	FILE *list = fopen("/probe/modules", "r");

	if (!list)
		fail("modules-list", "/probe/modules");
	while (fgets(path, sizeof(path), list)) {
		path[strcspn(path, "\n")] = '\0';
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) < 0)
			fail("module", path);
		close(fd);
	}
	fclose(list);
}

/* The device appears a moment after nd_e820 binds its region. */
static int open_pmem(void)
{
	for (int i = 0; i < 100; i++) {
		int fd = open("/dev/pmem0", O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			return fd;
		usleep(100000);
	}
	fail("no-device", "/dev/pmem0");
	return -1;
}

int main(void)
{
	static char cmdline[4096], buf[1 << 16];
	unsigned long long size = 0, addr = 0, dev_size = 0, expect = 0;
	uint64_t fnv = 0xcbf29ce484222325ULL;
	char line[512], unit = 0, *p, *q;
	FILE *f;
	ssize_t n;
	int fd;

	mkdir("/proc", 0755);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	if (!(f = fopen("/proc/cmdline", "r")) || !fgets(cmdline, sizeof(cmdline), f))
		fail("cmdline", "/proc/cmdline");
	fclose(f);
	for (p = cmdline; (q = strstr(p, "memmap=")); p = q + 1)
		if (sscanf(q, "memmap=%llu%c!%llx", &size, &unit, &addr) != 3 || unit != 'M')
			fail("memmap-syntax", q);
	if (!size)
		fail("no-memmap", "cmdline");
	size <<= 20;
	if ((addr | size) & ((2 << 20) - 1))
		fail("memmap-alignment", "cmdline");
	if (!(f = fopen("/probe/expect", "r")) || fscanf(f, "%llu %llx", &dev_size, &expect) != 2)
		fail("expect", "/probe/expect");
	fclose(f);
	if (dev_size != size)
		fail("memmap-size-differs-from-image", "cmdline");
	load_modules();
	fd = open_pmem();
	dev_size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			fnv = (fnv ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
		dev_size += n;
	}
	if (n < 0)
		fail("read", "/dev/pmem0");
	if (dev_size != size)
		fail("device-size", "/dev/pmem0");
	if (fnv != expect)
		fail("content", "/dev/pmem0");
	snprintf(line, sizeof(line), "EROOT-ROOT-OK probe=efi size=%llu addr=0x%llx fnv=%016llx",
		 size, addr, (unsigned long long)fnv);
	verdict(line);
	return 0;
}
