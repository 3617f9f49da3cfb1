// SPDX-License-Identifier: MIT
/*
 * eroot.profile: which files of the image the boot opens before the switch
 * to the real root, for eroot initrd --hot-list (docs/boot.md).
 *
 * Just before the handover the loader marks the overlay's mount with
 * fanotify (notification only: nobody waits for us) and forks a child that
 * collects the paths of the regular files opened there, each once, in the
 * order first opened.  When PID 1's root is neither rootfs nor the overlay
 * any more, the original init has switched to the real root, which has
 * taken the initrd's /run along: the child writes the list to
 * /run/eroot/profile there and exits.  Without a switch it writes what it
 * has after PROFILE_MAX_S.  The child lives in rootfs, not in the overlay,
 * and closes each event's descriptor at once, so it keeps nothing of the
 * image busy; its argv[0] starts with '@', which tells systemd not to kill
 * it at switch-root.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "init.h"

#define PROFILE_MAX_S 300		/* no switch by then: write what there is */
#define PROFILE_POLL_MS 50		/* how often PID 1's root is looked at */
#define PROFILE_PATH "/run/eroot/profile"
#define TMPFS_MAGIC 0x01021994
#define RAMFS_MAGIC 0x858458f6

/* The paths seen, in order, with an open-addressing index (slot: i + 1). */
struct seen {
	char **paths;
	size_t n, cap;
	size_t *slots;
	size_t nslots;
};

static size_t hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static bool grow(struct seen *s)
{
	size_t nslots = s->nslots ? s->nslots * 2 : 1024;
	size_t *slots = calloc(nslots, sizeof(*slots));
	char **paths = realloc(s->paths, nslots / 2 * sizeof(*paths));

	if (!slots || !paths) {
		free(slots);
		if (paths)
			s->paths = paths;
		return false;
	}
	s->paths = paths;
	for (size_t i = 0; i < s->n; i++) {
		size_t at = hash(paths[i]) & (nslots - 1);

		while (slots[at])
			at = (at + 1) & (nslots - 1);
		slots[at] = i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = nslots;
	s->cap = nslots / 2;
	return true;
}

static void remember(struct seen *s, const char *path)
{
	size_t at;

	if (s->n == s->cap && !grow(s))
		return;			/* out of memory: a shorter profile */
	at = hash(path) & (s->nslots - 1);
	while (s->slots[at]) {
		if (!strcmp(s->paths[s->slots[at] - 1], path))
			return;
		at = (at + 1) & (s->nslots - 1);
	}
	s->paths[s->n] = strdup(path);
	if (s->paths[s->n])
		s->slots[at] = ++s->n;
}

/* Read the queued events; false once the queue says it lost some. */
static bool drain(int fan, int proc, struct seen *s)
{
	static char buf[65536] __attribute__((aligned(8)));
	bool complete = true;
	ssize_t len;

	while ((len = read(fan, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *ev = (struct fanotify_event_metadata *)buf;

		for (; FAN_EVENT_OK(ev, len); ev = FAN_EVENT_NEXT(ev, len)) {
			char link[32], path[4096];
			struct stat st;
			ssize_t n;

			if (ev->mask & FAN_Q_OVERFLOW)
				complete = false;
			if (ev->fd < 0)
				continue;
			snprintf(link, sizeof(link), "self/fd/%d", ev->fd);
			n = readlinkat(proc, link, path, sizeof(path) - 1);
			if (n > 0 && path[0] == '/' && fstat(ev->fd, &st) == 0 &&
			    S_ISREG(st.st_mode)) {
				path[n] = '\0';
				remember(s, path);
			}
			close(ev->fd);
		}
	}
	return complete;
}

static void kmsg_line(int kmsg, const char *text)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "<5>eroot: %.1000s\n", text);

	if (kmsg >= 0 && write(kmsg, line, (size_t)n) < 0)
		return;		/* no log: nobody to tell */
}

/* /run/eroot/profile in PID 1's root, if /run there is a tmpfs (the
 * loader's /proc is detached by now: reached by descriptor). */
static bool write_run(int proc, const struct seen *s, const char *why)
{
	int run = openat(proc, "1/root/run", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
	struct statfs sfs;
	FILE *f = NULL;

	if (run >= 0 && fstatfs(run, &sfs) == 0 &&
	    (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)) {
		mkdirat(run, "eroot", 0755);
		fd = openat(run, "eroot/profile",
			    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (run >= 0)
		close(run);
	if (fd >= 0 && !(f = fdopen(fd, "w")))
		close(fd);
	if (!f)
		return false;
	fprintf(f, "# eroot.profile: %zu files of the image opened %s\n", s->n, why);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s\n", s->paths[i]);
	return fclose(f) == 0;
}

/* No /run to write to: the list into the kernel log, paced for its limit
 * on writers (a burst of 10 lines per 5 s). */
static void write_kmsg(int kmsg, const struct seen *s)
{
	char text[900];
	size_t len = 0;
	int lines = 0;

	for (size_t i = 0; i <= s->n; i++) {
		if (i == s->n || len + strlen(s->paths[i]) + 2 >= sizeof(text)) {
			if (len)
				kmsg_line(kmsg, text);
			len = 0;
			if (++lines % 9 == 0)
				sleep(6);
		}
		if (i < s->n)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s",
						len ? " " : "profile: ", s->paths[i]);
	}
}

static void collect(int fan, int proc, int kmsg, const struct stat *rootfs,
		    const struct stat *overlay)
{
	struct seen s = { 0 };
	struct pollfd p = { .fd = fan, .events = POLLIN };
	double end = uptime() + PROFILE_MAX_S;
	bool complete = true, switched = false;
	char why[128];

	while (!switched && uptime() < end) {
		struct stat root;

		poll(&p, 1, PROFILE_POLL_MS);
		/* before reading: what was opened before the switch is queued */
		switched = fstatat(proc, "1/root", &root, 0) == 0 &&
			   !(root.st_dev == rootfs->st_dev && root.st_ino == rootfs->st_ino) &&
			   !(root.st_dev == overlay->st_dev && root.st_ino == overlay->st_ino);
		complete &= drain(fan, proc, &s);
	}
	close(fan);
	snprintf(why, sizeof(why), "%s%s (%.1f s)",
		 switched ? "before the switch to the real root" : "with no switch in sight",
		 complete ? "" : ", some missed: the queue overflowed", uptime());
	if (write_run(proc, &s, why)) {
		char line[256];

		snprintf(line, sizeof(line), "profile: %zu files %s, in " PROFILE_PATH, s.n, why);
		kmsg_line(kmsg, line);
	} else {
		kmsg_line(kmsg, "profile: no tmpfs on /run to write " PROFILE_PATH
			  " in: the list follows");
		write_kmsg(kmsg, &s);
	}
}

void profile_start(const struct config *c, char *argv0)
{
	struct stat rootfs, overlay;
	int fan, proc, kmsg;
	pid_t pid;

	if (!c->profile)
		return;
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE,
			    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fan < 0 || stat("/", &rootfs) < 0 || stat(NEWROOT, &overlay) < 0 ||
	    (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN | FAN_OPEN_EXEC,
			   AT_FDCWD, NEWROOT) < 0 &&
	     fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN, AT_FDCWD, NEWROOT) < 0)) {
		/* a profile is a wish, not a reason to stop the boot */
		printf("eroot: eroot.profile: fanotify: %m (CONFIG_FANOTIFY?); no profile\n");
		if (fan >= 0)
			close(fan);
		return;
	}
	proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	pid = proc < 0 ? -1 : fork();
	if (pid == 0) {
		argv0[0] = '@';
		collect(fan, proc, kmsg, &rootfs, &overlay);
		_exit(0);
	}
	if (pid < 0)
		printf("eroot: eroot.profile: starting the profiler: %m; no profile\n");
	note(c, "profiling the files opened (eroot.profile)");
	close(fan);
	if (proc >= 0)
		close(proc);
	if (kmsg >= 0)
		close(kmsg);
}
