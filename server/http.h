/*
 * HTTP/1.1 request handling on top of libhttp-parser, without sockets:
 * bytes go in through srv_http_feed(), complete responses come out in an
 * output buffer. The connection module moves the bytes; the fuzz target
 * drives this module directly.
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#include "buf.h"

struct srv;

/* Maximum request path kept for routing; longer ones get 404. */
#define SRV_HTTP_MAX_PATH 256
/* Stop parsing further pipelined requests while this much output waits. */
#define SRV_HTTP_OUTPUT_HIGH 65536

/* Request limits; exceeding one ends the connection with an error status. */
struct srv_http_limits {
	unsigned max_header_bytes; /* request line + headers: 431 */
	unsigned long max_body_bytes; /* 413 */
};

/* Request fields the router uses. */
struct srv_request {
	enum http_method method;
	char path[SRV_HTTP_MAX_PATH]; /* target up to '?', NUL-terminated */
	size_t path_len;
	bool path_too_long;
	bool has_host;
	unsigned short http_major;
	unsigned short http_minor;
	unsigned long body_bytes;
};

struct srv_http {
	http_parser parser;
	struct srv *srv;
	struct srv_buf *out;
	const struct srv_http_limits *limits;
	struct srv_request req;
	char field[8];        /* start of the header name being read, lower case */
	size_t field_len;
	bool field_done;      /* a value followed the current name */
	bool in_message;      /* part of a request has arrived */
	bool close_after;     /* close once out is flushed; ignore further input */
	bool paused;          /* too much output waiting; call srv_http_resume() */
	bool draining;        /* respond with Connection: close */
	bool busy;            /* over the connection limit: respond 503 */
	bool path_ended;      /* the rest of the target is query or fragment */
	int error_status;     /* status chosen by a callback before it failed */
	unsigned long begun;  /* requests started on this connection */
};

/*
 * Sets the process-wide header size limit of libhttp-parser. Call once
 * before the first srv_http_init().
 */
void srv_http_global_init(const struct srv_http_limits *limits);

/* Prepares h for a new connection; responses are appended to out. */
void srv_http_init(struct srv_http *h, struct srv *srv, struct srv_buf *out,
    const struct srv_http_limits *limits, bool busy);

/*
 * Parses len bytes and appends a response for every complete request.
 * Returns the number of bytes consumed: fewer than len when h->paused or
 * h->close_after became set, in which case the caller keeps (paused) or
 * drops (close_after) the rest.
 */
size_t srv_http_feed(struct srv_http *h, const char *data, size_t len);

/* Clears h->paused once the output buffer has been written out. */
void srv_http_resume(struct srv_http *h);

/*
 * Returns why the request was rejected with h->error_status, for the log:
 * a fixed phrase, or libhttp-parser's description of its error. Never
 * contains request bytes.
 */
const char *srv_http_error_detail(const struct srv_http *h);

/* Appends 408 Request Timeout and sets close_after. */
void srv_http_timeout(struct srv_http *h);

/* Appends a complete response with an optional extra header line ("Allow: GET\r\n"). */
int srv_http_respond(struct srv_http *h, int status, const char *content_type,
    const char *extra_headers, const char *body, size_t body_len);

/* Returns the reason phrase for status ("Not Found"). */
const char *srv_http_reason(int status);

#endif /* SRV_HTTP_H */
