/*
 * ivicli-certwatch check [--config FILE] [--json]: loads and validates the
 * configured certificate bundle exactly as the server would before a
 * reload, prints its description, and sends nothing.
 *
 * The config file is --config FILE, else $IVICLI_CONFIG, else
 * /etc/ivicli/config.toml. Exit status: 0 valid, 65 invalid, 66 a file is
 * missing, 77 permission denied, 78 config error, 64 usage.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "ivi_bundle.h"
#include "ivi_config.h"
#include "ivi_err.h"

static void
check_usage(FILE *out)
{
	fprintf(out,
	    "usage: %s check [--config FILE] [--json]\n"
	    "Validates the certificate files of [api.tls] and prints what they hold.\n"
	    "  --config FILE  config file (default: $%s, else %s)\n"
	    "  --json         print one JSON object instead of text\n",
	    CW_PROGRAM, IVI_CONFIG_ENV, IVI_DEFAULT_CONFIG_PATH);
}

/* Prints the description as "field: value" lines, warnings last. */
static void
print_text(const struct ivi_config *cfg, const struct ivi_bundle_desc *d)
{
	char nb[IVI_BUNDLE_TIME_LEN], na[IVI_BUNDLE_TIME_LEN], crl[IVI_BUNDLE_TIME_LEN];

	ivi_bundle_format_time(d->not_before, nb);
	ivi_bundle_format_time(d->not_after, na);
	if (d->crl_next_update != 0)
		ivi_bundle_format_time(d->crl_next_update, crl);
	else
		snprintf(crl, sizeof(crl), "none");

	printf("cert_path:       %s\n", cfg->tls.cert_path);
	printf("key_path:        %s\n",
	    cfg->tls.key_path != NULL ? cfg->tls.key_path : "(inside the PKCS#12 file)");
	printf("subject:         %s\n", d->subject);
	printf("issuer:          %s\n", d->issuer);
	printf("serial:          %s\n", d->serial);
	printf("sans:            %s\n", d->sans[0] != '\0' ? d->sans : "none");
	printf("not_before:      %s\n", nb);
	printf("not_after:       %s\n", na);
	printf("key_type:        %s\n", d->key_type);
	printf("key_bits:        %u\n", d->key_bits);
	printf("fingerprint:     %s\n", d->fingerprint);
	printf("content_hash:    %s\n", d->content_hash);
	printf("chain_length:    %u\n", d->chain_len);
	printf("client_ca_count: %u\n", d->client_ca_count);
	printf("crl_next_update: %s\n", crl);
	printf("expiring_soon:   %s\n", d->expiring_soon ? "yes" : "no");
	for (size_t i = 0; i < d->n_warnings; i++) {
		char text[1024];

		ivi_bundle_desc_warning(d, i, text, sizeof(text));
		printf("warning:         %s\n", text);
	}
}

static int
print_json(const struct ivi_bundle_desc *d)
{
	cJSON *obj = ivi_bundle_desc_to_json(d);
	char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	if (text == NULL) {
		cw_fail("check", "out of memory");
		return CW_EX_SOFTWARE;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

int
cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ivi_config *cfg = NULL;
	struct ivi_bundle *bundle = NULL;
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err;
	const char *config_option = NULL;
	char errbuf[1024];
	bool json = false;
	int c, rc;

	optind = 0; /* GNU getopt: start over, as main may have parsed before */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:jh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_option = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			cw_fail("check", "invalid option '%s'", argv[optind - 1]);
			check_usage(stderr);
			return CW_EX_USAGE;
		}
	}
	if (optind < argc) {
		cw_fail("check", "unexpected argument '%s'", argv[optind]);
		check_usage(stderr);
		return CW_EX_USAGE;
	}

	rc = cw_config_open(config_option, &cfg, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cw_fail("check", "%s", errbuf);
		return rc;
	}
	cw_bundle_opts(cfg, &opts);
	memset(&err, 0, sizeof(err));
	rc = ivi_bundle_load(&opts, &bundle, &err);
	if (rc < 0) {
		cw_fail("check", "%s: %s (%s)", err.file[0] != '\0' ? err.file : cfg->tls.cert_path,
		    err.message, ivi_err_code(rc));
		rc = ivi_err_exit_status(rc);
		goto out;
	}
	if (json)
		rc = print_json(ivi_bundle_describe(bundle));
	else
		print_text(cfg, ivi_bundle_describe(bundle));
out:
	ivi_bundle_free(bundle);
	ivi_config_free(cfg);
	return rc;
}
