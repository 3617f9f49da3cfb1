// SPDX-License-Identifier: MIT
/*
 * fuzz_reader: the input is an image.  It is opened three ways: in memory
 * at offset 0, in memory at an odd offset behind a copy of itself (so a
 * reader that forgot the offset meets a plausible image), and through a
 * descriptor (a memfd).  Each handle is walked (walk.c); the three must
 * agree on every result, error codes included.  Errors are fine; a
 * crash, a leak, a sanitizer report or a disagreement is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <eroot/eroot.h>

#include "walk.h"

#define ODD_OFFSET 4093

static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("fuzz_reader: memfd_create");
		exit(1);
	}
	return 0;
}

static void put_in_memfd(const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(memfd, 0) < 0)
		abort();
	while (done < size) {
		ssize_t n = pwrite(memfd, data + done, size - done, (off_t)done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

/* A disagreement: print both sides, then trap. */
static void disagree(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_reader: the handles disagree on %s: %ld against %ld"
		" (EROOT_FUZZ_TRACE=1 prints each walk)\n", what, a, b);
	__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = { "mem@0", "mem@4093", "fd" };
	struct eroot_image *img[3] = { NULL, NULL, NULL };
	uint8_t *shifted = malloc(ODD_OFFSET + size + 1);
	int err[3];

	if (!shifted)
		abort();
	for (size_t i = 0; i < ODD_OFFSET; i++)
		shifted[i] = size ? data[i % size] : 0xa5;
	memcpy(shifted + ODD_OFFSET, data, size);
	put_in_memfd(data, size);

	err[0] = eroot_image_open_mem(data, size, 0, &img[0]);
	err[1] = eroot_image_open_mem(shifted, ODD_OFFSET + size, ODD_OFFSET, &img[1]);
	err[2] = eroot_image_open_fd(memfd, 0, &img[2]);
	for (int i = 1; i < 3; i++)
		if (err[i] != err[0])
			disagree("opening", err[0], err[i]);
	if (!err[0]) {
		uint64_t digest[3];

		for (int i = 0; i < 3; i++)
			digest[i] = walk_image(img[i], labels[i], NULL);
		for (int i = 1; i < 3; i++)
			if (digest[i] != digest[0])
				disagree(labels[i], (long)digest[0], (long)digest[i]);
	}
	for (int i = 0; i < 3; i++)
		eroot_image_close(img[i]);
	free(shifted);
	return 0;
}
