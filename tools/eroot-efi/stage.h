/* eroot-efi: a UEFI stage that places a DAX image in memory and starts the
 * kernel's EFI stub with memmap=SIZE!ADDR, for boot loaders that cannot
 * place a file at a physical address (GRUB, systemd-boot).  One job a file:
 * settings.c reads the settings, file.c reads files of the stage's volume,
 * image.c places the image, kernel.c starts the kernel, main.c ties them.
 * Every failure prints one line "eroot-efi: ..." and returns its status
 * to the firmware. */
#ifndef EROOT_EFI_STAGE_H
#define EROOT_EFI_STAGE_H

#include <efi.h>
#include <efilib.h>

/* pmem namespaces map memory in 2 MiB subsections: the region's start and
 * size are multiples of it (EROOT_DAX_ALIGN in include/eroot/eroot.h). */
#define STAGE_DAX_ALIGN (2ULL << 20)

#define STAGE_PATH_MAX 512
/* x86's COMMAND_LINE_SIZE is 2048; what we add fits in the rest. */
#define STAGE_CMDLINE_MAX 2048
#define STAGE_CONF_NAME L"eroot.conf"
#define STAGE_CONF_MAX (64 * 1024)

struct stage_settings {
	CHAR16 kernel[STAGE_PATH_MAX];   /* absolute paths on the stage's volume */
	CHAR16 image[STAGE_PATH_MAX];
	CHAR16 initrd[STAGE_PATH_MAX];
	CHAR16 cmdline[STAGE_CMDLINE_MAX];
};

/* What the stage knows about itself: its volume and its directory. */
struct stage {
	EFI_HANDLE image_handle;
	EFI_HANDLE device;               /* the volume it was loaded from */
	EFI_FILE_HANDLE root;            /* that volume's root directory */
	CHAR16 dir[STAGE_PATH_MAX];      /* "\EFI\eroot\": its own directory */
};

/* file.c */
EFI_STATUS stage_open(struct stage *s, EFI_HANDLE image_handle);
void stage_close(struct stage *s);
EFI_STATUS file_open(struct stage *s, const CHAR16 *path, EFI_FILE_HANDLE *fh, UINT64 *size);
EFI_STATUS file_read(EFI_FILE_HANDLE fh, const CHAR16 *path, void *buf, UINT64 size);

/* settings.c */
EFI_STATUS settings_from_options(struct stage *s, const void *opts, UINT32 bytes,
				 struct stage_settings *set);
EFI_STATUS settings_from_file(struct stage *s, struct stage_settings *set);

/* image.c: the placed image, 2 MiB aligned, padded to 2 MiB with zeros */
struct placed_image {
	EFI_PHYSICAL_ADDRESS addr;
	UINT64 size;                     /* padded size: the memmap= size */
};
EFI_STATUS image_place(struct stage *s, const CHAR16 *path, struct placed_image *img);
void image_release(struct placed_image *img);

/* kernel.c */
EFI_STATUS kernel_start(struct stage *s, const struct stage_settings *set,
			const struct placed_image *img);

/* main.c: one line on the console */
void stage_error(const CHAR16 *fmt, ...);

#endif
