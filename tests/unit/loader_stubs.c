// SPDX-License-Identifier: MIT
/* main.c's fail(), note() and uptime() for the loader's unit tests. */
#include <stdarg.h>
#include <stdio.h>

#include "init.h"
#include "loader_stubs.h"

jmp_buf loader_failed;
char loader_fail_line[1024];

void fail(const struct config *c, const char *what, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(loader_fail_line, sizeof(loader_fail_line), "eroot: %s failed: ", what);

	(void)c;
	va_start(ap, fmt);
	vsnprintf(loader_fail_line + n, sizeof(loader_fail_line) - (size_t)n, fmt, ap);
	va_end(ap);
	longjmp(loader_failed, 1);
}

void note(const struct config *c, const char *fmt, ...)
{
	(void)c;
	(void)fmt;
}

double uptime(void)
{
	return 0;
}
