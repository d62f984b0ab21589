/* SPDX-License-Identifier: MIT */
/*
 * iSCSI on the wire (RFC 7143 chapter 11): the Basic Header Segment
 * layout, opcodes, flags, status and reason codes, serial number and pad
 * arithmetic; fields are read and written with base/base_be.h.  Offsets
 * are the spec's byte numbers within the 48-byte BHS.
 */
#ifndef IOPD_ISCSI_WIRE_H
#define IOPD_ISCSI_WIRE_H

#include <stdint.h>

#include "base/base_be.h"

#define ISCSI_BHS_BYTES	   48u
#define ISCSI_DIGEST_BYTES 4u
#define ISCSI_RSVD_TAG	   0xffffffffu

/* Initiator opcodes (byte 0, low 6 bits). */
#define ISCSI_OP_NOP_OUT   0x00
#define ISCSI_OP_SCSI_CMD  0x01
#define ISCSI_OP_TMF_REQ   0x02
#define ISCSI_OP_LOGIN_REQ 0x03
#define ISCSI_OP_TEXT_REQ  0x04
#define ISCSI_OP_DATA_OUT  0x05
#define ISCSI_OP_LOGOUT	   0x06
#define ISCSI_OP_SNACK	   0x10
/* Target opcodes. */
#define ISCSI_OP_NOP_IN	    0x20
#define ISCSI_OP_SCSI_RSP   0x21
#define ISCSI_OP_TMF_RSP    0x22
#define ISCSI_OP_LOGIN_RSP  0x23
#define ISCSI_OP_TEXT_RSP   0x24
#define ISCSI_OP_DATA_IN    0x25
#define ISCSI_OP_LOGOUT_RSP 0x26
#define ISCSI_OP_R2T	    0x31
#define ISCSI_OP_ASYNC	    0x32
#define ISCSI_OP_REJECT	    0x3f
#define ISCSI_OP_MASK	    0x3f
#define ISCSI_OP_IMMEDIATE  0x40

/* Byte 1 flags. */
#define ISCSI_FLAG_F	   0x80
#define ISCSI_FLAG_CMD_R   0x40
#define ISCSI_FLAG_CMD_W   0x20
#define ISCSI_FLAG_TEXT_C  0x40
#define ISCSI_FLAG_LOGIN_T 0x80
#define ISCSI_FLAG_LOGIN_C 0x40
#define ISCSI_FLAG_DATA_S  0x01
#define ISCSI_FLAG_DATA_U  0x02
#define ISCSI_FLAG_DATA_O  0x04
#define ISCSI_FLAG_RSP_U   0x02
#define ISCSI_FLAG_RSP_O   0x04

/* Login stages (CSG/NSG). */
#define ISCSI_STAGE_SECURITY	0
#define ISCSI_STAGE_OPERATIONAL 1
#define ISCSI_STAGE_FFP		3

/* Login status: class << 8 | detail (RFC 7143 §11.13.5). */
#define ISCSI_LOGIN_OK		     0x0000
#define ISCSI_LOGIN_INITIATOR_ERROR  0x0200
#define ISCSI_LOGIN_AUTH_FAILED	     0x0201
#define ISCSI_LOGIN_NOT_ALLOWED	     0x0202
#define ISCSI_LOGIN_NOT_FOUND	     0x0203
#define ISCSI_LOGIN_TARGET_REMOVED   0x0204
#define ISCSI_LOGIN_UNSUPPORTED_VER  0x0205
#define ISCSI_LOGIN_TOO_MANY_CONNS   0x0206
#define ISCSI_LOGIN_MISSING_PARAM    0x0207
#define ISCSI_LOGIN_SESSION_TYPE     0x0209
#define ISCSI_LOGIN_NO_SESSION	     0x020a
#define ISCSI_LOGIN_INVALID_REQUEST  0x020b
#define ISCSI_LOGIN_TARGET_ERROR     0x0300
#define ISCSI_LOGIN_SERVICE_UNAVAIL  0x0301
#define ISCSI_LOGIN_OUT_OF_RESOURCES 0x0302

/* Reject reasons (RFC 7143 §11.17.1). */
#define ISCSI_REJECT_DATA_DIGEST   0x02
#define ISCSI_REJECT_SNACK	   0x03
#define ISCSI_REJECT_PROTOCOL	   0x04
#define ISCSI_REJECT_NOT_SUPPORTED 0x05
#define ISCSI_REJECT_IMM_TOO_MANY  0x06
#define ISCSI_REJECT_TASK_BUSY	   0x07
#define ISCSI_REJECT_INVALID_FIELD 0x09
#define ISCSI_REJECT_NO_RESOURCES  0x0a
#define ISCSI_REJECT_WAIT_LOGOUT   0x0c

/* Task management functions and responses (§11.5, §11.6). */
#define ISCSI_TMF_ABORT_TASK	    1
#define ISCSI_TMF_ABORT_TASK_SET    2
#define ISCSI_TMF_CLEAR_ACA	    3
#define ISCSI_TMF_CLEAR_TASK_SET    4
#define ISCSI_TMF_LUN_RESET	    5
#define ISCSI_TMF_TARGET_WARM_RESET 6
#define ISCSI_TMF_TARGET_COLD_RESET 7
#define ISCSI_TMF_TASK_REASSIGN	    8
#define ISCSI_TMF_RSP_COMPLETE	    0
#define ISCSI_TMF_RSP_NO_TASK	    1
#define ISCSI_TMF_RSP_NO_LUN	    2
#define ISCSI_TMF_RSP_NOT_SUPPORTED 5
#define ISCSI_TMF_RSP_REJECTED	    255

/* Logout reasons and responses (§11.14, §11.15). */
#define ISCSI_LOGOUT_SESSION	     0
#define ISCSI_LOGOUT_CONNECTION	     1
#define ISCSI_LOGOUT_RECOVERY	     2
#define ISCSI_LOGOUT_RSP_OK	     0
#define ISCSI_LOGOUT_RSP_NO_CID	     1
#define ISCSI_LOGOUT_RSP_NO_RECOVERY 2

/* Serial number arithmetic (RFC 1982, 32 bits): a < b. */
static inline int iscsi_sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static inline uint32_t iscsi_pad4(uint32_t n)
{
	return (4 - (n & 3)) & 3;
}

#endif
