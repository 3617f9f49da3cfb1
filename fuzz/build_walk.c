// SPDX-License-Identifier: MIT
/*
 * Build an image from a fuzzed archive, then read it back.
 *
 * The first two input bytes choose the build options, so that the corpus
 * keeps each seed's layout while the rest is mutated:
 *   byte 0: bits 0-2 compressor (none, lz4, lz4hc, lzma, deflate, zstd),
 *           bits 3-4 block size (4096, 512, 1024, 2048),
 *           bit 5 ztailpacking, bits 6-7 fragments (none, tails, all),
 *   byte 1: bit 0 dedupe, bit 1 four-block pclusters, bit 2 overlayfs
 *           whiteouts, bit 3 the archive twice as two layers (initramfs:
 *           ask for the early length), bit 4 share every xattr, bit 5 a
 *           fixed time, bit 6 owners forced to root, bit 7 fingerprints
 *           (eroot mkfs --fingerprint).
 * Work stays small: the archive is at most the fuzzer's -max_len, and
 * RLIMIT_FSIZE caps every file the build writes (the staged data, the
 * image), so an archive declaring a huge file is refused with EFBIG.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <eroot/eroot.h>

#include "build_walk.h"
#include "walk.h"

#define FILE_SIZE_CAP	(8u << 20)

static char dir[64], in_path[96], out_path[96];
static bool keep;		/* EROOT_FUZZ_KEEP=1: leave the last image */

static void remove_dir(void)
{
	if (keep)
		return;
	unlink(in_path);
	unlink(out_path);
	rmdir(dir);
}

/* A private directory for the input, the stage and the image: on tmpfs
 * when there is one, since every run writes and syncs there. */
static void setup(void)
{
	struct rlimit fsize = { FILE_SIZE_CAP, FILE_SIZE_CAP };
	const char *base = getenv("EROOT_FUZZ_TMPDIR");
	struct stat st;

	if (!base)
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%.32s/eroot-fuzz.%d.XXXXXX", base, (int)getpid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "fuzz: cannot create a directory in %s: %s\n", base,
			strerror(errno));
		exit(1);
	}
	snprintf(in_path, sizeof(in_path), "%s/in", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.erofs", dir);
	keep = getenv("EROOT_FUZZ_KEEP") && !strcmp(getenv("EROOT_FUZZ_KEEP"), "1");
	atexit(remove_dir);
	/* writing past the cap fails with EFBIG instead of killing us */
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &fsize) < 0) {
		perror("fuzz: setrlimit");
		exit(1);
	}
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd < 0)
		abort();
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	close(fd);
}

static void set_options(struct eroot_build_options *o, uint8_t b0, uint8_t b1)
{
	static const char *const compressors[8] = {
		NULL, "lz4", "lz4hc", "lzma", "deflate", "zstd", NULL, "lz4",
	};
	static const unsigned int block_sizes[4] = { 4096, 512, 1024, 2048 };

	eroot_build_options_init(o);
	o->quiet = 1;
	o->workers = 1;
	o->stage_dir = dir;
	o->block_size = block_sizes[(b0 >> 3) & 3];
	o->compressor = compressors[b0 & 7];
	if (o->compressor) {
		o->ztailpacking = !!(b0 & 0x20);
		o->fragments = (b0 >> 6) == 1;
		o->all_fragments = (b0 >> 6) >= 2;
		o->pcluster_size = b1 & 2 ? 4 * o->block_size : 0;
	}
	o->dedupe = b1 & 1;
	o->overlay_whiteouts = !!(b1 & 4);
	if (b1 & 0x10)
		o->shared_xattr_min = 1;
	if (b1 & 0x20)
		o->fixed_time = 0;
	if (b1 & 0x40)
		o->force_uid = o->force_gid = 0;
	if (b1 & 0x80)
		o->fingerprint = EROOT_FINGERPRINT_DEFAULT;
}

static int add_source(struct eroot_builder *b, enum fuzz_source source, uint8_t b1,
		      size_t size)
{
	uint64_t early = 0;
	int err;

	if (source == FUZZ_ARCHIVE) {
		err = eroot_builder_add_archive(b, in_path, EROOT_ARCHIVE_AUTO);
		if (!err && (b1 & 8))
			err = eroot_builder_add_archive(b, in_path, EROOT_ARCHIVE_AUTO);
		return err;
	}
	err = eroot_builder_add_initramfs(b, in_path, b1 & 8 ? &early : NULL);
	if (!err && early > size) {
		fprintf(stderr, "fuzz: the early archives are %llu bytes of a %zu-byte file\n",
			(unsigned long long)early, size);
		__builtin_trap();
	}
	return err;
}

/* The built image must open, and walk with no error and no contradiction. */
static void check_image(void)
{
	struct eroot_image *img = NULL;
	struct walk_stats st;
	int err = eroot_image_open_path(out_path, 0, &img);

	if (err) {
		fprintf(stderr, "fuzz: the built image does not open: %s (%s)\n",
			strerror(-err), img ? eroot_image_errmsg(img) : "");
		__builtin_trap();
	}
	walk_image(img, "built", &st);
	if (st.bad || st.mismatches) {
		fprintf(stderr, "fuzz: the built image reads back with %lu errors and %lu"
			" contradictions, first %s (EROOT_FUZZ_TRACE=1 shows them)\n",
			st.bad, st.mismatches, st.first_bad);
		__builtin_trap();
	}
	eroot_image_close(img);
}

void build_and_walk(enum fuzz_source source, const uint8_t *data, size_t size)
{
	struct eroot_build_options opts;
	struct eroot_builder *b;

	if (!dir[0])
		setup();
	if (size < 2)
		return;
	set_options(&opts, data[0], data[1]);
	fuzz_write_file(in_path, data + 2, size - 2);
	b = eroot_builder_new(&opts);
	if (!b)
		abort();
	if (!add_source(b, source, data[1], size - 2) &&
	    !eroot_builder_write(b, out_path, NULL)) {
		if (keep)
			fprintf(stderr, "fuzz: the image is %s\n", out_path);
		check_image();
	}
	eroot_builder_free(b);
	if (!keep)
		unlink(out_path);
}
