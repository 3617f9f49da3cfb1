// SPDX-License-Identifier: MIT
/*
 * The loader's configuration, written as text in memory: eroot initrd
 * stores it as /eroot/config in the loader archive.  The keys, the version
 * and the limits come from loader-config.h, which the loader's parser
 * includes too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_writer.h"
#include "loader-config.h"

static int add_line(struct config_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_line(struct config_writer *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= LOADER_MAX_LINE)
		return eroot_fail(w->err, -EINVAL, "loader configuration: a line over %d bytes",
				  LOADER_MAX_LINE - 1);
	if (w->len + (size_t)n > LOADER_MAX_CONFIG)
		return eroot_fail(w->err, -E2BIG, "loader configuration: over the loader's %d bytes",
				  LOADER_MAX_CONFIG);
	if (w->len + (size_t)n + 1 > w->cap) {
		size_t cap = (w->cap + (size_t)n + 1) * 2;
		char *more = realloc(w->text, cap);

		if (!more)
			return eroot_fail(w->err, -ENOMEM, "out of memory");
		w->text = more;
		w->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(w->text + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	w->len += (size_t)n;
	return 0;
}

/* A path the loader's parser reads whole: one word, not too long. */
static int check_word(struct config_writer *w, const char *what, const char *s)
{
	if (strlen(s) > LOADER_MAX_WORD)
		return eroot_fail(w->err, -ENAMETOOLONG, "%s %s: over the loader's %d bytes",
				  what, s, LOADER_MAX_WORD);
	if (!*s || strpbrk(s, " \t\n"))
		return eroot_fail(w->err, -EINVAL, "%s '%s': the loader takes no blanks in it",
				  what, s);
	return 0;
}

int config_writer_init(struct config_writer *w, struct eroot_errmsg *err)
{
	memset(w, 0, sizeof(*w));
	w->err = err;
	return add_line(w, LOADER_KEY_VERSION " %d\n", LOADER_CONFIG_VERSION);
}

/* 64 lowercase hex digits, as the loader's parser takes them. */
static int check_sha256(struct config_writer *w, const char *what, const char *path,
			const char *hex)
{
	if (!hex || strlen(hex) != LOADER_SHA256_HEX_LEN ||
	    strspn(hex, "0123456789abcdef") != LOADER_SHA256_HEX_LEN)
		return eroot_fail(w->err, -EINVAL, "%s %s: a SHA-256 is 64 lowercase hex digits",
				  what, path);
	return 0;
}

int config_writer_module(struct config_writer *w, const char *path, const char *sha256_hex,
			 unsigned int flags)
{
	unsigned int only = flags & (CONFIG_MODULE_FOR_LOOP | CONFIG_MODULE_FOR_VIRTIO_PMEM |
				     CONFIG_MODULE_FOR_E820);
	int err = check_word(w, "module", path);

	if (!err)
		err = check_sha256(w, "module", path, sha256_hex);
	if (!err && (only & (only - 1)))	/* the loader takes one "for-" word */
		err = eroot_fail(w->err, -EINVAL, "module %s: needed only for two things", path);
	if (!err && w->nmodules == LOADER_MAX_MODULES)
		err = eroot_fail(w->err, -E2BIG, "more than %d kernel modules for the loader",
				 LOADER_MAX_MODULES);
	if (!err)
		err = add_line(w, LOADER_KEY_MODULE " %s %s%s%s\n", path, sha256_hex,
			       flags & CONFIG_MODULE_OPTIONAL ? " " LOADER_MODULE_OPTIONAL : "",
			       only == CONFIG_MODULE_FOR_LOOP ? " " LOADER_MODULE_FOR_LOOP :
			       only == CONFIG_MODULE_FOR_VIRTIO_PMEM ?
			       " " LOADER_MODULE_FOR_VIRTIO_PMEM :
			       only == CONFIG_MODULE_FOR_E820 ? " " LOADER_MODULE_FOR_E820 : "");
	if (!err)
		w->nmodules++;
	return err;
}

int config_writer_digest(struct config_writer *w, bool sha256)
{
	return add_line(w, LOADER_KEY_DIGEST " %s\n",
			sha256 ? LOADER_DIGEST_SHA256 : LOADER_DIGEST_NONE);
}

/* The content image counts among the loader's images, on a device or not. */
static int count_image(struct config_writer *w)
{
	if (w->nimages == LOADER_MAX_IMAGES)
		return eroot_fail(w->err, -E2BIG, "more than %d images: the loader takes the "
				  "content image and at most %d layers", LOADER_MAX_IMAGES,
				  LOADER_MAX_IMAGES - 1);
	return 0;
}

int config_writer_image(struct config_writer *w, const char *path, const char *sha256_hex)
{
	int err = check_word(w, "image", path);

	if (!err)
		err = count_image(w);
	if (!err)
		err = check_sha256(w, "image", path, sha256_hex);
	if (!err)
		err = add_line(w, LOADER_KEY_IMAGE " %s %s\n", path, sha256_hex);
	if (!err)
		w->nimages++;
	return err;
}

int config_writer_dax_image(struct config_writer *w, const char *sha256_hex,
			    unsigned long long bytes)
{
	int err = count_image(w);

	if (!err)
		err = check_sha256(w, "the", "dax-image", sha256_hex);
	if (!err && !bytes)
		err = eroot_fail(w->err, -EINVAL, "dax-image: an empty image");
	if (!err)
		err = add_line(w, LOADER_KEY_DAX_IMAGE " %s %llu\n", sha256_hex, bytes);
	if (!err)
		w->nimages++;
	return err;
}

int config_writer_run_init(struct config_writer *w, const char *path)
{
	int err = check_word(w, "run-init", path);

	return err ? err : add_line(w, LOADER_KEY_RUN_INIT " %s\n", path);
}

bool config_share_domain_ok(const char *id)
{
	size_t len = strlen(id);

	/* it goes into the mount options, which commas separate */
	return len && len <= LOADER_MAX_SHARE_DOMAIN &&
	       strspn(id, LOADER_SHARE_DOMAIN_CHARS) == len;
}

int config_writer_share_domain(struct config_writer *w, const char *id)
{
	if (!config_share_domain_ok(id))
		return eroot_fail(w->err, -EINVAL, CONFIG_SHARE_DOMAIN_RULE, id,
				  LOADER_MAX_SHARE_DOMAIN);
	return add_line(w, LOADER_KEY_SHARE_DOMAIN " %s\n", id);
}

void config_writer_free(struct config_writer *w)
{
	free(w->text);
	memset(w, 0, sizeof(*w));
}
