// SPDX-License-Identifier: MIT
/*
 * Sense data (SPC-4 section 4.5): the one builder, scsi_cmd_set_sense,
 * which the command set and the transports call alike (fixed format by
 * default, descriptor format when the control mode page's D_SENSE is
 * set), and the one place where an -errno from the Local Transport
 * becomes a sense key.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_priv.h"

void scsi_cmd_set_sense(struct scsi_cmd *cmd, bool desc, uint8_t key,
			uint16_t asc, const uint64_t *info)
{
	uint8_t *s = cmd->sense;

	memset(s, 0, SCSI_SENSE_MAX);
	cmd->status = SCSI_STATUS_CHECK_CONDITION;
	if (desc) {
		/* SPC-4 4.5.2: current error, descriptor format */
		s[0] = SCSI_SENSE_DESC_CURRENT;
		s[1] = key & 0x0f;
		s[2] = (uint8_t)(asc >> 8);
		s[3] = (uint8_t)asc;
		cmd->sense_len = 8;
		if (info) {
			/* 4.5.2.2: the information sense data descriptor */
			s[8] = SCSI_SENSE_DESC_INFO;
			s[9] = 0x0a; /* additional length */
			s[10] = SCSI_SENSE_VALID;
			base_be64_put(s + 12, *info);
			cmd->sense_len += 12;
		}
		s[7] = (uint8_t)(cmd->sense_len - 8);
		return;
	}
	/* SPC-4 4.5.3: current error, fixed format */
	s[0] = SCSI_SENSE_FIXED_CURRENT;
	s[2] = key & 0x0f;
	s[7] = SCSI_SENSE_FIXED_LEN - 8; /* additional sense length */
	s[12] = (uint8_t)(asc >> 8);
	s[13] = (uint8_t)asc;
	if (info) {
		s[0] |= SCSI_SENSE_VALID;
		base_be32_put(s + 3, (uint32_t)*info);
	}
	cmd->sense_len = SCSI_SENSE_FIXED_LEN;
}

void scsi_sense_field(const struct scsi_lu *lu, struct scsi_cmd *cmd,
		      unsigned int byte, int bit)
{
	uint8_t sks[3];
	bool desc = lu && lu->d_sense;

	scsi_cmd_set_sense(cmd, desc, SCSI_SK_ILLEGAL_REQUEST,
			   SCSI_ASC_INVALID_FIELD_CDB, NULL);
	/* SPC-4 4.5.2.4.2: SKSV, C/D (the CDB), BPV and the bit */
	sks[0] = 0x80 | 0x40 | (bit >= 0 ? 0x08 | (bit & 7) : 0);
	base_be16_put(sks + 1, (uint16_t)byte);
	if (desc) {
		uint8_t *d = cmd->sense + cmd->sense_len;

		memset(d, 0, 8);
		d[0] = SCSI_SENSE_DESC_SKS;
		d[1] = 0x06; /* additional length */
		memcpy(d + 4, sks, 3);
		cmd->sense_len += 8;
		cmd->sense[7] = (uint8_t)(cmd->sense_len - 8);
	} else {
		memcpy(cmd->sense + 15, sks, 3);
	}
}

void scsi_lu_sense(const struct scsi_lu *lu, struct scsi_cmd *cmd, uint8_t key,
		   uint16_t asc)
{
	scsi_cmd_set_sense(cmd, lu && lu->d_sense, key, asc, NULL);
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
		key = SCSI_SK_DATA_PROTECT;
		asc = SCSI_ASC_WRITE_PROTECTED;
		break;
	case -ENOSPC:
	case -EDQUOT:
		/* SBC-3 4.7.3.6: thin provisioning ran out of space */
		key = SCSI_SK_DATA_PROTECT;
		asc = SCSI_ASC_SPACE_ALLOC_FAILED;
		break;
	case -EINVAL:
	case -EOVERFLOW:
	case -ENOTSUP:
		key = SCSI_SK_ILLEGAL_REQUEST;
		asc = SCSI_ASC_INVALID_FIELD_CDB;
		break;
	case -EIO:
	case -ENODATA:
	case -EBADMSG:
		key = SCSI_SK_MEDIUM_ERROR;
		asc = writing ? SCSI_ASC_WRITE_ERROR
			      : SCSI_ASC_UNRECOVERED_READ;
		break;
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
		/* The initiator retries an aborted command. */
		key = SCSI_SK_ABORTED_COMMAND;
		asc = SCSI_ASC_NONE;
		break;
	default:
		key = SCSI_SK_HARDWARE_ERROR;
		asc = SCSI_ASC_INTERNAL_TARGET_FAILURE;
		break;
	}
	scsi_cmd_set_sense(cmd, desc, key, asc, NULL);
}
