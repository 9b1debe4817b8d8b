/* `ivicli api start --check-config`: validate everything a start would, serve nothing. */
#include "config.h"

#include <stdio.h>
#include <sysexits.h>

#include "ivi_bundle.h"
#include "ivi_err.h"
#include "ivi_proto.h"
#include "server.h"

/* Checks the priority string and the bundle. Returns 0 or an exit status. */
static int
check_tls(const struct ivi_config *cfg)
{
	const char *prio = cfg->tls.priority, *errpos = NULL;
	gnutls_priority_t cache;
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err = { 0 };
	struct ivi_bundle *bundle = NULL;
	int ret;

	if (prio == NULL || prio[0] == '\0')
		prio = IVI_DEFAULT_PRIORITY;
	ret = gnutls_priority_init(&cache, prio, &errpos);
	if (ret < 0) {
		fprintf(stderr, "ivicli: invalid [api.tls] priority at '%s' (%s)\n",
		    errpos != NULL ? errpos : prio, gnutls_strerror(ret));
		return EX_CONFIG;
	}
	gnutls_priority_deinit(cache);
	if (cfg->tls.self_signed)
		return 0;

	ret = ivi_bundle_opts_from_config(cfg, &opts);
	if (ret == 0)
		ret = ivi_bundle_load(&opts, &bundle, &err);
	if (ret < 0) {
		fprintf(stderr, "ivicli: certificate%s%s: %s (%s)\n", err.file[0] != '\0' ? " " : "",
		    err.file, err.message, ivi_err_code(ret));
		return ivi_err_exit_status(ret);
	}
	printf("certificate: serial %s, subject %s, fingerprint %s\n",
	    ivi_bundle_describe(bundle)->serial, ivi_bundle_describe(bundle)->subject,
	    ivi_bundle_describe(bundle)->fingerprint);
	ivi_bundle_free(bundle);
	return 0;
}

int
srv_check_config(const struct ivi_config *cfg)
{
	struct ivi_key *key = NULL;
	char errbuf[512] = "";
	int ret, status;

	if (cfg->tls.enabled) {
		status = check_tls(cfg);
		if (status != 0)
			return status;
	}
	ret = ivi_key_load(cfg->control.key_path, &key, errbuf, sizeof(errbuf));
	ivi_key_free(key);
	if (ret == IVI_E_FILE_MISSING) {
		fprintf(stderr, "ivicli: warning: %s; the server would run without a control socket\n",
		    errbuf);
	} else if (ret < 0) {
		fprintf(stderr, "ivicli: control key: %s\n", errbuf);
		return ivi_err_exit_status(ret);
	}
	printf("configuration OK%s%s\n", cfg->path != NULL ? ": " : " (defaults)",
	    cfg->path != NULL ? cfg->path : "");
	return 0;
}
