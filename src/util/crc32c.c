/* util/crc32c.c - CRC-32C over ISA-L, which uses the CPU's crc32 instruction where there is one */
#include <isa-l/crc.h>
#include <limits.h>

#include "util/crc32c.h"

/*
 * Every commit checksums each metadata block it logs twice (the block's seal
 * and the log's running crc), so on the synchronous mount the checksum is on
 * every namespace call's path: a table-driven loop was a sixth of the
 * daemon's time creating files.
 *
 * ISA-L's crc32_iscsi takes and returns the running (un-finalised) value,
 * which is what crc32c_update continues; its length is an int.
 */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	unsigned char *p = (unsigned char *)buf;    /* ISA-L only reads it */

	while (len > 0) {
		int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;

		crc = crc32_iscsi(p, n, crc);
		p += n;
		len -= (size_t)n;
	}
	return crc;
}

uint32_t crc32c(const void *buf, size_t len)
{
	return crc32c_final(crc32c_update(CRC32C_INIT, buf, len));
}
