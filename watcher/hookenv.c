/* Checks of the variables certbot, lego and acme.sh pass to their hooks. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ivi_bundle.h"
#include "ivi_log.h"
#include "cli.h"
#include "hookenv.h"

/* The variables' values; NULL when not set. */
struct hook_vars {
	const char *lineage;        /* certbot RENEWED_LINEAGE */
	const char *lego_cert;      /* LEGO_CERT_PATH */
	const char *lego_key;       /* LEGO_CERT_KEY_PATH */
	const char *acme_cert;      /* CERT_PATH */
	const char *acme_key;       /* CERT_KEY_PATH */
	const char *acme_ca;        /* CA_CERT_PATH */
	const char *acme_fullchain; /* CERT_FULLCHAIN_PATH */
};

/*
 * Checks that variable name, when set, names a readable file (or a
 * directory when want_dir). Returns 0 or a sysexits status with errbuf set.
 */
static int
var_check(const char *name, const char *value, int want_dir, char *errbuf, size_t errlen)
{
	struct stat st;

	if (value == NULL)
		return 0;
	if (value[0] == '\0') {
		snprintf(errbuf, errlen, "%s is set but empty; the ACME client passed no path",
		    name);
		return CW_EX_NOINPUT;
	}
	if (stat(value, &st) != 0) {
		snprintf(errbuf, errlen, "%s=%s: %s", name, value, strerror(errno));
		return errno == EACCES ? CW_EX_NOPERM : CW_EX_NOINPUT;
	}
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s=%s: not a %s", name, value,
		    want_dir ? "directory" : "regular file");
		return CW_EX_NOINPUT;
	}
	if (access(value, want_dir ? R_OK | X_OK : R_OK) != 0) {
		snprintf(errbuf, errlen, "%s=%s: not readable (%s)", name, value, strerror(errno));
		return CW_EX_NOPERM;
	}
	return 0;
}

/* Validates cert and key as a pair with the configured loader settings. */
static int
pair_check(const struct ivi_config *cfg, const char *cert_var, const char *cert,
    const char *key_var, const char *key, char *errbuf, size_t errlen)
{
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	int rc;

	cw_bundle_opts(cfg, &opts);
	opts.cert_path = cert;
	opts.key_path = key;
	opts.client_ca_path = NULL;
	opts.crl_path = NULL;
	memset(&err, 0, sizeof(err));
	rc = ivi_bundle_load(&opts, &b, &err);
	ivi_bundle_free(b);
	if (rc == 0)
		return 0;
	snprintf(errbuf, errlen, "%s=%s and %s=%s are not a usable pair (%s: %s)", cert_var, cert,
	    key_var, key, ivi_err_code(rc), err.message);
	return CW_EX_DATAERR;
}

/* Tells whether a and b resolve to the same file. */
static int
same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (a == NULL || b == NULL || realpath(a, ra) == NULL || realpath(b, rb) == NULL)
		return 0;
	return strcmp(ra, rb) == 0;
}

static void
warn_elsewhere(const char *name, const char *value, const char *what, const char *configured)
{
	log_warning("notify: %s=%s is not the configured %s %s; the server reloads %s, so copy "
	    "the renewed files there first or point the config at them", name, value, what,
	    configured != NULL ? configured : "(none)", configured != NULL ? configured : "nothing");
}

/* certbot: the lineage directory must hold a usable pair and the configured files. */
static int
check_certbot(const struct ivi_config *cfg, const char *lineage, char *errbuf, size_t errlen)
{
	char cert[PATH_MAX], key[PATH_MAX], dir[PATH_MAX], rl[PATH_MAX], rd[PATH_MAX];
	const char *slash;
	int rc;

	rc = var_check("RENEWED_LINEAGE", lineage, 1, errbuf, errlen);
	if (rc != 0)
		return rc;
	snprintf(cert, sizeof(cert), "%s/fullchain.pem", lineage);
	snprintf(key, sizeof(key), "%s/privkey.pem", lineage);
	rc = var_check("RENEWED_LINEAGE", cert, 0, errbuf, errlen);
	if (rc == 0)
		rc = var_check("RENEWED_LINEAGE", key, 0, errbuf, errlen);
	if (rc == 0)
		rc = pair_check(cfg, "RENEWED_LINEAGE", cert, "RENEWED_LINEAGE", key, errbuf,
		    errlen);
	if (rc != 0)
		return rc;

	/* The configured files live in the lineage when their directory is the lineage. */
	slash = strrchr(cfg->tls.cert_path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash != NULL ? (int)(slash - cfg->tls.cert_path) : 1,
	    slash != NULL ? cfg->tls.cert_path : ".");
	if (realpath(lineage, rl) == NULL || realpath(dir, rd) == NULL || strcmp(rl, rd) != 0)
		warn_elsewhere("RENEWED_LINEAGE", lineage, "certificate directory of",
		    cfg->tls.cert_path);
	return 0;
}

static int
check_lego(const struct ivi_config *cfg, const struct hook_vars *v, char *errbuf, size_t errlen)
{
	int rc;

	rc = var_check("LEGO_CERT_PATH", v->lego_cert, 0, errbuf, errlen);
	if (rc == 0)
		rc = var_check("LEGO_CERT_KEY_PATH", v->lego_key, 0, errbuf, errlen);
	if (rc != 0)
		return rc;
	if (v->lego_cert == NULL || v->lego_key == NULL) {
		snprintf(errbuf, errlen, "%s is set but %s is not; lego sets both",
		    v->lego_cert != NULL ? "LEGO_CERT_PATH" : "LEGO_CERT_KEY_PATH",
		    v->lego_cert != NULL ? "LEGO_CERT_KEY_PATH" : "LEGO_CERT_PATH");
		return CW_EX_NOINPUT;
	}
	rc = pair_check(cfg, "LEGO_CERT_PATH", v->lego_cert, "LEGO_CERT_KEY_PATH", v->lego_key,
	    errbuf, errlen);
	if (rc != 0)
		return rc;
	if (!same_file(v->lego_cert, cfg->tls.cert_path))
		warn_elsewhere("LEGO_CERT_PATH", v->lego_cert, "certificate", cfg->tls.cert_path);
	if (!same_file(v->lego_key, cfg->tls.key_path))
		warn_elsewhere("LEGO_CERT_KEY_PATH", v->lego_key, "key", cfg->tls.key_path);
	return 0;
}

static int
check_acme_sh(const struct ivi_config *cfg, const struct hook_vars *v, char *errbuf,
    size_t errlen)
{
	const char *cert_var = "CERT_FULLCHAIN_PATH", *cert = v->acme_fullchain;
	int rc;

	rc = var_check("CERT_PATH", v->acme_cert, 0, errbuf, errlen);
	if (rc == 0)
		rc = var_check("CERT_KEY_PATH", v->acme_key, 0, errbuf, errlen);
	if (rc == 0)
		rc = var_check("CA_CERT_PATH", v->acme_ca, 0, errbuf, errlen);
	if (rc == 0)
		rc = var_check("CERT_FULLCHAIN_PATH", v->acme_fullchain, 0, errbuf, errlen);
	if (rc != 0)
		return rc;
	if (cert == NULL) {
		cert_var = "CERT_PATH";
		cert = v->acme_cert;
	}
	if (cert == NULL || v->acme_key == NULL) {
		snprintf(errbuf, errlen, "%s", v->acme_key == NULL ?
		    "CERT_KEY_PATH is not set while other acme.sh variables are" :
		    "neither CERT_FULLCHAIN_PATH nor CERT_PATH is set while CERT_KEY_PATH is");
		return CW_EX_NOINPUT;
	}
	rc = pair_check(cfg, cert_var, cert, "CERT_KEY_PATH", v->acme_key, errbuf, errlen);
	if (rc != 0)
		return rc;
	if (!same_file(v->acme_fullchain, cfg->tls.cert_path) &&
	    !same_file(v->acme_cert, cfg->tls.cert_path))
		warn_elsewhere(cert_var, cert, "certificate", cfg->tls.cert_path);
	if (!same_file(v->acme_key, cfg->tls.key_path))
		warn_elsewhere("CERT_KEY_PATH", v->acme_key, "key", cfg->tls.key_path);
	return 0;
}

int
cw_hookenv_check(const struct ivi_config *cfg, const char **client, char *errbuf,
    size_t errlen)
{
	struct hook_vars v;
	int rc = 0;

	v.lineage = getenv("RENEWED_LINEAGE");
	v.lego_cert = getenv("LEGO_CERT_PATH");
	v.lego_key = getenv("LEGO_CERT_KEY_PATH");
	v.acme_cert = getenv("CERT_PATH");
	v.acme_key = getenv("CERT_KEY_PATH");
	v.acme_ca = getenv("CA_CERT_PATH");
	v.acme_fullchain = getenv("CERT_FULLCHAIN_PATH");
	*client = NULL;

	if (v.lineage != NULL) {
		*client = "certbot";
		rc = check_certbot(cfg, v.lineage, errbuf, errlen);
	}
	if (rc == 0 && (v.lego_cert != NULL || v.lego_key != NULL)) {
		*client = "lego";
		rc = check_lego(cfg, &v, errbuf, errlen);
	}
	if (rc == 0 && (v.acme_cert != NULL || v.acme_key != NULL || v.acme_ca != NULL ||
	    v.acme_fullchain != NULL)) {
		*client = "acme.sh";
		rc = check_acme_sh(cfg, &v, errbuf, errlen);
	}
	return rc;
}
