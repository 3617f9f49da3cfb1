// SPDX-License-Identifier: MIT
/*
 * fuzz_merge: the input is an option byte and one or two EROFS images,
 * merged as eroot merge does (eroot_builder_add_image()); a merged image
 * that was written must open, take its inputs as its devices (each
 * matching its tag) and read back with no contradiction, and with no
 * error at all when the inputs themselves read cleanly.  A file the
 * merged image reads must read the same in the topmost input holding its
 * path: one the input cannot read (a block address past its end, say)
 * would be another input's bytes, or bytes no device tag covers.  The output of a
 * merge is mounted by the kernel: a hostile input may make the merge
 * fail, never make it write an image its own reader refuses.
 *
 *   byte 0: bit 0 the first image by reference (EROOT_IMAGE_REFERENCE),
 *           bit 1 a second image follows, bit 2 the second by reference,
 *           bit 3 a fixed time, bit 4 the first image added twice (when
 *           there is no second one);
 *   with bit 1: bytes 1-4 the first image's length (le32, clamped),
 *   then the image(s).
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
#define OPT_REF1	0x01
#define OPT_TWO		0x02
#define OPT_REF2	0x04
#define OPT_FIXED_TIME	0x08
#define OPT_TWICE	0x10
/* the comparison with the inputs: files, entries per directory, depth, bytes */
#define CMP_FILES	256
#define CMP_ENTRIES	256
#define CMP_DEPTH	32
#define CMP_BYTES	(64u << 10)

static char dir[64], in_path[2][96], out_path[96];
static bool keep;		/* EROOT_FUZZ_KEEP=1: leave the last image */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_dir(void)
{
	if (keep)
		return;
	unlink(in_path[0]);
	unlink(in_path[1]);
	unlink(out_path);
	rmdir(dir);
}

/* A private directory under /tmp (EROOT_FUZZ_TMPDIR overrides it) for the
 * inputs and the merged image; fuzz/run removes it if we crash. */
static void setup(void)
{
	struct rlimit fsize = { FILE_SIZE_CAP, FILE_SIZE_CAP };
	const char *base = getenv("EROOT_FUZZ_TMPDIR");

	snprintf(dir, sizeof(dir), "%.32s/eroot-fuzz.%d.XXXXXX", base ? base : "/tmp",
		 (int)getpid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "fuzz_merge: cannot create %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	for (int i = 0; i < 2; i++)
		snprintf(in_path[i], sizeof(in_path[i]), "%s/in%d.erofs", dir, i + 1);
	snprintf(out_path, sizeof(out_path), "%s/out.erofs", dir);
	keep = getenv("EROOT_FUZZ_KEEP") && !strcmp(getenv("EROOT_FUZZ_KEEP"), "1");
	atexit(remove_dir);
	/* a merge that copies a huge file fails with EFBIG instead of killing us */
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &fsize) < 0) {
		perror("fuzz_merge: setrlimit");
		exit(1);
	}
}

/* The block size the output needs: the first input's (eroot merge's rule). */
static unsigned int input_block_size(const char *path)
{
	struct eroot_image *img = NULL;
	unsigned int bs = 0;

	if (!eroot_image_open_path(path, 0, &img))
		bs = eroot_image_super(img)->block_size;
	eroot_image_close(img);
	return bs;
}

/* Whether an input reads with no error; -1 when it does not open. */
static int input_clean(const char *path)
{
	struct eroot_image *img = NULL;
	struct walk_stats st;
	int clean = -1;

	if (!eroot_image_open_path(path, 0, &img)) {
		walk_image(img, "input", &st);
		clean = !st.bad && !st.mismatches;
	}
	eroot_image_close(img);
	return clean;
}

static void finding(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_merge: %s: %s (EROOT_FUZZ_TRACE=1 shows the walks)\n",
		what, detail);
	__builtin_trap();
}

struct cmp {
	struct eroot_image *out, *in[2];
	struct eroot_image *own[2];	/* the merged image, input i's devices only */
	int nin;
	unsigned int files;
	char path[4096];
	uint8_t a[CMP_BYTES], b[CMP_BYTES];
};

struct centry { uint64_t nid; unsigned int type; char name[256]; };
struct clist { struct centry v[CMP_ENTRIES]; unsigned int n; };

static int cmp_collect(void *ctx, const struct eroot_dirent *de)
{
	struct clist *l = ctx;

	if ((de->name_len == 1 && de->name[0] == '.') ||
	    (de->name_len == 2 && !memcmp(de->name, "..", 2)) || l->n == CMP_ENTRIES)
		return 0;
	l->v[l->n].nid = de->nid;
	l->v[l->n].type = de->file_type;
	memcpy(l->v[l->n].name, de->name, de->name_len);
	l->v[l->n++].name[de->name_len] = '\0';
	return 0;
}

/* The merged image's file at c->path, opened with only the devices of
 * the topmost input holding a regular file there, against that input. */
static void cmp_file(struct cmp *c, const struct eroot_inode *ino)
{
	size_t want = ino->size < CMP_BYTES ? (size_t)ino->size : CMP_BYTES;
	struct eroot_inode in;
	ssize_t got;
	int i;

	for (i = c->nin - 1; i >= 0; i--)
		if (!eroot_lookup(c->in[i], c->path, &in) && S_ISREG(in.mode))
			break;
	if (i < 0)
		return;
	got = eroot_pread(c->own[i], ino, c->a, want, 0);
	/* the kernel follows an address past a device's tagged blocks, or
	 * into another input's unified range, without a word */
	if (got == -ENXIO)
		finding("a file reaches into another input's device", c->path);
	if (got < 0 && strstr(eroot_image_errmsg(c->own[i]), "beyond device"))
		finding("a file's data lies past its device's blocks", c->path);
	if (got != (ssize_t)want)
		return;		/* another error: the walk judged it */
	got = eroot_pread(c->in[i], &in, c->b, want, 0);
	if (got < 0)
		finding("the merged image reads a file its input cannot", c->path);
	if (in.size != ino->size || got != (ssize_t)want || memcmp(c->a, c->b, want))
		finding("a file reads otherwise in the merged image than in its input", c->path);
}

static void cmp_dir(struct cmp *c, const struct eroot_inode *d, int depth)
{
	struct clist *l = calloc(1, sizeof(*l));
	size_t plen = strlen(c->path);

	if (!l)
		abort();
	if (depth < CMP_DEPTH && !eroot_readdir(c->out, d, cmp_collect, l)) {
		for (unsigned int i = 0; i < l->n && c->files < CMP_FILES; i++) {
			struct eroot_inode ino;

			snprintf(c->path + plen, sizeof(c->path) - plen, "/%s", l->v[i].name);
			if (eroot_iget(c->out, l->v[i].nid, &ino))
				continue;
			if (S_ISDIR(ino.mode))
				cmp_dir(c, &ino, depth + 1);
			else if (S_ISREG(ino.mode) && ++c->files)
				cmp_file(c, &ino);	/* nids are the same in c->own[] */
		}
	}
	c->path[plen] = '\0';
	free(l);
}

/* Compare the merged image's files with the inputs they came from;
 * @slot_input[d] is the input device slot d matched. */
static void compare_with_inputs(struct eroot_image *out, int ninputs, const int *slot_input)
{
	struct cmp *c = calloc(1, sizeof(*c));
	unsigned int count = eroot_image_device_count(out);
	struct eroot_inode root;
	bool ok = true;

	if (!c)
		abort();
	c->out = out;
	for (int i = 0; i < ninputs; i++) {
		ok = ok && !eroot_image_open_path(in_path[i], 0, &c->in[i]) &&
		     !eroot_image_open_path(out_path, 0, &c->own[i]);
		for (unsigned int d = 1; ok && d <= count; d++)
			if (slot_input[d] == i)
				ok = !eroot_image_attach_device(c->own[i], d, in_path[i], 0);
	}
	c->nin = ninputs;
	if (ok && !eroot_iget(out, eroot_image_super(out)->root_nid, &root))
		cmp_dir(c, &root, 0);
	for (int i = 0; i < ninputs; i++) {
		eroot_image_close(c->in[i]);
		eroot_image_close(c->own[i]);
	}
	free(c);
}

/* The merged image: it opens, every device slot matches one of the inputs,
 * and it walks with no contradiction (no error if the inputs had none). */
static void check_merged(int ninputs, bool inputs_clean)
{
	struct eroot_image *img = NULL;
	struct walk_stats st;
	unsigned int count;
	int slot_input[3] = { -1, -1, -1 };
	int err = eroot_image_open_path(out_path, 0, &img);

	if (err)
		finding("the merged image does not open", img ? eroot_image_errmsg(img) :
			strerror(-err));
	count = eroot_image_device_count(img);
	if (count > 2)
		finding("more device slots than inputs", "at most two");
	for (unsigned int d = 1; d <= count; d++) {
		err = -ENOENT;
		for (int i = 0; i < ninputs && err; i++) {
			err = eroot_image_attach_device(img, d, in_path[i], EROOT_DEVICE_VERIFY);
			slot_input[d] = i;
		}
		if (err)
			finding("a device slot matches no input", eroot_image_errmsg(img));
	}
	walk_image(img, "merged", &st);
	if (st.mismatches)
		finding("the merged image contradicts itself", st.first_bad);
	if (inputs_clean && st.bad)
		finding("clean inputs, yet the merged image reads with errors", st.first_bad);
	compare_with_inputs(img, ninputs, slot_input);
	eroot_image_close(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eroot_build_options opts;
	struct eroot_builder *b;
	size_t len[2] = { 0, 0 };
	const uint8_t *img[2];
	uint8_t o;
	int n = 1;
	bool clean = true;

	if (!dir[0])
		setup();
	if (size < 1)
		return 0;
	o = data[0];
	data++, size--;
	if (o & OPT_TWO) {
		if (size < 4)
			return 0;
		len[0] = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
			 (size_t)data[3] << 24;
		data += 4, size -= 4;
		if (len[0] > size)
			len[0] = size;
		len[1] = size - len[0];
		n = 2;
	} else {
		len[0] = size;
	}
	img[0] = data;
	img[1] = data + len[0];
	for (int i = 0; i < n; i++)
		fuzz_write_file(in_path[i], img[i], len[i]);

	eroot_build_options_init(&opts);
	opts.quiet = 1;
	opts.workers = 1;
	opts.stage_dir = dir;
	opts.block_size = input_block_size(in_path[0]);
	if (!opts.block_size)
		return 0;	/* eroot merge refuses it before building */
	if (o & OPT_FIXED_TIME)
		opts.fixed_time = 0;
	b = eroot_builder_new(&opts);
	if (!b)
		abort();
	if (!eroot_builder_add_image(b, in_path[0], o & OPT_REF1 ? EROOT_IMAGE_REFERENCE : 0) &&
	    (n == 2 || !(o & OPT_TWICE) ||
	     !eroot_builder_add_image(b, in_path[0], o & OPT_REF2 ? EROOT_IMAGE_REFERENCE : 0)) &&
	    (n == 1 ||
	     !eroot_builder_add_image(b, in_path[1], o & OPT_REF2 ? EROOT_IMAGE_REFERENCE : 0)) &&
	    !eroot_builder_write(b, out_path, NULL)) {
		if (keep)
			fprintf(stderr, "fuzz_merge: the image is %s\n", out_path);
		for (int i = 0; i < n; i++)
			clean = clean && input_clean(in_path[i]) == 1;
		check_merged(n, clean);
	}
	eroot_builder_free(b);
	if (!keep)
		unlink(out_path);
	return 0;
}
