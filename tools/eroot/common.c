// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

const char *prog = "eroot";

void err_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int exit_code(int err)
{
	if (err == -EUCLEAN)
		return EXIT_CORRUPT;
	return err == -EOPNOTSUPP ? EXIT_UNSUPPORTED : EXIT_FAIL;
}

int image_error(struct eroot_image *img, const char *what, int err)
{
	const char *why = img ? eroot_image_errmsg(img) : "";

	err_msg("%s: %s%s", what, *why ? why : strerror(-err),
		err == -ENXIO && !strncmp(why, "data on device", 14) ?
		"; give it with --device or --device-dir" : "");
	return exit_code(err);
}

static struct eroot_builder *volatile doomed_builder;
static const char *volatile doomed[2];

static void remove_temps_and_die(int sig)
{
	const char *tmp = doomed_builder ? eroot_builder_temp_path(doomed_builder) : "";

	if (*tmp)
		unlink(tmp);
	for (size_t i = 0; i < 2; i++)
		if (doomed[i])
			unlink(doomed[i]);
	raise(sig);	/* the default action, once this handler returns */
}

void remove_on_fatal_signals(struct eroot_builder *building, const char *name1,
			     const char *name2)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	bool any = building || name1 || name2;
	struct sigaction sa = { .sa_handler = any ? remove_temps_and_die : SIG_DFL,
				.sa_flags = any ? (int)SA_RESETHAND : 0 };

	doomed_builder = building;
	doomed[0] = name1;
	doomed[1] = name2;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
}

bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && !*end;
}

/* What --device and --device-dir gave, and what open_image() attached. */
static const char **device_paths;
static unsigned int ndevice_paths;
static const char *device_dir;
static char **attached;		/* by device id - 1 */
static unsigned int nattached;

bool device_option(int opt, const char *arg)
{
	const char **p;

	if (opt == OPT_DEVICE_DIR) {
		device_dir = arg;
		return true;
	}
	p = realloc(device_paths, (ndevice_paths + 1) * sizeof(*p));
	if (!p)
		return false;
	device_paths = p;
	device_paths[ndevice_paths++] = arg;
	return true;
}

/* Device @id from @path, checked against its tag where the tag allows. */
static int attach_checked(struct eroot_image *img, const char *image, unsigned int id,
			  const char *path)
{
	int err = eroot_image_attach_device(img, id, path, EROOT_DEVICE_VERIFY);

	if (err == -EOPNOTSUPP) {
		err_msg("%s: device %u: its tag names no content eroot can check; %s used unchecked",
			image, id, path);
		err = eroot_image_attach_device(img, id, path, 0);
	}
	return err ? image_error(img, image, err) : EXIT_OK;
}

/* Remember where each attached device came from, for reattach_devices(). */
static void remember_devices(struct eroot_image *img, const char *dir)
{
	unsigned int n = eroot_image_device_count(img);

	attached = calloc(n ? n : 1, sizeof(*attached));
	nattached = attached ? n : 0;
	for (unsigned int id = 1; id <= nattached; id++) {
		struct eroot_device_info info;

		eroot_image_device_info(img, id, &info);
		if (id <= ndevice_paths)
			attached[id - 1] = strdup(device_paths[id - 1]);
		else if (info.attached && dir)	/* found by the search: find it again */
			attached[id - 1] = strdup(dir);
	}
}

static int attach_devices(struct eroot_image *img, const char *image, bool need_all)
{
	unsigned int n = eroot_image_device_count(img);
	int ret;

	if (ndevice_paths > n) {
		err_msg("%s: %u devices given, the image has %u", image, ndevice_paths, n);
		return EXIT_USAGE;
	}
	for (unsigned int id = 1; id <= ndevice_paths; id++)
		if ((ret = attach_checked(img, image, id, device_paths[id - 1])))
			return ret;
	if (device_dir && n > ndevice_paths) {
		int missing = eroot_image_attach_search(img, device_dir);

		if (missing < 0)
			return image_error(img, device_dir, missing);
	}
	remember_devices(img, device_dir);
	for (unsigned int id = 1; need_all && id <= n; id++) {
		struct eroot_device_info info;

		eroot_image_device_info(img, id, &info);
		if (!info.attached) {
			err_msg("%s: device %u (tag %s, %llu blocks) is missing: give it with "
				"--device PATH (one per device, in order) or --device-dir DIR",
				image, id, *info.tag ? info.tag : "(none)",
				(unsigned long long)info.blocks);
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

static int open_with_devices(const char *path, uint64_t offset, bool need_all,
			     struct eroot_image **img)
{
	int err = eroot_image_open_path(path, offset, img), ret;

	if (err) {
		image_error(*img, path, err);
		eroot_image_close(*img);
		*img = NULL;
		/* a file that cannot be opened is unreadable, not corrupt */
		return exit_code(err);
	}
	ret = attach_devices(*img, path, need_all);
	if (ret) {
		eroot_image_close(*img);
		*img = NULL;
	}
	return ret;
}

int open_image(const char *path, uint64_t offset, struct eroot_image **img)
{
	return open_with_devices(path, offset, true, img);
}

int open_image_meta(const char *path, uint64_t offset, struct eroot_image **img)
{
	return open_with_devices(path, offset, false, img);
}

int reattach_devices(struct eroot_image *img)
{
	for (unsigned int id = 1; id <= nattached; id++) {
		struct eroot_device_info info;
		int err;

		if (!attached[id - 1] || eroot_image_device_info(img, id, &info) ||
		    info.attached)
			continue;
		err = id <= ndevice_paths ? eroot_image_attach_device(img, id, attached[id - 1], 0) :
		      eroot_image_attach_search(img, attached[id - 1]);
		if (err < 0)
			return err;
	}
	return 0;
}

int usage(const char *text, bool error)
{
	fputs(text, error ? stderr : stdout);
	return error ? EXIT_USAGE : EXIT_OK;
}

int bad_value(const char *text, const char *option, const char *value)
{
	err_msg("invalid value for %s: '%s'", option, value);
	return usage(text, true);
}

int bad_args(const char *text, const char *expected)
{
	err_msg("expected %s", expected);
	return usage(text, true);
}

void mode_string(uint32_t mode, char out[11])
{
	static const char types[] = "?pc?d?b?-?l?s???";
	const char *rwx = "rwxrwxrwx";

	out[0] = types[(mode & S_IFMT) >> 12];
	for (int i = 0; i < 9; i++)
		out[1 + i] = mode & (1u << (8 - i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = mode & S_IXUSR ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = mode & S_IXGRP ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = mode & S_IXOTH ? 't' : 'T';
	out[10] = '\0';
}

void time_string(int64_t sec, uint32_t nsec, char *out, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[64];

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, size, "@%lld", (long long)sec);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, size, "%s.%09u +0000", buf, nsec);
}

void json_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);	/* bytes, not UTF-8: keep it lossless */
		else
			fputc(c, f);
	}
	fputc('"', f);
}

const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "char-device";
	case S_IFBLK: return "block-device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}

/* The escape of byte @c into @out (NUL-terminated, at most 5 bytes). */
static void escape_byte(unsigned char c, bool space, char out[5])
{
	static const char from[] = "\a\b\f\n\r\t\v\\", to[] = "abfnrtv\\";
	const char *hit = c ? strchr(from, c) : NULL;

	if (hit)
		snprintf(out, 5, "\\%c", to[hit - from]);
	else if (c == ' ' && space)
		snprintf(out, 5, "\\ ");
	else if (c < 0x20 || c >= 0x7f)
		snprintf(out, 5, "\\%03o", c);
	else
		snprintf(out, 5, "%c", c);
}

void put_escaped(FILE *f, const char *s, size_t len)
{
	char e[5];

	for (size_t i = 0; i < len; i++) {
		escape_byte((unsigned char)s[i], true, e);
		fputs(e, f);
	}
}

char *escaped(const char *s)
{
	size_t len = strlen(s), at = 0;
	char *out = malloc(len * 4 + 1), e[5];

	for (size_t i = 0; out && i < len; i++) {
		escape_byte((unsigned char)s[i], false, e);
		memcpy(out + at, e, strlen(e));
		at += strlen(e);
	}
	if (out)
		out[at] = '\0';
	return out;
}
