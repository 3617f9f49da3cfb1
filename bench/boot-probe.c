/*
 * bench/boot-probe.c: /eroot-bench-probe, run by the kernel as
 * rdinit=/eroot-bench-probe in bench/boot's cpio variants only.  It reports
 * MemAvailable at the point where eroot's loader prints its own
 * "eroot: handover at S s, MemAvailable N kB" (just before the original
 * /init starts), then executes /init with the kernel's arguments and
 * environment, as PID 1, so the original initrd runs as it would have.
 *
 * Prints one console line:
 *   eroot-bench: handover MemAvailable N kB, per-CPU free P kB, uptime S s
 * where P is what the per-CPU free lists hold (the "count:" lines of
 * /proc/zoneinfo, in pages), as the loader's line reports it too: free
 * memory that MemFree and MemAvailable do not show.  Since 6.7 these lists
 * may grow to 1/8 of a zone while the kernel frees the initrd, and drain
 * over seconds.
 * or, when /proc/meminfo cannot be read,
 *   eroot-bench: handover MemAvailable unknown (why)
 *
 * proc is mounted only for the reading and unmounted again (a /proc it had
 * to create is removed), so /init finds rootfs as the kernel left it.
 * Built static by bench/boot: cc -static -Os -s -o probe bench/boot-probe.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int console_fd(void)
{
	/* The kernel opened /dev/console as fds 0-2 when rootfs had it. */
	if (fcntl(1, F_GETFD) >= 0)
		return 1;
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	return fd;
}

static void say(const char *line)
{
	int fd = console_fd();
	size_t n = strlen(line), off = 0;
	while (fd >= 0 && off < n) {
		ssize_t w = write(fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (fd > 2)
		close(fd);
}

/* The contents of a small /proc file into buf (NUL-terminated), or -1. */
static int slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, size - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == size - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';
	return len ? 0 : -1;
}

static void report(void)
{
	char meminfo[8192], uptime[128], line[256], zone[16384];
	int made_dir = 0, mounted = 0;
	const char *why = NULL;

	if (access("/proc/meminfo", R_OK) != 0) {
		if (mkdir("/proc", 0555) == 0)
			made_dir = 1;
		else if (errno != EEXIST)
			why = "mkdir /proc";
		if (!why) {
			if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
				mounted = 1;
			else
				why = "mount proc";
		}
	}
	if (!why && slurp("/proc/meminfo", meminfo, sizeof meminfo) != 0)
		why = "read /proc/meminfo";
	if (!why) {
		const char *p = strstr(meminfo, "MemAvailable:");
		long kb = -1;
		double up = -1;
		if (p)
			sscanf(p + strlen("MemAvailable:"), "%ld", &kb);
		long pcp = -1;
		if (slurp("/proc/uptime", uptime, sizeof uptime) == 0)
			sscanf(uptime, "%lf", &up);
		if (slurp("/proc/zoneinfo", zone, sizeof zone) == 0) {
			long n;
			pcp = 0;
			for (const char *z = strstr(zone, "count:"); z; z = strstr(z + 6, "count:"))
				if (sscanf(z + 6, "%ld", &n) == 1)
					pcp += n;
			pcp *= sysconf(_SC_PAGESIZE) / 1024;
		}
		if (kb >= 0)
			snprintf(line, sizeof line,
			         "eroot-bench: handover MemAvailable %ld kB, per-CPU free %ld kB, "
			         "uptime %.2f s\n", kb, pcp, up);
		else
			why = "no MemAvailable in /proc/meminfo";
	}
	if (why)
		snprintf(line, sizeof line, "eroot-bench: handover MemAvailable unknown (%s: %s)\n",
		         why, strerror(errno));
	if (mounted)
		umount2("/proc", MNT_DETACH);
	if (made_dir)
		rmdir("/proc");
	say(line);
}

int main(int argc, char **argv, char **envp)
{
	(void)argc;
	report();
	/* The original init, as the kernel would have started it: argv[0] is
	 * its path, the rest of argv and envp are the kernel's. */
	argv[0] = "/init";
	execve("/init", argv, envp);
	char line[128];
	snprintf(line, sizeof line, "eroot-bench: executing /init failed: %s\n", strerror(errno));
	say(line);
	return 1;
}
