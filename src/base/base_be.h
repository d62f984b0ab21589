/* SPDX-License-Identifier: MIT */
/*
 * Big-endian (network order) fields, as NBD, iSCSI and SCSI lay them out:
 * loads from and stores to byte arrays of any alignment.  A store returns
 * the byte after the field, so a message can be written field by field.
 */
#ifndef IOPD_BASE_BE_H
#define IOPD_BASE_BE_H

#include <stdint.h>

static inline uint16_t base_be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t base_be24_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t base_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t base_be64_get(const uint8_t *p)
{
	return (uint64_t)base_be32_get(p) << 32 | base_be32_get(p + 4);
}

static inline uint8_t *base_be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *base_be24_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
	return p + 3;
}

static inline uint8_t *base_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static inline uint8_t *base_be64_put(uint8_t *p, uint64_t v)
{
	base_be32_put(p, (uint32_t)(v >> 32));
	return base_be32_put(p + 4, (uint32_t)v);
}

#endif
