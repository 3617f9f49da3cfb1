/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 as the loader's configuration records it: 64 lowercase hex
 * digits and a NUL in @hex.
 */
#ifndef EROOT_BOOT_DIGEST_H
#define EROOT_BOOT_DIGEST_H

#include <stddef.h>

#include "errmsg.h"

/* Of @len bytes at @data.  0, or -ENOMEM/-EIO with a message in @err. */
int boot_sha256_buf(struct eroot_errmsg *err, const void *data, size_t len, char hex[65]);
/* Of the file @path.  0, or a negative errno with a message in @err. */
int boot_sha256_file(struct eroot_errmsg *err, const char *path, char hex[65]);

#endif
