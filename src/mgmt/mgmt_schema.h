/* SPDX-License-Identifier: MIT */
/*
 * The daemon's option schema: one table of every setting the command
 * line and the config file's top level take -- its --name and config
 * key, its type and range, how it is saved, when a reload applies it,
 * and its --help text.  The command line (main.c), the config file
 * (mgmt_config.c) and the management RPC (daemon.config, daemon.reload,
 * daemon.log_level) read it, so a new option is added here once.
 */
#ifndef IOPD_MGMT_SCHEMA_H
#define IOPD_MGMT_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct mgmt_config;

enum mgmt_opt_kind {
	MGMT_OPT_UINT, /* a decimal number in [lo, hi] */
	MGMT_OPT_SIZE, /* a size ("4K", or a JSON integer) in [lo, hi] */
	MGMT_OPT_ENUM, /* one of names (parse for aliases) */
	MGMT_OPT_STR,  /* a string (char *) */
	MGMT_OPT_FLAG, /* command line only: sets a bool */
	MGMT_OPT_BOOL, /* a bool: a flag on the command line (sets it),
			* true or false in the config file */
	MGMT_OPT_CALL, /* set() takes the text, and logs its errors */
	MGMT_OPT_JSON, /* config file only: load() takes the value */
	MGMT_OPT_MAIN, /* a process option main.c handles itself */
};

/* Flags */
#define MGMT_OPT_RESTART  0x1 /* a reload leaves it for the next start */
#define MGMT_OPT_SAVE_ALL 0x2 /* saved even when it is the default */
#define MGMT_OPT_NONE_OFF 0x4 /* "none" on the command line: unset */

struct mgmt_opt {
	const char *name; /* --name; NULL: not on the command line */
	char short_name;  /* -c, or 0 */
	const char *arg;  /* the argument in --help; NULL: takes none */
	const char *key;  /* config file key; NULL: not in the file */
	enum mgmt_opt_kind kind;
	unsigned int flags;
	size_t off; /* offsetof(struct mgmt_config, ...) of the value */
	/* UINT, SIZE: the range in the file's unit; on the command line
	 * the value is scaled by cli_scale (0: 1) and must be >= cli_lo. */
	unsigned long long lo, hi;
	unsigned int cli_scale, cli_lo;
	/* UINT, SIZE, ENUM: the default (mgmt_config_init), which is not
	 * saved unless MGMT_OPT_SAVE_ALL. */
	int dflt;
	/* ENUM: names[value - names_base] is saved; parse reads one. */
	const char *const *names;
	int names_base;
	int (*parse)(const char *text, int *value);
	int (*set)(struct mgmt_config *cfg, const char *text); /* CALL */
	int (*load)(struct mgmt_config *cfg, json_t *v);       /* JSON */
	const char *expect; /* what a bad value should have been */
	const char *help;   /* --help text; '\n' starts a continuation */
};

/* The table, ending with an entry whose name and key are NULL. */
extern const struct mgmt_opt mgmt_opts[];

const struct mgmt_opt *mgmt_opt_by_key(const char *key);

/* Set every option of the table that has a default to it. */
void mgmt_opts_defaults(struct mgmt_config *cfg);
/* Apply one command line option o with its argument text (NULL for
 * options without one).  Returns 0 or -errno after logging. */
int mgmt_opt_set_cli(struct mgmt_config *cfg, const struct mgmt_opt *o,
		     const char *text);
/* Apply the config file's value v of o.  Returns 0 or -errno after
 * logging. */
int mgmt_opt_set_json(struct mgmt_config *cfg, const struct mgmt_opt *o,
		      json_t *v);
/* Add every saved option of cfg to root (daemon.config, save_config). */
void mgmt_opts_to_json(const struct mgmt_config *cfg, json_t *root);
/* Note that the option with config key key was set outside the config
 * file (the environment), as mgmt_opt_set_cli does for its options. */
void mgmt_opt_mark_cli(struct mgmt_config *cfg, const char *key);
/* The keys of the MGMT_OPT_RESTART options whose values differ between
 * the running configuration cur and the file's next, comma-separated:
 * into later those the file rules (they change at the next start), into
 * kept those that cur's command line set and the file sets to something
 * else than the default (the command line's value stays).  "" if none. */
void mgmt_opts_restart_diff(const struct mgmt_config *cur,
			    const struct mgmt_config *next, char *later,
			    char *kept, size_t len);
/* The --help lines of every command line option. */
void mgmt_opts_usage(FILE *f);

#endif
