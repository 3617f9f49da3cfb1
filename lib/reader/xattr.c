// SPDX-License-Identifier: MIT
/*
 * Extended attributes: inline entries after the inode, and shared entries
 * referenced by id from the inline header.  Names are rebuilt from the
 * one-byte prefix index and the stored suffix; with bit 7 of the index set,
 * from an entry of the superblock's long prefix table (a short prefix and
 * an infix) and the suffix.  The header's name filter lets the kernel's
 * getxattr answer "no such name" at once, so a name it excludes would be
 * listed but not found: such an entry is corruption.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "reader.h"

/* short prefix + long prefix infix + suffix + NUL */
#define XATTR_NAME_MAX_FULL (32 + 2 * EROFS_NAME_LEN + 1)

struct xattr_visit {
	eroot_xattr_fn fn;
	void *ctx;
	char name[XATTR_NAME_MAX_FULL];
	uint8_t *value;			/* EROFS_XATTR_VALUE_MAX bytes */
	uint32_t name_filter;		/* the inode's, 0 when not obeyed */
	bool hidden;			/* report names in no namespace too */
};

/* Does the inode's name filter say @name (after short prefix @base) is absent? */
static bool filtered_out(const struct xattr_visit *v, unsigned int base,
			 const char *name, size_t len)
{
	uint32_t bit = XXH32(name, len, EROFS_XATTR_FILTER_SEED + base) %
		       EROFS_XATTR_FILTER_BITS;

	return v->name_filter >> bit & 1;
}

/* Read and report the entry at image offset @off; *@size gets its size. */
static int visit_entry(struct eroot_image *img, const struct eroot_inode *ino,
		       uint64_t off, uint64_t limit, struct xattr_visit *v,
		       uint32_t *size)
{
	struct erofs_xattr_entry_disk e;
	uint8_t hdr[EROFS_XATTR_ENTRY_SIZE];
	unsigned int base = 0, infix_len = 0;
	const char *prefix, *infix = "";
	size_t plen;
	int err;

	if (limit < off + EROFS_XATTR_ENTRY_SIZE)
		return CORRUPT(img, "nid %llu: xattr entry header out of bounds",
			       (unsigned long long)ino->nid);
	err = img_read(img, off, hdr, sizeof(hdr));
	if (err)
		return err;
	erofs_xattr_entry_decode(hdr, &e);
	*size = erofs_xattr_align(EROFS_XATTR_ENTRY_SIZE + e.name_len + e.value_size);
	if (limit - off < *size)
		return CORRUPT(img, "nid %llu: xattr entry runs out of bounds",
			       (unsigned long long)ino->nid);
	if (e.name_index & EROFS_XATTR_LONG_PREFIX) {
		unsigned int id = e.name_index & EROFS_XATTR_LONG_PREFIX_MASK;

		if (id >= img->nxprefixes)
			return CORRUPT(img, "nid %llu: long xattr prefix %u of %u",
				       (unsigned long long)ino->nid, id, img->nxprefixes);
		base = img->xprefixes[id].base_index;
		infix = img->xprefixes[id].infix;
		infix_len = img->xprefixes[id].infix_len;
		if (base == EROFS_XATTR_INDEX_NONE && !v->hidden)
			return 0;	/* in no namespace: the kernel lists none */
	} else {
		base = e.name_index;
	}
	/* a long prefix in no namespace has no short prefix; a short index 0
	 * is no prefix at all */
	prefix = base == EROFS_XATTR_INDEX_NONE && infix_len ? "" : erofs_xattr_prefix(base);
	if (!prefix || base == EROFS_XATTR_INDEX_LUSTRE)
		return CORRUPT(img, "nid %llu: unknown xattr name index %u",
			       (unsigned long long)ino->nid, base);
	plen = strlen(prefix);
	bool acl = base == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
		   base == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT;
	bool empty = !infix_len && !e.name_len;
	if (acl != empty)	/* ACL names are the bare prefix, others never */
		return CORRUPT(img, "nid %llu: bad xattr name length %u",
			       (unsigned long long)ino->nid, e.name_len);
	memcpy(v->name, prefix, plen);
	memcpy(v->name + plen, infix, infix_len);
	plen += infix_len;
	err = img_read(img, off + EROFS_XATTR_ENTRY_SIZE, v->name + plen, e.name_len);
	if (err)
		return err;
	v->name[plen + e.name_len] = '\0';
	if (strlen(v->name) != plen + e.name_len)
		return CORRUPT(img, "nid %llu: NUL in xattr name", (unsigned long long)ino->nid);
	if (filtered_out(v, base, v->name + strlen(prefix), plen + e.name_len - strlen(prefix)))
		return CORRUPT(img, "nid %llu: xattr %s excluded by the inode's name filter",
			       (unsigned long long)ino->nid, v->name);
	err = img_read(img, off + EROFS_XATTR_ENTRY_SIZE + e.name_len, v->value, e.value_size);
	if (err)
		return err;
	return v->fn(v->ctx, v->name, v->value, e.value_size);
}

static int walk_xattrs(struct eroot_image *img, const struct eroot_inode *ino,
		       struct xattr_visit *v)
{
	uint32_t ibody = erofs_xattr_ibody_size(ino->xattr_icount);
	uint64_t start = inode_inline_off(img, ino) - ibody;
	uint64_t end = start + ibody, off;
	uint8_t hdr[EROFS_XATTR_IBODY_HEADER_SIZE];
	unsigned int shared;
	int err;

	if (!ibody)
		return 0;
	err = img_read(img, start, hdr, sizeof(hdr));
	if (err)
		return err;
	v->name_filter = img->xattr_filter ? get_le32(hdr) : 0;
	shared = hdr[4];
	off = start + EROFS_XATTR_IBODY_HEADER_SIZE + 4ull * shared;
	if (off > end)
		return CORRUPT(img, "nid %llu: %u shared xattrs overflow the xattr area",
			       (unsigned long long)ino->nid, shared);
	while (off < end) {
		uint32_t size;

		err = visit_entry(img, ino, off, end, v, &size);
		if (err)
			return err;
		off += size;
	}
	for (unsigned int i = 0; i < shared; i++) {
		uint8_t id[4];
		uint64_t at;
		uint32_t size;

		err = img_read(img, start + EROFS_XATTR_IBODY_HEADER_SIZE + 4ull * i, id, 4);
		if (err)
			return err;
		at = img->xattr_off + 4ull * get_le32(id);
		if (at < img->xattr_off || at >= img->image_bytes)
			return CORRUPT(img, "nid %llu: shared xattr id out of range",
				       (unsigned long long)ino->nid);
		err = visit_entry(img, ino, at, img->image_bytes, v, &size);
		if (err)
			return err;
	}
	return 0;
}

/* Read @len bytes of the prefix table at @pos: in @holder's data or raw. */
static int prefix_table_read(struct eroot_image *img, const struct eroot_inode *holder,
			     uint64_t pos, void *buf, size_t len)
{
	ssize_t n;

	if (!holder)
		return img_read(img, pos, buf, len);
	n = data_read(img, holder, buf, len, pos);
	if (n < 0)
		return (int)n;
	if ((size_t)n != len)
		return CORRUPT(img, "xattr prefix table runs past the end of nid %llu",
			       (unsigned long long)holder->nid);
	return 0;
}

/* The full name of the ISHARE_XATTRS fingerprint: its prefix's short
 * prefix (none for index 0) and infix; super.c checked the index. */
static int fingerprint_name_init(struct eroot_image *img, const struct erofs_sb *sb)
{
	const struct xattr_long_prefix *p;
	const char *base;

	if (!(sb->feature_compat & EROFS_FEATURE_COMPAT_ISHARE_XATTRS))
		return 0;
	p = &img->xprefixes[sb->ishare_xattr_prefix_id];
	base = p->base_index == EROFS_XATTR_INDEX_NONE ? "" : erofs_xattr_prefix(p->base_index);
	if (!p->infix_len)
		return CORRUPT(img, "inode digest xattr prefix %u: empty name",
			       sb->ishare_xattr_prefix_id);
	img->fp_name = malloc(strlen(base) + p->infix_len + 1);
	if (!img->fp_name)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	memcpy(img->fp_name, base, strlen(base));
	memcpy(img->fp_name + strlen(base), p->infix, p->infix_len);
	img->fp_name[strlen(base) + p->infix_len] = '\0';
	return 0;
}

const char *eroot_image_fingerprint_name(const struct eroot_image *img)
{
	return img->fp_name;
}

/*
 * The table: xattr_prefix_count records, each 4-byte aligned, of a le16
 * length then that many bytes (a short prefix index and the infix).  It
 * lies at xattr_prefix_start * 4 in the metabox or packed inode's data, or
 * in the raw image when the superblock says so or neither inode exists.
 */
int load_xattr_prefixes(struct eroot_image *img, const struct erofs_sb *sb)
{
	uint64_t pos = (uint64_t)sb->xattr_prefix_start * 4;
	struct eroot_inode packed, *holder = NULL;
	int err;

	if (!sb->xattr_prefix_count)
		return 0;
	if (!(sb->feature_compat & EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX) && img->metabox_base) {
		holder = &img->metabox;
	} else if (!(sb->feature_compat & EROFS_FEATURE_COMPAT_PLAIN_XATTR_PFX) && sb->packed_nid) {
		err = eroot_iget(img, sb->packed_nid, &packed);
		if (err)
			return err;
		if (!S_ISREG(packed.mode))
			return CORRUPT(img, "packed inode %llu is not a regular file",
				       (unsigned long long)sb->packed_nid);
		holder = &packed;
	}
	img->xprefixes = calloc(sb->xattr_prefix_count, sizeof(*img->xprefixes));
	if (!img->xprefixes)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < sb->xattr_prefix_count; i++) {
		struct xattr_long_prefix *p = &img->xprefixes[i];
		uint8_t raw[2 + 1 + EROFS_NAME_LEN];
		unsigned int len;

		pos = (pos + 3) & ~3ull;
		err = prefix_table_read(img, holder, pos, raw, 2);
		if (err)
			return err;
		len = get_le16(raw);
		if (len < 1 || len > 1 + EROFS_NAME_LEN)
			return CORRUPT(img, "xattr prefix %u: bad length %u", i, len);
		err = prefix_table_read(img, holder, pos + 2, raw + 2, len);
		if (err)
			return err;
		/* index 0: a name in no namespace, such as the reference tool's
		 * "erofs.fingerprint.v1" (inode digests), which the kernel uses
		 * itself but lists to no one; so does eroot */
		p->base_index = raw[2];
		if ((p->base_index != EROFS_XATTR_INDEX_NONE && !erofs_xattr_prefix(p->base_index)) ||
		    p->base_index == EROFS_XATTR_INDEX_LUSTRE)
			return CORRUPT(img, "xattr prefix %u: unknown short prefix %u",
				       i, p->base_index);
		p->infix_len = (uint8_t)(len - 1);
		memcpy(p->infix, raw + 3, p->infix_len);
		pos += 2 + len;
		img->nxprefixes = i + 1;
	}
	return fingerprint_name_init(img, sb);
}

static int walk_all(struct eroot_image *img, const struct eroot_inode *ino,
		    struct xattr_visit *v)
{
	int err;

	if (!ino->xattr_icount)
		return 0;
	v->value = malloc(EROFS_XATTR_VALUE_MAX);
	if (!v->value)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = walk_xattrs(img, ino, v);
	free(v->value);
	return err;
}

int eroot_listxattr(struct eroot_image *img, const struct eroot_inode *ino,
		    eroot_xattr_fn fn, void *ctx)
{
	struct xattr_visit v = { .fn = fn, .ctx = ctx };

	return walk_all(img, ino, &v);
}

struct xattr_get {
	const char *name;
	void *buf;
	size_t size;
	ssize_t result;
};

static int get_one(void *ctx, const char *name, const void *value, size_t len)
{
	struct xattr_get *g = ctx;

	if (strcmp(name, g->name))
		return 0;
	if (g->size && len > g->size) {
		g->result = -ERANGE;
	} else {
		if (g->size)
			memcpy(g->buf, value, len);
		g->result = (ssize_t)len;
	}
	return 1;
}

ssize_t eroot_getxattr(struct eroot_image *img, const struct eroot_inode *ino,
		       const char *name, void *buf, size_t size)
{
	struct xattr_get g = { .name = name, .buf = buf, .size = size, .result = -ENODATA };
	/* the fingerprint is found by its name even in no namespace, as the
	 * kernel finds it for inode_share */
	struct xattr_visit v = { .fn = get_one, .ctx = &g,
				 .hidden = img->fp_name && !strcmp(name, img->fp_name) };
	int err = walk_all(img, ino, &v);

	if (err < 0)
		return err;
	if (g.result == -ERANGE)
		return eroot_fail(&img->err, -ERANGE, "buffer too small");
	return g.result == -ENODATA ?
	       eroot_fail(&img->err, -ENODATA, "no such attribute") : g.result;
}
