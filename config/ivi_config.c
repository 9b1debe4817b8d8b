/*
 * The config.toml model: every key ivicli reads, with its type, range and
 * default, filled from the events of the TOML reader (ivi_toml.c), and the
 * cross-key rules of ivi_config_validate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "ivi_config.h"
#include "ivi_err.h"
#include "ivi_toml.h"

enum key_kind {
	KIND_STRING,  /* non-empty string */
	KIND_PATH,    /* string; relative values are joined to the config directory */
	KIND_ENVNAME, /* string naming an environment variable */
	KIND_BOOL,
	KIND_INT,     /* integer in [min, max] */
	KIND_USERS,   /* array of user names or numeric uids */
};

/* Index of each key in key_specs, also used for struct ivi_config_origin. */
enum key_index {
	K_API_BIND,
	K_API_PORT,
	K_API_PID_FILE,
	K_API_MAX_CONNECTIONS,
	K_API_HANDSHAKE_TIMEOUT,
	K_API_IDLE_TIMEOUT,
	K_TLS_ENABLED,
	K_TLS_CERT_PATH,
	K_TLS_KEY_PATH,
	K_TLS_PASSWORD_ENV,
	K_TLS_SELF_SIGNED,
	K_TLS_CLIENT_REQUIRED,
	K_TLS_CLIENT_CA_PATH,
	K_TLS_CRL_PATH,
	K_TLS_TRUST_CA_PATH,
	K_TLS_PRIORITY,
	K_TLS_EXPIRY_WARN_DAYS,
	K_TLS_CLOCK_SKEW,
	K_TLS_ALLOW_CHAIN_SHRINK,
	K_TLS_ALLOW_ROLLBACK,
	K_AUDIT_ENABLED,
	K_AUDIT_PATH,
	K_CONTROL_SOCKET,
	K_CONTROL_KEY_PATH,
	K_CONTROL_ALLOWED_USERS,
	K_CONTROL_TIMESTAMP_WINDOW,
	K_CW_POLL_INTERVAL_MS,
	K_CW_FORCE_POLL,
	K_CW_SETTLE_MS,
	K_CW_RETRY_MAX_MS,
	K_CW_MISMATCH_GRACE,
	K_COUNT
};

struct key_spec {
	const char *table;
	const char *key;
	enum key_kind kind;
	size_t offset; /* of the field in struct ivi_config */
	long long min;
	long long max;
};

#define FIELD(f) offsetof(struct ivi_config, f)

static const struct key_spec key_specs[K_COUNT] = {
	[K_API_BIND] = {"api", "bind", KIND_STRING, FIELD(api.bind), 0, 0},
	[K_API_PORT] = {"api", "port", KIND_INT, FIELD(api.port), 0, 65535},
	[K_API_PID_FILE] = {"api", "pid_file", KIND_PATH, FIELD(api.pid_file), 0, 0},
	[K_API_MAX_CONNECTIONS] = {"api", "max_connections", KIND_INT,
	    FIELD(api.max_connections), 1, 1000000},
	[K_API_HANDSHAKE_TIMEOUT] = {"api", "handshake_timeout", KIND_INT,
	    FIELD(api.handshake_timeout), 1, 3600},
	[K_API_IDLE_TIMEOUT] = {"api", "idle_timeout", KIND_INT, FIELD(api.idle_timeout), 1,
	    86400},
	[K_TLS_ENABLED] = {"api.tls", "enabled", KIND_BOOL, FIELD(tls.enabled), 0, 0},
	[K_TLS_CERT_PATH] = {"api.tls", "cert_path", KIND_PATH, FIELD(tls.cert_path), 0, 0},
	[K_TLS_KEY_PATH] = {"api.tls", "key_path", KIND_PATH, FIELD(tls.key_path), 0, 0},
	[K_TLS_PASSWORD_ENV] = {"api.tls", "password_env", KIND_ENVNAME,
	    FIELD(tls.password_env), 0, 0},
	[K_TLS_SELF_SIGNED] = {"api.tls", "self_signed", KIND_BOOL, FIELD(tls.self_signed), 0,
	    0},
	[K_TLS_CLIENT_REQUIRED] = {"api.tls", "client_required", KIND_BOOL,
	    FIELD(tls.client_required), 0, 0},
	[K_TLS_CLIENT_CA_PATH] = {"api.tls", "client_ca_path", KIND_PATH,
	    FIELD(tls.client_ca_path), 0, 0},
	[K_TLS_CRL_PATH] = {"api.tls", "crl_path", KIND_PATH, FIELD(tls.crl_path), 0, 0},
	[K_TLS_TRUST_CA_PATH] = {"api.tls", "trust_ca_path", KIND_PATH,
	    FIELD(tls.trust_ca_path), 0, 0},
	[K_TLS_PRIORITY] = {"api.tls", "priority", KIND_STRING, FIELD(tls.priority), 0, 0},
	[K_TLS_EXPIRY_WARN_DAYS] = {"api.tls", "expiry_warn_days", KIND_INT,
	    FIELD(tls.expiry_warn_days), 0, 3650},
	[K_TLS_CLOCK_SKEW] = {"api.tls", "clock_skew", KIND_INT, FIELD(tls.clock_skew), 0,
	    86400},
	[K_TLS_ALLOW_CHAIN_SHRINK] = {"api.tls", "allow_chain_shrink", KIND_BOOL,
	    FIELD(tls.allow_chain_shrink), 0, 0},
	[K_TLS_ALLOW_ROLLBACK] = {"api.tls", "allow_rollback", KIND_BOOL,
	    FIELD(tls.allow_rollback), 0, 0},
	[K_AUDIT_ENABLED] = {"audit", "enabled", KIND_BOOL, FIELD(audit.enabled), 0, 0},
	[K_AUDIT_PATH] = {"audit", "path", KIND_PATH, FIELD(audit.path), 0, 0},
	[K_CONTROL_SOCKET] = {"control", "socket", KIND_PATH, FIELD(control.socket), 0, 0},
	[K_CONTROL_KEY_PATH] = {"control", "key_path", KIND_PATH, FIELD(control.key_path), 0,
	    0},
	[K_CONTROL_ALLOWED_USERS] = {"control", "allowed_users", KIND_USERS,
	    FIELD(control.allowed_users), 0, 0},
	[K_CONTROL_TIMESTAMP_WINDOW] = {"control", "timestamp_window", KIND_INT,
	    FIELD(control.timestamp_window), 1, 3600},
	[K_CW_POLL_INTERVAL_MS] = {"certwatch", "poll_interval_ms", KIND_INT,
	    FIELD(certwatch.poll_interval_ms), 10, 86400000},
	[K_CW_FORCE_POLL] = {"certwatch", "force_poll", KIND_BOOL, FIELD(certwatch.force_poll),
	    0, 0},
	[K_CW_SETTLE_MS] = {"certwatch", "settle_ms", KIND_INT, FIELD(certwatch.settle_ms), 0,
	    60000},
	[K_CW_RETRY_MAX_MS] = {"certwatch", "retry_max_ms", KIND_INT,
	    FIELD(certwatch.retry_max_ms), 100, 86400000},
	[K_CW_MISMATCH_GRACE] = {"certwatch", "mismatch_grace", KIND_INT,
	    FIELD(certwatch.mismatch_grace), 0, 86400},
};

static const char *const known_tables[] = {"api", "api.tls", "audit", "control", "certwatch"};

struct ivi_config_origin {
	unsigned line[K_COUNT]; /* 0 when the key was not in the file */
};

struct parse_ctx {
	struct ivi_config *cfg;
	const char *base_dir;
};

/* ---- Defaults ---------------------------------------------------------- */

static struct ivi_config *
config_new_defaults(void)
{
	struct ivi_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->origin = calloc(1, sizeof(*cfg->origin));
	cfg->api.bind = strdup(IVI_DEFAULT_BIND);
	cfg->tls.priority = strdup(IVI_DEFAULT_PRIORITY);
	cfg->control.socket = strdup(IVI_DEFAULT_SOCKET);
	cfg->control.key_path = strdup(IVI_DEFAULT_KEY_PATH);
	cfg->control.allowed_users = calloc(1, sizeof(char *));
	if (cfg->origin == NULL || cfg->api.bind == NULL || cfg->tls.priority == NULL ||
	    cfg->control.socket == NULL || cfg->control.key_path == NULL ||
	    cfg->control.allowed_users == NULL) {
		ivi_config_free(cfg);
		return NULL;
	}
	cfg->api.port = IVI_DEFAULT_PORT_PLAIN;
	cfg->api.max_connections = IVI_DEFAULT_MAX_CONNECTIONS;
	cfg->api.handshake_timeout = IVI_DEFAULT_HANDSHAKE_TIMEOUT_S;
	cfg->api.idle_timeout = IVI_DEFAULT_IDLE_TIMEOUT_S;
	cfg->tls.expiry_warn_days = IVI_DEFAULT_EXPIRY_WARN_DAYS;
	cfg->tls.clock_skew = IVI_DEFAULT_CLOCK_SKEW_SECONDS;
	cfg->control.timestamp_window = IVI_DEFAULT_TIMESTAMP_WINDOW;
	cfg->certwatch.poll_interval_ms = IVI_DEFAULT_POLL_INTERVAL_MS;
	cfg->certwatch.settle_ms = IVI_DEFAULT_SETTLE_MS;
	cfg->certwatch.retry_max_ms = IVI_DEFAULT_RETRY_MAX_MS;
	cfg->certwatch.mismatch_grace = IVI_DEFAULT_MISMATCH_GRACE_S;
	return cfg;
}

static void
free_users(char **users)
{
	for (size_t i = 0; users != NULL && users[i] != NULL; i++)
		free(users[i]);
	free(users);
}

void
ivi_config_free(struct ivi_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->api.bind);
	free(cfg->api.pid_file);
	free(cfg->tls.cert_path);
	free(cfg->tls.key_path);
	free(cfg->tls.password_env);
	free(cfg->tls.client_ca_path);
	free(cfg->tls.crl_path);
	free(cfg->tls.trust_ca_path);
	free(cfg->tls.priority);
	free(cfg->audit.path);
	free(cfg->control.socket);
	free(cfg->control.key_path);
	free_users(cfg->control.allowed_users);
	free(cfg->origin);
	free(cfg);
}

int
ivi_config_set_string(char **slot, const char *value)
{
	char *copy = NULL;

	if (value != NULL) {
		copy = strdup(value);
		if (copy == NULL)
			return IVI_E_NOMEM;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

/* ---- Key handling ------------------------------------------------------ */

/* Returns the Levenshtein distance of a and b, capped at 9. */
static unsigned
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[IVI_TOML_MAX_NAME + 1];

	if (la > IVI_TOML_MAX_NAME || lb > IVI_TOML_MAX_NAME)
		return 9;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > 9 ? 9 : row[lb];
}

/* Writes " (did you mean 'x'?)" for the closest known key of table, or "". */
static void
suggest_key(const char *table, const char *key, char *out, size_t outlen)
{
	const char *best = NULL;
	unsigned best_distance = 3;

	out[0] = '\0';
	for (size_t i = 0; i < K_COUNT; i++) {
		unsigned d;

		if (strcmp(key_specs[i].table, table) != 0)
			continue;
		d = edit_distance(key, key_specs[i].key);
		if (d < best_distance) {
			best_distance = d;
			best = key_specs[i].key;
		}
	}
	if (best != NULL)
		snprintf(out, outlen, " (did you mean '%s'?)", best);
}

static int
config_on_table(void *ctx, const char *table, unsigned line, char *msg, size_t msglen)
{
	for (size_t i = 0; i < sizeof(known_tables) / sizeof(known_tables[0]); i++) {
		if (strcmp(known_tables[i], table) == 0)
			return 0;
	}
	snprintf(msg, msglen,
	    "unknown table [%s] (known tables: [api], [api.tls], [audit], [control], "
	    "[certwatch])",
	    table);
	return IVI_E_CONFIG;
}

static const char *
type_name(enum ivi_toml_type type)
{
	switch (type) {
	case IVI_TOML_STRING:
		return "a string";
	case IVI_TOML_INTEGER:
		return "an integer";
	case IVI_TOML_BOOLEAN:
		return "a boolean";
	case IVI_TOML_ARRAY:
		return "an array";
	}
	return "a value";
}

static const char *
kind_name(enum key_kind kind)
{
	switch (kind) {
	case KIND_STRING:
	case KIND_PATH:
	case KIND_ENVNAME:
		return "a string";
	case KIND_BOOL:
		return "a boolean (true or false)";
	case KIND_INT:
		return "an integer";
	case KIND_USERS:
		return "an array of user names or uids";
	}
	return "a value";
}

/* Joins a relative path to base_dir; stores a new string in *out. */
static int
resolve_path(const char *base_dir, const char *value, char **out)
{
	size_t dir_len, value_len;
	char *joined;

	if (value[0] == '/' || base_dir == NULL) {
		*out = strdup(value);
		return *out == NULL ? IVI_E_NOMEM : 0;
	}
	dir_len = strlen(base_dir);
	value_len = strlen(value);
	if (dir_len + 1 + value_len + 1 > PATH_MAX)
		return IVI_E_CONFIG;
	joined = malloc(dir_len + 1 + value_len + 1);
	if (joined == NULL)
		return IVI_E_NOMEM;
	memcpy(joined, base_dir, dir_len);
	joined[dir_len] = '/';
	memcpy(joined + dir_len + 1, value, value_len + 1);
	*out = joined;
	return 0;
}

static bool
is_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s != '\0'; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

/* True when s is usable as a user name: no blanks, colons, slashes or control bytes. */
static bool
is_user_name(const char *s)
{
	if (*s == '\0' || *s == '-')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f || c == ':' || c == '/' || c == ',')
			return false;
	}
	return true;
}

static int
store_users(const struct ivi_toml_value *v, struct ivi_config *cfg, char *msg, size_t msglen)
{
	char **users = calloc(v->n_items + 1, sizeof(char *));

	if (users == NULL)
		return IVI_E_NOMEM;
	for (size_t i = 0; i < v->n_items; i++) {
		const struct ivi_toml_value *item = &v->items[i];
		char number[24];

		if (item->type == IVI_TOML_INTEGER) {
			if (item->integer < 0 || item->integer >= 4294967295LL) {
				snprintf(msg, msglen,
				    "key 'allowed_users' in [control]: uid %lld out of range",
				    item->integer);
				free_users(users);
				return IVI_E_CONFIG;
			}
			snprintf(number, sizeof(number), "%lld", item->integer);
			users[i] = strdup(number);
		} else {
			if (!is_user_name(item->string)) {
				snprintf(msg, msglen,
				    "key 'allowed_users' in [control]: element %zu is not a valid "
				    "user name",
				    i + 1);
				free_users(users);
				return IVI_E_CONFIG;
			}
			users[i] = strdup(item->string);
		}
		if (users[i] == NULL) {
			free_users(users);
			return IVI_E_NOMEM;
		}
	}
	free_users(cfg->control.allowed_users);
	cfg->control.allowed_users = users;
	cfg->control.n_allowed_users = v->n_items;
	return 0;
}

/* Stores a string-kind value into its slot, checking its form. */
static int
store_string(const struct parse_ctx *pc, const struct key_spec *spec,
    const struct ivi_toml_value *v, char *msg, size_t msglen)
{
	char **slot = (char **)((char *)pc->cfg + spec->offset);
	char *copy = NULL;
	int r;

	if (v->string[0] == '\0') {
		snprintf(msg, msglen,
		    "key '%s' in [%s] is empty; remove the line to use the default", spec->key,
		    spec->table);
		return IVI_E_CONFIG;
	}
	if (spec->kind == KIND_ENVNAME && !is_env_name(v->string)) {
		snprintf(msg, msglen,
		    "key '%s' in [%s] must name an environment variable (letters, digits, "
		    "'_'), not hold the password itself",
		    spec->key, spec->table);
		return IVI_E_CONFIG;
	}
	if (spec->kind == KIND_PATH)
		r = resolve_path(pc->base_dir, v->string, &copy);
	else
		r = (copy = strdup(v->string)) == NULL ? IVI_E_NOMEM : 0;
	if (r == IVI_E_CONFIG)
		snprintf(msg, msglen, "key '%s' in [%s]: path too long", spec->key, spec->table);
	if (r < 0)
		return r;
	if (spec->offset == FIELD(control.socket) &&
	    strlen(copy) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		snprintf(msg, msglen,
		    "key 'socket' in [control]: path longer than %zu bytes, the limit of a Unix "
		    "socket address",
		    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		free(copy);
		return IVI_E_CONFIG;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

static int
config_on_key(void *ctx, const char *table, const char *key, const struct ivi_toml_value *v,
    unsigned line, char *msg, size_t msglen)
{
	struct parse_ctx *pc = ctx;
	const struct key_spec *spec = NULL;
	enum ivi_toml_type want;
	char hint[64];
	size_t idx;

	for (idx = 0; idx < K_COUNT; idx++) {
		if (strcmp(key_specs[idx].table, table) == 0 &&
		    strcmp(key_specs[idx].key, key) == 0) {
			spec = &key_specs[idx];
			break;
		}
	}
	if (spec == NULL) {
		if (table[0] == '\0') {
			snprintf(msg, msglen,
			    "key '%s' outside any table; keys belong under [api], [api.tls], "
			    "[audit], [control] or [certwatch]",
			    key);
			return IVI_E_CONFIG;
		}
		suggest_key(table, key, hint, sizeof(hint));
		snprintf(msg, msglen, "unknown key '%s' in [%s]%s", key, table, hint);
		return IVI_E_CONFIG;
	}

	switch (spec->kind) {
	case KIND_BOOL:
		want = IVI_TOML_BOOLEAN;
		break;
	case KIND_INT:
		want = IVI_TOML_INTEGER;
		break;
	case KIND_USERS:
		want = IVI_TOML_ARRAY;
		break;
	default:
		want = IVI_TOML_STRING;
		break;
	}
	if (v->type != want) {
		snprintf(msg, msglen, "key '%s' in [%s] must be %s, not %s", key, table,
		    kind_name(spec->kind), type_name(v->type));
		return IVI_E_CONFIG;
	}
	pc->cfg->origin->line[idx] = line;

	switch (spec->kind) {
	case KIND_BOOL:
		*(bool *)((char *)pc->cfg + spec->offset) = v->boolean;
		return 0;
	case KIND_INT:
		if (v->integer < spec->min || v->integer > spec->max) {
			snprintf(msg, msglen, "key '%s' in [%s] must be between %lld and %lld, not %lld",
			    key, table, spec->min, spec->max, v->integer);
			return IVI_E_CONFIG;
		}
		*(int *)((char *)pc->cfg + spec->offset) = (int)v->integer;
		if (idx == K_API_PORT)
			pc->cfg->api.port_set = true;
		return 0;
	case KIND_USERS:
		return store_users(v, pc->cfg, msg, msglen);
	default:
		return store_string(pc, spec, v, msg, msglen);
	}
}

/* ---- Loading ----------------------------------------------------------- */

int
ivi_config_default_port(const struct ivi_config *cfg)
{
	if (cfg->api.port_set)
		return cfg->api.port;
	return cfg->tls.enabled ? IVI_DEFAULT_PORT_TLS : IVI_DEFAULT_PORT_PLAIN;
}

const char *
ivi_config_default_path(void)
{
	const char *env = getenv(IVI_CONFIG_ENV);

	return env != NULL && env[0] != '\0' ? env : IVI_DEFAULT_CONFIG_PATH;
}

int
ivi_config_parse(const char *name, const char *base_dir, const char *buf, size_t len,
    struct ivi_config **out, char *errbuf, size_t errlen)
{
	static const struct ivi_toml_handler handler = {config_on_table, config_on_key};
	struct parse_ctx pc;
	struct ivi_config *cfg;
	int r;

	cfg = config_new_defaults();
	if (cfg == NULL) {
		snprintf(errbuf, errlen, "%s: out of memory", name);
		return IVI_E_NOMEM;
	}
	pc.cfg = cfg;
	pc.base_dir = base_dir;
	r = ivi_toml_parse(name, buf, len, &handler, &pc, errbuf, errlen);
	if (r == 0)
		r = ivi_config_set_string(&cfg->path, name);
	if (r < 0) {
		if (r == IVI_E_NOMEM)
			snprintf(errbuf, errlen, "%s: out of memory", name);
		ivi_config_free(cfg);
		return r;
	}
	cfg->api.port = ivi_config_default_port(cfg);
	*out = cfg;
	return 0;
}

/* Reads a whole config file of at most IVI_CONFIG_MAX_FILE bytes. */
static int
read_config_file(const char *path, char **out, size_t *outlen, char *errbuf, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;

		snprintf(errbuf, errlen, "%s: cannot open config file (%s)", path, strerror(e));
		if (e == ENOENT || e == ENOTDIR)
			return IVI_E_FILE_MISSING;
		return e == EACCES || e == EPERM ? IVI_E_FILE_PERMISSION : IVI_E_CONFIG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s: config file is not a regular file", path);
		r = IVI_E_CONFIG;
		goto out;
	}
	buf = malloc(IVI_CONFIG_MAX_FILE + 1);
	if (buf == NULL) {
		r = IVI_E_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, IVI_CONFIG_MAX_FILE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen, "%s: cannot read config file (%s)", path,
			    strerror(errno));
			r = IVI_E_CONFIG;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > IVI_CONFIG_MAX_FILE) {
			snprintf(errbuf, errlen, "%s: config file larger than %d bytes", path,
			    IVI_CONFIG_MAX_FILE);
			r = IVI_E_CONFIG;
			goto out;
		}
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

/* Returns the absolute directory of path in a new string, or NULL. */
static char *
config_directory(const char *path)
{
	char *copy = strdup(path);
	char *slash, *dir;

	if (copy == NULL)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		free(copy);
		return realpath(".", NULL);
	}
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	dir = realpath(copy, NULL);
	free(copy);
	return dir;
}

int
ivi_config_load(const char *path, struct ivi_config **out, char *errbuf, size_t errlen)
{
	struct ivi_config *cfg;
	char *buf = NULL, *dir = NULL;
	size_t len = 0;
	int r;

	if (path == NULL) {
		cfg = config_new_defaults();
		if (cfg == NULL)
			return IVI_E_NOMEM;
		*out = cfg;
		return 0;
	}
	r = read_config_file(path, &buf, &len, errbuf, errlen);
	if (r < 0)
		goto out;
	dir = config_directory(path);
	if (dir == NULL) {
		snprintf(errbuf, errlen, "%s: cannot resolve the directory of the config file (%s)",
		    path, strerror(errno));
		r = errno == ENOMEM ? IVI_E_NOMEM : IVI_E_CONFIG;
		goto out;
	}
	r = ivi_config_parse(path, dir, buf, len, out, errbuf, errlen);
out:
	free(dir);
	free(buf);
	return r;
}

/* ---- Cross-key rules --------------------------------------------------- */

/* Writes "FILE:LINE: message" (or "FILE: message") for key idx and returns IVI_E_CONFIG. */
static int __attribute__((format(printf, 5, 6)))
rule_failed(const struct ivi_config *cfg, enum key_index idx, char *errbuf, size_t errlen,
    const char *fmt, ...)
{
	const char *name = cfg->path != NULL ? cfg->path : "configuration";
	unsigned line = cfg->origin != NULL ? cfg->origin->line[idx] : 0;
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line != 0)
		snprintf(errbuf, errlen, "%s:%u: %s", name, line, msg);
	else
		snprintf(errbuf, errlen, "%s: %s", name, msg);
	return IVI_E_CONFIG;
}

bool
ivi_config_is_pkcs12_path(const char *path)
{
	size_t len = path != NULL ? strlen(path) : 0;

	return len >= 4 && (strcasecmp(path + len - 4, ".p12") == 0 ||
	    strcasecmp(path + len - 4, ".pfx") == 0);
}

/* True when key idx appeared in the file. */
static bool
key_in_file(const struct ivi_config *cfg, enum key_index idx)
{
	return cfg->origin != NULL && cfg->origin->line[idx] != 0;
}

/* Returns the first [api.tls] key that is set, other than enabled, or K_COUNT. */
static enum key_index
first_tls_option(const struct ivi_config *cfg)
{
	const struct ivi_config_tls *t = &cfg->tls;

	for (int i = K_TLS_ENABLED + 1; i <= K_TLS_ALLOW_ROLLBACK; i++) {
		if (key_in_file(cfg, (enum key_index)i))
			return (enum key_index)i;
	}
	if (t->cert_path != NULL)
		return K_TLS_CERT_PATH;
	if (t->key_path != NULL)
		return K_TLS_KEY_PATH;
	if (t->password_env != NULL)
		return K_TLS_PASSWORD_ENV;
	if (t->self_signed)
		return K_TLS_SELF_SIGNED;
	if (t->client_required)
		return K_TLS_CLIENT_REQUIRED;
	if (t->client_ca_path != NULL)
		return K_TLS_CLIENT_CA_PATH;
	if (t->crl_path != NULL)
		return K_TLS_CRL_PATH;
	if (t->trust_ca_path != NULL)
		return K_TLS_TRUST_CA_PATH;
	return K_COUNT;
}

static int
validate_certificate_source(const struct ivi_config *cfg, char *errbuf, size_t errlen)
{
	const struct ivi_config_tls *t = &cfg->tls;

	if (t->cert_path == NULL && !t->self_signed)
		return rule_failed(cfg, K_TLS_ENABLED, errbuf, errlen,
		    "TLS is enabled but [api.tls] has no certificate source; set cert_path "
		    "(and key_path) or self_signed = true");
	if (t->cert_path != NULL && t->self_signed)
		return rule_failed(cfg, K_TLS_SELF_SIGNED, errbuf, errlen,
		    "[api.tls] has two certificate sources, cert_path and self_signed = true; "
		    "keep one");
	if (t->self_signed) {
		if (t->key_path != NULL)
			return rule_failed(cfg, K_TLS_KEY_PATH, errbuf, errlen,
			    "key_path is set but self_signed = true generates its own key; "
			    "remove key_path");
		if (t->password_env != NULL)
			return rule_failed(cfg, K_TLS_PASSWORD_ENV, errbuf, errlen,
			    "password_env is set but self_signed = true has no key file; remove "
			    "password_env");
		if (t->trust_ca_path != NULL)
			return rule_failed(cfg, K_TLS_TRUST_CA_PATH, errbuf, errlen,
			    "trust_ca_path is set but a self-signed certificate cannot verify to "
			    "it; remove trust_ca_path");
		return 0;
	}
	if (ivi_config_is_pkcs12_path(t->cert_path) && t->key_path != NULL)
		return rule_failed(cfg, K_TLS_KEY_PATH, errbuf, errlen,
		    "key_path is set but cert_path names a PKCS#12 file (.p12/.pfx), which "
		    "holds the key; remove key_path");
	if (!ivi_config_is_pkcs12_path(t->cert_path) && t->key_path == NULL)
		return rule_failed(cfg, K_TLS_CERT_PATH, errbuf, errlen,
		    "cert_path is a PEM file but key_path is not set; set key_path, or name a "
		    "PKCS#12 file with a .p12 or .pfx extension");
	return 0;
}

int
ivi_config_validate(const struct ivi_config *cfg, char *errbuf, size_t errlen)
{
	const struct ivi_config_tls *t = &cfg->tls;
	int r;

	if (!t->enabled) {
		enum key_index idx = first_tls_option(cfg);

		if (idx != K_COUNT)
			return rule_failed(cfg, idx, errbuf, errlen,
			    "%s is set in [api.tls] but TLS is disabled; set enabled = true or "
			    "remove %s",
			    key_specs[idx].key, key_specs[idx].key);
	} else {
		r = validate_certificate_source(cfg, errbuf, errlen);
		if (r < 0)
			return r;
		if (t->client_required && t->client_ca_path == NULL)
			return rule_failed(cfg, K_TLS_CLIENT_REQUIRED, errbuf, errlen,
			    "client_required = true needs client_ca_path, the CA bundle that "
			    "client certificates are verified against");
		if (t->crl_path != NULL && t->client_ca_path == NULL)
			return rule_failed(cfg, K_TLS_CRL_PATH, errbuf, errlen,
			    "crl_path is set without client_ca_path; the CRL only applies to "
			    "client certificates");
		if (t->priority != NULL) {
			gnutls_priority_t prio = NULL;
			const char *where = NULL;

			if (gnutls_priority_init(&prio, t->priority, &where) < 0)
				return rule_failed(cfg, K_TLS_PRIORITY, errbuf, errlen,
				    "priority string is invalid at \"%.40s\"",
				    where != NULL ? where : t->priority);
			gnutls_priority_deinit(prio);
		}
	}
	if (cfg->audit.enabled && cfg->audit.path == NULL)
		return rule_failed(cfg, K_AUDIT_ENABLED, errbuf, errlen,
		    "[audit] enabled = true needs path, the file audit lines are appended to");
	if (cfg->certwatch.retry_max_ms < cfg->certwatch.settle_ms)
		return rule_failed(cfg, K_CW_RETRY_MAX_MS, errbuf, errlen,
		    "[certwatch] retry_max_ms (%d) is smaller than settle_ms (%d)",
		    cfg->certwatch.retry_max_ms, cfg->certwatch.settle_ms);
	return 0;
}
