// SPDX-License-Identifier: MIT
/*
 * Compress one segment of a file into physical clusters (pclusters).
 *
 * Each pcluster is filled with as much input as its codec fits in at most
 * -C bytes, then rounded up to whole blocks with the compressed bytes at
 * the end (the zero padding lets the kernel decompress in place and find
 * where the stream starts).  Input that does not shrink by a block is
 * stored as a plain one-block pcluster.  Every pcluster but a segment's
 * last decodes to more than a block, and segments start on block
 * boundaries, so each pcluster starts in its own logical cluster, as the
 * indexes require.
 *
 * Segments have a fixed size, so the output is the same whether they are
 * compressed one after the other or by several threads (zpipe.c).  This
 * runs on worker threads: it touches only its segment and its worker.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/place/place.h"
#include <openssl/sha.h>


/* The worker's codec state for @profile, made when first needed. */
struct codec_state *zworker_state(const struct eroot_builder *b, struct zworker *w,
				  uint16_t profile)
{
	const struct zprofile *p = &b->profiles[profile];

	if (!w->states[profile])
		w->states[profile] = p->codec->enc_new(p->level, p->max_in);
	return w->states[profile];
}

static int seg_fail(struct zseg *s, int err, const char *what)
{
	s->err = err;
	snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", s->n->src_path, what);
	return err;
}

static int read_segment(const struct eroot_builder *b, struct zseg *s, uint8_t *buf)
{
	uint64_t base;
	size_t got = 0;
	int fd, err = source_open(b, s->n, &fd, &base);

	if (err)
		return seg_fail(s, err, source_strerror(err));
	while (got < s->len) {
		ssize_t r = pread(fd, buf + got, s->len - got, (off_t)(base + s->start + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			source_close(b, fd);
			return r < 0 ? seg_fail(s, -errno, strerror(errno)) :
			       seg_fail(s, -EIO, "file shrank during the build");
		}
		got += (size_t)r;
	}
	source_close(b, fd);
	return 0;
}

static int add_extent(struct zseg *s, uint64_t la, uint16_t blocks, bool plain)
{
	if (s->next == s->cap) {
		uint32_t more = s->cap ? s->cap * 2 : 16;
		struct zextent *e = realloc(s->ext, more * sizeof(*e));

		if (!e)
			return seg_fail(s, -ENOMEM, "out of memory");
		s->ext = e;
		s->cap = more;
	}
	/* blkaddr is relative to the segment until the writer places it */
	s->ext[s->next++] = (struct zextent){
		.la = la, .blkaddr = (uint32_t)s->out_blocks, .blocks = blocks, .plain = plain,
	};
	s->out_blocks += blocks;
	return 0;
}

/* Append @len bytes as @blocks blocks: data at the end (compressed) or at
 * the start (plain), zeros elsewhere. */
static void put_blocks(const struct eroot_builder *b, struct zseg *s, const uint8_t *data,
		       size_t len, uint32_t blocks, bool at_end)
{
	uint8_t *dst = s->out + (s->out_blocks << b->blkszbits);
	size_t total = (size_t)blocks << b->blkszbits, pad = total - len;

	memset(at_end ? dst : dst + len, 0, pad);
	memcpy(at_end ? dst + pad : dst, data, len);
}

/*
 * -E ztailpacking: the file's last logical cluster is compressed on its own
 * so that it can sit inline after the indexes (or stay plain if that is no
 * smaller).  The pclusters before it end on that cluster's boundary.
 * -E fragments: the file's final extent (the rest once it is no more than
 * a pcluster of input, or compresses to less than one), kept raw for the
 * packed inode.
 */
static int compress_tail(const struct eroot_builder *b, struct zworker *w, struct zseg *s,
			 struct codec_state *st, size_t pos)
{
	const struct zprofile *p = profile_of(b, s->n);
	size_t len = s->len - pos, used = len;
	/* a fragment is compressed later, with the packed inode */
	long clen = b->opts.fragments ? 0 :
		    p->codec->compress(st, w->in + pos, &used, w->zout, blksz_of(b));

	if (clen < 0)
		return seg_fail(s, (int)clen, "compression failed");
	s->tail_plain = !(clen > 0 && used == len && (size_t)clen < len && w->zout[0]);
	s->tail_len = s->tail_plain ? (uint32_t)len : (uint32_t)clen;
	s->tail = malloc(s->tail_len);
	if (!s->tail)
		return seg_fail(s, -ENOMEM, "out of memory");
	memcpy(s->tail, s->tail_plain ? w->in + pos : w->zout, s->tail_len);
	return 0;
}

int compress_segment(const struct eroot_builder *b, struct zworker *w, struct zseg *s)
{
	const struct zprofile *p = profile_of(b, s->n);
	struct codec_state *st = zworker_state(b, w, s->n->zprofile);
	uint32_t blksz = blksz_of(b);
	size_t pos = 0, end = s->len;
	int err;

	s->out = malloc(s->len + blksz);
	if (!s->out || !st)
		return seg_fail(s, -ENOMEM, "out of memory");
	if (p->codec->enc_reset)
		p->codec->enc_reset(st);
	err = read_segment(b, s, w->in);
	if (!err && dedupes_files(b))
		SHA256(w->in, s->len, s->digest);
	/* the file's last segment: where its tail or final extent starts */
	bool last = !s->n->is_packed && s->start + s->len == s->n->size;
	bool fragment = last && b->opts.fragments;

	if (last && b->opts.ztailpacking && !fragment)
		end = (size_t)(((s->n->size - 1) & ~(uint64_t)(blksz - 1)) - s->start);
	while (!err && pos < end) {
		/* a final extent may start anywhere: a head with clusterofs */
		if (fragment && end - pos <= p->pcluster_bytes)
			break;
		size_t used = end - pos < p->max_in ? end - pos : p->max_in, blocks;
		long clen = p->codec->compress(st, w->in + pos, &used, w->zout, p->pcluster_bytes);

		if (clen < 0)
			return seg_fail(s, (int)clen, "compression failed");
		/* all the rest fits in less than a pcluster: the final extent */
		if (fragment && clen > 0 && used == end - pos && (size_t)clen < p->pcluster_bytes)
			break;
		blocks = ((size_t)clen + blksz - 1) >> b->blkszbits;
		/* a stream starting with a zero byte would be taken for padding */
		if (clen > 0 && w->zout[0] && used > (blocks << b->blkszbits)) {
			put_blocks(b, s, w->zout, (size_t)clen, (uint32_t)blocks, true);
			err = add_extent(s, s->start + pos, (uint16_t)blocks, false);
			if (!err && b->opts.dedupe)
				err = zshare_note(b, s, w->in + pos, used);
			pos += used;
			continue;
		}
		/*
		 * No block saved: the whole blocks that this try took (not
		 * more than it filled) go out plain, a block per pcluster, so
		 * an incompressible stretch costs one full try per -C of output
		 * rather than a try per block.
		 */
		used = clen > 0 && w->zout[0] ? used & ~(size_t)(blksz - 1) : 0;
		if (used < blksz)
			used = end - pos < blksz ? end - pos : blksz;
		for (size_t off = 0; off < used && !err; off += blksz) {
			size_t piece = used - off < blksz ? used - off : blksz;

			put_blocks(b, s, w->in + pos + off, piece, 1, false);
			err = add_extent(s, s->start + pos + off, 1, true);
			if (!err && b->opts.dedupe)
				err = zshare_note(b, s, w->in + pos + off, piece);
		}
		pos += used;
	}
	return err || pos == s->len ? err : compress_tail(b, w, s, st, pos);
}

void zseg_release(struct zseg *s)
{
	free(s->tail);
	free(s->out);
	free(s->ext);
	free(s->pdig);
	memset(s, 0, sizeof(*s));
}
