/* eroot-efi's entry: settings, image, kernel, in that order; what failed
 * has printed its line, and its status goes back to the firmware, which
 * moves on to the next boot option. */
#include "stage.h"

void stage_error(const CHAR16 *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	Print(L"eroot-efi: ");
	VPrint(fmt, args);
	Print(L"\n");
	va_end(args);
}

/* The kernel and the initrd must be there before the image is read: a
 * missing file then costs nothing. */
static EFI_STATUS check_present(struct stage *s, const CHAR16 *path)
{
	EFI_FILE_HANDLE fh;
	UINT64 size;
	EFI_STATUS st = file_open(s, path, &fh, &size);

	if (!EFI_ERROR(st))
		fh->Close(fh);
	return st;
}

EFI_STATUS efi_main(EFI_HANDLE image_handle, EFI_SYSTEM_TABLE *system_table)
{
	static struct stage_settings set;
	struct placed_image img = { 0 };
	struct stage s = { 0 };
	EFI_LOADED_IMAGE *li;
	EFI_STATUS st;

	InitializeLib(image_handle, system_table);
	st = stage_open(&s, image_handle);
	if (EFI_ERROR(st))
		return st;
	/* stage_open found the protocol: this cannot fail now. */
	BS->HandleProtocol(image_handle, &LoadedImageProtocol, (void **)&li);
	st = settings_from_options(&s, li->LoadOptions, li->LoadOptionsSize, &set);
	if (st == EFI_NOT_FOUND)
		st = settings_from_file(&s, &set);
	if (!EFI_ERROR(st))
		st = check_present(&s, set.kernel);
	if (!EFI_ERROR(st))
		st = check_present(&s, set.initrd);
	if (!EFI_ERROR(st))
		st = image_place(&s, set.image, &img);
	if (!EFI_ERROR(st))
		st = kernel_start(&s, &set, &img);
	image_release(&img);
	stage_close(&s);
	return st;
}
