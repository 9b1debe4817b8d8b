/*
 * Listening sockets for the API: one for an IPv4 or IPv6 literal, two
 * (127.0.0.1 and ::1, same port) for "localhost". When accept(2) runs out
 * of descriptors, accepting pauses and resumes from a timer instead of
 * spinning on a socket that stays readable.
 */
#ifndef SRV_LISTENER_H
#define SRV_LISTENER_H

#include <stddef.h>

struct srv;

/*
 * Binds and listens on bind:port (port 0 picks a free port, shared by
 * both localhost sockets). Returns 0 or a negative ivi_err with one line
 * in errbuf; *os_errno gets the errno of the failing call (0 when none).
 */
int srv_listen(struct srv *srv, const char *bind, int port, int *os_errno, char *errbuf,
    size_t errlen);

/* Starts accepting on every listener. */
void srv_listen_start(struct srv *srv);

/* Stops accepting and closes every listening socket. */
void srv_listen_close(struct srv *srv);

/* Returns the bound address (text) and port of listener i. */
const char *srv_listener_addr(const struct srv *srv, size_t i);
int srv_listener_port(const struct srv *srv, size_t i);

/*
 * Writes "ADDR PORT" per listener, main one first, to path through a
 * temporary file and rename(2). Returns 0 or -errno.
 */
int srv_listen_write_addresses(const struct srv *srv, const char *path);

#endif /* SRV_LISTENER_H */
