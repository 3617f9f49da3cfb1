// SPDX-License-Identifier: MIT
/*
 * CRC32C (Castagnoli), reflected polynomial 0x82F63B78, table driven.
 * Only the superblock is checksummed, so speed does not matter here.
 */
#include "ondisk.h"

static uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & -(crc & 1));
	}
	return crc;
}

size_t erofs_sb_checksum_len(unsigned int blkszbits)
{
	size_t len = (size_t)1 << blkszbits;

	/* The kernel covers the rest of the block, or a whole block when the
	 * superblock lives past the first one (block sizes <= 1024). */
	return len > EROFS_SUPER_OFFSET ? len - EROFS_SUPER_OFFSET : len;
}

uint32_t erofs_sb_checksum(const uint8_t *region, size_t len)
{
	static const uint8_t zero[4];
	uint32_t crc = ~0u;

	crc = crc32c_update(crc, region, 4);		/* magic */
	crc = crc32c_update(crc, zero, 4);		/* checksum as zero */
	return crc32c_update(crc, region + 8, len - 8);
}
