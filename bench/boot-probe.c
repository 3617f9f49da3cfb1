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
 *
 * The page-cache boots of bench/boot install the probe as /init itself, in
 * front of every variant (the cpio and eroot's loader alike), with the
 * original init beside it as /eroot-bench-init.  Then, after the line
 * above, it reads every regular file of the root it runs in once (read(),
 * not mmap; hard links once; directories on another device, such as /proc,
 * are skipped) and
 * prints
 *   eroot-bench: readall before Cached C kB MemAvailable A kB Shmem S kB,
 *     after Cached C kB MemAvailable A kB Shmem S kB, read B bytes in F files
 *     (E errors) in T s, DAX N files M bytes, root FSTYPE OPTIONS
 * (one line; DAX: the files statx() marks STATX_ATTR_DAX), so that the growth of the page cache per byte read can be
 * compared: rootfs files are page cache already (Shmem), an EROFS image's
 * compressed files fill it as they are read, DAX-served files do not.
 * "root" is the mount of "/" (overlay: its image is mounted outside the
 * new root, out of /proc/mounts' sight; or rootfs).
 * Built static by bench/boot: cc -static -Os -s -o probe bench/boot-probe.c
 */
#define _GNU_SOURCE
#define ORIGINAL_INIT "/eroot-bench-init"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
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

/* A field of /proc/meminfo in kB, or -1. */
static long meminfo_kb(const char *meminfo, const char *key)
{
	const char *p = strstr(meminfo, key);
	long kb = -1;

	if (p)
		sscanf(p + strlen(key), "%ld", &kb);
	return kb;
}

struct tally {
	unsigned long long bytes, dax_bytes;
	unsigned long files, dax_files, errors;
	dev_t dev;
};

/* Hard links are read once: initramfs-tools' busybox has hundreds, and
 * the page cache holds one copy.  An open-addressing set of (dev, ino) of
 * the files with more than one link; when full, the rest are read again. */
#define SEEN_SLOTS 16384
static struct { dev_t dev; ino_t ino; } seen[SEEN_SLOTS];

static int seen_before(const struct stat *st)
{
	size_t i = (size_t)(st->st_ino * 2654435761u) % SEEN_SLOTS;

	for (size_t n = 0; n < SEEN_SLOTS; n++, i = (i + 1) % SEEN_SLOTS) {
		if (!seen[i].ino) {
			seen[i].dev = st->st_dev;
			seen[i].ino = st->st_ino;
			return 0;
		}
		if (seen[i].ino == st->st_ino && seen[i].dev == st->st_dev)
			return 1;
	}
	return 0;
}

/* Read every regular file below @dir (an open directory fd, closed here). */
static void read_tree(int dir, struct tally *t)
{
	static char buf[1 << 17];
	DIR *d = fdopendir(dir);
	struct dirent *e;

	if (!d) {
		close(dir);
		t->errors++;
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			t->errors++;
			continue;
		}
		/* Not into /proc, /sys, /dev or other mounts.  Only directories
		 * are checked: overlayfs gives a lower layer's files the
		 * st_dev of that layer, its directories its own. */
		if (S_ISDIR(st.st_mode) && st.st_dev != t->dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (sub < 0)
				t->errors++;
			else
				read_tree(sub, t);
		} else if (S_ISREG(st.st_mode) && !(st.st_nlink > 1 && seen_before(&st))) {
			int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			ssize_t r;

			struct statx sx;

			if (fd < 0) {
				t->errors++;
				continue;
			}
			/* overlayfs passes the lower file's attributes on */
			if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 &&
			    (sx.stx_attributes_mask & STATX_ATTR_DAX) &&
			    (sx.stx_attributes & STATX_ATTR_DAX)) {
				t->dax_files++;
				t->dax_bytes += sx.stx_size;
			}
			while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
				if (r > 0)
					t->bytes += (unsigned long long)r;
			if (r < 0)
				t->errors++;
			t->files++;
			close(fd);
		}
	}
	closedir(d);
}

/* The filesystem under "/": the erofs mount (under the overlay) if any. */
static void root_fs(const char *mounts, char *out, size_t size)
{
	const char *line = mounts;

	snprintf(out, size, "unknown");
	while (line && *line) {
		char dev[128], at[256], type[32], opts[256];

		if (sscanf(line, "%127s %255s %31s %255s", dev, at, type, opts) == 4) {
			if (!strcmp(type, "erofs")) {
				snprintf(out, size, "erofs %s", opts);
				return;
			}
			if (!strcmp(at, "/"))
				snprintf(out, size, "%s %s", type, opts);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The page-cache measurement: meminfo, read everything once, meminfo. */
static void read_all(void)
{
	static char before[8192], after[8192], mounts[16384];
	char line[768], fs[300];
	struct tally t = { 0 };
	struct stat st;
	int made_dir = 0, root;
	double t0;

	if (mkdir("/proc", 0555) == 0)
		made_dir = 1;
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    slurp("/proc/meminfo", before, sizeof(before)) < 0) {
		snprintf(line, sizeof(line), "eroot-bench: readall failed: /proc/meminfo: %s\n",
			 strerror(errno));
		say(line);
		goto out;
	}
	if (slurp("/proc/mounts", mounts, sizeof(mounts)) < 0)
		mounts[0] = '\0';
	root_fs(mounts, fs, sizeof(fs));
	root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || fstat(root, &st) < 0) {
		snprintf(line, sizeof(line), "eroot-bench: readall failed: /: %s\n", strerror(errno));
		say(line);
		goto out;
	}
	t.dev = st.st_dev;
	t0 = now();
	read_tree(root, &t);
	t0 = now() - t0;
	if (slurp("/proc/meminfo", after, sizeof(after)) < 0)
		after[0] = '\0';
	snprintf(line, sizeof(line),
		 "eroot-bench: readall before Cached %ld kB MemAvailable %ld kB Shmem %ld kB, "
		 "after Cached %ld kB MemAvailable %ld kB Shmem %ld kB, read %llu bytes in %lu "
		 "files (%lu errors) in %.2f s, DAX %lu files %llu bytes, root %s\n",
		 meminfo_kb(before, "Cached:"), meminfo_kb(before, "MemAvailable:"),
		 meminfo_kb(before, "Shmem:"), meminfo_kb(after, "Cached:"),
		 meminfo_kb(after, "MemAvailable:"), meminfo_kb(after, "Shmem:"), t.bytes, t.files,
		 t.errors, t0, t.dax_files, t.dax_bytes, fs);
	say(line);
out:
	umount2("/proc", MNT_DETACH);
	if (made_dir)
		rmdir("/proc");
}

int main(int argc, char **argv, char **envp)
{
	const char *init = "/init";

	(void)argc;
	report();
	if (access(ORIGINAL_INIT, F_OK) == 0) {
		init = ORIGINAL_INIT;
		read_all();
	}
	/* The original init, as the kernel would have started it: argv[0] is
	 * "/init", the rest of argv and envp are the kernel's. */
	argv[0] = "/init";
	execve(init, argv, envp);
	char line[128];
	snprintf(line, sizeof line, "eroot-bench: executing %s failed: %s\n", init,
		 strerror(errno));
	say(line);
	return 1;
}
