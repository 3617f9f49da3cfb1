/* SPDX-License-Identifier: MIT */
/*
 * eroot fsck: content fingerprints (compat ISHARE_XATTRS).  The kernel
 * shares the page cache of files whose fingerprints match and never checks
 * one against the data, so a wrong fingerprint serves another file's
 * content: the checker does check.
 */
#ifndef EROOT_TOOL_FSCK_FINGERPRINT_H
#define EROOT_TOOL_FSCK_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "eroot/eroot.h"

#define FSCK_FINGERPRINT_BUF (1u << 20)

/*
 * Check regular file @ino (with data) against its fingerprint xattr
 * @name, reading it through @buf (FSCK_FINGERPRINT_BUF bytes).  0: it matches; -EUCLEAN: missing, malformed or wrong, said in
 * @why; another negative errno: the xattr or the data could not be read
 * (@why: the image's message; the data check reports unreadable data).
 */
int fsck_fingerprint(struct eroot_image *img, const struct eroot_inode *ino, const char *name,
		     uint8_t *buf, char *why, size_t why_size);

#endif
