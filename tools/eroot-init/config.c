// SPDX-License-Identifier: MIT
/*
 * The loader's configuration, /eroot/config, as eroot initrd wrote it (the
 * format, its version and its limits: lib/boot/loader-config.h), and the
 * kernel command line's eroot.* options (docs/boot.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"

/* eroot.share=ID or off.  Sharing is an optimisation: a malformed value
 * costs one line and no sharing, never the boot. */
static void take_cmdline_share(struct config *c, const char *id)
{
	size_t len = strlen(id);

	if (!strcmp(id, "off") ||
	    (len && len <= LOADER_MAX_SHARE_DOMAIN && strspn(id, LOADER_SHARE_DOMAIN_CHARS) == len)) {
		snprintf(c->cmdline_share, sizeof(c->cmdline_share), "%s", id);
		return;
	}
	printf("eroot: eroot.share=%.64s: not a domain (1 to %d letters, digits, '.', '_', '-') "
	       "or off; not sharing\n", id, LOADER_MAX_SHARE_DOMAIN);
	strcpy(c->cmdline_share, "off");
}

static void parse_cmdline(struct config *c)
{
	/* eroot.emergency= first: it must serve errors in the other options */
	char *e = NULL;
	FILE *g = fopen("/proc/cmdline", "r");
	char all[4096];
	size_t m = g ? fread(all, 1, sizeof(all) - 1, g) : 0;

	if (g)
		fclose(g);
	all[m] = '\0';
	if ((e = strstr(all, "eroot.emergency=")) && (e == all || e[-1] == ' '))
		snprintf(c->emergency, sizeof(c->emergency), "%.*s", (int)strcspn(e + 16, " \n"),
			 e + 16);

	char buf[4096], *save = NULL;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (!strncmp(w, "eroot.digest=", 13)) {
			if (strncmp(w + 13, "sha256:", 7) || strlen(w + 20) != 64 ||
			    strspn(w + 20, "0123456789abcdefABCDEF") != 64)
				fail(c, "reading eroot.digest", "expected sha256:<64 hex digits>");
			for (int i = 0; i < 64; i++)
				c->cmdline_digest[i] = (char)(w[20 + i] | 0x20);
		} else if (!strncmp(w, "eroot.emergency=", 16)) {
			snprintf(c->emergency, sizeof(c->emergency), "%s", w + 16);
		} else if (!strncmp(w, "eroot.mount=", 12)) {
			if (strcmp(w + 12, "auto") && strcmp(w + 12, "file") && strcmp(w + 12, "loop"))
				fail(c, "reading eroot.mount", "%s: auto, file or loop", w + 12);
			snprintf(c->mount_how, sizeof(c->mount_how), "%s", w + 12);
		} else if (!strncmp(w, "eroot.carry=", 12)) {
			if (!strcmp(w + 12, "add"))
				c->carry = CARRY_ADD;
			else if (!strcmp(w + 12, "replace"))
				c->carry = CARRY_REPLACE;
			else if (!strcmp(w + 12, "none"))
				c->carry = CARRY_NONE;
			else
				fail(c, "reading eroot.carry", "%s: add, replace or none", w + 12);
		} else if (!strncmp(w, "eroot.dax=", 10)) {
			const char *dev = w + 10;	/* "pmem1" or "/dev/pmem1" */

			if (!*dev || strlen(dev) + 6 > sizeof(c->dax_device))
				fail(c, "reading eroot.dax", "'%s': a device such as pmem0", dev);
			snprintf(c->dax_device, sizeof(c->dax_device), "%s%s",
				 dev[0] == '/' ? "" : "/dev/", dev);
		} else if (!strncmp(w, "eroot.dax.wait=", 15)) {
			char *end;
			long s = strtol(w + 15, &end, 10);

			if (end == w + 15 || *end || s < 0 || s > 3600)
				fail(c, "reading eroot.dax.wait", "%s: seconds, 0 to 3600", w + 15);
			c->dax_wait = (int)s;
		} else if (!strncmp(w, "eroot.share=", 12)) {
			take_cmdline_share(c, w + 12);
		} else if (!strcmp(w, "eroot.debug")) {
			c->debug = true;
		} else if (!strcmp(w, "eroot.profile")) {
			c->profile = true;
		}
	}
}

#define STR_(x) #x
#define STR(x) STR_(x)
#define WORD "%" STR(LOADER_MAX_WORD) "s"

/* The first line: "version N", N the one this loader was built with. */
static void check_version(struct config *c, const char *what, int n, const char *key,
			  const char *value)
{
	char *end;
	long v;

	if (n != 2 || strcmp(key, LOADER_KEY_VERSION))
		fail(c, what, "no version line first: a configuration older than this loader");
	v = strtol(value, &end, 10);
	if (*end || v != LOADER_CONFIG_VERSION)
		fail(c, what, "version %s: this loader reads version %d (a --loader from another "
		     "eroot build?)", value, LOADER_CONFIG_VERSION);
}

static bool is_sha256(const char *s)
{
	return strlen(s) == LOADER_SHA256_HEX_LEN &&
	       strspn(s, "0123456789abcdef") == LOADER_SHA256_HEX_LEN;
}

/* The words after a module line's SHA-256, in either order: "optional",
 * and one of "for-loop", "for-virtio-pmem", "for-e820", each at most
 * once; false for anything else. */
static bool module_flags(const char *line, bool *optional, bool *for_loop,
			 unsigned int *provider)
{
	char w[3][LOADER_MAX_WORD + 1];
	int n = sscanf(line, "%*s %*s %*s " WORD " " WORD " " WORD, w[0], w[1], w[2]);
	bool only = false;

	*optional = *for_loop = false;
	*provider = 0;
	if (n == 3)
		return false;
	for (int i = 0; i < n; i++) {
		if (!strcmp(w[i], LOADER_MODULE_OPTIONAL) && !*optional) {
			*optional = true;
			continue;
		}
		if (only)
			return false;
		only = true;
		if (!strcmp(w[i], LOADER_MODULE_FOR_LOOP))
			*for_loop = true;
		else if (!strcmp(w[i], LOADER_MODULE_FOR_VIRTIO_PMEM))
			*provider = PROVIDER_VIRTIO_PMEM;
		else if (!strcmp(w[i], LOADER_MODULE_FOR_E820))
			*provider = PROVIDER_E820;
		else
			return false;
	}
	return true;
}

/* An image or module line's PATH and SHA-256 into @path and @sha256, the
 * @count-th of at most @max of @key's kind. */
static void take_digested(const struct config *c, const char *what, const char *key, int count,
			  int max, const char *path_word, const char *hex,
			  char path[LOADER_MAX_WORD + 1], char sha256[LOADER_SHA256_HEX_LEN + 1])
{
	if (count == max)
		fail(c, what, "more than %d %ss", max, key);
	if (!is_sha256(hex))
		fail(c, what, "%s %s: no SHA-256", key, path_word);
	snprintf(path, LOADER_MAX_WORD + 1, "%s", path_word);
	memcpy(sha256, hex, LOADER_SHA256_HEX_LEN + 1);
}

/* "dax-image SHA256 BYTES": images[0], whatever came before (the layers);
 * its device is found at boot. */
static void take_dax_image(struct config *c, const char *what, const char *hex,
			   const char *bytes)
{
	char *end;

	if (c->dax)
		fail(c, what, "more than one %s", LOADER_KEY_DAX_IMAGE);
	if (c->nimages == LOADER_MAX_IMAGES)
		fail(c, what, "more than %d images", LOADER_MAX_IMAGES);
	if (!is_sha256(hex))
		fail(c, what, "%s: no SHA-256", LOADER_KEY_DAX_IMAGE);
	c->dax_bytes = strtoull(bytes, &end, 10);
	if (*end || !c->dax_bytes || bytes[0] == '-' || bytes[0] == '+')
		fail(c, what, "%s: %s is no size in bytes", LOADER_KEY_DAX_IMAGE, bytes);
	memmove(&c->images[1], &c->images[0], (size_t)c->nimages * sizeof(c->images[0]));
	memset(&c->images[0], 0, sizeof(c->images[0]));
	memcpy(c->images[0].sha256, hex, LOADER_SHA256_HEX_LEN + 1);
	c->dax = true;
	c->nimages++;
}

/* One line, without its newline, into @c. */
static void parse_line(struct config *c, const char *what, const char *line, bool *versioned)
{
	char a[LOADER_MAX_WORD + 1], b[LOADER_MAX_WORD + 1], d[LOADER_MAX_WORD + 1],
	     e[LOADER_MAX_WORD + 1];
	int n = sscanf(line, WORD " " WORD " " WORD " " WORD, a, b, d, e);
	bool optional, for_loop;
	unsigned int provider;

	if (n <= 0 || a[0] == '#')
		return;
	if (!*versioned) {
		check_version(c, what, n, a, b);
		*versioned = true;
	} else if (n == 3 && !strcmp(a, LOADER_KEY_IMAGE)) {
		struct image *img = &c->images[c->nimages];

		take_digested(c, what, a, c->nimages, LOADER_MAX_IMAGES, b, d, img->path,
			      img->sha256);
		c->nimages++;
	} else if (n >= 3 && !strcmp(a, LOADER_KEY_MODULE) && module_flags(line, &optional,
										 &for_loop, &provider)) {
		struct module *m = &c->modules[c->nmodules];

		take_digested(c, what, a, c->nmodules, LOADER_MAX_MODULES, b, d, m->path,
			      m->sha256);
		m->optional = optional;
		m->for_loop = for_loop;
		m->provider = provider;
		c->nmodules++;
	} else if (n == 3 && !strcmp(a, LOADER_KEY_DAX_IMAGE)) {
		take_dax_image(c, what, b, d);
	} else if (n == 2 && !strcmp(a, LOADER_KEY_DIGEST)) {
		if (strcmp(b, LOADER_DIGEST_SHA256) && strcmp(b, LOADER_DIGEST_NONE))
			fail(c, what, "digest %s: " LOADER_DIGEST_SHA256 " or " LOADER_DIGEST_NONE, b);
		c->verify = !strcmp(b, LOADER_DIGEST_SHA256);
	} else if (n == 2 && !strcmp(a, LOADER_KEY_SHARE_DOMAIN)) {
		if (strlen(b) > LOADER_MAX_SHARE_DOMAIN ||
		    strspn(b, LOADER_SHARE_DOMAIN_CHARS) != strlen(b))
			fail(c, what, "%s %s: not a domain", a, b);
		snprintf(c->share_domain, sizeof(c->share_domain), "%.*s",
			 LOADER_MAX_SHARE_DOMAIN, b);
	} else if (n == 2 && !strcmp(a, LOADER_KEY_RUN_INIT)) {
		snprintf(c->run_init, sizeof(c->run_init), "%s", b);
	} else {
		fail(c, what, "unknown line: %s", line);
	}
}

void config_parse(struct config *c, const char *text, size_t len, const char *path)
{
	char line[LOADER_MAX_LINE + 1], what[LOADER_MAX_WORD + 16];
	bool versioned = false;
	size_t at = 0;

	snprintf(what, sizeof(what), "reading %s", path);
	if (memchr(text, '\0', len))
		fail(c, what, "a NUL byte: not a configuration");
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = (nl ? (size_t)(nl - text) : len) - at;

		if (n >= LOADER_MAX_LINE)
			fail(c, what, "a line over %d bytes", LOADER_MAX_LINE - 1);
		memcpy(line, text + at, n);
		line[n] = '\0';
		parse_line(c, what, line, &versioned);
		at += n + 1;
	}
	if (!versioned)
		fail(c, what, "empty");
	if (!c->nimages)
		fail(c, what, "no image named");
	for (int i = 0; i < c->nimages; i++)
		snprintf(c->images[i].mnt, sizeof(c->images[i].mnt), EROOT_DIR "/lower%d", i);
}

void config_load(struct config *c)
{
	size_t len;
	char *text;

	memset(c, 0, sizeof(*c));
	strcpy(c->mount_how, "auto");
	c->dax_wait = 5;
	parse_cmdline(c);
	/* read once: the bytes verified are the bytes parsed */
	text = read_whole(c, CONFIG_PATH, LOADER_MAX_CONFIG, &len);
	if (c->cmdline_digest[0])
		verify_data(c, CONFIG_PATH, text, len, c->cmdline_digest, "eroot.digest=");
	config_parse(c, text, len, CONFIG_PATH);
	free(text);
	if (!strcmp(c->cmdline_share, "off"))	/* the command line wins */
		c->share_domain[0] = '\0';
	else if (c->cmdline_share[0])
		memcpy(c->share_domain, c->cmdline_share, sizeof(c->share_domain));
}
