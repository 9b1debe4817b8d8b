/* ivicli-certwatch: subcommand dispatch, --help and --version. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "ivi_log.h"
#include "cli.h"
#include "commands.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"watch", cmd_watch, "watch the certificate files and send reloads (long-running)"},
	{"notify", cmd_notify, "validate the files and send one reload (for ACME hooks)"},
	{"status", cmd_status, "show what the server serves and whether it matches the files"},
	{"check", cmd_check, "validate the configured files and print them; send nothing"},
	{"keygen", cmd_keygen, "write a new control key to [control] key_path"},
};

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: %s COMMAND [OPTIONS]\n\ncommands:\n", CW_PROGRAM);
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\nEvery command takes --config FILE (default: $%s, else %s).\n"
	    "See ivicli-certwatch(1).\n", IVI_CONFIG_ENV, IVI_DEFAULT_CONFIG_PATH);
}

int
main(int argc, char **argv)
{
	size_t i;
	int rc;

	ivi_log_init(CW_PROGRAM, IVI_LOG_NOTICE);
	if (argc < 2) {
		usage(stderr);
		return CW_EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", CW_PROGRAM, PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[1], subcommands[i].name) != 0)
			continue;
		if (gnutls_global_init() < 0) {
			fprintf(stderr, "%s: GnuTLS initialisation failed\n", CW_PROGRAM);
			return CW_EX_SOFTWARE;
		}
		rc = subcommands[i].run(argc - 1, argv + 1);
		gnutls_global_deinit();
		return rc;
	}
	fprintf(stderr, "%s: unknown command '%s'\n", CW_PROGRAM, argv[1]);
	usage(stderr);
	return CW_EX_USAGE;
}
