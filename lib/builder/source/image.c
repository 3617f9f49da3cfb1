// SPDX-License-Identifier: MIT
/*
 * An EROFS image as a layer (eroot merge): its tree goes over what earlier
 * sources made, as an overlayfs upper layer would: entries replace earlier
 * ones of their name, directories merge (the upper one's attributes and
 * xattrs win), overlayfs whiteouts (0/0 character devices), OCI ".wh."
 * names and opaque directories hide earlier content and do not reach the
 * output themselves.
 *
 * With EROOT_IMAGE_REFERENCE the image becomes an extra device of the
 * output and its files' data stays where it is: flat and chunk-based files
 * become chunk indexes naming the device, flat-inline ones keep their body
 * there (through the unified address space) and their tail inline,
 * compressed ones keep their map with block addresses moved into the
 * device's unified range.  Whatever cannot be referred to (fragments, a
 * multi-device input, a form plan/ finds does not fit) is copied, through
 * the stage, as archive data is.
 *
 * Fingerprints (ISHARE_XATTRS): an input's fingerprint name becomes the
 * output's, and its files keep their values; files of inputs without
 * fingerprints get theirs computed (place/fingerprint.c).  One image has
 * one fingerprint name: inputs with different names are refused.
 */
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"
#include "reader/raw.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* nid -> node of one input, for hard links and to refuse directory cycles */
struct nidmap {
	struct nidslot { uint64_t nid; struct bnode *node; } *slots;
	size_t cap, used;
};

struct isrc {
	struct eroot_builder *b;
	struct eroot_image *img;
	const char *image_path;
	const char *fp_name;		/* the input's fingerprint xattr, or NULL */
	uint16_t device;		/* 0: everything is copied */
	struct nidmap seen;
	char path[4096];		/* of the entry at hand, for messages */
};

static struct nidslot *nidmap_find(struct nidmap *m, uint64_t nid)
{
	size_t i = (size_t)(nid * 0x9e3779b97f4a7c15ull) & (m->cap - 1);

	while (m->slots[i].node && m->slots[i].nid != nid)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static int nidmap_put(struct nidmap *m, uint64_t nid, struct bnode *node)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct nidmap big = { .cap = m->cap ? m->cap * 2 : 1024 };

		big.slots = calloc(big.cap, sizeof(*big.slots));
		if (!big.slots)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].node)
				*nidmap_find(&big, m->slots[i].nid) = m->slots[i];
		big.used = m->used;
		free(m->slots);
		*m = big;
	}
	*nidmap_find(m, nid) = (struct nidslot){ nid, node };
	m->used++;
	return 0;
}

static int img_fail(struct isrc *s, int err)
{
	return BFAIL(s->b, err, "%s: %s", s->image_path, eroot_image_errmsg(s->img));
}

static void fill_attrs(struct eroot_builder *b, struct bnode *n, const struct eroot_inode *ino)
{
	n->mode = ino->mode;
	n->uid = ino->uid;
	n->gid = ino->gid;
	n->mtime = ino->mtime;
	n->mtime_nsec = ino->mtime_nsec;
	n->implicit = false;
	n->layer = b->layers;
}

static bool opaque_name(const char *name)
{
	return !strcmp(name, "trusted.overlay.opaque") || !strcmp(name, "user.overlay.opaque");
}

struct xctx { struct eroot_builder *b; struct bnode *n; bool failed; };

static int add_xattr(void *ctx, const char *name, const void *value, size_t len)
{
	struct xctx *x = ctx;
	int err;

	if (opaque_name(name))	/* applied here; the output has no layers */
		return 0;
	err = xattrs_add(x->b, x->n, name, value, len);
	x->failed = err < 0;
	return err;
}

static int read_xattrs(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	struct xctx x = { s->b, n, false };
	int err;

	xattrs_drop_node(s->b, n);
	err = eroot_listxattr(s->img, ino, add_xattr, &x);
	if (err < 0)
		return x.failed ? err : img_fail(s, err);
	xattrs_finish_node(s->b, n);
	return 0;
}

static bool is_opaque(struct isrc *s, const struct eroot_inode *dir)
{
	char v;

	return (eroot_getxattr(s->img, dir, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y') ||
	       (eroot_getxattr(s->img, dir, "user.overlay.opaque", &v, 1) == 1 && v == 'y');
}

/* The input's fingerprint value, "sha256:" + 32 bytes, saves reading the
 * data again; anything else is computed anew. */
static void take_fingerprint(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	uint8_t v[7 + 32];

	if (s->fp_name && eroot_getxattr(s->img, ino, s->fp_name, v, sizeof(v)) == sizeof(v) &&
	    !memcmp(v, "sha256:", 7)) {
		memcpy(n->fp_digest, v + 7, 32);
		n->fp_done = true;
	}
}

/* The first fingerprinted input (or --fingerprint) names the output's. */
static int adopt_fingerprint_name(struct isrc *s)
{
	struct eroot_builder *b = s->b;

	s->fp_name = eroot_image_fingerprint_name(s->img);
	if (!s->fp_name)
		return 0;
	if (b->fp_name) {
		if (strcmp(b->fp_name, s->fp_name))
			return BFAIL(b, -EINVAL, "%s: fingerprint name %s, but an earlier image's "
				     "is %s: a merged image has one", s->image_path, s->fp_name,
				     b->fp_name);
		return 0;
	}
	b->fp_name = strdup(s->fp_name);
	if (!b->fp_name)
		return BFAIL(b, -ENOMEM, "out of memory");
	b->opts.fingerprint = b->fp_name;
	return fingerprint_check_name(b);
}

/* ---- file data: copied ---- */

static int copy_data(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	struct eroot_builder *b = s->b;
	uint64_t pos = 0, start, len;
	uint8_t *buf = malloc(1u << 20);
	int err = stage_begin(b, n, true);

	if (!buf)
		return BFAIL(b, -ENOMEM, "out of memory");
	while (!err && pos < ino->size) {
		err = eroot_next_data(s->img, ino, pos, &start, &len);
		if (err == -ENXIO) {
			err = 0;
			break;
		}
		if (err) {
			err = img_fail(s, err);
			break;
		}
		for (pos = start; !err && pos < start + len;) {
			size_t want = start + len - pos < (1u << 20) ? (size_t)(start + len - pos) : 1u << 20;
			ssize_t got = eroot_pread(s->img, ino, buf, want, pos);

			if (got <= 0) {
				err = img_fail(s, got < 0 ? (int)got : -EUCLEAN);
				break;
			}
			err = stage_write(b, n, buf, (size_t)got, pos);
			pos += (uint64_t)got;
		}
	}
	free(buf);
	if (!err)
		err = stage_end(b, n, ino->size);
	n->source = &image_source;
	b->stats.files_copied++;
	return err;
}

/* ---- file data: referred to ---- */

static struct bref *new_ref(struct isrc *s, uint8_t kind)
{
	struct bref *r = calloc(1, sizeof(*r));

	if (r) {
		r->kind = kind;
		r->device = s->device;
	}
	return r;
}

/* Flat-plain: one chunk covering the file, at its first block. */
static int ref_flat_plain(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	unsigned int bits = s->b->blkszbits;

	while ((1ull << bits) < ino->size)
		bits++;
	if (bits - s->b->blkszbits > EROFS_CHUNK_FORMAT_BLKBITS_MASK)
		return 1;
	n->chunk_addr = malloc(sizeof(*n->chunk_addr));
	n->ref = new_ref(s, REF_CHUNKS);
	if (!n->chunk_addr || !n->ref)
		return -ENOMEM;
	n->chunkbits = bits;
	n->nchunks = 1;
	n->chunk_addr[0] = ino->raw_blkaddr;
	return 0;
}

/* Chunk-based: the same chunks, naming the device (holes stay holes). */
static int ref_chunks(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	unsigned int blkbits = s->b->blkszbits;
	unsigned int bits = blkbits + (ino->chunk_format & EROFS_CHUNK_FORMAT_BLKBITS_MASK);
	bool indexes = ino->chunk_format & EROFS_CHUNK_FORMAT_INDEXES;
	unsigned int unit = indexes ? EROFS_CHUNK_INDEX_SIZE : EROFS_BLOCK_MAP_ENTRY_SIZE;
	uint64_t nchunks = (ino->size + (1ull << bits) - 1) >> bits;
	uint64_t at = (raw_inline_off(s->img, ino) + unit - 1) & ~(uint64_t)(unit - 1);
	uint8_t e[EROFS_CHUNK_INDEX_SIZE];
	int err;

	if ((ino->chunk_format & EROFS_CHUNK_FORMAT_48BIT) || nchunks > (1u << 20))
		return 1;
	n->chunk_addr = malloc(nchunks * sizeof(*n->chunk_addr));
	n->ref = new_ref(s, REF_CHUNKS);
	if (!n->chunk_addr || !n->ref)
		return -ENOMEM;
	n->chunkbits = bits;
	n->nchunks = (uint32_t)nchunks;
	for (uint64_t c = 0; c < nchunks; c++) {
		err = raw_read(s->img, at + c * unit, e, unit);
		if (err)
			return img_fail(s, err);
		n->chunk_addr[c] = get_le32(indexes ? e + 4 : e);
		/* an input's own extra device, or 48-bit: copy */
		if (indexes && (get_le16(e + 2) || get_le16(e)) && n->chunk_addr[c] != EROFS_NULL_ADDR)
			return 1;
	}
	return 0;
}

/* Flat-inline: the body's blocks in the input, the tail copied now. */
static int ref_inline(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	uint32_t tail = (uint32_t)(ino->size & (blksz_of(s->b) - 1));
	int err;

	if (!tail)
		return 1;
	n->ref = new_ref(s, REF_INLINE);
	if (!n->ref || !(n->ref->bytes = malloc(tail)))
		return -ENOMEM;
	n->ref->blkaddr = ino->raw_blkaddr;
	n->ref->len = tail;
	err = raw_read(s->img, raw_inline_off(s->img, ino), n->ref->bytes, tail);
	return err ? img_fail(s, err) : 0;
}

/* Compressed: the map header, indexes and inline pcluster, as they are. */
static int ref_zmap(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	struct raw_zmap z;
	struct bref *r;
	int err = raw_zmap(s->img, ino, &z);

	if (err || !z.referable)
		return 1;	/* copied: a real fault shows when it is read */
	n->ref = r = new_ref(s, REF_ZMAP);
	if (!r || !(r->bytes = malloc(z.len)))
		return -ENOMEM;
	r->datalayout = ino->datalayout;
	r->compressed_blocks = ino->compressed_blocks;
	r->advise = z.advise;
	r->idata_size = z.idata_size;
	r->nlc = z.nlc;
	r->ebase_mod32 = (uint32_t)(z.ebase % 32);
	r->len = z.len;
	err = raw_read(s->img, z.off, r->bytes, z.len);
	if (err)
		return img_fail(s, err);
	s->b->ref_algs |= (uint16_t)(1u << z.algs[0]);
	if (z.advise & Z_EROFS_ADVISE_BIG_PCLUSTER_2)
		s->b->ref_algs |= (uint16_t)(1u << z.algs[1]);
	return 0;
}

static int file_data(struct isrc *s, struct bnode *n, const struct eroot_inode *ino)
{
	int err = 1;

	n->size = ino->size;
	if (!ino->size)
		return 0;
	/* a block address outside the input's own blocks would, in the
	 * output, land past its device (bytes its tag does not cover) or in
	 * another input's unified range: such data is copied, that is, read
	 * through the reader, which refuses it */
	if (s->device && !raw_check_map(s->img, ino)) {
		switch (ino->datalayout) {
		case EROFS_INODE_FLAT_PLAIN:
			err = ref_flat_plain(s, n, ino);
			break;
		case EROFS_INODE_CHUNK_BASED:
			err = ref_chunks(s, n, ino);
			break;
		case EROFS_INODE_FLAT_INLINE:
			err = ref_inline(s, n, ino);
			break;
		case EROFS_INODE_COMPRESSED_FULL:
		case EROFS_INODE_COMPRESSED_COMPACT:
			err = ref_zmap(s, n, ino);
			break;
		}
	}
	if (err == -ENOMEM)
		return BFAIL(s->b, err, "out of memory");
	if (err < 0)
		return err;
	if (!err) {
		n->source = &image_source;	/* the data, should plan/ copy it after all */
		return 0;
	}
	image_drop_ref(n);
	return copy_data(s, n, ino);
}

/* ---- the tree ---- */

struct dent { uint64_t nid; char *name; unsigned int len; };
struct dlist { struct dent *v; size_t n, cap; };

static int collect(void *ctx, const struct eroot_dirent *de)
{
	struct dlist *l = ctx;

	if ((de->name_len == 1 && de->name[0] == '.') ||
	    (de->name_len == 2 && !memcmp(de->name, "..", 2)))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct dent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = strndup(de->name, de->name_len);
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->v[l->n].nid = de->nid;
	l->v[l->n++].len = de->name_len;
	return 0;
}

/* Hide what lower layers put in @dir (an opaque directory). */
static void hide_lower(struct eroot_builder *b, struct bnode *dir)
{
	for (uint32_t i = 0; i < dir->nentries; i++) {
		struct bentry *c = &dir->entries[i];
		struct pt_where v = { dir, c->name, c->name_len, c->node };

		if (c->node && c->node->layer < b->layers)
			pathtree_unlink(b, &v);
	}
}

static int merge_dir(struct isrc *s, struct bnode *out, const struct eroot_inode *dir);

static int merge_entry(struct isrc *s, struct bnode *out, const struct dent *d)
{
	struct eroot_builder *b = s->b;
	struct pt_where w = { out, d->name, d->len, NULL };
	struct eroot_inode ino;
	struct nidslot *seen;
	struct bnode *n;
	int err = eroot_iget(s->img, d->nid, &ino);

	if (err)
		return img_fail(s, err);
	w.node = pathtree_lookup(b, out, d->name, d->len);
	/* whiteouts hide lower layers only, and stay out of the output */
	if ((S_ISCHR(ino.mode) && !ino.rdev_major && !ino.rdev_minor) ||
	    (d->len > sizeof(WH_PREFIX) - 1 && !memcmp(d->name, WH_PREFIX, sizeof(WH_PREFIX) - 1))) {
		if (!S_ISCHR(ino.mode)) {
			w.name += sizeof(WH_PREFIX) - 1;
			w.len -= sizeof(WH_PREFIX) - 1;
			w.node = pathtree_lookup(b, out, w.name, w.len);
		}
		if (w.node && w.node->layer < b->layers)
			pathtree_unlink(b, &w);
		return 0;
	}
	if (S_ISDIR(ino.mode)) {
		if (!w.node || !S_ISDIR(w.node->mode)) {
			if (w.node)
				pathtree_unlink(b, &w);
			n = pathtree_new_dir(b, out);
			if (!n)
				return BFAIL(b, -ENOMEM, "out of memory");
			err = pathtree_link(b, &w, n);
			if (err)
				return err;
		}
		return merge_dir(s, w.node, &ino);
	}
	if (!s->seen.cap || !(seen = nidmap_find(&s->seen, d->nid))->node) {
		n = tree_new_node(b);
		if (!n)
			return BFAIL(b, -ENOMEM, "out of memory");
		fill_attrs(b, n, &ino);
		if (!(n->src_path = strdup(s->path)))
			return BFAIL(b, -ENOMEM, "out of memory");
		if (S_ISLNK(ino.mode)) {
			n->size = ino.size;
			/* not the size a hostile inode declares (up to 2^64):
			 * eroot_readlink() refuses a target over 4095 bytes */
			n->link_target = malloc(ino.size < PATH_MAX ? ino.size + 1 : PATH_MAX);
			if (!n->link_target)
				return BFAIL(b, -ENOMEM, "out of memory");
			err = eroot_readlink(s->img, &ino, n->link_target, ino.size + 1);
			if (err < 0)
				return img_fail(s, err);
			err = 0;
		} else if (S_ISCHR(ino.mode) || S_ISBLK(ino.mode)) {
			n->rdev_major = ino.rdev_major;
			n->rdev_minor = ino.rdev_minor;
		} else if (S_ISREG(ino.mode)) {
			err = file_data(s, n, &ino);
			if (!err)
				take_fingerprint(s, n, &ino);
		}
		if (err)
			return err;
		err = read_xattrs(s, n, &ino);
		if (!err && ino.nlink > 1 && nidmap_put(&s->seen, d->nid, n))
			err = BFAIL(b, -ENOMEM, "out of memory");
		if (err)
			return err;
	} else {
		n = seen->node;	/* another name of a file met before */
	}
	if (w.node)
		pathtree_unlink(b, &w);
	return pathtree_link(b, &w, n);
}

static int merge_dir(struct isrc *s, struct bnode *out, const struct eroot_inode *dir)
{
	struct eroot_builder *b = s->b;
	struct dlist l = { 0 };
	size_t plen = strlen(s->path);
	bool opaque = is_opaque(s, dir);
	int err;

	/* a directory met twice is a cycle: the image is corrupt */
	if (s->seen.cap && nidmap_find(&s->seen, dir->nid)->node)
		return BFAIL(b, -EUCLEAN, "%s: directory %s reached twice", s->image_path,
			     *s->path ? s->path : "/");
	if (nidmap_put(&s->seen, dir->nid, out))
		return BFAIL(b, -ENOMEM, "out of memory");
	fill_attrs(b, out, dir);
	err = read_xattrs(s, out, dir);
	if (err)
		return err;
	err = eroot_readdir(s->img, dir, collect, &l);
	if (err)
		err = err == -ENOMEM ? BFAIL(b, err, "out of memory") : img_fail(s, err);
	for (size_t i = 0; !err && !opaque && i < l.n; i++)
		opaque = !strcmp(l.v[i].name, WH_OPAQUE);
	if (opaque)
		hide_lower(b, out);
	for (size_t i = 0; !err && i < l.n; i++) {
		if (!strcmp(l.v[i].name, WH_OPAQUE))
			continue;
		if (plen + 1 + l.v[i].len >= sizeof(s->path)) {
			err = BFAIL(b, -ENAMETOOLONG, "%s: path too long", s->image_path);
			break;
		}
		snprintf(s->path + plen, sizeof(s->path) - plen, "%s%s", plen ? "/" : "",
			 l.v[i].name);
		err = merge_entry(s, out, &l.v[i]);
		s->path[plen] = '\0';
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	return err;
}

/* ---- the device ---- */

/* Field by field, the larger of two compression configurations. */
void image_cfg_max(unsigned int alg, uint8_t *into, const uint8_t *from)
{
	switch (alg) {
	case Z_EROFS_COMPRESSION_LZ4:	/* max_distance, max_pclusterblks */
	case Z_EROFS_COMPRESSION_LZMA:	/* dict_size (le32), format */
		for (unsigned int f = 0; f < (alg ? 1u : 2u); f++) {
			uint32_t a = alg ? get_le32(into) : get_le16(into + 2 * f);
			uint32_t c = alg ? get_le32(from) : get_le16(from + 2 * f);

			if (c > a) {
				if (alg)
					put_le32(into, c);
				else
					put_le16(into + 2 * f, (uint16_t)c);
			}
		}
		if (alg)
			memcpy(into + 4, from + 4, 2);
		break;
	case Z_EROFS_COMPRESSION_DEFLATE:	/* windowbits */
		into[0] = into[0] > from[0] ? into[0] : from[0];
		break;
	default:				/* zstd: format, windowlog */
		into[1] = into[1] > from[1] ? into[1] : from[1];
		break;
	}
}

static int add_device(struct isrc *s)
{
	struct eroot_builder *b = s->b;
	const struct eroot_super_info *info = eroot_image_super(s->img);
	uint64_t left = info->blocks << b->blkszbits, off = 0;
	uint8_t cfg[Z_EROFS_COMPRESSION_MAX][14], md[32];
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	uint8_t *buf = malloc(1u << 20);
	struct bdevice *dev;
	int fd = open(s->image_path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0 || !h || !buf || !EVP_DigestInit_ex(h, EVP_sha256(), NULL))
		err = fd < 0 ? BFAIL(b, -errno, "%s: %s", s->image_path, strerror(errno)) :
			       BFAIL(b, -ENOMEM, "out of memory");
	while (!err && left) {
		ssize_t got = pread(fd, buf, left < (1u << 20) ? left : 1u << 20, (off_t)off);

		if (got <= 0)
			err = BFAIL(b, got < 0 ? -errno : -EUCLEAN, "%s: %s", s->image_path,
				    got < 0 ? strerror(errno) : "shorter than its block count");
		else
			EVP_DigestUpdate(h, buf, (size_t)got), off += (uint64_t)got,
				left -= (uint64_t)got;
	}
	if (!err && !EVP_DigestFinal_ex(h, md, NULL))
		err = BFAIL(b, -EIO, "SHA-256 failed");
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(h);
	free(buf);
	if (!err && b->ndevices == UINT16_MAX - 1)
		err = BFAIL(b, -E2BIG, "too many input images");
	if (!err && !(dev = realloc(b->devices, (b->ndevices + 1u) * sizeof(*dev))))
		err = BFAIL(b, -ENOMEM, "out of memory");
	if (err)
		return err;
	b->devices = dev;
	dev += b->ndevices++;
	for (int i = 0; i < 32; i++) {
		static const char hex[] = "0123456789abcdef";

		dev->tag[2 * i] = hex[md[i] >> 4];
		dev->tag[2 * i + 1] = hex[md[i] & 15];
	}
	dev->blocks = info->blocks;
	dev->uniaddr = 0;
	s->device = b->ndevices;
	err = raw_compr_cfgs(s->img, cfg);
	if (err)
		return img_fail(s, err);
	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++)
		image_cfg_max(alg, b->ref_cfgs[alg], cfg[alg]);
	return 0;
}

/* Whether the input's data can be referred to at all. */
static bool referable(struct isrc *s)
{
	uint8_t raw[EROFS_SUPER_SIZE];
	struct erofs_sb sb;

	if (raw_read(s->img, EROFS_SUPER_OFFSET, raw, sizeof(raw)))
		return false;
	erofs_sb_decode(raw, &sb);
	/* multi-device inputs; compressed data without zero padding, which
	 * the output's superblock would claim; 48-bit addresses */
	return !sb.extra_devices &&
	       !(sb.feature_incompat & (EROFS_FEATURE_INCOMPAT_48BIT | EROFS_FEATURE_INCOMPAT_METABOX)) &&
	       (!(sb.feature_incompat & EROFS_FEATURE_INCOMPAT_COMPR_CFGS) ||
		(sb.feature_incompat & EROFS_FEATURE_INCOMPAT_ZERO_PADDING));
}

static int image_scan(struct eroot_builder *b, const struct source_args *a)
{
	struct isrc s = { .b = b, .image_path = a->path };
	struct eroot_inode root;
	struct eroot_image **images;
	int err = eroot_image_open_path(a->path, 0, &s.img);

	if (err) {
		err = BFAIL(b, err, "%s: %s", a->path,
			    s.img ? eroot_image_errmsg(s.img) : strerror(-err));
		eroot_image_close(s.img);
		return err;
	}
	images = realloc(b->images, b->layers * sizeof(*images));
	if (!images) {
		eroot_image_close(s.img);
		return BFAIL(b, -ENOMEM, "out of memory");
	}
	b->images = images;
	while (b->nimages < b->layers)	/* other kinds' layers have none */
		images[b->nimages++] = NULL;
	images[b->layers - 1] = s.img;	/* closed by release() */
	if (eroot_image_super(s.img)->block_size != blksz_of(b))
		return BFAIL(b, -EINVAL, "%s: block size %u, but the output's is %u: "
			     "the inputs must share one block size", a->path,
			     eroot_image_super(s.img)->block_size, blksz_of(b));
	err = adopt_fingerprint_name(&s);
	if (err)
		return err;
	if ((a->flags & EROOT_IMAGE_REFERENCE) && referable(&s)) {
		err = add_device(&s);
		if (err)
			return err;
	}
	err = eroot_iget(s.img, eroot_image_super(s.img)->root_nid, &root);
	if (err)
		err = img_fail(&s, err);
	else
		err = merge_dir(&s, b->root, &root);
	free(s.seen.slots);
	return err;
}

static int image_open_data(const struct eroot_builder *b, const struct bnode *n, int *fd,
			   uint64_t *base)
{
	if (n->staged)
		return stage_open_data(b, n, fd, base);
	return -EIO;	/* referred to: plan/ copies it first (image_copy_ref) */
}

void image_drop_ref(struct bnode *n)
{
	if (n->ref)
		free(n->ref->bytes);
	free(n->ref);
	n->ref = NULL;
	free(n->chunk_addr);
	n->chunk_addr = NULL;
	n->nchunks = 0;
}

int image_copy_ref(struct eroot_builder *b, struct bnode *n)
{
	struct eroot_image *img = b->images[n->layer - 1];
	struct isrc s = { .b = b, .img = img, .image_path = n->src_path };
	struct eroot_inode ino;
	int err;

	(void)snprintf(s.path, sizeof(s.path), "%s", n->src_path);
	err = eroot_lookup(img, n->src_path, &ino);
	if (err)
		return img_fail(&s, err);
	image_drop_ref(n);
	return copy_data(&s, n, &ino);
}

static void image_release(struct eroot_builder *b)
{
	for (uint16_t i = 0; i < b->nimages; i++)
		eroot_image_close(b->images[i]);
	free(b->images);
	b->images = NULL;
	b->nimages = 0;
	free(b->devices);
	b->devices = NULL;
	b->ndevices = 0;
}

const struct source_ops image_source = {
	.name = "image",
	.layered = true,
	.scan = image_scan,
	.open_data = image_open_data,
	.release = image_release,
};
