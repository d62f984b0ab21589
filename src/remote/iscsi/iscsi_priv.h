/* SPDX-License-Identifier: MIT */
/*
 * iscsi_priv: the engine's state, shared by its files and nobody else.
 *
 *   iscsi_proto.c  receive framing (BHS, AHS, digests, payload
 *                  placement) as the frame's ops, lifecycle, NOP, Reject
 *   iscsi_text.c   key=value parsing and building
 *   iscsi_login.c  login phase: stages, security and operational
 *                  negotiation, target lookup, session start
 *   iscsi_keys.c   the key table and operational negotiation
 *   iscsi_chap.c   CHAP (MD5, mutual)
 *   iscsi_disc.c   Text requests: SendTargets, multi-PDU responses
 *   iscsi_cmd.c    full feature phase: SCSI Command, Data-Out, R2T,
 *                  Data-In, SCSI Response
 *   iscsi_session.c  task management, Logout, session start and end
 *
 * The receive buffer and the output queue are the frame's
 * (remote_engine.h).  Output entries are a block (login, text, NOP-In,
 * Reject...), a task's R2T, or a task's Data-In PDUs and response.  StatSN,
 * ExpCmdSN and MaxCmdSN are stamped when a PDU is queued, so StatSN rises in
 * sending order.
 */
#ifndef IOPD_ISCSI_PRIV_H
#define IOPD_ISCSI_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "remote/iscsi/iscsi_proto.h"
#include "remote/iscsi/iscsi_wire.h"
#include "remote/remote_engine.h"

/* What we accept in one PDU's data segment (declared as our
 * MaxRecvDataSegmentLength) and what a login or text request may carry
 * in all its continued PDUs. */
#define ISCSI_OUR_MRDSL (256u * 1024)
#define ISCSI_TEXT_MAX	(64u * 1024)
/* Receive buffer: one largest PDU plus headers, digests and slack. */
#define ISCSI_RX_BUF_BYTES (ISCSI_OUR_MRDSL + 4096)
/* After a payload of ISCSI_RX_BIG bytes or more received in place, a
 * read into the receive buffer takes at most ISCSI_RX_HDR_READ bytes
 * (remote_engine.rx_read_max). */
#define ISCSI_RX_BIG	  (32u * 1024)
#define ISCSI_RX_HDR_READ 4096u
/* Our side of the numeric negotiations. */
#define ISCSI_OUR_MAX_BURST (16u * 1024 * 1024 - 1024)
#define ISCSI_OUR_MAX_R2T   4u
#define ISCSI_MAX_IMMEDIATE 16u
/* Task buffers up to this size stay with the task for reuse, as long as
 * the free tasks of a connection keep at most ISCSI_TASK_KEEP_TOTAL
 * bytes: what idle tasks keep is outside the memory budget. */
#define ISCSI_TASK_KEEP_BYTES (1024u * 1024)
#define ISCSI_TASK_KEEP_TOTAL (8u * 1024 * 1024)
#define ISCSI_BUF_ALIGN	      4096u
/* Per-PDU header area of a task: BHS, header digest, pad + data digest. */
#define ISCSI_PDU_AREA 64u
#define ISCSI_KEY_MAX  63u
#define ISCSI_VAL_MAX  255u
#define ISCSI_NAME_MAX 223u

enum iscsi_phase {
	ISCSI_PHASE_LOGIN,
	ISCSI_PHASE_FFP,
};

enum iscsi_rx_state {
	ISCSI_RX_HDR,	  /* BHS/AHS/digest arriving in rbuf */
	ISCSI_RX_BODY,	  /* data segment, pad, digest arriving in rbuf */
	ISCSI_RX_PAYLOAD, /* data segment arriving straight in rx_dst */
	ISCSI_RX_TRAILER, /* pad + data digest after a direct payload */
};

/* remote_tx.kind of a task's Data-In and response (struct iscsi_task)
 * and of an R2T (struct iscsi_r2t); login, text, NOP-In and Reject PDUs
 * are the frame's blocks (REMOTE_TX_BLOCK). */
enum iscsi_tx_kind {
	ISCSI_TX_TASK = 1,
	ISCSI_TX_R2T,
};

struct iscsi_task;

struct iscsi_r2t {
	struct remote_tx tx;
	struct iscsi_task *task;
	struct iovec iov;
	bool active; /* solicited data not all received */
	uint32_t ttt, r2tsn, offset, len, got, datasn;
	uint8_t hdr[ISCSI_BHS_BYTES + ISCSI_DIGEST_BYTES];
};

enum iscsi_task_state {
	ISCSI_TASK_FREE,
	ISCSI_TASK_DATA_OUT, /* collecting write data */
	ISCSI_TASK_SCSI,     /* with the SCSI command set */
	ISCSI_TASK_TX,	     /* response queued */
};

/* One SCSI command, from its PDU to the last byte of its response. */
struct iscsi_task {
	struct remote_tx tx; /* Data-In PDUs and response; first member */
	struct iscsi_proto *proto;
	struct iscsi_task *next_free;
	struct iscsi_task *next_all;
	enum iscsi_task_state state;
	bool immediate;
	bool aborted;	   /* by a TMF: no response */
	bool discard;	   /* data-out is consumed and dropped; respond with the
			      prepared error instead of executing */
	bool free_pending; /* aborted while its R2Ts are queued */
	bool windowed;	   /* holds a CmdSN window slot (or an immediate
			      allowance) */
	struct iscsi_tmf *tmf; /* waiting for this task */
	uint32_t itt, cmd_sn, edtl;
	uint8_t lun_raw[8];
	struct scsi_cmd scmd;
	uint8_t *buf;
	size_t buf_cap;
	uint32_t mem_bytes; /* charged to the memory budget */
	/* write data */
	uint32_t got;	    /* bytes received; the next expected offset */
	uint32_t unsol_end; /* immediate + unsolicited data end here */
	uint32_t unsol_datasn;
	uint32_t solicited; /* bytes covered by R2Ts sent so far */
	uint32_t r2tsn;
	unsigned int r2t_active;
	struct iscsi_r2t r2t[ISCSI_OUR_MAX_R2T];
	/* response */
	uint8_t *pdus; /* ISCSI_PDU_AREA bytes per PDU */
	size_t n_pdus_cap;
	struct iovec *iov;
	int iov_cap;
	uint8_t sense_seg[2 + SCSI_SENSE_MAX + 2];
};

/* Negotiated operational parameters (RFC 7143 chapter 13). */
struct iscsi_params {
	bool header_digest, data_digest;
	uint32_t ini_mrdsl; /* the initiator receives at most this */
	uint32_t max_burst, first_burst;
	bool initial_r2t, immediate_data;
	uint32_t max_r2t;
	uint32_t time2wait, time2retain;
};

struct iscsi_login;

/* A task management request waiting for the commands it aborted, then
 * for the SCSI command set's part (a reset other gateways must hear). */
struct iscsi_tmf {
	struct iscsi_tmf *next;
	struct iscsi_proto *proto;
	uint8_t bhs[ISCSI_BHS_BYTES];
	unsigned int waiting; /* aborted tasks still with SCSI, or its part */
	uint8_t response;
	bool call_scsi; /* its part is still to run */
	enum scsi_tmf scsi_tmf;
	uint64_t lun;
};

struct iscsi_target_view {
	char name[ISCSI_NAME_MAX + 1];
	const char *alias;
	const struct iscsi_target_cfg *cfg; /* NULL: a per-export target */
	struct scsi_lun_map lun0;
	struct scsi_target_info info;
};

struct iscsi_proto {
	struct remote_engine e; /* first: the frame */
	struct iscsi_proto_config cfg;
	const struct iscsi_config *icfg;
	const struct iscsi_scsi_ops *scsi;
	enum iscsi_phase phase;
	bool handshake_counted; /* remote_stats_handshake() reported */

	/* receive (the buffer is the frame's) */
	enum iscsi_rx_state rx_state;
	uint8_t bhs[ISCSI_BHS_BYTES];
	uint32_t ahs_len, dlen, pad;
	const uint8_t *ahs; /* while a SCSI Command header is parsed */
	uint8_t *rx_dst;    /* direct payload destination */
	uint32_t rx_got;
	struct iscsi_task *rx_task;
	struct iscsi_task *rx_pinned; /* its buffer outlives rx_eof */
	size_t kept_bytes;	      /* buffers of free tasks */
	struct iscsi_r2t *rx_r2t;
	uint8_t *scratch; /* discarded payloads land here */

	/* numbering */
	uint32_t stat_sn;
	uint32_t exp_cmd_sn;

	/* session */
	struct iscsi_params p;
	struct iscsi_login *login;
	uint64_t login_hold_ms; /* a CHAP response waits for this time */
	bool discovery;
	char initiator[ISCSI_NAME_MAX + 1];
	uint8_t isid[6];
	uint16_t tsih, cid;
	struct iscsi_target_view target;
	struct scsi_lun_map *lun_maps;
	struct scsi_nexus *nexus;
	bool logout; /* logout received: no new commands */
	uint32_t logout_itt;
	bool logout_pending;
	bool reinstatable; /* in the session table (iscsi_reinstate.c) */

	/* tasks */
	struct iscsi_task *tasks, *free_tasks;
	unsigned int n_tasks, max_tasks, window, window_used, n_immediate;
	int rx_drop; /* for the PDU being received: 0, a Reject reason, or
			-1 to ignore it */
	uint32_t next_ttt;
	struct iscsi_tmf *tmfs;

	/* text */
	char *text_in;
	size_t text_in_len;
	char *text_out;
	size_t text_out_len, text_out_off;
	uint32_t text_ttt, text_itt;

	/* liveness (e.rx_activity: input since the last tick) */
	uint64_t last_rx_ms;
	uint64_t start_ms;	 /* the login deadline counts from here */
	uint64_t quiet_since_ms; /* no input while waiting for data */
	bool ping_out;
	uint64_t ping_ms;
	uint32_t ping_ttt;
};

static inline const char *iscsi_peer(const struct iscsi_proto *proto)
{
	return proto->e.peer;
}

/* Mark the stream broken, logging why once.  Returns err. */
#define iscsi_proto_fail(proto, err, ...)                                      \
	remote_engine_fail(&(proto)->e, err, __VA_ARGS__)

/* iscsi_proto.c */
uint32_t iscsi_max_cmd_sn(const struct iscsi_proto *proto);
/* Report how the login ended (remote_stats_handshake), once. */
void iscsi_handshake_result(struct iscsi_proto *proto, bool ok);
/* Fill StatSN/ExpCmdSN/MaxCmdSN (bytes 24..35) of an outgoing BHS; the
 * StatSN advances if advance. */
void iscsi_stamp(struct iscsi_proto *proto, uint8_t *bhs, bool advance);
/* Queue one PDU: bhs (48 bytes, DataSegmentLength filled in here) and
 * data, copied, with digests as negotiated. */
int iscsi_tx_pdu(struct iscsi_proto *proto, uint8_t *bhs, const void *data,
		 uint32_t dlen, bool last);
/* Header digest, pad and data digest for a PDU whose BHS is at hdr and
 * whose tail (pad + digest, 8 bytes) is at tail; returns the tail's
 * length. */
size_t iscsi_pdu_seal(struct iscsi_proto *proto, uint8_t *hdr,
		      const uint8_t *data, uint32_t dlen, uint8_t *tail);
int iscsi_reject(struct iscsi_proto *proto, uint8_t reason, const uint8_t *bhs);
bool iscsi_cmd_sn_ok(struct iscsi_proto *proto, const uint8_t *bhs);

/* iscsi_text.c */
struct iscsi_kv {
	char *key;
	char *val;
};

struct iscsi_strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Split NUL-terminated "key=value" pairs of buf in place.  Returns the
 * number of pairs, or -EINVAL (a pair without '=', a key too long, a
 * missing final NUL) or -E2BIG (more than max). */
int iscsi_text_parse(char *buf, size_t len, struct iscsi_kv *kv,
		     unsigned int max);
void iscsi_sb_add(struct iscsi_strbuf *sb, const char *key, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));
void iscsi_sb_free(struct iscsi_strbuf *sb);
int iscsi_parse_num(const char *val, uint64_t *num);
int iscsi_parse_bool(const char *val, bool *b);
/* Append text; returns 0 or -E2BIG past ISCSI_TEXT_MAX. */
int iscsi_text_append(char **buf, size_t *len, const uint8_t *data, size_t n);
int iscsi_hex_decode(const char *val, uint8_t *out, size_t max);
void iscsi_hex_encode(const uint8_t *in, size_t n, char *out);
bool iscsi_list_has(const char *list, const char *word);

/* iscsi_login.c */
int iscsi_login_pdu(struct iscsi_proto *proto, const uint8_t *bhs,
		    const uint8_t *data, uint32_t dlen);
void iscsi_login_free(struct iscsi_proto *proto);
/* A login PDU held for its address's check slot (login_hold_ms): go on
 * with it if now is past the slot. */
int iscsi_login_resume(struct iscsi_proto *proto, uint64_t now_ms);
uint64_t iscsi_now_ms(void);

/* iscsi_authfail.c: failed CHAP logins per peer address.  The time the
 * next CHAP check from peer may run (reserving that slot), 0 for now, or
 * UINT64_MAX when too many checks wait already (refuse the login); note
 * a failure.  Any thread. */
uint64_t iscsi_authfail_slot(const struct sockaddr_storage *peer,
			     uint64_t now_ms);
void iscsi_authfail_note(const struct sockaddr_storage *peer, uint64_t now_ms);
/* Find a target by name (or all of them: name NULL, visit each).
 * Returns true if name was found. */
bool iscsi_target_lookup(struct iscsi_proto *proto, const char *name,
			 struct iscsi_target_view *view);
bool iscsi_target_allows(const struct iscsi_target_view *view,
			 const char *initiator);
int iscsi_target_count(struct iscsi_proto *proto);
/* The export called name if this session may map it as a LUN (it is
 * offered over iSCSI and its address list allows the initiator), else
 * NULL. */
const struct conn_export *iscsi_export_find(struct iscsi_proto *proto,
					    const char *name);
bool iscsi_export_allowed(struct iscsi_proto *proto,
			  const struct conn_export *e);
bool iscsi_target_at(struct iscsi_proto *proto, int i,
		     struct iscsi_target_view *view);
/* iscsi_keys.c: parse one operational key in FFP or login (the shared
 * cases); returns 1 if handled (response appended), 0 if unknown. */
int iscsi_param_key(struct iscsi_proto *proto, const char *key, const char *val,
		    struct iscsi_strbuf *out, bool login);

/* iscsi_session.c */
int iscsi_tmf_pdu(struct iscsi_proto *proto, const uint8_t *bhs);
int iscsi_logout_pdu(struct iscsi_proto *proto, const uint8_t *bhs);
/* Answer TMFs and a logout whose commands have all come back. */
void iscsi_check_waiters(struct iscsi_proto *proto);
/* The BHS at p (not yet taken) is a command that must wait for memory
 * (remote_engine_mem_wait): leave it in the receive buffer. */
bool iscsi_cmd_mem_wait(struct iscsi_proto *proto, const uint8_t *p);
void iscsi_cmd_rx_abandon(struct iscsi_proto *proto);
void iscsi_tasks_free(struct iscsi_proto *proto);
int iscsi_session_start(struct iscsi_proto *proto);

/* iscsi_reinstate.c: the process's normal sessions by (InitiatorName,
 * ISID, target, portal group), for session reinstatement (RFC 7143
 * §6.3.5).  A session that has just started takes the place of one with
 * the same key, whose connection is then ended (cfg.control).  Any
 * worker thread. */
void iscsi_reinstate_enter(struct iscsi_proto *proto);
/* The session ends: its entry goes, unless a newer session took it. */
void iscsi_reinstate_leave(struct iscsi_proto *proto);

/* iscsi_disc.c */
int iscsi_text_pdu(struct iscsi_proto *proto, const uint8_t *bhs,
		   const uint8_t *data, uint32_t dlen);
void iscsi_text_free(struct iscsi_proto *proto);

/* iscsi_cmd.c */
/* A SCSI Command or Data-Out header was parsed: choose where its data
 * segment goes (*dst; NULL = the receive buffer).  Returns 0 or -errno
 * (fatal). */
int iscsi_cmd_hdr(struct iscsi_proto *proto, uint8_t **dst);
int iscsi_data_out_hdr(struct iscsi_proto *proto, uint8_t **dst);
/* The data segment is in place (at dst, or data in rbuf). */
int iscsi_cmd_pdu(struct iscsi_proto *proto, const uint8_t *data,
		  bool digest_ok);
int iscsi_data_out_pdu(struct iscsi_proto *proto, const uint8_t *data,
		       bool digest_ok);
void iscsi_task_release(struct iscsi_task *task);
/* Before the nexus closes with responses queued: see iscsi_cmd.c. */
void iscsi_tasks_unmap(struct iscsi_proto *proto);
/* A task that will send nothing more: free it (or once its queued R2Ts
 * have gone). */
void iscsi_task_drop(struct iscsi_task *task);
struct iscsi_task *iscsi_task_by_itt(struct iscsi_proto *proto, uint32_t itt);
uint64_t iscsi_lun_decode(const uint8_t *raw);
void iscsi_r2t_release(struct iscsi_r2t *r2t);
bool iscsi_task_available(const struct iscsi_proto *proto);

#endif
