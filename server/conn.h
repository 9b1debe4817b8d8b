/*
 * Client connections: one struct per accepted socket holding its libev
 * watchers, its GnuTLS session (NULL when TLS is off), its buffers and a
 * reference to the credentials it started with. srv_conn_close() is the
 * one place that releases all of it.
 */
#ifndef SRV_CONN_H
#define SRV_CONN_H

#include <sys/socket.h>

struct srv;
struct srv_conn;

/*
 * Takes over fd (non-blocking, just accepted) and starts serving it.
 * Beyond the connection limit the client gets a 503 response, and beyond
 * the reserve of SRV_BUSY_RESERVE such connections the socket is closed
 * at once.
 */
void srv_conn_accept(struct srv *srv, int fd, const struct sockaddr *peer, socklen_t peer_len);

/*
 * Starts a graceful stop of c: idle connections close now, a request in
 * progress finishes and its response carries Connection: close.
 */
void srv_conn_drain(struct srv_conn *c);

/* Returns the connection after c in the server's list, or NULL. */
struct srv_conn *srv_conn_next(struct srv_conn *c);

/* Stops every watcher, ends the TLS session, closes the socket, frees c. */
void srv_conn_close(struct srv_conn *c);

#endif /* SRV_CONN_H */
