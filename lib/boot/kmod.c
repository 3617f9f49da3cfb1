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

#include "kernel_check.h"
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

/* modules.builtin: the names that need no file */
static int read_builtin(struct kmod_set *s)
{
	char path[600], *save = NULL, *builtin;

	snprintf(path, sizeof(path), "%s/modules.builtin", s->dir);
	builtin = slurp(path, NULL);
	for (char *line = builtin ? strtok_r(builtin, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char **more = realloc(s->builtin, (s->nbuiltin + 1) * sizeof(*more));

		if (more)
			s->builtin = more;
		if (!more || !(s->builtin[s->nbuiltin] = malloc(64))) {
			free(builtin);
			return eroot_fail(s->err, -ENOMEM, "out of memory");
		}
		name_of(line, strlen(line), s->builtin[s->nbuiltin++], 64);
	}
	free(builtin);
	return 0;
}

int kmod_open(struct kmod_set *s, const char *root, const char *kver,
	      struct eroot_errmsg *err)
{
	static const char *const bases[] = { "/lib/modules/", "/usr/lib/modules/" };
	char path[600];
	struct stat st;
	int ret;

	memset(s, 0, sizeof(*s));
	s->err = err;
	for (size_t i = 0; i < 2 && !s->dep; i++) {
		snprintf(s->dir, sizeof(s->dir), "%s%s%s", strcmp(root, "/") ? root : "",
			 bases[i], kver);
		snprintf(path, sizeof(path), "%s/modules.dep", s->dir);
		if (stat(path, &st) == 0)
			s->dep = slurp(path, NULL);
	}
	if (!s->dep)
		return eroot_fail(err, -ENOENT, "no modules.dep for kernel %s under %s (run "
				  "depmod -b ROOT %s?)", kver, root, kver);
	snprintf(path, sizeof(path), "%s/modules.softdep", s->dir);
	s->softdep = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/modules.alias", s->dir);
	s->alias = slurp(path, NULL);
	ret = read_builtin(s);
	if (ret)
		kmod_close(s);
	return ret;
}

static bool is_builtin(const struct kmod_set *s, const char *name)
{
	for (size_t i = 0; i < s->nbuiltin; i++)
		if (!strcmp(s->builtin[i], name))
			return true;
	return false;
}

/* The configuration says there is nothing to load: =y, or not set. */
static bool configured_without_file(const struct kmod_set *s, const char *name)
{
	enum kernel_module_state st = s->config ? kernel_module_state(s->config, name) :
				      KERNEL_MODULE_UNKNOWN;

	return st == KERNEL_MODULE_BUILTIN || st == KERNEL_MODULE_ABSENT;
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
	if (depth > 32 || is_builtin(s, norm) || configured_without_file(s, norm) ||
	    have(s, norm))
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
	if (!line)
		return optional ? 0 : eroot_fail(s->err, -ENOENT, "kernel module %s: neither "
						 "built in nor in %s", norm, s->dir);
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
			return eroot_fail(s->err, -ENOMEM, "out of memory");
		s->files = more;
	}
	size_t dlen = strlen(s->dir), rlen = (size_t)(strchr(line, ':') - line);
	struct kmod_file *f = &s->files[s->n];

	if (dlen + 1 + rlen >= sizeof(f->path))
		return eroot_fail(s->err, -ENAMETOOLONG, "kernel module %s: a path over %zu "
				  "bytes", norm, sizeof(f->path) - 1);
	snprintf(f->name, sizeof(f->name), "%s", norm);
	memcpy(f->path, s->dir, dlen);
	f->path[dlen] = '/';
	memcpy(f->path + dlen + 1, line, rlen);
	f->path[dlen + 1 + rlen] = '\0';
	f->optional = optional;
	f->need = KMOD_ALWAYS;		/* the caller decides */
	s->n++;
	return 0;
}

int kmod_want(struct kmod_set *s, const char *name, bool optional)
{
	return want(s, name, optional, 0);
}

/* Decompressed modules stay under this; a larger one is refused. */
#define MODULE_MAX (1u << 30)

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
	} while (r == LZMA_BUF_ERROR && cap < MODULE_MAX);
	*out = buf;
	*outlen = outpos;
	return r == LZMA_OK ? 0 : -EUCLEAN;
}

/* zstd: one allocation when the frame records its size, else growing */
static int inflate_zst(const unsigned char *in, size_t inlen, unsigned char **out,
		       size_t *outlen)
{
	unsigned long long n = ZSTD_getFrameContentSize(in, inlen);
	ZSTD_inBuffer ib = { in, inlen, 0 };
	ZSTD_outBuffer ob = { NULL, inlen * 4 + 4096, 0 };
	ZSTD_DCtx *d;
	size_t ret = 1;

	if (n != ZSTD_CONTENTSIZE_UNKNOWN) {
		*out = n < MODULE_MAX ? malloc(n ? n : 1) : NULL;
		*outlen = *out ? ZSTD_decompress(*out, n, in, inlen) : 0;
		return !*out || ZSTD_isError(*outlen) ? -EUCLEAN : 0;
	}
	*out = NULL;
	*outlen = 0;
	d = ZSTD_createDCtx();
	while (d && ret && !ZSTD_isError(ret)) {
		if (ob.pos == ob.size || !ob.dst) {
			unsigned char *more = ob.size < MODULE_MAX ? realloc(*out, ob.size *= 2) : NULL;

			if (!more)
				break;
			*out = more;
			ob.dst = more;
		}
		ret = ZSTD_decompressStream(d, &ob, &ib);
		if (ret && !ZSTD_isError(ret) && ib.pos == ib.size && ob.pos < ob.size)
			break;		/* truncated */
	}
	ZSTD_freeDCtx(d);
	*outlen = ob.pos;
	return ret == 0 ? 0 : -EUCLEAN;
}

/* gzip: the output grows until the stream ends (no size in the header) */
static int inflate_gz(const unsigned char *in, size_t inlen, unsigned char **out,
		      size_t *outlen)
{
	z_stream z = { .next_in = (unsigned char *)in, .avail_in = (uInt)inlen };
	size_t cap = inlen * 4 + 4096;
	int ret = inflateInit2(&z, 16 + MAX_WBITS) == Z_OK ? Z_OK : Z_MEM_ERROR;

	*out = NULL;
	while (ret == Z_OK || ret == Z_BUF_ERROR) {
		unsigned char *more = cap < MODULE_MAX ? realloc(*out, cap *= 2) : NULL;

		if (!more) {
			ret = Z_MEM_ERROR;
			break;
		}
		*out = more;
		z.next_out = *out + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		ret = inflate(&z, Z_FINISH);
	}
	*outlen = z.total_out;
	inflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : ret == Z_MEM_ERROR ? -ENOMEM : -EUCLEAN;
}

int kmod_read(const struct kmod_set *s, const struct kmod_file *f, unsigned char **data,
	      size_t *len)
{
	static const struct {
		const char *ext;
		int (*inflate)(const unsigned char *, size_t, unsigned char **, size_t *);
	} formats[] = { { ".xz", inflate_xz }, { ".zst", inflate_zst }, { ".gz", inflate_gz } };
	size_t rawlen;
	unsigned char *raw = (unsigned char *)slurp(f->path, &rawlen);
	const char *ext = strrchr(f->path, '.');

	*data = NULL;
	*len = 0;
	if (!raw)
		return eroot_fail(s->err, -EIO, "%s: %s", f->path, strerror(errno));
	for (size_t i = 0; ext && i < sizeof(formats) / sizeof(formats[0]); i++) {
		int err;

		if (strcmp(ext, formats[i].ext))
			continue;
		err = formats[i].inflate(raw, rawlen, data, len);
		free(raw);
		if (err) {
			free(*data);
			*data = NULL;
			return eroot_fail(s->err, err, "%s: cannot decompress the module", f->path);
		}
		return 0;
	}
	*data = raw;
	*len = rawlen;
	return 0;
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
