/*
 * Control socket server on the event loop: accept, peer check, an
 * incremental frame decoder fed from non-blocking reads, request dispatch
 * and the signed response. One request per connection.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ivi_proto.h"
#include "control.h"
#include "reload.h"
#include "server.h"
#include "status.h"

/* Control connections served at once; more are closed at accept. */
#define CTL_MAX_CONNS 8
/* Seconds a peer gets to send its whole request. */
#define CTL_READ_TIMEOUT 5.0
/* Seconds a reload may take before the peer is dropped (the reload still runs). */
#define CTL_REPLY_TIMEOUT 60.0

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn) entry;
	struct srv_control *ctl;
	int fd;
	struct ivi_peer peer;
	ev_io rio;
	ev_io wio;
	ev_timer timer;
	struct ivi_decoder *dec;
	uint8_t *out;
	size_t out_len;
	size_t out_off;
	struct srv_reload_job *job;   /* reload this peer waits for */
	char id[64];                  /* id of the request the response is for */
};

struct srv_control {
	struct srv *srv;
	const char *path;
	int fd;
	ev_io io;
	ev_timer accept_retry;        /* resumes accepting after EMFILE */
	struct ivi_key *key;
	struct ivi_replay *replay;
	time_t started;               /* requests stamped earlier were made for another server */
	uid_t *allowed;
	size_t n_allowed;
	TAILQ_HEAD(, ctl_conn) conns;
	unsigned n_conns;
	struct ivi_ratelimit rl;
};

static void ctl_close(struct ctl_conn *cc);

/* Audits a rejected peer and logs it, rate-limited. */
static void
ctl_reject_audit(struct srv_control *ctl, const struct ivi_peer *peer, int err)
{
	cJSON *ev;

	ev = srv_audit_begin(&ctl->srv->audit, "control-rejected");
	if (ev != NULL) {
		cJSON_AddStringToObject(ev, "code", ivi_err_code(err));
		cJSON_AddNumberToObject(ev, "peer_uid", (double)peer->uid);
		cJSON_AddNumberToObject(ev, "peer_pid", (double)peer->pid);
		srv_audit_commit(&ctl->srv->audit, ev);
	}
	if (ivi_ratelimit_allow(&ctl->rl))
		log_warning("control: rejected a request from uid %ld pid %ld (%s); "
		    "dropping that connection", (long)peer->uid, (long)peer->pid,
		    ivi_err_code(err));
}

/* Signs msg (consumed) and starts writing it; the connection closes afterwards. */
static void
ctl_send(struct ctl_conn *cc, cJSON *msg)
{
	struct ev_loop *loop = cc->ctl->srv->loop;
	int ret;

	ev_io_stop(loop, &cc->rio);
	if (msg == NULL) {
		ctl_close(cc);
		return;
	}
	ret = ivi_frame_encode(cc->ctl->key, msg, &cc->out, &cc->out_len);
	cJSON_Delete(msg);
	if (ret < 0) {
		log_error("control: cannot encode a response (%s); closing the connection",
		    ivi_strerror(ret));
		ctl_close(cc);
		return;
	}
	cc->out_off = 0;
	ev_io_start(loop, &cc->wio);
}

static void
ctl_send_error(struct ctl_conn *cc, int err, const char *message)
{
	ctl_send(cc, ivi_response_error(cc->id, err, message));
}

/* Runs on the loop when the reload this peer requested has finished. */
static void
ctl_reload_done(void *arg, const struct srv_reload_result *res)
{
	struct ctl_conn *cc = arg;
	char message[1100];
	cJSON *result, *desc;

	cc->job = NULL;
	if (res->err != 0) {
		snprintf(message, sizeof(message), "%s%s%s", res->error->file,
		    res->error->file[0] != '\0' ? ": " : "", res->error->message);
		ctl_send_error(cc, res->err, message);
		return;
	}
	result = cJSON_CreateObject();
	desc = ivi_bundle_desc_to_json(res->desc);
	if (result == NULL || desc == NULL) {
		cJSON_Delete(result);
		cJSON_Delete(desc);
		ctl_send_error(cc, IVI_E_NOMEM, "out of memory");
		return;
	}
	cJSON_AddNumberToObject(result, "generation", (double)res->generation);
	cJSON_AddBoolToObject(result, "changed", res->changed);
	cJSON_AddItemToObject(result, "certificate", desc);
	ctl_send(cc, ivi_response_ok(cc->id, result));
}

static void
ctl_handle_reload(struct ctl_conn *cc, const struct ivi_request *req)
{
	struct srv *srv = cc->ctl->srv;
	int ret;

	if (!srv->tls_enabled || srv->self_signed || srv->reload == NULL) {
		ctl_send_error(cc, IVI_E_RELOAD_DISABLED, srv->tls_enabled ?
		    "the server uses an ephemeral self-signed certificate and never reloads" :
		    "TLS is disabled, so there is no certificate to reload");
		return;
	}
	ret = srv_reload_submit(srv->reload, SRV_RELOAD_CONTROL, req->fingerprint,
	    ctl_reload_done, cc, &cc->job);
	if (ret < 0) {
		ctl_send_error(cc, ret, "too many reloads are waiting; retry later");
		return;
	}
	ev_timer_stop(srv->loop, &cc->timer);
	ev_timer_set(&cc->timer, CTL_REPLY_TIMEOUT, 0.);
	ev_timer_start(srv->loop, &cc->timer);
}

/* Checks one verified frame and sends the response. */
static void
ctl_handle(struct ctl_conn *cc, cJSON *msg)
{
	struct srv_control *ctl = cc->ctl;
	struct ivi_request req;
	cJSON *result;
	int ret;

	ret = ivi_request_parse(msg, &req);
	if (ret == 0) {
		snprintf(cc->id, sizeof(cc->id), "%s", req.id);
		ret = ivi_replay_check(ctl->replay, req.timestamp, req.nonce, time(NULL));
	}
	/*
	 * The nonce cache starts empty, so a request stamped before this server
	 * started may be a copy captured from the previous one. Reject it.
	 */
	if (ret == 0 && req.timestamp < (int64_t)ctl->started)
		ret = IVI_E_STALE_TIMESTAMP;
	if (ret < 0) {
		ctl_reject_audit(ctl, &cc->peer, ret);
		ctl_send_error(cc, ret, ivi_strerror(ret));
		goto out;
	}
	log_debug("control: %s request from uid %ld pid %ld", ivi_msg_type_name(req.type),
	    (long)cc->peer.uid, (long)cc->peer.pid);

	switch (req.type) {
	case IVI_MSG_PING:
		result = cJSON_CreateObject();
		if (result != NULL) {
			cJSON_AddBoolToObject(result, "pong", true);
			cJSON_AddStringToObject(result, "server_version", PACKAGE_VERSION);
		}
		ctl_send(cc, result != NULL ? ivi_response_ok(cc->id, result) : NULL);
		break;
	case IVI_MSG_STATUS:
		result = srv_status_json(ctl->srv);
		ctl_send(cc, result != NULL ? ivi_response_ok(cc->id, result) : NULL);
		break;
	case IVI_MSG_RELOAD:
		ctl_handle_reload(cc, &req);
		break;
	default:
		ctl_send_error(cc, IVI_E_UNKNOWN_TYPE, "unknown request type");
		break;
	}
out:
	cJSON_Delete(msg);
}

static void
ctl_on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *cc = w->data;
	uint8_t buf[4096];
	size_t off, used;
	ssize_t n;
	int ret;

	n = recv(cc->fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_close(cc);
		return;
	}
	for (off = 0; off < (size_t)n; off += used) {
		used = 0;
		ret = ivi_decoder_feed(cc->dec, buf + off, (size_t)n - off, &used);
		if (ret == IVI_DECODE_NEED_MORE)
			return;
		if (ret == IVI_DECODE_FRAME) {
			/* One request per connection: bytes after the frame are ignored. */
			ctl_handle(cc, ivi_decoder_take(cc->dec));
			return;
		}
		ctl_reject_audit(cc->ctl, &cc->peer, ret);
		ctl_send_error(cc, ret, ivi_strerror(ret));
		return;
	}
}

static void
ctl_on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *cc = w->data;
	ssize_t n;

	while (cc->out_off < cc->out_len) {
		n = send(cc->fd, cc->out + cc->out_off, cc->out_len - cc->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			ctl_close(cc);
			return;
		}
		cc->out_off += (size_t)n;
	}
	ctl_close(cc);
}

static void
ctl_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_conn *cc = w->data;

	if (ivi_ratelimit_allow(&cc->ctl->rl))
		log_warning("control: peer uid %ld pid %ld timed out; closing the connection",
		    (long)cc->peer.uid, (long)cc->peer.pid);
	ctl_close(cc);
}

static void
ctl_close(struct ctl_conn *cc)
{
	struct srv_control *ctl = cc->ctl;
	struct ev_loop *loop = ctl->srv->loop;

	ev_io_stop(loop, &cc->rio);
	ev_io_stop(loop, &cc->wio);
	ev_timer_stop(loop, &cc->timer);
	srv_reload_forget(cc->job);
	ivi_decoder_free(cc->dec);
	free(cc->out);
	close(cc->fd);
	TAILQ_REMOVE(&ctl->conns, cc, entry);
	ctl->n_conns--;
	free(cc);
}

static bool
ctl_peer_allowed(const struct srv_control *ctl, uid_t uid)
{
	size_t i;

	for (i = 0; i < ctl->n_allowed; i++) {
		if (ctl->allowed[i] == uid)
			return true;
	}
	return false;
}

/* Sets up a connection for fd. A peer that is not allowed gets an error response and is dropped. */
static void
ctl_start(struct srv_control *ctl, int fd)
{
	struct ev_loop *loop = ctl->srv->loop;
	struct ctl_conn *cc;
	int ret;

	cc = calloc(1, sizeof(*cc));
	if (cc == NULL) {
		close(fd);
		return;
	}
	cc->ctl = ctl;
	cc->fd = fd;
	ev_io_init(&cc->rio, ctl_on_readable, fd, EV_READ);
	ev_io_init(&cc->wio, ctl_on_writable, fd, EV_WRITE);
	ev_timer_init(&cc->timer, ctl_on_timeout, CTL_READ_TIMEOUT, 0.);
	cc->rio.data = cc;
	cc->wio.data = cc;
	cc->timer.data = cc;
	TAILQ_INSERT_TAIL(&ctl->conns, cc, entry);
	ctl->n_conns++;
	ev_timer_start(loop, &cc->timer);

	ret = ivi_transport_unix.peer(fd, &cc->peer);
	if (ret < 0) {
		log_warning("control: cannot read the peer's credentials (%s); dropping it",
		    ivi_strerror(ret));
		ctl_close(cc);
		return;
	}
	if (!ctl_peer_allowed(ctl, cc->peer.uid)) {
		ctl_reject_audit(ctl, &cc->peer, IVI_E_PEER_NOT_ALLOWED);
		ctl_send_error(cc, IVI_E_PEER_NOT_ALLOWED,
		    "this user is not in [control] allowed_users");
		return;
	}
	ret = ivi_decoder_new(ctl->key, &cc->dec);
	if (ret < 0) {
		ctl_close(cc);
		return;
	}
	ev_io_start(loop, &cc->rio);
}

static void
ctl_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv_control *ctl = w->data;
	struct ivi_peer peer;
	int fd, i, ret;

	for (i = 0; i < CTL_MAX_CONNS; i++) {
		ret = ivi_transport_unix.accept(ctl->fd, &fd);
		if (ret == IVI_E_BUSY)
			return;
		if (ret < 0) {
			if (ivi_ratelimit_allow(&ctl->rl))
				log_error("control: accept failed (%s); pausing for %.2f s",
				    ivi_strerror(ret), SRV_ACCEPT_RETRY_SECONDS);
			/* Out of descriptors: the socket stays readable, so wait instead of spinning. */
			ev_io_stop(loop, &ctl->io);
			ev_timer_set(&ctl->accept_retry, SRV_ACCEPT_RETRY_SECONDS, 0.);
			ev_timer_start(loop, &ctl->accept_retry);
			return;
		}
		if (ctl->n_conns >= CTL_MAX_CONNS) {
			memset(&peer, 0, sizeof(peer));
			ivi_transport_unix.peer(fd, &peer);
			ctl_reject_audit(ctl, &peer, IVI_E_BUSY);
			close(fd);
			continue;
		}
		ctl_start(ctl, fd);
	}
}

static void
ctl_on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv_control *ctl = w->data;

	ev_io_start(loop, &ctl->io);
}

/* Resolves allowed_users (names or numeric uids); unset means root and our own uid. */
static int
ctl_resolve_users(struct srv_control *ctl, const struct ivi_config_control *cc, char *errbuf,
    size_t errlen)
{
	size_t i, n;
	struct passwd pw, *res;
	char pwbuf[4096], *end;
	unsigned long v;

	n = cc->n_allowed_users > 0 ? cc->n_allowed_users : 2;
	ctl->allowed = calloc(n, sizeof(*ctl->allowed));
	if (ctl->allowed == NULL)
		return IVI_E_NOMEM;
	if (cc->n_allowed_users == 0) {
		ctl->allowed[0] = 0;
		ctl->allowed[1] = geteuid();
		ctl->n_allowed = 2;
		return 0;
	}
	for (i = 0; i < n; i++) {
		const char *name = cc->allowed_users[i];

		errno = 0;
		v = strtoul(name, &end, 10);
		if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && errno == 0) {
			ctl->allowed[ctl->n_allowed++] = (uid_t)v;
			continue;
		}
		if (getpwnam_r(name, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || res == NULL) {
			snprintf(errbuf, errlen, "[control] allowed_users: no user named '%s'", name);
			return IVI_E_CONFIG;
		}
		ctl->allowed[ctl->n_allowed++] = pw.pw_uid;
	}
	return 0;
}

int
srv_control_new(struct srv *srv, struct srv_control **out, char *errbuf, size_t errlen)
{
	const struct ivi_config_control *cc = &srv->cfg->control;
	struct srv_control *ctl;
	int ret;

	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return IVI_E_NOMEM;
	ctl->srv = srv;
	ctl->fd = -1;
	ctl->path = cc->socket;
	ctl->rl.interval = 10;
	ctl->rl.burst = 5;
	TAILQ_INIT(&ctl->conns);
	ev_timer_init(&ctl->accept_retry, ctl_on_accept_retry, 0., 0.);
	ctl->accept_retry.data = ctl;

	ret = ivi_key_load(cc->key_path, &ctl->key, errbuf, errlen);
	if (ret < 0)
		goto fail;
	ret = ctl_resolve_users(ctl, cc, errbuf, errlen);
	if (ret < 0)
		goto fail;
	ctl->started = time(NULL);
	ret = ivi_replay_new(cc->timestamp_window, IVI_REPLAY_DEFAULT_CAPACITY, &ctl->replay);
	if (ret < 0) {
		snprintf(errbuf, errlen, "cannot create the replay guard (%s)", ivi_strerror(ret));
		goto fail;
	}
	ret = ivi_transport_unix.listen(cc->socket, &ctl->fd, errbuf, errlen);
	if (ret < 0) {
		ctl->fd = -1;
		goto fail;
	}
	ev_io_init(&ctl->io, ctl_on_accept, ctl->fd, EV_READ);
	ctl->io.data = ctl;
	ev_io_start(srv->loop, &ctl->io);
	*out = ctl;
	return 0;
fail:
	srv_control_free(ctl);
	return ret;
}

void
srv_control_free(struct srv_control *ctl)
{
	if (ctl == NULL)
		return;
	while (!TAILQ_EMPTY(&ctl->conns))
		ctl_close(TAILQ_FIRST(&ctl->conns));
	ev_timer_stop(ctl->srv->loop, &ctl->accept_retry);
	if (ctl->fd >= 0) {
		ev_io_stop(ctl->srv->loop, &ctl->io);
		ivi_transport_unix.unlisten(ctl->path, ctl->fd);
	}
	ivi_replay_free(ctl->replay);
	ivi_key_free(ctl->key);
	free(ctl->allowed);
	free(ctl);
}
