// SPDX-License-Identifier: MIT
/*
 * The placer: the one owner of where data goes.  It keeps three ends, each
 * only ever moved forward: the image's data cursor (blocks handed out to
 * file, directory and symlink data, in order), the spill file's end (inline
 * tails waiting for the metadata) and the packed file's end (fragments
 * waiting for the packed inode).  Callers reserve blocks once the form of
 * what goes there is decided, then write into them; nothing is given back,
 * nothing written twice.
 *
 * It also feeds the hash the UUID is derived from (build.c), in the order
 * data is produced.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "builder/builder.h"
#include "builder/plan/plan.h"
#include "builder/place/place.h"
#include "builder/write/write.h"

struct placer {
	struct eroot_builder *b;
	int fd;				/* the image */
	XXH3_state_t *hash;
	uint64_t cursor;		/* next free block of the image */
	uint64_t spill_len;		/* end of b->spill_fd */
	uint64_t packed_len;		/* end of b->packed_fd */
	char *dir;			/* the image's directory, for spool files */
};

/*
 * The packed data can be as large as the tree (all-fragments), so it waits
 * next to the image, not in /tmp, which may be memory; in an unnamed file,
 * so that nothing is left behind whatever ends the build.
 */
static int packed_open(struct placer *pl)
{
	struct eroot_builder *b = pl->b;
	int fd;

	if (!b->packed)
		return 0;
	fd = unnamed_tmpfile(pl->dir);
	if (fd < 0)
		return BFAIL(b, fd, "cannot create the fragment file in %s: %s", pl->dir,
			     strerror(-fd));
	b->packed_fd = fd;
	return 0;
}

int placer_new(struct eroot_builder *b, int fd, void *hash, const char *image,
	       uint64_t first_block, struct placer **out)
{
	struct placer *pl = calloc(1, sizeof(*pl));
	FILE *spill = tmpfile();

	*out = pl;
	if (pl)
		pl->dir = image_dir(image);
	if (spill)
		b->spill_fd = dup(fileno(spill));
	if (spill)
		fclose(spill);
	if (!pl || !pl->dir || b->spill_fd < 0)
		return BFAIL(b, -ENOMEM, "cannot set up the build: %s", strerror(errno));
	pl->b = b;
	pl->fd = fd;
	pl->hash = hash;
	pl->cursor = first_block;
	return packed_open(pl);
}

void placer_free(struct placer *pl)
{
	if (!pl)
		return;
	if (pl->b && pl->b->packed_fd >= 0)
		close(pl->b->packed_fd);
	if (pl->b)
		pl->b->packed_fd = -1;
	free(pl->dir);
	free(pl);
}

int placer_reserve(struct placer *pl, uint64_t blocks, uint32_t *first)
{
	if (pl->cursor + blocks > UINT32_MAX)
		return BFAIL(pl->b, -EFBIG, "image too large: more than 2^32 blocks");
	*first = (uint32_t)pl->cursor;
	pl->cursor += blocks;
	return 0;
}

int placer_write(struct placer *pl, const void *data, size_t len, uint64_t to)
{
	return pwrite_all(pl->b, pl->fd, data, len, to);
}

void placer_hash(struct placer *pl, const void *data, size_t len)
{
	XXH3_128bits_update(pl->hash, data, len);
}

uint64_t placer_end(const struct placer *pl)
{
	return pl->cursor;
}

const char *placer_dir(const struct placer *pl)
{
	return pl->dir;
}

/* Inline tails wait in the spill file until the metadata is written. */
int placer_spill(struct placer *pl, struct bnode *n, const void *data, uint32_t len)
{
	struct eroot_builder *b = pl->b;

	if (pwrite(b->spill_fd, data, len, (off_t)pl->spill_len) != (ssize_t)len)
		return BFAIL(b, -errno, "writing the tail spill file: %s", strerror(errno));
	n->tail_spill = pl->spill_len;
	pl->spill_len += len;
	return 0;
}

int placer_pack(struct placer *pl, const void *data, size_t len, uint64_t *at)
{
	struct eroot_builder *b = pl->b;

	if (pwrite(b->packed_fd, data, len, (off_t)pl->packed_len) != (ssize_t)len)
		return BFAIL(b, -errno, "writing the fragment file: %s", strerror(errno));
	*at = pl->packed_len;
	pl->packed_len += len;
	return 0;
}

uint64_t placer_packed_len(const struct placer *pl)
{
	return pl->packed_len;
}
