/*
 * Server lifecycle: start-up in a fixed order, signals (SIGHUP reloads,
 * SIGTERM and SIGINT drain), shutdown and the resources only the loop
 * thread owns.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ivi_err.h"
#include "conn.h"
#include "control.h"
#include "listener.h"
#include "notify.h"
#include "pidfile.h"
#include "reload.h"
#include "server.h"

/* Request limits; there are no config keys for them. */
#ifdef IVI_SMALL_LIMITS
#define SRV_MAX_HEADER_BYTES 1024
#define SRV_MAX_BODY_BYTES 1024
#else
#define SRV_MAX_HEADER_BYTES 8192
#define SRV_MAX_BODY_BYTES 16384
#endif

void
srv_rotate_ticket_key(struct srv *srv)
{
	gnutls_datum_t key = { NULL, 0 };
	int ret;

	ret = gnutls_session_ticket_key_generate(&key);
	if (ret < 0) {
		log_warning("tls: cannot make a new session ticket key (%s); keeping the old one",
		    gnutls_strerror(ret));
		return;
	}
	if (srv->ticket_key.data != NULL) {
		gnutls_memset(srv->ticket_key.data, 0, srv->ticket_key.size);
		gnutls_free(srv->ticket_key.data);
	}
	srv->ticket_key = key;
}

/* Logs what the bundle loader flagged about the certificate in service. */
static void
srv_log_desc(const struct ivi_bundle_desc *d, unsigned long long generation)
{
	char line[512], stamp[21];
	size_t i;

	srv_fmt_time(stamp, d->not_after);
	log_notice("tls: serving certificate serial %s, subject %s, fingerprint %.16s..., "
	    "not after %s, generation %llu", d->serial, d->subject, d->fingerprint, stamp,
	    generation);
	for (i = 0; i < d->n_warnings; i++) {
		ivi_bundle_desc_warning(d, i, line, sizeof(line));
		log_warning("tls: %s", line);
	}
}

/* Loads the first credentials. Returns 0 or a negative ivi_err after printing why. */
static int
srv_tls_load(struct srv *srv)
{
	const struct ivi_config_tls *tls = &srv->cfg->tls;
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err;
	struct ivi_bundle *bundle = NULL;
	gnutls_certificate_credentials_t xcred = NULL;
	int ret;

	memset(&err, 0, sizeof(err));
	if (tls->self_signed) {
		ret = ivi_bundle_self_signed(&bundle, &err);
	} else {
		ret = ivi_bundle_opts_from_config(srv->cfg, &opts);
		if (ret == 0)
			ret = ivi_bundle_load(&opts, &bundle, &err);
		else
			snprintf(err.message, sizeof(err.message), "no certificate is configured");
	}
	if (ret == 0)
		ret = ivi_bundle_credentials(bundle, &xcred, &err);
	if (ret < 0) {
		log_error("tls: cannot load the certificate%s%s: %s (%s)",
		    err.file[0] != '\0' ? " from " : "", err.file, err.message, ivi_err_code(ret));
		goto out;
	}
	ret = srv_creds_publish(&srv->creds, ivi_bundle_describe(bundle), xcred, time(NULL));
	if (ret < 0) {
		log_error("tls: out of memory while publishing the credentials");
		goto out;
	}
	if (tls->self_signed)
		log_warning("tls: serving an ephemeral self-signed certificate valid for 24 hours; "
		    "clients cannot verify it and it is never reloaded");
	srv_log_desc(&srv->creds.current->desc, 1);
out:
	ivi_bundle_free(bundle);
	return ret;
}

/* Prepares TLS: priority cache, ticket key, first credentials. */
static int
srv_tls_setup(struct srv *srv)
{
	const char *prio = srv->cfg->tls.priority;
	const char *errpos = NULL;
	int ret;

	if (prio == NULL || prio[0] == '\0')
		prio = IVI_DEFAULT_PRIORITY;
	ret = gnutls_priority_init(&srv->priority, prio, &errpos);
	if (ret < 0) {
		log_error("tls: invalid [api.tls] priority at '%s' (%s)",
		    errpos != NULL ? errpos : prio, gnutls_strerror(ret));
		srv->priority = NULL;
		return IVI_E_CONFIG;
	}
	ret = gnutls_session_ticket_key_generate(&srv->ticket_key);
	if (ret < 0) {
		log_error("tls: cannot make a session ticket key (%s)", gnutls_strerror(ret));
		return IVI_E_INTERNAL;
	}
	return srv_tls_load(srv);
}

static void
srv_audit_lifecycle(struct srv *srv, const char *action)
{
	const struct srv_creds *cur = srv->creds.current;
	char stamp[21];
	cJSON *ev;

	ev = srv_audit_begin(&srv->audit, action);
	if (ev == NULL)
		return;
	cJSON_AddNumberToObject(ev, "pid", (double)getpid());
	cJSON_AddBoolToObject(ev, "tls_enabled", srv->tls_enabled);
	if (cur != NULL) {
		srv_fmt_time(stamp, cur->desc.not_after);
		cJSON_AddNumberToObject(ev, "generation", (double)cur->generation);
		cJSON_AddStringToObject(ev, "serial", cur->desc.serial);
		cJSON_AddStringToObject(ev, "fingerprint", cur->desc.fingerprint);
		cJSON_AddStringToObject(ev, "not_after", stamp);
	}
	srv_audit_commit(&srv->audit, ev);
}

void
srv_conn_closed(struct srv *srv)
{
	if (srv->draining && srv->n_conns == 0)
		ev_break(srv->loop, EVBREAK_ALL);
}

/* Closes every connection at once. */
static void
srv_close_all(struct srv *srv)
{
	while (!TAILQ_EMPTY(&srv->conns))
		srv_conn_close(TAILQ_FIRST(&srv->conns));
}

static void
srv_on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv *srv = w->data;

	log_warning("http: %lu connections still open after %.0f s; closing them",
	    srv->n_conns, SRV_GRACE_SECONDS);
	srv_close_all(srv);
	ev_break(loop, EVBREAK_ALL);
}

/* Stops accepting and lets open requests finish within SRV_GRACE_SECONDS. */
static void
srv_begin_stop(struct srv *srv, const char *signame)
{
	struct srv_conn *c, *next;

	if (srv->draining) {
		log_notice("server: %s again; closing %lu connections now", signame, srv->n_conns);
		srv_close_all(srv);
		ev_break(srv->loop, EVBREAK_ALL);
		return;
	}
	log_notice("server: %s received; stopping (%lu connections open, up to %.0f s to finish)",
	    signame, srv->n_conns, SRV_GRACE_SECONDS);
	srv->draining = true;
	srv_notify_stopping();
	srv_listen_close(srv);
	srv_control_free(srv->control);
	srv->control = NULL;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = srv_conn_next(c);
		srv_conn_drain(c);
	}
	if (srv->n_conns == 0) {
		ev_break(srv->loop, EVBREAK_ALL);
		return;
	}
	ev_timer_set(&srv->grace_timer, SRV_GRACE_SECONDS, 0.);
	ev_timer_start(srv->loop, &srv->grace_timer);
}

static void
srv_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct srv *srv = w->data;
	int ret;

	if (w->signum != SIGHUP) {
		srv_begin_stop(srv, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
	if (srv->reload == NULL || srv->draining) {
		log_notice("tls: SIGHUP ignored: %s", srv->draining ? "the server is stopping" :
		    !srv->tls_enabled ? "TLS is disabled" : "the self-signed certificate never reloads");
		return;
	}
	ret = srv_reload_submit(srv->reload, SRV_RELOAD_SIGNAL, NULL, NULL, NULL, NULL);
	if (ret < 0)
		log_warning("tls: SIGHUP reload not queued (%s)", ivi_strerror(ret));
}

static void
srv_signals_start(struct srv *srv)
{
	ev_signal_init(&srv->sig_term, srv_on_signal, SIGTERM);
	ev_signal_init(&srv->sig_int, srv_on_signal, SIGINT);
	ev_signal_init(&srv->sig_hup, srv_on_signal, SIGHUP);
	srv->sig_term.data = srv;
	srv->sig_int.data = srv;
	srv->sig_hup.data = srv;
	ev_signal_start(srv->loop, &srv->sig_term);
	ev_signal_start(srv->loop, &srv->sig_int);
	ev_signal_start(srv->loop, &srv->sig_hup);
}

/* Opens the control socket; a missing key only disables it. */
static int
srv_control_setup(struct srv *srv)
{
	char errbuf[512] = "";
	int ret;

	ret = srv_control_new(srv, &srv->control, errbuf, sizeof(errbuf));
	if (ret == IVI_E_FILE_MISSING) {
		log_warning("control: %s; running without a control socket until restarted "
		    "(SIGHUP still reloads)", errbuf);
		srv->control = NULL;
		return 0;
	}
	if (ret < 0)
		log_error("control: %s", errbuf);
	return ret;
}

/* Maps a listen failure to an exit status. */
static int
srv_listen_status(int err, int os_errno)
{
	if (err == IVI_E_CONFIG)
		return EX_CONFIG;
	if (os_errno == EACCES || os_errno == EPERM)
		return EX_NOPERM;
	if (os_errno == EADDRINUSE || os_errno == EADDRNOTAVAIL)
		return EX_UNAVAILABLE;
	return EX_OSERR;
}

/* Prepares everything up to the first accept. Returns 0 or an exit status. */
static int
srv_start(struct srv *srv, const char *address_file)
{
	const struct ivi_config *cfg = srv->cfg;
	char errbuf[512];
	int ret, os_errno;
	int port;

	if (srv->tls_enabled) {
		ret = srv_tls_setup(srv);
		if (ret < 0)
			return ivi_err_exit_status(ret);
	}

	port = cfg->api.port_set ? cfg->api.port : ivi_config_default_port(cfg);
	ret = srv_listen(srv, cfg->api.bind != NULL ? cfg->api.bind : IVI_DEFAULT_BIND, port,
	    &os_errno, errbuf, sizeof(errbuf));
	if (ret < 0) {
		log_error("http: %s", errbuf);
		return srv_listen_status(ret, os_errno);
	}

	ret = srv_control_setup(srv);
	if (ret < 0)
		return ivi_err_exit_status(ret);
	if (srv->tls_enabled && !srv->self_signed) {
		ret = srv_reload_new(srv, &srv->reload);
		if (ret < 0) {
			log_error("tls: cannot start the reload thread (%s)", ivi_strerror(ret));
			return EX_OSERR;
		}
	}
	if (cfg->api.pid_file != NULL) {
		ret = srv_pidfile_write(cfg->api.pid_file, errbuf, sizeof(errbuf));
		if (ret < 0) {
			log_error("server: %s", errbuf);
			return ret == IVI_E_BUSY ? EX_UNAVAILABLE : EX_CANTCREAT;
		}
	}

	srv_signals_start(srv);
	srv_listen_start(srv);
	if (address_file != NULL) {
		ret = srv_listen_write_addresses(srv, address_file);
		if (ret < 0) {
			log_error("server: cannot write the address file %s (%s)", address_file,
			    strerror(-ret));
			return EX_CANTCREAT;
		}
	}
	return 0;
}

/* Releases what srv_start() set up, in reverse order. */
static void
srv_cleanup(struct srv *srv)
{
	srv_close_all(srv);
	srv_listen_close(srv);
	srv_control_free(srv->control);
	srv->control = NULL;
	srv_reload_free(srv->reload);
	srv->reload = NULL;
	ev_signal_stop(srv->loop, &srv->sig_term);
	ev_signal_stop(srv->loop, &srv->sig_int);
	ev_signal_stop(srv->loop, &srv->sig_hup);
	ev_timer_stop(srv->loop, &srv->grace_timer);
	srv_creds_table_clear(&srv->creds);
	if (srv->priority != NULL)
		gnutls_priority_deinit(srv->priority);
	if (srv->ticket_key.data != NULL) {
		gnutls_memset(srv->ticket_key.data, 0, srv->ticket_key.size);
		gnutls_free(srv->ticket_key.data);
	}
	if (srv->cfg->api.pid_file != NULL)
		srv_pidfile_remove(srv->cfg->api.pid_file);
}

/* Fills srv from cfg; allocates nothing. */
static void
srv_init(struct srv *srv, const struct ivi_config *cfg, struct ev_loop *loop)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = cfg;
	srv->tls_enabled = cfg->tls.enabled;
	srv->self_signed = cfg->tls.enabled && cfg->tls.self_signed;
	srv->client_required = cfg->tls.enabled && cfg->tls.client_required;
	srv_creds_table_init(&srv->creds);
	TAILQ_INIT(&srv->conns);
	srv->limits.max_header_bytes = SRV_MAX_HEADER_BYTES;
	srv->limits.max_body_bytes = SRV_MAX_BODY_BYTES;
	srv_http_global_init(&srv->limits);
	srv_audit_init(&srv->audit, cfg->audit.enabled, cfg->audit.path);
	srv->rl_accept.interval = 10;
	srv->rl_accept.burst = 3;
	srv->rl_tls.interval = 10;
	srv->rl_tls.burst = 10;
	srv->rl_http.interval = 10;
	srv->rl_http.burst = 10;
	ev_timer_init(&srv->grace_timer, srv_on_grace, SRV_GRACE_SECONDS, 0.);
	srv->grace_timer.data = srv;
}

int
srv_main(const struct ivi_config *cfg, const char *address_file)
{
	struct srv srv;
	struct ev_loop *loop;
	size_t i;
	int status;

	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		log_error("server: cannot initialise libev (bad LIBEV_FLAGS in the environment?)");
		return EX_OSERR;
	}
	srv_init(&srv, cfg, loop);
	status = srv_start(&srv, address_file);
	if (status != 0)
		goto out;

	for (i = 0; i < srv.n_listeners; i++)
		log_notice("http: listening on %s port %d (%s)", srv_listener_addr(&srv, i),
		    srv_listener_port(&srv, i), srv.tls_enabled ?
		    (srv.client_required ? "HTTPS, client certificates required" : "HTTPS") :
		    "plain HTTP");
	srv_audit_lifecycle(&srv, "started");
	srv_notify_ready("serving");

	ev_run(loop, 0);

	srv_audit_lifecycle(&srv, "stopped");
	log_notice("server: stopped");
out:
	srv_cleanup(&srv);
	ev_loop_destroy(loop);
	return status;
}
