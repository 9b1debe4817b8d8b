/*
 * Client connections on the libev loop: TLS handshake, reading requests,
 * writing responses, timeouts and a lingering close.
 *
 * Each callback does one step and returns. GNUTLS_E_AGAIN re-arms the
 * direction GnuTLS is waiting for, and the write watcher runs only while
 * output is pending, so a keep-alive request that fits in the socket
 * buffers costs no epoll_ctl(2) call and no allocation.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "conn.h"
#include "server.h"

/* Bytes read per recv; GnuTLS keeps the rest of a larger record for the next call. */
#define CONN_INBUF 8192
/*
 * Raw TLS bytes read per recv. GnuTLS reads each record in two calls
 * (header, then body); serving them from this buffer saves most of those
 * system calls during a handshake.
 */
#define CONN_RAWBUF 4096
/* Reads handled in one callback before other connections get their turn. */
#define CONN_READ_ROUNDS 16
/* Seconds to discard input after the final response before closing. */
#define CONN_LINGER_SECONDS 2.0

/* Results of the I/O helpers. */
#define CONN_DONE 0
#define CONN_BLOCKED 1
#define CONN_CLOSED (-1)
#define CONN_AGAIN (-2)

enum conn_state {
	CONN_HANDSHAKE,
	CONN_OPEN,
	CONN_LINGER,
};

/* Action the idle timer takes when it fires. */
enum conn_deadline {
	DL_IDLE,     /* no request in progress: close */
	DL_REQUEST,  /* part of a request arrived: respond 408 */
	DL_WRITE,    /* output stalled: close */
	DL_LINGER,   /* final response sent: close */
};

struct srv_conn {
	TAILQ_ENTRY(srv_conn) entry;
	struct srv *srv;
	int fd;
	enum conn_state state;
	bool busy;
	bool unread;                 /* input was dropped when the last response was queued */
	bool error_logged;           /* the error status of this connection was logged */
	ev_io rio;
	ev_io wio;
	ev_timer handshake_timer;
	ev_timer idle_timer;
	ev_tstamp timer_at;          /* when idle_timer fires */
	ev_tstamp deadline;          /* when dl applies; may be later than timer_at */
	enum conn_deadline dl;
	unsigned long dl_request;    /* the request DL_REQUEST times (srv_http.begun) */
	gnutls_session_t session;    /* NULL when TLS is off */
	struct srv_creds *creds;     /* the set this session was started with */
	struct srv_http http;
	struct srv_buf out;
	size_t in_off;
	size_t in_len;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	size_t raw_off;
	size_t raw_len;
	char raw[CONN_RAWBUF];       /* TLS records read but not yet taken by GnuTLS */
	char in[CONN_INBUF];         /* decrypted request bytes */
};

/*
 * Client certificates must be valid for TLS client authentication. GnuTLS
 * keeps a pointer to this, so it must outlive every session.
 */
static gnutls_typed_vdata_st conn_client_purpose = {
	.type = GNUTLS_DT_KEY_PURPOSE_OID,
	.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	.size = 0,
};

static void conn_on_readable(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_writable(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_handshake_timeout(struct ev_loop *loop, ev_timer *w, int revents);
static void conn_on_deadline(struct ev_loop *loop, ev_timer *w, int revents);
static int conn_read(struct srv_conn *c);

/* Formats the peer address for a log line. */
static const char *
conn_peer(const struct srv_conn *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo((const struct sockaddr *)&c->peer, c->peer_len, host, sizeof(host), port,
		sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "unknown peer");
		return buf;
	}
	if (c->peer.ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
	return buf;
}

/* Starts or stops the read and write watchers. */
static void
conn_want(struct srv_conn *c, bool rd, bool wr)
{
	struct ev_loop *loop = c->srv->loop;

	if (rd && !ev_is_active(&c->rio))
		ev_io_start(loop, &c->rio);
	else if (!rd && ev_is_active(&c->rio))
		ev_io_stop(loop, &c->rio);
	if (wr && !ev_is_active(&c->wio))
		ev_io_start(loop, &c->wio);
	else if (!wr && ev_is_active(&c->wio))
		ev_io_stop(loop, &c->wio);
}

/*
 * Sets the action dl for time at. The timer is restarted only when at is
 * earlier than its current expiry. A later deadline is picked up when the
 * timer fires, so the per-request path does no timer work.
 */
static void
conn_arm(struct srv_conn *c, enum conn_deadline dl, ev_tstamp at)
{
	struct ev_loop *loop = c->srv->loop;

	c->dl = dl;
	c->deadline = at;
	if (ev_is_active(&c->idle_timer) && at >= c->timer_at)
		return;
	ev_timer_stop(loop, &c->idle_timer);
	ev_timer_set(&c->idle_timer, at - ev_now(loop), 0.);
	ev_timer_start(loop, &c->idle_timer);
	c->timer_at = at;
}

/* GnuTLS pull function: serves reads from c->raw, refilling it with one recv. */
static ssize_t
conn_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct srv_conn *c = ptr;
	ssize_t n;
	size_t avail;

	if (c->raw_off == c->raw_len) {
		do {
			n = recv(c->fd, c->raw, sizeof(c->raw), 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			gnutls_transport_set_errno(c->session, errno);
			return -1;
		}
		c->raw_off = 0;
		c->raw_len = (size_t)n;
		if (n == 0)
			return 0;
	}
	avail = c->raw_len - c->raw_off;
	if (len > avail)
		len = avail;
	memcpy(buf, c->raw + c->raw_off, len);
	c->raw_off += len;
	return (ssize_t)len;
}

/* GnuTLS pull timeout function: buffered bytes count as readable. */
static int
conn_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct srv_conn *c = ptr;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (c->raw_off < c->raw_len)
		return 1;
	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* GnuTLS push function: one sendmsg(2) per call, never raising SIGPIPE. */
static ssize_t
conn_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct srv_conn *c = ptr;
	struct msghdr msg = { 0 };
	ssize_t n;

	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	do {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		gnutls_transport_set_errno(c->session, errno);
	return n;
}

/* Returns bytes read, 0 at end of stream, CONN_AGAIN or CONN_CLOSED on error. */
static ssize_t
conn_recv(struct srv_conn *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->session != NULL) {
		do {
			n = gnutls_record_recv(c->session, buf, len);
		} while (n == GNUTLS_E_INTERRUPTED);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_AGAIN)
			return CONN_AGAIN;
		if (ivi_log_enabled(IVI_LOG_DEBUG)) {
			char peer[80];

			log_debug("http: connection from %s ended (%s)",
			    conn_peer(c, peer, sizeof(peer)), gnutls_strerror((int)n));
		}
		return CONN_CLOSED;
	}
	do {
		n = recv(c->fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return CONN_AGAIN;
	return CONN_CLOSED;
}

/* Returns bytes written, CONN_AGAIN or CONN_CLOSED on error. */
static ssize_t
conn_send(struct srv_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->session != NULL) {
		do {
			n = gnutls_record_send(c->session, buf, len);
		} while (n == GNUTLS_E_INTERRUPTED);
		if (n >= 0)
			return n;
		return n == GNUTLS_E_AGAIN ? CONN_AGAIN : CONN_CLOSED;
	}
	do {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return CONN_AGAIN;
	return CONN_CLOSED;
}

/*
 * Sends close_notify (best effort), half-closes the socket and discards
 * input for a short while, so that a client still sending does not get a
 * reset that destroys the final response before it reads it.
 */
static void
conn_linger(struct srv_conn *c)
{
	if (c->session != NULL)
		gnutls_bye(c->session, GNUTLS_SHUT_WR);
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGER;
	conn_want(c, true, false);
	conn_arm(c, DL_LINGER, ev_now(c->srv->loop) + CONN_LINGER_SECONDS);
}

/*
 * Ends the connection after its last response. When the client may still
 * be sending (an error cut its request short, or input was left over) the
 * close lingers; otherwise close_notify goes out and the socket closes now.
 * Returns CONN_CLOSED or CONN_BLOCKED (lingering).
 */
static int
conn_finish(struct srv_conn *c)
{
	if (c->unread || c->http.error_status != 0 || c->raw_off < c->raw_len ||
	    (c->session != NULL && gnutls_record_check_pending(c->session) > 0)) {
		conn_linger(c);
		return CONN_BLOCKED;
	}
	if (c->session != NULL)
		gnutls_bye(c->session, GNUTLS_SHUT_WR);
	srv_conn_close(c);
	return CONN_CLOSED;
}

/* Discards raw input until the peer closes or the socket would block. */
static void
conn_linger_read(struct srv_conn *c)
{
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->in, sizeof(c->in), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		srv_conn_close(c);
		return;
	}
}

/*
 * Writes pending output. Returns CONN_DONE when all of it went out,
 * CONN_BLOCKED when the write watcher now waits (or the connection is
 * lingering), CONN_CLOSED when c was closed.
 */
static int
conn_flush(struct srv_conn *c)
{
	struct srv_buf *out = &c->out;
	ssize_t n;

	while (srv_buf_pending(out) > 0) {
		n = conn_send(c, out->data + out->off, srv_buf_pending(out));
		if (n == CONN_AGAIN) {
			conn_want(c, false, true);
			conn_arm(c, DL_WRITE, ev_now(c->srv->loop) + c->srv->cfg->api.idle_timeout);
			return CONN_BLOCKED;
		}
		if (n < 0) {
			srv_conn_close(c);
			return CONN_CLOSED;
		}
		out->off += (size_t)n;
	}
	srv_buf_reset(out);
	if (c->http.close_after || (c->http.draining && !c->http.in_message))
		return conn_finish(c);
	srv_http_resume(&c->http);
	conn_want(c, true, false);
	if (c->dl == DL_WRITE)
		c->dl = DL_IDLE;
	return CONN_DONE;
}

/* Moves the deadline to match the request state after input was parsed. */
static void
conn_track_request(struct srv_conn *c)
{
	struct srv *srv = c->srv;
	ev_tstamp now = ev_now(srv->loop);

	if (c->http.in_message) {
		/* A request started: the rest of it must arrive within handshake_timeout. */
		if (c->dl != DL_REQUEST || c->dl_request != c->http.begun) {
			c->dl_request = c->http.begun;
			conn_arm(c, DL_REQUEST, now + srv->cfg->api.handshake_timeout);
		}
		return;
	}
	c->dl = DL_IDLE;
	c->deadline = now + srv->cfg->api.idle_timeout;
}

/* Logs a request rejected with an error status, once per connection and rate-limited. */
static void
conn_log_rejected(struct srv_conn *c)
{
	struct srv *srv = c->srv;
	char peer[80];

	if (c->http.error_status == 0 || c->error_logged)
		return;
	c->error_logged = true;
	if (ivi_log_enabled(IVI_LOG_INFO) && ivi_ratelimit_allow(&srv->rl_http))
		log_info("http: rejected a request from %s with %d %s (%s); closing the connection",
		    conn_peer(c, peer, sizeof(peer)), c->http.error_status,
		    srv_http_reason(c->http.error_status), srv_http_error_detail(&c->http));
}

/* Parses buffered input and writes the responses. Returns like conn_flush(). */
static int
conn_process(struct srv_conn *c)
{
	size_t used;

	used = srv_http_feed(&c->http, c->in + c->in_off, c->in_len - c->in_off);
	c->in_off += used;
	if (c->http.close_after && c->in_off < c->in_len)
		c->unread = true;
	if (c->http.close_after || c->in_off == c->in_len) {
		c->in_off = 0;
		c->in_len = 0;
	}
	conn_track_request(c);
	conn_log_rejected(c);
	if (srv_buf_pending(&c->out) > 0 || c->http.close_after)
		return conn_flush(c);
	return CONN_DONE;
}

/*
 * Reads and handles requests until the socket would block. GnuTLS may
 * hold decrypted bytes that the socket will not signal again, so after
 * CONN_READ_ROUNDS reads the read event is queued again instead of waited for.
 */
static int
conn_read(struct srv_conn *c)
{
	ssize_t n;
	int rounds, ret;

	for (rounds = 0; rounds < CONN_READ_ROUNDS; rounds++) {
		if (c->in_off < c->in_len) {
			ret = conn_process(c);
			if (ret != CONN_DONE)
				return ret;
			continue;
		}
		n = conn_recv(c, c->in, sizeof(c->in));
		if (n == CONN_AGAIN) {
			if (c->session != NULL && gnutls_record_get_direction(c->session) == 1)
				conn_want(c, false, true);
			else
				conn_want(c, true, false);
			return CONN_DONE;
		}
		if (n <= 0) {
			srv_conn_close(c);
			return CONN_CLOSED;
		}
		c->in_off = 0;
		c->in_len = (size_t)n;
		ret = conn_process(c);
		if (ret != CONN_DONE)
			return ret;
	}
	conn_want(c, true, false);
	ev_feed_event(c->srv->loop, &c->rio, EV_READ);
	return CONN_DONE;
}

static void
conn_handshake_failed(struct srv_conn *c, int err)
{
	struct srv *srv = c->srv;
	char peer[80];

	srv->stats.handshake_failures++;
	gnutls_alert_send_appropriate(c->session, err);
	if (ivi_log_enabled(IVI_LOG_INFO) && ivi_ratelimit_allow(&srv->rl_tls))
		log_info("tls: handshake with %s failed (%s); closing the connection",
		    conn_peer(c, peer, sizeof(peer)), gnutls_strerror(err));
	srv_conn_close(c);
}

/* Runs the handshake as far as the socket allows. */
static void
conn_handshake(struct srv_conn *c)
{
	struct srv *srv = c->srv;
	int ret, tries;

	for (tries = 0; tries < 8; tries++) {
		ret = gnutls_handshake(c->session);
		if (ret == GNUTLS_E_INTERRUPTED)
			continue;
		if (ret < 0 && ret != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(ret))
			continue;
		break;
	}
	if (ret == GNUTLS_E_AGAIN) {
		if (gnutls_record_get_direction(c->session) == 1)
			conn_want(c, false, true);
		else
			conn_want(c, true, false);
		return;
	}
	if (ret < 0) {
		conn_handshake_failed(c, ret);
		return;
	}

	ev_timer_stop(srv->loop, &c->handshake_timer);
	srv->stats.handshakes++;
	if (gnutls_session_is_resumed(c->session))
		srv->stats.handshakes_resumed++;
	c->state = CONN_OPEN;
	conn_arm(c, DL_IDLE, ev_now(srv->loop) + srv->cfg->api.idle_timeout);
	conn_want(c, true, false);
	conn_read(c);
}

static void
conn_on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv_conn *c = w->data;

	switch (c->state) {
	case CONN_HANDSHAKE:
		conn_handshake(c);
		break;
	case CONN_OPEN:
		conn_read(c);
		break;
	case CONN_LINGER:
		conn_linger_read(c);
		break;
	}
}

static void
conn_on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv_conn *c = w->data;

	if (c->state == CONN_HANDSHAKE) {
		conn_handshake(c);
		return;
	}
	if (srv_buf_pending(&c->out) > 0) {
		if (conn_flush(c) != CONN_DONE)
			return;
	}
	/* Output is out: handle input left over from a pause, or that GnuTLS holds. */
	conn_want(c, true, false);
	conn_read(c);
}

static void
conn_on_handshake_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv_conn *c = w->data;

	c->srv->stats.handshake_failures++;
	if (ivi_log_enabled(IVI_LOG_INFO) && ivi_ratelimit_allow(&c->srv->rl_tls)) {
		char peer[80];

		log_info("tls: handshake with %s timed out after %d s; closing the connection",
		    conn_peer(c, peer, sizeof(peer)), c->srv->cfg->api.handshake_timeout);
	}
	srv_conn_close(c);
}

static void
conn_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv_conn *c = w->data;
	ev_tstamp now = ev_now(loop);

	if (c->deadline > now + 0.001) {
		ev_timer_set(w, c->deadline - now, 0.);
		ev_timer_start(loop, w);
		c->timer_at = c->deadline;
		return;
	}
	if (c->dl == DL_REQUEST && c->state == CONN_OPEN && srv_buf_pending(&c->out) == 0) {
		srv_http_timeout(&c->http);
		conn_log_rejected(c);
		conn_flush(c);
		return;
	}
	srv_conn_close(c);
}

/* Creates the GnuTLS session with a reference to the current credentials. */
static int
conn_tls_init(struct srv_conn *c)
{
	struct srv *srv = c->srv;
	int ret;

	ret = gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (ret < 0) {
		c->session = NULL;
		return ret;
	}
	c->creds = srv_creds_acquire(&srv->creds);
	if (c->creds == NULL)
		return GNUTLS_E_INTERNAL_ERROR;
	ret = gnutls_priority_set(c->session, srv->priority);
	if (ret == 0)
		ret = gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->creds->xcred);
	if (ret == 0)
		ret = gnutls_session_ticket_enable_server(c->session, &srv->ticket_key);
	if (ret < 0)
		return ret;
	if (srv->client_required) {
		gnutls_certificate_server_set_request(c->session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert2(c->session, &conn_client_purpose, 1, 0);
	}
	gnutls_transport_set_ptr(c->session, c);
	gnutls_transport_set_pull_function(c->session, conn_pull);
	gnutls_transport_set_pull_timeout_function(c->session, conn_pull_timeout);
	gnutls_transport_set_vec_push_function(c->session, conn_push);
	return 0;
}

void
srv_conn_accept(struct srv *srv, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
	struct srv_conn *c;
	bool busy = false;
	int one = 1, ret;

	srv->stats.accepted++;
	if (srv->n_conns >= (unsigned long)srv->cfg->api.max_connections) {
		if (srv->n_busy >= SRV_BUSY_RESERVE) {
			srv->stats.rejected_over_limit++;
			close(fd);
			return;
		}
		busy = true;
	}
	/* Only the fields before the buffers need zeroing; the buffers are written before read. */
	c = malloc(sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	memset(c, 0, offsetof(struct srv_conn, raw));
	c->srv = srv;
	c->fd = fd;
	c->busy = busy;
	if (peer_len > sizeof(c->peer))
		peer_len = sizeof(c->peer);
	memcpy(&c->peer, peer, peer_len);
	c->peer_len = peer_len;
	ev_io_init(&c->rio, conn_on_readable, fd, EV_READ);
	ev_io_init(&c->wio, conn_on_writable, fd, EV_WRITE);
	ev_timer_init(&c->handshake_timer, conn_on_handshake_timeout,
	    (ev_tstamp)srv->cfg->api.handshake_timeout, 0.);
	ev_timer_init(&c->idle_timer, conn_on_deadline, 0., 0.);
	c->rio.data = c;
	c->wio.data = c;
	c->handshake_timer.data = c;
	c->idle_timer.data = c;
	srv_http_init(&c->http, srv, &c->out, &srv->limits, busy);
	if (srv->draining)
		c->http.draining = true;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->n_conns++;
	if (busy)
		srv->n_busy++;

	/* Responses are written whole; Nagle would only delay the last segment. */
	if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if (!srv->tls_enabled) {
		c->state = CONN_OPEN;
		conn_arm(c, DL_IDLE, ev_now(srv->loop) + srv->cfg->api.idle_timeout);
		conn_want(c, true, false);
		conn_read(c);
		return;
	}
	ret = conn_tls_init(c);
	if (ret < 0) {
		log_error("tls: cannot set up a session (%s); closing the connection",
		    gnutls_strerror(ret));
		srv_conn_close(c);
		return;
	}
	c->state = CONN_HANDSHAKE;
	ev_timer_start(srv->loop, &c->handshake_timer);
	/* The listener defers accept until data arrives, so the ClientHello is usually here. */
	conn_handshake(c);
}

void
srv_conn_drain(struct srv_conn *c)
{
	switch (c->state) {
	case CONN_HANDSHAKE:
		srv_conn_close(c);
		break;
	case CONN_OPEN:
		c->http.draining = true;
		if (!c->http.in_message && srv_buf_pending(&c->out) == 0)
			conn_finish(c);
		break;
	case CONN_LINGER:
		break;
	}
}

struct srv_conn *
srv_conn_next(struct srv_conn *c)
{
	return TAILQ_NEXT(c, entry);
}

void
srv_conn_close(struct srv_conn *c)
{
	struct srv *srv = c->srv;

	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	ev_timer_stop(srv->loop, &c->handshake_timer);
	ev_timer_stop(srv->loop, &c->idle_timer);
	if (c->session != NULL)
		gnutls_deinit(c->session);
	close(c->fd);
	srv_creds_release(c->creds);
	srv_buf_free(&c->out);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->n_conns--;
	if (c->busy)
		srv->n_busy--;
	free(c);
	srv_conn_closed(srv);
}
