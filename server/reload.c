/*
 * Credential reloads: a worker thread loads and validates, the loop
 * publishes. Only the worker touches a job between hand-over and
 * completion; the loop owns it before and after.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "ivi_err.h"
#include "notify.h"
#include "reload.h"
#include "server.h"

/* Reloads that may wait behind the running one. */
#define RELOAD_MAX_QUEUED 16

/* The configured files, in the order of the `changed` audit field. */
enum reload_file {
	RELOAD_FILE_CERT,
	RELOAD_FILE_KEY,
	RELOAD_FILE_CLIENT_CA,
	RELOAD_FILE_CRL,
	RELOAD_FILE_COUNT
};

static const char *const reload_file_names[RELOAD_FILE_COUNT] = {
	"certificate", "key", "client_ca", "crl",
};

struct srv_reload_job {
	TAILQ_ENTRY(srv_reload_job) entry;
	struct srv_reload *owner;
	enum srv_reload_trigger trigger;
	char fingerprint[65];                 /* "" when the requester named none */
	srv_reload_done_fn done;              /* NULL once forgotten */
	void *arg;

	/* Input for the worker, copied on the loop before hand-over. */
	struct ivi_bundle_desc served;
	char served_file_hash[RELOAD_FILE_COUNT][65];

	/* Output of the worker. */
	int err;
	bool changed;
	bool have_candidate;
	struct ivi_bundle_desc candidate;
	char candidate_fingerprint[65];       /* leaf on disk; "" when unparsable */
	char file_hash[RELOAD_FILE_COUNT][65]; /* SHA-256 of each file, "" if unset */
	struct ivi_bundle_error error;
	gnutls_certificate_credentials_t xcred;
	double seconds;
};

struct srv_reload {
	struct srv *srv;
	struct ivi_bundle_opts opts;
	bool allow_chain_shrink;
	bool allow_rollback;
	char served_file_hash[RELOAD_FILE_COUNT][65]; /* loop side */

	/* Shared with the worker, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct srv_reload_job *todo;
	struct srv_reload_job *finished;
	bool quit;
	pthread_t thread;
	bool thread_started;

	/* Loop side. */
	ev_async async;
	TAILQ_HEAD(, srv_reload_job) queue;
	unsigned n_queued;
	struct srv_reload_job *running;
};

static double
reload_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fills job->error for an outcome decided here rather than by the loader. */
static void
reload_set_error(struct srv_reload_job *job, int code, const char *message)
{
	job->err = code;
	job->error.code = code;
	job->error.file[0] = '\0';
	snprintf(job->error.message, sizeof(job->error.message), "%s", message);
}

/* Returns true (and sets stale_fingerprint) when the requester validated another leaf. */
static bool
reload_stale(struct srv_reload_job *job, const char *on_disk)
{
	char msg[256];

	if (job->fingerprint[0] == '\0' || strcmp(job->fingerprint, on_disk) == 0)
		return false;
	snprintf(msg, sizeof(msg),
	    "the configured files now hold certificate %.16s..., not the requested %.16s...",
	    on_disk, job->fingerprint);
	reload_set_error(job, IVI_E_STALE_FINGERPRINT, msg);
	return true;
}

/* Writes the SHA-256 of a file's bytes as hex, or "" when path is unset or unreadable. */
static void
reload_hash_file(const char *path, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[32];
	gnutls_datum_t data = { NULL, 0 };
	int i;

	out[0] = '\0';
	if (path == NULL || path[0] == '\0' || gnutls_load_file(path, &data) < 0)
		return;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data, data.size, digest) == 0) {
		for (i = 0; i < 32; i++) {
			out[2 * i] = hex[digest[i] >> 4];
			out[2 * i + 1] = hex[digest[i] & 0xf];
		}
		out[64] = '\0';
	}
	/* Wiped because the key file is one of the inputs. */
	gnutls_memset(data.data, 0, data.size);
	gnutls_free(data.data);
}

/* Hashes every configured file, to tell which of them a reload changed. */
static void
reload_hash_files(const struct ivi_bundle_opts *opts, char out[RELOAD_FILE_COUNT][65])
{
	reload_hash_file(opts->cert_path, out[RELOAD_FILE_CERT]);
	reload_hash_file(opts->key_path, out[RELOAD_FILE_KEY]);
	reload_hash_file(opts->client_ca_path, out[RELOAD_FILE_CLIENT_CA]);
	reload_hash_file(opts->crl_path, out[RELOAD_FILE_CRL]);
}

/*
 * Writes the SHA-256 fingerprint of the first certificate in a PEM file,
 * or "" when it cannot be parsed. Used when the loader rejected the bundle
 * after the leaf parsed (key_mismatch, cert_expired, ...).
 */
static void
reload_leaf_fingerprint(const char *path, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t data = { NULL, 0 };
	unsigned char digest[32];
	size_t len = sizeof(digest);
	int i;

	out[0] = '\0';
	if (path == NULL || gnutls_load_file(path, &data) < 0)
		return;
	if (gnutls_x509_crt_init(&crt) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM) < 0)
		goto out;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &len) < 0 ||
	    len != sizeof(digest))
		goto out;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[64] = '\0';
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	gnutls_free(data.data);
}

/* Worker thread: loads, validates and builds credentials for one job. */
static void
reload_run(struct srv_reload *r, struct srv_reload_job *job)
{
	struct ivi_bundle *bundle = NULL;
	char hash[65];
	double start = reload_clock();
	int ret;

	/* Cheap check first: identical bytes on disk need no parsing at all. */
	ret = ivi_bundle_hash_files(&r->opts, hash, &job->error);
	if (ret < 0) {
		job->err = ret;
		goto out;
	}
	if (strcmp(hash, job->served.content_hash) == 0) {
		/* Same bytes as served, so the leaf on disk is the served one. */
		snprintf(job->candidate_fingerprint, sizeof(job->candidate_fingerprint), "%s",
		    job->served.fingerprint);
		reload_stale(job, job->served.fingerprint);
		goto out;
	}

	ret = ivi_bundle_load(&r->opts, &bundle, &job->error);
	if (ret < 0) {
		job->err = ret;
		/* PKCS#12 (no key_path) is not parsed here: its leaf stays unknown. */
		if (r->opts.key_path != NULL)
			reload_leaf_fingerprint(r->opts.cert_path, job->candidate_fingerprint);
		goto out;
	}
	job->candidate = *ivi_bundle_describe(bundle);
	job->have_candidate = true;
	snprintf(job->candidate_fingerprint, sizeof(job->candidate_fingerprint), "%s",
	    job->candidate.fingerprint);
	if (reload_stale(job, job->candidate.fingerprint))
		goto out;
	if (strcmp(job->candidate.content_hash, job->served.content_hash) == 0)
		goto out;
	ret = ivi_bundle_check_replacement(&job->candidate, &job->served, r->allow_chain_shrink,
	    r->allow_rollback, &job->error);
	if (ret < 0) {
		job->err = ret;
		goto out;
	}
	ret = ivi_bundle_credentials(bundle, &job->xcred, &job->error);
	if (ret < 0) {
		job->err = ret;
		job->xcred = NULL;
		goto out;
	}
	/*
	 * NOTE: the files are read again after the load, so a write in between
	 * can make this list differ from what was loaded. It is only reported.
	 */
	reload_hash_files(&r->opts, job->file_hash);
	job->changed = true;
out:
	ivi_bundle_free(bundle);
	job->seconds = reload_clock() - start;
}

static void *
reload_thread(void *arg)
{
	struct srv_reload *r = arg;
	struct srv_reload_job *job;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->todo == NULL && !r->quit)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->todo == NULL)
			break;
		job = r->todo;
		r->todo = NULL;
		pthread_mutex_unlock(&r->lock);

		reload_run(r, job);

		pthread_mutex_lock(&r->lock);
		r->finished = job;
		ev_async_send(r->srv->loop, &r->async);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Hands the next queued job to the worker when it is idle. */
static void
reload_next(struct srv_reload *r)
{
	struct srv_reload_job *job;
	struct srv_creds *cur;

	if (r->running != NULL || TAILQ_EMPTY(&r->queue))
		return;
	job = TAILQ_FIRST(&r->queue);
	TAILQ_REMOVE(&r->queue, job, entry);
	r->n_queued--;
	cur = r->srv->creds.current;
	if (cur != NULL)
		job->served = cur->desc;
	memcpy(job->served_file_hash, r->served_file_hash, sizeof(job->served_file_hash));
	r->running = job;
	srv_notify_reloading();

	pthread_mutex_lock(&r->lock);
	r->todo = job;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static const char *
reload_trigger_name(enum srv_reload_trigger t)
{
	return t == SRV_RELOAD_SIGNAL ? "SIGHUP" : "control socket";
}

/* Records the outcome for /v1/tls, /metrics and the status request. */
static void
reload_record(struct srv *srv, struct srv_reload_job *job, const char *result)
{
	struct srv_reload_state *rs = &srv->reload_state;
	time_t now = time(NULL);

	rs->last_result = result;
	rs->last_time = now;
	rs->last_code[0] = '\0';
	if (job->err == 0)
		return;
	snprintf(rs->last_code, sizeof(rs->last_code), "%s", ivi_err_code(job->err));
	rs->have_rejected = true;
	rs->rejected_time = now;
	snprintf(rs->rejected_code, sizeof(rs->rejected_code), "%s", ivi_err_code(job->err));
	snprintf(rs->rejected_message, sizeof(rs->rejected_message), "%s", job->error.message);
	snprintf(rs->rejected_fingerprint, sizeof(rs->rejected_fingerprint), "%s",
	    job->candidate_fingerprint);
}

static void
reload_audit_ok(struct srv *srv, struct srv_reload_job *job)
{
	const struct srv_creds *cur = srv->creds.current;
	char stamp[21];
	cJSON *ev, *changed;
	int i;

	ev = srv_audit_begin(&srv->audit, "cert-reloaded");
	if (ev == NULL)
		return;
	srv_fmt_time(stamp, cur->desc.not_after);
	cJSON_AddNumberToObject(ev, "generation", (double)cur->generation);
	cJSON_AddStringToObject(ev, "serial", cur->desc.serial);
	cJSON_AddStringToObject(ev, "fingerprint", cur->desc.fingerprint);
	cJSON_AddStringToObject(ev, "not_after", stamp);
	cJSON_AddStringToObject(ev, "previous_fingerprint", job->served.fingerprint);
	cJSON_AddStringToObject(ev, "trigger", job->trigger == SRV_RELOAD_SIGNAL ? "signal" : "control");
	changed = cJSON_AddArrayToObject(ev, "changed");
	for (i = 0; changed != NULL && i < RELOAD_FILE_COUNT; i++) {
		if (strcmp(job->served_file_hash[i], job->file_hash[i]) != 0)
			cJSON_AddItemToArray(changed, cJSON_CreateString(reload_file_names[i]));
	}
	srv_audit_commit(&srv->audit, ev);
}

static void
reload_audit_rejected(struct srv *srv, struct srv_reload_job *job)
{
	cJSON *ev;

	ev = srv_audit_begin(&srv->audit, "cert-reload-rejected");
	if (ev == NULL)
		return;
	cJSON_AddStringToObject(ev, "code", ivi_err_code(job->err));
	/* fingerprint is the leaf found on disk; requested_fingerprint the requester's. */
	if (job->candidate_fingerprint[0] != '\0')
		cJSON_AddStringToObject(ev, "fingerprint", job->candidate_fingerprint);
	else
		cJSON_AddNullToObject(ev, "fingerprint");
	if (job->fingerprint[0] != '\0')
		cJSON_AddStringToObject(ev, "requested_fingerprint", job->fingerprint);
	else
		cJSON_AddNullToObject(ev, "requested_fingerprint");
	cJSON_AddStringToObject(ev, "file", job->error.file);
	cJSON_AddStringToObject(ev, "trigger", job->trigger == SRV_RELOAD_SIGNAL ? "signal" : "control");
	srv_audit_commit(&srv->audit, ev);
}

/*
 * Returns true for a rejection that the same files would also cause at
 * start-up (unreadable, unparsable or invalid certificate material). The
 * replacement policy (chain_shrank, rollback) and stale_fingerprint only
 * apply to reloads, so a restart with those files would succeed.
 */
static bool
reload_error_fatal_at_start(int err)
{
	switch (err) {
	case IVI_E_STALE_FINGERPRINT:
	case IVI_E_CHAIN_SHRANK:
	case IVI_E_ROLLBACK:
	case IVI_E_BUSY:
		return false;
	default:
		return true;
	}
}

static void
reload_log_rejected(struct srv *srv, struct srv_reload_job *job)
{
	enum ivi_log_level level = IVI_LOG_WARNING;

	if (reload_error_fatal_at_start(job->err))
		level = IVI_LOG_ERROR;
	ivi_log(level, "tls: reload from %s rejected: %s%s%s (%s); "
	    "keeping the current certificate (generation %llu)",
	    reload_trigger_name(job->trigger), job->error.file,
	    job->error.file[0] != '\0' ? ": " : "", job->error.message,
	    ivi_err_code(job->err),
	    srv->creds.current != NULL ?
	    (unsigned long long)srv->creds.current->generation : 0ULL);
}

/*
 * Logs a reload that kept the leaf (same fingerprint) but changed other
 * files, naming those files rather than announcing a new certificate.
 */
static void
reload_log_same_leaf(const struct srv_creds *cur, const struct srv_reload_job *job)
{
	char what[256] = "";
	size_t n = 0;

	if (strcmp(job->served_file_hash[RELOAD_FILE_CLIENT_CA],
	    job->file_hash[RELOAD_FILE_CLIENT_CA]) != 0)
		n += snprintf(what + n, sizeof(what) - n, "%sclient CA bundle (%u CAs)",
		    n > 0 ? ", " : "", cur->desc.client_ca_count);
	if (n < sizeof(what) &&
	    strcmp(job->served_file_hash[RELOAD_FILE_CRL], job->file_hash[RELOAD_FILE_CRL]) != 0)
		n += snprintf(what + n, sizeof(what) - n, "%sCRL", n > 0 ? ", " : "");
	if (n < sizeof(what) &&
	    strcmp(job->served_file_hash[RELOAD_FILE_KEY], job->file_hash[RELOAD_FILE_KEY]) != 0)
		n += snprintf(what + n, sizeof(what) - n, "%sprivate key file (same key)",
		    n > 0 ? ", " : "");
	if (n < sizeof(what) &&
	    strcmp(job->served_file_hash[RELOAD_FILE_CERT], job->file_hash[RELOAD_FILE_CERT]) != 0)
		n += snprintf(what + n, sizeof(what) - n, "%scertificate file (same leaf)",
		    n > 0 ? ", " : "");
	if (n == 0)
		snprintf(what, sizeof(what), "files");
	log_notice("tls: reloaded %s, certificate unchanged (serial %s) as generation %llu "
	    "in %.1f ms", what, cur->desc.serial, (unsigned long long)cur->generation,
	    job->seconds * 1000.0);
}

/* Publishes or records the outcome of a finished job on the loop. */
static void
reload_apply(struct srv_reload *r, struct srv_reload_job *job)
{
	struct srv *srv = r->srv;
	struct srv_creds *cur;
	char stamp[21];
	int ret;

	if (job->err == 0 && job->changed) {
		ret = srv_creds_publish(&srv->creds, &job->candidate, job->xcred, time(NULL));
		job->xcred = NULL;
		if (ret < 0)
			reload_set_error(job, ret, "out of memory while publishing the credentials");
	}
	if (job->err != 0) {
		srv->reload_state.rejected++;
		reload_record(srv, job, "rejected");
		reload_audit_rejected(srv, job);
		reload_log_rejected(srv, job);
		return;
	}
	cur = srv->creds.current;
	if (!job->changed) {
		srv->reload_state.unchanged++;
		reload_record(srv, job, "unchanged");
		log_info("tls: reload from %s: files unchanged, still serving generation %llu",
		    reload_trigger_name(job->trigger), (unsigned long long)cur->generation);
		return;
	}

	/* Sessions resumed from a ticket skip client verification: new trust, new ticket key. */
	if (srv->client_required)
		srv_rotate_ticket_key(srv);
	srv->reload_state.ok++;
	reload_record(srv, job, "ok");
	reload_audit_ok(srv, job);
	memcpy(r->served_file_hash, job->file_hash, sizeof(r->served_file_hash));
	if (strcmp(job->served.key_type, cur->desc.key_type) != 0)
		log_notice("tls: key type changed: %s -> %s", job->served.key_type,
		    cur->desc.key_type);
	if (strcmp(job->served.fingerprint, cur->desc.fingerprint) == 0) {
		reload_log_same_leaf(cur, job);
		return;
	}
	srv_fmt_time(stamp, cur->desc.not_after);
	log_notice("tls: reloaded certificate serial %s (fingerprint %.16s..., not after %s) "
	    "as generation %llu in %.1f ms; replaced serial %s",
	    cur->desc.serial, cur->desc.fingerprint, stamp,
	    (unsigned long long)cur->generation, job->seconds * 1000.0, job->served.serial);
}

static void
reload_on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct srv_reload *r = w->data;
	struct srv_reload_job *job;
	struct srv_reload_result result;
	const struct srv_creds *cur;

	pthread_mutex_lock(&r->lock);
	job = r->finished;
	r->finished = NULL;
	pthread_mutex_unlock(&r->lock);
	if (job == NULL)
		return;
	r->running = NULL;

	reload_apply(r, job);
	srv_notify_ready("serving");
	if (job->done != NULL) {
		cur = r->srv->creds.current;
		memset(&result, 0, sizeof(result));
		result.err = job->err;
		result.changed = job->changed && job->err == 0;
		result.generation = cur != NULL ? cur->generation : 0;
		result.desc = cur != NULL ? &cur->desc : NULL;
		result.error = &job->error;
		job->done(job->arg, &result);
	}
	if (job->xcred != NULL)
		gnutls_certificate_free_credentials(job->xcred);
	free(job);
	reload_next(r);
}

int
srv_reload_new(struct srv *srv, struct srv_reload **out)
{
	struct srv_reload *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return IVI_E_NOMEM;
	r->srv = srv;
	ret = ivi_bundle_opts_from_config(srv->cfg, &r->opts);
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->allow_chain_shrink = srv->cfg->tls.allow_chain_shrink;
	r->allow_rollback = srv->cfg->tls.allow_rollback;
	/* NOTE: read after the start-up load; a write in between is missed here. */
	reload_hash_files(&r->opts, r->served_file_hash);
	TAILQ_INIT(&r->queue);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	ev_async_init(&r->async, reload_on_async);
	r->async.data = r;
	ev_async_start(srv->loop, &r->async);
	ret = pthread_create(&r->thread, NULL, reload_thread, r);
	if (ret != 0) {
		ev_async_stop(srv->loop, &r->async);
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return IVI_E_INTERNAL;
	}
	r->thread_started = true;
	*out = r;
	return 0;
}

int
srv_reload_submit(struct srv_reload *r, enum srv_reload_trigger trigger,
    const char *fingerprint, srv_reload_done_fn done, void *arg, struct srv_reload_job **jobp)
{
	struct srv_reload_job *job;

	if (trigger == SRV_RELOAD_SIGNAL && done == NULL) {
		TAILQ_FOREACH(job, &r->queue, entry) {
			if (job->trigger == SRV_RELOAD_SIGNAL && job->done == NULL)
				return 0;
		}
	}
	if (r->n_queued >= RELOAD_MAX_QUEUED)
		return IVI_E_BUSY;
	job = calloc(1, sizeof(*job));
	if (job == NULL)
		return IVI_E_NOMEM;
	job->owner = r;
	job->trigger = trigger;
	if (fingerprint != NULL)
		snprintf(job->fingerprint, sizeof(job->fingerprint), "%s", fingerprint);
	job->done = done;
	job->arg = arg;
	TAILQ_INSERT_TAIL(&r->queue, job, entry);
	r->n_queued++;
	if (jobp != NULL)
		*jobp = job;
	reload_next(r);
	return 0;
}

void
srv_reload_forget(struct srv_reload_job *job)
{
	if (job == NULL)
		return;
	job->done = NULL;
	job->arg = NULL;
}

bool
srv_reload_busy(const struct srv_reload *r)
{
	return r->running != NULL || !TAILQ_EMPTY(&r->queue);
}

void
srv_reload_free(struct srv_reload *r)
{
	struct srv_reload_job *job;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->quit = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->thread_started)
		pthread_join(r->thread, NULL);

	/* A job may have finished after the loop stopped: release what it built. */
	job = r->finished != NULL ? r->finished : r->todo;
	if (job != NULL) {
		if (job->xcred != NULL)
			gnutls_certificate_free_credentials(job->xcred);
		free(job);
	}
	while (!TAILQ_EMPTY(&r->queue)) {
		job = TAILQ_FIRST(&r->queue);
		TAILQ_REMOVE(&r->queue, job, entry);
		free(job);
	}
	ev_async_stop(r->srv->loop, &r->async);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
