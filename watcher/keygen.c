/* `ivicli-certwatch keygen`: writes the control key shared with the server. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "ivi_proto.h"
#include "cli.h"
#include "commands.h"

static void
keygen_usage(FILE *out)
{
	fprintf(out, "usage: %s keygen [--config FILE] [--force]\n", CW_PROGRAM);
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_option = NULL;
	struct ivi_config *cfg = NULL;
	char errbuf[1024] = "";
	bool force = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_option = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			keygen_usage(stdout);
			return 0;
		default:
			keygen_usage(stderr);
			return CW_EX_USAGE;
		}
	}
	if (optind != argc) {
		keygen_usage(stderr);
		return CW_EX_USAGE;
	}

	/* Only [control] key_path matters here, so TLS settings are not required. */
	rc = ivi_config_load(cw_config_path(config_option), &cfg, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cw_fail("keygen", "%s", errbuf);
		return rc == IVI_E_CONFIG ? CW_EX_CONFIG : ivi_err_exit_status(rc);
	}
	rc = ivi_key_generate(cfg->control.key_path, force, errbuf, sizeof(errbuf));
	if (rc != 0) {
		if (rc == IVI_E_KEY_EXISTS)
			cw_fail("keygen", "%s already exists; use --force to replace it "
			    "(the server and every watcher must then use the new key)",
			    cfg->control.key_path);
		else
			cw_fail("keygen", "%s", errbuf[0] != '\0' ? errbuf : ivi_strerror(rc));
		rc = ivi_err_exit_status(rc);
		goto out;
	}
	printf("wrote a new control key to %s (mode 0600)\n", cfg->control.key_path);
out:
	ivi_config_free(cfg);
	return rc;
}
