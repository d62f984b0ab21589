/* SPDX-License-Identifier: MIT */
/*
 * The numbers of SCSI, named once: operation codes and service actions
 * (SPC-4, SBC-3), vital product data and mode page codes, sense keys and
 * additional sense codes (SPC-4 4.5.6, table 48 and annex D), sense data
 * response codes.  The command set and the transports that report errors
 * of their own (iSCSI) use these names, never the bare numbers.
 */
#ifndef IOPD_SCSI_CODES_H
#define IOPD_SCSI_CODES_H

/* Operation codes. */
#define SCSI_OP_TEST_UNIT_READY	     0x00
#define SCSI_OP_REQUEST_SENSE	     0x03
#define SCSI_OP_READ_6		     0x08
#define SCSI_OP_WRITE_6		     0x0a
#define SCSI_OP_INQUIRY		     0x12
#define SCSI_OP_MODE_SELECT_6	     0x15
#define SCSI_OP_RESERVE_6	     0x16
#define SCSI_OP_RELEASE_6	     0x17
#define SCSI_OP_MODE_SENSE_6	     0x1a
#define SCSI_OP_START_STOP_UNIT	     0x1b
#define SCSI_OP_RECEIVE_DIAGNOSTIC   0x1c
#define SCSI_OP_SEND_DIAGNOSTIC	     0x1d
#define SCSI_OP_PREVENT_ALLOW	     0x1e
#define SCSI_OP_READ_CAPACITY_10     0x25
#define SCSI_OP_READ_10		     0x28
#define SCSI_OP_WRITE_10	     0x2a
#define SCSI_OP_WRITE_VERIFY_10	     0x2e
#define SCSI_OP_VERIFY_10	     0x2f
#define SCSI_OP_PRE_FETCH_10	     0x34
#define SCSI_OP_SYNCHRONIZE_CACHE_10 0x35
#define SCSI_OP_READ_DEFECT_DATA_10  0x37
#define SCSI_OP_WRITE_SAME_10	     0x41
#define SCSI_OP_UNMAP		     0x42
#define SCSI_OP_LOG_SELECT	     0x4c
#define SCSI_OP_LOG_SENSE	     0x4d
#define SCSI_OP_MODE_SELECT_10	     0x55
#define SCSI_OP_MODE_SENSE_10	     0x5a
#define SCSI_OP_PR_IN		     0x5e /* PERSISTENT RESERVE IN */
#define SCSI_OP_PR_OUT		     0x5f /* PERSISTENT RESERVE OUT */
#define SCSI_OP_READ_16		     0x88
#define SCSI_OP_COMPARE_AND_WRITE    0x89
#define SCSI_OP_WRITE_16	     0x8a
#define SCSI_OP_WRITE_VERIFY_16	     0x8e
#define SCSI_OP_VERIFY_16	     0x8f
#define SCSI_OP_PRE_FETCH_16	     0x90
#define SCSI_OP_SYNCHRONIZE_CACHE_16 0x91
#define SCSI_OP_WRITE_SAME_16	     0x93
#define SCSI_OP_SERVICE_ACTION_IN_16 0x9e
#define SCSI_OP_REPORT_LUNS	     0xa0
#define SCSI_OP_MAINTENANCE_IN	     0xa3
#define SCSI_OP_MAINTENANCE_OUT	     0xa4
#define SCSI_OP_READ_12		     0xa8
#define SCSI_OP_WRITE_12	     0xaa
#define SCSI_OP_WRITE_VERIFY_12	     0xae
#define SCSI_OP_VERIFY_12	     0xaf
#define SCSI_OP_READ_DEFECT_DATA_12  0xb7

/* Service actions (CDB byte 1, low five bits). */
#define SCSI_SA_READ_CAPACITY_16	 0x10 /* SERVICE ACTION IN(16) */
#define SCSI_SA_GET_LBA_STATUS		 0x12 /* SERVICE ACTION IN(16) */
#define SCSI_SA_REPORT_SUPPORTED_OPCODES 0x0c /* MAINTENANCE IN */
#define SCSI_SA_REPORT_TARGET_PGS	 0x0a /* MAINTENANCE IN */
#define SCSI_SA_SET_TARGET_PGS		 0x0a /* MAINTENANCE OUT */

/* Vital product data pages (INQUIRY with EVPD; SPC-4 7.8, SBC-3 6.6). */
#define SCSI_VPD_SUPPORTED_PAGES       0x00
#define SCSI_VPD_UNIT_SERIAL	       0x80
#define SCSI_VPD_DEVICE_ID	       0x83
#define SCSI_VPD_BLOCK_LIMITS	       0xb0
#define SCSI_VPD_BLOCK_CHARACTERISTICS 0xb1
#define SCSI_VPD_LB_PROVISIONING       0xb2

/* Mode pages (SPC-4 7.5, SBC-3 6.4): the page code is the low six bits
 * of a page's first byte and of MODE SENSE's CDB byte 2. */
#define SCSI_MODE_PAGE_CODE	   0x3f /* mask */
#define SCSI_MODE_PAGE_CACHING	   0x08
#define SCSI_MODE_PAGE_CONTROL	   0x0a
#define SCSI_MODE_PAGE_INFO_EXCEPT 0x1c /* informational exceptions */
#define SCSI_MODE_PAGE_ALL	   0x3f /* MODE SENSE: every page */

/* Sense keys (SPC-4 table 48). */
#define SCSI_SK_NO_SENSE	0x0
#define SCSI_SK_NOT_READY	0x2
#define SCSI_SK_MEDIUM_ERROR	0x3
#define SCSI_SK_HARDWARE_ERROR	0x4
#define SCSI_SK_ILLEGAL_REQUEST 0x5
#define SCSI_SK_UNIT_ATTENTION	0x6
#define SCSI_SK_DATA_PROTECT	0x7
#define SCSI_SK_ABORTED_COMMAND 0xb
#define SCSI_SK_MISCOMPARE	0xe

/* Additional sense code and qualifier, as asc << 8 | ascq. */
#define SCSI_ASC_NONE			 0x0000
#define SCSI_ASC_ALUA_TRANSITION	 0x040a /* LU not accessible: transition */
#define SCSI_ASC_ALUA_STANDBY		 0x040b /* port in standby state */
#define SCSI_ASC_ALUA_UNAVAILABLE	 0x040c /* port unavailable */
#define SCSI_ASC_WRITE_ERROR		 0x0c00
#define SCSI_ASC_UNRECOVERED_READ	 0x1100
#define SCSI_ASC_PARAM_LIST_LENGTH	 0x1a00
#define SCSI_ASC_MISCOMPARE		 0x1d00
#define SCSI_ASC_INVALID_OPCODE		 0x2000
#define SCSI_ASC_LBA_OUT_OF_RANGE	 0x2100
#define SCSI_ASC_INVALID_FIELD_CDB	 0x2400
#define SCSI_ASC_LU_NOT_SUPPORTED	 0x2500
#define SCSI_ASC_INVALID_FIELD_PARAM	 0x2600
#define SCSI_ASC_INVALID_RELEASE_PR	 0x2604
#define SCSI_ASC_WRITE_PROTECTED	 0x2700
#define SCSI_ASC_SPACE_ALLOC_FAILED	 0x2707
#define SCSI_ASC_POWER_ON_RESET		 0x2900
#define SCSI_ASC_POWER_ON		 0x2901
#define SCSI_ASC_BUS_DEVICE_RESET	 0x2903
#define SCSI_ASC_MODE_PARAMS_CHANGED	 0x2a01
#define SCSI_ASC_RESERVATIONS_PREEMPTED	 0x2a03
#define SCSI_ASC_RESERVATIONS_RELEASED	 0x2a04
#define SCSI_ASC_REGISTRATIONS_PREEMPTED 0x2a05
#define SCSI_ASC_ALUA_STATE_CHANGED	 0x2a06 /* asymmetric access state */
#define SCSI_ASC_SAVING_PARAMS_UNSUP	 0x3900
#define SCSI_ASC_INTERNAL_TARGET_FAILURE 0x4400
#define SCSI_ASC_PROTOCOL_CRC_ERROR	 0x4705 /* protocol service CRC */
#define SCSI_ASC_DATA_PHASE_ERROR	 0x4b00
#define SCSI_ASC_INSUFFICIENT_REG_RES	 0x5504

/* Sense data (SPC-4 4.5). */
#define SCSI_SENSE_FIXED_CURRENT 0x70 /* response code, fixed format */
#define SCSI_SENSE_DESC_CURRENT	 0x72 /* response code, descriptor format */
#define SCSI_SENSE_VALID	 0x80 /* fixed format: INFORMATION is valid */
#define SCSI_SENSE_FIXED_LEN	 18   /* bytes of fixed-format sense */
#define SCSI_SENSE_DESC_INFO	 0x00 /* descriptor type: information */
#define SCSI_SENSE_DESC_SKS	 0x02 /* descriptor type: sense key specific */

#endif
