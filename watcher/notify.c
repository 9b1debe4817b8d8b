/*
 * `ivicli-certwatch notify`: one-shot reload for ACME post-renewal hooks
 * (certbot --deploy-hook, acme.sh --reloadcmd, lego --renew-hook). Prints
 * one line and exits 0 when the server serves the configured files, or
 * one line with the reason and a sysexits(3) status otherwise, so the
 * ACME client reports the failure.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivi_bundle.h"
#include "ivi_log.h"
#include "cli.h"
#include "commands.h"
#include "ctl.h"
#include "hookenv.h"

#define NOTIFY_STALE_TRIES 3   /* re-reads after stale_fingerprint responses */

static void
notify_usage(FILE *out)
{
	fprintf(out, "usage: %s notify [--config FILE] [--log-level LEVEL]\n", CW_PROGRAM);
}

/* Parses the options. Returns 0, -1 after --help, or 64. */
static int
notify_parse(int argc, char **argv, const char **config_option)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config_option = optarg;
			break;
		case 'l':
			if (cw_set_log_level(optarg) != 0)
				return CW_EX_USAGE;
			break;
		case 'h':
			notify_usage(stdout);
			return -1;
		default:
			notify_usage(stderr);
			return CW_EX_USAGE;
		}
	}
	if (optind != argc) {
		notify_usage(stderr);
		return CW_EX_USAGE;
	}
	return 0;
}

/* Logs which ACME client called and for which domains, when its variables name them. */
static void
notify_log_caller(const char *client)
{
	const char *domains = getenv("RENEWED_DOMAINS");

	if (domains == NULL)
		domains = getenv("LEGO_CERT_DOMAIN");
	if (domains == NULL)
		domains = getenv("Le_Domain");
	if (client != NULL)
		log_info("notify: called as the %s hook for %s", client,
		    domains != NULL ? domains : "(no domain given)");
}

/* Loads and validates the configured set. Returns 0 or a sysexits status. */
static int
notify_validate(const struct ivi_config *cfg, struct ivi_bundle **out)
{
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err;
	int rc;

	cw_bundle_opts(cfg, &opts);
	memset(&err, 0, sizeof(err));
	rc = ivi_bundle_load(&opts, out, &err);
	if (rc == 0)
		return 0;
	cw_fail("notify", "%s: %s (%s); nothing sent to the server",
	    err.file[0] != '\0' ? err.file : cfg->tls.cert_path, err.message, ivi_err_code(rc));
	return ivi_err_exit_status(rc);
}

/*
 * Sends the reload and prints the outcome. Returns 0, a sysexits status,
 * or -1 when the server responded stale_fingerprint and a re-read may help.
 */
static int
notify_send(const struct ivi_config *cfg, const struct ivi_key *key,
    const struct ivi_bundle_desc *d, const char *client)
{
	struct cw_reply ans;
	char reason[128];
	int rc;

	snprintf(reason, sizeof(reason), "ivicli-certwatch notify%s%s", client != NULL ? " from " : "",
	    client != NULL ? client : "");
	rc = cw_ctl_reload(cfg, key, d->fingerprint, reason, CW_CALL_TIMEOUT_MS, &ans);
	if (rc != 0) {
		cw_fail("notify", "server not reachable on %s (%s: %s); serial %s not loaded",
		    cfg->control.socket, ivi_err_code(rc), ivi_strerror(rc), d->serial);
		return ivi_err_exit_status(rc);
	}
	if (ans.ok) {
		printf("%s: serving serial %s, not after %s, generation %lld\n",
		    ans.changed ? "reloaded" : "unchanged", ans.served.serial, ans.served.not_after,
		    ans.generation);
		rc = 0;
	} else if (ans.err == IVI_E_STALE_FINGERPRINT) {
		rc = -1;
	} else {
		cw_fail("notify", "server rejected serial %s (%s: %s)", d->serial, ans.code,
		    ans.message);
		rc = ivi_err_exit_status(ans.err);
	}
	cw_reply_clear(&ans);
	return rc;
}

int
cmd_notify(int argc, char **argv)
{
	const char *config_option = NULL, *client = NULL;
	struct ivi_config *cfg = NULL;
	struct ivi_key *key = NULL;
	struct ivi_bundle *b = NULL;
	char errbuf[1024] = "";
	int rc, tries;

	ivi_log_init(CW_PROGRAM, IVI_LOG_WARNING);
	rc = notify_parse(argc, argv, &config_option);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = cw_config_open(config_option, &cfg, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cw_fail("notify", "%s", errbuf);
		return rc;
	}

	/* A hook environment that names the wrong files fails before the server hears of it. */
	rc = cw_hookenv_check(cfg, &client, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cw_fail("notify", "%s; nothing sent to the server", errbuf);
		goto out;
	}
	notify_log_caller(client);
	rc = cw_key_open(cfg, &key, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cw_fail("notify", "%s", errbuf);
		goto out;
	}
	for (tries = 0; tries <= NOTIFY_STALE_TRIES; tries++) {
		rc = notify_validate(cfg, &b);
		if (rc != 0)
			goto out;
		rc = notify_send(cfg, key, ivi_bundle_describe(b), client);
		ivi_bundle_free(b);
		b = NULL;
		if (rc >= 0)
			goto out;
	}
	cw_fail("notify", "the files kept changing while the server read them "
	    "(stale_fingerprint %d times); run notify again when the writer is done",
	    NOTIFY_STALE_TRIES + 1);
	rc = CW_EX_TEMPFAIL;
out:
	ivi_key_free(key);
	ivi_config_free(cfg);
	return rc;
}
