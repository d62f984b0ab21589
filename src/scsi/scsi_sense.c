// SPDX-License-Identifier: MIT
/*
 * Sense data (SPC-4 section 4.5): fixed format by default, descriptor
 * format when the control mode page's D_SENSE is set, and the one place
 * where an -errno from the Local Transport becomes a sense key.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_priv.h"

void scsi_sense_set(struct scsi_cmd *cmd, bool desc, uint8_t key, uint16_t asc,
		    const uint64_t *info)
{
	uint8_t *s = cmd->sense;

	memset(s, 0, SCSI_SENSE_MAX);
	cmd->status = SCSI_STATUS_CHECK_CONDITION;
	if (desc) {
		/* SPC-4 4.5.2: current error, descriptor format */
		s[0] = 0x72;
		s[1] = key & 0x0f;
		s[2] = (uint8_t)(asc >> 8);
		s[3] = (uint8_t)asc;
		cmd->sense_len = 8;
		if (info) {
			/* 4.5.2.2: the information sense data descriptor */
			s[8] = 0x00;
			s[9] = 0x0a;
			s[10] = 0x80; /* VALID */
			scsi_put64(s + 12, *info);
			cmd->sense_len += 12;
		}
		s[7] = (uint8_t)(cmd->sense_len - 8);
		return;
	}
	/* SPC-4 4.5.3: current error, fixed format */
	s[0] = 0x70;
	s[2] = key & 0x0f;
	s[7] = 10;
	s[12] = (uint8_t)(asc >> 8);
	s[13] = (uint8_t)asc;
	if (info) {
		s[0] |= 0x80; /* VALID */
		scsi_put32(s + 3, (uint32_t)*info);
	}
	cmd->sense_len = 18;
}

void scsi_sense_field(const struct scsi_lu *lu, struct scsi_cmd *cmd,
		      unsigned int byte, int bit)
{
	uint8_t sks[3];
	bool desc = lu && lu->d_sense;

	scsi_sense_set(cmd, desc, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB,
		       NULL);
	/* SPC-4 4.5.2.4.2: SKSV, C/D (the CDB), BPV and the bit */
	sks[0] = 0x80 | 0x40 | (bit >= 0 ? 0x08 | (bit & 7) : 0);
	scsi_put16(sks + 1, (uint16_t)byte);
	if (desc) {
		uint8_t *d = cmd->sense + cmd->sense_len;

		memset(d, 0, 8);
		d[0] = 0x02;
		d[1] = 0x06;
		memcpy(d + 4, sks, 3);
		cmd->sense_len += 8;
		cmd->sense[7] = (uint8_t)(cmd->sense_len - 8);
	} else {
		memcpy(cmd->sense + 15, sks, 3);
	}
}

void scsi_cmd_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq)
{
	scsi_sense_set(cmd, false, key, (uint16_t)(asc << 8 | ascq), NULL);
}

void scsi_lu_sense(const struct scsi_lu *lu, struct scsi_cmd *cmd, uint8_t key,
		   uint16_t asc)
{
	scsi_sense_set(cmd, lu && lu->d_sense, key, asc, NULL);
}

void scsi_sense_from_errno(struct scsi_cmd *cmd, bool desc, int err,
			   bool writing)
{
	uint8_t key;
	uint16_t asc;

	switch (err) {
	case -EPERM:
	case -EROFS:
	case -EACCES:
		key = SK_DATA_PROTECT;
		asc = ASC_WRITE_PROTECTED;
		break;
	case -ENOSPC:
	case -EDQUOT:
		/* SBC-3 4.7.3.6: thin provisioning ran out of space */
		key = SK_DATA_PROTECT;
		asc = ASC_SPACE_ALLOC_FAILED;
		break;
	case -EINVAL:
	case -EOVERFLOW:
	case -ENOTSUP:
		key = SK_ILLEGAL_REQUEST;
		asc = ASC_INVALID_FIELD_CDB;
		break;
	case -EIO:
	case -ENODATA:
	case -EBADMSG:
		key = SK_MEDIUM_ERROR;
		asc = writing ? ASC_WRITE_ERROR : ASC_UNRECOVERED_READ;
		break;
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
		/* The initiator retries an aborted command. */
		key = SK_ABORTED_COMMAND;
		asc = ASC_NONE;
		break;
	default:
		key = SK_HARDWARE_ERROR;
		asc = ASC_INTERNAL_TARGET_FAILURE;
		break;
	}
	scsi_sense_set(cmd, desc, key, asc, NULL);
}
