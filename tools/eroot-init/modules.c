// SPDX-License-Identifier: MIT
/* Kernel modules the loader needs (erofs, overlay, loop and their
 * dependencies), in the order eroot initrd resolved from modules.dep.  Each
 * is read once, verified against the configuration, and loaded from the
 * bytes that were hashed.  Built-in or already loaded ones answer EEXIST,
 * which is fine, and optional ones (soft dependencies, CPU-specific) may
 * fail. */
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

/* A module larger than this is not one the loader needs. */
#define MODULE_MAX (64u << 20)

void modules_load(const struct config *c, bool for_loop, unsigned int providers)
{
	for (int i = 0; i < c->nmodules; i++) {
		const struct module *m = &c->modules[i];
		size_t len;
		char *data;

		if (m->for_loop != for_loop)
			continue;
		if (m->provider && !(m->provider & providers)) {
			unlink(m->path);	/* no such device: never needed */
			continue;
		}
		data = read_whole(c, m->path, MODULE_MAX, &len);

		if (verifying(c))
			verify_data(c, m->path, data, len, m->sha256, CONFIG_PATH);
		if (syscall(SYS_init_module, data, len, "") < 0 && errno != EEXIST) {
			if (!m->optional)
				fail(c, "loading a module", "%s: %m", m->path);
			note(c, "optional %s did not load: %m", m->path);
		} else {
			note(c, "loaded %s", m->path);
		}
		free(data);
		unlink(m->path);	/* its memory in rootfs goes back */
	}
}

/* A kernel that mounted every image from its file never needed loop. */
void modules_drop_unused(const struct config *c)
{
	for (int i = 0; i < c->nmodules; i++)
		if (c->modules[i].for_loop)
			unlink(c->modules[i].path);
}
