/*
 * Reload decisions of `ivicli-certwatch watch`. Events only wake the
 * engine up; what happens next depends on the content of the files:
 *
 *   unchanged content             -> nothing (debug line)
 *   missing, unparsable, mismatch -> wait for more events; retry with
 *                                    backoff until the grace period ends,
 *                                    then one warning (error for a
 *                                    mismatched pair)
 *   complete but invalid, or not  -> one warning per content hash
 *   readable without an operator     (not yet valid: retry at notBefore)
 *   valid and not served          -> signed reload, within the reload
 *                                    rate cap; log the response
 *
 * The server is asked what it serves at start and after it was
 * unreachable, so that a rotation made while either side was down is
 * not lost.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivi_bundle.h"
#include "ivi_err.h"
#include "ivi_log.h"
#include "certinfo.h"
#include "cli.h"
#include "ctl.h"
#include "engine.h"
#include "fswatch.h"

#define ENGINE_BACKOFF_START 0.2     /* seconds before the first retry */
#define ENGINE_MAX_WAIT_MIN 1.0      /* a flood of events delays a check at most this long */
#define ENGINE_STALE_TRIES 5         /* stale_fingerprint responses before backing off */
#define ENGINE_NOT_BEFORE_WAIT_MAX 86400.0 /* maximum wait for a notBefore, seconds */
#define ENGINE_RELOAD_BURST 5.0      /* reloads sent without delay after a quiet time */
#define ENGINE_RELOAD_INTERVAL_MIN 0.5 /* minimum seconds per reload once the burst is spent */

struct cw_engine {
	struct ev_loop *loop;
	struct ivi_config *cfg;
	struct ivi_key *key;
	struct cw_fswatch *fsw;
	ev_timer settle;             /* quiet period after events */
	ev_timer retry;              /* backoff, grace period and notBefore */
	double first_event;
	double last_event;
	double retry_at;             /* when the retry requested by this check fires, 0 = none */

	/* Certificate the server serves, from its last status or reload response. */
	bool need_status;            /* ask before the next decision */
	bool server_down;
	bool server_known;
	struct cw_served served;

	/* What is on disk. */
	char handled[65];            /* content acted on: served, rejected or reported invalid */
	char broken[65];             /* content of the last incomplete set; "" when unreadable */
	int broken_code;
	char broken_file[512];
	double broken_since;         /* 0 while the set is complete */
	bool broken_warned;
	time_t not_before_check_at;               /* notBefore of a handled not-yet-valid set, 0 = none */
	double backoff;
	int stale_tries;

	/* Token bucket of reload requests: a flood of renames sends the latest set later, not every set. */
	double reload_tokens;
	double reload_tokens_at;     /* when reload_tokens was last refilled, 0 = never */

	bool ready;
	void (*on_ready)(void *arg);
	void *arg;
	struct ivi_ratelimit rl_debug;
	struct ivi_ratelimit rl_retry;   /* errors that repeat at every backoff step */
};

static void engine_check(struct cw_engine *e);

static double
settle_seconds(const struct cw_engine *e)
{
	return e->cfg->certwatch.settle_ms / 1000.0;
}

static double
backoff_max(const struct cw_engine *e)
{
	double max = e->cfg->certwatch.retry_max_ms / 1000.0;

	return max > ENGINE_BACKOFF_START ? max : ENGINE_BACKOFF_START;
}

/* Returns the next backoff delay and doubles the one after it, up to retry_max_ms. */
static double
backoff_next(struct cw_engine *e)
{
	double delay = e->backoff > 0 ? e->backoff : ENGINE_BACKOFF_START;

	e->backoff = delay * 2 < backoff_max(e) ? delay * 2 : backoff_max(e);
	return delay;
}

/* Requests a retry in delay seconds; the earliest request of a check wins. */
static void
retry_in(struct cw_engine *e, double delay)
{
	double at = ev_now(e->loop) + delay;

	if (e->retry_at == 0 || at < e->retry_at)
		e->retry_at = at;
}

/* Rate-limited debug line for things that repeat on every event. */
#define engine_debug(e, ...)                                                  \
	do {                                                                  \
		if (ivi_log_enabled(IVI_LOG_DEBUG) &&                         \
		    ivi_ratelimit_allow(&(e)->rl_debug))                      \
			log_debug(__VA_ARGS__);                               \
	} while (0)

/* ---- watches ------------------------------------------------------------ */

static void
engine_arm(struct cw_engine *e)
{
	const struct ivi_config_tls *tls = &e->cfg->tls;
	const char *paths[6];

	paths[0] = tls->cert_path;
	paths[1] = tls->key_path;
	paths[2] = tls->client_ca_path;
	paths[3] = tls->crl_path;
	paths[4] = tls->trust_ca_path;
	/* While the server is down, its socket appearing is worth a check. */
	paths[5] = e->server_down ? e->cfg->control.socket : NULL;
	if (cw_fswatch_arm(e->fsw, paths, 6) != 0)
		log_error("watch: out of memory while arming the watches; keeping the old ones");
}

static void
on_settle(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cw_engine *e = t->data;
	double now = ev_now(loop);
	double quiet = now - e->last_event;
	double max_wait = 10 * settle_seconds(e);

	if (max_wait < ENGINE_MAX_WAIT_MIN)
		max_wait = ENGINE_MAX_WAIT_MIN;
	/* Wait for settle_ms without events, but never longer than max_wait in a flood. */
	if (quiet < settle_seconds(e) && now - e->first_event < max_wait) {
		ev_timer_set(t, settle_seconds(e) - quiet, 0);
		ev_timer_start(loop, t);
		return;
	}
	engine_check(e);
}

static void
on_fs(void *arg, enum cw_fswatch_reason why)
{
	struct cw_engine *e = arg;

	if (why == CW_FSWATCH_POLL) {
		if (!ev_is_active(&e->settle))
			engine_check(e);
		return;
	}
	e->last_event = ev_now(e->loop);

	/*
	 * A file renamed into place is complete, so check at once instead of
	 * waiting settle_ms. A pair renamed one file at a time is checked
	 * after each rename. Until the second rename lands the pair does not
	 * match, and that transient state waits for more events.
	 */
	if (cw_fswatch_batch_renamed(e->fsw)) {
		engine_check(e);
		return;
	}
	if (ev_is_active(&e->settle))
		return;
	e->first_event = e->last_event;
	ev_timer_set(&e->settle, settle_seconds(e), 0);
	ev_timer_start(e->loop, &e->settle);
}

static void
on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cw_engine *e = t->data;

	engine_debug(e, "watch: retry timer fired; checking the files again");
	engine_check(e);
}

/* ---- the server --------------------------------------------------------- */

/* Logs a transport failure once per outage and schedules a retry. */
static void
server_unreachable(struct cw_engine *e, int rc, const char *action)
{
	if (!e->server_down)
		log_warning("control: server not reachable on %s while %s (%s: %s); "
		    "retrying with backoff up to %d ms", e->cfg->control.socket, action,
		    ivi_err_code(rc), ivi_strerror(rc), e->cfg->certwatch.retry_max_ms);
	else
		engine_debug(e, "control: server still not reachable (%s)", ivi_err_code(rc));
	e->server_down = true;
	e->need_status = true;
	retry_in(e, backoff_next(e));
}

static void
server_reachable(struct cw_engine *e)
{
	if (e->server_down)
		log_notice("control: server reachable again on %s", e->cfg->control.socket);
	e->server_down = false;
}

/* Requests the server's status. Returns true when a response arrived. */
static bool
server_status(struct cw_engine *e)
{
	struct cw_reply ans;
	int rc;

	rc = cw_ctl_status(e->cfg, e->key, CW_CALL_TIMEOUT_MS, &ans);
	if (rc != 0) {
		server_unreachable(e, rc, "asking for its status");
		return false;
	}
	server_reachable(e);
	e->need_status = false;
	if (!ans.ok) {
		log_warning("control: status request rejected (%s: %s)", ans.code, ans.message);
		e->server_known = false;
	} else {
		e->served = ans.served;
		e->server_known = true;
		log_info("control: server serves %s%s (content %.12s, generation %lld)",
		    ans.served.present ? "serial " : "no certificate",
		    ans.served.serial, ans.served.content_hash, ans.generation);
	}
	cw_reply_clear(&ans);
	return true;
}

/* Tells whether a rejected reload may succeed later without a file change. */
static bool
answer_is_temporary(int err)
{
	switch (err) {
	case IVI_E_BUSY:
	case IVI_E_TIMEOUT:
	case IVI_E_STALE_TIMESTAMP:
	case IVI_E_REPLAYED_NONCE:
	case IVI_E_BAD_SIGNATURE:
	case IVI_E_PEER_NOT_ALLOWED:
	case IVI_E_KEY_PERMISSIONS:
	case IVI_E_INTERNAL:
	case IVI_E_NOMEM:
		return true;
	default:
		return false;
	}
}

static void
reload_accepted(struct cw_engine *e, const struct ivi_bundle_desc *d, const struct cw_reply *ans)
{
	char old_serial[130];

	snprintf(old_serial, sizeof(old_serial), "%s",
	    e->server_known && e->served.present ? e->served.serial : "none");
	if (ans->changed)
		log_notice("reload: server now serves serial %s (was %s), not after %s, "
		    "fingerprint %s, generation %lld", ans->served.serial, old_serial,
		    ans->served.not_after, ans->served.fingerprint, ans->generation);
	else
		log_info("reload: server already served serial %s (generation %lld); nothing changed",
		    ans->served.serial, ans->generation);
	e->served = ans->served;
	e->server_known = ans->served.present;
	snprintf(e->handled, sizeof(e->handled), "%s", d->content_hash);
	e->backoff = 0;
	e->stale_tries = 0;
}

static void
reload_rejected(struct cw_engine *e, const struct ivi_bundle_desc *d, const struct cw_reply *ans)
{
	if (ans->err == IVI_E_STALE_FINGERPRINT && ++e->stale_tries <= ENGINE_STALE_TRIES) {
		log_info("reload: files changed after validation (stale_fingerprint); "
		    "reading them again");
		retry_in(e, settle_seconds(e));
		return;
	}
	if (answer_is_temporary(ans->err) || ans->err == IVI_E_STALE_FINGERPRINT) {
		if (ivi_ratelimit_allow(&e->rl_retry))
			log_error("reload: server rejected serial %s (%s: %s); retrying with "
			    "backoff", d->serial, ans->code, ans->message);
		retry_in(e, backoff_next(e));
		return;
	}
	log_warning("reload: server rejected serial %s (%s: %s); it keeps serving %s",
	    d->serial, ans->code, ans->message,
	    e->served.present ? e->served.serial : "its current certificate");
	snprintf(e->handled, sizeof(e->handled), "%s", d->content_hash);
	e->stale_tries = 0;
}

static void
reload_send(struct cw_engine *e, const struct ivi_bundle_desc *d, const char *reason)
{
	struct cw_reply ans;
	char na[40];
	int rc;

	cw_format_time(d->not_after, na, sizeof(na));
	log_info("reload: asking the server to load serial %s (fingerprint %s, not after %s)",
	    d->serial, d->fingerprint, na);
	rc = cw_ctl_reload(e->cfg, e->key, d->fingerprint, reason, CW_CALL_TIMEOUT_MS, &ans);
	if (rc != 0) {
		server_unreachable(e, rc, "sending a reload");
		return;
	}
	server_reachable(e);
	if (ans.ok)
		reload_accepted(e, d, &ans);
	else
		reload_rejected(e, d, &ans);
	cw_reply_clear(&ans);
}

/* ---- the files ---------------------------------------------------------- */

/*
 * Tells whether a load error may heal by itself when a writer finishes.
 * permission_denied, password_missing and wrong_password need an operator,
 * so they are reported at once like other complete but invalid sets.
 */
static bool
error_is_transient(int code)
{
	switch (code) {
	case IVI_E_FILE_MISSING:
	case IVI_E_FILE_EMPTY:
	case IVI_E_NO_PEM:
	case IVI_E_TRUNCATED:
	case IVI_E_PARSE:
	case IVI_E_KEY_MISMATCH:
	case IVI_E_NOT_REGULAR:
	case IVI_E_IO:
		return true;
	default:
		return false;
	}
}

static void
broken_clear(struct cw_engine *e)
{
	if (e->broken_since != 0 && e->broken_warned)
		log_notice("watch: the certificate files are complete again");
	e->broken[0] = '\0';
	e->broken_since = 0;
	e->broken_warned = false;
	e->broken_code = 0;
}

/* One line, at error level, naming both files and both public keys of a mismatched pair. */
static void
broken_warn_mismatch(struct cw_engine *e, double lasted)
{
	const struct ivi_config_tls *tls = &e->cfg->tls;
	struct cw_certinfo ci;

	cw_certinfo_read(tls->cert_path, tls->key_path, &ci);
	log_error("watch: %s and %s do not match for %.0f s: certificate public key "
	    "sha256:%s, private key public key sha256:%s; keeping the served certificate, "
	    "and a restart with these files would fail", tls->cert_path,
	    tls->key_path != NULL ? tls->key_path : "(none)", lasted,
	    ci.have_cert ? ci.cert_key_id : "unreadable",
	    ci.have_key ? ci.key_id : "unreadable or encrypted");
}

/* Records an incomplete set; escalates once after mismatch_grace seconds. */
static void
broken_note(struct cw_engine *e, const char *hash, const struct ivi_bundle_error *err)
{
	double now = ev_now(e->loop);
	double grace = e->cfg->certwatch.mismatch_grace;
	double lasted, delay;

	if (e->broken_since == 0) {
		e->broken_since = now;
		e->broken_warned = false;
	}
	snprintf(e->broken, sizeof(e->broken), "%s", hash);
	e->broken_code = err->code;
	snprintf(e->broken_file, sizeof(e->broken_file), "%s", err->file);
	lasted = now - e->broken_since;
	engine_debug(e, "watch: set not complete yet: %s (%s: %s); waiting for more changes",
	    err->file[0] != '\0' ? err->file : "(no file)", ivi_err_code(err->code), err->message);
	if (e->broken_warned)
		return;
	if (lasted < grace) {
		delay = backoff_next(e);
		retry_in(e, delay < grace - lasted ? delay : grace - lasted);
		return;
	}
	e->broken_warned = true;
	if (err->code == IVI_E_KEY_MISMATCH)
		broken_warn_mismatch(e, lasted);
	else
		log_warning("watch: %s still unusable after %.0f s (%s: %s); keeping the served "
		    "certificate and waiting for the file to change",
		    err->file[0] != '\0' ? err->file : "certificate set", lasted,
		    ivi_err_code(err->code), err->message);
}

/* Returns the seconds until not_before_check_at, between 1 and one day. */
static double
not_before_delay(const struct cw_engine *e)
{
	double delay = difftime(e->not_before_check_at, time(NULL));

	if (delay < 1)
		delay = 1;
	if (delay > ENGINE_NOT_BEFORE_WAIT_MAX)
		delay = ENGINE_NOT_BEFORE_WAIT_MAX;
	return delay;
}

/*
 * Schedules a check at the notBefore of a set that is not valid yet.
 * NOTE: libev timers follow the monotonic clock, so a step of the wall
 * clock moves the check by as much; the one-day cap bounds that error.
 */
static void
invalid_retry_at_not_before(struct cw_engine *e, time_t not_before)
{
	double delay;
	char when[40];

	e->not_before_check_at = not_before - e->cfg->tls.clock_skew;
	delay = not_before_delay(e);
	retry_in(e, delay);
	cw_format_time(time(NULL) + (time_t)delay, when, sizeof(when));
	log_info("watch: checking the not yet valid set again at %s", when);
}

/* Logs a complete but invalid set once (the caller records its hash). */
static void
invalid_report(struct cw_engine *e, const struct ivi_bundle_error *err)
{
	const struct ivi_config_tls *tls = &e->cfg->tls;
	enum ivi_log_level level = IVI_LOG_WARNING;
	char nb[40], na[40], fields[256] = "";
	struct cw_certinfo ci;

	cw_certinfo_read(tls->cert_path, NULL, &ci);

	/* Fields of a certificate that could not be read are left out, not printed as "?". */
	if (ci.have_cert) {
		cw_format_time(ci.not_before, nb, sizeof(nb));
		cw_format_time(ci.not_after, na, sizeof(na));
		snprintf(fields, sizeof(fields), ": serial %s, not before %s, not after %s",
		    ci.serial, nb, na);
	}
	/* A served certificate close to expiry makes every rejected candidate urgent. */
	if (e->server_known && e->served.present && e->served.not_after_t != 0 &&
	    e->served.not_after_t - time(NULL) < (time_t)tls->expiry_warn_days * 86400)
		level = IVI_LOG_ERROR;
	ivi_log(level, "watch: rejected %s (%s: %s)%s; keeping the served certificate%s%s",
	    err->file[0] != '\0' ? err->file : tls->cert_path,
	    ivi_err_code(err->code), err->message, fields,
	    level == IVI_LOG_ERROR ? ", which expires at " : "",
	    level == IVI_LOG_ERROR ? e->served.not_after : "");
	if (err->code == IVI_E_CERT_NOT_YET_VALID && ci.have_cert)
		invalid_retry_at_not_before(e, ci.not_before);
}

/* Logs each warning of d, such as the name of a missing issuer. */
static void
log_desc_warnings(const struct cw_engine *e, const struct ivi_bundle_desc *d)
{
	char text[512];
	size_t i;

	for (i = 0; i < d->n_warnings; i++) {
		ivi_bundle_desc_warning(d, i, text, sizeof(text));
		log_warning("watch: %s: %s", e->cfg->tls.cert_path, text);
	}
}

/* Tells whether the replacement policy forbids d over what the server serves; logs why. */
static bool
policy_rejects(struct cw_engine *e, const struct ivi_bundle_desc *d)
{
	const struct ivi_config_tls *tls = &e->cfg->tls;
	struct ivi_bundle_desc served;
	struct ivi_bundle_error err;

	if (!e->server_known || !e->served.present || e->served.chain_len == 0 ||
	    e->served.not_after_t == 0)
		return false;
	memset(&served, 0, sizeof(served));
	memset(&err, 0, sizeof(err));
	snprintf(served.serial, sizeof(served.serial), "%s", e->served.serial);
	served.chain_len = e->served.chain_len;
	served.not_after = e->served.not_after_t;
	if (ivi_bundle_check_replacement(d, &served, tls->allow_chain_shrink, tls->allow_rollback,
	    &err) == 0)
		return false;
	log_warning("watch: not replacing served serial %s with serial %s from %s (%s: %s); "
	    "keeping the served certificate", e->served.serial, d->serial, tls->cert_path,
	    ivi_err_code(err.code), err.message);

	/* The shorter chain's own warnings name the issuer that is missing. */
	if (err.code == IVI_E_CHAIN_SHRANK)
		log_desc_warnings(e, d);
	return true;
}

/* Returns the seconds per reload once the burst is spent: 5 * settle_ms, at least 0.5 s. */
static double
reload_interval(const struct cw_engine *e)
{
	double interval = 5 * settle_seconds(e);

	return interval > ENGINE_RELOAD_INTERVAL_MIN ? interval : ENGINE_RELOAD_INTERVAL_MIN;
}

/*
 * Takes one reload token. Returns 0, or the seconds until the next token
 * when the bucket is empty. The caller then checks the files again at that
 * time, so the latest set is sent, not dropped.
 */
static double
reload_token_take(struct cw_engine *e)
{
	double now = ev_now(e->loop);

	if (e->reload_tokens_at == 0)
		e->reload_tokens = ENGINE_RELOAD_BURST;
	else
		e->reload_tokens += (now - e->reload_tokens_at) / reload_interval(e);
	if (e->reload_tokens > ENGINE_RELOAD_BURST)
		e->reload_tokens = ENGINE_RELOAD_BURST;
	e->reload_tokens_at = now;
	/* 0.999 absorbs rounding, so the timer set for the next token finds it. */
	if (e->reload_tokens < 0.999)
		return (1 - e->reload_tokens) * reload_interval(e);
	e->reload_tokens -= 1;
	return 0;
}

/* Acts on a complete, valid set whose content hash is not handled yet. */
static void
engine_decide(struct cw_engine *e, const struct ivi_bundle_desc *d)
{
	char nb[40], na[40];
	double wait;

	if (strcmp(d->content_hash, e->handled) == 0)
		return;
	if (e->need_status) {
		engine_debug(e, "watch: serial %s is valid; the reload waits for the server",
		    d->serial);
		return;
	}
	if (e->server_known && e->served.present &&
	    strcmp(e->served.content_hash, d->content_hash) == 0) {
		log_info("watch: server already serves these files (serial %s, content %.12s)",
		    d->serial, d->content_hash);
		snprintf(e->handled, sizeof(e->handled), "%s", d->content_hash);
		return;
	}
	if (policy_rejects(e, d)) {
		snprintf(e->handled, sizeof(e->handled), "%s", d->content_hash);
		return;
	}
	wait = reload_token_take(e);
	if (wait > 0) {
		engine_debug(e, "watch: serial %s is valid; reload rate limit reached, "
		    "checking the files again in %.2f s", d->serial, wait);
		retry_in(e, wait);
		return;
	}
	log_desc_warnings(e, d);
	cw_format_time(d->not_before, nb, sizeof(nb));
	cw_format_time(d->not_after, na, sizeof(na));
	log_notice("watch: new valid set: serial %s, not before %s, not after %s, content %.12s",
	    d->serial, nb, na, d->content_hash);
	reload_send(e, d, "ivicli-certwatch watch: certificate files changed");
}

/* Loads the set whose files hash to hash and acts on the result. */
static void
engine_check_content(struct cw_engine *e, const struct ivi_bundle_opts *opts, const char *hash)
{
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	int rc;

	/* A not yet valid set was handled; once its notBefore passed, look again. */
	if (e->not_before_check_at != 0 && time(NULL) >= e->not_before_check_at) {
		e->handled[0] = '\0';
		e->not_before_check_at = 0;
	}
	if (strcmp(hash, e->handled) == 0) {
		engine_debug(e, "watch: content unchanged (%.12s); nothing to do", hash);
		broken_clear(e);

		/* engine_check() stopped the retry timer, so re-arm a pending notBefore check. */
		if (e->not_before_check_at != 0)
			retry_in(e, not_before_delay(e));
		return;
	}
	memset(&err, 0, sizeof(err));
	rc = ivi_bundle_load(opts, &b, &err);
	if (rc != 0 && error_is_transient(rc)) {
		broken_note(e, hash, &err);
		return;
	}
	broken_clear(e);
	if (rc != 0) {
		err.code = rc;
		invalid_report(e, &err);
		snprintf(e->handled, sizeof(e->handled), "%s", hash);
		return;
	}
	/* The files moved on between hashing and loading: look again after a quiet period. */
	if (strcmp(ivi_bundle_describe(b)->content_hash, hash) != 0)
		retry_in(e, settle_seconds(e));
	engine_decide(e, ivi_bundle_describe(b));
	ivi_bundle_free(b);
}

static void
engine_check(struct cw_engine *e)
{
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err;
	bool was_down = e->server_down;
	char hash[65];

	ev_timer_stop(e->loop, &e->settle);
	ev_timer_stop(e->loop, &e->retry);
	e->retry_at = 0;

	/* Re-resolve symlinks and directories before reading, so no change slips between. */
	engine_arm(e);
	if (e->need_status)
		server_status(e);
	cw_bundle_opts(e->cfg, &opts);
	memset(&err, 0, sizeof(err));
	if (ivi_bundle_hash_files(&opts, hash, &err) != 0) {
		if (err.code == 0)
			err.code = IVI_E_IO;
		broken_note(e, "", &err);
	} else {
		engine_check_content(e, &opts, hash);
	}
	if (e->server_down != was_down)
		engine_arm(e);

	if (e->retry_at != 0) {
		ev_timer_set(&e->retry, e->retry_at - ev_now(e->loop), 0);
		ev_timer_start(e->loop, &e->retry);
	} else if (!e->server_down && e->broken_since == 0) {
		e->backoff = 0;
	}
	if (!e->ready) {
		e->ready = true;
		e->on_ready(e->arg);
	}
}

/* ---- lifecycle ---------------------------------------------------------- */

int
cw_engine_new(struct ev_loop *loop, struct ivi_config *cfg, struct ivi_key *key,
    void (*on_ready)(void *arg), void *arg, struct cw_engine **out)
{
	struct cw_engine *e;
	int rc;

	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		ivi_config_free(cfg);
		ivi_key_free(key);
		return IVI_E_NOMEM;
	}
	e->loop = loop;
	e->cfg = cfg;
	e->key = key;
	e->on_ready = on_ready;
	e->arg = arg;
	e->need_status = true;
	e->rl_debug.interval = 10;
	e->rl_debug.burst = 50;
	e->rl_retry.interval = 600;
	e->rl_retry.burst = 3;
	ev_init(&e->settle, on_settle);
	e->settle.data = e;
	ev_init(&e->retry, on_retry);
	e->retry.data = e;
	rc = cw_fswatch_new(loop, cfg->certwatch.force_poll, cfg->certwatch.poll_interval_ms,
	    on_fs, e, &e->fsw);
	if (rc != 0) {
		cw_engine_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

static void
engine_log_start(const struct cw_engine *e)
{
	const struct ivi_config *cfg = e->cfg;

	log_notice("watch: watching certificate %s, key %s%s%s%s%s; settle %d ms, "
	    "retry up to %d ms, mismatch grace %d s, control socket %s",
	    cfg->tls.cert_path, cfg->tls.key_path != NULL ? cfg->tls.key_path : "(in PKCS#12)",
	    cfg->tls.client_ca_path != NULL ? ", client CA " : "",
	    cfg->tls.client_ca_path != NULL ? cfg->tls.client_ca_path : "",
	    cfg->tls.crl_path != NULL ? ", CRL " : "",
	    cfg->tls.crl_path != NULL ? cfg->tls.crl_path : "",
	    cfg->certwatch.settle_ms, cfg->certwatch.retry_max_ms,
	    cfg->certwatch.mismatch_grace, cfg->control.socket);
}

/*
 * Logs one warning when the valid set on disk expires within
 * expiry_warn_days. Runs at start and after SIGHUP, even when the set is
 * already served, because a near expiry then needs an operator.
 */
static void
engine_warn_expiry(const struct cw_engine *e)
{
	struct ivi_bundle_opts opts;
	struct ivi_bundle_error err;
	struct ivi_bundle *b = NULL;
	const struct ivi_bundle_desc *d;
	char na[40];

	cw_bundle_opts(e->cfg, &opts);
	memset(&err, 0, sizeof(err));
	if (ivi_bundle_load(&opts, &b, &err) != 0)
		return;
	d = ivi_bundle_describe(b);
	if (d->expiring_soon) {
		cw_format_time(d->not_after, na, sizeof(na));
		log_warning("watch: the certificate in %s (serial %s) expires soon: not after %s, "
		    "within expiry_warn_days = %d; renew it", e->cfg->tls.cert_path, d->serial, na,
		    e->cfg->tls.expiry_warn_days);
	}
	ivi_bundle_free(b);
}

void
cw_engine_start(struct cw_engine *e)
{
	engine_log_start(e);
	engine_check(e);
	engine_warn_expiry(e);
}

int
cw_engine_reconfigure(struct cw_engine *e, struct ivi_config *cfg, struct ivi_key *key)
{
	ivi_config_free(e->cfg);
	ivi_key_free(e->key);
	e->cfg = cfg;
	e->key = key;
	cw_fswatch_set_mode(e->fsw, cfg->certwatch.force_poll, cfg->certwatch.poll_interval_ms);
	e->need_status = true;
	e->backoff = 0;
	engine_log_start(e);
	engine_check(e);
	engine_warn_expiry(e);
	return 0;
}

void
cw_engine_free(struct cw_engine *e)
{
	if (e == NULL)
		return;
	ev_timer_stop(e->loop, &e->settle);
	ev_timer_stop(e->loop, &e->retry);
	cw_fswatch_free(e->fsw);
	ivi_config_free(e->cfg);
	ivi_key_free(e->key);
	free(e);
}
