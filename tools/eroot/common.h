/* SPDX-License-Identifier: MIT */
/* What every eroot subcommand shares: exit codes, messages, image opening. */
#ifndef EROOT_TOOL_COMMON_H
#define EROOT_TOOL_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "eroot/eroot.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* unreadable input, I/O, unwritable target */
	EXIT_USAGE = 2,
	EXIT_CORRUPT = 3,	/* the image is corrupt */
	EXIT_UNSUPPORTED = 4,	/* the image uses a feature eroot cannot read */
};

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* "eroot mkfs" etc.: the prefix of every message. */
extern const char *prog;

void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit code for a negative errno from liberoot. */
int exit_code(int err);
/* Report a failed liberoot call on @img about @what; returns the exit code. */
int image_error(struct eroot_image *img, const char *what, int err);

/*
 * Temporary names to remove if SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the
 * process: @name1, @name2 and the temporary name of @building, the builder
 * now writing (it has one only where the filesystem lacks O_TMPFILE).  Any
 * may be NULL; all NULL restores the default actions.  Signals ignored at
 * start (nohup) stay ignored.
 */
struct eroot_builder;
void remove_on_fatal_signals(struct eroot_builder *building, const char *name1,
			     const char *name2);

/* Parse a byte count ("4096", "1k" is not accepted: plain decimal). */
bool parse_u64(const char *s, uint64_t *out);

/*
 * Open IMAGE at OFFSET, printing the failure; returns an exit code.  The
 * extra devices of a multi-device image named by --device and --device-dir
 * (device_option()) are attached and checked against their tags;
 * open_image() wants every one of them (the caller reads file data),
 * open_image_meta() only those given (metadata is in the image).
 */
int open_image(const char *path, uint64_t offset, struct eroot_image **img);
int open_image_meta(const char *path, uint64_t offset, struct eroot_image **img);
/* Attach to @img, another handle of the same image, the devices the last
 * open_image() attached (unchecked: that call checked them). */
int reattach_devices(struct eroot_image *img);

/* Long options every image reader takes. */
#define OPT_OFFSET 0x100
#define OPT_HELP 'h'
#define OPT_DEVICE 0x180
#define OPT_DEVICE_DIR 0x181
#define DEVICE_LONG_OPTS \
	{ "device", required_argument, NULL, OPT_DEVICE }, \
	{ "device-dir", required_argument, NULL, OPT_DEVICE_DIR }
#define DEVICE_USAGE \
"  --device=PATH    an extra device of a multi-device image (repeat it for\n" \
"                   each, in device order); checked against its tag\n" \
"  --device-dir=DIR find the extra devices among the files of DIR\n"
/* Record --device or --device-dir (@opt); false when memory runs out. */
bool device_option(int opt, const char *arg);

/* Print usage to stdout (help) or stderr (error) and return the exit code. */
int usage(const char *text, bool error);
/* A bad option value or argument count: one reason line, then the usage. */
int bad_value(const char *text, const char *option, const char *value);
int bad_args(const char *text, const char *expected);

/* "drwxr-xr-x" */
void mode_string(uint32_t mode, char out[11]);
/* "2024-05-01 12:00:00.123456789 +0000" (UTC) */
void time_string(int64_t sec, uint32_t nsec, char *out, size_t size);
/* Write @s as a JSON string literal (with quotes). */
void json_string(FILE *f, const char *s, size_t len);
const char *type_name(uint32_t mode);

/*
 * Names from an image may hold any byte but '/' and NUL.  put_escaped()
 * writes @s as GNU "ls -b" does in the C locale: \a \b \f \n \r \t \v,
 * \ooo for other bytes outside printable ASCII, "\\" and "\ " for
 * backslash and space.  escaped() returns the same, without escaping
 * spaces, in a new string for messages (NULL when memory runs out).
 */
void put_escaped(FILE *f, const char *s, size_t len);
char *escaped(const char *s);

int cmd_mkfs(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_initrd(int argc, char **argv);

#endif
