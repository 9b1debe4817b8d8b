/*
 * Helpers shared by the ivicli-certwatch subcommands: where the config
 * file is, loading it, the bundle options it implies, the control key and
 * the one-line failure messages of the one-shot commands.
 */
#ifndef CW_CLI_H
#define CW_CLI_H

#include <stdbool.h>

#include "ivi_bundle.h"
#include "ivi_config.h"
#include "ivi_proto.h"

#define CW_PROGRAM "ivicli-certwatch"

/* sysexits(3) values used directly by the subcommands. */
#define CW_EX_OK 0
#define CW_EX_USAGE 64
#define CW_EX_DATAERR 65
#define CW_EX_NOINPUT 66
#define CW_EX_UNAVAILABLE 69
#define CW_EX_SOFTWARE 70
#define CW_EX_TEMPFAIL 75
#define CW_EX_NOPERM 77
#define CW_EX_CONFIG 78

/* Time the one-shot commands wait for the server's response. */
#define CW_CALL_TIMEOUT_MS 10000

/*
 * Returns the config file to read: option when not NULL, else the value
 * of $IVICLI_CONFIG when set and not empty, else /etc/ivicli/config.toml
 * (ivi_config_default_path, shared with the server).
 */
const char *cw_config_path(const char *option);

/*
 * Loads and validates the config named by cw_config_path(option), and
 * checks that it describes a reloadable TLS identity (TLS enabled, not
 * self-signed). Returns 0 with *out set, or a sysexits status with one
 * line in errbuf.
 */
int cw_config_open(const char *option, struct ivi_config **out, char *errbuf, size_t errlen);

/* Fills opts from cfg; the strings stay owned by cfg. */
void cw_bundle_opts(const struct ivi_config *cfg, struct ivi_bundle_opts *opts);

/*
 * Loads the control key named by [control] key_path. Returns 0 with *out
 * set, or a sysexits status with one line in errbuf.
 */
int cw_key_open(const struct ivi_config *cfg, struct ivi_key **out, char *errbuf, size_t errlen);

/* Sets the log level from its name. Returns 0, or 64 after printing why. */
int cw_set_log_level(const char *name);

/* Prints "ivicli-certwatch CMD: MESSAGE" on stderr as one line. */
void cw_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats t as RFC 3339 UTC ("2026-12-04T20:20:00Z") into buf (at least 32 bytes). */
void cw_format_time(time_t t, char *buf, size_t len);

/* Parses an RFC 3339 UTC time written by cw_format_time. Returns 0 or -1. */
int cw_parse_time(const char *s, time_t *out);

#endif /* CW_CLI_H */
