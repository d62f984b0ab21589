// SPDX-License-Identifier: MIT
/*
 * Text keys (RFC 7143 §6.1, §13): splitting a data segment into
 * key=value pairs, building responses, and the value formats (numbers in
 * decimal or 0x hex, Yes/No, binary as 0x hex or 0b base64).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/iscsi/iscsi_priv.h"

int iscsi_text_parse(char *buf, size_t len, struct iscsi_kv *kv,
		     unsigned int max)
{
	unsigned int n = 0;
	size_t i = 0;

	/* Trailing padding NULs are allowed, a missing final NUL is not. */
	while (len > 0 && buf[len - 1] == '\0' && len > 1 &&
	       buf[len - 2] == '\0')
		len--;
	if (len == 0)
		return 0;
	if (buf[len - 1] != '\0')
		return -EINVAL;
	while (i < len) {
		char *pair = buf + i;
		size_t plen = strlen(pair);
		char *eq = memchr(pair, '=', plen);

		i += plen + 1;
		if (plen == 0)
			continue;
		if (!eq || eq == pair || (size_t)(eq - pair) > ISCSI_KEY_MAX)
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		*eq = '\0';
		kv[n].key = pair;
		kv[n].val = eq + 1;
		n++;
	}
	return (int)n;
}

void iscsi_sb_add(struct iscsi_strbuf *sb, const char *key, const char *fmt,
		  ...)
{
	char val[1024];
	size_t need;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(val))
		n = sizeof(val) - 1;
	need = sb->len + strlen(key) + 1 + (size_t)n + 1;
	if (need > sb->cap) {
		size_t cap = sb->cap ? sb->cap * 2 : 512;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(sb->p, cap);
		if (!p) {
			sb->oom = true;
			return;
		}
		sb->p = p;
		sb->cap = cap;
	}
	sb->len += (size_t)sprintf(sb->p + sb->len, "%s=%s", key, val) + 1;
}

void iscsi_sb_free(struct iscsi_strbuf *sb)
{
	free(sb->p);
	sb->p = NULL;
	sb->len = sb->cap = 0;
}

int iscsi_parse_num(const char *val, uint64_t *num)
{
	char *end;
	int base = 10;

	if (val[0] == '0' && (val[1] == 'x' || val[1] == 'X')) {
		val += 2;
		base = 16;
	}
	if (*val < '0' || (*val > '9' && base == 10) || strlen(val) > 20)
		return -EINVAL;
	errno = 0;
	*num = strtoull(val, &end, base);
	if (errno || *end || end == val)
		return -EINVAL;
	return 0;
}

int iscsi_parse_bool(const char *val, bool *b)
{
	if (strcmp(val, "Yes") == 0)
		*b = true;
	else if (strcmp(val, "No") == 0)
		*b = false;
	else
		return -EINVAL;
	return 0;
}

int iscsi_text_append(char **buf, size_t *len, const uint8_t *data, size_t n)
{
	char *p;

	if (*len + n > ISCSI_TEXT_MAX)
		return -E2BIG;
	p = realloc(*buf, *len + n + 1);
	if (!p)
		return -ENOMEM;
	if (n)
		memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*buf = p;
	return 0;
}

static int iscsi_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int iscsi_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 7143 §6.1: binary values as "0x" + hex or "0b" + base64.  Returns
 * the byte count or -EINVAL. */
int iscsi_hex_decode(const char *val, uint8_t *out, size_t max)
{
	size_t n = 0, len;

	if (val[0] != '0')
		return -EINVAL;
	if (val[1] == 'x' || val[1] == 'X') {
		val += 2;
		len = strlen(val);
		if (len == 0)
			return -EINVAL;
		if (len & 1) {
			/* leading nibble */
			int v = iscsi_hexval(*val++);

			if (v < 0 || n >= max)
				return -EINVAL;
			out[n++] = (uint8_t)v;
			len--;
		}
		for (; len; len -= 2, val += 2) {
			int hi = iscsi_hexval(val[0]),
			    lo = iscsi_hexval(val[1]);

			if (hi < 0 || lo < 0 || n >= max)
				return -EINVAL;
			out[n++] = (uint8_t)(hi << 4 | lo);
		}
		return (int)n;
	}
	if (val[1] == 'b' || val[1] == 'B') {
		uint32_t acc = 0;
		int bits = 0;

		for (val += 2; *val && *val != '='; val++) {
			int v = iscsi_b64val(*val);

			if (v < 0)
				return -EINVAL;
			acc = acc << 6 | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				if (n >= max)
					return -EINVAL;
				out[n++] = (uint8_t)(acc >> bits);
			}
		}
		return n ? (int)n : -EINVAL;
	}
	return -EINVAL;
}

void iscsi_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	*out++ = '0';
	*out++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 15];
	}
	*out = '\0';
}

/* Is word one of the entries of a comma-separated list of values? */
bool iscsi_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == wl && strncmp(p, word, wl) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}
