/* Config, key and output helpers shared by the ivicli-certwatch subcommands. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ivi_log.h"
#include "cli.h"

const char *
cw_config_path(const char *option)
{
	return option != NULL ? option : ivi_config_default_path();
}

int
cw_config_open(const char *option, struct ivi_config **out, char *errbuf, size_t errlen)
{
	const char *path = cw_config_path(option);
	struct ivi_config *cfg = NULL;
	int rc;

	rc = ivi_config_load(path, &cfg, errbuf, errlen);
	if (rc != 0)
		return rc == IVI_E_CONFIG ? CW_EX_CONFIG : ivi_err_exit_status(rc);
	rc = ivi_config_validate(cfg, errbuf, errlen);
	if (rc != 0) {
		ivi_config_free(cfg);
		return CW_EX_CONFIG;
	}

	/* The watcher only makes sense for files the server may reload. */
	if (!cfg->tls.enabled || cfg->tls.self_signed || cfg->tls.cert_path == NULL) {
		snprintf(errbuf, errlen,
		    "%s: [api.tls] has no certificate files to watch (enabled = %s, self_signed = %s)",
		    path, cfg->tls.enabled ? "true" : "false", cfg->tls.self_signed ? "true" : "false");
		ivi_config_free(cfg);
		return CW_EX_CONFIG;
	}
	*out = cfg;
	return 0;
}

void
cw_bundle_opts(const struct ivi_config *cfg, struct ivi_bundle_opts *opts)
{
	/* cw_config_open already refused a config without reloadable files. */
	if (ivi_bundle_opts_from_config(cfg, opts) != 0)
		memset(opts, 0, sizeof(*opts));
}

int
cw_key_open(const struct ivi_config *cfg, struct ivi_key **out, char *errbuf, size_t errlen)
{
	int rc;

	rc = ivi_key_load(cfg->control.key_path, out, errbuf, errlen);
	if (rc == 0)
		return 0;
	if (errbuf[0] == '\0')
		snprintf(errbuf, errlen, "control key %s: %s", cfg->control.key_path,
		    ivi_strerror(rc));
	return ivi_err_exit_status(rc);
}

int
cw_set_log_level(const char *name)
{
	enum ivi_log_level level;

	if (ivi_log_parse_level(name, &level) != 0) {
		fprintf(stderr, "%s: invalid log level '%s' (use error, warning, notice, info or debug)\n",
		    CW_PROGRAM, name);
		return CW_EX_USAGE;
	}
	ivi_log_init(CW_PROGRAM, level);
	return 0;
}

void
cw_fail(const char *cmd, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s: %s\n", CW_PROGRAM, cmd, msg);
}

void
cw_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
cw_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*out = timegm(&tm);
	return 0;
}
