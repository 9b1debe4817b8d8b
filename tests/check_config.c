/*
 * Unit tests of config/: the TOML subset reader (every accepted form and
 * every error with its file:line message) and the config model (defaults,
 * ranges, paths, cross-key rules).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ivi_config.h"
#include "ivi_err.h"

/* Parses text as "t.toml" in directory /base; returns the code, err the message. */
static int
parse(const char *text, struct ivi_config **cfg, char *err, size_t errlen)
{
	err[0] = '\0';
	*cfg = NULL;
	return ivi_config_parse("t.toml", "/base", text, strlen(text), cfg, err, errlen);
}

/* Parses text and expects success; fails the test with the message otherwise. */
static struct ivi_config *
parse_ok(const char *text)
{
	struct ivi_config *cfg;
	char err[512];
	int r = parse(text, &cfg, err, sizeof(err));

	ck_assert_msg(r == 0, "parse failed (%d): %s", r, err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* ---- Accepted forms ----------------------------------------------------- */

START_TEST(test_defaults_without_file)
{
	struct ivi_config *cfg = NULL;
	char err[256];

	ck_assert_int_eq(ivi_config_load(NULL, &cfg, err, sizeof(err)), 0);
	ck_assert_ptr_null(cfg->path);
	ck_assert_str_eq(cfg->api.bind, IVI_DEFAULT_BIND);
	ck_assert_int_eq(cfg->api.port, IVI_DEFAULT_PORT_PLAIN);
	ck_assert(!cfg->api.port_set);
	ck_assert_ptr_null(cfg->api.pid_file);
	ck_assert_int_eq(cfg->api.max_connections, IVI_DEFAULT_MAX_CONNECTIONS);
	ck_assert_int_eq(cfg->api.handshake_timeout, IVI_DEFAULT_HANDSHAKE_TIMEOUT_S);
	ck_assert_int_eq(cfg->api.idle_timeout, IVI_DEFAULT_IDLE_TIMEOUT_S);
	ck_assert(!cfg->tls.enabled);
	ck_assert_ptr_null(cfg->tls.cert_path);
	ck_assert_ptr_null(cfg->tls.key_path);
	ck_assert_str_eq(cfg->tls.priority, IVI_DEFAULT_PRIORITY);
	ck_assert_int_eq(cfg->tls.expiry_warn_days, IVI_DEFAULT_EXPIRY_WARN_DAYS);
	ck_assert_int_eq(cfg->tls.clock_skew, IVI_DEFAULT_CLOCK_SKEW_SECONDS);
	ck_assert(!cfg->tls.allow_chain_shrink);
	ck_assert(!cfg->tls.allow_rollback);
	ck_assert(!cfg->audit.enabled);
	ck_assert_str_eq(cfg->control.socket, IVI_DEFAULT_SOCKET);
	ck_assert_str_eq(cfg->control.key_path, IVI_DEFAULT_KEY_PATH);
	ck_assert_ptr_nonnull(cfg->control.allowed_users);
	ck_assert_ptr_null(cfg->control.allowed_users[0]);
	ck_assert_uint_eq(cfg->control.n_allowed_users, 0);
	ck_assert_int_eq(cfg->control.timestamp_window, IVI_DEFAULT_TIMESTAMP_WINDOW);
	ck_assert_int_eq(cfg->certwatch.poll_interval_ms, IVI_DEFAULT_POLL_INTERVAL_MS);
	ck_assert(!cfg->certwatch.force_poll);
	ck_assert_int_eq(cfg->certwatch.settle_ms, IVI_DEFAULT_SETTLE_MS);
	ck_assert_int_eq(cfg->certwatch.retry_max_ms, IVI_DEFAULT_RETRY_MAX_MS);
	ck_assert_int_eq(cfg->certwatch.mismatch_grace, IVI_DEFAULT_MISMATCH_GRACE_S);
	ck_assert_int_eq(ivi_config_validate(cfg, err, sizeof(err)), 0);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_every_key_is_read)
{
	struct ivi_config *cfg = parse_ok(
	    "# comment line\n"
	    "\n"
	    "[api]\n"
	    "bind = \"0.0.0.0\"  # trailing comment\n"
	    "port = 9443\n"
	    "pid_file = \"run/api.pid\"\n"
	    "max_connections = 2_000\n"
	    "handshake_timeout = 5\n"
	    "idle_timeout = +120\n"
	    "[api.tls]\n"
	    "enabled = true\n"
	    "cert_path = \"live/tls.crt\"\n"
	    "key_path = 'live/tls.key'\n"
	    "password_env = \"KEY_PASSWORD\"\n"
	    "self_signed = false\n"
	    "client_required = true\n"
	    "client_ca_path = \"/etc/ivicli/clients.pem\"\n"
	    "crl_path = \"clients.crl\"\n"
	    "trust_ca_path = \"roots.pem\"\n"
	    "priority = \"NORMAL\"\n"
	    "expiry_warn_days = 30\n"
	    "clock_skew = 0\n"
	    "allow_chain_shrink = true\n"
	    "allow_rollback = true\n"
	    "[audit]\n"
	    "enabled = true\n"
	    "path = \"audit.log\"\n"
	    "[control]\n"
	    "socket = \"/run/x.sock\"\n"
	    "key_path = \"ctl.key\"\n"
	    "allowed_users = [\"root\", 1000]\n"
	    "timestamp_window = 60\n"
	    "[certwatch]\n"
	    "poll_interval_ms = 250\n"
	    "force_poll = true\n"
	    "settle_ms = 0\n"
	    "retry_max_ms = 1000\n"
	    "mismatch_grace = 5\n");

	ck_assert_str_eq(cfg->path, "t.toml");
	ck_assert_str_eq(cfg->api.bind, "0.0.0.0");
	ck_assert_int_eq(cfg->api.port, 9443);
	ck_assert(cfg->api.port_set);
	ck_assert_str_eq(cfg->api.pid_file, "/base/run/api.pid");
	ck_assert_int_eq(cfg->api.max_connections, 2000);
	ck_assert_int_eq(cfg->api.handshake_timeout, 5);
	ck_assert_int_eq(cfg->api.idle_timeout, 120);
	ck_assert(cfg->tls.enabled);
	ck_assert_str_eq(cfg->tls.cert_path, "/base/live/tls.crt");
	ck_assert_str_eq(cfg->tls.key_path, "/base/live/tls.key");
	ck_assert_str_eq(cfg->tls.password_env, "KEY_PASSWORD");
	ck_assert(!cfg->tls.self_signed);
	ck_assert(cfg->tls.client_required);
	ck_assert_str_eq(cfg->tls.client_ca_path, "/etc/ivicli/clients.pem");
	ck_assert_str_eq(cfg->tls.crl_path, "/base/clients.crl");
	ck_assert_str_eq(cfg->tls.trust_ca_path, "/base/roots.pem");
	ck_assert_str_eq(cfg->tls.priority, "NORMAL");
	ck_assert_int_eq(cfg->tls.expiry_warn_days, 30);
	ck_assert_int_eq(cfg->tls.clock_skew, 0);
	ck_assert(cfg->tls.allow_chain_shrink);
	ck_assert(cfg->tls.allow_rollback);
	ck_assert(cfg->audit.enabled);
	ck_assert_str_eq(cfg->audit.path, "/base/audit.log");
	ck_assert_str_eq(cfg->control.socket, "/run/x.sock");
	ck_assert_str_eq(cfg->control.key_path, "/base/ctl.key");
	ck_assert_uint_eq(cfg->control.n_allowed_users, 2);
	ck_assert_str_eq(cfg->control.allowed_users[0], "root");
	ck_assert_str_eq(cfg->control.allowed_users[1], "1000");
	ck_assert_ptr_null(cfg->control.allowed_users[2]);
	ck_assert_int_eq(cfg->control.timestamp_window, 60);
	ck_assert_int_eq(cfg->certwatch.poll_interval_ms, 250);
	ck_assert(cfg->certwatch.force_poll);
	ck_assert_int_eq(cfg->certwatch.settle_ms, 0);
	ck_assert_int_eq(cfg->certwatch.retry_max_ms, 1000);
	ck_assert_int_eq(cfg->certwatch.mismatch_grace, 5);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_string_escapes_decode)
{
	struct ivi_config *cfg = parse_ok(
	    "[api]\n"
	    "bind = \"q\\\"b\\\\s\\tt\\nn\\u00e9\\U0001F600\\b\\f\\r\"\n"
	    "[api.tls]\n"
	    "priority = 'C:\\raw\\\"'\n");

	ck_assert_str_eq(cfg->api.bind, "q\"b\\s\tt\nn\xc3\xa9\xf0\x9f\x98\x80\b\f\r");
	ck_assert_str_eq(cfg->tls.priority, "C:\\raw\\\"");
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_integer_forms)
{
	struct ivi_config *cfg = parse_ok(
	    "[api]\nport = 0\nmax_connections = 1_0_0\n[api.tls]\nclock_skew = -0\n"
	    "expiry_warn_days = +7\n");

	ck_assert_int_eq(cfg->api.port, 0);
	ck_assert(cfg->api.port_set);
	ck_assert_int_eq(cfg->api.max_connections, 100);
	ck_assert_int_eq(cfg->tls.clock_skew, 0);
	ck_assert_int_eq(cfg->tls.expiry_warn_days, 7);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_array_spans_lines)
{
	struct ivi_config *cfg = parse_ok(
	    "[control]\n"
	    "allowed_users = [  # who may reload\n"
	    "\n"
	    "  \"alice\",   # operator\n"
	    "  0,\n"
	    "  'bob.smith' ,\n"
	    "]\n"
	    "timestamp_window = 10\n");

	ck_assert_uint_eq(cfg->control.n_allowed_users, 3);
	ck_assert_str_eq(cfg->control.allowed_users[0], "alice");
	ck_assert_str_eq(cfg->control.allowed_users[1], "0");
	ck_assert_str_eq(cfg->control.allowed_users[2], "bob.smith");
	ck_assert_int_eq(cfg->control.timestamp_window, 10);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_empty_array_means_default)
{
	struct ivi_config *cfg = parse_ok("[control]\nallowed_users = []\n");

	ck_assert_uint_eq(cfg->control.n_allowed_users, 0);
	ck_assert_ptr_nonnull(cfg->control.allowed_users);
	ck_assert_ptr_null(cfg->control.allowed_users[0]);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_crlf_bom_and_blanks)
{
	struct ivi_config *cfg = parse_ok(
	    "\xef\xbb\xbf# saved on Windows\r\n\r\n  [ api . tls ]  \r\n\tenabled\t=\ttrue\r\n"
	    "self_signed = true # no file\r\n[api]\r\nbind = \"::1\"");

	ck_assert(cfg->tls.enabled);
	ck_assert(cfg->tls.self_signed);
	ck_assert_str_eq(cfg->api.bind, "::1");
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_port_default_follows_tls)
{
	struct ivi_config *cfg = parse_ok("[api.tls]\nenabled = true\nself_signed = true\n");

	ck_assert_int_eq(cfg->api.port, IVI_DEFAULT_PORT_TLS);
	ck_assert(!cfg->api.port_set);
	cfg->tls.enabled = false;
	ck_assert_int_eq(ivi_config_default_port(cfg), IVI_DEFAULT_PORT_PLAIN);
	cfg->api.port = 1234;
	cfg->api.port_set = true;
	ck_assert_int_eq(ivi_config_default_port(cfg), 1234);
	ivi_config_free(cfg);

	cfg = parse_ok("[api]\nport = 8080\n[api.tls]\nenabled = true\nself_signed = true\n");
	ck_assert_int_eq(cfg->api.port, 8080);
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_relative_paths_without_base)
{
	struct ivi_config *cfg = NULL;
	const char *text = "[api.tls]\ncert_path = \"a/b.pem\"\n";
	char err[256];

	ck_assert_int_eq(ivi_config_parse("x.toml", NULL, text, strlen(text), &cfg, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(cfg->tls.cert_path, "a/b.pem");
	ivi_config_free(cfg);
}
END_TEST

START_TEST(test_pkcs12_names)
{
	ck_assert(ivi_config_is_pkcs12_path("/a/tls.p12"));
	ck_assert(ivi_config_is_pkcs12_path("TLS.PFX"));
	ck_assert(ivi_config_is_pkcs12_path("x.P12"));
	ck_assert(!ivi_config_is_pkcs12_path("tls.pem"));
	ck_assert(!ivi_config_is_pkcs12_path("p12"));
	ck_assert(!ivi_config_is_pkcs12_path(".p1"));
	ck_assert(!ivi_config_is_pkcs12_path(NULL));
}
END_TEST

START_TEST(test_default_path_from_environment)
{
	unsetenv(IVI_CONFIG_ENV);
	ck_assert_str_eq(ivi_config_default_path(), IVI_DEFAULT_CONFIG_PATH);
	setenv(IVI_CONFIG_ENV, "", 1);
	ck_assert_str_eq(ivi_config_default_path(), IVI_DEFAULT_CONFIG_PATH);
	setenv(IVI_CONFIG_ENV, "/srv/ivicli.toml", 1);
	ck_assert_str_eq(ivi_config_default_path(), "/srv/ivicli.toml");
	unsetenv(IVI_CONFIG_ENV);
}
END_TEST

START_TEST(test_set_string_copies)
{
	char *slot = NULL;
	char value[] = "abc";

	ck_assert_int_eq(ivi_config_set_string(&slot, value), 0);
	value[0] = 'x';
	ck_assert_str_eq(slot, "abc");
	ck_assert_int_eq(ivi_config_set_string(&slot, NULL), 0);
	ck_assert_ptr_null(slot);
	ivi_config_free(NULL);
}
END_TEST

/* ---- Files -------------------------------------------------------------- */

static char tmpdir[PATH_MAX];

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/ivicli-check-config.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
remove_tmpdir(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_load_resolves_paths_against_file_directory)
{
	struct ivi_config *cfg = NULL;
	char path[PATH_MAX + 32], sub[PATH_MAX + 8], want[PATH_MAX + 64], real[PATH_MAX];
	char err[512];

	make_tmpdir();
	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/etc/config.toml", tmpdir);
	write_file(path, "[api.tls]\nenabled = true\ncert_path = \"live/tls.crt\"\n"
	    "key_path = \"/abs/tls.key\"\n");
	ck_assert_int_eq(ivi_config_load(path, &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_ptr_nonnull(realpath(sub, real));
	snprintf(want, sizeof(want), "%s/live/tls.crt", real);
	ck_assert_str_eq(cfg->tls.cert_path, want);
	ck_assert_str_eq(cfg->tls.key_path, "/abs/tls.key");
	ck_assert_int_eq(ivi_config_validate(cfg, err, sizeof(err)), 0);
	ivi_config_free(cfg);
	remove_tmpdir();
}
END_TEST

START_TEST(test_load_reports_file_and_line)
{
	struct ivi_config *cfg = NULL;
	char path[PATH_MAX + 32], want[PATH_MAX + 128], err[512];

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/config.toml", tmpdir);
	write_file(path, "[api]\nport = 8443\n\n[api.tls]\ncrt_path = \"x\"\n");
	ck_assert_int_eq(ivi_config_load(path, &cfg, err, sizeof(err)), IVI_E_CONFIG);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof(want),
	    "%s:5: unknown key 'crt_path' in [api.tls] (did you mean 'cert_path'?)", path);
	ck_assert_str_eq(err, want);
	remove_tmpdir();
}
END_TEST

START_TEST(test_load_missing_file)
{
	struct ivi_config *cfg = NULL;
	char err[512];

	ck_assert_int_eq(ivi_config_load("/nonexistent/ivicli/config.toml", &cfg, err,
	    sizeof(err)), IVI_E_FILE_MISSING);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "/nonexistent/ivicli/config.toml: cannot open config file (No "
	    "such file or directory)");
}
END_TEST

START_TEST(test_load_directory_rejected)
{
	struct ivi_config *cfg = NULL;
	char err[512];

	ck_assert_int_eq(ivi_config_load("/", &cfg, err, sizeof(err)), IVI_E_CONFIG);
	ck_assert_str_eq(err, "/: config file is not a regular file");
}
END_TEST

START_TEST(test_load_too_big)
{
	struct ivi_config *cfg = NULL;
	const char *line = "# padding line\n";
	char path[PATH_MAX + 32], err[512];
	FILE *f;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/big.toml", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t written = 0; written <= IVI_CONFIG_MAX_FILE; written += strlen(line))
		fputs(line, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(ivi_config_load(path, &cfg, err, sizeof(err)), IVI_E_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "config file larger than 1048576 bytes"));
	remove_tmpdir();
}
END_TEST

/*
 * A file without read permission. Root reads it anyway, so the load runs in
 * a child that drops to uid 65534 (nobody) first; without root the caller
 * itself lacks the permission.
 */
START_TEST(test_load_permission_denied)
{
	char path[PATH_MAX + 32];
	pid_t pid;
	int status;

	make_tmpdir();
	ck_assert_int_eq(chmod(tmpdir, 0711), 0);
	snprintf(path, sizeof(path), "%s/secret.toml", tmpdir);
	write_file(path, "[api]\n");
	ck_assert_int_eq(chmod(path, 0), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ivi_config *cfg = NULL;
		char err[512];

		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(2);
		_exit(ivi_config_load(path, &cfg, err, sizeof(err)) == IVI_E_FILE_PERMISSION &&
		    strstr(err, "Permission denied") != NULL ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	remove_tmpdir();
}
END_TEST

/* ---- Errors ------------------------------------------------------------- */

struct bad_input {
	const char *text;
	const char *message; /* exact errbuf, file t.toml */
};

static const struct bad_input bad_inputs[] = {
	/* Keys and tables. */
	{"[api.tls]\ncrt_path = \"x\"\n",
	    "t.toml:2: unknown key 'crt_path' in [api.tls] (did you mean 'cert_path'?)"},
	{"[api]\nlisten = 1\n", "t.toml:2: unknown key 'listen' in [api]"},
	{"[api]\n\n[tls]\n",
	    "t.toml:3: unknown table [tls] (known tables: [api], [api.tls], [audit], [control], "
	    "[certwatch])"},
	{"port = 80\n",
	    "t.toml:1: key 'port' outside any table; keys belong under [api], [api.tls], "
	    "[audit], [control] or [certwatch]"},
	{"[api]\nport = 1\n# again\nport = 2\n",
	    "t.toml:4: duplicate key 'port' in [api] (first set on line 2)"},
	{"[api]\nport = 1\n[audit]\n[api]\n",
	    "t.toml:4: duplicate table [api] (first defined on line 1)"},
	{"[api]\nport = \"80\"\n", "t.toml:2: key 'port' in [api] must be an integer, not a string"},
	{"[api.tls]\nenabled = \"yes\"\n",
	    "t.toml:2: key 'enabled' in [api.tls] must be a boolean (true or false), not a string"},
	{"[api.tls]\ncert_path = 5\n",
	    "t.toml:2: key 'cert_path' in [api.tls] must be a string, not an integer"},
	{"[control]\nallowed_users = \"root\"\n",
	    "t.toml:2: key 'allowed_users' in [control] must be an array of user names or uids, "
	    "not a string"},
	{"[api]\nbind = [\"a\"]\n", "t.toml:2: key 'bind' in [api] must be a string, not an array"},
	{"[api]\nport = 70000\n",
	    "t.toml:2: key 'port' in [api] must be between 0 and 65535, not 70000"},
	{"[api]\nport = -1\n", "t.toml:2: key 'port' in [api] must be between 0 and 65535, not -1"},
	{"[api]\nhandshake_timeout = 0\n",
	    "t.toml:2: key 'handshake_timeout' in [api] must be between 1 and 3600, not 0"},
	{"[certwatch]\npoll_interval_ms = 5\n",
	    "t.toml:2: key 'poll_interval_ms' in [certwatch] must be between 10 and 86400000, "
	    "not 5"},
	{"[api]\nbind = \"\"\n",
	    "t.toml:2: key 'bind' in [api] is empty; remove the line to use the default"},
	{"[api.tls]\npassword_env = \"s3cret!\"\n",
	    "t.toml:2: key 'password_env' in [api.tls] must name an environment variable "
	    "(letters, digits, '_'), not hold the password itself"},
	{"[control]\nallowed_users = [\"ok\", \"bad user\"]\n",
	    "t.toml:2: key 'allowed_users' in [control]: element 2 is not a valid user name"},
	{"[control]\nallowed_users = [-5]\n",
	    "t.toml:2: key 'allowed_users' in [control]: uid -5 out of range"},
	{"[control]\nsocket = \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"\n",
	    "t.toml:2: key 'socket' in [control]: path longer than 107 bytes, the limit of a Unix "
	    "socket address"},
	/* Unsupported TOML. */
	{"[api]\nbind = { a = 1 }\n", "t.toml:2: unsupported TOML: inline tables"},
	{"[api]\nport = 1.5\n", "t.toml:2: unsupported TOML: floating-point numbers"},
	{"[api]\nport = 1e3\n", "t.toml:2: unsupported TOML: floating-point numbers"},
	{"[api]\nport = inf\n", "t.toml:2: unsupported TOML: floating-point numbers"},
	{"[api]\nport = -nan\n", "t.toml:2: unsupported TOML: floating-point numbers"},
	{"[api]\nport = 1979-05-27\n", "t.toml:2: unsupported TOML: dates and times"},
	{"[api]\nport = 07:32:00\n", "t.toml:2: unsupported TOML: dates and times"},
	{"[api]\nport = 0x1F\n", "t.toml:2: unsupported TOML: hexadecimal, octal and binary integers"},
	{"[api]\nport = 0o17\n", "t.toml:2: unsupported TOML: hexadecimal, octal and binary integers"},
	{"[api]\nbind = \"\"\"x\"\"\"\n", "t.toml:2: unsupported TOML: multi-line strings"},
	{"[api]\nbind = '''x'''\n", "t.toml:2: unsupported TOML: multi-line strings"},
	{"[api]\n[[api.tls]]\n", "t.toml:2: unsupported TOML: arrays of tables ([[...]])"},
	{"[api]\ntls.enabled = true\n",
	    "t.toml:2: unsupported TOML: dotted keys (write a [table] header instead)"},
	{"[api]\n\"port\" = 1\n", "t.toml:2: unsupported TOML: quoted keys"},
	{"[\"api\"]\n", "t.toml:1: unsupported TOML: quoted keys and table names"},
	{"[control]\nallowed_users = [[1]]\n", "t.toml:2: unsupported TOML: nested arrays"},
	{"[control]\nallowed_users = [true]\n",
	    "t.toml:2: unsupported TOML: arrays may hold only strings and integers"},
	/* Malformed TOML. */
	{"[api]\nbind = localhost\n",
	    "t.toml:2: invalid value starting with 'l' (strings need quotes)"},
	{"[api.tls]\nenabled = True\n",
	    "t.toml:2: invalid value starting with 'T' (strings need quotes)"},
	{"[api.tls]\nenabled = truth\n",
	    "t.toml:2: invalid value (booleans are lowercase true or false)"},
	{"[api]\nport =\n", "t.toml:2: missing value after '='"},
	{"[api]\nport = # none\n", "t.toml:2: missing value after '='"},
	{"[api]\nport 80\n", "t.toml:2: expected '=' after key 'port', found '8'"},
	{"[api]\nport = 80 81\n", "t.toml:2: expected the end of the line, found '8'"},
	{"[api]\nbind = \"a\" \"b\"\n", "t.toml:2: expected the end of the line, found '\"'"},
	{"[api\n", "t.toml:1: expected ']' to close the table name [api"},
	{"[]\n", "t.toml:1: expected a table name, found ']'"},
	{"[api.]\n", "t.toml:1: expected a table name, found ']'"},
	{"[api] x\n", "t.toml:1: expected the end of the line, found 'x'"},
	{"= 1\n", "t.toml:1: expected a key or a [table] header, found '='"},
	{"[api]\nbind = \"open\n", "t.toml:2: string is not closed on the line it starts"},
	{"[api]\nbind = 'open\n", "t.toml:2: string is not closed on the line it starts"},
	{"[api]\nbind = \"a\\qb\"\n",
	    "t.toml:2: invalid escape sequence in string: backslash followed by 'q'"},
	{"[api]\nbind = \"\\u12\"\n", "t.toml:2: escape \\u needs 4 hexadecimal digits"},
	{"[api]\nbind = \"\\u0000\"\n", "t.toml:2: escape \\u0000 is not allowed (NUL byte)"},
	{"[api]\nbind = \"\\ud800\"\n",
	    "t.toml:2: escape names U+D800, which is not a Unicode scalar value"},
	{"[api]\nbind = \"\\U00110000\"\n",
	    "t.toml:2: escape names U+110000, which is not a Unicode scalar value"},
	{"[api]\nbind = \"a\x01" "b\"\n", "t.toml:2: control character 0x01 in a string; use an escape"},
	{"[api]\n# bell \x07\n", "t.toml:2: control character 0x07 in a comment"},
	{"[api]\r\nport = 1\rbind = \"x\"\n", "t.toml:2: carriage return without a line feed"},
	{"[api]\nport = 99999999999999999999\n", "t.toml:2: integer out of range"},
	{"[api]\nport = 0080\n", "t.toml:2: invalid integer: leading zeros are not allowed"},
	{"[api]\nport = 1__0\n", "t.toml:2: invalid integer: '_' must sit between two digits"},
	{"[api]\nport = 10_\n", "t.toml:2: invalid integer: '_' must sit between two digits"},
	{"[api]\nport = 80abc\n", "t.toml:2: invalid integer"},
	{"[api]\nport = +\n", "t.toml:2: invalid integer"},
	{"[control]\nallowed_users = [\"a\" \"b\"]\n",
	    "t.toml:2: expected ',' or ']' in an array, found '\"'"},
	{"[control]\nallowed_users = [\"a\",\n\"b\"\n", "t.toml:4: array is not closed with ']'"},
	{"[control]\nallowed_users = [,]\n",
	    "t.toml:2: invalid value starting with ',' (strings need quotes)"},
	{"[api]\nbind = \"\xc3\x28\"\n", "t.toml:2: invalid UTF-8 byte 0xc3"},
	{"[api]\nbind = \"\xed\xa0\x80\"\n", "t.toml:2: invalid UTF-8 byte 0xed"},
	{"[api]\n\nbind = \"\xe0\x80\xaf\"\n", "t.toml:3: invalid UTF-8 byte 0xe0"},
	{"[api]\nbind = \"\xff\"\n", "t.toml:2: invalid UTF-8 byte 0xff"},
	{"[api]\nbind = \"\x80\"\n", "t.toml:2: invalid UTF-8 byte 0x80"},
	{"[api]\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1\n",
	    "t.toml:2: key longer than 64 bytes"},
	{"[api]\nbind = \"@\"\n\n\n" "\xfe\xff", "t.toml:5: invalid UTF-8 byte 0xfe"},
};

START_TEST(test_parse_rejects)
{
	const struct bad_input *bad = &bad_inputs[_i];
	struct ivi_config *cfg;
	char err[512];
	int r;

	r = parse(bad->text, &cfg, err, sizeof(err));
	ck_assert_msg(r == IVI_E_CONFIG, "input %d accepted (%d): %s", _i, r, bad->text);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, bad->message);
}
END_TEST

START_TEST(test_parse_rejects_nul_byte)
{
	static const char text[] = "[api]\nbind = \"a\0b\"\n";
	struct ivi_config *cfg = NULL;
	char err[256];

	ck_assert_int_eq(ivi_config_parse("t.toml", NULL, text, sizeof(text) - 1, &cfg, err,
	    sizeof(err)), IVI_E_CONFIG);
	ck_assert_str_eq(err, "t.toml:2: NUL byte (is the file UTF-16 encoded?)");
}
END_TEST

START_TEST(test_parse_reads_only_len_bytes)
{
	static const char text[] = "[api]\nport = 8443\nport = 1";
	struct ivi_config *cfg = NULL;
	char err[256];

	/* The duplicate line lies past len, so it is never seen. */
	ck_assert_int_eq(ivi_config_parse("t.toml", NULL, text, 17, &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg->api.port, 8443);
	ivi_config_free(cfg);
}
END_TEST

/* ---- Cross-key rules ------------------------------------------------------ */

struct rule_case {
	const char *text;
	const char *message; /* exact errbuf of ivi_config_validate, "" when valid */
};

static const struct rule_case rule_cases[] = {
	{"[api.tls]\nenabled = true\ncert_path = \"a.pem\"\nkey_path = \"a.key\"\n", ""},
	{"[api.tls]\nenabled = true\ncert_path = \"a.P12\"\npassword_env = \"P\"\n", ""},
	{"[api.tls]\nenabled = true\nself_signed = true\n", ""},
	{"[api.tls]\nenabled = true\nself_signed = true\nclient_required = true\n"
	    "client_ca_path = \"ca.pem\"\ncrl_path = \"c.crl\"\n", ""},
	{"[api.tls]\nenabled = false\n", ""},
	{"[api.tls]\nenabled = true\n",
	    "t.toml:2: TLS is enabled but [api.tls] has no certificate source; set cert_path (and "
	    "key_path) or self_signed = true"},
	{"[api.tls]\nenabled = true\ncert_path = \"a.pem\"\nkey_path = \"a.key\"\n"
	    "self_signed = true\n",
	    "t.toml:5: [api.tls] has two certificate sources, cert_path and self_signed = true; "
	    "keep one"},
	{"[api.tls]\nenabled = true\nself_signed = true\nkey_path = \"a.key\"\n",
	    "t.toml:4: key_path is set but self_signed = true generates its own key; remove "
	    "key_path"},
	{"[api.tls]\nenabled = true\nself_signed = true\npassword_env = \"P\"\n",
	    "t.toml:4: password_env is set but self_signed = true has no key file; remove "
	    "password_env"},
	{"[api.tls]\nenabled = true\nself_signed = true\ntrust_ca_path = \"r.pem\"\n",
	    "t.toml:4: trust_ca_path is set but a self-signed certificate cannot verify to it; "
	    "remove trust_ca_path"},
	{"[api.tls]\ncert_path = \"a.pem\"\nkey_path = \"a.key\"\n",
	    "t.toml:2: cert_path is set in [api.tls] but TLS is disabled; set enabled = true or "
	    "remove cert_path"},
	{"[api.tls]\nenabled = false\n\npriority = \"NORMAL\"\n",
	    "t.toml:4: priority is set in [api.tls] but TLS is disabled; set enabled = true or "
	    "remove priority"},
	{"[api.tls]\nclock_skew = 300\n",
	    "t.toml:2: clock_skew is set in [api.tls] but TLS is disabled; set enabled = true or "
	    "remove clock_skew"},
	{"[api.tls]\nenabled = true\ncert_path = \"a.pem\"\n",
	    "t.toml:3: cert_path is a PEM file but key_path is not set; set key_path, or name a "
	    "PKCS#12 file with a .p12 or .pfx extension"},
	{"[api.tls]\nenabled = true\ncert_path = \"a.pfx\"\nkey_path = \"a.key\"\n",
	    "t.toml:4: key_path is set but cert_path names a PKCS#12 file (.p12/.pfx), which holds "
	    "the key; remove key_path"},
	{"[api.tls]\nenabled = true\nself_signed = true\nclient_required = true\n",
	    "t.toml:4: client_required = true needs client_ca_path, the CA bundle that client "
	    "certificates are verified against"},
	{"[api.tls]\nenabled = true\nself_signed = true\ncrl_path = \"c.crl\"\n",
	    "t.toml:4: crl_path is set without client_ca_path; the CRL only applies to client "
	    "certificates"},
	{"[api.tls]\nenabled = true\nself_signed = true\npriority = \"NORMAL:+NOPE\"\n",
	    "t.toml:4: priority string is invalid at \"+NOPE\""},
	{"[audit]\nenabled = true\n",
	    "t.toml:2: [audit] enabled = true needs path, the file audit lines are appended to"},
	{"[certwatch]\nsettle_ms = 5000\nretry_max_ms = 1000\n",
	    "t.toml:3: [certwatch] retry_max_ms (1000) is smaller than settle_ms (5000)"},
};

START_TEST(test_validate_rules)
{
	const struct rule_case *rc = &rule_cases[_i];
	struct ivi_config *cfg = parse_ok(rc->text);
	char err[512] = "";
	int r;

	r = ivi_config_validate(cfg, err, sizeof(err));
	if (rc->message[0] == '\0') {
		ck_assert_msg(r == 0, "case %d rejected: %s", _i, err);
	} else {
		ck_assert_int_eq(r, IVI_E_CONFIG);
		ck_assert_str_eq(err, rc->message);
	}
	ivi_config_free(cfg);
}
END_TEST

/* Rules also hold for values set after loading, as command-line overrides do. */
START_TEST(test_validate_after_overrides)
{
	struct ivi_config *cfg = NULL;
	char err[512];

	ck_assert_int_eq(ivi_config_load(NULL, &cfg, err, sizeof(err)), 0);
	cfg->tls.enabled = true;
	ck_assert_int_eq(ivi_config_validate(cfg, err, sizeof(err)), IVI_E_CONFIG);
	ck_assert_str_eq(err, "configuration: TLS is enabled but [api.tls] has no certificate "
	    "source; set cert_path (and key_path) or self_signed = true");
	ck_assert_int_eq(ivi_config_set_string(&cfg->tls.cert_path, "/x/tls.p12"), 0);
	ck_assert_int_eq(ivi_config_validate(cfg, err, sizeof(err)), 0);
	cfg->tls.enabled = false;
	ck_assert_int_eq(ivi_config_validate(cfg, err, sizeof(err)), IVI_E_CONFIG);
	ck_assert_str_eq(err, "configuration: cert_path is set in [api.tls] but TLS is disabled; "
	    "set enabled = true or remove cert_path");
	ivi_config_free(cfg);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("accepted");
	tcase_add_test(tc, test_defaults_without_file);
	tcase_add_test(tc, test_every_key_is_read);
	tcase_add_test(tc, test_string_escapes_decode);
	tcase_add_test(tc, test_integer_forms);
	tcase_add_test(tc, test_array_spans_lines);
	tcase_add_test(tc, test_empty_array_means_default);
	tcase_add_test(tc, test_crlf_bom_and_blanks);
	tcase_add_test(tc, test_port_default_follows_tls);
	tcase_add_test(tc, test_relative_paths_without_base);
	tcase_add_test(tc, test_pkcs12_names);
	tcase_add_test(tc, test_default_path_from_environment);
	tcase_add_test(tc, test_set_string_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load_resolves_paths_against_file_directory);
	tcase_add_test(tc, test_load_reports_file_and_line);
	tcase_add_test(tc, test_load_missing_file);
	tcase_add_test(tc, test_load_directory_rejected);
	tcase_add_test(tc, test_load_too_big);
	tcase_add_test(tc, test_load_permission_denied);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_parse_rejects, 0,
	    (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])));
	tcase_add_test(tc, test_parse_rejects_nul_byte);
	tcase_add_test(tc, test_parse_reads_only_len_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_loop_test(tc, test_validate_rules, 0,
	    (int)(sizeof(rule_cases) / sizeof(rule_cases[0])));
	tcase_add_test(tc, test_validate_after_overrides);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
