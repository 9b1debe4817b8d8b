/*
 * ivicli: the Management API server. `ivicli api start` serves until
 * stopped; `ivicli api stop` stops the server named by the pid file.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ivi_config.h"
#include "ivi_err.h"
#include "ivi_log.h"
#include "pidfile.h"
#include "server.h"

/* Seconds `ivicli api stop` waits by default: the drain grace period plus a margin. */
#define STOP_DEFAULT_TIMEOUT 15

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ivicli api start [--config FILE] [--bind ADDR] [--port N] [--tls]\n"
	    "                        [--tls-cert PATH] [--tls-key PATH] [--tls-password-env NAME]\n"
	    "                        [--tls-self-signed] [--tls-client-required]\n"
	    "                        [--tls-client-ca PATH] [--log-level LEVEL]\n"
	    "                        [--address-file FILE] [--check-config]\n"
	    "       ivicli api stop [--config FILE] [--pid-file FILE] [--timeout SECONDS]\n"
	    "       ivicli --version\n");
}

enum start_opt {
	OPT_CONFIG = 256, OPT_BIND, OPT_PORT, OPT_TLS, OPT_TLS_CERT, OPT_TLS_KEY,
	OPT_TLS_PASSWORD_ENV, OPT_TLS_SELF_SIGNED, OPT_TLS_CLIENT_REQUIRED, OPT_TLS_CLIENT_CA,
	OPT_LOG_LEVEL, OPT_ADDRESS_FILE, OPT_CHECK_CONFIG, OPT_PID_FILE, OPT_TIMEOUT, OPT_HELP,
};

static const struct option start_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-password-env", required_argument, NULL, OPT_TLS_PASSWORD_ENV },
	{ "tls-self-signed", no_argument, NULL, OPT_TLS_SELF_SIGNED },
	{ "tls-client-required", no_argument, NULL, OPT_TLS_CLIENT_REQUIRED },
	{ "tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "address-file", required_argument, NULL, OPT_ADDRESS_FILE },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const struct option stop_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Command-line values of `api start`; NULL or false when not given. */
struct start_args {
	const char *config;
	const char *bind;
	const char *port;
	bool tls;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_password_env;
	bool tls_self_signed;
	bool tls_client_required;
	const char *tls_client_ca;
	const char *log_level;
	const char *address_file;
	bool check_config;
};

/* Parses a decimal integer in [min, max]. Returns 0 or -1. */
static int
parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
start_parse(int argc, char **argv, struct start_args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	optind = 1;
	for (;;) {
		opt = getopt_long(argc, argv, "", start_options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case OPT_CONFIG: a->config = optarg; break;
		case OPT_BIND: a->bind = optarg; break;
		case OPT_PORT: a->port = optarg; break;
		case OPT_TLS: a->tls = true; break;
		case OPT_TLS_CERT: a->tls_cert = optarg; break;
		case OPT_TLS_KEY: a->tls_key = optarg; break;
		case OPT_TLS_PASSWORD_ENV: a->tls_password_env = optarg; break;
		case OPT_TLS_SELF_SIGNED: a->tls_self_signed = true; break;
		case OPT_TLS_CLIENT_REQUIRED: a->tls_client_required = true; break;
		case OPT_TLS_CLIENT_CA: a->tls_client_ca = optarg; break;
		case OPT_LOG_LEVEL: a->log_level = optarg; break;
		case OPT_ADDRESS_FILE: a->address_file = optarg; break;
		case OPT_CHECK_CONFIG: a->check_config = true; break;
		case OPT_HELP: usage(stdout); exit(0);
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ivicli: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	return 0;
}

/*
 * Applies command-line values over the config. Any --tls-* option turns
 * TLS on; --tls-self-signed and --tls-cert replace each other's source.
 */
static int
start_override(struct ivi_config *cfg, const struct start_args *a)
{
	struct ivi_config_tls *tls = &cfg->tls;
	long port;
	int ret = 0;

	if (a->port != NULL) {
		if (parse_int(a->port, 0, 65535, &port) < 0) {
			fprintf(stderr, "ivicli: --port must be a number from 0 to 65535, not '%s'\n",
			    a->port);
			return EX_USAGE;
		}
		cfg->api.port = (int)port;
		cfg->api.port_set = true;
	}
	if (a->bind != NULL)
		ret |= ivi_config_set_string(&cfg->api.bind, a->bind);
	if (a->tls || a->tls_cert != NULL || a->tls_key != NULL || a->tls_password_env != NULL ||
	    a->tls_self_signed || a->tls_client_required || a->tls_client_ca != NULL)
		tls->enabled = true;
	if (a->tls_self_signed) {
		tls->self_signed = true;
		ret |= ivi_config_set_string(&tls->cert_path, NULL);
		ret |= ivi_config_set_string(&tls->key_path, NULL);
	}
	if (a->tls_cert != NULL) {
		tls->self_signed = false;
		ret |= ivi_config_set_string(&tls->cert_path, a->tls_cert);
	}
	if (a->tls_key != NULL)
		ret |= ivi_config_set_string(&tls->key_path, a->tls_key);
	if (a->tls_password_env != NULL)
		ret |= ivi_config_set_string(&tls->password_env, a->tls_password_env);
	if (a->tls_client_required)
		tls->client_required = true;
	if (a->tls_client_ca != NULL)
		ret |= ivi_config_set_string(&tls->client_ca_path, a->tls_client_ca);
	if (ret != 0) {
		fprintf(stderr, "ivicli: out of memory\n");
		return EX_OSERR;
	}
	return 0;
}

/*
 * Returns the config file to read: --config, else $IVICLI_CONFIG, else
 * IVI_DEFAULT_CONFIG_PATH when it exists, else NULL for built-in defaults
 * (so that `ivicli api start --tls-self-signed` works with no file at all).
 */
static const char *
start_config_path(const char *option)
{
	const char *path;

	if (option != NULL)
		return option;
	path = ivi_config_default_path();
	if (getenv(IVI_CONFIG_ENV) == NULL && access(path, F_OK) < 0)
		return NULL;
	return path;
}

/* Loads the config, applies the overrides and validates. Returns 0 or an exit status. */
static int
start_config(const struct start_args *a, struct ivi_config **out)
{
	struct ivi_config *cfg = NULL;
	char errbuf[512] = "";
	int ret, status;

	ret = ivi_config_load(start_config_path(a->config), &cfg, errbuf, sizeof(errbuf));
	if (ret < 0) {
		fprintf(stderr, "ivicli: %s\n", errbuf);
		return ivi_err_exit_status(ret);
	}
	status = start_override(cfg, a);
	if (status != 0)
		goto fail;
	if (!cfg->api.port_set)
		cfg->api.port = ivi_config_default_port(cfg);
	ret = ivi_config_validate(cfg, errbuf, sizeof(errbuf));
	if (ret < 0) {
		fprintf(stderr, "ivicli: %s\n", errbuf);
		status = ivi_err_exit_status(ret);
		goto fail;
	}
	*out = cfg;
	return 0;
fail:
	ivi_config_free(cfg);
	return status;
}

static int
cmd_start(int argc, char **argv)
{
	struct start_args a;
	struct ivi_config *cfg = NULL;
	enum ivi_log_level level = IVI_LOG_NOTICE;
	int status;

	status = start_parse(argc, argv, &a);
	if (status != 0)
		return status;
	if (a.log_level != NULL && ivi_log_parse_level(a.log_level, &level) < 0) {
		fprintf(stderr, "ivicli: --log-level must be error, warning, notice, info or debug, "
		    "not '%s'\n", a.log_level);
		return EX_USAGE;
	}
	ivi_log_init("ivicli", level);
	status = start_config(&a, &cfg);
	if (status != 0)
		return status;
	if (a.check_config)
		status = srv_check_config(cfg);
	else
		status = srv_main(cfg, a.address_file);
	ivi_config_free(cfg);
	return status;
}

/* Returns true when pid no longer runs: gone, or a zombie its parent has not reaped. */
static bool
stop_gone(pid_t pid)
{
	char path[64], stat[256], *paren;
	FILE *f;
	bool zombie = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	if (fgets(stat, sizeof(stat), f) != NULL) {
		paren = strrchr(stat, ')');
		zombie = paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
	}
	fclose(f);
	return zombie;
}

/* Waits up to timeout seconds for pid to exit. Returns true when it did. */
static bool
stop_wait(pid_t pid, long timeout)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	long i;

	for (i = 0; i < timeout * 10; i++) {
		if (stop_gone(pid))
			return true;
		nanosleep(&tick, NULL);
	}
	return false;
}

static int
cmd_stop(int argc, char **argv)
{
	const char *config = NULL, *pid_file = NULL;
	struct ivi_config *cfg = NULL;
	char errbuf[512] = "";
	long timeout = STOP_DEFAULT_TIMEOUT;
	pid_t pid;
	int opt, ret, status = 0;

	optind = 1;
	for (;;) {
		opt = getopt_long(argc, argv, "", stop_options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_PID_FILE: pid_file = optarg; break;
		case OPT_TIMEOUT:
			if (parse_int(optarg, 1, 3600, &timeout) < 0) {
				fprintf(stderr, "ivicli: --timeout must be 1 to 3600 seconds\n");
				return EX_USAGE;
			}
			break;
		case OPT_LOG_LEVEL: break;
		case OPT_HELP: usage(stdout); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (pid_file == NULL && start_config_path(config) != NULL) {
		ret = ivi_config_load(start_config_path(config), &cfg, errbuf, sizeof(errbuf));
		if (ret < 0) {
			fprintf(stderr, "ivicli: %s\n", errbuf);
			return ivi_err_exit_status(ret);
		}
		pid_file = cfg->api.pid_file;
	}
	if (pid_file == NULL) {
		fprintf(stderr, "ivicli: no pid file: pass --pid-file or --config with [api] pid_file\n");
		status = EX_USAGE;
		goto out;
	}

	ret = srv_pidfile_read(pid_file, &pid);
	if (ret < 0 || !srv_pidfile_is_server(pid)) {
		fprintf(stderr, "ivicli: no running server found through pid file %s\n", pid_file);
		status = EX_UNAVAILABLE;
		goto out;
	}
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "ivicli: cannot signal pid %ld (%s)\n", (long)pid, strerror(errno));
		status = errno == EPERM ? EX_NOPERM : EX_OSERR;
		goto out;
	}
	if (!stop_wait(pid, timeout)) {
		fprintf(stderr, "ivicli: pid %ld still running after %ld s\n", (long)pid, timeout);
		status = EX_TEMPFAIL;
	}
out:
	ivi_config_free(cfg);
	return status;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("ivicli %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "api") != 0) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[2], "start") == 0)
		return cmd_start(argc - 2, argv + 2);
	if (strcmp(argv[2], "stop") == 0)
		return cmd_stop(argc - 2, argv + 2);
	fprintf(stderr, "ivicli: unknown api command '%s'\n", argv[2]);
	usage(stderr);
	return EX_USAGE;
}
