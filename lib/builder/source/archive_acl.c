// SPDX-License-Identifier: MIT
/*
 * POSIX ACLs from an archive (pax SCHILY.acl.*, as GNU tar --acls and
 * bsdtar write them) become the xattrs the kernel keeps them in:
 * system.posix_acl_access and system.posix_acl_default, each a version
 * word and (tag, perm, id) records sorted by tag, then id.
 */
#include <archive.h>
#include <archive_entry.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"
#define ACL_XATTR_VERSION 2
#define ACL_UNDEFINED_ID 0xffffffffu

enum { ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_GROUP = 8,
       ACL_MASK = 0x10, ACL_OTHER = 0x20 };

struct acl_rec {
	uint16_t tag, perm;
	uint32_t id;
};

static int rec_cmp(const void *pa, const void *pb)
{
	const struct acl_rec *a = pa, *b = pb;

	if (a->tag != b->tag)
		return a->tag < b->tag ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static uint16_t tag_of(int ae_tag)
{
	switch (ae_tag) {
	case ARCHIVE_ENTRY_ACL_USER_OBJ: return ACL_USER_OBJ;
	case ARCHIVE_ENTRY_ACL_USER: return ACL_USER;
	case ARCHIVE_ENTRY_ACL_GROUP_OBJ: return ACL_GROUP_OBJ;
	case ARCHIVE_ENTRY_ACL_GROUP: return ACL_GROUP;
	case ARCHIVE_ENTRY_ACL_MASK: return ACL_MASK;
	case ARCHIVE_ENTRY_ACL_OTHER: return ACL_OTHER;
	default: return 0;		/* NFSv4 "everyone@": not POSIX */
	}
}

/*
 * The uid or gid of a named entry.  GNU tar writes names (acl_to_text), and
 * extracting resolves them on the host; so does this.  libarchive leaves
 * the id at -1 when the text has none, and clips big numeric ones.
 */
static int qualifier(struct eroot_builder *b, bool user, int id, const char *name,
		     uint32_t *out)
{
	char *end;
	unsigned long v;

	if (name && *name) {
		errno = 0;
		v = strtoul(name, &end, 10);
		if (!*end && !errno && v <= UINT32_MAX) {
			*out = (uint32_t)v;
			return 0;
		}
		if (user && getpwnam(name)) {
			*out = getpwnam(name)->pw_uid;
			return 0;
		}
		if (!user && getgrnam(name)) {
			*out = getgrnam(name)->gr_gid;
			return 0;
		}
	}
	if (id >= 0) {
		*out = (uint32_t)id;
		return 0;
	}
	/* a refused entry, not a usage error */
	return BFAIL(b, -ENOENT, "ACL names an unknown %s '%s'", user ? "user" : "group",
		     name ? name : "");
}

/* One ACL type of @e as an xattr value; *@len 0 if it has only the
 * entries the mode already says. */
static int encode(struct eroot_builder *b, struct archive_entry *e, int type,
		  uint8_t **out, size_t *len, int *mask)
{
	int count = archive_entry_acl_reset(e, type), ae_type, permset, ae_tag, id;
	struct acl_rec *recs = calloc((size_t)count + 3, sizeof(*recs));
	uint16_t have = 0;
	const char *name;
	size_t n = 0;
	uint8_t *p;

	*len = 0;
	if (!recs)
		return BFAIL(b, -ENOMEM, "out of memory");
	while (archive_entry_acl_next(e, type, &ae_type, &permset, &ae_tag, &id, &name) ==
	       ARCHIVE_OK) {
		uint16_t tag = tag_of(ae_tag);

		if (!tag || (size_t)n == (size_t)count)
			continue;
		recs[n] = (struct acl_rec){ tag, (uint16_t)(permset & 7), ACL_UNDEFINED_ID };
		if ((tag == ACL_USER || tag == ACL_GROUP) &&
		    qualifier(b, tag == ACL_USER, id, name, &recs[n].id)) {
			free(recs);
			return -ENOENT;
		}
		if (tag == ACL_MASK)
			*mask = recs[n].perm;
		have |= tag;
		n++;
	}
	if (!(have & (ACL_USER | ACL_GROUP | ACL_MASK)) && type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS) {
		free(recs);		/* the mode says it all */
		return 0;
	}
	/* an access ACL always carries the owner, group and other entries */
	if (!(have & ACL_USER_OBJ))
		recs[n++] = (struct acl_rec){ ACL_USER_OBJ, (archive_entry_perm(e) >> 6) & 7,
					      ACL_UNDEFINED_ID };
	if (!(have & ACL_GROUP_OBJ))
		recs[n++] = (struct acl_rec){ ACL_GROUP_OBJ, (archive_entry_perm(e) >> 3) & 7,
					      ACL_UNDEFINED_ID };
	if (!(have & ACL_OTHER))
		recs[n++] = (struct acl_rec){ ACL_OTHER, archive_entry_perm(e) & 7,
					      ACL_UNDEFINED_ID };
	qsort(recs, n, sizeof(*recs), rec_cmp);
	*out = p = malloc(4 + 8 * n);
	if (!p) {
		free(recs);
		return BFAIL(b, -ENOMEM, "out of memory");
	}
	put_le32(p, ACL_XATTR_VERSION);
	for (size_t i = 0; i < n; i++) {
		put_le16(p + 4 + 8 * i, recs[i].tag);
		put_le16(p + 6 + 8 * i, recs[i].perm);
		put_le32(p + 8 + 8 * i, recs[i].id);
	}
	*len = 4 + 8 * n;
	free(recs);
	return 0;
}

/*
 * A raw system.posix_acl_* value from an archive, checked as the kernel's
 * posix_acl_from_xattr() reads it: the kernel fails every access to a file
 * whose ACL it cannot read.
 */
bool acl_xattr_valid(const uint8_t *value, size_t len)
{
	if (len < 4 || (len - 4) % 8 || get_le32(value) != ACL_XATTR_VERSION)
		return false;
	for (size_t at = 4; at < len; at += 8) {
		switch (get_le16(value + at)) {
		case ACL_USER_OBJ: case ACL_USER: case ACL_GROUP_OBJ: case ACL_GROUP:
		case ACL_MASK: case ACL_OTHER:
			break;
		default:
			return false;
		}
	}
	return true;
}

int acl_to_xattrs(struct eroot_builder *b, struct bnode *n, struct archive_entry *e,
		  bool store)
{
	static const struct { int type; const char *name; } kinds[] = {
		{ ARCHIVE_ENTRY_ACL_TYPE_ACCESS, "system.posix_acl_access" },
		{ ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, "system.posix_acl_default" },
	};

	for (size_t k = 0; k < 2; k++) {
		uint8_t *value = NULL;
		int err, mask = -1;
		size_t len;

		if (!archive_entry_acl_count(e, kinds[k].type))
			continue;
		err = encode(b, e, kinds[k].type, &value, &len, &mask);
		/* with a mask, the mode's group bits are the mask (libarchive
		 * set them from the group entry) */
		if (!err && mask >= 0 && kinds[k].type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS)
			n->mode = (n->mode & ~070u) | (uint32_t)mask << 3;
		if (!err && len && store)
			err = xattrs_add(b, n, kinds[k].name, value, len);
		free(value);
		if (err)
			return err;
	}
	return 0;
}
