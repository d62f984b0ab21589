// SPDX-License-Identifier: MIT
/*
 * PERSISTENT RESERVE IN (SPC-4 6.15): READ KEYS, READ RESERVATION,
 * REPORT CAPABILITIES and READ FULL STATUS, answered from a copy made
 * under the device's reservation lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

#define SCSI_PR_IN_READ_KEYS	    0x00
#define SCSI_PR_IN_READ_RESERVATION 0x01
#define SCSI_PR_IN_REPORT_CAPS	    0x02
#define SCSI_PR_IN_READ_FULL_STATUS 0x03

/* An iSCSI TransportID (SPC-4 7.6.4.6), format 01b: "NAME,i,0xISID",
 * NUL-terminated and padded to a multiple of four bytes (at least 20).
 * Returns its length; p may be NULL to measure. */
static uint32_t scsi_pr_transport_id(const struct scsi_pr_reg *reg, uint8_t *p)
{
	uint32_t n = (uint32_t)strlen(reg->initiator) + 1;
	bool port = strstr(reg->initiator, ",i,") != NULL;

	n = (n + 3) & ~3u;
	if (n < 20)
		n = 20;
	if (p) {
		memset(p, 0, 4 + n);
		p[0] = (port ? 0x40 : 0x00) | 0x05; /* iSCSI */
		base_be16_put(p + 2, (uint16_t)n);
		memcpy(p + 4, reg->initiator, strlen(reg->initiator));
	}
	return 4 + n;
}

static uint32_t scsi_pr_in_keys(const struct scsi_pr *pr, uint8_t *p)
{
	uint32_t n = 8;

	for (unsigned int i = 0; i < pr->n_regs; i++, n += 8)
		base_be64_put(p + n, pr->regs[i]->key);
	base_be32_put(p, pr->generation);
	base_be32_put(p + 4, n - 8);
	return n;
}

static uint32_t scsi_pr_in_reservation(const struct scsi_pr *pr, uint8_t *p)
{
	base_be32_put(p, pr->generation);
	if (!pr->type) {
		base_be32_put(p + 4, 0);
		return 8;
	}
	memset(p + 4, 0, 20);
	base_be32_put(p + 4, 16);
	/* SPC-4 6.15.3.3: all-registrants reservations report key 0 */
	if (!scsi_pr_all_regs(pr->type) && pr->holder)
		base_be64_put(p + 8, pr->holder->key);
	p[21] = pr->type; /* scope 0: logical unit */
	return 24;
}

static uint32_t scsi_pr_in_caps(uint8_t *p, const struct scsi_pr *pr)
{
	memset(p, 0, 8);
	base_be16_put(p, 8);
	/* CRH: RESERVE/RELEASE(6) follow SPC-4 5.14.3; SIP_C, ATP_C;
	 * PTPL_C when a store is configured or the device keeps its own. */
	p[2] = 0x10 | 0x08 | 0x04 | (scsi_pr_aptpl_capable(pr) ? 0x01 : 0);
	/* TMV, ALLOW COMMANDS 001b (TEST UNIT READY through write
	 * exclusive and exclusive access), PTPL_A */
	p[3] = 0x80 | 0x10 | (pr->aptpl ? 0x01 : 0);
	p[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
	p[5] = 0x01;
	return 8;
}

static uint32_t scsi_pr_in_full_size(const struct scsi_pr *pr)
{
	uint32_t n = 8;

	for (unsigned int i = 0; i < pr->n_regs; i++)
		n += 24 + scsi_pr_transport_id(pr->regs[i], NULL);
	return n;
}

static uint32_t scsi_pr_in_full(const struct scsi_pr *pr, uint8_t *p)
{
	uint32_t n = 8;

	for (unsigned int i = 0; i < pr->n_regs; i++) {
		const struct scsi_pr_reg *r = pr->regs[i];
		uint8_t *d = p + n;
		uint32_t tid;

		memset(d, 0, 24);
		base_be64_put(d, r->key);
		d[12] = (r->all_tg_pt ? 0x02 : 0) |
			(scsi_pr_is_holder(pr, r) ? 0x01 : 0);
		if (d[12] & 0x01)
			d[13] = pr->type;
		base_be16_put(d + 18, r->rel_port_id);
		tid = scsi_pr_transport_id(r, d + 24);
		base_be32_put(d + 20, tid);
		n += 24 + tid;
	}
	base_be32_put(p, pr->generation);
	base_be32_put(p + 4, n - 8);
	return n;
}

static int scsi_pr_in_build(struct scsi_pr *pr, unsigned int sa, uint8_t **bufp,
			    uint32_t *lenp)
{
	uint32_t size = 8 * SCSI_PR_MAX_REGS + 64;
	uint8_t *buf;

	if (sa == SCSI_PR_IN_READ_FULL_STATUS)
		size = scsi_pr_in_full_size(pr);
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	switch (sa) {
	case SCSI_PR_IN_READ_KEYS:
		*lenp = scsi_pr_in_keys(pr, buf);
		break;
	case SCSI_PR_IN_READ_RESERVATION:
		*lenp = scsi_pr_in_reservation(pr, buf);
		break;
	case SCSI_PR_IN_REPORT_CAPS:
		*lenp = scsi_pr_in_caps(buf, pr);
		break;
	default:
		*lenp = scsi_pr_in_full(pr, buf);
		break;
	}
	*bufp = buf;
	return 0;
}

int scsi_pr_in(struct scsi_nexus *nexus, struct scsi_lu *lu,
	       struct scsi_cmd *cmd)
{
	struct scsi_pr *pr = lu->dev->pr;
	unsigned int sa = cmd->cdb[1] & 0x1f;
	uint32_t alloc = base_be16_get(cmd->cdb + 7), len = 0;
	uint8_t *buf = NULL;
	int ret;

	(void)nexus;
	if (sa > SCSI_PR_IN_READ_FULL_STATUS) {
		scsi_sense_field(lu, cmd, 1, 4);
		return 0;
	}
	pthread_mutex_lock(&pr->lock);
	ret = scsi_pr_load(pr);
	if (ret == 0)
		ret = scsi_pr_in_build(pr, sa, &buf, &len);
	pthread_mutex_unlock(&pr->lock);
	if (ret < 0) {
		scsi_sense_from_errno(cmd, lu->d_sense, ret, false);
		return 0;
	}
	scsi_data_in(cmd, buf, len, alloc);
	free(buf);
	return 0;
}
