/* HTTP/1.1 request handling: libhttp-parser callbacks, limits, responses. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ivi_err.h"
#include "http.h"
#include "routes.h"
#include "server.h"

static int http_on_message_begin(http_parser *p);
static int http_on_url(http_parser *p, const char *at, size_t len);
static int http_on_header_field(http_parser *p, const char *at, size_t len);
static int http_on_header_value(http_parser *p, const char *at, size_t len);
static int http_on_headers_complete(http_parser *p);
static int http_on_body(http_parser *p, const char *at, size_t len);
static int http_on_message_complete(http_parser *p);

static const http_parser_settings http_settings = {
	.on_message_begin = http_on_message_begin,
	.on_url = http_on_url,
	.on_header_field = http_on_header_field,
	.on_header_value = http_on_header_value,
	.on_headers_complete = http_on_headers_complete,
	.on_body = http_on_body,
	.on_message_complete = http_on_message_complete,
};

void
srv_http_global_init(const struct srv_http_limits *limits)
{
	http_parser_set_max_header_size(limits->max_header_bytes);
}

void
srv_http_init(struct srv_http *h, struct srv *srv, struct srv_buf *out,
    const struct srv_http_limits *limits, bool busy)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->parser, HTTP_REQUEST);
	h->parser.data = h;
	h->srv = srv;
	h->out = out;
	h->limits = limits;
	h->busy = busy;
}

const char *
srv_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Returns the cached Date header value, refreshed once per second. */
static const char *
http_date(void)
{
	static char date[40];
	static time_t cached = -1;
	time_t now;
	struct tm tm;

	now = time(NULL);
	if (now != cached && gmtime_r(&now, &tm) != NULL) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached = now;
	}
	return date;
}

int
srv_http_respond(struct srv_http *h, int status, const char *content_type,
    const char *extra_headers, const char *body, size_t body_len)
{
	const char *connection = "";
	bool head;
	int ret;

	if (h->close_after)
		connection = "Connection: close\r\n";
	else if (h->req.http_major == 1 && h->req.http_minor == 0)
		connection = "Connection: keep-alive\r\n";
	head = h->req.method == HTTP_HEAD && h->error_status == 0;
	srv_stats_count_status(h->srv, status);

	ret = srv_buf_printf(h->out,
	    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s%s\r\n",
	    status, srv_http_reason(status), http_date(), content_type, body_len, connection,
	    extra_headers != NULL ? extra_headers : "");
	if (ret < 0)
		return ret;
	if (head)
		return 0;
	return srv_buf_append(h->out, body, body_len);
}

/* Appends an error response with the JSON envelope and ends the connection. */
static void
http_fail(struct srv_http *h, int status)
{
	const char *body;
	size_t len;

	h->close_after = true;
	h->in_message = false;
	body = srv_route_error_body(status, &len);
	if (srv_http_respond(h, status, "application/json", NULL, body, len) < 0)
		srv_buf_reset(h->out);
}

void
srv_http_timeout(struct srv_http *h)
{
	h->error_status = 408;
	http_fail(h, 408);
}

const char *
srv_http_error_detail(const struct srv_http *h)
{
	switch (h->error_status) {
	case 408: return "request headers not received in time";
	case 413: return "request body over the limit";
	case 431: return "request line and headers over the limit";
	case 505: return "HTTP major version other than 1";
	default: return http_errno_description(HTTP_PARSER_ERRNO(&h->parser));
	}
}

void
srv_http_resume(struct srv_http *h)
{
	if (!h->paused)
		return;
	h->paused = false;
	http_parser_pause(&h->parser, 0);
}

size_t
srv_http_feed(struct srv_http *h, const char *data, size_t len)
{
	size_t n;
	enum http_errno err;

	if (h->close_after || h->paused)
		return 0;
	n = http_parser_execute(&h->parser, &http_settings, data, len);
	err = HTTP_PARSER_ERRNO(&h->parser);
	if (err == HPE_PAUSED)
		return n;
	if (err != HPE_OK) {
		if (h->error_status == 0)
			h->error_status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
		http_fail(h, h->error_status);
		return len;
	}
	if (h->parser.upgrade) {
		/* Protocol upgrades (and CONNECT) are not offered: stop after the response. */
		h->close_after = true;
		return len;
	}
	return n;
}

static int
http_on_message_begin(http_parser *p)
{
	struct srv_http *h = p->data;

	memset(&h->req, 0, sizeof(h->req));
	h->field_len = 0;
	h->field_done = true;
	h->in_message = true;
	h->path_ended = false;
	h->begun++;
	return 0;
}

static int
http_on_url(http_parser *p, const char *at, size_t len)
{
	struct srv_http *h = p->data;
	struct srv_request *r = &h->req;
	size_t i;

	/* Keep the path only: the query and fragment play no part in routing. */
	for (i = 0; i < len && !h->path_ended; i++) {
		if (at[i] == '?' || at[i] == '#') {
			h->path_ended = true;
			break;
		}
		if (r->path_len + 1 >= sizeof(r->path)) {
			r->path_too_long = true;
			h->path_ended = true;
			break;
		}
		r->path[r->path_len++] = at[i];
	}
	r->path[r->path_len] = '\0';
	return 0;
}

static int
http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct srv_http *h = p->data;
	size_t i;

	if (h->field_done) {
		h->field_len = 0;
		h->field_done = false;
	}
	/* Only the first bytes matter: the one name looked at is "host". */
	for (i = 0; i < len; i++, h->field_len++) {
		if (h->field_len < sizeof(h->field)) {
			char ch = at[i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			h->field[h->field_len] = ch;
		}
	}
	return 0;
}

static int
http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct srv_http *h = p->data;

	if (!h->field_done) {
		h->field_done = true;
		if (h->field_len == 4 && memcmp(h->field, "host", 4) == 0)
			h->req.has_host = true;
	}
	return 0;
}

static int
http_on_headers_complete(http_parser *p)
{
	struct srv_http *h = p->data;

	h->req.method = (enum http_method)p->method;
	h->req.http_major = p->http_major;
	h->req.http_minor = p->http_minor;
	if (p->http_major != 1) {
		h->error_status = 505;
		return -1;
	}
	if (p->content_length != ULLONG_MAX && p->content_length > h->limits->max_body_bytes) {
		h->error_status = 413;
		return -1;
	}
	return 0;
}

static int
http_on_body(http_parser *p, const char *at, size_t len)
{
	struct srv_http *h = p->data;

	/* The API takes no request bodies: count them against the limit and drop them. */
	h->req.body_bytes += len;
	if (h->req.body_bytes > h->limits->max_body_bytes) {
		h->error_status = 413;
		return -1;
	}
	return 0;
}

static int
http_on_message_complete(http_parser *p)
{
	struct srv_http *h = p->data;
	struct srv_response resp;
	int ret;

	h->in_message = false;
	if (!http_should_keep_alive(p) || h->draining || h->busy)
		h->close_after = true;

	if (h->busy)
		srv_route_error(&resp, 503);
	else if (h->req.http_major == 1 && h->req.http_minor >= 1 && !h->req.has_host)
		srv_route_error(&resp, 400);
	else
		srv_route(h->srv, &h->req, &resp);

	ret = srv_http_respond(h, resp.status, resp.content_type, resp.extra_headers,
	    resp.body, resp.body_len);
	srv_response_release(&resp);
	if (ret < 0) {
		srv_buf_reset(h->out);
		h->close_after = true;
	}

	if (h->close_after)
		http_parser_pause(p, 1);
	else if (srv_buf_pending(h->out) > SRV_HTTP_OUTPUT_HIGH) {
		h->paused = true;
		http_parser_pause(p, 1);
	}
	return 0;
}
