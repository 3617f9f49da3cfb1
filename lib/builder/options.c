// SPDX-License-Identifier: MIT
/* The builder's public entry points: options, handle, and the build itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"

void eroot_build_options_init(struct eroot_build_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->block_size = 4096;
	opts->fixed_time = -1;
	opts->clamp_time = -1;
	opts->force_uid = -1;
	opts->force_gid = -1;
	opts->shared_xattr_min = 2;
}

static bool copy_string(const char *from, char **to)
{
	*to = from ? strdup(from) : NULL;
	return !from || *to;
}

struct eroot_builder *eroot_builder_new(const struct eroot_build_options *opts)
{
	struct eroot_builder *b = calloc(1, sizeof(*b));
	bool ok;

	if (!b)
		return NULL;
	b->opts = *opts;
	b->stage_fd = -1;
	b->spill_fd = -1;
	b->packed_fd = -1;
	b->src_root_fd = -1;
	if (!b->opts.block_size)
		b->opts.block_size = 4096;
	if (opts->uuid) {
		memcpy(b->uuid, opts->uuid, 16);
		b->have_uuid = true;
	}
	b->opts.uuid = NULL;
	/* the compressor is parsed by builder_check_options() */
	ok = copy_string(opts->label, &b->label) &&
	     copy_string(opts->compressor, &b->compressor) &&
	     copy_string(opts->compress_hints, &b->hints_path) &&
	     copy_string(opts->hot_list, &b->hot_list_path) &&
	     copy_string(opts->stage_dir, &b->stage_dir) &&
	     copy_string(opts->fingerprint, &b->fp_name);
	b->opts.label = b->label;
	b->opts.compressor = NULL;
	b->opts.compress_hints = b->hints_path;
	b->opts.hot_list = b->hot_list_path;
	b->opts.stage_dir = b->stage_dir;
	b->opts.fingerprint = b->fp_name;
	if (!ok) {
		eroot_builder_free(b);
		return NULL;
	}
	return b;
}

void eroot_builder_free(struct eroot_builder *b)
{
	if (!b)
		return;
	tree_free(b);
	xattrs_free(b);
	sources_free(b);
	zconfig_free(b);
	free(b->label);
	free(b->compressor);
	free(b->hints_path);
	free(b->hot_list_path);
	free(b->stage_dir);
	free(b->fp_name);
	if (b->spill_fd >= 0)
		close(b->spill_fd);
	free(b);
}

const char *eroot_builder_errmsg(const struct eroot_builder *b)
{
	return b ? b->err.text : "out of memory";
}

int builder_check_options(struct eroot_builder *b)
{
	unsigned int bs = b->opts.block_size, bits = 0;

	if (b->blkszbits)
		return 0;	/* checked already */
	while ((1u << bits) < bs)
		bits++;
	if ((1u << bits) != bs || bits < EROFS_MIN_BLKSZBITS || bits > 16)
		return BFAIL(b, -EINVAL, "block size %u: must be a power of two from 512 to 4096", bs);
	if (bits > EROFS_MAX_BLKSZBITS)
		return BFAIL(b, -EINVAL,
			     "block size %u: a kernel with 4 KiB pages cannot mount it (512 to 4096 allowed)",
			     bs);
	/* the kernel turns DAX off unless blocks are pages (fs/erofs/super.c) */
	if (b->opts.dax && bs != 4096)
		return BFAIL(b, -EINVAL, "block size %u: the DAX layout needs 4096 (the page size)",
			     bs);
	if (b->label && strlen(b->label) > 16)
		return BFAIL(b, -EINVAL, "volume label longer than 16 bytes");
	int err = fingerprint_check_name(b);

	if (err)
		return err;
	b->blkszbits = bits;
	err = zconfig_init(b);

	if (err)
		b->blkszbits = 0;	/* not checked after all */
	return err;
}
