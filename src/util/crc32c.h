/* util/crc32c.h - CRC-32C (Castagnoli), the checksum of every daxfs metadata structure */
#ifndef DAXFS_UTIL_CRC32C_H
#define DAXFS_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final xor
 * 0xFFFFFFFF (the iSCSI / ext4 / btrfs CRC-32C): crc32c("123456789", 9) is
 * 0xE3069283. crc32c_update continues a running (un-finalised) value so that
 * several buffers can be covered: crc32c_final(crc32c_update(CRC32C_INIT, ..)).
 */
#define CRC32C_INIT 0xFFFFFFFFu

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);
static inline uint32_t crc32c_final(uint32_t crc)
{
	return crc ^ 0xFFFFFFFFu;
}
uint32_t crc32c(const void *buf, size_t len);

#endif
