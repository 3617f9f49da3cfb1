// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>

#include "errmsg.h"

int eroot_fail(struct eroot_errmsg *m, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->text, sizeof(m->text), fmt, ap);
	va_end(ap);
	return err;
}
