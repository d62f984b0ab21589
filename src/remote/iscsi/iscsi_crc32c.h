/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli), the iSCSI header and data digest (RFC 7143 §13.1,
 * RFC 3385).  The digest travels least significant byte first
 * (iscsi_crc32c_put).  Uses the SSE4.2 crc32 instruction when the CPU has
 * it, a slicing table otherwise.
 */
#ifndef IOPD_ISCSI_CRC32C_H
#define IOPD_ISCSI_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0xffffffff, finish by inverting. */
uint32_t iscsi_crc32c_update(uint32_t crc, const void *data, size_t len);
/* The complete digest of one buffer. */
uint32_t iscsi_crc32c(const void *data, size_t len);
/* Digest bytes as they travel (RFC 3385: little-endian order). */
void iscsi_crc32c_put(uint8_t *p, uint32_t crc);
uint32_t iscsi_crc32c_get(const uint8_t *p);

#endif
