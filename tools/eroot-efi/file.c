/* Files of the volume the stage was loaded from (the ESP): the kernel, the
 * image, the initrd and eroot.conf all live there, as the kernel's EFI stub
 * looks for initrd= on its own image's volume. */
#include "stage.h"

/* The stage's own directory, from the file path its loader gave: in
 * "\EFI\eroot\eroot-efi.efi", from the first backslash to the last. */
static void stage_dir(struct stage *s, EFI_DEVICE_PATH *file_path)
{
	CHAR16 *path = file_path ? DevicePathToStr(file_path) : NULL;
	INTN first = -1, last = -1;

	StrCpy(s->dir, L"\\");
	if (!path)
		return;
	for (INTN i = 0; path[i]; i++) {
		if (path[i] == L'/')
			path[i] = L'\\';
		if (path[i] == L'\\') {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	if (first >= 0 && last - first + 1 < STAGE_PATH_MAX) {
		CopyMem(s->dir, path + first, (last - first + 1) * sizeof(CHAR16));
		s->dir[last - first + 1] = 0;
	}
	FreePool(path);
}

EFI_STATUS stage_open(struct stage *s, EFI_HANDLE image_handle)
{
	EFI_LOADED_IMAGE *li;
	EFI_STATUS st;

	s->image_handle = image_handle;
	st = BS->HandleProtocol(image_handle, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st)) {
		stage_error(L"finding its own image failed: %r", st);
		return st;
	}
	s->device = li->DeviceHandle;
	s->root = LibOpenRoot(li->DeviceHandle);
	if (!s->root) {
		stage_error(L"opening the volume it was loaded from failed: no file system");
		return EFI_NOT_FOUND;
	}
	stage_dir(s, li->FilePath);
	return EFI_SUCCESS;
}

void stage_close(struct stage *s)
{
	if (s->root)
		s->root->Close(s->root);
	s->root = NULL;
}

EFI_STATUS file_open(struct stage *s, const CHAR16 *path, EFI_FILE_HANDLE *fh, UINT64 *size)
{
	EFI_FILE_INFO *info;
	EFI_STATUS st;

	st = s->root->Open(s->root, fh, (CHAR16 *)path, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st)) {
		stage_error(L"opening %s failed: %r", path, st);
		return st;
	}
	info = LibFileInfo(*fh);
	if (!info) {
		stage_error(L"reading the size of %s failed", path);
		(*fh)->Close(*fh);
		return EFI_DEVICE_ERROR;
	}
	*size = info->FileSize;
	if (info->Attribute & EFI_FILE_DIRECTORY)
		st = EFI_INVALID_PARAMETER;
	FreePool(info);
	if (EFI_ERROR(st)) {
		stage_error(L"opening %s failed: a directory", path);
		(*fh)->Close(*fh);
	}
	return st;
}

/* Reads @size bytes from the start of @fh into @buf, in pieces: some
 * firmware's FAT driver fails single reads of hundreds of MiB. */
EFI_STATUS file_read(EFI_FILE_HANDLE fh, const CHAR16 *path, void *buf, UINT64 size)
{
	const UINT64 piece = 16ULL << 20;
	UINT64 done = 0;

	while (done < size) {
		UINTN n = size - done < piece ? size - done : piece;
		EFI_STATUS st = fh->Read(fh, &n, (UINT8 *)buf + done);

		if (EFI_ERROR(st)) {
			stage_error(L"reading %s failed at byte %ld: %r", path, done, st);
			return st;
		}
		if (n == 0) {
			stage_error(L"reading %s failed: it ends at byte %ld of %ld", path, done, size);
			return EFI_END_OF_FILE;
		}
		done += n;
	}
	return EFI_SUCCESS;
}
