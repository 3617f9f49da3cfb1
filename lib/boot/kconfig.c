// SPDX-License-Identifier: MIT
/*
 * Finding and parsing a kernel's build configuration (kconfig.h).  The
 * lines that matter are "CONFIG_X=y", "CONFIG_X=m", "CONFIG_X=12" and
 * "# CONFIG_X is not set"; everything else (comments, blank lines, noise)
 * is skipped.  Entries are sorted so that a lookup is a binary search, and
 * of a name given twice the last line counts, as in Kconfig.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kconfig.h"

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* "6.12.95+deb12-cloud-amd64" -> 6, 12; 0, 0 for anything else */
static void parse_version(struct kconfig *kc)
{
	unsigned int major = 0, minor = 0;
	int used = 0;

	if (sscanf(kc->kver, "%3u.%3u%n", &major, &minor, &used) == 2 && used > 0 &&
	    kc->kver[0] >= '0' && kc->kver[0] <= '9') {
		kc->major = major;
		kc->minor = minor;
	}
}

/* The whole file, NUL-terminated, its length in @len; NULL with errno on
 * failure. */
static char *read_bounded(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	struct stat st;
	char *buf = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > KCONFIG_MAX_BYTES) {
		errno = EFBIG;
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf)
		n = fread(buf, 1, (size_t)st.st_size, f);
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';	/* a file that shrank meanwhile: what was read */
	*len = n;
	return buf;
}

/* One line, NUL-terminated in place: an entry, or false to skip it. */
static bool parse_line(char *line, struct kconfig_entry *e)
{
	static const char set[] = "CONFIG_", unset[] = "# CONFIG_", tail[] = " is not set";
	char *name, *end;

	if (!strncmp(line, set, sizeof(set) - 1)) {
		name = line + sizeof(set) - 1;
		for (end = name; is_name_char(*end); end++)
			;
		if (end == name || *end != '=')
			return false;
		*end = '\0';
		e->name = name;
		e->value = end + 1;
		return true;
	}
	if (!strncmp(line, unset, sizeof(unset) - 1)) {
		name = line + sizeof(unset) - 1;
		for (end = name; is_name_char(*end); end++)
			;
		if (end == name || strcmp(end, tail))
			return false;
		*end = '\0';
		e->name = name;
		e->value = NULL;
		return true;
	}
	return false;
}

static int by_name(const void *a, const void *b)
{
	const struct kconfig_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	/* equal names keep file order (qsort is not stable) */
	return c ? c : (x->name < y->name ? -1 : x->name > y->name);
}

/* Lines end at '\n' (a NUL inside one ends it early: it then matches
 * nothing or a shorter line). */
static int parse(struct kconfig *kc, size_t len, struct eroot_errmsg *err)
{
	char *end = kc->text + len;
	size_t lines = 1, n = 0;

	for (const char *p = kc->text; p < end; p++)
		lines += *p == '\n';
	kc->entries = calloc(lines, sizeof(*kc->entries));
	if (!kc->entries)
		return eroot_fail(err, -ENOMEM, "out of memory");
	for (char *line = kc->text; line < end && n < lines; ) {
		char *eol = memchr(line, '\n', (size_t)(end - line));
		char *next = eol ? eol + 1 : end;
		size_t n_chars;

		if (eol)
			*eol = '\0';
		n_chars = strlen(line);
		if (n_chars && line[n_chars - 1] == '\r')
			line[n_chars - 1] = '\0';
		if (parse_line(line, &kc->entries[n]))
			n++;
		line = next;
	}
	qsort(kc->entries, n, sizeof(*kc->entries), by_name);
	/* keep the last of equal names */
	kc->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (kc->n && !strcmp(kc->entries[kc->n - 1].name, kc->entries[i].name))
			kc->n--;
		kc->entries[kc->n++] = kc->entries[i];
	}
	return 0;
}

int kconfig_read(struct kconfig *kc, const char *root, const char *kver, const char *file,
		 struct eroot_errmsg *err)
{
	static const char *const places[][2] = { { "/lib/modules/", "/config" },
		{ "/usr/lib/modules/", "/config" }, { "/boot/config-", "" } };
	const char *prefix = strcmp(root, "/") ? root : "";
	char rel[sizeof(kc->path)];
	size_t len = 0;

	memset(kc, 0, sizeof(*kc));
	snprintf(kc->kver, sizeof(kc->kver), "%s", kver);
	parse_version(kc);
	if (file) {
		kc->text = read_bounded(file, &len);
		if (!kc->text)
			return eroot_fail(err, -errno, "kernel configuration %s: %s", file,
					  errno == EFBIG ? "not a kernel configuration file" :
					  strerror(errno));
		snprintf(kc->path, sizeof(kc->path), "%s", file);
		return parse(kc, len, err);
	}
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]) && !kc->text; i++) {
		snprintf(rel, sizeof(rel), "%s%s%s", places[i][0], kver, places[i][1]);
		if ((size_t)snprintf(kc->path, sizeof(kc->path), "%s%s", prefix, rel) >=
		    sizeof(kc->path))
			return eroot_fail(err, -ENAMETOOLONG, "%s%s: name too long", prefix, rel);
		kc->text = read_bounded(kc->path, &len);
		if (!kc->text && errno != ENOENT && errno != ENOTDIR)
			return eroot_fail(err, -errno, "%s: %s", kc->path, errno == EFBIG ?
					  "not a kernel configuration file" : strerror(errno));
	}
	if (!kc->text) {
		kc->path[0] = '\0';
		return 0;
	}
	return parse(kc, len, err);
}

void kconfig_free(struct kconfig *kc)
{
	free(kc->entries);
	free(kc->text);
	kc->entries = NULL;
	kc->text = NULL;
	kc->n = 0;
}

const char *kconfig_value(const struct kconfig *kc, const char *name)
{
	size_t lo = 0, hi = kc->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(kc->entries[mid].name, name);

		if (!c)
			return kc->entries[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool kconfig_enabled(const struct kconfig *kc, const char *name)
{
	const char *v = kconfig_value(kc, name);

	return v && (!strcmp(v, "y") || !strcmp(v, "m"));
}

bool kconfig_at_least(const struct kconfig *kc, unsigned int major, unsigned int minor)
{
	if (!kc->major && !kc->minor)
		return true;
	return kc->major > major || (kc->major == major && kc->minor >= minor);
}
