// SPDX-License-Identifier: MIT
/*
 * Handing over.  The loader stacks the overlay over rootfs at "/" (as
 * switch_root does) and the original init runs there.  When that init in
 * turn switches to the real root, the overlay must go, or the image's
 * memory is never given back:
 *  - systemd (dracut) pivots and detaches the old root by itself;
 *  - klibc's run-init (initramfs-tools) insists that "/" is ramfs or tmpfs
 *    and deletes its files instead.  So the loader binds itself over that
 *    run-init, and, called as run-init, pivots into the real root and
 *    detaches the old one, which frees the overlay, the image mount, its
 *    loop device and the (already unlinked) image file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

void switch_root(const struct config *c, const char *newroot)
{
	if (c->run_init[0]) {
		char at[512];

		snprintf(at, sizeof(at), "%s%s", newroot, c->run_init);
		if (mount("/init", at, NULL, MS_BIND, NULL) < 0)
			fail(c, "standing in for run-init", "%s: %m", at);
	}
	if (chdir(newroot) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		fail(c, "switching to the new root", "%m");
}

/* klibc's capability names (run-init -d), in number order */
static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
	"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};

static int drop_caps(char *list)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	char *save = NULL;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	for (char *n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		if (!strncasecmp(n, "cap_", 4))
			n += 4;
		while (i < sizeof(cap_names) / sizeof(cap_names[0]) && strcasecmp(n, cap_names[i]))
			i++;
		if (i == sizeof(cap_names) / sizeof(cap_names[0])) {
			fprintf(stderr, "run-init: unknown capability %s\n", n);
			return -1;
		}
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0)
			return -1;
		data[i / 32].inheritable &= ~(1u << (i % 32));
	}
	return (int)syscall(SYS_capset, &hdr, data);
}

/*
 * Run from a memory copy of ourselves: the running binary must not pin the
 * old root (it is bound over run-init inside it), so that detaching the old
 * root frees it at once.  Returns only if that cannot be done.
 */
static void reexec_from_memory(char **argv)
{
	char self[64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int in, mem;
	struct stat st;

	if (n > 0 && (self[n] = '\0', !strncmp(self, "/memfd:", 7)))
		return;			/* done already */
	in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	mem = (int)syscall(SYS_memfd_create, "eroot-run-init", MFD_CLOEXEC);
	if (in < 0 || mem < 0 || fstat(in, &st) < 0 ||
	    sendfile(mem, in, NULL, (size_t)st.st_size) != st.st_size) {
		if (in >= 0)
			close(in);
		if (mem >= 0)
			close(mem);
		return;
	}
	close(in);
	fexecve(mem, argv, environ);
	close(mem);
}

/*
 * A loop device lets go of its file in a work queue after its last user
 * (5.17 and later), so the image's memory comes back a moment after the old
 * root is detached.  Wait for that, as run-init's deleting of files would
 * have been waited for: the real init then starts with the memory free.
 */
static void wait_for_loops(void)
{
	for (int tries = 0; tries < 1000; tries++) {
		bool busy = false;
		char path[64], backing[256];

		for (int i = 0; i < 16 && !busy; i++) {
			int fd;
			ssize_t n;

			snprintf(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", i);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, backing, sizeof(backing) - 1);
			close(fd);
			busy = n > 0 && (backing[n] = '\0', strstr(backing, EROOT_DIR "/"));
		}
		if (!busy)
			return;
		usleep(10000);
	}
}

/* run-init [-d CAPS] [-c CONSOLE] [-n] NEWROOT INIT [ARGS...], as klibc's */
int run_init_main(int argc, char **argv)
{
	const char *console = NULL;
	char *caps = NULL;
	bool dry = false;
	int opt;

	reexec_from_memory(argv);
	while ((opt = getopt(argc, argv, "+d:c:n")) != -1) {
		if (opt == 'd')
			caps = optarg;
		else if (opt == 'c')
			console = optarg;
		else if (opt == 'n')
			dry = true;
		else
			return 2;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: run-init [-d caps] [-c console] [-n] newroot init [args]\n");
		return 2;
	}
	if (chdir(argv[optind]) < 0) {
		fprintf(stderr, "eroot: run-init failed: %s: %m\n", argv[optind]);
		return 1;
	}
	if (dry)
		return 0;
	/* the old root ends up on top of the new one: detach it */
	if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0) {
		fprintf(stderr, "eroot: run-init failed: switching root: %m\n");
		return 1;
	}
	if (chdir("/") < 0)
		return 1;
	wait_for_loops();
	if (console) {
		int fd = open(console, O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	if (caps && drop_caps(caps) < 0) {
		fprintf(stderr, "eroot: run-init failed: dropping capabilities: %m\n");
		return 1;
	}
	execv(argv[optind + 1], argv + optind + 1);
	fprintf(stderr, "eroot: run-init failed: %s: %m\n", argv[optind + 1]);
	return 1;
}
