// SPDX-License-Identifier: MIT
/* --exclude-path and --exclude-regex. */
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/source/source.h"

static char *strip_slashes(const char *path)
{
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	while (len && path[len - 1] == '/')
		len--;
	return strndup(path, len);
}

int eroot_builder_exclude_path(struct eroot_builder *b, const char *path)
{
	char **paths = realloc(b->exclude_paths, (b->nexclude_paths + 1) * sizeof(*paths));

	if (!paths)
		return BFAIL(b, -ENOMEM, "out of memory");
	b->exclude_paths = paths;
	paths[b->nexclude_paths] = strip_slashes(path);
	if (!paths[b->nexclude_paths])
		return BFAIL(b, -ENOMEM, "out of memory");
	b->nexclude_paths++;
	return 0;
}

int eroot_builder_exclude_regex(struct eroot_builder *b, const char *regex)
{
	regex_t *res = realloc(b->exclude_regexes,
			       (b->nexclude_regexes + 1) * sizeof(*res));
	char msg[256];
	int rc;

	if (!res)
		return BFAIL(b, -ENOMEM, "out of memory");
	b->exclude_regexes = res;
	rc = regcomp(&res[b->nexclude_regexes], regex, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &res[b->nexclude_regexes], msg, sizeof(msg));
		return BFAIL(b, -EINVAL, "bad regular expression '%s': %s", regex, msg);
	}
	b->nexclude_regexes++;
	return 0;
}

/* A literal path excludes itself and all below it; archive names of
 * directories may end in '/'. */
static bool literal_match(const char *excl, const char *path, size_t len)
{
	size_t n = strlen(excl);

	return n <= len && !memcmp(excl, path, n) && (n == len || path[n] == '/');
}

bool exclude_match(const struct eroot_builder *b, const char *relpath)
{
	size_t len = strlen(relpath);
	char *trimmed = NULL;
	bool hit = false;

	while (len && relpath[len - 1] == '/')
		len--;
	for (size_t i = 0; !hit && i < b->nexclude_paths; i++)
		hit = literal_match(b->exclude_paths[i], relpath, len);
	if (!hit && b->nexclude_regexes && relpath[len]) {
		trimmed = strndup(relpath, len);
		if (trimmed)
			relpath = trimmed;
	}
	for (size_t i = 0; !hit && i < b->nexclude_regexes; i++)
		hit = regexec(&b->exclude_regexes[i], relpath, 0, NULL, 0) == 0;
	free(trimmed);
	return hit;
}

void exclude_free(struct eroot_builder *b)
{
	for (size_t i = 0; i < b->nexclude_paths; i++)
		free(b->exclude_paths[i]);
	free(b->exclude_paths);
	for (size_t i = 0; i < b->nexclude_regexes; i++)
		regfree(&b->exclude_regexes[i]);
	free(b->exclude_regexes);
}
