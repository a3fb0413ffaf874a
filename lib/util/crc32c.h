/* crc32c.h: CRC-32C (Castagnoli), the checksum that frames journal records. */
#ifndef UTIL_CRC32C_H
#define UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc with len bytes at data and returns the new value. Start with
 * 0; the pre- and post-inversion are done inside, so calls chain:
 * crc32c_update(crc32c_update(0, a, n), b, m) equals the CRC of a then b.
 * crc32c_update(0, "123456789", 9) is 0xe3069283. data may be NULL when len
 * is 0.
 */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

#endif /* UTIL_CRC32C_H */
