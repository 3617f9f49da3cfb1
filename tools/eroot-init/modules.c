// SPDX-License-Identifier: MIT
/* Kernel modules the loader needs (erofs, overlay, loop, af_alg, ...), in
 * the order eroot initrd resolved from modules.dep; built-in or already
 * loaded ones answer EEXIST, which is fine, and optional ones (soft
 * dependencies, CPU-specific) may fail. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

void modules_load(const struct config *c)
{
	for (int i = 0; i < c->nmodules; i++) {
		const char *path = c->modules[i];
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			fail(c, "loading a module", "%s: %m", path);
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) {
			if (!c->module_optional[i])
				fail(c, "loading a module", "%s: %m", path);
			note(c, "optional %s did not load: %m", path);
		} else {
			note(c, "loaded %s", path);
		}
		close(fd);
		unlink(path);		/* its memory in rootfs goes back */
	}
}
