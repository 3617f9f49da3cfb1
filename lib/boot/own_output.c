// SPDX-License-Identifier: MIT
/*
 * Is INPUT eroot initrd's own output (own_output.h)?  The image builder
 * reads every archive of an initramfs, compressed or not, and every file
 * of a directory, so an eroot initrd given back (plain, behind microcode,
 * compressed again, or unpacked) shows in the image built from it: the
 * loader's /init and its configuration are there.  One check on that
 * image covers every form, with no second reader of the input.
 */
#include <sys/stat.h>

#include "eroot/eroot.h"
#include "loader-config.h"
#include "own_output.h"

bool initrd_image_is_own_output(const char *image)
{
	static const char *const files[] = { "/init", LOADER_CONFIG_PATH };
	struct eroot_image *img;
	struct eroot_inode ino;
	bool own = !eroot_image_open_path(image, 0, &img);

	for (size_t i = 0; own && i < sizeof(files) / sizeof(files[0]); i++)
		own = !eroot_lookup_follow(img, files[i], false, &ino) && S_ISREG(ino.mode);
	eroot_image_close(img);
	return own;
}
