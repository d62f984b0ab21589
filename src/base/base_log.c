// SPDX-License-Identifier: MIT
/*
 * base_log: leveled messages to stderr as "iopd[pid]: level: text", or to
 * syslog once the daemon asks for it.  Each message leaves in a single
 * write(2) so lines from different threads never interleave.  Timestamps
 * are left to whatever collects stderr (journald, the test harness).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "base/base_log.h"

#define BASE_LOG_LINE_MAX 1024

static atomic_int base_log_level_cur = BASE_LOG_INFO;
static atomic_bool base_log_syslog;
static atomic_bool base_log_journal;
static const char *base_log_ident = "iopd";
static __thread char *base_log_capture_buf;
static __thread unsigned long base_log_capture_len;

static const char *const base_log_names[] = {
	[BASE_LOG_ERROR] = "error",
	[BASE_LOG_WARN] = "warn",
	[BASE_LOG_INFO] = "info",
	[BASE_LOG_DEBUG] = "debug",
};

static const int base_log_prio[] = {
	[BASE_LOG_ERROR] = LOG_ERR,
	[BASE_LOG_WARN] = LOG_WARNING,
	[BASE_LOG_INFO] = LOG_INFO,
	[BASE_LOG_DEBUG] = LOG_DEBUG,
};

const char *base_log_escape_n(char *buf, unsigned long size, const char *s,
			      unsigned long len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned long o = 0, i;

	if (!size)
		return buf;
	for (i = 0; i < len && i < BASE_LOG_ESC_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '\\';
		unsigned long need = plain ? 1 : c == '\\' ? 2 : 4;

		/* Room for this, then "..." and the NUL. */
		if (o + need + 4 > size)
			break;
		if (plain) {
			buf[o++] = (char)c;
		} else if (c == '\\') {
			buf[o++] = '\\';
			buf[o++] = '\\';
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (i < len && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o < size ? o : size - 1] = '\0';
	return buf;
}

const char *base_log_escape(char *buf, unsigned long size, const char *s)
{
	if (!s)
		s = "(null)";
	return base_log_escape_n(buf, size, s, strlen(s));
}

void base_log_set_level(enum base_log_level level)
{
	if (level > BASE_LOG_DEBUG)
		level = BASE_LOG_DEBUG;
	atomic_store(&base_log_level_cur, (int)level);
}

enum base_log_level base_log_get_level(void)
{
	return (enum base_log_level)atomic_load(&base_log_level_cur);
}

int base_log_parse_level(const char *text, enum base_log_level *level)
{
	if (!text)
		return -EINVAL;
	for (int i = BASE_LOG_ERROR; i <= BASE_LOG_DEBUG; i++) {
		if (strcasecmp(text, base_log_names[i]) == 0) {
			*level = (enum base_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(text, "warning") == 0) {
		*level = BASE_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void base_log_capture(char *buf, unsigned long len)
{
	base_log_capture_buf = len ? buf : NULL;
	base_log_capture_len = len;
	if (base_log_capture_buf)
		buf[0] = 0;
}

void base_log_use_syslog(const char *ident)
{
	if (ident)
		base_log_ident = ident;
	openlog(base_log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&base_log_syslog, true);
}

void base_log_use_journal(void)
{
	atomic_store(&base_log_journal, true);
}

static void base_log_write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void base_log(enum base_log_level level, const char *fmt, ...)
{
	char line[BASE_LOG_LINE_MAX];
	int saved_errno = errno; /* callers often log then test errno */
	va_list ap;
	size_t len;
	int n;

	if (level > BASE_LOG_DEBUG)
		level = BASE_LOG_DEBUG;
	if (base_log_capture_buf &&
	    (level == BASE_LOG_ERROR ||
	     (level == BASE_LOG_WARN && !base_log_capture_buf[0]))) {
		va_start(ap, fmt);
		vsnprintf(base_log_capture_buf, base_log_capture_len, fmt, ap);
		va_end(ap);
	}
	if ((int)level > atomic_load(&base_log_level_cur))
		return;

	va_start(ap, fmt);
	if (atomic_load(&base_log_journal)) {
		sd_journal_printv(base_log_prio[level], fmt, ap);
		va_end(ap);
		errno = saved_errno;
		return;
	}
	if (atomic_load(&base_log_syslog)) {
		vsyslog(base_log_prio[level], fmt, ap);
		va_end(ap);
		errno = saved_errno;
		return;
	}
	n = snprintf(line, sizeof(line), "%s[%d]: %s: ", base_log_ident,
		     (int)getpid(), base_log_names[level]);
	len = n > 0 ? (size_t)n : 0;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t)n;
	/* Truncated messages still end in a newline. */
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	base_log_write_all(line, len);
	errno = saved_errno;
}
