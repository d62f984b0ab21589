/* SPDX-License-Identifier: MIT */
/*
 * base_log: leveled logging to stderr (or syslog once daemonised).  The
 * function that decides to fail logs once, naming the object; callers do
 * not log the same failure again.
 */
#ifndef IOPD_BASE_LOG_H
#define IOPD_BASE_LOG_H

enum base_log_level {
	BASE_LOG_ERROR = 0,
	BASE_LOG_WARN,
	BASE_LOG_INFO,
	BASE_LOG_DEBUG,
};

void base_log_set_level(enum base_log_level level);
enum base_log_level base_log_get_level(void);
/* "error", "warn", "info", "debug".  Returns 0 or -EINVAL. */
int base_log_parse_level(const char *text, enum base_log_level *level);
/* Keep a copy of the calling thread's next error and warning messages
 * (the last error wins over warnings) in buf, without the "iopd[pid]: level: "
 * prefix, so the management channel can tell its client what the failing
 * function logged.  NULL stops.  The message is still logged as usual. */
void base_log_capture(char *buf, unsigned long len);
/* Send messages to syslog instead of stderr (after daemonising). */
void base_log_use_syslog(const char *ident);
/* Send messages to the systemd journal, with their priority. */
void base_log_use_journal(void);

/*
 * Text from a peer (an NBD export name, an iSCSI InitiatorName, CHAP_N)
 * made safe for any log target: control bytes, DEL, non-ASCII bytes as
 * \xNN, a backslash doubled, cut at BASE_LOG_ESC_MAX input bytes (then
 * "..." follows).  Writes into buf (BASE_LOG_ESC_BYTES is always enough)
 * and returns buf; NULL s gives "(null)".  Every log call that prints peer
 * text passes it through this.
 */
#define BASE_LOG_ESC_MAX   128
#define BASE_LOG_ESC_BYTES (4 * BASE_LOG_ESC_MAX + 4)
const char *base_log_escape(char *buf, unsigned long size, const char *s);
/* The same for len bytes that need not end in NUL (may hold NULs). */
const char *base_log_escape_n(char *buf, unsigned long size, const char *s,
			      unsigned long len);

void base_log(enum base_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) base_log(BASE_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  base_log(BASE_LOG_WARN, __VA_ARGS__)
#define log_info(...)  base_log(BASE_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (base_log_get_level() >= BASE_LOG_DEBUG)                    \
			base_log(BASE_LOG_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
