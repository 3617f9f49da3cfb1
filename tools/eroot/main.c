// SPDX-License-Identifier: MIT
/* eroot: git-style dispatcher over the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const struct command commands[] = {
	{ "mkfs", "build an EROFS image from a directory or an archive", cmd_mkfs },
	{ "merge", "build one metadata image over several EROFS images", cmd_merge },
	{ "fsck", "check an image, reading all of it", cmd_fsck },
	{ "extract", "restore an image's content into a directory", cmd_extract },
	{ "ls", "list directories of an image", cmd_ls },
	{ "cat", "print files of an image", cmd_cat },
	{ "stat", "show one inode of an image", cmd_stat },
	{ "info", "show an image's superblock and counts", cmd_info },
	{ "initrd", "make an initrd that boots with its content as an EROFS image", cmd_initrd },
};

static int main_usage(bool error)
{
	FILE *f = error ? stderr : stdout;

	fprintf(f, "usage: eroot COMMAND [OPTIONS] ARGS...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'eroot COMMAND --help' describes one command; eroot(1) has the details.\n");
	return error ? EXIT_USAGE : EXIT_OK;
}

int main(int argc, char **argv)
{
	static char name[32];

	if (argc < 2)
		return main_usage(true);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return main_usage(false);
	if (!strcmp(argv[1], "--version")) {
		printf("eroot %s\n", EROOT_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		snprintf(name, sizeof(name), "eroot %s", commands[i].name);
		prog = name;
		argv[1] = name;
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "eroot: unknown command '%s'\n", argv[1]);
	return main_usage(true);
}
