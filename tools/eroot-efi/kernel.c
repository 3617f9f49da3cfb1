/* Starting the kernel: its EFI stub (the Debian kernel is a PE image)
 * loaded from the stage's volume, with the command line as its
 * LoadOptions: the settings' cmdline, initrd= for the stub to load the
 * loader initrd from that same volume, and memmap=SIZE!ADDR for the
 * placed image. */
#include "stage.h"

/* Appends @add to @dst (of STAGE_CMDLINE_MAX characters), a space between. */
static BOOLEAN append(CHAR16 *dst, const CHAR16 *add)
{
	UINTN len = StrLen(dst), n = StrLen(add);

	if (len + 1 + n >= STAGE_CMDLINE_MAX)
		return FALSE;
	if (len)
		dst[len++] = L' ';
	CopyMem(dst + len, add, (n + 1) * sizeof(CHAR16));
	return TRUE;
}

static EFI_STATUS build_cmdline(CHAR16 *out, const struct stage_settings *set,
				const struct placed_image *img)
{
	CHAR16 *memmap, *initrd;
	BOOLEAN ok;

	StrCpy(out, set->cmdline);
	initrd = PoolPrint(L"initrd=%s", set->initrd);
	/* memparse() reads the size with a unit and the address in hex. */
	memmap = PoolPrint(L"memmap=%ldM!0x%lx", img->size >> 20, img->addr);
	ok = initrd && memmap && append(out, initrd) && append(out, memmap);
	if (initrd)
		FreePool(initrd);
	if (memmap)
		FreePool(memmap);
	if (!ok) {
		stage_error(L"the kernel's command line is longer than %d characters",
			    STAGE_CMDLINE_MAX - 1);
		return EFI_BUFFER_TOO_SMALL;
	}
	return EFI_SUCCESS;
}

EFI_STATUS kernel_start(struct stage *s, const struct stage_settings *set,
			const struct placed_image *img)
{
	/* The kernel reads its LoadOptions after StartImage: static storage. */
	static CHAR16 cmdline[STAGE_CMDLINE_MAX];
	EFI_DEVICE_PATH *path;
	EFI_LOADED_IMAGE *li;
	EFI_HANDLE kernel;
	EFI_STATUS st;

	st = build_cmdline(cmdline, set, img);
	if (EFI_ERROR(st))
		return st;
	path = FileDevicePath(s->device, (CHAR16 *)set->kernel);
	if (!path) {
		stage_error(L"loading %s failed: out of memory", set->kernel);
		return EFI_OUT_OF_RESOURCES;
	}
	st = BS->LoadImage(FALSE, s->image_handle, path, NULL, 0, &kernel);
	FreePool(path);
	if (EFI_ERROR(st)) {
		stage_error(L"loading %s failed: %r", set->kernel, st);
		return st;
	}
	st = BS->HandleProtocol(kernel, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st)) {
		BS->UnloadImage(kernel);
		stage_error(L"loading %s failed: no loaded image protocol: %r", set->kernel, st);
		return st;
	}
	li->LoadOptions = cmdline;
	li->LoadOptionsSize = (StrLen(cmdline) + 1) * sizeof(CHAR16);
	Print(L"eroot-efi: %s at 0x%lx (%ld MiB), starting %s %s\n", set->image, img->addr,
	      img->size >> 20, set->kernel, cmdline);
	st = BS->StartImage(kernel, NULL, NULL);
	/* Only a kernel that failed comes back (its stub printed why). */
	stage_error(L"starting %s failed: %r", set->kernel, st);
	BS->UnloadImage(kernel);
	return EFI_ERROR(st) ? st : EFI_LOAD_ERROR;
}
