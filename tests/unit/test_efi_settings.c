/* SPDX-License-Identifier: MIT */
/* The UEFI stage's settings parser (tools/eroot-efi/settings.c) on the
 * host, under the sanitizers: LoadOptions as chainloaders and the UEFI
 * shell pass them (in buffers of their exact size, no NUL), what is not
 * ours, eroot.conf, and each error's one line.  The firmware services it
 * calls are stand-ins here; gnu-efi's headers give the types. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stage.h"

/* ---- stand-ins for gnu-efi's library and the stage's other files ---- */

UINTN StrLen(IN CONST CHAR16 *s)
{
	UINTN n = 0;

	while (s[n])
		n++;
	return n;
}

INTN StrnCmp(IN CONST CHAR16 *a, IN CONST CHAR16 *b, IN UINTN len)
{
	for (UINTN i = 0; i < len; i++) {
		if (a[i] != b[i])
			return (INTN)a[i] - (INTN)b[i];
		if (!a[i])
			break;
	}
	return 0;
}

VOID StrCpy(IN CHAR16 *dst, IN CONST CHAR16 *src)
{
	memcpy(dst, src, (StrLen(src) + 1) * sizeof(CHAR16));
}

VOID StrCat(IN CHAR16 *dst, IN CONST CHAR16 *src)
{
	StrCpy(dst + StrLen(dst), src);
}

VOID CopyMem(IN VOID *dst, IN CONST VOID *src, IN UINTN len)
{
	memmove(dst, src, len);
}

VOID *AllocatePool(IN UINTN size)
{
	return malloc(size);
}

VOID FreePool(IN VOID *p)
{
	free(p);
}

static char errors[4096];   /* the stage's lines, ASCII, '\n' after each */
static int error_count;

/* Only %s (CHAR16 *) and %d / %ld matter to the parser's messages. */
void stage_error(const CHAR16 *fmt, ...)
{
	char *out = errors + strlen(errors);
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != L'%') {
			*out++ = (char)*fmt;
			continue;
		}
		fmt++;
		if (*fmt == L'l')
			fmt++;
		if (*fmt == L's')
			for (const CHAR16 *s = va_arg(ap, const CHAR16 *); *s; s++)
				*out++ = (char)*s;
		else if (fmt[-1] == L'l')
			out += sprintf(out, "%ld", va_arg(ap, long));
		else
			out += sprintf(out, "%d", va_arg(ap, int));
	}
	*out++ = '\n';
	*out = '\0';
	va_end(ap);
	error_count++;
}

static const char *conf_text;      /* eroot.conf's bytes, or NULL: none */
static CHAR16 opened[STAGE_PATH_MAX];
static int closed;

static EFI_STATUS EFIAPI conf_close(EFI_FILE_HANDLE fh)
{
	(void)fh;
	closed++;
	return EFI_SUCCESS;
}

static EFI_FILE_PROTOCOL conf_file = { .Close = conf_close };

EFI_STATUS file_open(struct stage *s, const CHAR16 *path, EFI_FILE_HANDLE *fh, UINT64 *size)
{
	(void)s;
	StrCpy(opened, path);
	if (!conf_text) {
		stage_error(L"opening %s failed: Not Found", path);
		return EFI_NOT_FOUND;
	}
	*fh = &conf_file;
	*size = strlen(conf_text);
	return EFI_SUCCESS;
}

EFI_STATUS file_read(EFI_FILE_HANDLE fh, const CHAR16 *path, void *buf, UINT64 size)
{
	(void)fh;
	(void)path;
	memcpy(buf, conf_text, size);
	return EFI_SUCCESS;
}

/* ---- helpers ---- */

static struct stage stage;
static struct stage_settings set;

static int eq(const CHAR16 *w, const char *a)
{
	size_t i = 0;

	for (; a[i]; i++)
		if (w[i] != (CHAR16)a[i])
			return 0;
	return w[i] == 0;
}

/* @text as LoadOptions in a heap buffer of exactly its size (no NUL):
 * ASan catches any read past it. */
static EFI_STATUS options(const char *text)
{
	size_t n = strlen(text);
	CHAR16 *buf = malloc(n * sizeof(CHAR16) + 1);
	EFI_STATUS st;

	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)text[i];
	memset(&set, 0, sizeof(set));
	errors[0] = '\0';
	error_count = 0;
	st = settings_from_options(&stage, buf, (UINT32)(n * sizeof(CHAR16)), &set);
	free(buf);
	return st;
}

static EFI_STATUS conf(const char *text)
{
	conf_text = text;
	closed = 0;
	memset(&set, 0, sizeof(set));
	errors[0] = '\0';
	error_count = 0;
	return settings_from_file(&stage, &set);
}

/* Failed with @st and printed exactly @line. */
#define CHECK_ERROR(call, st, line) do { \
	CHECK_EQ(call, st); \
	CHECK_EQ(error_count, 1); \
	CHECK(!strcmp(errors, line "\n")); \
	if (strcmp(errors, line "\n")) \
		fprintf(stderr, "  printed: %s", errors); \
} while (0)

static void test_load_options(void)
{
	/* GRUB's chainloader and systemd-boot's options: words, then -- */
	CHECK_EQ(options("kernel=\\EFI\\debian\\vmlinuz image=root.img initrd=/boot/i.img -- "
			 "console=ttyS0 quiet  "), EFI_SUCCESS);
	CHECK(eq(set.kernel, "\\EFI\\debian\\vmlinuz"));
	CHECK(eq(set.image, "\\EFI\\eroot\\root.img"));   /* beside the stage */
	CHECK(eq(set.initrd, "\\boot\\i.img"));
	CHECK(eq(set.cmdline, "console=ttyS0 quiet"));
	CHECK_EQ(error_count, 0);

	/* the UEFI shell passes the program first; no command line at all */
	CHECK_EQ(options("fs0:\\EFI\\eroot\\EROOT-EFI.EFI  kernel=k image=i initrd=r"), EFI_SUCCESS);
	CHECK(eq(set.kernel, "\\EFI\\eroot\\k"));
	CHECK(eq(set.cmdline, ""));

	/* the command line keeps its own '=' and "--" */
	CHECK_EQ(options("kernel=k image=i initrd=r -- a=b -- c"), EFI_SUCCESS);
	CHECK(eq(set.cmdline, "a=b -- c"));
}

static void test_not_ours(void)
{
	static const CHAR16 binary[] = { 'k', 'e', 'r', 1, 2, 3 };

	CHECK_EQ(options(""), EFI_NOT_FOUND);
	CHECK_EQ(options("   "), EFI_NOT_FOUND);
	CHECK_EQ(options("quiet splash"), EFI_NOT_FOUND);
	CHECK_EQ(options("fs0:\\eroot-efi.efi"), EFI_NOT_FOUND);
	CHECK_EQ(settings_from_options(&stage, binary, sizeof(binary), &set), EFI_NOT_FOUND);
	CHECK_EQ(settings_from_options(&stage, binary, 5, &set), EFI_NOT_FOUND);  /* odd size */
	CHECK_EQ(settings_from_options(&stage, NULL, 0, &set), EFI_NOT_FOUND);
	CHECK_EQ(error_count, 0);
}

/* Settings that fail: their text, and the one line the stage prints. */
struct bad {
	const char *text;
	const char *line;
};

static const struct bad bad_options[] = {
	{ "kernel=k image=i", "LoadOptions: no initrd= (the loader initrd's path)" },
	{ "kernel=k image=i image=j initrd=r", "LoadOptions: image= is given twice" },
	{ "kernel=k imgae=i initrd=r",
	  "LoadOptions: \"imgae=i\" is not kernel=, image=, initrd= or --" },
	{ "kernel=k cmdline=x image=i initrd=r",
	  "LoadOptions: \"cmdline=x\" is not kernel=, image=, initrd= or --" },
	{ "kernel= image=i initrd=r", "LoadOptions: kernel= is empty" },
};

static const struct bad bad_conf[] = {
	{ "kernel=k\nimage=i\nkernal=x\n",
	  "\\EFI\\eroot\\eroot.conf: line 3: not one of kernel=, image=, initrd=, cmdline=" },
	{ "kernel=k\nimage=i\ninitrd=\xc3\xa9\n",
	  "\\EFI\\eroot\\eroot.conf: line 3: not ASCII text" },
	{ "kernel=k\ninitrd=r\n", "\\EFI\\eroot\\eroot.conf: no image= (the DAX image's path)" },
};

/* Failed with EFI_INVALID_PARAMETER and printed exactly @b->line. */
static void check_bad(EFI_STATUS st, const struct bad *b)
{
	CHECK_EQ(st, EFI_INVALID_PARAMETER);
	CHECK_EQ(error_count, 1);
	size_t n = strlen(b->line);

	if (strncmp(errors, b->line, n) || strcmp(errors + n, "\n")) {
		fprintf(stderr, "%s: printed \"%s\", not \"%s\"\n", b->text, errors, b->line);
		check_failures++;
	}
}

static void test_option_errors(void)
{
	for (size_t i = 0; i < sizeof(bad_options) / sizeof(bad_options[0]); i++)
		check_bad(options(bad_options[i].text), &bad_options[i]);

	char *long_path = malloc(STAGE_PATH_MAX + 64);
	strcpy(long_path, "kernel=k image=");
	memset(long_path + strlen(long_path), 'a', STAGE_PATH_MAX);
	strcpy(long_path + 15 + STAGE_PATH_MAX, " initrd=r");
	CHECK_ERROR(options(long_path), EFI_INVALID_PARAMETER, "LoadOptions: image= is too long");
	free(long_path);

	char *long_options = malloc(5000);
	strcpy(long_options, "kernel=k image=i initrd=r -- ");
	memset(long_options + strlen(long_options), 'x', 4100);
	long_options[29 + 4100] = '\0';
	CHECK_ERROR(options(long_options), EFI_INVALID_PARAMETER,
		    "LoadOptions: longer than 4096 characters");
	long_options[2000] = '\0';
	CHECK_ERROR(options(long_options), EFI_INVALID_PARAMETER,
		    "LoadOptions: cmdline= is longer than 1023 characters");
	free(long_options);
}

static void test_conf(void)
{
	CHECK_EQ(conf("# eroot.conf\r\n\r\n  kernel=\\EFI\\debian\\vmlinuz  \r\n"
		      "image=root.img\ninitrd=../eroot/initrd.img\n"
		      "cmdline=root=UUID=1234 ro quiet"), EFI_SUCCESS);
	CHECK(eq(opened, "\\EFI\\eroot\\eroot.conf"));
	CHECK(eq(set.kernel, "\\EFI\\debian\\vmlinuz"));
	CHECK(eq(set.image, "\\EFI\\eroot\\root.img"));
	CHECK(eq(set.initrd, "\\EFI\\eroot\\..\\eroot\\initrd.img"));
	CHECK(eq(set.cmdline, "root=UUID=1234 ro quiet"));
	CHECK_EQ(closed, 1);

	for (size_t i = 0; i < sizeof(bad_conf) / sizeof(bad_conf[0]); i++)
		check_bad(conf(bad_conf[i].text), &bad_conf[i]);
	CHECK_ERROR(conf(NULL), EFI_NOT_FOUND,
		    "opening \\EFI\\eroot\\eroot.conf failed: Not Found");
}

int main(void)
{
	StrCpy(stage.dir, L"\\EFI\\eroot\\");
	test_load_options();
	test_not_ours();
	test_option_errors();
	test_conf();
	return check_result("unit-efi-settings");
}
