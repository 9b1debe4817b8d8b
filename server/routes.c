/* Routing table and handlers of the Management API. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "server.h"
#include "status.h"

#define CT_JSON "application/json"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define ALLOW_GET "Allow: GET, HEAD\r\n"

/* JSON bodies end with a newline so that line-based tools and terminals show them whole. */
#define ENVELOPE(code, message) \
	"{\"error\":{\"code\":\"" code "\",\"message\":\"" message "\"}}\n"

struct route_error {
	int status;
	const char *body;
};

static const struct route_error route_errors[] = {
	{ 400, ENVELOPE("bad_request", "the request is not valid HTTP/1.1") },
	{ 404, ENVELOPE("not_found", "no resource at this path") },
	{ 405, ENVELOPE("method_not_allowed", "this resource only supports GET and HEAD") },
	{ 408, ENVELOPE("request_timeout", "the request was not received in time") },
	{ 413, ENVELOPE("payload_too_large", "the request body exceeds the limit") },
	{ 431, ENVELOPE("header_too_large", "the request line and headers exceed the limit") },
	{ 500, ENVELOPE("internal", "the server could not build the response") },
	{ 503, ENVELOPE("unavailable", "too many connections; retry later") },
	{ 505, ENVELOPE("http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported") },
};

static const char healthz_body[] = "{\"status\":\"ok\"}\n";

const char *
srv_route_error_body(int status, size_t *len)
{
	size_t i;

	for (i = 0; i < sizeof(route_errors) / sizeof(route_errors[0]); i++) {
		if (route_errors[i].status == status) {
			*len = strlen(route_errors[i].body);
			return route_errors[i].body;
		}
	}
	return srv_route_error_body(500, len);
}

void
srv_route_error(struct srv_response *resp, int status)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	resp->content_type = CT_JSON;
	resp->body = srv_route_error_body(status, &resp->body_len);
	if (status == 405)
		resp->extra_headers = ALLOW_GET;
}

/* Sets resp to an owned body, or to a 500 when body is NULL. */
static void
route_owned(struct srv_response *resp, const char *content_type, char *body, size_t len)
{
	if (body == NULL) {
		srv_route_error(resp, 500);
		return;
	}
	resp->status = 200;
	resp->content_type = content_type;
	resp->owned = body;
	resp->body = body;
	resp->body_len = len;
}

static void
route_healthz(struct srv *srv, struct srv_response *resp)
{
	resp->status = 200;
	resp->content_type = CT_JSON;
	resp->body = healthz_body;
	resp->body_len = sizeof(healthz_body) - 1;
}

static void
route_tls(struct srv *srv, struct srv_response *resp)
{
	char *body;

	body = srv_status_tls_text(srv);
	route_owned(resp, CT_JSON, body, body != NULL ? strlen(body) : 0);
}

static void
route_metrics(struct srv *srv, struct srv_response *resp)
{
	size_t len = 0;
	char *body;

	body = srv_status_metrics_text(srv, &len);
	route_owned(resp, CT_METRICS, body, len);
}

struct route {
	const char *path;
	void (*handler)(struct srv *srv, struct srv_response *resp);
};

static const struct route routes[] = {
	{ "/healthz", route_healthz },
	{ "/v1/tls", route_tls },
	{ "/metrics", route_metrics },
};

void
srv_route(struct srv *srv, const struct srv_request *req, struct srv_response *resp)
{
	size_t i;

	memset(resp, 0, sizeof(*resp));
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (req->path_too_long || strcmp(req->path, routes[i].path) != 0)
			continue;
		if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
			srv_route_error(resp, 405);
			return;
		}
		routes[i].handler(srv, resp);
		return;
	}
	srv_route_error(resp, 404);
}

void
srv_response_release(struct srv_response *resp)
{
	free(resp->owned);
	resp->owned = NULL;
}
