// SPDX-License-Identifier: MIT
/*
 * Source: an initramfs, read as the kernel's unpacker (init/initramfs.c)
 * reads it, so the image holds what the kernel would have put in rootfs:
 *  - the file is a sequence of newc cpio archives ("070701", or "070702"
 *    with checksums), each optionally compressed (initramfs_unpack.c), with zero
 *    padding between them;
 *  - every entry is applied like the system calls the kernel makes: a
 *    path of another type is removed first (a directory only if empty),
 *    a file of the same type is rewritten in place (its other links see
 *    the new data), an existing directory takes the new owner and mode,
 *    parents are never made (the entry is dropped, as the kernel drops
 *    it), symlinks in the middle of a path are followed;
 *  - hard links are found by (device, inode, type) until a TRAILER!!!;
 *  - directory times are set at the very end, in reverse order, so the
 *    first entry for a directory gives its time.
 * Where the kernel would stop with "Initramfs unpacking failed" (and boot
 * with what it had so far), eroot refuses the input instead.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/source/source.h"
#include "builder/source/initramfs.h"

#define NEWC_HEADER 110
#define N_ALIGN(len) ((((len) + 1) & ~3ull) + 2)	/* header + name stay 4-aligned */

struct link_rec {
	uint64_t ino, major, minor;
	uint32_t type;
	char *path;
};

struct dir_time {
	char *path;
	int64_t mtime;
};

struct kcpio {
	struct eroot_builder *b;
	const char *file;
	uint64_t member;		/* file offset of the current member, for messages */
	uint64_t pos;			/* this_header: offset in the current stream */
	enum { ST_RESET, ST_HEADER, ST_NAME, ST_DATA, ST_SKIP } state;
	bool outer;			/* uncompressed: stop at each entry's end */

	uint8_t hdr[NEWC_HEADER];
	size_t have;			/* bytes of hdr or name collected */
	uint64_t f[13];			/* header fields, in order */
	bool csum_present;
	uint32_t csum;
	char *name;			/* name, then a symlink's target */
	size_t name_need;
	uint64_t body_len, body_done, next_header;
	struct bnode *wnode;		/* regular file receiving the body */

	struct link_rec *links;
	size_t nlinks, links_cap;
	struct dir_time *dirs;
	size_t ndirs, dirs_cap;
};

enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_MAJOR, F_MINOR,
       F_RMAJOR, F_RMINOR, F_NAMESIZE, F_CHECK };

static int kfail(struct kcpio *k, const char *what)
{
	return BFAIL(k->b, -EUCLEAN, "%s: %s (archive at byte %llu, offset %llu)", k->file, what,
		     (unsigned long long)k->member, (unsigned long long)k->pos);
}

/* An entry the kernel would fail to create (and drop): refused instead,
 * so a broken initrd is found when it is built. */
static int kname_fail(struct kcpio *k, const char *path, const char *why)
{
	return BFAIL(k->b, -EUCLEAN, "%s: %s: %s (archive at byte %llu)", k->file, path, why,
		     (unsigned long long)k->member);
}

/* The kernel parses header fields with simple_strtoul: hex up to a non-hex. */
static uint64_t hex8(const uint8_t *s)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		int c = s[i], d = c >= '0' && c <= '9' ? c - '0' :
				  (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;

		if (d < 0)
			break;
		v = v * 16 + (uint64_t)d;
	}
	return v;
}

/* ---- the system calls, on the tree ---------------------------------- */

static bool k_lookup(struct kcpio *k, const char *path, struct pt_where *w)
{
	return pathtree_resolve(k->b, path, PT_DOTDOT_OK, 0, w) == 0;
}

static void k_remove(struct kcpio *k, struct pt_where *w)
{
	if (!w->dir || !w->node)
		return;			/* the root is never removed */
	if (!S_ISDIR(w->node->mode) || pathtree_dir_empty(w->node))
		pathtree_unlink(k->b, w);
}

/* clean_path(): what is at @path goes if its type differs from @type. */
static void k_clean_path(struct kcpio *k, const char *path, uint32_t type)
{
	struct pt_where w;

	if (k_lookup(k, path, &w) && w.node && (w.node->mode & S_IFMT) != type)
		k_remove(k, &w);
}

static int k_create(struct kcpio *k, const char *path, uint32_t mode, struct bnode **out)
{
	struct pt_where w;
	struct bnode *n;

	*out = NULL;
	if (!k_lookup(k, path, &w) || !w.dir || w.node)
		return 0;		/* no parent, or it exists: the call fails */
	if (w.len > EROFS_NAME_LEN)
		return kname_fail(k, path, "a name is longer than 255 bytes");
	n = S_ISDIR(mode) ? pathtree_new_dir(k->b, w.dir) : tree_new_node(k->b);
	if (!n || !(n->src_path = strdup(pathtree_relative(path))))
		return BFAIL(k->b, -ENOMEM, "out of memory");
	n->mode = mode;
	n->implicit = false;
	*out = n;
	return pathtree_link(k->b, &w, n);
}

static struct bnode *k_node(struct kcpio *k, const char *path)
{
	struct pt_where w;

	return k_lookup(k, path, &w) ? w.node : NULL;
}

static void k_chown_chmod(struct kcpio *k, struct bnode *n, bool chmod)
{
	if (!n)
		return;
	n->uid = (uint32_t)k->f[F_UID];
	n->gid = (uint32_t)k->f[F_GID];
	if (chmod)
		n->mode = (n->mode & S_IFMT) | ((uint32_t)k->f[F_MODE] & 07777);
}

static void k_utime(struct bnode *n, int64_t mtime)
{
	if (n) {
		n->mtime = mtime;
		n->mtime_nsec = 0;
	}
}

static int k_link(struct kcpio *k, const char *old, const char *path)
{
	struct pt_where o, w;

	if (!k_lookup(k, old, &o) || !o.node || S_ISDIR(o.node->mode) ||
	    !k_lookup(k, path, &w) || !w.dir || w.node)
		return -1;
	if (w.len > EROFS_NAME_LEN) {
		kname_fail(k, path, "a name is longer than 255 bytes");
		return -2;
	}
	return pathtree_link(k->b, &w, o.node) ? -2 : 1;
}

/* ---- hard links and directory times ---------------------------------- */

static int remember(struct kcpio *k, void **arr, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		size_t more = *cap ? *cap * 2 : 64;
		void *p = realloc(*arr, more * size);

		if (!p)
			return BFAIL(k->b, -ENOMEM, "out of memory");
		*arr = p;
		*cap = more;
	}
	return 0;
}

static void forget_links(struct kcpio *k)
{
	for (size_t i = 0; i < k->nlinks; i++)
		free(k->links[i].path);
	k->nlinks = 0;
}

/* maybe_link(): 0 a first sighting, 1 linked to an earlier one, -1 failed. */
static int k_maybe_link(struct kcpio *k, const char *path)
{
	uint32_t type = (uint32_t)k->f[F_MODE] & S_IFMT;

	if (k->f[F_NLINK] < 2)
		return 0;
	for (size_t i = k->nlinks; i-- > 0; ) {
		struct link_rec *l = &k->links[i];

		if (l->ino == k->f[F_INO] && l->major == k->f[F_MAJOR] &&
		    l->minor == k->f[F_MINOR] && l->type == type) {
			k_clean_path(k, path, 0);
			return k_link(k, l->path, path);
		}
	}
	if (remember(k, (void **)&k->links, &k->nlinks, &k->links_cap, sizeof(*k->links)))
		return -2;
	k->links[k->nlinks] = (struct link_rec){ k->f[F_INO], k->f[F_MAJOR], k->f[F_MINOR],
						 type, strdup(path) };
	if (!k->links[k->nlinks].path) {
		BFAIL(k->b, -ENOMEM, "out of memory");
		return -2;
	}
	k->nlinks++;
	return 0;
}

static int dir_add(struct kcpio *k, const char *path)
{
	if (remember(k, (void **)&k->dirs, &k->ndirs, &k->dirs_cap, sizeof(*k->dirs)))
		return -ENOMEM;
	k->dirs[k->ndirs].path = strdup(path);
	k->dirs[k->ndirs].mtime = (int64_t)k->f[F_MTIME];
	return k->dirs[k->ndirs++].path ? 0 : BFAIL(k->b, -ENOMEM, "out of memory");
}

/* ---- entries ---------------------------------------------------------- */

static int do_regular(struct kcpio *k, const char *path)
{
	int ml = k_maybe_link(k, path), err;
	struct bnode *n;

	if (ml < -1)
		return -ENOMEM;
	if (ml < 0)
		return 0;
	n = k_node(k, path);
	if (n && !S_ISREG(n->mode))
		return 0;		/* opening a directory for writing fails */
	if (!n && (err = k_create(k, path, S_IFREG | ((uint32_t)k->f[F_MODE] & 07777), &n)))
		return err;
	if (!n)
		return 0;
	k_chown_chmod(k, n, true);
	if (ml != 1 || k->body_len) {	/* O_TRUNC, or ftruncate + write */
		n->staged = false;
		n->size = 0;
		n->sparse = false;
		if (k->body_len && (err = stage_begin(k->b, n, false)))
			return err;
		n->source = &initramfs_source;
	}
	k->wnode = n;
	return 0;
}

static int do_name(struct kcpio *k)
{
	uint32_t mode = (uint32_t)k->f[F_MODE], type = mode & S_IFMT;
	const char *path = k->name;
	struct bnode *n;
	int err = 0, ml;

	k->wnode = NULL;
	if (!strcmp(path, "TRAILER!!!")) {
		forget_links(k);
		return 0;
	}
	if (!*path)
		return 0;		/* every call fails on "" */
	k_clean_path(k, path, type);
	if (S_ISREG(mode))
		return do_regular(k, path);
	if (S_ISDIR(mode)) {
		err = k_create(k, path, S_IFDIR | (mode & 07777), &n);
		if (!err)
			k_chown_chmod(k, k_node(k, path), true);
		return err ? err : dir_add(k, path);
	}
	if (S_ISBLK(mode) || S_ISCHR(mode) || S_ISFIFO(mode) || S_ISSOCK(mode)) {
		ml = k_maybe_link(k, path);
		if (ml)
			return ml < -1 ? -ENOMEM : 0;
		err = k_create(k, path, type | (mode & 07777), &n);
		if (n) {
			/* the kernel's MKDEV() in a 32-bit dev_t: higher bits are lost */
			uint32_t dev = (uint32_t)(k->f[F_RMAJOR] << 20 | k->f[F_RMINOR]);

			n->rdev_major = dev >> 20;
			n->rdev_minor = dev & EROFS_DEV_MINOR_MAX;
		}
		n = k_node(k, path);
		k_chown_chmod(k, n, true);
		k_utime(n, (int64_t)k->f[F_MTIME]);
	}
	return err;
}

static int do_symlink(struct kcpio *k)
{
	const char *path = k->name, *target = k->name + N_ALIGN(k->f[F_NAMESIZE]);
	struct bnode *n;
	int err;

	k->name[N_ALIGN(k->f[F_NAMESIZE]) + k->body_len] = '\0';
	if (!*path)
		return 0;
	if (strlen(target) >= 4096)	/* tmpfs refuses it: the entry is dropped */
		return kname_fail(k, path, "symlink target over 4095 bytes");
	k_clean_path(k, path, 0);
	err = *target ? k_create(k, path, S_IFLNK | 0777, &n) : 0;	/* symlink("") fails */
	if (!err && *target && n) {
		n->link_target = strdup(target);
		n->size = strlen(target);
		if (!n->link_target)
			err = BFAIL(k->b, -ENOMEM, "out of memory");
	}
	n = k_node(k, path);
	k_chown_chmod(k, n, false);
	k_utime(n, (int64_t)k->f[F_MTIME]);
	return err;
}

/* ---- the byte stream --------------------------------------------------- */

static int got_header(struct kcpio *k)
{
	uint64_t name_len;

	if (!memcmp(k->hdr, "070707", 6))
		return kfail(k, "odc cpio: the kernel reads only newc (-H newc)");
	if (memcmp(k->hdr, "070701", 6) && memcmp(k->hdr, "070702", 6))
		return kfail(k, "no cpio magic");
	k->csum_present = k->hdr[5] == '2';
	for (int i = 0; i < 13; i++)
		k->f[i] = hex8(k->hdr + 6 + 8 * i);
	name_len = k->f[F_NAMESIZE];
	k->body_len = k->f[F_FILESIZE];
	k->body_done = 0;
	k->csum = 0;
	k->wnode = NULL;
	k->next_header = (k->pos + N_ALIGN(name_len) + k->body_len + 3) & ~3ull;
	k->have = 0;
	k->state = ST_SKIP;
	if (name_len == 0 || name_len > PATH_MAX)
		return 0;
	if (S_ISLNK(k->f[F_MODE])) {
		if (k->body_len > PATH_MAX)
			return 0;
		k->name_need = N_ALIGN(name_len) + k->body_len;
		k->state = ST_NAME;
	} else if (S_ISREG(k->f[F_MODE]) || !k->body_len) {
		k->name_need = N_ALIGN(name_len);
		k->state = ST_NAME;
	}
	return 0;
}

/* Skip the rest of the entry (padding, or a body nobody takes). */
static void to_skip(struct kcpio *k)
{
	k->state = k->pos == k->next_header ? ST_RESET : ST_SKIP;
}

static int end_data(struct kcpio *k)
{
	struct bnode *n = k->wnode;
	int err = 0;

	if (k->csum_present && k->csum != (uint32_t)k->f[F_CHECK])
		return kfail(k, "bad data checksum");
	if (k->body_len)
		err = stage_end(k->b, n, k->body_len);
	k_utime(n, (int64_t)k->f[F_MTIME]);
	to_skip(k);
	return err;
}

/* --exclude-path/--exclude-regex see names as tar's rules make them. */
static bool excluded(const struct kcpio *k)
{
	const char *rel = pathtree_relative(k->name);

	return *rel && strcmp(rel, "TRAILER!!!") && exclude_match(k->b, rel);
}

static int got_name(struct kcpio *k)
{
	int err;

	if (k->name[k->f[F_NAMESIZE] - 1] != '\0')
		return kfail(k, "malformed archive: a name without its NUL");
	to_skip(k);
	if (excluded(k))
		return 0;
	if (S_ISLNK(k->f[F_MODE]))
		return do_symlink(k);
	err = do_name(k);
	if (err || !k->wnode)
		return err;
	k->state = ST_DATA;
	return k->body_len ? 0 : end_data(k);
}

/* Feed stream bytes; returns how many were taken, or a negative errno.
 * In the outer (uncompressed) stream it stops after each entry. */
static int64_t feed(struct kcpio *k, const uint8_t *p, size_t len)
{
	size_t i = 0;
	int err = 0;

	while (!err && i < len) {
		size_t n;

		switch (k->state) {
		case ST_RESET:
			while (i < len && !p[i])
				i++, k->pos++;
			if (i == len)
				break;
			if (k->pos & 3)
				return kfail(k, "broken padding");
			if (k->outer)
				return (int64_t)i;
			if (p[i] != '0')
				return kfail(k, "junk in compressed archive");
			k->state = ST_HEADER;
			k->have = 0;
			break;
		case ST_HEADER:
			n = NEWC_HEADER - k->have < len - i ? NEWC_HEADER - k->have : len - i;
			memcpy(k->hdr + k->have, p + i, n);
			k->have += n, i += n, k->pos += n;
			if (k->have == NEWC_HEADER)
				err = got_header(k);
			break;
		case ST_NAME:
			n = k->name_need - k->have < len - i ? k->name_need - k->have : len - i;
			memcpy(k->name + k->have, p + i, n);
			k->have += n, i += n, k->pos += n;
			if (k->have == k->name_need)
				err = got_name(k);
			break;
		case ST_DATA:
			n = k->body_len - k->body_done < len - i ? k->body_len - k->body_done : len - i;
			if (k->csum_present)
				for (size_t j = 0; j < n; j++)
					k->csum += p[i + j];
			if (n)
				err = stage_write(k->b, k->wnode, p + i, n, k->body_done);
			k->body_done += n, i += n, k->pos += n;
			if (!err && k->body_done == k->body_len)
				err = end_data(k);
			break;
		case ST_SKIP:
			n = k->next_header - k->pos < len - i ? k->next_header - k->pos : len - i;
			i += n, k->pos += n;
			if (k->pos == k->next_header)
				k->state = ST_RESET;
			break;
		}
	}
	return err ? err : (int64_t)i;
}

static int feed_sink(void *ctx, const uint8_t *data, size_t len)
{
	int64_t r = feed(ctx, data, len);

	return r < 0 ? (int)r : 0;
}

/* ---- early archives ----------------------------------------------------- */

static bool early_name(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') || (len == 6 && !memcmp(name, "kernel", 6)) ||
	       (len > 7 && !memcmp(name, "kernel/", 7)) ||
	       (len == 10 && !memcmp(name, "early_cpio", 10)) ||
	       (len == 10 && !memcmp(name, "TRAILER!!!", 10));
}

/* Leading uncompressed archives that hold only early-boot files (CPU
 * microcode, ACPI tables): their length, zero padding included. */
static uint64_t early_length(const uint8_t *p, size_t len)
{
	uint64_t pos = 0, kept = 0;

	for (;;) {
		while (pos < len && !p[pos])
			pos++;
		if (pos + NEWC_HEADER > len || (pos & 3) || memcmp(p + pos, "07070", 5))
			return pos >= len ? pos : kept;
		for (;;) {		/* one archive, to its TRAILER!!! */
			uint64_t name_len = hex8(p + pos + 6 + 8 * F_NAMESIZE);
			uint64_t body = hex8(p + pos + 6 + 8 * F_FILESIZE);
			const char *name = (const char *)p + pos + NEWC_HEADER;

			if (memcmp(p + pos, "07070", 5) || !name_len ||
			    pos + NEWC_HEADER + name_len > len ||
			    !early_name(name, strnlen(name, name_len)))
				return kept;
			pos = (pos + NEWC_HEADER + N_ALIGN(name_len) + body + 3) & ~3ull;
			if (pos > len)
				return kept;	/* truncated: unpack() will say so */
			if (name_len == 11 && !memcmp(name, "TRAILER!!!", 11))
				break;
			if (pos + NEWC_HEADER > len)
				return kept;
		}
		while (pos < len && !p[pos])
			pos++;
		kept = pos;
	}
}

/* ---- the file ---------------------------------------------------------- */

static int unpack(struct kcpio *k, const uint8_t *buf, size_t len, uint64_t pos)
{
	int64_t r;
	int err;

	while (pos < len) {
		if (buf[pos] == '0' && !(pos & 3)) {
			k->outer = true;
			k->member = 0;
			k->pos = pos;
			k->state = ST_HEADER;
			k->have = 0;
			r = feed(k, buf + pos, len - pos);
			if (r < 0)
				return (int)r;
			pos += (uint64_t)r;
			continue;
		}
		if (!buf[pos]) {
			pos++;
			continue;
		}
		struct unpack_out o = { .sink = feed_sink, .ctx = k };
		const char *method = unpack_method_name(buf + pos, len - pos);

		k->outer = false;
		k->member = pos;
		k->pos = 0;
		k->state = ST_RESET;
		err = unpack_member(buf + pos, len - pos, &o);
		if (err && o.why[0])
			return BFAIL(k->b, err, "%s: %s member at byte %llu: %s", k->file,
				     method ? method : "unknown", (unsigned long long)pos, o.why);
		if (err)
			return err;
		if (k->state != ST_RESET)
			return kfail(k, "compressed archive ends inside an entry");
		pos += o.used;
	}
	if (k->state != ST_RESET && k->state != ST_HEADER)
		return kfail(k, "truncated: the last entry is incomplete");
	if (k->state == ST_HEADER && k->have)
		return kfail(k, "truncated: the last header is incomplete");
	return 0;
}

/* The kernel sets directory times last, newest entry first. */
static void set_dir_times(struct kcpio *k)
{
	for (size_t i = k->ndirs; i-- > 0; ) {
		struct bnode *n = k_node(k, k->dirs[i].path);

		k_utime(n, k->dirs[i].mtime);
		if (n == k->b->root)
			n->implicit = false;
	}
}

static int initramfs_scan(struct eroot_builder *b, const struct source_args *a)
{
	const char *path = a->path;
	struct kcpio k = { .b = b, .file = path };
	struct stat st;
	uint8_t *buf = MAP_FAILED;
	uint64_t start = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = BFAIL(b, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size) {
		err = BFAIL(b, S_ISREG(st.st_mode) ? -ENODATA : -EINVAL, "%s: %s", path,
			    S_ISREG(st.st_mode) ? "empty file, not an initramfs" : "not a regular file");
		goto out;
	}
	buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	k.name = malloc(N_ALIGN(PATH_MAX) + PATH_MAX + 1);
	if (buf == MAP_FAILED || !k.name) {
		err = BFAIL(b, -errno, "%s: cannot map it: %s", path, strerror(errno));
		goto out;
	}
	madvise(buf, (size_t)st.st_size, MADV_SEQUENTIAL);
	if (a->early_bytes)
		*a->early_bytes = start = early_length(buf, (size_t)st.st_size);
	err = unpack(&k, buf, (size_t)st.st_size, start);
	if (!err)
		set_dir_times(&k);
out:
	forget_links(&k);
	free(k.links);
	for (size_t i = 0; i < k.ndirs; i++)
		free(k.dirs[i].path);
	free(k.dirs);
	free(k.name);
	if (buf != MAP_FAILED)
		munmap(buf, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	return err;
}

const struct source_ops initramfs_source = {
	.name = "initramfs",
	.layered = true,
	.scan = initramfs_scan,
	.open_data = stage_open_data,
};
