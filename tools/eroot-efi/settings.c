/* The stage's settings: the kernel, the DAX image, the loader initrd and
 * the kernel's command line.  From the LoadOptions a boot entry or a
 * chainloader passes, when they are ours:
 *     kernel=PATH image=PATH initrd=PATH [-- KERNEL COMMAND LINE]
 * else from eroot.conf beside the stage, one key=value a line:
 *     kernel=\EFI\debian\vmlinuz
 *     image=root.img
 *     initrd=\EFI\eroot\initrd.img
 *     cmdline=console=ttyS0 quiet
 * Paths are on the stage's volume, '/' or '\' alike; a relative one is
 * relative to the stage's directory. */
#include "stage.h"

enum key { KEY_KERNEL, KEY_IMAGE, KEY_INITRD, KEY_CMDLINE, KEY_NONE };

static const CHAR16 *const key_names[] = { L"kernel", L"image", L"initrd", L"cmdline" };
static const CHAR16 *const key_meaning[] = {
	L"the kernel's path", L"the DAX image's path", L"the loader initrd's path",
	L"the kernel's command line",
};

/* The key @text starts with (followed by '='), or KEY_NONE. */
static enum key key_of(const CHAR16 *text, UINTN *len)
{
	for (enum key k = KEY_KERNEL; k < KEY_NONE; k++) {
		UINTN n = StrLen(key_names[k]);

		if (!StrnCmp(text, key_names[k], n) && text[n] == L'=') {
			*len = n + 1;
			return k;
		}
	}
	return KEY_NONE;
}

struct parse {
	struct stage *s;
	struct stage_settings *set;
	const CHAR16 *source;           /* for messages: "LoadOptions" or a path */
	BOOLEAN seen[KEY_NONE];
};

static EFI_STATUS set_path(struct parse *p, CHAR16 *dst, const CHAR16 *value, UINTN len,
			   enum key k)
{
	UINTN dir = (len > 0 && (value[0] == L'\\' || value[0] == L'/')) ? 0 : StrLen(p->s->dir);

	if (len == 0 || dir + len >= STAGE_PATH_MAX) {
		stage_error(L"%s: %s= is %s", p->source, key_names[k],
			    len ? L"too long" : L"empty");
		return EFI_INVALID_PARAMETER;
	}
	CopyMem(dst, p->s->dir, dir * sizeof(CHAR16));
	for (UINTN i = 0; i < len; i++)
		dst[dir + i] = value[i] == L'/' ? L'\\' : value[i];
	dst[dir + len] = 0;
	return EFI_SUCCESS;
}

static CHAR16 *path_of(struct stage_settings *set, enum key k)
{
	return k == KEY_KERNEL ? set->kernel : k == KEY_IMAGE ? set->image : set->initrd;
}

static EFI_STATUS set_key(struct parse *p, enum key k, const CHAR16 *value, UINTN len)
{
	if (p->seen[k]) {
		stage_error(L"%s: %s= is given twice", p->source, key_names[k]);
		return EFI_INVALID_PARAMETER;
	}
	p->seen[k] = TRUE;
	if (k != KEY_CMDLINE)
		return set_path(p, path_of(p->set, k), value, len, k);
	if (len >= STAGE_CMDLINE_MAX / 2) {
		stage_error(L"%s: cmdline= is longer than %d characters", p->source,
			    STAGE_CMDLINE_MAX / 2 - 1);
		return EFI_INVALID_PARAMETER;
	}
	CopyMem(p->set->cmdline, value, len * sizeof(CHAR16));
	p->set->cmdline[len] = 0;
	return EFI_SUCCESS;
}

static EFI_STATUS check_complete(struct parse *p)
{
	for (enum key k = KEY_KERNEL; k < KEY_CMDLINE; k++)
		if (!p->seen[k]) {
			stage_error(L"%s: no %s= (%s)", p->source, key_names[k], key_meaning[k]);
			return EFI_INVALID_PARAMETER;
		}
	return EFI_SUCCESS;
}

static BOOLEAN is_space(CHAR16 c)
{
	return c == L' ' || c == L'\t';
}

/* Whether @word (of @len characters) names an EFI program: the UEFI shell
 * passes the program's own name first. */
static BOOLEAN is_program_name(const CHAR16 *word, UINTN len)
{
	static const CHAR16 ext[] = L".efi";

	if (len < 4)
		return FALSE;
	for (UINTN i = 0; i < 4; i++) {
		CHAR16 c = word[len - 4 + i];

		if ((c >= L'A' && c <= L'Z' ? c + 32 : c) != ext[i])
			return FALSE;
	}
	return TRUE;
}

/* LoadOptions are not NUL-terminated for sure: the parser reads a copy. */
#define OPTIONS_MAX 4096

EFI_STATUS settings_from_options(struct stage *s, const void *opts, UINT32 bytes,
				 struct stage_settings *set)
{
	static CHAR16 text[OPTIONS_MAX + 1];
	struct parse p = { .s = s, .set = set, .source = L"LoadOptions" };
	const CHAR16 *in = opts;
	UINTN total = bytes / sizeof(CHAR16), n = 0, i = 0, len;
	EFI_STATUS st;

	/* Ours are text: anything else (a firmware's binary boot option
	 * data, nothing at all) sends us to eroot.conf. */
	if (!opts || bytes % sizeof(CHAR16))
		return EFI_NOT_FOUND;
	for (; n < total && in[n]; n++) {
		if ((in[n] < 0x20 && in[n] != L'\t') || in[n] > 0x7e)
			return EFI_NOT_FOUND;
		if (n == OPTIONS_MAX) {
			stage_error(L"LoadOptions: longer than %d characters", OPTIONS_MAX);
			return EFI_INVALID_PARAMETER;
		}
		text[n] = in[n];
	}
	text[n] = 0;
	while (i < n && is_space(text[i]))
		i++;
	len = 0;
	while (i + len < n && !is_space(text[i + len]))
		len++;
	if (is_program_name(text + i, len))
		i += len;
	while (i < n && is_space(text[i]))
		i++;
	if (i == n || (key_of(text + i, &len) == KEY_NONE && StrnCmp(text + i, L"--", 2)))
		return EFI_NOT_FOUND;

	while (i < n) {
		UINTN word = 0;
		enum key k;

		while (i + word < n && !is_space(text[i + word]))
			word++;
		if (word == 2 && !StrnCmp(text + i, L"--", 2)) {
			i += 2;
			while (i < n && is_space(text[i]))
				i++;
			while (n > i && is_space(text[n - 1]))
				n--;
			st = set_key(&p, KEY_CMDLINE, text + i, n - i);
			if (EFI_ERROR(st))
				return st;
			break;
		}
		k = key_of(text + i, &len);
		if (k == KEY_NONE || k == KEY_CMDLINE) {
			CHAR16 shown[40];
			UINTN m = word < 39 ? word : 39;

			CopyMem(shown, text + i, m * sizeof(CHAR16));
			shown[m] = 0;
			stage_error(L"LoadOptions: \"%s\" is not kernel=, image=, initrd= or --", shown);
			return EFI_INVALID_PARAMETER;
		}
		st = set_key(&p, k, text + i + len, word - len);
		if (EFI_ERROR(st))
			return st;
		i += word;
		while (i < n && is_space(text[i]))
			i++;
	}
	return check_complete(&p);
}

/* One line of eroot.conf: blank, a '#' comment, or key=value. */
static EFI_STATUS parse_line(struct parse *p, const CHAR16 *line, UINTN n, UINTN number)
{
	UINTN len;
	enum key k;

	while (n > 0 && (is_space(line[n - 1]) || line[n - 1] == L'\r'))
		n--;
	while (n > 0 && is_space(*line)) {
		line++;
		n--;
	}
	if (n == 0 || line[0] == L'#')
		return EFI_SUCCESS;
	k = key_of(line, &len);
	if (k == KEY_NONE || len > n) {
		stage_error(L"%s: line %ld: not one of kernel=, image=, initrd=, cmdline=",
			    p->source, number);
		return EFI_INVALID_PARAMETER;
	}
	return set_key(p, k, line + len, n - len);
}

EFI_STATUS settings_from_file(struct stage *s, struct stage_settings *set)
{
	static CHAR16 path[STAGE_PATH_MAX];
	struct parse p = { .s = s, .set = set, .source = path };
	EFI_FILE_HANDLE fh;
	UINT64 size;
	EFI_STATUS st;
	CHAR8 *bytes;
	CHAR16 *text;

	if (StrLen(s->dir) + StrLen(STAGE_CONF_NAME) >= STAGE_PATH_MAX)
		return EFI_INVALID_PARAMETER;
	StrCpy(path, s->dir);
	StrCat(path, STAGE_CONF_NAME);
	st = file_open(s, path, &fh, &size);
	if (EFI_ERROR(st))
		return st;
	if (size > STAGE_CONF_MAX) {
		fh->Close(fh);
		stage_error(L"%s: larger than %d bytes", path, STAGE_CONF_MAX);
		return EFI_INVALID_PARAMETER;
	}
	bytes = AllocatePool(size + 1);
	text = AllocatePool((size + 1) * sizeof(CHAR16));
	st = bytes && text ? file_read(fh, path, bytes, size) : EFI_OUT_OF_RESOURCES;
	fh->Close(fh);
	if (st == EFI_OUT_OF_RESOURCES)
		stage_error(L"reading %s failed: out of memory", path);
	for (UINT64 i = 0, line = 1, start = 0; !EFI_ERROR(st) && i <= size; i++) {
		if (i < size && (bytes[i] == 0 || bytes[i] > 0x7e)) {
			stage_error(L"%s: line %ld: not ASCII text", path, line);
			st = EFI_INVALID_PARAMETER;
			break;
		}
		text[i] = i < size ? bytes[i] : L'\n';
		if (text[i] == L'\n') {
			st = parse_line(&p, text + start, i - start, line++);
			start = i + 1;
		}
	}
	if (!EFI_ERROR(st))
		st = check_complete(&p);
	if (bytes)
		FreePool(bytes);
	if (text)
		FreePool(text);
	return st;
}
