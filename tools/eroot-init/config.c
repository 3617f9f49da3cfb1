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

void config_parse(struct config *c, FILE *f, const char *path)
{
	char line[LOADER_MAX_LINE + 1], what[LOADER_MAX_WORD + 16];
	char a[LOADER_MAX_WORD + 1], b[LOADER_MAX_WORD + 1], d[LOADER_MAX_WORD + 1];
	bool versioned = false;

	snprintf(what, sizeof(what), "reading %s", path);
	while (fgets(line, sizeof(line), f)) {
		int n;

		if (!strchr(line, '\n') && !feof(f))
			fail(c, what, "a line over %d bytes", LOADER_MAX_LINE - 1);
		n = sscanf(line, WORD " " WORD " " WORD, a, b, d);
		if (n <= 0 || a[0] == '#')
			continue;
		if (!versioned) {
			check_version(c, what, n, a, b);
			versioned = true;
		} else if (n >= 2 && !strcmp(a, LOADER_KEY_IMAGE)) {
			struct image *img = &c->images[c->nimages];

			if (c->nimages == LOADER_MAX_IMAGES)
				fail(c, what, "more than %d images", LOADER_MAX_IMAGES);
			snprintf(img->path, sizeof(img->path), "%s", b);
			if (n == 3 && strlen(d) == LOADER_SHA256_HEX_LEN)
				memcpy(img->sha256, d, sizeof(img->sha256));
			snprintf(img->mnt, sizeof(img->mnt), EROOT_DIR "/lower%d", c->nimages);
			c->nimages++;
		} else if (n >= 2 && !strcmp(a, LOADER_KEY_MODULE)) {
			if (c->nmodules == LOADER_MAX_MODULES)
				fail(c, what, "more than %d modules", LOADER_MAX_MODULES);
			c->module_optional[c->nmodules] = n == 3 && !strcmp(d, LOADER_MODULE_OPTIONAL);
			snprintf(c->modules[c->nmodules++], sizeof(c->modules[0]), "%s", b);
		} else if (n == 2 && !strcmp(a, LOADER_KEY_DIGEST)) {
			if (strcmp(b, LOADER_DIGEST_SHA256) && strcmp(b, LOADER_DIGEST_NONE))
				fail(c, what, "digest %s: " LOADER_DIGEST_SHA256 " or "
				     LOADER_DIGEST_NONE, b);
			c->verify = !strcmp(b, LOADER_DIGEST_SHA256);
		} else if (n == 2 && !strcmp(a, LOADER_KEY_RUN_INIT)) {
			snprintf(c->run_init, sizeof(c->run_init), "%s", b);
		} else {
			fail(c, what, "unknown line: %.*s", (int)strcspn(line, "\n"), line);
		}
	}
	if (!versioned)
		fail(c, what, "empty");
	if (!c->nimages)
		fail(c, what, "no image named");
}

void config_load(struct config *c)
{
	FILE *f;

	memset(c, 0, sizeof(*c));
	strcpy(c->mount_how, "auto");
	parse_cmdline(c);
	f = fopen(CONFIG_PATH, "r");
	if (!f)
		fail(c, "reading " CONFIG_PATH, "%m");
	config_parse(c, f, CONFIG_PATH);
	fclose(f);
}
