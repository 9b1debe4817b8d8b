/*
 * `ivicli-certwatch status`: what the server serves and whether it is the
 * valid set on disk. Exit status: 0 when they match, 75 when they differ
 * (a reload is due), 69 when the server is not reachable, and the
 * loader's status (65, 66, 77) when the files on disk are not valid.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ivi_bundle.h"
#include "ivi_log.h"
#include "cli.h"
#include "commands.h"
#include "ctl.h"

/* Everything status reports, gathered before it is printed. */
struct status_report {
	int server_rc;               /* transport error, 0 when the server responded */
	struct cw_reply ans;
	struct ivi_bundle *disk;     /* NULL when the files are not valid */
	struct ivi_bundle_error disk_err;
	int disk_rc;
	bool match;
};

static void
status_usage(FILE *out)
{
	fprintf(out, "usage: %s status [--config FILE] [--json] [--log-level LEVEL]\n", CW_PROGRAM);
}

/* Parses the options. Returns 0, -1 after --help, or 64. */
static int
status_parse(int argc, char **argv, const char **config_option, bool *json)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jl:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config_option = optarg;
			break;
		case 'j':
			*json = true;
			break;
		case 'l':
			if (cw_set_log_level(optarg) != 0)
				return CW_EX_USAGE;
			break;
		case 'h':
			status_usage(stdout);
			return -1;
		default:
			status_usage(stderr);
			return CW_EX_USAGE;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return CW_EX_USAGE;
	}
	return 0;
}

static void
status_gather(const struct ivi_config *cfg, const struct ivi_key *key, struct status_report *r)
{
	struct ivi_bundle_opts opts;

	cw_bundle_opts(cfg, &opts);
	r->disk_rc = ivi_bundle_load(&opts, &r->disk, &r->disk_err);
	if (r->disk_rc != 0)
		r->disk_err.code = r->disk_rc;
	r->server_rc = cw_ctl_status(cfg, key, CW_CALL_TIMEOUT_MS, &r->ans);
	r->match = r->disk != NULL && r->server_rc == 0 && r->ans.ok && r->ans.served.present &&
	    strcmp(r->ans.served.content_hash, ivi_bundle_describe(r->disk)->content_hash) == 0;
}

/* Writes why the server does not serve the set on disk, as a clause for "match: no". */
static void
status_mismatch_reason(const struct status_report *r, char *out, size_t outlen)
{
	const struct cw_served *s = &r->ans.served;
	const struct ivi_bundle_desc *d;

	if (r->disk == NULL) {
		snprintf(out, outlen, "the set on disk is invalid (%s)", ivi_err_code(r->disk_err.code));
		return;
	}
	d = ivi_bundle_describe(r->disk);
	if (r->server_rc != 0)
		snprintf(out, outlen, "the server is not reachable");
	else if (!r->ans.ok)
		snprintf(out, outlen, "the server rejected the status request (%s)", r->ans.code);
	else if (!s->present)
		snprintf(out, outlen, "the server serves no certificate");
	else if (strcmp(s->fingerprint, d->fingerprint) != 0)
		snprintf(out, outlen, "the server serves fingerprint %s, the disk has %s",
		    s->fingerprint, d->fingerprint);
	else
		snprintf(out, outlen, "same certificate, but the server serves content %s and the "
		    "disk has %s (key, client CA or CRL changed)", s->content_hash, d->content_hash);
}

static void
status_print_text(const struct ivi_config *cfg, const struct status_report *r)
{
	const struct cw_served *s = &r->ans.served;
	const struct ivi_bundle_desc *d;
	char na[40], reason[256];

	if (r->server_rc != 0)
		printf("server: not reachable on %s (%s: %s)\n", cfg->control.socket,
		    ivi_err_code(r->server_rc), ivi_strerror(r->server_rc));
	else if (!r->ans.ok)
		printf("server: status rejected (%s: %s)\n", r->ans.code, r->ans.message);
	else if (!s->present)
		printf("server: serves no certificate (generation %lld)\n", r->ans.generation);
	else
		printf("server: serial %s, not after %s, fingerprint %s, content %s, generation %lld\n",
		    s->serial, s->not_after, s->fingerprint, s->content_hash, r->ans.generation);
	if (r->disk == NULL) {
		printf("disk:   not valid: %s (%s: %s)\n",
		    r->disk_err.file[0] != '\0' ? r->disk_err.file : cfg->tls.cert_path,
		    ivi_err_code(r->disk_err.code), r->disk_err.message);
	} else {
		d = ivi_bundle_describe(r->disk);
		cw_format_time(d->not_after, na, sizeof(na));
		printf("disk:   serial %s, not after %s, fingerprint %s, content %s\n", d->serial, na,
		    d->fingerprint, d->content_hash);
	}
	if (r->match) {
		printf("match:  yes\n");
	} else {
		status_mismatch_reason(r, reason, sizeof(reason));
		printf("match:  no, %s\n", reason);
	}
}

/* Adds {"code": ..., "message": ...} under name. */
static void
json_add_error(cJSON *obj, const char *name, const char *code, const char *message)
{
	cJSON *e = cJSON_AddObjectToObject(obj, name);

	if (e == NULL)
		return;
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
}

static int
status_print_json(const struct status_report *r)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL, reason[256];

	if (root == NULL)
		return CW_EX_SOFTWARE;
	if (r->server_rc == 0 && r->ans.ok)
		cJSON_AddItemToObject(root, "server", cJSON_Duplicate(r->ans.result, 1));
	else
		cJSON_AddNullToObject(root, "server");
	if (r->server_rc != 0)
		json_add_error(root, "server_error", ivi_err_code(r->server_rc),
		    ivi_strerror(r->server_rc));
	else if (!r->ans.ok)
		json_add_error(root, "server_error", r->ans.code, r->ans.message);
	if (r->disk != NULL)
		cJSON_AddItemToObject(root, "disk", ivi_bundle_desc_to_json(
		    ivi_bundle_describe(r->disk)));
	else
		cJSON_AddNullToObject(root, "disk");
	if (r->disk == NULL)
		json_add_error(root, "disk_error", ivi_err_code(r->disk_err.code),
		    r->disk_err.message);
	cJSON_AddBoolToObject(root, "match", r->match);
	if (!r->match) {
		status_mismatch_reason(r, reason, sizeof(reason));
		cJSON_AddStringToObject(root, "mismatch_reason", reason);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL)
		return CW_EX_SOFTWARE;
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

/* Maps the report to the documented exit status. */
static int
status_exit(const struct status_report *r)
{
	if (r->disk == NULL)
		return ivi_err_exit_status(r->disk_err.code);
	if (r->server_rc != 0)
		return ivi_err_exit_status(r->server_rc);
	if (!r->ans.ok)
		return ivi_err_exit_status(r->ans.err);
	return r->match ? 0 : CW_EX_TEMPFAIL;
}

int
cmd_status(int argc, char **argv)
{
	const char *config_option = NULL;
	struct ivi_config *cfg = NULL;
	struct ivi_key *key = NULL;
	struct status_report r;
	char errbuf[1024] = "";
	bool json = false;
	int rc;

	ivi_log_init(CW_PROGRAM, IVI_LOG_WARNING);
	memset(&r, 0, sizeof(r));
	rc = status_parse(argc, argv, &config_option, &json);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = cw_config_open(config_option, &cfg, errbuf, sizeof(errbuf));
	if (rc == 0)
		rc = cw_key_open(cfg, &key, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cw_fail("status", "%s", errbuf);
		goto out;
	}
	status_gather(cfg, key, &r);
	if (json)
		rc = status_print_json(&r);
	else
		status_print_text(cfg, &r);
	if (rc == 0)
		rc = status_exit(&r);
out:
	cw_reply_clear(&r.ans);
	ivi_bundle_free(r.disk);
	ivi_key_free(key);
	ivi_config_free(cfg);
	return rc;
}
