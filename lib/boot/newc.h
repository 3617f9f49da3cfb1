/* SPDX-License-Identifier: MIT */
/*
 * Writing newc cpio archives, the format the kernel unpacks.  Every call
 * returns 0 or a negative errno with a message in *err.
 */
#ifndef EROOT_BOOT_NEWC_H
#define EROOT_BOOT_NEWC_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

struct newc {
	int fd;
	uint64_t pos;			/* bytes written so far */
	uint32_t ino;			/* the last inode number given */
	int64_t mtime;			/* of every member */
	const char *target;		/* for messages */
	struct eroot_errmsg *err;
};

int newc_write(struct newc *w, const void *data, size_t len);
/* Zeros up to a multiple of @align (the kernel skips them between archives). */
int newc_pad(struct newc *w, uint64_t align);
int newc_dir(struct newc *w, const char *name, uint32_t mode);
int newc_node(struct newc *w, const char *name, uint32_t mode, uint32_t major, uint32_t minor);
int newc_buf(struct newc *w, const char *name, uint32_t mode, const void *data, size_t len);
/* A member with the content of file @src; with @page_align, zeros go
 * before its header so that its data starts at a multiple of 4096. */
int newc_file(struct newc *w, const char *name, uint32_t mode, const char *src,
	      int page_align);
int newc_trailer(struct newc *w);
/* Copy @len bytes of @src from its start. */
int newc_copy_prefix(struct newc *w, const char *src, uint64_t len);

#endif
