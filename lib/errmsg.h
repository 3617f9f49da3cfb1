/* SPDX-License-Identifier: MIT */
/* Per-handle error messages: the last failure, in words. */
#ifndef EROOT_ERRMSG_H
#define EROOT_ERRMSG_H

#include <stddef.h>

#define EROOT_ERRMSG_SIZE 512

struct eroot_errmsg {
	char text[EROOT_ERRMSG_SIZE];
};

/* Record a message and return @err (a negative errno) for tail calls. */
int eroot_fail(struct eroot_errmsg *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
