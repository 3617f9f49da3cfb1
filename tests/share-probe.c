/* /init of test_share.py's guest (and bench/share's): page-cache sharing
 * (Linux 7.0 inode_share) between two EROFS images on /dev/vda and
 * /dev/vdb, measured from inside.  For each mode (both images in one
 * domain, in two domains, without inode_share) it mounts both, drops the
 * caches, reads every regular file of the first, then of the second, and
 * reports on ttyS1 how much Cached grew for each, how much of the second
 * image's files was resident before they were read (mincore, as fincore
 * shows it), and whether the kernel kept inode_share on each mount.  In
 * the first mode every file's SHA-256 goes to ttyS1 too ("F a|b PATH HEX"),
 * for the host to compare with its sources.  The modes come from the
 * kernel command line: share.modes=same,other,none (the default) and
 * share.rounds=N (each mode N times).  Then it powers off.
 *
 * Built static with libcrypto; virtio_blk is a module in Debian's cloud
 * kernels, so /share/virtio_blk.ko comes with it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guest-hash.h"
#include "guest-meminfo.h"

static FILE *out;			/* ttyS1 */
static int listing;			/* "F" lines in this round */
static char side;			/* 'a' or 'b' while walking */
static long resident_kb;		/* of the files walked by count_resident */
static long page_kb;

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			fprintf(out, "ERR write %s: %m\n", path);
		close(fd);
	}
}

static const char *mnt_of(char s)
{
	return s == 'a' ? "/mnt/a" : "/mnt/b";
}

/* Read all of a regular file and hash it (the SHA-256 on ttyS1 when
 * listing; every round hashes, so that each runs the same code). */
static int read_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	unsigned char md[32];
	char prefix[4] = { 'F', ' ', side, 0 };

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (guest_sha256_file(out, path, md) == 0 && listing)
		guest_print_hash(out, prefix, path + strlen(mnt_of(side)) + 1, md);
	return 0;
}

/* Pages of a regular file in the page cache, by mincore on a mapping
 * that is never touched (fincore's way). */
static int count_resident(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t pages = ((size_t)st->st_size + (size_t)page_kb * 1024 - 1) / ((size_t)page_kb * 1024);
	unsigned char *vec;
	void *map;
	int fd;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode) || !st->st_size)
		return 0;
	fd = open(path, O_RDONLY);
	map = fd < 0 ? MAP_FAILED : mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_SHARED, fd, 0);
	vec = malloc(pages);
	if (map != MAP_FAILED && vec && mincore(map, (size_t)st->st_size, vec) == 0) {
		for (size_t i = 0; i < pages; i++)
			resident_kb += (vec[i] & 1) ? page_kb : 0;
	} else {
		fprintf(out, "ERR mincore %s: %m\n", path);
	}
	free(vec);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st->st_size);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Whether the mount at @mnt kept inode_share (the kernel turns it off,
 * with a line of its own, for an image without fingerprints). */
static int kept_share(const char *mnt)
{
	char line[1024], at[64];
	int kept = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	snprintf(at, sizeof(at), " %s ", mnt);
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, at) && strstr(line, ",inode_share"))
			kept = 1;
	if (f)
		fclose(f);
	return kept;
}

static int mount_image(const char *dev, const char *mnt, const char *domain)
{
	char opts[128];

	snprintf(opts, sizeof(opts), "inode_share,domain_id=%s", domain);
	if (mount(dev, mnt, "erofs", MS_RDONLY, domain[0] ? opts : NULL) < 0) {
		fprintf(out, "ERR mount %s %s (%s): %m\n", dev, mnt, domain[0] ? opts : "-");
		return -1;
	}
	return 0;
}

/* One round: @da, @db the domains of the two images ("" for none). */
static void round_of(const char *mode, const char *da, const char *db)
{
	long c0, c1, c2, pre;
	double t0;
	struct timespec ts;

	if (mount_image("/dev/vda", "/mnt/a", da) < 0)
		return;
	if (mount_image("/dev/vdb", "/mnt/b", db) < 0) {
		umount("/mnt/a");
		return;
	}
	sync();
	write_file("/proc/sys/vm/drop_caches", "3");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	c0 = meminfo_kb("Cached:");
	side = 'a';
	nftw("/mnt/a", read_one, 16, FTW_PHYS);
	c1 = meminfo_kb("Cached:");
	resident_kb = 0;
	nftw("/mnt/b", count_resident, 16, FTW_PHYS);
	pre = resident_kb;
	side = 'b';
	nftw("/mnt/b", read_one, 16, FTW_PHYS);
	c2 = meminfo_kb("Cached:");
	resident_kb = 0;
	nftw("/mnt/b", count_resident, 16, FTW_PHYS);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(out, "M mode=%s a=%ld b=%ld total=%ld preres=%ld postres=%ld kepta=%d keptb=%d "
		"memavail=%ld seconds=%.1f\n", mode, c1 - c0, c2 - c1, c2 - c0, pre, resident_kb,
		kept_share("/mnt/a"), kept_share("/mnt/b"), meminfo_kb("MemAvailable:"),
		(double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0);
	fflush(out);
	umount("/mnt/b");
	umount("/mnt/a");
}

/* share.NAME=VALUE from the kernel command line, or @def. */
static void cmdline_value(const char *name, char *value, size_t len, const char *def)
{
	char buf[4096], key[64], *p;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	snprintf(key, sizeof(key), "share.%s=", name);
	p = strstr(buf, key);
	snprintf(value, len, "%.*s", p ? (int)strcspn(p + strlen(key), " \n") : (int)strlen(def),
		 p ? p + strlen(key) : def);
}

static void load_virtio_blk(void)
{
	int fd = open("/share/virtio_blk.ko", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
		fprintf(out, "ERR virtio_blk: %m\n");
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 100 && (access("/dev/vda", F_OK) || access("/dev/vdb", F_OK)); i++)
		usleep(100000);
}

int main(void)
{
	char modes[256], rounds_text[16], *save = NULL;
	int rounds;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	out = fopen("/dev/ttyS1", "w");
	if (!out)
		out = stdout;
	setvbuf(out, NULL, _IOLBF, 0);
	page_kb = sysconf(_SC_PAGESIZE) / 1024;
	mkdir("/mnt", 0755);
	mkdir("/mnt/a", 0755);
	mkdir("/mnt/b", 0755);
	load_virtio_blk();
	cmdline_value("modes", modes, sizeof(modes), "same,other,none");
	cmdline_value("rounds", rounds_text, sizeof(rounds_text), "1");
	rounds = atoi(rounds_text) > 0 ? atoi(rounds_text) : 1;
	/* fault the hashing code in before anything is measured: the probe's
	 * own pages would count as Cached growth of the first round */
	{
		static const char warm[1 << 16];
		unsigned char md[32];
		unsigned int mdlen;

		EVP_Digest(warm, sizeof(warm), md, &mdlen, EVP_sha256(), NULL);
	}
	listing = 1;
	for (int r = 0; r < rounds; r++) {
		char list[256];

		snprintf(list, sizeof(list), "%s", modes);
		for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
			if (!strcmp(m, "same"))
				round_of(m, "d1", "d1");
			else if (!strcmp(m, "other"))
				round_of(m, "d1", "d2");
			else
				round_of("none", "", "");
			listing = 0;
		}
	}
	fprintf(out, "EROOT-SHARE-DONE\n");
	fflush(out);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
