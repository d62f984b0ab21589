/* SPDX-License-Identifier: MIT */
/*
 * iopctl's subcommand table (iopctl_cmds.c), shared with the client's
 * main (iopctl.c), which connects, calls and prints.
 */
#ifndef IOPD_IOPCTL_H
#define IOPD_IOPCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define IOPCTL_DEFAULT_SOCKET "/run/iopd/iopd.sock"

struct iopctl_col {
	const char *key, *header;
};

struct iopctl_cmd {
	const char *family, *verb, *method;
	const char *args; /* positional parameter names, space separated */
	const char *usage, *help;
	/* Columns for a list result; NULL: print the result as key: value. */
	const struct iopctl_col *cols;
	/* Turn argv into params beyond the generic rules; may be NULL. */
	int (*build)(int argc, char **argv, json_t *params);
};

/* Every subcommand, ending with an entry whose family is NULL. */
extern const struct iopctl_cmd iopctl_cmds[];

void iopctl_usage(FILE *f);
void iopctl_cmd_help(FILE *f, const struct iopctl_cmd *c);
/* The params of c from its arguments.  Returns 0 or -1 after saying
 * what is wrong. */
int iopctl_build_params(const struct iopctl_cmd *c, int argc, char **argv,
			json_t **params);
const struct iopctl_cmd *iopctl_find(const char *family, const char *verb);

/* TLS to iopd's TCP management listener (iopctl_tls.c). */
struct iopctl_tls_opts {
	const char *ca;		  /* PEM CA certificates; NULL: the system's */
	const char *cert, *key;	  /* a client certificate, or NULL */
	const char *psk;	  /* psktool file: PSK instead of X.509 */
	const char *psk_identity; /* NULL: the file's first */
	const char *server_name;  /* NULL: the host of --connect */
};

/* The handshake on connected fd with the server at host, within
 * timeout_ms.  Returns 0, -ETIMEDOUT, or -1 after saying why. */
int iopctl_tls_connect(int fd, const char *host,
		       const struct iopctl_tls_opts *o, int timeout_ms);
/* send/recv through TLS once it is up, plain before (-1 and errno on
 * failure; EAGAIN: a socket timeout passed). */
ssize_t iopctl_io_send(int fd, const void *buf, size_t len);
ssize_t iopctl_io_recv(int fd, void *buf, size_t len);
/* Decrypted bytes wait: recv without polling. */
bool iopctl_io_pending(void);
void iopctl_tls_close(void);

#endif
