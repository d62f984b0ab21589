/* SPDX-License-Identifier: MIT */
/*
 * The table of DDMs compiled into this build, and the shared zero buffer.
 * The Makefile defines IOPD_DDM_<NAME>=1 for each DDM it builds, so the
 * registry names only tables that exist; choosing which DDM serves a device
 * is the Local Transport's business.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "iopd/ddm.h"

/*
 * Page aligned so O_DIRECT writes may take their data straight from it.
 * Being const it lives in .rodata (a megabyte of the binary) rather than
 * .bss: a stray read into it then faults at once instead of quietly
 * turning every later WRITE_ZEROES into garbage.
 */
const unsigned char ddm_zero_buf[DDM_ZERO_BUF_BYTES]
	__attribute__((aligned(4096)));

/* The Makefile's comment says null is always built, but it compiles only
 * the DDMs listed in DDMS, so null is guarded like the rest. */
static const struct ddm_ops *const ddm_table[] = {
#if IOPD_DDM_NULL
	&ddm_null_ops,
#endif
#if IOPD_DDM_RAM
	&ddm_ram_ops,
#endif
#if IOPD_DDM_FILE
	&ddm_file_ops,
#endif
#if IOPD_DDM_BDEV
	&ddm_bdev_ops,
#endif
#if IOPD_DDM_FAULT
	&ddm_fault_ops,
#endif
#if IOPD_DDM_RBD
	&ddm_rbd_ops,
#endif
};

#define DDM_TABLE_LEN (sizeof(ddm_table) / sizeof(ddm_table[0]))

const struct ddm_ops *ddm_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < DDM_TABLE_LEN; i++)
		if (strcmp(ddm_table[i]->name, name) == 0)
			return ddm_table[i];
	return NULL;
}

const struct ddm_ops *ddm_at(unsigned int i)
{
	return i < DDM_TABLE_LEN ? ddm_table[i] : NULL;
}

const char *ddm_names(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < DDM_TABLE_LEN && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? " " : "", ddm_table[i]->name);
	return buf;
}
