/* For the static guest probes (boot-init-probe.c, share-probe.c): one
 * /proc/meminfo value in kB, -1 when the kernel has no such line. */
#ifndef GUEST_MEMINFO_H
#define GUEST_MEMINFO_H

#include <stdio.h>
#include <string.h>

static long meminfo_kb(const char *want)
{
	char line[128], key[64];
	long kb, found = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", key, &kb) == 2 && !strcmp(key, want))
			found = kb;
	if (f)
		fclose(f);
	return found;
}

#endif
