/* SPDX-License-Identifier: MIT */
/*
 * Recognising eroot initrd's own output given back to it as INPUT: its
 * content would be the loader and an image, not the system the original
 * initramfs starts, and the result would not boot.
 */
#ifndef EROOT_BOOT_OWN_OUTPUT_H
#define EROOT_BOOT_OWN_OUTPUT_H

#include <stdbool.h>

/*
 * True when @input, a file or a directory, is an initrd eroot initrd made
 * (or one unpacked): a directory with init and eroot/config, or a file
 * whose leading uncompressed newc archives include one holding both (the
 * loader archive).  Reads only newc headers, at most OWN_OUTPUT_MAX_ENTRIES
 * of them; a read error or anything else is "no" (the image builder
 * reports what it cannot read).
 */
#define OWN_OUTPUT_MAX_ENTRIES 100000
bool initrd_is_own_output(const char *input);
/* True when the EROFS image at @image (the input's content) holds /init,
 * /eroot/config and /eroot/root.erofs: an eroot initrd the walk above
 * could not see into (compressed again, say). */
bool initrd_image_is_own_output(const char *image);

#endif
