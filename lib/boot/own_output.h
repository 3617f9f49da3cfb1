/* SPDX-License-Identifier: MIT */
/*
 * Recognising eroot initrd's own output given back to it as INPUT: its
 * content would be the loader and an image, not the system the original
 * initramfs starts, and the result would not boot.
 */
#ifndef EROOT_BOOT_OWN_OUTPUT_H
#define EROOT_BOOT_OWN_OUTPUT_H

#include <stdbool.h>

/* True when the EROFS image at @image, built from INPUT, holds the
 * loader's /init and /eroot/config as regular files: INPUT was an initrd
 * eroot initrd made (in any form the builder reads), or one unpacked. */
bool initrd_image_is_own_output(const char *image);

#endif
