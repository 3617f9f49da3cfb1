// SPDX-License-Identifier: MIT
/*
 * fuzz_archive: the input is two option bytes and a tar or cpio archive;
 * the image built from it must read back cleanly (build_walk.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "build_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	build_and_walk(FUZZ_ARCHIVE, data, size);
	return 0;
}
