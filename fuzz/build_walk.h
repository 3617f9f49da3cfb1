/* SPDX-License-Identifier: MIT */
/*
 * The archive harnesses' shared part: build an image from the input with
 * the builder API, reopen it and walk it.  The builder must never write an
 * image its own reader refuses or contradicts.
 */
#ifndef EROOT_FUZZ_BUILD_WALK_H
#define EROOT_FUZZ_BUILD_WALK_H

#include <stddef.h>
#include <stdint.h>

enum fuzz_source {
	FUZZ_ARCHIVE,		/* tar or cpio: eroot_builder_add_archive() */
	FUZZ_INITRAMFS,		/* eroot_builder_add_initramfs() */
};

/*
 * Input: two option bytes (see build_walk.c), then the archive.  A build
 * that fails is fine; a built image that does not read back cleanly traps.
 */
void build_and_walk(enum fuzz_source source, const uint8_t *data, size_t size);

/* Write @size bytes to @path (created or truncated); aborts on failure. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

#endif
