/* SPDX-License-Identifier: MIT */
/* Initramfs input: compressed members (initramfs_unpack.c) and their cpio
 * (initramfs.c). */
#ifndef EROOT_INITRAMFS_H
#define EROOT_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>

struct unpack_out {
	int (*sink)(void *ctx, const uint8_t *data, size_t len);
	void *ctx;
	uint64_t used;			/* input bytes the member took */
	char why[128];			/* what was wrong with the data */
};

/* Name of the compression starting at @in, as the kernel sees it; NULL if none. */
const char *unpack_method_name(const uint8_t *in, size_t len);
/*
 * Decode the one compressed member at @in, passing its output to o->sink.
 * Returns 0, a sink's error, or -EUCLEAN with o->why set.
 */
int unpack_member(const uint8_t *in, size_t len, struct unpack_out *o);

#endif
