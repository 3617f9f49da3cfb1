// SPDX-License-Identifier: MIT
/*
 * Extended attributes: inline entries after the inode, and shared entries
 * referenced by id from the inline header.  Names are rebuilt from the
 * one-byte prefix index and the stored suffix.
 */
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define XATTR_NAME_MAX_FULL 256	/* prefix + 255-byte suffix + NUL */

struct xattr_visit {
	eroot_xattr_fn fn;
	void *ctx;
	char name[XATTR_NAME_MAX_FULL + 32];
	uint8_t *value;			/* EROFS_XATTR_VALUE_MAX bytes */
};

/* Read and report the entry at image offset @off; *@size gets its size. */
static int visit_entry(struct eroot_image *img, const struct eroot_inode *ino,
		       uint64_t off, uint64_t limit, struct xattr_visit *v,
		       uint32_t *size)
{
	struct erofs_xattr_entry_disk e;
	uint8_t hdr[EROFS_XATTR_ENTRY_SIZE];
	const char *prefix;
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
	if (e.name_index & EROFS_XATTR_LONG_PREFIX)
		return eroot_fail(&img->err, -EOPNOTSUPP,
				  "nid %llu: long xattr name prefixes are not supported",
				  (unsigned long long)ino->nid);
	prefix = erofs_xattr_prefix(e.name_index);
	if (!prefix || e.name_index == EROFS_XATTR_INDEX_LUSTRE)
		return CORRUPT(img, "nid %llu: unknown xattr name index %u",
			       (unsigned long long)ino->nid, e.name_index);
	plen = strlen(prefix);
	bool acl = e.name_index == EROFS_XATTR_INDEX_POSIX_ACL_ACCESS ||
		   e.name_index == EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT;
	if ((acl && e.name_len) || (!acl && !e.name_len))
		return CORRUPT(img, "nid %llu: bad xattr name length %u",
			       (unsigned long long)ino->nid, e.name_len);
	memcpy(v->name, prefix, plen);
	err = img_read(img, off + EROFS_XATTR_ENTRY_SIZE, v->name + plen, e.name_len);
	if (err)
		return err;
	v->name[plen + e.name_len] = '\0';
	if (strlen(v->name) != plen + e.name_len)
		return CORRUPT(img, "nid %llu: NUL in xattr name", (unsigned long long)ino->nid);
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

int eroot_listxattr(struct eroot_image *img, const struct eroot_inode *ino,
		    eroot_xattr_fn fn, void *ctx)
{
	struct xattr_visit v = { .fn = fn, .ctx = ctx };
	int err;

	if (!ino->xattr_icount)
		return 0;
	v.value = malloc(EROFS_XATTR_VALUE_MAX);
	if (!v.value)
		return eroot_fail(&img->err, -ENOMEM, "out of memory");
	err = walk_xattrs(img, ino, &v);
	free(v.value);
	return err;
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
	int err = eroot_listxattr(img, ino, get_one, &g);

	if (err < 0)
		return err;
	if (g.result == -ERANGE)
		return eroot_fail(&img->err, -ERANGE, "buffer too small");
	return g.result == -ENODATA ?
	       eroot_fail(&img->err, -ENODATA, "no such attribute") : g.result;
}
