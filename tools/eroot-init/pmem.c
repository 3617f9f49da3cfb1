// SPDX-License-Identifier: MIT
/*
 * Which DAX device providers are present, before their modules load: each
 * costs a second or so of module loading under emulation, and the kernel
 * shows both kinds of device without them.
 *
 * An e820 persistent memory range (type 12, what memmap=SIZE!ADDR makes)
 * is named "Persistent Memory (legacy)" in /proc/iomem (the kernel's
 * e820_type_to_string()).  /proc/iomem shows the table memmap= changed;
 * /sys/firmware/memmap shows the firmware's own, read when /proc/iomem
 * cannot be.  A virtio-pmem device on PCI has vendor 0x1af4 and device
 * 0x105b (0x1040 + virtio device id 27: virtio-pmem is a modern-only
 * device).  Seeing neither, the loader loads both providers: a device it
 * cannot tell (virtio-mmio, a device-tree region) still works.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "init.h"

#define E820_PRAM_NAME "Persistent Memory (legacy)"
#define PCI_DIR "/sys/bus/pci/devices"
#define MEMMAP_DIR "/sys/firmware/memmap"

/* The first line of @dir/@name/@leaf into @buf, without its newline. */
static bool read_line(const char *dir, const char *name, const char *leaf, char *buf,
		      size_t size)
{
	char path[320];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, leaf);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* 1: a line of /proc/iomem names a type 12 range; 0: none; -1: unreadable */
static int iomem_has_pram(void)
{
	FILE *f = fopen("/proc/iomem", "re");
	char line[256];
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " : " E820_PRAM_NAME "\n") != NULL;
	fclose(f);
	return found;
}

static bool memmap_has_pram(void)
{
	DIR *d = opendir(MEMMAP_DIR);
	struct dirent *e;
	char type[64];
	bool found = false;

	while (d && !found && (e = readdir(d)))
		found = e->d_name[0] != '.' &&
			read_line(MEMMAP_DIR, e->d_name, "type", type, sizeof(type)) &&
			!strcmp(type, E820_PRAM_NAME);
	if (d)
		closedir(d);
	return found;
}

static bool pci_has_virtio_pmem(void)
{
	DIR *d = opendir(PCI_DIR);
	struct dirent *e;
	char vendor[16], device[16];
	bool found = false;

	while (d && !found && (e = readdir(d)))
		found = e->d_name[0] != '.' &&
			read_line(PCI_DIR, e->d_name, "vendor", vendor, sizeof(vendor)) &&
			read_line(PCI_DIR, e->d_name, "device", device, sizeof(device)) &&
			!strcmp(vendor, "0x1af4") && !strcmp(device, "0x105b");
	if (d)
		closedir(d);
	return found;
}

unsigned int pmem_providers(const struct config *c)
{
	int iomem = iomem_has_pram();
	unsigned int p = 0;

	if (iomem > 0 || (iomem < 0 && memmap_has_pram()))
		p |= PROVIDER_E820;
	if (pci_has_virtio_pmem())
		p |= PROVIDER_VIRTIO_PMEM;
	note(c, "DAX providers: %s",
	     p == PROVIDER_ALL ? "e820 range and virtio-pmem device seen" :
	     p == PROVIDER_E820 ? "e820 range seen, not loading virtio-pmem" :
	     p == PROVIDER_VIRTIO_PMEM ? "virtio-pmem device seen, not loading nd_e820" :
	     "none seen, loading both");
	return p ? p : PROVIDER_ALL;
}
