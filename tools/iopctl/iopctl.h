/* SPDX-License-Identifier: MIT */
/*
 * iopctl's subcommand table (iopctl_cmds.c), shared with the client's
 * main (iopctl.c), which connects, calls and prints.
 */
#ifndef IOPD_IOPCTL_H
#define IOPD_IOPCTL_H

#include <jansson.h>
#include <stdio.h>

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

#endif
