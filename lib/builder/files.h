/* SPDX-License-Identifier: MIT */
/* Files every stage of the builder uses (files.c). */
#ifndef EROOT_BUILDER_FILES_H
#define EROOT_BUILDER_FILES_H

#include "builder/builder.h"

/* Write all @len bytes at @off; a message in @b on failure. */
int pwrite_all(struct eroot_builder *b, int fd, const void *buf, size_t len, uint64_t off);
/* An unnamed read-write file in @dir (O_TMPFILE, or named and unlinked at
 * once); a descriptor, or a negative errno. */
int unnamed_tmpfile(const char *dir);
/* The directory part of @path ("." if none); NULL when out of memory. */
char *image_dir(const char *path);

#endif
