// SPDX-License-Identifier: MIT
/*
 * eroot-init: /init of an initrd made by eroot initrd.  As PID 1 it mounts
 * the EROFS image the kernel unpacked beside it, stacks overlayfs with a
 * tmpfs upper over it, carries in whatever appended archives brought, makes
 * that the root and executes the original /init there with the same
 * arguments and environment.  Called as run-init it stands in for klibc's
 * (switch.c).  Any failure prints one line, "eroot: <what> failed: <why>",
 * then runs eroot.emergency= if given, else exits, which panics the kernel.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

static char **saved_argv, **saved_envp;
static bool newroot_ready;		/* the overlay is mounted at NEWROOT */

double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void note(const struct config *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->debug)
		return;
	va_start(ap, fmt);
	printf("eroot: [%.3f] ", uptime());
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

void fail(const struct config *c, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("eroot: %s failed: ", what);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	if (c && c->emergency[0]) {
		char *argv[] = { (char *)c->emergency, NULL };

		/* the image's own shell once it is mounted, else one in rootfs */
		if (newroot_ready && access(c->emergency, X_OK) < 0 &&
		    chdir(NEWROOT) == 0 && chroot(".") == 0)
			chdir("/");
		execve(c->emergency, argv, saved_envp);
		printf("eroot: starting the emergency shell failed: %s: %m\n", c->emergency);
	}
	exit(1);			/* PID 1 exits: the kernel panics */
}

static void mount_api(const struct config *c)
{
	static const struct { const char *what, *where, *type; } fs[] = {
		{ "devtmpfs", "/dev", "devtmpfs" },
		{ "proc", "/proc", "proc" },
		{ "sysfs", "/sys", "sysfs" },
	};

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		mkdir(fs[i].where, 0755);
		if (mount(fs[i].what, fs[i].where, fs[i].type, MS_NOSUID, NULL) < 0 &&
		    errno != EBUSY)
			fail(c, "mounting the kernel's file systems", "%s: %m", fs[i].where);
	}
}

/* lowerdir: the last layer on top, the content image at the bottom */
static void mount_overlay(const struct config *c)
{
	char opts[4096];
	size_t len = 0;

	len += (size_t)snprintf(opts, sizeof(opts), "lowerdir=");
	for (int i = c->nimages - 1; i >= 0; i--)
		len += (size_t)snprintf(opts + len, sizeof(opts) - len, "%s%s",
					c->images[i].mnt, i ? ":" : "");
	snprintf(opts + len, sizeof(opts) - len,
		 ",upperdir=" EROOT_DIR "/rw/upper,workdir=" EROOT_DIR "/rw/work");
	if ((mkdir(EROOT_DIR "/rw", 0755) < 0 && errno != EEXIST) ||
	    mount("tmpfs", EROOT_DIR "/rw", "tmpfs", 0, "mode=0755") < 0 ||
	    mkdir(EROOT_DIR "/rw/upper", 0755) < 0 || mkdir(EROOT_DIR "/rw/work", 0700) < 0 ||
	    (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST))
		fail(c, "preparing the writable layer", "%m");
	if (mount("overlay", NEWROOT, "overlay", 0, opts) < 0)
		fail(c, "mounting overlayfs", "%s: %m", opts);
	/* overlayfs holds private clones of its layers: the originals can go,
	 * so that nothing but the overlay keeps the image mounted */
	umount2(EROOT_DIR "/rw", MNT_DETACH);
	for (int i = 0; i < c->nimages; i++)
		umount2(c->images[i].mnt, MNT_DETACH);
}

/*
 * Free pages on the per-CPU lists, which MemAvailable leaves out: right
 * after the kernel frees the initrd, tens of MiB wait there for a few
 * seconds before going back to the free lists.
 */
static long pcp_free_kb(void)
{
	char line[128];
	long pages = 0, n;
	FILE *f = fopen("/proc/zoneinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	if (f)
		fclose(f);
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* For the handover line: what the boot left for userspace. */
static long mem_available_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* eroot.debug: where the memory is at the handover */
static void show_meminfo(const struct config *c)
{
	char line[128], out[512] = "";
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		static const char *const keys[] = { "MemTotal:", "MemFree:", "Cached:", "Shmem:",
						    "Unevictable:", "Slab:", "Percpu:" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				strncat(out, line + strspn(line, ""), sizeof(out) - strlen(out) - 1),
				out[strcspn(out, "\n")] = ' ';
	}
	if (f)
		fclose(f);
	note(c, "%s", out);
}

static void loader(void)
{
	static struct config cfg;
	char *init = "/init";
	long mem_available, pcp_free;

	mount_api(NULL);
	config_load(&cfg);
	note(&cfg, "loader started");
	if (cfg.debug)
		show_meminfo(&cfg);
	modules_load(&cfg, false, cfg.dax ? pmem_providers(&cfg) : PROVIDER_ALL);
	for (int i = 0; i < cfg.nimages; i++) {
		if (i == 0 && cfg.dax) {	/* a device, not a file of rootfs */
			dax_attach(&cfg, &cfg.images[0]);
			continue;
		}
		verify_image(&cfg, &cfg.images[i]);
		if (cfg.debug)
			show_meminfo(&cfg);
		image_mount(&cfg, &cfg.images[i]);
		unlink(cfg.images[i].path);	/* freed with the last mount */
	}
	modules_drop_unused(&cfg);
	mount_overlay(&cfg);
	newroot_ready = true;
	carry_rootfs(&cfg, "/", NEWROOT);
	unlink(CONFIG_PATH);
	mem_available = mem_available_kb();
	pcp_free = pcp_free_kb();
	if (cfg.debug)
		show_meminfo(&cfg);
	profile_start(&cfg, saved_argv[0]);
	umount2("/proc", MNT_DETACH);	/* the original init mounts its own */
	umount2("/sys", MNT_DETACH);
	umount2("/dev", MNT_DETACH);
	switch_root(&cfg, NEWROOT);
	printf("eroot: handover at %.3f s, MemAvailable %ld kB, per-CPU free %ld kB\n", uptime(),
	       mem_available, pcp_free);
	fflush(stdout);
	/* systemd's in_initrd() also wants "/" to be tmpfs unless told */
	putenv("SYSTEMD_IN_INITRD=lenient");
	saved_argv[0] = init;
	execve(init, saved_argv, environ);
	fail(&cfg, "starting the original init", "%s: %m", init);
}

int main(int argc, char **argv, char **envp)
{
	const char *base = strrchr(argv[0], '/');

	saved_argv = argv;
	saved_envp = envp;
	if (!strcmp(base ? base + 1 : argv[0], "run-init"))
		return run_init_main(argc, argv);
	if (getpid() != 1) {
		fprintf(stderr, "eroot-init: runs as PID 1 from an initrd made by eroot initrd\n");
		return 2;
	}
	loader();
	return 1;
}
