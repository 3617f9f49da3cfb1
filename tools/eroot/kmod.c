// SPDX-License-Identifier: MIT
/*
 * Resolving kernel modules from a module tree, as modprobe does: names
 * ('-' and '_' alike) through modules.alias, modules.builtin for what needs
 * no file, modules.dep for hard dependencies (loaded first), and the "pre:"
 * soft dependencies of modules.softdep (e.g. libcrc32c wants a crc32c
 * implementation), taken as optional.  Compressed modules are decompressed
 * here: their signature is inside, so it stays valid.
 */
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common.h"
#include "kmod.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 65536 + 1 > cap) {
			char *more = realloc(buf, cap = cap * 2 + 65536 + 1);

			if (!more) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = more;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* "kernel/fs/erofs/erofs.ko.xz" -> "erofs"; dashes become underscores */
static void name_of(const char *path, size_t len, char *out, size_t size)
{
	const char *base = path, *end = path + len;
	size_t n = 0;

	for (const char *p = path; p < end; p++)
		if (*p == '/')
			base = p + 1;
	for (const char *p = base; p < end && n + 1 < size; p++) {
		if (*p == '.')
			break;
		out[n++] = *p == '-' ? '_' : *p;
	}
	out[n] = '\0';
}

int kmod_open(struct kmod_set *s, const char *root, const char *kver)
{
	static const char *const bases[] = { "/lib/modules/", "/usr/lib/modules/" };
	char path[600];
	char *builtin = NULL;
	struct stat st;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < 2 && !s->dep; i++) {
		snprintf(s->dir, sizeof(s->dir), "%s%s%s", strcmp(root, "/") ? root : "",
			 bases[i], kver);
		snprintf(path, sizeof(path), "%s/modules.dep", s->dir);
		if (stat(path, &st) == 0)
			s->dep = slurp(path, NULL);
	}
	if (!s->dep) {
		err_msg("no modules.dep for kernel %s under %s (run depmod -b ROOT %s?)", kver,
			root, kver);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/modules.softdep", s->dir);
	s->softdep = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/modules.alias", s->dir);
	s->alias = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/modules.builtin", s->dir);
	builtin = slurp(path, NULL);
	for (char *line = builtin ? strtok(builtin, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		char **more = realloc(s->builtin, (s->nbuiltin + 1) * sizeof(*more));

		if (!more)
			break;
		s->builtin = more;
		s->builtin[s->nbuiltin] = malloc(64);
		if (s->builtin[s->nbuiltin])
			name_of(line, strlen(line), s->builtin[s->nbuiltin++], 64);
	}
	free(builtin);
	return 0;
}

static bool is_builtin(const struct kmod_set *s, const char *name)
{
	for (size_t i = 0; i < s->nbuiltin; i++)
		if (!strcmp(s->builtin[i], name))
			return true;
	return false;
}

static bool have(const struct kmod_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->files[i].name, name))
			return true;
	return false;
}

/* The modules.dep line of @name: its path and its dependencies' paths. */
static const char *dep_line(const struct kmod_set *s, const char *name)
{
	char n[64];

	for (const char *line = s->dep; line && *line; ) {
		const char *colon = strchr(line, ':'), *eol = strchr(line, '\n');

		if (colon && (!eol || colon < eol)) {
			name_of(line, (size_t)(colon - line), n, sizeof(n));
			if (!strcmp(n, name))
				return line;
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* The @nth module an alias ("crc32c") stands for. */
static bool resolve_alias(const struct kmod_set *s, const char *alias, int nth, char *out,
			  size_t size)
{
	char want[80];
	const char *p;

	snprintf(want, sizeof(want), "alias %s ", alias);
	for (p = s->alias; p && (p = strstr(p, want)); p++) {
		if (p != s->alias && p[-1] != '\n')
			continue;
		if (nth--)
			continue;
		p += strlen(want);
		name_of(p, strcspn(p, "\n"), out, size);
		return true;
	}
	return false;
}

static int want(struct kmod_set *s, const char *name, bool optional, int depth);

/* "softdep NAME pre: A B post: C": the pre ones, optional */
static int want_softdeps(struct kmod_set *s, const char *name, int depth)
{
	char want_line[80];
	const char *p;

	snprintf(want_line, sizeof(want_line), "softdep %s pre:", name);
	for (p = s->softdep; p && (p = strstr(p, want_line)); p++) {
		char word[64];
		int used = 0;

		if (p != s->softdep && p[-1] != '\n')
			continue;
		p += strlen(want_line);
		while (*p == ' ' && sscanf(p, " %63[^ \n]%n", word, &used) == 1 &&
		       strcmp(word, "post:")) {
			int err = want(s, word, true, depth + 1);

			if (err)
				return err;
			p += used;
		}
		break;
	}
	return 0;
}

static int want(struct kmod_set *s, const char *name, bool optional, int depth)
{
	char norm[64], real[64], dep[64];
	const char *line, *p, *eol;
	int err;

	name_of(name, strlen(name), norm, sizeof(norm));
	if (depth > 32 || is_builtin(s, norm) || have(s, norm))
		return 0;
	line = dep_line(s, norm);
	/* an alias may stand for several modules (crc32c: generic and
	 * CPU-specific ones, which may not load on every CPU): none is needed
	 * if one is built in; a required one takes the first, an optional
	 * one all of them */
	for (int i = 0; !line && resolve_alias(s, norm, i, real, sizeof(real)); i++)
		if (is_builtin(s, real))
			return 0;
	for (int i = 0; !line && resolve_alias(s, norm, i, real, sizeof(real)); i++) {
		if (!dep_line(s, real))
			continue;
		if (!optional) {
			strcpy(norm, real);
			line = dep_line(s, norm);
		} else if ((err = want(s, real, true, depth + 1))) {
			return err;
		}
	}
	if (!line) {
		if (optional)
			return 0;
		err_msg("kernel module %s: neither built in nor in %s", norm, s->dir);
		return -ENOENT;
	}
	if ((err = want_softdeps(s, norm, depth)))
		return err;
	eol = strchr(line, '\n');
	for (p = strchr(line, ':') + 1; p && *p && (!eol || p < eol); ) {
		size_t len;

		while (*p == ' ')
			p++;
		len = strcspn(p, " \n");
		if (!len)
			break;
		name_of(p, len, dep, sizeof(dep));
		if ((err = want(s, dep, optional, depth + 1)))
			return err;
		p += len;
	}
	if (s->n == s->cap) {
		struct kmod_file *more = realloc(s->files, (s->cap = s->cap * 2 + 8) * sizeof(*more));

		if (!more)
			return -ENOMEM;
		s->files = more;
	}
	size_t dlen = strlen(s->dir), rlen = (size_t)(strchr(line, ':') - line);
	struct kmod_file *f = &s->files[s->n];

	if (dlen + 1 + rlen >= sizeof(f->path))
		return -ENAMETOOLONG;
	snprintf(f->name, sizeof(f->name), "%s", norm);
	memcpy(f->path, s->dir, dlen);
	f->path[dlen] = '/';
	memcpy(f->path + dlen + 1, line, rlen);
	f->path[dlen + 1 + rlen] = '\0';
	f->optional = optional;
	s->n++;
	return 0;
}

int kmod_want(struct kmod_set *s, const char *name, bool optional)
{
	return want(s, name, optional, 0);
}

static int inflate_xz(const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	size_t cap = inlen * 4 + 4096, inpos = 0, outpos = 0;
	uint64_t memlimit = UINT64_MAX;
	unsigned char *buf = NULL;
	lzma_ret r;

	do {
		unsigned char *more = realloc(buf, cap *= 2);

		if (!more) {
			free(buf);
			return -ENOMEM;
		}
		buf = more;
		inpos = outpos = 0;
		r = lzma_stream_buffer_decode(&memlimit, 0, NULL, in, &inpos, inlen, buf, &outpos,
					      cap);
	} while (r == LZMA_BUF_ERROR && cap < (1u << 30));
	*out = buf;
	*outlen = outpos;
	return r == LZMA_OK ? 0 : -EUCLEAN;
}

int kmod_read(const struct kmod_file *f, unsigned char **data, size_t *len)
{
	size_t rawlen;
	unsigned char *raw = (unsigned char *)slurp(f->path, &rawlen);
	const char *ext = strrchr(f->path, '.');
	int err = 0;

	if (!raw) {
		err_msg("%s: %s", f->path, strerror(errno));
		return -EIO;
	}
	if (!strcmp(ext, ".xz")) {
		err = inflate_xz(raw, rawlen, data, len);
		free(raw);
	} else if (!strcmp(ext, ".zst")) {
		unsigned long long n = ZSTD_getFrameContentSize(raw, rawlen);

		*data = n < (1ull << 30) ? malloc(n ? n : 1) : NULL;
		*len = *data ? ZSTD_decompress(*data, n, raw, rawlen) : 0;
		err = !*data || ZSTD_isError(*len) ? -EUCLEAN : 0;
		free(raw);
	} else if (!strcmp(ext, ".gz")) {
		z_stream z = { .next_in = raw, .avail_in = (uInt)rawlen };
		size_t cap = rawlen * 8;

		*data = malloc(cap);
		if (!*data || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
			err = -ENOMEM;
		z.next_out = *data;
		z.avail_out = (uInt)cap;
		if (!err && inflate(&z, Z_FINISH) != Z_STREAM_END)
			err = -EUCLEAN;
		*len = z.total_out;
		inflateEnd(&z);
		free(raw);
	} else {
		*data = raw;
		*len = rawlen;
	}
	if (err)
		err_msg("%s: cannot decompress the module", f->path);
	return err;
}

void kmod_close(struct kmod_set *s)
{
	for (size_t i = 0; i < s->nbuiltin; i++)
		free(s->builtin[i]);
	free(s->builtin);
	free(s->files);
	free(s->dep);
	free(s->softdep);
	free(s->alias);
}
