// SPDX-License-Identifier: MIT
/*
 * Compression settings: "-z ALGO[,LEVEL][:ALGO[,LEVEL]...]", "-C SIZE",
 * "--compress-hints FILE" and the hot list.  Each distinct (algorithm,
 * level, pcluster size) a file can get is a profile; profile 0 is the
 * default (first algorithm, -C), hints add one each.  The superblock's
 * per-algorithm configuration records cover every profile actually used.
 * The hot list is a hint by exact path whose answer is "no compression".
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/source/source.h"
#include "builder/plan/plan.h"
#define MAX_ALGS 4

struct zhint {
	regex_t re;
	uint16_t profile;
};

static int parse_algorithm(struct eroot_builder *b, char *spec, const struct codec **codec,
			   int *level)
{
	char *comma = strchr(spec, ','), *end;

	if (comma)
		*comma = '\0';
	*codec = codec_by_name(spec);
	if (!*codec)
		return BFAIL(b, -EINVAL, "unknown compressor '%s' (lz4, lz4hc, lzma, deflate, zstd)",
			     spec);
	*level = (*codec)->default_level;
	if (comma) {
		long v = strtol(comma + 1, &end, 10);

		if (!comma[1] || *end || v < (*codec)->min_level || v > (*codec)->max_level)
			return BFAIL(b, -EINVAL, "%s level '%s': must be %d to %d", (*codec)->name,
				     comma + 1, (*codec)->min_level, (*codec)->max_level);
		*level = (int)v;
	}
	return 0;
}

static int add_profile(struct eroot_builder *b, const struct codec *codec, int level,
		       uint32_t pcluster)
{
	struct zprofile *p;

	if (b->nprofiles == 32)
		return BFAIL(b, -EINVAL, "at most 31 compression hints");
	if (pcluster % blksz_of(b) || !pcluster || pcluster > Z_EROFS_PCLUSTER_MAX_SIZE)
		return BFAIL(b, -EINVAL, "physical cluster size %u: a multiple of %u up to 1 MiB",
			     pcluster, blksz_of(b));
	p = realloc(b->profiles, (b->nprofiles + 1) * sizeof(*p));
	if (!p)
		return BFAIL(b, -ENOMEM, "out of memory");
	b->profiles = p;
	p += b->nprofiles++;
	p->codec = codec;
	p->level = level;
	p->pcluster_bytes = pcluster;
	/* bound one pcluster's input: decoder memory and the indexes' deltas */
	p->max_in = (size_t)pcluster * 16;
	if (p->max_in < 65536)
		p->max_in = 65536;
	if (p->max_in > codec->max_window)	/* zstd: the kernel's 1 MiB window */
		p->max_in = codec->max_window;
	return 0;
}

/* "PCLUSTER REGEX [ALGORITHM-INDEX]" per line, '#' starts a comment. */
static int load_hints(struct eroot_builder *b, const struct codec **codecs, const int *levels,
		      unsigned int ncodecs)
{
	FILE *f = fopen(b->opts.compress_hints, "re");
	char line[4096];
	unsigned int lineno = 0;
	int err = 0;

	if (!f)
		return BFAIL(b, -errno, "%s: %s", b->opts.compress_hints, strerror(errno));
	while (!err && fgets(line, sizeof(line), f)) {
		char re[4096] = "", msg[128];
		unsigned long pcluster;
		unsigned int alg = 0;
		struct zhint *h;
		int n, rc;

		lineno++;
		if (line[strspn(line, " \t\n")] == '#' || !line[strspn(line, " \t\n")])
			continue;
		n = sscanf(line, "%lu %4095s %u", &pcluster, re, &alg);
		if (n < 2 || alg >= ncodecs || pcluster > UINT32_MAX) {
			err = BFAIL(b, -EINVAL, "%s:%u: expected PCLUSTER-SIZE REGEX [ALGORITHM-INDEX < %u]",
				    b->opts.compress_hints, lineno, ncodecs);
			break;
		}
		h = realloc(b->hints, (b->nhints + 1) * sizeof(*h));
		if (!h) {
			err = BFAIL(b, -ENOMEM, "out of memory");
			break;
		}
		b->hints = h;
		h += b->nhints;
		rc = regcomp(&h->re, re, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			regerror(rc, &h->re, msg, sizeof(msg));
			err = BFAIL(b, -EINVAL, "%s:%u: bad regular expression: %s",
				    b->opts.compress_hints, lineno, msg);
			break;
		}
		b->nhints++;
		h->profile = (uint16_t)b->nprofiles;
		err = add_profile(b, codecs[alg], levels[alg], (uint32_t)pcluster);
	}
	fclose(f);
	return err;
}

static void free_hot_paths(struct eroot_builder *b)
{
	for (size_t i = 0; i < b->nhot_paths; i++)
		free(b->hot_paths[i]);
	free(b->hot_paths);
	b->hot_paths = NULL;
	b->nhot_paths = 0;
}

/* One path a line, relative to the source; '#' starts a comment. */
static int load_hot_list(struct eroot_builder *b)
{
	FILE *f = fopen(b->opts.hot_list, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0;

	if (!f)
		return BFAIL(b, -errno, "%s: %s", b->opts.hot_list, strerror(errno));
	free_hot_paths(b);
	while (!err && (len = getline(&line, &cap, f)) >= 0) {
		char *path = line, **grown;

		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		while (path[0] == '/' || (path[0] == '.' && path[1] == '/'))
			path += path[0] == '/' ? 1 : 2;
		if (!path[0] || path[0] == '#')
			continue;
		grown = realloc(b->hot_paths, (b->nhot_paths + 1) * sizeof(*grown));
		if (grown)
			b->hot_paths = grown;
		if (!grown || !(b->hot_paths[b->nhot_paths] = strdup(path)))
			err = BFAIL(b, -ENOMEM, "out of memory");
		else
			b->nhot_paths++;
	}
	if (!err && ferror(f))
		err = BFAIL(b, -EIO, "%s: read error", b->opts.hot_list);
	free(line);
	fclose(f);
	return err;
}

/* The node at @path (components separated by '/') or NULL. */
static struct bnode *lookup_path(struct bnode *dir, const char *path)
{
	while (dir && *path) {
		size_t len = strcspn(path, "/");
		struct bnode *next = NULL;

		if (!S_ISDIR(dir->mode))
			return NULL;
		for (uint32_t i = 0; len && i < dir->nentries && !next; i++)
			if (dir->entries[i].name_len == len &&
			    !memcmp(dir->entries[i].name, path, len))
				next = dir->entries[i].node;
		if (len)
			dir = next;
		path += len + strspn(path + len, "/");
	}
	return dir;
}

int zconfig_mark_hot(struct eroot_builder *b)
{
	free(b->hot_nodes);
	b->hot_nodes = b->nhot_paths ? calloc(b->nhot_paths, sizeof(*b->hot_nodes)) : NULL;
	b->nhot_nodes = 0;
	if (b->nhot_paths && !b->hot_nodes)
		return BFAIL(b, -ENOMEM, "out of memory");
	b->stats.hot_missing = 0;
	for (size_t i = 0; i < b->nhot_paths; i++) {
		struct bnode *n = lookup_path(b->root, b->hot_paths[i]);

		if (!n || !S_ISREG(n->mode)) {
			b->stats.hot_missing++;
		} else if (!n->hot) {
			n->hot = true;
			b->hot_nodes[b->nhot_nodes++] = n;
		}
	}
	b->stats.hot_files = b->nhot_nodes;
	return 0;
}

int zconfig_init(struct eroot_builder *b)
{
	const struct codec *codecs[MAX_ALGS];
	int levels[MAX_ALGS], err = 0;
	unsigned int n = 0;
	char *save = NULL;

	if (!b->compressor)
		return b->opts.pcluster_size || b->opts.compress_hints || b->opts.hot_list ?
		       BFAIL(b, -EINVAL, "-C, --compress-hints and a hot list need compression (-z)") :
		       0;
	for (char *spec = strtok_r(b->compressor, ":", &save); spec && !err;
	     spec = strtok_r(NULL, ":", &save)) {
		if (n == MAX_ALGS)
			return BFAIL(b, -EINVAL, "at most %d algorithms", MAX_ALGS);
		err = parse_algorithm(b, spec, &codecs[n], &levels[n]);
		n++;
	}
	if (!err && !n)
		err = BFAIL(b, -EINVAL, "no compressor named");
	if (!err)
		err = add_profile(b, codecs[0], levels[0],
				  b->opts.pcluster_size ? b->opts.pcluster_size : blksz_of(b));
	if (!err && b->opts.compress_hints)
		err = load_hints(b, codecs, levels, n);
	if (!err && b->opts.hot_list)
		err = load_hot_list(b);
	return err;
}

/* The profile of a regular file: the first hint its path matches. */
uint16_t zconfig_profile_of(const struct eroot_builder *b, const struct bnode *n)
{
	const char *rel = n->src_path ? n->src_path + b->root_prefix_len : "";

	for (size_t i = 0; i < b->nhints; i++)
		if (regexec(&b->hints[i].re, rel, 0, NULL, 0) == 0)
			return b->hints[i].profile;
	return 0;
}

/* The largest of a value over the used profiles of one algorithm. */
static size_t max_over(const struct eroot_builder *b, unsigned int alg, bool pcluster)
{
	size_t m = 0;

	for (size_t i = 0; i < b->nprofiles; i++) {
		const struct zprofile *p = &b->profiles[i];
		size_t v = pcluster ? p->pcluster_bytes : p->max_in;

		if (p->codec->alg == alg && (b->profiles_used & (1u << i)) && v > m)
			m = v;
	}
	return m;
}

static unsigned int log2_up(size_t v)
{
	unsigned int log = 12;

	while (((size_t)1 << log) < v)
		log++;
	return log;
}

/*
 * The configuration records that follow the superblock, one per algorithm
 * in use, in algorithm order, each 4-byte aligned: a 2-byte length, then
 * the structure the kernel expects (erofs_fs.h z_erofs_*_cfgs).  Returns
 * the bytes written from @out, which is 4-byte aligned.
 */
size_t compr_cfgs_encode(const struct eroot_builder *b, uint8_t *out)
{
	size_t at = 0;

	for (unsigned int alg = 0; alg < Z_EROFS_COMPRESSION_MAX; alg++) {
		uint8_t *cfg;
		size_t len = alg == Z_EROFS_COMPRESSION_LZ4 || alg == Z_EROFS_COMPRESSION_LZMA ? 14 : 6;

		if (!((b->algs_used | b->ref_algs) & (1u << alg)))
			continue;
		at = (at + 3) & ~(size_t)3;
		cfg = out + at + 2;
		memset(out + at, 0, 2 + len);
		put_le16(out + at, (uint16_t)len);
		switch (b->algs_used & (1u << alg) ? alg : Z_EROFS_COMPRESSION_MAX) {
		case Z_EROFS_COMPRESSION_MAX:	/* only eroot merge's inputs use it */
			break;
		case Z_EROFS_COMPRESSION_LZ4:
			put_le16(cfg + 2, (uint16_t)(max_over(b, alg, true) >> b->blkszbits));
			break;
		case Z_EROFS_COMPRESSION_LZMA:	/* dictionary size */
			put_le32(cfg, 1u << log2_up(max_over(b, alg, false)));
			break;
		case Z_EROFS_COMPRESSION_DEFLATE:
			cfg[0] = 15;			/* window bits */
			break;
		default:				/* zstd: window log - 10 */
			cfg[1] = (uint8_t)(log2_up(max_over(b, alg, false)) - 10);
			break;
		}
		if (b->ref_algs & (1u << alg))	/* and what the inputs need */
			image_cfg_max(alg, cfg, b->ref_cfgs[alg]);
		at += 2 + len;
	}
	return at;
}

void zconfig_free(struct eroot_builder *b)
{
	for (size_t i = 0; i < b->nhints; i++)
		regfree(&b->hints[i].re);
	free(b->hints);
	free(b->profiles);
	free_hot_paths(b);
	free(b->hot_nodes);
}

/* -E fragments or all-fragments: some data goes to the packed inode */
bool uses_fragments(const struct eroot_builder *b)
{
	return b->opts.fragments || b->opts.all_fragments;
}
