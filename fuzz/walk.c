// SPDX-License-Identifier: MIT
/*
 * The walk behind every harness: from the root, each directory's entries,
 * each inode's fields and xattrs, lookups of the names found, symlink
 * targets, file bytes read in odd-sized pieces, then again at scattered
 * offsets, and the runs of data eroot_next_data() reports.  Inodes are
 * visited once (hard links and directory cycles end there) and the caps in
 * walk.h bound the work.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "walk.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

#define SEEN_SLOTS	(4 * WALK_MAX_INODES)	/* a power of two */
#define PATH_MAX_LEN	(WALK_MAX_DEPTH * 256 + 1)
#define CHUNK_MAX	(65537u)
#define REREADS		8

/* Piece sizes for sequential reads: odd, so offsets go off every boundary. */
static const unsigned int chunk_sizes[] = { 1, 4093, 7, CHUNK_MAX, 511, 8191, 3, 12289 };

struct walk {
	/* reset for each walk */
	struct eroot_image *img;
	const char *label;
	bool trace;
	uint64_t digest;
	struct walk_stats st;
	unsigned int dirents;
	uint64_t seen[SEEN_SLOTS];	/* nid + 1; 0 marks a free slot */
	/* buffers, kept from walk to walk */
	char path[PATH_MAX_LEN];
	uint8_t data[WALK_FILE_BYTES + CHUNK_MAX];
	uint8_t again[CHUNK_MAX];
};

/* Fold one record into the digest (and the trace). */
static void rec(struct walk *w, const char *what, int64_t v)
{
	w->digest = XXH3_64bits_withSeed(what, strlen(what), w->digest);
	w->digest = XXH3_64bits_withSeed(&v, sizeof(v), w->digest);
	if (w->trace)
		fprintf(stderr, "%s: %s %lld\n", w->label, what, (long long)v);
}

static void rec_bytes(struct walk *w, const char *what, const void *p, size_t n)
{
	uint64_t h = XXH3_64bits(p, n);

	w->digest = XXH3_64bits_withSeed(what, strlen(what), w->digest);
	w->digest = XXH3_64bits_withSeed(&h, sizeof(h), w->digest);
	w->digest = XXH3_64bits_withSeed(&n, sizeof(n), w->digest);
	if (w->trace)
		fprintf(stderr, "%s: %s [%zu bytes, %016llx]\n", w->label, what, n,
			(unsigned long long)h);
}

static void note_first(struct walk *w, const char *what, const char *msg)
{
	if (!w->st.first_bad[0])
		snprintf(w->st.first_bad, sizeof(w->st.first_bad), "%s at \"%s\": %s",
			 what, w->path, msg);
}

/* An API call's result: counted and recorded. */
static long result(struct walk *w, const char *what, long r)
{
	w->st.calls++;
	if (r < 0) {
		w->st.errors++;
		if (r == -EUCLEAN || r == -EOPNOTSUPP || r == -EIO) {
			w->st.bad++;
			note_first(w, what, eroot_image_errmsg(w->img));
		}
	}
	rec(w, what, r);
	return r;
}

static void mismatch(struct walk *w, const char *what)
{
	w->st.mismatches++;
	note_first(w, what, "a contradiction");
	rec(w, what, -1);
}

/* Mark @nid seen; false if it was already (or the table is full). */
static bool first_visit(struct walk *w, uint64_t nid)
{
	uint64_t key = nid + 1;
	size_t i = (size_t)(XXH3_64bits(&nid, sizeof(nid)) & (SEEN_SLOTS - 1));

	for (size_t probes = 0; probes < SEEN_SLOTS; probes++, i = (i + 1) & (SEEN_SLOTS - 1)) {
		if (w->seen[i] == key)
			return false;
		if (!w->seen[i]) {
			w->seen[i] = key;
			return true;
		}
	}
	return false;
}

static void rec_inode(struct walk *w, const struct eroot_inode *ino)
{
	rec(w, "nid", (int64_t)ino->nid);
	rec(w, "mode", ino->mode);
	rec(w, "uid", ino->uid);
	rec(w, "gid", ino->gid);
	rec(w, "nlink", ino->nlink);
	rec(w, "size", (int64_t)ino->size);
	rec(w, "mtime", ino->mtime);
	rec(w, "mtime_nsec", ino->mtime_nsec);
	rec(w, "rdev", (int64_t)((uint64_t)ino->rdev_major << 32 | ino->rdev_minor));
	rec(w, "ino", ino->ino);
	rec(w, "extended", ino->extended);
	rec(w, "datalayout", ino->datalayout);
	rec(w, "xattr_icount", ino->xattr_icount);
}

/* ---- xattrs ---- */

struct xattr_seen {
	char *name;
	size_t len;
	uint64_t hash;
};

struct xattr_list {
	struct walk *w;
	struct xattr_seen v[WALK_MAX_XATTRS];
	size_t n;
};

static int collect_xattr(void *ctx, const char *name, const void *value, size_t len)
{
	struct xattr_list *l = ctx;

	rec_bytes(l->w, "xattr-name", name, strlen(name));
	rec_bytes(l->w, "xattr-value", value, len);
	if (l->n == WALK_MAX_XATTRS)
		return 1;
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name)
		abort();
	l->v[l->n].len = len;
	l->v[l->n].hash = XXH3_64bits(value, len);
	l->n++;
	return 0;
}

static void walk_xattrs(struct walk *w, const struct eroot_inode *ino)
{
	struct xattr_list l = { .w = w };

	result(w, "listxattr", eroot_listxattr(w->img, ino, collect_xattr, &l));
	for (size_t i = 0; i < l.n; i++) {
		struct xattr_seen *x = &l.v[i];
		uint8_t *buf = malloc(x->len + 1);
		ssize_t n;

		if (!buf)
			abort();
		result(w, "getxattr-size", eroot_getxattr(w->img, ino, x->name, NULL, 0));
		n = result(w, "getxattr", eroot_getxattr(w->img, ino, x->name, buf, x->len + 1));
		if (n >= 0 && ((size_t)n != x->len || XXH3_64bits(buf, (size_t)n) != x->hash))
			mismatch(w, "getxattr-list");
		if (x->len)
			result(w, "getxattr-short",
			       eroot_getxattr(w->img, ino, x->name, buf, x->len - 1));
		free(buf);
		free(x->name);
	}
	result(w, "getxattr-absent",
	       eroot_getxattr(w->img, ino, "user.eroot-fuzz-absent", NULL, 0));
	/* no namespace: an error, but not one that says the image is bad */
	rec(w, "getxattr-noprefix", eroot_getxattr(w->img, ino, "eroot", NULL, 0));
}

/* ---- file data ---- */

static uint64_t next_random(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state >> 33;
}

/* Reads of ranges already read whole must give the same bytes. */
static void reread(struct walk *w, const struct eroot_inode *ino, uint64_t covered)
{
	uint64_t state = ino->nid ^ ino->size;

	for (int i = 0; i < REREADS; i++) {
		uint64_t off = next_random(&state) % covered;
		uint64_t room = covered - off;
		size_t len = 1 + (size_t)(next_random(&state) % (room < CHUNK_MAX ? room : CHUNK_MAX));
		ssize_t n = result(w, "reread", eroot_pread(w->img, ino, w->again, len, off));

		if (n < 0)
			continue;
		/* the range lies inside what was read, so all of it comes back */
		if ((size_t)n != len || memcmp(w->again, w->data + off, len))
			__builtin_trap();
		/* fsck's read: the same checks without the fragments' bytes,
		 * so it succeeds where a full read does, and gives the same
		 * bytes or the zeros that stand for fragments */
		n = result(w, "reread-skip-fragments",
			   eroot_pread_skip_fragments(w->img, ino, w->again, len, off));
		if (n < 0 || (size_t)n != len)
			__builtin_trap();
		for (size_t j = 0; j < len; j++)
			if (w->again[j] && w->again[j] != w->data[off + j])
				__builtin_trap();
	}
}

/* Holes must read as zeros, where the walk read them. */
static void check_hole(struct walk *w, uint64_t from, uint64_t to, uint64_t covered)
{
	for (uint64_t p = from; p < to && p < covered; p++)
		if (w->data[p])
			__builtin_trap();
}

/* eroot_next_data(): runs of data in order, inside the file, holes between. */
static void walk_extents(struct walk *w, const struct eroot_inode *ino, uint64_t covered)
{
	uint64_t pos = 0, start, len;
	int err = 0;

	for (int i = 0; i < WALK_MAX_EXTENTS && pos < ino->size; i++) {
		err = (int)result(w, "next-data", eroot_next_data(w->img, ino, pos, &start, &len));
		if (err)
			break;
		rec(w, "data-start", (int64_t)start);
		rec(w, "data-len", (int64_t)len);
		/* a run that goes back, is empty or leaves the file: a caller loops */
		if (start < pos || start >= ino->size || !len || len > ino->size - start)
			__builtin_trap();
		check_hole(w, pos, start, covered);
		pos = start + len;
	}
	if (err == -ENXIO)
		check_hole(w, pos, ino->size, covered);
}

static void read_data(struct walk *w, const struct eroot_inode *ino)
{
	uint64_t limit = ino->size, off = 0;
	unsigned int piece = 0;

	if (limit > WALK_FILE_BYTES)
		limit = WALK_FILE_BYTES;
	if (limit > WALK_TOTAL_BYTES - w->st.bytes)
		limit = WALK_TOTAL_BYTES - w->st.bytes;
	while (off < limit) {
		size_t want = chunk_sizes[piece++ % (sizeof(chunk_sizes) / sizeof(chunk_sizes[0]))];
		ssize_t n;

		/* past the cap, stop at it; at the real end, ask for more */
		if (limit < ino->size && want > limit - off)
			want = (size_t)(limit - off);
		n = result(w, "pread", eroot_pread(w->img, ino, w->data + off, want, off));
		if (n < 0)
			break;
		/* more than asked, or short before the end of the file */
		if ((size_t)n > want || ((size_t)n < want && off + (uint64_t)n < ino->size))
			__builtin_trap();
		rec_bytes(w, "data", w->data + off, (size_t)n);
		off += (uint64_t)n;
		w->st.bytes += (uint64_t)n;
	}
	if (off)
		reread(w, ino, off);
	walk_extents(w, ino, off);
	result(w, "pread-eof", eroot_pread(w->img, ino, w->again, 16, ino->size));
	if (ino->size < UINT64_MAX - 4093)
		result(w, "pread-past", eroot_pread(w->img, ino, w->again, 16, ino->size + 4093));
	result(w, "pread-wrap", eroot_pread(w->img, ino, w->again, 16, UINT64_MAX - 3));
}

static void read_symlink(struct walk *w, const struct eroot_inode *ino)
{
	char target[4097];
	int r = (int)result(w, "readlink", eroot_readlink(w->img, ino, target, sizeof(target)));
	struct eroot_inode to;

	if (r >= 0)
		rec_bytes(w, "target", target, strnlen(target, sizeof(target)));
	result(w, "readlink-short", eroot_readlink(w->img, ino, target, 1));
	if (!result(w, "lookup-follow", eroot_lookup_follow(w->img, w->path, true, &to)))
		rec(w, "followed-nid", (int64_t)to.nid);
}

/* ---- directories ---- */

struct entry {
	uint64_t nid;
	unsigned int type;
	unsigned int name_len;
	char name[256];
};

struct entry_list {
	struct walk *w;
	struct entry *v;
	size_t n, cap;		/* grown as needed: most directories are small */
};

static int collect_entry(void *ctx, const struct eroot_dirent *de)
{
	struct entry_list *l = ctx;
	struct entry *e;

	if (l->n == WALK_MAX_DIR_ENTRIES)
		return 1;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	e = &l->v[l->n++];
	e->nid = de->nid;
	e->type = de->file_type;
	/* the API promises 1..255; keep what fits and record the rest */
	e->name_len = de->name_len < sizeof(e->name) ? de->name_len : sizeof(e->name) - 1;
	memcpy(e->name, de->name, e->name_len);
	e->name[e->name_len] = '\0';
	rec(l->w, "name_len", de->name_len);
	return 0;
}

static void visit(struct walk *w, uint64_t nid, unsigned int type, size_t path_len,
		  unsigned int depth, uint64_t parent);

static void walk_dir(struct walk *w, const struct eroot_inode *dir, size_t path_len,
		     unsigned int depth, uint64_t parent)
{
	struct entry_list l = { .w = w };

	result(w, "readdir", eroot_readdir(w->img, dir, collect_entry, &l));
	for (size_t i = 0; i < l.n && w->dirents < WALK_MAX_DIRENTS; i++, w->dirents++) {
		struct entry *e = &l.v[i];
		struct eroot_inode found;
		size_t len = path_len;

		rec_bytes(w, "dirent", e->name, e->name_len);
		rec(w, "dirent-nid", (int64_t)e->nid);
		rec(w, "dirent-type", e->type);
		if (!strcmp(e->name, ".") || !strcmp(e->name, "..")) {
			if (e->nid != (e->name[1] ? parent : dir->nid))
				mismatch(w, "dot-nid");
			continue;
		}
		if (len + 1 + e->name_len >= sizeof(w->path))
			continue;
		if (len)
			w->path[len++] = '/';
		memcpy(w->path + len, e->name, e->name_len + 1);
		len += e->name_len;
		if (result(w, "lookup", eroot_lookup(w->img, w->path, &found)) ||
		    found.nid != e->nid)
			mismatch(w, "lookup-readdir");
		visit(w, e->nid, e->type, len, depth + 1, dir->nid);
		w->path[path_len] = '\0';
	}
	free(l.v);
}

/*
 * Everything about inode @nid, reached by the path in w->path through a
 * dirent of @type (0 for the root) in directory @parent.
 */
static void visit(struct walk *w, uint64_t nid, unsigned int type, size_t path_len,
		  unsigned int depth, uint64_t parent)
{
	struct eroot_inode ino;

	if (w->st.inodes >= WALK_MAX_INODES || !first_visit(w, nid)) {
		rec(w, "skip", (int64_t)nid);
		return;
	}
	w->st.inodes++;
	if (w->trace)
		fprintf(stderr, "%s: path \"%s\"\n", w->label, w->path);
	if (result(w, "iget", eroot_iget(w->img, nid, &ino)))
		return;
	rec_inode(w, &ino);
	/* DT_* values are the S_IFMT bits shifted down */
	if (type && type != ((ino.mode & S_IFMT) >> 12))
		mismatch(w, "dirent-type");
	walk_xattrs(w, &ino);
	switch (ino.mode & S_IFMT) {
	case S_IFDIR:
		result(w, "pread-dir", eroot_pread(w->img, &ino, w->again, 16, 0));
		if (depth < WALK_MAX_DEPTH)
			walk_dir(w, &ino, path_len, depth, parent);
		break;
	case S_IFLNK:
		read_symlink(w, &ino);
		/* fall through: a symlink's target is its data */
	case S_IFREG:
		read_data(w, &ino);
		break;
	default:
		result(w, "pread-special", eroot_pread(w->img, &ino, w->again, 16, 0));
		break;
	}
}

uint64_t walk_image(struct eroot_image *img, const char *label, struct walk_stats *stats)
{
	/* one walk at a time (the harnesses are single-threaded), and its
	 * buffers allocated once: a fresh 350 KiB per walk cost a fifth of
	 * the time in page faults */
	static struct walk *w;
	const struct eroot_super_info *sb = eroot_image_super(img);
	const char *trace = getenv("EROOT_FUZZ_TRACE");
	struct eroot_inode ino;
	uint64_t digest;

	if (!w)
		w = malloc(sizeof(*w));
	if (!w)
		abort();
	memset(w, 0, offsetof(struct walk, path));
	w->path[0] = '\0';
	w->img = img;
	w->label = label;
	w->trace = trace && *trace && strcmp(trace, "0");
	rec(w, "block_size", sb->block_size);
	rec(w, "blocks", (int64_t)sb->blocks);
	rec(w, "root_nid", (int64_t)sb->root_nid);
	rec(w, "inodes", (int64_t)sb->inodes);
	rec(w, "features", (int64_t)((uint64_t)sb->feature_compat << 32 | sb->feature_incompat));
	rec_bytes(w, "uuid", sb->uuid, sizeof(sb->uuid));
	if (!result(w, "lookup-root", eroot_lookup(img, "/", &ino)))
		rec(w, "root-nid", (int64_t)ino.nid);
	result(w, "lookup-absent", eroot_lookup(img, "eroot-fuzz/absent", &ino));
	result(w, "lookup-dotdot", eroot_lookup(img, "/../..", &ino));
	visit(w, sb->root_nid, 0, 0, 0, sb->root_nid);
	digest = w->digest;
	if (stats)
		*stats = w->st;
	return digest;
}
