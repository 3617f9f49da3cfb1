/* SPDX-License-Identifier: MIT */
/* A map from nid to a count and an optional string (hard links, cycles). */
#ifndef EROOT_TOOL_NIDMAP_H
#define EROOT_TOOL_NIDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nidmap_entry {
	uint64_t nid;
	uint64_t count;
	char *path;		/* owned by the map */
	uint32_t nlink;
	bool used;
};

struct nidmap {
	struct nidmap_entry *slots;
	size_t cap, used;
};

/* The entry for @nid, created (zeroed) if absent; NULL when out of memory. */
struct nidmap_entry *nidmap_get(struct nidmap *m, uint64_t nid);
void nidmap_free(struct nidmap *m);

#endif
