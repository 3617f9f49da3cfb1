// SPDX-License-Identifier: MIT
/*
 * Directory and symlink blocks that are not inline, after the file data:
 * directories are encoded only once every nid is known.
 */
#include <stdlib.h>

#include "builder/builder.h"
#include "builder/place/place.h"
#include "builder/write/write.h"

int place_dir_blocks(struct eroot_builder *b, struct placer *pl)
{
	int err = 0;

	for (size_t i = 0; i < b->nnodes && !err; i++) {
		struct bnode *n = b->nodes[i];
		uint64_t body = n->size - n->tail_len, to;
		uint8_t *content;

		if (!(S_ISDIR(n->mode) || S_ISLNK(n->mode)) || !body)
			continue;
		content = node_content(b, n);
		if (!content)
			return BFAIL(b, -ENOMEM, "out of memory");
		err = placer_reserve(pl, n->data_blocks, &n->blkaddr);
		to = (uint64_t)n->blkaddr << b->blkszbits;
		placer_hash(pl, content, body);
		if (!err)
			err = placer_write(pl, content, body, to);
		/* the inline tail, if any, is copied with the metadata */
		free(n->dir_data);
		n->dir_data = NULL;
	}
	return err;
}
