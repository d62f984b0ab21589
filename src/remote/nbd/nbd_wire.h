/* SPDX-License-Identifier: MIT */
/*
 * nbd_wire: the NBD protocol's constants and message layouts, with the
 * names doc/proto.md (NetworkBlockDevice/nbd) gives them (fields are read
 * and written with base/base_be.h).  Messages are decoded into host-order
 * structs whose fields keep the spec's names; nothing here allocates or keeps
 * state.
 *
 * Only fixed newstyle negotiation and the compact (non-extended) headers
 * are described: that is all the engine speaks.
 */
#ifndef IOPD_NBD_WIRE_H
#define IOPD_NBD_WIRE_H

#include <stdint.h>

#include "base/base_be.h"

/* Magic numbers. */
#define NBD_MAGIC		   UINT64_C(0x4e42444d41474943) /* "NBDMAGIC" */
#define NBD_IHAVEOPT		   UINT64_C(0x49484156454f5054) /* "IHAVEOPT" */
#define NBD_REP_MAGIC		   UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC	   UINT32_C(0x25609513)
#define NBD_SIMPLE_REPLY_MAGIC	   UINT32_C(0x67446698)
#define NBD_STRUCTURED_REPLY_MAGIC UINT32_C(0x668e33ef)

/* Handshake flags (server, 16 bits). */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES	(1u << 1)

/* Client flags (32 bits). */
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES	  (1u << 1)

/* Transmission flags (16 bits). */
#define NBD_FLAG_HAS_FLAGS	   (1u << 0)
#define NBD_FLAG_READ_ONLY	   (1u << 1)
#define NBD_FLAG_SEND_FLUSH	   (1u << 2)
#define NBD_FLAG_SEND_FUA	   (1u << 3)
#define NBD_FLAG_ROTATIONAL	   (1u << 4)
#define NBD_FLAG_SEND_TRIM	   (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF	   (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN	   (1u << 8)
#define NBD_FLAG_SEND_RESIZE	   (1u << 9)
#define NBD_FLAG_SEND_CACHE	   (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO	   (1u << 11)

/* Option types. */
#define NBD_OPT_EXPORT_NAME	  1u
#define NBD_OPT_ABORT		  2u
#define NBD_OPT_LIST		  3u
#define NBD_OPT_PEEK_EXPORT	  4u
#define NBD_OPT_STARTTLS	  5u
#define NBD_OPT_INFO		  6u
#define NBD_OPT_GO		  7u
#define NBD_OPT_STRUCTURED_REPLY  8u
#define NBD_OPT_LIST_META_CONTEXT 9u
#define NBD_OPT_SET_META_CONTEXT  10u

/* Option reply types; errors have bit 31 set. */
#define NBD_REP_ACK		    1u
#define NBD_REP_SERVER		    2u
#define NBD_REP_INFO		    3u
#define NBD_REP_META_CONTEXT	    4u
#define NBD_REP_FLAG_ERROR	    (1u << 31)
#define NBD_REP_ERR_UNSUP	    (NBD_REP_FLAG_ERROR + 1)
#define NBD_REP_ERR_POLICY	    (NBD_REP_FLAG_ERROR + 2)
#define NBD_REP_ERR_INVALID	    (NBD_REP_FLAG_ERROR + 3)
#define NBD_REP_ERR_PLATFORM	    (NBD_REP_FLAG_ERROR + 4)
#define NBD_REP_ERR_TLS_REQD	    (NBD_REP_FLAG_ERROR + 5)
#define NBD_REP_ERR_UNKNOWN	    (NBD_REP_FLAG_ERROR + 6)
#define NBD_REP_ERR_SHUTDOWN	    (NBD_REP_FLAG_ERROR + 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (NBD_REP_FLAG_ERROR + 8)
#define NBD_REP_ERR_TOO_BIG	    (NBD_REP_FLAG_ERROR + 9)

/* NBD_REP_INFO information types. */
#define NBD_INFO_EXPORT	     0u
#define NBD_INFO_NAME	     1u
#define NBD_INFO_DESCRIPTION 2u
#define NBD_INFO_BLOCK_SIZE  3u

/* Command types. */
#define NBD_CMD_READ	     0u
#define NBD_CMD_WRITE	     1u
#define NBD_CMD_DISC	     2u
#define NBD_CMD_FLUSH	     3u
#define NBD_CMD_TRIM	     4u
#define NBD_CMD_CACHE	     5u
#define NBD_CMD_WRITE_ZEROES 6u
#define NBD_CMD_BLOCK_STATUS 7u

/* Command flags. */
#define NBD_CMD_FLAG_FUA       (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE   (1u << 1)
#define NBD_CMD_FLAG_DF	       (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE   (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

/* Structured reply flags and types. */
#define NBD_REPLY_FLAG_DONE	    (1u << 0)
#define NBD_REPLY_TYPE_NONE	    0u
#define NBD_REPLY_TYPE_OFFSET_DATA  1u
#define NBD_REPLY_TYPE_OFFSET_HOLE  2u
#define NBD_REPLY_TYPE_BLOCK_STATUS 5u
#define NBD_REPLY_TYPE_ERROR	    ((1u << 15) + 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET ((1u << 15) + 2)

/* Error values (proto.md "Error values"): not the host's errno. */
#define NBD_EPERM     1u
#define NBD_EIO	      5u
#define NBD_ENOMEM    12u
#define NBD_EINVAL    22u
#define NBD_ENOSPC    28u
#define NBD_EOVERFLOW 75u
#define NBD_ENOTSUP   95u
#define NBD_ESHUTDOWN 108u

/* base:allocation flags. */
#define NBD_STATE_HOLE (1u << 0)
#define NBD_STATE_ZERO (1u << 1)

/* proto.md: strings "MUST be no longer than 4096 bytes". */
#define NBD_MAX_STRING_BYTES 4096u
/* proto.md: a minimum block size "MUST NOT be larger than 2^16". */
#define NBD_MAX_MIN_BLOCK_BYTES 65536u

/* Sizes on the wire. */
#define NBD_GREETING_BYTES	    18u /* NBDMAGIC, IHAVEOPT, 16-bit flags */
#define NBD_CLIENT_FLAGS_BYTES	    4u
#define NBD_OPTION_BYTES	    16u /* IHAVEOPT, option, length */
#define NBD_OPTION_REPLY_BYTES	    20u /* magic, option, type, length */
#define NBD_EXPORT_NAME_REPLY_BYTES 10u /* size, transmission flags */
#define NBD_EXPORT_NAME_ZEROES	    124u
#define NBD_REQUEST_BYTES	    28u
#define NBD_SIMPLE_REPLY_BYTES	    16u
#define NBD_CHUNK_BYTES		    20u /* structured reply chunk header */
#define NBD_INFO_EXPORT_BYTES	    12u
#define NBD_INFO_BLOCK_SIZE_BYTES   14u
#define NBD_CHUNK_ERROR_BYTES	    6u	/* error, message length */
#define NBD_CHUNK_HOLE_BYTES	    12u /* offset, hole size */
#define NBD_BLOCK_DESCRIPTOR_BYTES  8u	/* length, status flags */

/* C: an option header (the data follows). */
struct nbd_option {
	uint64_t magic; /* NBD_IHAVEOPT */
	uint32_t option;
	uint32_t length;
};

/* C: a request header (WRITE data follows). */
struct nbd_request {
	uint32_t magic; /* NBD_REQUEST_MAGIC */
	uint16_t flags; /* command flags */
	uint16_t type;
	uint64_t handle;
	uint64_t offset;
	uint32_t length;
};

static inline void nbd_option_decode(const unsigned char *p,
				     struct nbd_option *opt)
{
	opt->magic = base_be64_get(p);
	opt->option = base_be32_get(p + 8);
	opt->length = base_be32_get(p + 12);
}

static inline void nbd_request_decode(const unsigned char *p,
				      struct nbd_request *req)
{
	req->magic = base_be32_get(p);
	req->flags = base_be16_get(p + 4);
	req->type = base_be16_get(p + 6);
	req->handle = base_be64_get(p + 8);
	req->offset = base_be64_get(p + 16);
	req->length = base_be32_get(p + 24);
}

#endif
