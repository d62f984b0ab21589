// SPDX-License-Identifier: MIT
/*
 * Sense data as scsi_cmd_set_sense builds it, byte by byte against SPC-4
 * 4.5: the fixed format (18 bytes; key, ASC/ASCQ, the VALID bit and the
 * INFORMATION field) and the descriptor format (header, information
 * descriptor), the sense-key specific field pointing at a bad CDB byte in
 * both, and the -errno to sense key mapping.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "scsi/scsi_priv.h"
#include "test.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* A command whose sense buffer is dirty, so stale bytes would show. */
static void cmd_dirty(struct scsi_cmd *c)
{
	memset(c, 0, sizeof(*c));
	memset(c->sense, 0xee, sizeof(c->sense));
}

static void test_fixed(void)
{
	struct scsi_cmd c;
	uint64_t info = 0x1122334455667788ull;

	cmd_dirty(&c);
	scsi_cmd_set_sense(&c, false, SCSI_SK_MEDIUM_ERROR,
			   SCSI_ASC_UNRECOVERED_READ, NULL);
	CHECK_EQ_INT(c.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ_INT(c.sense_len, 18);
	CHECK_EQ_INT(c.sense[0], 0x70); /* current, fixed, not VALID */
	CHECK_EQ_INT(c.sense[2], 0x3);
	CHECK_EQ_INT(be32(c.sense + 3), 0);
	CHECK_EQ_INT(c.sense[7], 10); /* additional sense length */
	CHECK_EQ_INT(c.sense[12], 0x11);
	CHECK_EQ_INT(c.sense[13], 0x00);
	CHECK_EQ_INT(c.sense[15], 0); /* no sense-key specific data */
	CHECK_EQ_INT(c.sense[18], 0); /* nothing past the end */

	/* An ASCQ, and INFORMATION: VALID, its low 32 bits in bytes 3-6. */
	cmd_dirty(&c);
	scsi_cmd_set_sense(&c, false, SCSI_SK_DATA_PROTECT,
			   SCSI_ASC_SPACE_ALLOC_FAILED, &info);
	CHECK_EQ_INT(c.sense[0], 0x80 | 0x70);
	CHECK_EQ_INT(c.sense[2], 0x7);
	CHECK_EQ_INT(be32(c.sense + 3), 0x55667788);
	CHECK_EQ_INT(c.sense[12], 0x27);
	CHECK_EQ_INT(c.sense[13], 0x07);
	CHECK_EQ_INT(c.sense_len, 18);
}

static void test_descriptor(void)
{
	struct scsi_cmd c;
	uint64_t info = 0x1122334455667788ull;

	cmd_dirty(&c);
	scsi_cmd_set_sense(&c, true, SCSI_SK_UNIT_ATTENTION,
			   SCSI_ASC_POWER_ON_RESET, NULL);
	CHECK_EQ_INT(c.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ_INT(c.sense_len, 8);
	CHECK_EQ_INT(c.sense[0], 0x72);
	CHECK_EQ_INT(c.sense[1], 0x6);
	CHECK_EQ_INT(c.sense[2], 0x29);
	CHECK_EQ_INT(c.sense[3], 0x00);
	CHECK_EQ_INT(c.sense[7], 0); /* no descriptors */
	CHECK_EQ_INT(c.sense[8], 0);

	/* INFORMATION keeps all 64 bits in its own descriptor. */
	cmd_dirty(&c);
	scsi_cmd_set_sense(&c, true, SCSI_SK_MISCOMPARE, SCSI_ASC_MISCOMPARE,
			   &info);
	CHECK_EQ_INT(c.sense_len, 20);
	CHECK_EQ_INT(c.sense[1], 0xe);
	CHECK_EQ_INT(c.sense[2], 0x1d);
	CHECK_EQ_INT(c.sense[7], 12);
	CHECK_EQ_INT(c.sense[8], 0x00); /* information descriptor */
	CHECK_EQ_INT(c.sense[9], 0x0a);
	CHECK_EQ_INT(c.sense[10], 0x80); /* VALID */
	CHECK(be64(c.sense + 12) == info);
}

/* INVALID FIELD IN CDB pointing at byte 2, bit 5, then at a whole byte. */
static void test_field_pointer(void)
{
	struct scsi_lu lu;
	struct scsi_cmd c;

	cmd_dirty(&c);
	scsi_sense_field(NULL, &c, 2, 5);
	CHECK_EQ_INT(c.sense_len, 18);
	CHECK_EQ_INT(c.sense[0], 0x70);
	CHECK_EQ_INT(c.sense[2], SCSI_SK_ILLEGAL_REQUEST);
	CHECK_EQ_INT(c.sense[12] << 8 | c.sense[13],
		     SCSI_ASC_INVALID_FIELD_CDB);
	CHECK_EQ_INT(c.sense[15], 0x80 | 0x40 | 0x08 | 5); /* SKSV C/D BPV */
	CHECK_EQ_INT(c.sense[16] << 8 | c.sense[17], 2);

	memset(&lu, 0, sizeof(lu));
	lu.d_sense = true;
	cmd_dirty(&c);
	scsi_sense_field(&lu, &c, 9, -1);
	CHECK_EQ_INT(c.sense[0], 0x72);
	CHECK_EQ_INT(c.sense_len, 16);
	CHECK_EQ_INT(c.sense[7], 8);
	CHECK_EQ_INT(c.sense[8], 0x02); /* sense-key specific descriptor */
	CHECK_EQ_INT(c.sense[9], 0x06);
	CHECK_EQ_INT(c.sense[12], 0x80 | 0x40); /* no bit pointer */
	CHECK_EQ_INT(c.sense[13] << 8 | c.sense[14], 9);
}

static void test_from_errno(void)
{
	static const struct {
		int err;
		bool writing;
		uint8_t key;
		uint16_t asc;
	} map[] = {
		{ -EPERM, true, SCSI_SK_DATA_PROTECT,
		  SCSI_ASC_WRITE_PROTECTED },
		{ -EROFS, true, SCSI_SK_DATA_PROTECT,
		  SCSI_ASC_WRITE_PROTECTED },
		{ -ENOSPC, true, SCSI_SK_DATA_PROTECT,
		  SCSI_ASC_SPACE_ALLOC_FAILED },
		{ -EINVAL, false, SCSI_SK_ILLEGAL_REQUEST,
		  SCSI_ASC_INVALID_FIELD_CDB },
		{ -EIO, false, SCSI_SK_MEDIUM_ERROR,
		  SCSI_ASC_UNRECOVERED_READ },
		{ -EIO, true, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR },
		{ -EBUSY, false, SCSI_SK_ABORTED_COMMAND, SCSI_ASC_NONE },
		{ -EXDEV, false, SCSI_SK_HARDWARE_ERROR,
		  SCSI_ASC_INTERNAL_TARGET_FAILURE },
	};
	struct scsi_cmd c;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		cmd_dirty(&c);
		scsi_sense_from_errno(&c, false, map[i].err, map[i].writing);
		CHECK_EQ_INT(c.sense[2], map[i].key);
		CHECK_EQ_INT(c.sense[12] << 8 | c.sense[13], map[i].asc);
		cmd_dirty(&c);
		scsi_sense_from_errno(&c, true, map[i].err, map[i].writing);
		CHECK_EQ_INT(c.sense[1], map[i].key);
		CHECK_EQ_INT(c.sense[2] << 8 | c.sense[3], map[i].asc);
	}
}

int main(void)
{
	TEST_CASE(test_fixed);
	TEST_CASE(test_descriptor);
	TEST_CASE(test_field_pointer);
	TEST_CASE(test_from_errno);
	return test_done();
}
