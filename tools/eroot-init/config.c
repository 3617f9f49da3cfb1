// SPDX-License-Identifier: MIT
/*
 * The loader's configuration, written by eroot initrd, one item a line:
 *   image PATH SHA256|-      the content image, then layers bottom to top
 *   module PATH [optional]   kernel modules, in load order
 *   digest sha256|none       the build-time policy
 *   run-init PATH            klibc's run-init inside the image (see switch.c)
 * and the kernel command line's eroot.* options (docs/boot.md).
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
		}
	}
}

void config_load(struct config *c)
{
	char line[800], a[256], b[256], d[256];
	FILE *f;

	memset(c, 0, sizeof(*c));
	strcpy(c->mount_how, "auto");
	parse_cmdline(c);
	f = fopen(CONFIG_PATH, "r");
	if (!f)
		fail(c, "reading " CONFIG_PATH, "%m");
	while (fgets(line, sizeof(line), f)) {
		int n = sscanf(line, "%255s %255s %255s", a, b, d);

		if (n >= 2 && !strcmp(a, "image") && c->nimages < MAX_IMAGES) {
			struct image *img = &c->images[c->nimages];

			snprintf(img->path, sizeof(img->path), "%s", b);
			if (n == 3 && strlen(d) == 64)
				memcpy(img->sha256, d, 65);
			snprintf(img->mnt, sizeof(img->mnt), EROOT_DIR "/lower%d", c->nimages);
			c->nimages++;
		} else if (n >= 2 && !strcmp(a, "module") && c->nmodules < MAX_MODULES) {
			c->module_optional[c->nmodules] = n == 3 && !strcmp(d, "optional");
			snprintf(c->modules[c->nmodules++], sizeof(c->modules[0]), "%s", b);
		} else if (n >= 2 && !strcmp(a, "digest")) {
			c->verify = !strcmp(b, "sha256");
		} else if (n >= 2 && !strcmp(a, "run-init")) {
			snprintf(c->run_init, sizeof(c->run_init), "%s", b);
		} else if (n > 0 && a[0] != '#') {
			fclose(f);
			fail(c, "reading " CONFIG_PATH, "unknown line: %s", line);
		}
	}
	fclose(f);
	if (!c->nimages)
		fail(c, "reading " CONFIG_PATH, "no image named");
}
