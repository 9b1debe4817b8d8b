/*
 * ivicli configuration: the model of config.toml shared by `ivicli api
 * start` and `ivicli-certwatch`, and its loader.
 *
 * The TOML reader behind it is hand-written because Debian packages no C
 * TOML parser. It accepts only the subset these keys need and rejects
 * everything else with file:line.
 */
#ifndef IVI_CONFIG_H
#define IVI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Defaults, also documented in ivicli.toml(5). */
#define IVI_DEFAULT_BIND "127.0.0.1"
#define IVI_DEFAULT_PORT_PLAIN 8080
#define IVI_DEFAULT_PORT_TLS 8443
/*
 * The groups are NORMAL's, with X25519 moved first: with server precedence
 * and NORMAL's order (SECP256R1 first), every client that sends only an
 * X25519 key share (OpenSSL, curl, Python) needed a HelloRetryRequest.
 */
#define IVI_DEFAULT_PRIORITY \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:" \
	"+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:+GROUP-FFDHE2048:+GROUP-FFDHE3072:" \
	"+GROUP-FFDHE4096:+GROUP-FFDHE6144:+GROUP-FFDHE8192:%SERVER_PRECEDENCE"
#define IVI_DEFAULT_EXPIRY_WARN_DAYS 14
#define IVI_DEFAULT_CLOCK_SKEW_SECONDS 300
#define IVI_DEFAULT_TIMESTAMP_WINDOW 30
#define IVI_DEFAULT_POLL_INTERVAL_MS 5000
#define IVI_DEFAULT_SETTLE_MS 100
#define IVI_DEFAULT_RETRY_MAX_MS 30000
#define IVI_DEFAULT_MISMATCH_GRACE_S 30
#define IVI_DEFAULT_MAX_CONNECTIONS 1024
#define IVI_DEFAULT_HANDSHAKE_TIMEOUT_S 10
#define IVI_DEFAULT_IDLE_TIMEOUT_S 60
#define IVI_DEFAULT_SOCKET "/run/ivicli/control.sock"
#define IVI_DEFAULT_KEY_PATH "/etc/ivicli/control.key"

/* Config file used when --config is not given: $IVICLI_CONFIG, else the default path. */
#define IVI_CONFIG_ENV "IVICLI_CONFIG"
#define IVI_DEFAULT_CONFIG_PATH "/etc/ivicli/config.toml"
/* Largest config file the loader reads. */
#define IVI_CONFIG_MAX_FILE (1024 * 1024)

struct ivi_config_api {
	char *bind;              /* [api] bind */
	int port;                /* [api] port; 0 = pick a free port */
	bool port_set;           /* port given in the file or on the command line */
	char *pid_file;          /* [api] pid_file, NULL = none */
	int max_connections;     /* [api] max_connections */
	int handshake_timeout;   /* [api] handshake_timeout, seconds */
	int idle_timeout;        /* [api] idle_timeout, seconds */
};

struct ivi_config_tls {
	bool enabled;            /* [api.tls] enabled */
	char *cert_path;         /* PEM chain, or a PKCS#12 file (.p12/.pfx) */
	char *key_path;          /* PEM key; NULL with PKCS#12 */
	char *password_env;      /* name of the env var holding the password */
	bool self_signed;        /* ephemeral certificate, never reloaded */
	bool client_required;    /* mTLS */
	char *client_ca_path;
	char *crl_path;
	char *trust_ca_path;     /* when set, a new chain must verify to it */
	char *priority;          /* GnuTLS priority string */
	int expiry_warn_days;    /* warn when expiry is nearer than this */
	int clock_skew;          /* seconds of notBefore tolerance */
	bool allow_chain_shrink; /* accept a chain shorter than the served one */
	bool allow_rollback;     /* accept a notAfter earlier than the served one */
};

struct ivi_config_audit {
	bool enabled;
	char *path;
};

struct ivi_config_control {
	char *socket;            /* Unix socket path */
	char *key_path;          /* HMAC key file */
	char **allowed_users;    /* user names or numeric uids; NULL-terminated */
	size_t n_allowed_users;  /* 0 = root and the server's own user */
	int timestamp_window;    /* seconds either side of now */
};

struct ivi_config_certwatch {
	int poll_interval_ms;    /* polling fallback interval */
	bool force_poll;         /* never use inotify */
	int settle_ms;           /* quiet time after the last event before a check */
	int retry_max_ms;        /* cap of the retry backoff */
	int mismatch_grace;      /* seconds before a mismatch becomes a warning */
};

struct ivi_config_origin;

struct ivi_config {
	char *path;              /* file it was read from, NULL for defaults */
	struct ivi_config_api api;
	struct ivi_config_tls tls;
	struct ivi_config_audit audit;
	struct ivi_config_control control;
	struct ivi_config_certwatch certwatch;
	/* Private to config/: the line each key was read from, for messages. */
	struct ivi_config_origin *origin;
};

/*
 * Loads path into a new config with defaults for the keys it leaves out.
 * path NULL means no file: defaults only. On error returns IVI_E_CONFIG (or
 * IVI_E_FILE_MISSING / IVI_E_FILE_PERMISSION / IVI_E_NOMEM) and writes one
 * line naming file, line and key into errbuf; *out is left untouched.
 */
int ivi_config_load(const char *path, struct ivi_config **out, char *errbuf, size_t errlen);

/*
 * Parses len bytes of TOML from buf, as ivi_config_load does for a file.
 * name appears in messages ("name:12: ..."); relative paths in the text are
 * joined to base_dir, or kept relative when base_dir is NULL. Same
 * returns as ivi_config_load; the fuzz target feeds it directly.
 */
int ivi_config_parse(const char *name, const char *base_dir, const char *buf, size_t len,
    struct ivi_config **out, char *errbuf, size_t errlen);

/* Returns the config path to use without --config: $IVICLI_CONFIG, else IVI_DEFAULT_CONFIG_PATH. */
const char *ivi_config_default_path(void);

/*
 * Returns [api] port when it was set, else the default for the TLS
 * setting: IVI_DEFAULT_PORT_TLS when tls.enabled, IVI_DEFAULT_PORT_PLAIN
 * otherwise. ivi_config_load already stores it in api.port; call this
 * again after a command-line override of tls.enabled.
 */
int ivi_config_default_port(const struct ivi_config *cfg);

/*
 * Returns true when cert_path names a PKCS#12 file: it ends in ".p12" or
 * ".pfx", in any letter case. Such a file contains the key too, so key_path
 * must stay unset. Any other name is read as a PEM chain and needs
 * key_path.
 */
bool ivi_config_is_pkcs12_path(const char *path);

/*
 * Checks the cross-key rules after command-line overrides are applied:
 * with TLS enabled, exactly one certificate source (cert_path, plus
 * key_path unless it is PKCS#12, or self_signed alone); with TLS disabled,
 * no other [api.tls] key; client_required and crl_path need
 * client_ca_path; priority parses; [audit] enabled needs path;
 * retry_max_ms is not below settle_ms. Returns 0 or IVI_E_CONFIG with one
 * line in errbuf, "FILE:LINE: ..." when the key came from the file.
 */
int ivi_config_validate(const struct ivi_config *cfg, char *errbuf, size_t errlen);

/* Replaces *slot with a copy of value (NULL allowed). Returns 0 or IVI_E_NOMEM. */
int ivi_config_set_string(char **slot, const char *value);

/* Frees cfg and everything it owns; NULL is allowed. */
void ivi_config_free(struct ivi_config *cfg);

#endif /* IVI_CONFIG_H */
