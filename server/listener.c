/* IPv4 and IPv6 listening sockets and the accept loop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ivi_err.h"
#include "conn.h"
#include "listener.h"
#include "server.h"

#define LISTEN_BACKLOG 511
/* Connections accepted per readiness event before other watchers run. */
#define LISTEN_ACCEPT_BATCH 64

struct srv_listener {
	ev_io io;
	int fd;
	struct srv *srv;
	char addr[INET6_ADDRSTRLEN];
	int port;
};

static void listen_pause(struct srv *srv);

static void
listen_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv_listener *l = w->data;
	struct srv *srv = l->srv;
	struct sockaddr_storage peer;
	socklen_t len;
	int fd, i;

	for (i = 0; i < LISTEN_ACCEPT_BATCH && !srv->draining; i++) {
		len = sizeof(peer);
		fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			srv_conn_accept(srv, fd, (struct sockaddr *)&peer, len);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			if (ivi_ratelimit_allow(&srv->rl_accept))
				log_error("http: accept on %s port %d failed (%s); pausing for %.2f s",
				    l->addr, l->port, strerror(errno), SRV_ACCEPT_RETRY_SECONDS);
			listen_pause(srv);
			return;
		default:
			if (ivi_ratelimit_allow(&srv->rl_accept))
				log_error("http: accept on %s port %d failed (%s)", l->addr, l->port,
				    strerror(errno));
			return;
		}
	}
}

/* Stops the accept watchers and resumes them from srv->accept_retry. */
static void
listen_pause(struct srv *srv)
{
	size_t i;

	for (i = 0; i < srv->n_listeners; i++)
		ev_io_stop(srv->loop, &srv->listeners[i]->io);
	if (!ev_is_active(&srv->accept_retry)) {
		ev_timer_set(&srv->accept_retry, SRV_ACCEPT_RETRY_SECONDS, 0.);
		ev_timer_start(srv->loop, &srv->accept_retry);
	}
}

static void
listen_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct srv *srv = w->data;

	if (!srv->draining)
		srv_listen_start(srv);
}

/* Parses bind into up to two addresses. Returns the count, or 0 when bind is invalid. */
static size_t
listen_addresses(const char *bind, int port, struct sockaddr_storage addrs[SRV_MAX_LISTENERS],
    socklen_t lens[SRV_MAX_LISTENERS])
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&addrs[0];
	struct sockaddr_in6 *in6;
	size_t n = 0;
	bool local;

	memset(addrs, 0, sizeof(addrs[0]) * SRV_MAX_LISTENERS);
	local = strcmp(bind, "localhost") == 0;
	if (local || inet_pton(AF_INET, bind, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (local)
			in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lens[n++] = sizeof(*in4);
		if (!local)
			return n;
	}
	in6 = (struct sockaddr_in6 *)&addrs[n];
	if (local) {
		in6->sin6_addr = in6addr_loopback;
	} else if (inet_pton(AF_INET6, bind, &in6->sin6_addr) != 1) {
		return 0;
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	lens[n++] = sizeof(*in6);
	return n;
}

/* Creates one listening socket. Returns the fd, or -1 with errno set. */
static int
listen_socket(const struct sockaddr *sa, socklen_t len, int defer_seconds)
{
	int fd, one = 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	/* Wake up only once the client has sent its first bytes (the ClientHello). */
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof(defer_seconds));
	if (bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Reads back the bound address and port of l->fd. */
static void
listen_describe(struct srv_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, l->addr, sizeof(l->addr));
		l->port = ntohs(in6->sin6_port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in4->sin_addr, l->addr, sizeof(l->addr));
		l->port = ntohs(in4->sin_port);
	}
}

int
srv_listen(struct srv *srv, const char *bind, int port, int *os_errno, char *errbuf,
    size_t errlen)
{
	struct sockaddr_storage addrs[SRV_MAX_LISTENERS];
	socklen_t lens[SRV_MAX_LISTENERS];
	struct srv_listener *l;
	size_t n, i;
	int fd;

	*os_errno = 0;
	ev_timer_init(&srv->accept_retry, listen_on_retry, 0., 0.);
	srv->accept_retry.data = srv;
	n = listen_addresses(bind, port, addrs, lens);
	if (n == 0) {
		snprintf(errbuf, errlen,
		    "bind address '%s' is not an IPv4 or IPv6 literal or \"localhost\"", bind);
		return IVI_E_CONFIG;
	}
	for (i = 0; i < n; i++) {
		/* With port 0, the second localhost socket takes the port the first one got. */
		if (i > 0 && port == 0)
			((struct sockaddr_in6 *)&addrs[i])->sin6_port =
			    htons((uint16_t)srv->listeners[0]->port);
		fd = listen_socket((struct sockaddr *)&addrs[i], lens[i],
		    srv->cfg->api.handshake_timeout);
		if (fd < 0) {
			*os_errno = errno;
			/* "localhost" on a host without IPv6: serve IPv4 alone. */
			if (i > 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
				log_warning("http: no IPv6 loopback (%s); listening on IPv4 only",
				    strerror(errno));
				*os_errno = 0;
				break;
			}
			snprintf(errbuf, errlen, "cannot listen on %s port %d (%s)", bind, port,
			    strerror(errno));
			return IVI_E_UNAVAILABLE;
		}
		l = calloc(1, sizeof(*l));
		if (l == NULL) {
			close(fd);
			snprintf(errbuf, errlen, "out of memory");
			return IVI_E_NOMEM;
		}
		l->fd = fd;
		l->srv = srv;
		ev_io_init(&l->io, listen_on_accept, fd, EV_READ);
		l->io.data = l;
		listen_describe(l);
		srv->listeners[srv->n_listeners++] = l;
	}
	return 0;
}

void
srv_listen_start(struct srv *srv)
{
	size_t i;

	for (i = 0; i < srv->n_listeners; i++)
		ev_io_start(srv->loop, &srv->listeners[i]->io);
}

void
srv_listen_close(struct srv *srv)
{
	size_t i;

	ev_timer_stop(srv->loop, &srv->accept_retry);
	for (i = 0; i < srv->n_listeners; i++) {
		ev_io_stop(srv->loop, &srv->listeners[i]->io);
		close(srv->listeners[i]->fd);
		free(srv->listeners[i]);
		srv->listeners[i] = NULL;
	}
	srv->n_listeners = 0;
}

const char *
srv_listener_addr(const struct srv *srv, size_t i)
{
	return srv->listeners[i]->addr;
}

int
srv_listener_port(const struct srv *srv, size_t i)
{
	return srv->listeners[i]->port;
}

int
srv_listen_write_addresses(const struct srv *srv, const char *path)
{
	char tmp[4096];
	FILE *f;
	size_t i;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	for (i = 0; i < srv->n_listeners; i++)
		fprintf(f, "%s %d\n", srv->listeners[i]->addr, srv->listeners[i]->port);
	if (fflush(f) != 0 || ferror(f))
		err = -errno;
	if (fclose(f) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) < 0)
		err = -errno;
	if (err != 0)
		unlink(tmp);
	return err;
}
