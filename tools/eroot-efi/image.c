/* Placing the DAX image: pages of our own, 2 MiB aligned and 2 MiB sized,
 * that the kernel later finds as memmap=SIZE!ADDR (a legacy pmem region,
 * nd_e820).
 *
 * The memory type is EfiReservedMemoryType, not EfiLoaderData, because of
 * what the kernel does with each when it takes over:
 * - its EFI stub turns the firmware's map into e820 (setup_e820 in
 *   drivers/firmware/efi/libstub/x86-stub.c): EfiLoaderData becomes
 *   E820_TYPE_RAM, EfiReservedMemoryType E820_TYPE_RESERVED;
 * - memmap=SIZE!ADDR adds an E820_TYPE_PRAM (12) range over it
 *   (parse_memmap_one, arch/x86/kernel/e820.c), and where ranges overlap
 *   e820__update_table keeps the larger type: PRAM wins over RAM (1) and
 *   RESERVED (2) alike, so both give the pmem region;
 * - but EfiLoaderData pages are ordinary RAM to a kernel whose command
 *   line lost memmap= (edited at a boot prompt): it hands them to the page
 *   allocator and overwrites the image.  Reserved memory stays out of
 *   every allocator whatever the command line says;
 * - physical KASLR is safe either way: the stub places the kernel through
 *   AllocatePages, which never returns pages already allocated (and turns
 *   physical KASLR off when it sees memmap=, x86-stub.c); the older
 *   decompressor path picks only EFI_CONVENTIONAL_MEMORY and avoids the
 *   first four memmap= ranges (process_efi_entries, mem_avoid_memmap in
 *   arch/x86/boot/compressed/kaslr.c).
 * So a reserved image is never reused by mistake; the cost is that memory
 * given to it is lost to the system when memmap= is missing, which is what
 * the user asked for by installing the stage. */
#include "stage.h"

#define EROFS_SUPER_OFFSET 1024
#define EROFS_SUPER_MAGIC 0xE0F5E1E2

static UINT64 align_up(UINT64 x, UINT64 a)
{
	return (x + a - 1) & ~(a - 1);
}

/* @pages of EfiReservedMemoryType at a 2 MiB boundary: allocate 2 MiB more
 * than needed anywhere, then give back the unaligned head and the tail. */
static EFI_STATUS allocate_aligned(UINT64 size, EFI_PHYSICAL_ADDRESS *addr)
{
	UINTN pages = EFI_SIZE_TO_PAGES(size), extra = EFI_SIZE_TO_PAGES(STAGE_DAX_ALIGN) - 1;
	EFI_PHYSICAL_ADDRESS base, aligned;
	UINTN head, tail;
	EFI_STATUS st;

	st = BS->AllocatePages(AllocateAnyPages, EfiReservedMemoryType, pages + extra, &base);
	if (EFI_ERROR(st))
		return st;
	aligned = align_up(base, STAGE_DAX_ALIGN);
	head = EFI_SIZE_TO_PAGES(aligned - base);
	tail = extra - head;
	if (head)
		BS->FreePages(base, head);
	if (tail)
		BS->FreePages(aligned + size, tail);
	*addr = aligned;
	return EFI_SUCCESS;
}

/* A wrong image= (the kernel, say) fails before any memory is taken:
 * the EROFS magic, then back to the start. */
static EFI_STATUS check_superblock(EFI_FILE_HANDLE fh, const CHAR16 *path, UINT64 bytes)
{
	UINT8 head[EROFS_SUPER_OFFSET + sizeof(UINT32)];
	UINT32 magic;
	EFI_STATUS st;

	if (bytes < sizeof(head)) {
		stage_error(L"%s: %ld bytes, too short for an EROFS image", path, bytes);
		return EFI_LOAD_ERROR;
	}
	st = file_read(fh, path, head, sizeof(head));
	if (EFI_ERROR(st))
		return st;
	CopyMem(&magic, head + EROFS_SUPER_OFFSET, sizeof(magic));
	if (magic != EROFS_SUPER_MAGIC) {
		stage_error(L"%s is not an EROFS image (no superblock at byte %d)", path,
			    EROFS_SUPER_OFFSET);
		return EFI_LOAD_ERROR;
	}
	st = fh->SetPosition(fh, 0);
	if (EFI_ERROR(st))
		stage_error(L"reading %s failed: seeking back to its start: %r", path, st);
	return st;
}

EFI_STATUS image_place(struct stage *s, const CHAR16 *path, struct placed_image *img)
{
	EFI_FILE_HANDLE fh;
	UINT64 bytes;
	EFI_STATUS st;

	img->addr = 0;
	img->size = 0;
	st = file_open(s, path, &fh, &bytes);
	if (EFI_ERROR(st))
		return st;
	st = check_superblock(fh, path, bytes);
	if (EFI_ERROR(st)) {
		fh->Close(fh);
		return st;
	}
	img->size = align_up(bytes, STAGE_DAX_ALIGN);
	st = allocate_aligned(img->size, &img->addr);
	if (EFI_ERROR(st)) {
		fh->Close(fh);
		stage_error(L"allocating %ld MiB for %s failed: %r", img->size >> 20, path, st);
		img->size = 0;
		return st;
	}
	st = file_read(fh, path, (void *)(UINTN)img->addr, bytes);
	fh->Close(fh);
	if (EFI_ERROR(st)) {
		image_release(img);
		return st;
	}
	/* The padding is the kernel's too: zeros, as eroot initrd --dax pads. */
	ZeroMem((void *)(UINTN)(img->addr + bytes), img->size - bytes);
	return EFI_SUCCESS;
}

void image_release(struct placed_image *img)
{
	if (img->size)
		BS->FreePages(img->addr, EFI_SIZE_TO_PAGES(img->size));
	img->addr = 0;
	img->size = 0;
}
