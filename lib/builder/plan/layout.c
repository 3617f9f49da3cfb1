// SPDX-License-Identifier: MIT
/*
 * Layout: decide, for every inode, its on-disk form (compact or extended),
 * data layout (flat, flat with inline tail, chunk-based), nid and blocks,
 * and from that the image's geometry.  Nothing is written here.
 *
 * Image order: superblock, inodes (root first, then breadth first), shared
 * xattrs, data blocks in nid order.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"

static void apply_overrides(struct eroot_builder *b)
{
	const struct eroot_build_options *o = &b->opts;

	for (size_t i = 0; i < b->nnodes; i++) {
		struct bnode *n = b->nodes[i];

		if (o->force_uid >= 0)
			n->uid = (uint32_t)o->force_uid;
		if (o->force_gid >= 0)
			n->gid = (uint32_t)o->force_gid;
		if (o->fixed_time >= 0) {
			n->mtime = o->fixed_time;
			n->mtime_nsec = 0;
		} else if (o->clamp_time >= 0 && n->mtime >= o->clamp_time &&
			   (n->mtime > o->clamp_time || n->mtime_nsec)) {
			n->mtime = o->clamp_time;
			n->mtime_nsec = 0;
		}
	}
}

static bool is_dot(const struct bentry *e)
{
	return (e->name_len == 1 && e->name[0] == '.') ||
	       (e->name_len == 2 && e->name[0] == '.' && e->name[1] == '.');
}

static void count_links(struct eroot_builder *b)
{
	for (size_t i = 0; i < b->nnodes; i++)
		b->nodes[i]->nlink = S_ISDIR(b->nodes[i]->mode) ? 1 : 0;
	b->root->nlink++;	/* the root's ".." is itself */
	for (size_t i = 0; i < b->nnodes; i++) {
		struct bnode *d = b->nodes[i];

		for (uint32_t j = 0; j < d->nentries; j++) {
			struct bnode *child = d->entries[j].node;

			if (is_dot(&d->entries[j]))
				continue;
			child->nlink++;
			if (S_ISDIR(child->mode))
				d->nlink++;
		}
	}
}

static int time_cmp(const void *pa, const void *pb)
{
	const struct bnode *a = *(struct bnode *const *)pa, *b = *(struct bnode *const *)pb;

	if (a->mtime != b->mtime)
		return a->mtime < b->mtime ? -1 : 1;
	return a->mtime_nsec < b->mtime_nsec ? -1 : a->mtime_nsec > b->mtime_nsec;
}

/* Compact inodes carry no time of their own: they take the build time.
 * The most common mtime as build time lets the most inodes be compact. */
static int choose_build_time(struct eroot_builder *b)
{
	struct bnode **sorted;
	size_t best = 0, run = 0;

	if (b->opts.fixed_time >= 0) {
		b->build_time = b->opts.fixed_time;
		b->build_time_nsec = 0;
		return 0;
	}
	sorted = malloc(b->nnodes * sizeof(*sorted));
	if (!sorted)
		return BFAIL(b, -ENOMEM, "out of memory");
	memcpy(sorted, b->nodes, b->nnodes * sizeof(*sorted));
	qsort(sorted, b->nnodes, sizeof(*sorted), time_cmp);
	for (size_t i = 0; i < b->nnodes; i++) {
		run = i && !time_cmp(&sorted[i - 1], &sorted[i]) ? run + 1 : 1;
		if (run > best) {
			best = run;
			b->build_time = sorted[i]->mtime;
			b->build_time_nsec = sorted[i]->mtime_nsec;
		}
	}
	free(sorted);
	return 0;
}

/* Root first, then each directory's children in name order, breadth first. */
static int order_nodes(struct eroot_builder *b)
{
	struct bnode **order = malloc(b->nnodes * sizeof(*order));
	size_t n = 0;

	if (!order)
		return BFAIL(b, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nnodes; i++)
		b->nodes[i]->assigned = false;
	order[n++] = b->root;
	b->root->assigned = true;
	for (size_t head = 0; head < n; head++) {
		struct bnode *d = order[head];

		for (uint32_t j = 0; j < d->nentries; j++) {
			struct bnode *child = d->entries[j].node;

			if (!child->assigned) {
				child->assigned = true;
				order[n++] = child;
			}
		}
	}
	free(b->nodes);
	b->nodes = order;
	b->nnodes = b->nodes_cap = n;
	for (size_t i = 0; i < n; i++)
		order[i]->ino = (uint32_t)i + 1;
	return 0;
}

uint32_t dir_encoded_size(const struct eroot_builder *b, const struct bnode *dir)
{
	uint32_t blksz = blksz_of(b), used = 0;
	uint64_t full = 0;

	for (uint32_t j = 0; j < dir->nentries; j++) {
		uint32_t need = EROFS_DIRENT_SIZE + dir->entries[j].name_len;

		if (used + need > blksz) {
			full++;
			used = 0;
		}
		used += need;
	}
	return (uint32_t)(full * blksz + used);
}

/*
 * Sparse files become chunk-based: chunks without data are holes.  The
 * chunk size is the smallest that keeps the map within 16 blocks.
 */
static int plan_chunks(struct eroot_builder *b, struct bnode *n)
{
	unsigned int bits = b->blkszbits;
	uint64_t max_chunks = 16ull * blksz_of(b) / EROFS_BLOCK_MAP_ENTRY_SIZE;
	uint64_t nchunks, base;
	int fd, err;

	while (((n->size + (1ull << bits) - 1) >> bits) > max_chunks)
		bits++;
	nchunks = (n->size + (1ull << bits) - 1) >> bits;
	n->chunkbits = bits;
	n->nchunks = (uint32_t)nchunks;
	n->chunk_addr = calloc(nchunks, sizeof(*n->chunk_addr));
	if (!n->chunk_addr)
		return BFAIL(b, -ENOMEM, "out of memory");
	err = source_open(b, n, &fd, &base);
	if (err)
		return BFAIL(b, err, "%s: %s", n->src_path, source_strerror(err));
	for (uint64_t c = 0; c < nchunks; c++) {
		off_t start = (off_t)(base + (c << bits));
		off_t data = lseek(fd, start, SEEK_DATA);

		/* a chunk is a hole if its first data byte lies past it */
		n->chunk_addr[c] = data >= 0 && (uint64_t)data < base + ((c + 1) << bits) ?
				   0 : EROFS_NULL_ADDR;
		if (data < 0 && errno != ENXIO) {
			err = BFAIL(b, -errno, "%s: %s", n->src_path, strerror(errno));
			source_close(b, fd);
			return err;
		}
	}
	source_close(b, fd);
	n->datalayout = EROFS_INODE_CHUNK_BASED;
	b->uses_chunks = true;
	return 0;
}

static bool needs_extended(const struct eroot_builder *b, const struct bnode *n)
{
	return n->uid > 0xffff || n->gid > 0xffff || n->nlink > 0xffff ||
	       n->size > 0xffffffffull || n->mtime != b->build_time ||
	       n->mtime_nsec != b->build_time_nsec;
}

/* Bytes of data that could sit inline after the inode: the last block's. */
static uint32_t tail_of(const struct eroot_builder *b, uint64_t size)
{
	uint32_t rem = (uint32_t)(size & (blksz_of(b) - 1));

	return size && rem ? rem : 0;
}

/*
 * Metadata space: inode records go, best fit, into blocks that still have
 * room, so small records fill the gaps big ones leave.  Blocks with room
 * sit in buckets by free 32-byte slots.  A record never crosses a block
 * boundary unless it is larger than a block.
 */
struct meta_space {
	uint32_t blksz;
	uint64_t end;			/* block-aligned end of the area */
	struct bucket { uint64_t *blk; size_t n, cap; } *free_slots;
	uint32_t nbuckets;		/* blksz / 32 */
};

static int meta_open(struct meta_space *ms, uint64_t blk, uint32_t used)
{
	struct bucket *bk;
	uint32_t slots = (ms->blksz - used) / EROFS_ISLOT_SIZE;

	if (!slots)
		return 0;
	bk = &ms->free_slots[slots];
	if (bk->n == bk->cap) {
		size_t cap = bk->cap ? bk->cap * 2 : 16;
		uint64_t *more = realloc(bk->blk, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		bk->blk = more;
		bk->cap = cap;
	}
	bk->blk[bk->n++] = blk;
	return 0;
}

/* Offset for a record of @rec bytes, or UINT64_MAX when out of memory. */
static uint64_t meta_alloc(struct meta_space *ms, uint64_t rec)
{
	uint64_t size = (rec + EROFS_ISLOT_SIZE - 1) & ~(uint64_t)(EROFS_ISLOT_SIZE - 1);
	uint64_t off, blk;
	uint32_t need = (uint32_t)(size / EROFS_ISLOT_SIZE), used;

	if (size > ms->blksz) {
		off = ms->end;
		ms->end += (size + ms->blksz - 1) & ~(uint64_t)(ms->blksz - 1);
		if (size % ms->blksz &&	/* the rest of its last block */
		    meta_open(ms, (off + size) / ms->blksz, (uint32_t)(size % ms->blksz)))
			return UINT64_MAX;
		return off;
	}
	for (uint32_t s = need; s <= ms->nbuckets; s++) {
		struct bucket *bk = &ms->free_slots[s];

		if (!bk->n)
			continue;
		blk = bk->blk[--bk->n];
		used = ms->blksz - s * EROFS_ISLOT_SIZE;
		off = blk * ms->blksz + used;
		return meta_open(ms, blk, used + (uint32_t)size) ? UINT64_MAX : off;
	}
	off = ms->end;
	ms->end += ms->blksz;
	return meta_open(ms, off / ms->blksz, (uint32_t)size) ? UINT64_MAX : off;
}

static void meta_free(struct meta_space *ms)
{
	for (uint32_t s = 0; s <= ms->nbuckets; s++)
		free(ms->free_slots[s].blk);
	free(ms->free_slots);
}

/*
 * The DAX layout keeps a regular file's data out of the metadata: the
 * kernel gives S_DAX only to regular files whose datalayout is FLAT_PLAIN
 * (fs/erofs/inode.c, erofs_read_inode(); CHUNK_BASED too only since 6.5,
 * commit 18bddc5b6703), so an inline tail would send the file through the
 * page cache.
 */
static bool dax_file(const struct eroot_builder *b, const struct bnode *n)
{
	return b->opts.dax && S_ISREG(n->mode);
}

/* Flat layout of @n's data: an inline tail when inode, xattrs and tail
 * fit in one block (never for a DAX file). */
static void layout_plan_flat(struct eroot_builder *b, struct bnode *n)
{
	uint32_t blksz = blksz_of(b), tail = tail_of(b, n->size);

	n->datalayout = EROFS_INODE_FLAT_PLAIN;
	n->tail_len = 0;
	if (tail && !dax_file(b, n) && inode_base_size(n) + tail <= blksz) {
		n->datalayout = EROFS_INODE_FLAT_INLINE;
		n->tail_len = tail;
	}
	n->data_blocks = (n->size - n->tail_len + blksz - 1) >> b->blkszbits;
}

/* A file kept compressed: its profile and algorithm go in the superblock. */
static void note_compressed(struct eroot_builder *b, const struct bnode *n)
{
	b->compressed_any = true;
	b->profiles_used |= 1u << n->zprofile;
	b->algs_used |= (uint16_t)(1u << profile_of(b, n)->codec->alg);
}

/* Decide inode form and data layout; everything but the nid and blocks. */
static int plan_node(struct eroot_builder *b, struct bnode *n)
{
	if (S_ISDIR(n->mode))
		n->size = dir_encoded_size(b, n);
	n->extended = needs_extended(b, n);
	n->ibody_size = xattrs_ibody_size(b, n);
	if (n->ibody_size > EROFS_XATTR_IBODY_HEADER_SIZE + 4u * 65534)
		return BFAIL(b, -E2BIG, "%s: too many xattrs for one inode",
			     n->src_path ? n->src_path : "(inode)");
	n->xattr_icount = n->ibody_size ?
		(uint16_t)((n->ibody_size - EROFS_XATTR_IBODY_HEADER_SIZE) / 4 + 1) : 0;
	n->datalayout = EROFS_INODE_FLAT_PLAIN;
	if (n->ref) {
		int err = plan_ref(b, n);

		if (err <= 0)
			return err;
	}
	/* DAX: holes are written as zero blocks, for kernels before 6.5 */
	if (S_ISREG(n->mode) && n->sparse && n->size && !b->opts.dax)
		return plan_chunks(b, n);
	/* one block or less never shrinks by a block, but may shrink inline */
	if (S_ISREG(n->mode) && b->nprofiles && n->size && !n->hot &&
	    (n->size > blksz_of(b) || b->opts.ztailpacking || uses_fragments(b))) {
		n->datalayout = zindex_compact(b) ? EROFS_INODE_COMPRESSED_COMPACT :
						    EROFS_INODE_COMPRESSED_FULL;
		n->zprofile = zconfig_profile_of(b, n);
		/* -E fragments: a file of no more than a pcluster is its own
		 * final extent, so all of it goes to the packed inode */
		n->frag_all = b->opts.all_fragments ||
			      (b->opts.fragments && n->size <= profile_of(b, n)->pcluster_bytes);
		if (n->frag_all) {	/* all of it in the packed inode, kept so */
			n->has_fragment = true;
			note_compressed(b, n);
		}
		return 0;
	}
	if (S_ISREG(n->mode) || S_ISDIR(n->mode) || S_ISLNK(n->mode))
		layout_plan_flat(b, n);
	return 0;
}

/*
 * -E fragments, all-fragments: the packed inode, an unnamed regular file
 * that gathers the fragments, is planned with the others, last, so that it
 * takes the last nid.  Its size is known once every other file is placed
 * (plan_packed_size()); it is no inode if nothing went into it.
 */
static int plan_packed(struct eroot_builder *b)
{
	struct bnode *p;

	if (!uses_fragments(b) || !b->nprofiles)
		return 0;
	p = tree_new_node(b);
	if (!p)
		return BFAIL(b, -ENOMEM, "out of memory");
	p->mode = S_IFREG | 0600;
	p->nlink = 1;
	p->mtime = b->build_time;
	p->mtime_nsec = b->build_time_nsec;
	p->ino = (uint32_t)b->nnodes;
	p->is_packed = true;
	p->datalayout = zindex_compact(b) ? EROFS_INODE_COMPRESSED_COMPACT :
					    EROFS_INODE_COMPRESSED_FULL;
	b->packed = p;
	p->src_path = strdup("(packed inode)");
	return p->src_path ? 0 : BFAIL(b, -ENOMEM, "out of memory");
}

void plan_packed_size(struct eroot_builder *b, uint64_t size)
{
	b->packed->size = size;
	b->packed->extended = size > 0xffffffffull;
}

/* -E ztailpacking: the tail pcluster goes inline when the whole record
 * (inode, xattrs, indexes, tail) fits in one block, as the kernel requires. */
bool plan_ztail_inline(const struct eroot_builder *b, const struct bnode *n, uint32_t len)
{
	return zindex_size(b, n, inode_base_size(n)) + len <= blksz_of(b);
}

/* Bytes flat storage of @n takes: full blocks, then an inline tail (when it
 * can be inline) or one more block. */
static uint64_t flat_bytes(const struct eroot_builder *b, const struct bnode *n)
{
	uint32_t blksz = blksz_of(b);
	uint64_t full = n->size & ~(uint64_t)(blksz - 1), rest = n->size - full;
	bool inline_rest = rest && !dax_file(b, n) && inode_base_size(n) + rest <= blksz;

	return full + (inline_rest ? rest : rest ? blksz : 0);
}

/*
 * A file stays compressed when its pclusters (and an inline tail) take
 * fewer bytes than flat storage would, or when all it has is a fragment.
 */
static bool keeps_compressed(const struct eroot_builder *b, const struct bnode *n,
			     const struct zoutcome *z)
{
	return (z->blocks << b->blkszbits) + z->inline_tail < flat_bytes(b, n) ||
	       (z->fragment && !z->blocks);
}

/*
 * Whether @n stays compressed whatever its remaining input gives, once
 * its first @done bytes (a multiple of the block size) gave @blocks.
 *
 * Why the bound holds: a pcluster is either compressed, taking fewer
 * blocks than its input fills (blocks * blksz < input), or plain, one
 * block for a block of input (less only at the end of a range).  Segments
 * start on block boundaries, so @rest bytes of input give at most
 * roundup(@rest, blksz) bytes of pclusters.  Where the last logical
 * cluster is split off (ztailpacking, fragments), the pclusters before it
 * cover whole blocks and the tail takes at most one block (a block, an
 * inline tail of at most a block, or a fragment of no block): still
 * roundup(@rest, blksz).  So the final size is at most
 * blocks * blksz + roundup(rest, blksz), and if that is below flat
 * storage, keeps_compressed() is certain to hold at the end.
 */
bool plan_compressed_certain(const struct eroot_builder *b, const struct bnode *n,
			     uint64_t blocks, uint64_t done)
{
	uint64_t mask = blksz_of(b) - 1, rest = n->size - done;

	if (done & mask || done >= n->size)	/* at the end: decide exactly */
		return false;
	return (blocks << b->blkszbits) + ((rest + mask) & ~mask) < flat_bytes(b, n);
}

bool plan_compressed_form(struct eroot_builder *b, struct bnode *n, const struct zoutcome *z)
{
	if (!keeps_compressed(b, n, z)) {
		layout_plan_flat(b, n);	/* no block saved: flat */
		return false;
	}
	n->compressed_blocks = (uint32_t)z->blocks;
	n->ztail_inline = z->inline_tail > 0;
	n->tail_len = z->inline_tail;
	n->has_fragment = z->fragment;
	/* all of it a fragment: the map header holds the offset, no indexes */
	n->frag_all = z->fragment && !z->pclusters;
	note_compressed(b, n);
	return true;
}

/* Bytes the inode's record takes in the metadata area. */
static uint64_t record_size(const struct eroot_builder *b, const struct bnode *n)
{
	uint64_t base = inode_base_size(n);

	if (n->ref)
		return ref_record_size(b, n);
	switch (n->datalayout) {
	case EROFS_INODE_CHUNK_BASED:
		return ((base + 3) & ~3ull) + (uint64_t)n->nchunks * EROFS_BLOCK_MAP_ENTRY_SIZE;
	case EROFS_INODE_COMPRESSED_FULL:
	case EROFS_INODE_COMPRESSED_COMPACT:
		if (n->frag_all)	/* the map header holds the offset; no indexes */
			return ((base + 7) & ~7ull) + Z_EROFS_MAP_HEADER_SIZE;
		return zindex_size(b, n, base) + (n->ztail_inline ? n->tail_len : 0);
	default:
		return base + n->tail_len;
	}
}

int layout_prepare(struct eroot_builder *b)
{
	int err;

	apply_overrides(b);
	err = order_nodes(b);
	if (err)
		return err;
	count_links(b);
	err = zconfig_mark_hot(b);
	if (!err)
		err = choose_build_time(b);
	if (err)
		return err;
	fingerprint_drop_source_xattrs(b);
	b->xattr_bytes = xattrs_plan_shared(b);
	if (b->xattr_bytes == UINT64_MAX)
		return BFAIL(b, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nnodes && !err; i++)
		err = plan_node(b, b->nodes[i]);
	return err ? err : plan_packed(b);
}

/*
 * Give every inode its nid.  The metadata area comes after all data; its
 * first slot stays unused, because the kernel reports nids as inode
 * numbers and readdir() hides entries whose inode number is 0.
 */
int layout_metadata(struct eroot_builder *b)
{
	uint32_t blksz = blksz_of(b);
	struct meta_space ms = { .blksz = blksz, .nbuckets = blksz / EROFS_ISLOT_SIZE,
				 .end = blksz };
	int err = 0;

	if (b->packed && !b->packed->size) {
		/* no fragment went into it: the last node, and no inode */
		tree_free_node(b, b->packed);
		b->nodes[--b->nnodes] = NULL;
		b->packed = NULL;
	}
	ms.free_slots = calloc(ms.nbuckets + 1, sizeof(*ms.free_slots));
	if (!ms.free_slots)
		return BFAIL(b, -ENOMEM, "out of memory");
	err = meta_open(&ms, 0, EROFS_ISLOT_SIZE);
	for (size_t i = 0; i < b->nnodes && !err; i++) {
		uint64_t off = meta_alloc(&ms, record_size(b, b->nodes[i]));

		if (off == UINT64_MAX)
			err = -ENOMEM;
		b->nodes[i]->nid = off / EROFS_ISLOT_SIZE;
	}
	b->meta_bytes = ms.end;
	meta_free(&ms);
	if (err)
		return BFAIL(b, -ENOMEM, "out of memory");
	if (b->root->nid > 0xffff)
		return BFAIL(b, -EFBIG, "root inode beyond nid 65535");
	return 0;
}
