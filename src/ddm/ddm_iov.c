// SPDX-License-Identifier: MIT
/* The iovec cursor of ddm_iov.h. */
#include <string.h>

#include "ddm/ddm_iov.h"

void ddm_iov_cursor_move(struct ddm_iov_cursor *cur, unsigned char *buf,
			 size_t n, enum ddm_iov_copy how)
{
	while (n) {
		const struct iovec *v = &cur->iov[cur->idx];
		size_t piece = v->iov_len - cur->off;
		unsigned char *base = (unsigned char *)v->iov_base + cur->off;

		if (piece > n)
			piece = n;
		if (how == DDM_IOV_FROM)
			memcpy(buf, base, piece);
		else if (how == DDM_IOV_TO && buf)
			memcpy(base, buf, piece);
		else if (how == DDM_IOV_TO)
			memset(base, 0, piece);
		if (buf)
			buf += piece;
		n -= piece;
		cur->off += piece;
		if (cur->off == v->iov_len) {
			cur->idx++;
			cur->off = 0;
		}
	}
}
