/*
 * Request routing for the Management API: GET /healthz, GET /v1/tls and
 * GET /metrics (HEAD as well), 404 for unknown paths, 405 with Allow for
 * other methods. Every error body is the envelope
 * {"error":{"code":"...","message":"..."}}.
 */
#ifndef SRV_ROUTES_H
#define SRV_ROUTES_H

#include <stddef.h>

#include "http.h"

struct srv;

/* A response ready to send; body points into static text or into owned. */
struct srv_response {
	int status;
	const char *content_type;
	const char *extra_headers;  /* complete header lines, or NULL */
	const char *body;
	size_t body_len;
	char *owned;                /* freed by srv_response_release() */
};

/* Fills resp for req. Never fails: an internal error becomes a 500. */
void srv_route(struct srv *srv, const struct srv_request *req, struct srv_response *resp);

/* Fills resp with the error envelope for status. */
void srv_route_error(struct srv_response *resp, int status);

/* Returns the static error envelope for status and its length. */
const char *srv_route_error_body(int status, size_t *len);

/* Frees what resp owns. */
void srv_response_release(struct srv_response *resp);

#endif /* SRV_ROUTES_H */
