// SPDX-License-Identifier: MIT
/*
 * The sources' one way in and one way out: every eroot_builder_add_*()
 * goes through source_add() to a kind's scan(), and every read of a
 * node's data through source_open() to the kind that made the node.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/source/source.h"

/* Every kind, so that what each holds is freed with the builder. */
static const struct source_ops *const kinds[] = {
	&dir_source, &archive_source, &initramfs_source, &image_source,
};

int source_add(struct eroot_builder *b, const struct source_ops *kind,
	       const struct source_args *a)
{
	int err = builder_check_options(b);

	if (err)
		return err;
	if (!kind->layered && b->root)
		return BFAIL(b, -EEXIST, "the image already has a root");
	if (kind->layered) {
		err = pathtree_begin(b);
		if (err)
			return err;
		b->layers++;
	}
	return kind->scan(b, a);
}

int eroot_builder_add_dir(struct eroot_builder *b, const char *dir)
{
	return source_add(b, &dir_source, &(struct source_args){ .path = dir });
}

int eroot_builder_add_archive(struct eroot_builder *b, const char *path,
			      enum eroot_archive_format format)
{
	return source_add(b, &archive_source,
			  &(struct source_args){ .path = path, .format = format });
}

int eroot_builder_add_initramfs(struct eroot_builder *b, const char *path,
				uint64_t *early_bytes)
{
	return source_add(b, &initramfs_source,
			  &(struct source_args){ .path = path, .early_bytes = early_bytes });
}

int eroot_builder_add_image(struct eroot_builder *b, const char *path, unsigned int flags)
{
	return source_add(b, &image_source,
			  &(struct source_args){ .path = path, .flags = flags });
}

int source_open(const struct eroot_builder *b, const struct bnode *n, int *fd, uint64_t *base)
{
	*fd = -1;
	*base = 0;
	if (n->is_packed) {	/* place/fragments.c's packed inode, read back like a file */
		*fd = fcntl(b->packed_fd, F_DUPFD_CLOEXEC, 0);
		return *fd < 0 ? -errno : 0;
	}
	if (!n->source)
		return -EIO;	/* a file with data no source gave: a builder bug */
	return n->source->open_data(b, n, fd, base);
}

void source_close(const struct eroot_builder *b, int fd)
{
	(void)b;
	if (fd >= 0)
		close(fd);
}

const char *source_strerror(int err)
{
	return err == -ESTALE ? "changed during the build" : strerror(-err);
}

bool source_may_change(const struct bnode *n)
{
	return !n->is_packed && n->source && n->source->live;
}

void sources_free(struct eroot_builder *b)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->release)
			kinds[i]->release(b);
	stage_close(b);
	pathtree_free(b);
	exclude_free(b);
}
