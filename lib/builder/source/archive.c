// SPDX-License-Identifier: MIT
/*
 * Source: a tar or cpio stream, read once through libarchive (which also
 * undoes any compression).  Owners, modes, times, device numbers, links,
 * xattrs and ACLs come from the archive, so no root is needed and nothing
 * is unpacked; file data waits in the stage (stage.c).  Several archives
 * are layers applied in order, with OCI whiteouts.
 *
 * Rules (docs/archives.md): a leading "/" is dropped, ".." is refused,
 * missing parents are made, intermediate symlinks are followed inside the
 * image, and the last entry for a path wins; a directory over a directory
 * merges and takes the later entry's attributes.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
/* its own message stands in for gzip's (see archive_fail) */
#define GZIP_CMD "sh -c \"exec gzip -dc 2>/dev/null\""

struct asrc {
	struct eroot_builder *b;
	struct archive *a;
	const char *name;		/* of the archive, for messages */
	const char *path;		/* of the current entry */
	bool whiteouts;			/* tar: OCI whiteouts apply */
	uint64_t entries;
	int fd;
	uint64_t bytes;			/* read from fd */
	bool nonzero;			/* a byte other than zero came before any entry */
	uint8_t buf[1 << 16];
};

static int entry_fail(struct asrc *s, int err, const char *why)
{
	return BFAIL(s->b, err, "%s: %s: %s", s->name, s->path, why);
}

static int archive_fail(struct asrc *s, const char *doing)
{
	const char *why = archive_error_string(s->a);

	if (!why)
		why = "damaged archive";
	if (!strncmp(why, "Child process exited", 20))
		why = "damaged gzip data (gzip -d failed: bad CRC, truncated or corrupt)";
	if (s->path)
		return BFAIL(s->b, -EUCLEAN, "%s: %s %s: %s", s->name, doing, s->path, why);
	return BFAIL(s->b, -EUCLEAN, "%s: %s (after %llu entries): %s", s->name, doing,
		     (unsigned long long)s->entries, why);
}

static int resolve_fail(struct asrc *s, int err)
{
	switch (err) {
	case -EPERM: return entry_fail(s, -EPERM, "path leaves the image (\"..\" refused)");
	case -ENOTDIR: return entry_fail(s, -ENOTDIR, "a parent is not a directory");
	case -ELOOP: return entry_fail(s, -ELOOP, "too many levels of symbolic links");
	case -ENAMETOOLONG: return entry_fail(s, err, "a name is longer than 255 bytes");
	default: return entry_fail(s, err, strerror(-err));
	}
}

/* Whole-data copy of a regular entry into the stage (holes kept). */
static int read_data(struct asrc *s, struct bnode *n, struct archive_entry *e)
{
	struct eroot_builder *b = s->b;
	uint64_t size = (uint64_t)archive_entry_size(e);
	const void *buf;
	size_t len;
	la_int64_t off;
	int r, err;

	err = stage_begin(b, n, archive_entry_sparse_count(e) > 0);
	n->source = &archive_source;
	while (!err && (r = archive_read_data_block(s->a, &buf, &len, &off)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return archive_fail(s, "reading the data of");
		if (off < 0 || (uint64_t)off + len > size)
			return entry_fail(s, -EUCLEAN, "data beyond the entry's size");
		if (len)
			err = stage_write(b, n, buf, len, (uint64_t)off);
	}
	if (!err)
		err = stage_end(b, n, size);
	return err;
}

static int read_xattrs(struct asrc *s, struct bnode *n, struct archive_entry *e)
{
	struct eroot_builder *b = s->b;
	bool acl_in_xattrs = false;
	char why[EROOT_ERRMSG_SIZE];
	const char *name;
	const void *value;
	size_t len;
	int err = 0;

	archive_entry_xattr_reset(e);
	while (!err && archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
		if (!strncmp(name, "system.posix_acl_", 17)) {
			acl_in_xattrs = true;
			if (!acl_xattr_valid(value, len))
				return entry_fail(s, -EUCLEAN, "xattr system.posix_acl_*: not a "
						  "POSIX ACL the kernel can read");
		}
		err = xattrs_add(b, n, name, value, len);
	}
	/* the same ACL may come both ways; the raw xattr is the exact one */
	if (!err)
		err = acl_to_xattrs(b, n, e, !acl_in_xattrs);
	if (err) {
		memcpy(why, b->err.text, sizeof(why));
		return entry_fail(s, err, why);
	}
	xattrs_finish_node(b, n);
	return 0;
}

static void fill_attrs(struct bnode *n, struct archive_entry *e)
{
	n->mode = (uint32_t)archive_entry_mode(e);
	n->uid = (uint32_t)archive_entry_uid(e);
	n->gid = (uint32_t)archive_entry_gid(e);
	n->mtime = archive_entry_mtime(e);
	n->mtime_nsec = archive_entry_mtime_is_set(e) ?
			(uint32_t)archive_entry_mtime_nsec(e) : 0;
	/* libarchive reads pax "-1.5" as -1 s + 0.5 s: the sign belongs to
	 * the fraction too ("-0.5" loses it entirely; left as it comes) */
	if (n->mtime < 0 && n->mtime_nsec) {
		n->mtime--;
		n->mtime_nsec = 1000000000u - n->mtime_nsec;
	}
	n->implicit = false;
}

/* A node for a non-link entry, complete but for its place in the tree. */
static int make_node(struct asrc *s, struct archive_entry *e, struct bnode **out)
{
	struct eroot_builder *b = s->b;
	struct bnode *n = tree_new_node(b);
	int err;

	if (!n)
		return BFAIL(b, -ENOMEM, "out of memory");
	*out = n;
	fill_attrs(n, e);
	n->layer = b->layers;
	if (!(n->src_path = strdup(s->path)))
		return BFAIL(b, -ENOMEM, "out of memory");
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		err = read_data(s, n, e);
		break;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		size_t len = target ? strlen(target) : 0;

		if (!len || len >= 4096)
			return entry_fail(s, -EUCLEAN, "symlink target empty or over 4095 bytes");
		n->link_target = strdup(target);
		n->size = len;
		err = n->link_target ? 0 : BFAIL(b, -ENOMEM, "out of memory");
		break;
	}
	case AE_IFCHR: case AE_IFBLK:
		/* EROFS keeps the kernel's 32-bit device number */
		if (archive_entry_rdevmajor(e) > EROFS_DEV_MAJOR_MAX ||
		    archive_entry_rdevminor(e) > EROFS_DEV_MINOR_MAX)
			return entry_fail(s, -ERANGE, "device number does not fit in 12-bit "
					  "major and 20-bit minor");
		n->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
		n->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
		err = 0;
		break;
	case AE_IFDIR: case AE_IFIFO: case AE_IFSOCK:
		err = 0;
		break;
	default:
		return entry_fail(s, -EOPNOTSUPP, "unsupported entry type");
	}
	return err ? err : read_xattrs(s, n, e);
}

/* OCI whiteouts: ".wh.NAME" hides NAME of earlier layers, ".wh..wh..opq"
 * all earlier content of its directory.  With overlay_whiteouts they stay
 * in the image as overlayfs expects them. */
static int whiteout(struct asrc *s, struct pt_where *w, struct archive_entry *e)
{
	struct eroot_builder *b = s->b;
	struct pt_where victim = *w;

	if (w->len == sizeof(WH_OPAQUE) - 1 && !memcmp(w->name, WH_OPAQUE, w->len)) {
		for (uint32_t i = 0; i < w->dir->nentries; i++) {
			struct bentry *c = &w->dir->entries[i];

			if (c->node && c->node->layer < b->layers) {
				victim.name = c->name;
				victim.len = c->name_len;
				pathtree_unlink(b, &victim);
			}
		}
		w->dir->opaque = b->opts.overlay_whiteouts;
		return 0;
	}
	victim.name += sizeof(WH_PREFIX) - 1;
	victim.len -= sizeof(WH_PREFIX) - 1;
	if (!victim.len)
		return entry_fail(s, -EUCLEAN, "whiteout without a name");
	if ((victim.len == 1 && victim.name[0] == '.') ||
	    (victim.len == 2 && !memcmp(victim.name, "..", 2)))
		return entry_fail(s, -EUCLEAN, "a whiteout of \".\" or \"..\" is meaningless");
	victim.node = pathtree_lookup(b, w->dir, victim.name, victim.len);
	if (victim.node && victim.node->layer == b->layers)
		return 0;		/* whiteouts hide lower layers only */
	if (victim.node)
		pathtree_unlink(b, &victim);
	if (b->opts.overlay_whiteouts) {
		struct bnode *n = tree_new_node(b);

		if (!n)
			return BFAIL(b, -ENOMEM, "out of memory");
		fill_attrs(n, e);
		n->mode = S_IFCHR;	/* 0/0: overlayfs' whiteout */
		n->layer = b->layers;
		return pathtree_link(b, &victim, n);
	}
	return 0;
}

/* A hard link: another name for an earlier entry's node. */
static int hard_link(struct asrc *s, struct pt_where *w, struct archive_entry *e,
		     const char *target)
{
	struct eroot_builder *b = s->b;
	struct pt_where t;
	int err = pathtree_resolve(b, target, 0, 0, &t);

	if (err || !t.node)
		return entry_fail(s, err ? err : -ENOENT, "hard link to a missing entry");
	if (S_ISDIR(t.node->mode))
		return entry_fail(s, -EPERM, "hard link to a directory");
	if (w->node != t.node) {
		if (w->node)
			pathtree_unlink(b, w);
		err = pathtree_link(b, w, t.node);
		if (err)
			return err;
	}
	/* cpio keeps the data with the last link: it replaces the content,
	 * never the type of the file */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    S_ISREG(t.node->mode)) {
		if (archive_entry_filetype(e) != AE_IFREG)
			return entry_fail(s, -EUCLEAN, "hard link of another file type, with data");
		fill_attrs(t.node, e);
		return read_data(s, t.node, e);
	}
	return 0;
}

static int add_entry(struct asrc *s, struct archive_entry *e)
{
	struct eroot_builder *b = s->b;
	const char *link = archive_entry_hardlink(e);
	struct pt_where w;
	struct bnode *n = NULL;
	int err;

	err = pathtree_resolve(b, s->path, PT_MAKE_PARENTS, archive_entry_mtime(e), &w);
	if (err)
		return resolve_fail(s, err);
	if (w.len > EROFS_NAME_LEN)
		return resolve_fail(s, -ENAMETOOLONG);
	if (!w.dir) {	/* the root, or a directory named by "dir/." or "link/." */
		if (archive_entry_filetype(e) != AE_IFDIR || link)
			return entry_fail(s, -ENOTDIR, "names a directory, but is no directory");
		xattrs_drop_node(b, w.node);
		fill_attrs(w.node, e);
		w.node->layer = b->layers;
		return read_xattrs(s, w.node, e);
	}
	if (s->whiteouts && w.len >= sizeof(WH_PREFIX) - 1 &&
	    !memcmp(w.name, WH_PREFIX, sizeof(WH_PREFIX) - 1))
		return whiteout(s, &w, e);
	if (link)
		return hard_link(s, &w, e, link);
	if (w.node && S_ISDIR(w.node->mode) && archive_entry_filetype(e) == AE_IFDIR) {
		xattrs_drop_node(b, w.node);	/* merge: the later attributes win */
		fill_attrs(w.node, e);
		w.node->layer = b->layers;
		return read_xattrs(s, w.node, e);
	}
	err = make_node(s, e, &n);
	if (err)
		return err;
	if (w.node)
		pathtree_unlink(b, &w);
	return pathtree_link(b, &w, n);
}

/* libarchive reads through this, so an empty input can be told apart. */
static la_ssize_t read_block(struct archive *a, void *ctx, const void **buf)
{
	struct asrc *s = ctx;
	ssize_t n;

	(void)a;
	do
		n = read(s->fd, s->buf, sizeof(s->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		archive_set_error(s->a, errno, "read error: %s", strerror(errno));
	else
		s->bytes += (uint64_t)n;
	for (ssize_t i = 0; !s->entries && !s->nonzero && i < n; i++)
		s->nonzero = s->buf[i] != 0;
	*buf = s->buf;
	return n;
}

/* Why libarchive could not even find the first entry. */
static int first_header_fail(struct asrc *s, enum eroot_archive_format format)
{
	static const char *const wanted[] = { "a tar or cpio archive", "a tar archive",
					      "a cpio archive" };

	if (!s->bytes)
		return BFAIL(s->b, -ENODATA, "%s: empty input, not an archive", s->name);
	if (archive_errno(s->a) == EILSEQ)	/* ARCHIVE_ERRNO_FILE_FORMAT on Linux */
		return BFAIL(s->b, -EUCLEAN, "%s: not %s (%s)", s->name, wanted[format],
			     archive_error_string(s->a));
	return archive_fail(s, "reading");
}

/*
 * No entry at all.  libarchive's tar reader takes a leading zero block for
 * the end of an empty archive, but disk images (ext4, EROFS) start with
 * zeros too: an empty archive is zeros to its end.  Compressed input is
 * taken as it decodes (its zeros are not seen here).
 */
static int no_entries(struct asrc *s, enum eroot_archive_format format)
{
	static const char *const wanted[] = { "a tar or cpio archive", "a tar archive",
					      "a cpio archive" };
	const void *buf;

	if (archive_filter_count(s->a) > 1)
		return 0;
	while (!s->nonzero && read_block(s->a, s, &buf) > 0)
		;
	if (!s->nonzero)
		return 0;
	return BFAIL(s->b, -EUCLEAN, "%s: not %s (zeros, then other data: a disk image?)",
		     s->name, wanted[format]);
}

static int open_archive(struct asrc *s, const char *path, enum eroot_archive_format format)
{
	struct archive *a = archive_read_new();

	s->a = a;
	if (!a)
		return BFAIL(s->b, -ENOMEM, "out of memory");
	/* every filter but libarchive's own gzip, which skips the CRC check:
	 * gzip(1) checks it, and a damaged .tar.gz must not build */
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_compress(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_lzop(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_program_signature(a, GZIP_CMD, "\x1f\x8b", 2);
	if (format != EROOT_ARCHIVE_CPIO)
		archive_read_support_format_tar(a);
	if (format != EROOT_ARCHIVE_TAR)
		archive_read_support_format_cpio(a);
	s->fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (s->fd < 0)
		return BFAIL(s->b, -errno, "%s: %s", s->name, strerror(errno));
	return archive_read_open(a, s, NULL, read_block, NULL) == ARCHIVE_OK ? 0 :
	       first_header_fail(s, format);
}

static int archive_scan(struct eroot_builder *b, const struct source_args *a)
{
	const char *path = a->path;
	enum eroot_archive_format format = a->format;
	struct asrc *s = calloc(1, sizeof(*s));	/* holds the read buffer */
	struct archive_entry *e;
	int r, err;

	if (!s)
		return BFAIL(b, -ENOMEM, "out of memory");
	*s = (struct asrc){ .b = b, .name = strcmp(path, "-") ? path : "(stdin)", .fd = -1 };
	err = open_archive(s, path, format);
	while (!err) {
		s->path = NULL;
		r = archive_read_next_header(s->a, &e);
		if (r == ARCHIVE_EOF) {
			if (!s->entries)
				err = no_entries(s, format);
			break;
		}
		if (r < ARCHIVE_WARN) {
			err = s->entries ? archive_fail(s, "reading") : first_header_fail(s, format);
			break;
		}
		s->entries++;
		s->whiteouts = (archive_format(s->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR;
		s->path = archive_entry_pathname(e);
		if (!s->path || !*s->path) {
			err = BFAIL(b, -EUCLEAN, "%s: entry %llu has no name", s->name,
				    (unsigned long long)s->entries);
			break;
		}
		s->path = pathtree_relative(s->path);
		if (!exclude_match(b, s->path))
			err = add_entry(s, e);
	}
	if (s->a)
		archive_read_free(s->a);
	if (s->fd > STDIN_FILENO)
		close(s->fd);
	free(s);
	return err;
}

const struct source_ops archive_source = {
	.name = "tar or cpio archive",
	.layered = true,
	.scan = archive_scan,
	.open_data = stage_open_data,
};
