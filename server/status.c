/* Status documents and Prometheus metrics. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "server.h"
#include "status.h"

/* Adds "name": time, or null when t is 0. Returns false when out of memory. */
static bool
status_add_time(cJSON *obj, const char *name, time_t t)
{
	char stamp[21];

	if (t == 0)
		return cJSON_AddNullToObject(obj, name) != NULL;
	srv_fmt_time(stamp, t);
	return cJSON_AddStringToObject(obj, name, stamp) != NULL;
}

static cJSON *
status_last_reload(const struct srv_reload_state *rs)
{
	cJSON *o;

	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "result", rs->last_result) == NULL ||
	    (rs->last_code[0] != '\0' ? cJSON_AddStringToObject(o, "code", rs->last_code) :
	    cJSON_AddNullToObject(o, "code")) == NULL ||
	    !status_add_time(o, "time", rs->last_time)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *
srv_status_json(struct srv *srv)
{
	const struct srv_creds *cur = srv->creds.current;
	cJSON *o, *item;

	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	if (cJSON_AddBoolToObject(o, "tls_enabled", srv->tls_enabled) == NULL ||
	    cJSON_AddBoolToObject(o, "self_signed", srv->self_signed) == NULL ||
	    cJSON_AddNumberToObject(o, "generation",
		cur != NULL ? (double)cur->generation : 0) == NULL ||
	    !status_add_time(o, "loaded_at", cur != NULL ? cur->loaded_at : 0))
		goto fail;

	item = cur != NULL ? ivi_bundle_desc_to_json(&cur->desc) : cJSON_CreateNull();
	if (item == NULL)
		goto fail;
	cJSON_AddItemToObject(o, "certificate", item);

	item = srv->reload_state.last_result != NULL ?
	    status_last_reload(&srv->reload_state) : cJSON_CreateNull();
	if (item == NULL)
		goto fail;
	cJSON_AddItemToObject(o, "last_reload", item);
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *
status_last_rejected(const struct srv_reload_state *rs)
{
	cJSON *o;

	if (!rs->have_rejected)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	if ((rs->rejected_fingerprint[0] != '\0' ?
	    cJSON_AddStringToObject(o, "fingerprint", rs->rejected_fingerprint) :
	    cJSON_AddNullToObject(o, "fingerprint")) == NULL ||
	    cJSON_AddStringToObject(o, "code", rs->rejected_code) == NULL ||
	    cJSON_AddStringToObject(o, "reason", rs->rejected_message) == NULL ||
	    !status_add_time(o, "time", rs->rejected_time)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *
status_connections(struct srv *srv)
{
	const struct srv_creds *c;
	cJSON *o, *gens, *g;

	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "open", (double)srv->n_conns) == NULL ||
	    cJSON_AddNumberToObject(o, "on_older_credentials",
		(double)srv_creds_older_connections(&srv->creds)) == NULL)
		goto fail;
	gens = cJSON_AddArrayToObject(o, "by_generation");
	if (gens == NULL)
		goto fail;
	LIST_FOREACH(c, &srv->creds.live, entry) {
		g = cJSON_CreateObject();
		if (g == NULL)
			goto fail;
		cJSON_AddItemToArray(gens, g);
		if (cJSON_AddNumberToObject(g, "generation", (double)c->generation) == NULL ||
		    cJSON_AddNumberToObject(g, "connections",
			(double)srv_creds_connections(c)) == NULL)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* Prints o compactly with a final newline; returns NULL when out of memory. */
static char *
status_print_line(const cJSON *o)
{
	char *text, *line;
	size_t len;

	text = cJSON_PrintUnformatted(o);
	if (text == NULL)
		return NULL;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (line == NULL) {
		free(text);
		return NULL;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}

char *
srv_status_tls_text(struct srv *srv)
{
	cJSON *o, *item;
	char *text = NULL;

	o = srv_status_json(srv);
	if (o == NULL)
		return NULL;
	item = status_last_rejected(&srv->reload_state);
	if (item == NULL)
		goto out;
	cJSON_AddItemToObject(o, "last_rejected", item);
	item = status_connections(srv);
	if (item == NULL)
		goto out;
	cJSON_AddItemToObject(o, "connections", item);
	text = status_print_line(o);
out:
	cJSON_Delete(o);
	return text;
}

/* Status codes in the order of enum srv_status_slot. */
static const int status_codes[SRV_SLOT_COUNT] = { 200, 400, 404, 405, 408, 413, 431, 500, 503, 505 };

void
srv_stats_count_status(struct srv *srv, int status)
{
	size_t i;

	for (i = 0; i < SRV_SLOT_COUNT; i++) {
		if (status_codes[i] == status) {
			srv->stats.responses[i]++;
			return;
		}
	}
}

static int
metrics_certificate(struct srv_buf *b, const struct srv *srv)
{
	const struct srv_creds *cur = srv->creds.current;
	int ret = 0;

	ret |= srv_buf_printf(b,
	    "# HELP ivicli_tls_enabled Whether the API is served over TLS.\n"
	    "# TYPE ivicli_tls_enabled gauge\nivicli_tls_enabled %d\n", srv->tls_enabled ? 1 : 0);
	if (cur == NULL)
		return ret;
	ret |= srv_buf_printf(b,
	    "# HELP ivicli_tls_cert_not_after_seconds Expiry of the served certificate, Unix time.\n"
	    "# TYPE ivicli_tls_cert_not_after_seconds gauge\n"
	    "ivicli_tls_cert_not_after_seconds %lld\n"
	    "# HELP ivicli_tls_cert_not_before_seconds Start of validity of the served certificate, Unix time.\n"
	    "# TYPE ivicli_tls_cert_not_before_seconds gauge\n"
	    "ivicli_tls_cert_not_before_seconds %lld\n"
	    "# HELP ivicli_tls_credentials_generation Generation of the served credentials; 1 at start.\n"
	    "# TYPE ivicli_tls_credentials_generation gauge\n"
	    "ivicli_tls_credentials_generation %llu\n"
	    "# HELP ivicli_tls_credentials_loaded_seconds When the served credentials were loaded, Unix time.\n"
	    "# TYPE ivicli_tls_credentials_loaded_seconds gauge\n"
	    "ivicli_tls_credentials_loaded_seconds %lld\n",
	    (long long)cur->desc.not_after, (long long)cur->desc.not_before,
	    (unsigned long long)cur->generation, (long long)cur->loaded_at);
	return ret;
}

static int
metrics_reloads(struct srv_buf *b, const struct srv *srv)
{
	const struct srv_reload_state *rs = &srv->reload_state;

	return srv_buf_printf(b,
	    "# HELP ivicli_tls_reloads_total Credential reload attempts by result.\n"
	    "# TYPE ivicli_tls_reloads_total counter\n"
	    "ivicli_tls_reloads_total{result=\"ok\"} %llu\n"
	    "ivicli_tls_reloads_total{result=\"rejected\"} %llu\n"
	    "ivicli_tls_reloads_total{result=\"unchanged\"} %llu\n",
	    rs->ok, rs->rejected, rs->unchanged);
}

static int
metrics_connections(struct srv_buf *b, const struct srv *srv)
{
	const struct srv_creds *c;
	int ret;
	size_t i;

	ret = srv_buf_printf(b,
	    "# HELP ivicli_connections_open Open client connections.\n"
	    "# TYPE ivicli_connections_open gauge\nivicli_connections_open %lu\n"
	    "# HELP ivicli_connections_accepted_total Client connections accepted.\n"
	    "# TYPE ivicli_connections_accepted_total counter\n"
	    "ivicli_connections_accepted_total %llu\n"
	    "# HELP ivicli_connections_rejected_total Connections closed at once because the limit was reached.\n"
	    "# TYPE ivicli_connections_rejected_total counter\n"
	    "ivicli_connections_rejected_total %llu\n"
	    "# HELP ivicli_tls_handshakes_total Completed TLS handshakes, by session resumption.\n"
	    "# TYPE ivicli_tls_handshakes_total counter\n"
	    "ivicli_tls_handshakes_total{resumed=\"false\"} %llu\n"
	    "ivicli_tls_handshakes_total{resumed=\"true\"} %llu\n"
	    "# HELP ivicli_tls_handshake_failures_total Failed or timed out TLS handshakes.\n"
	    "# TYPE ivicli_tls_handshake_failures_total counter\n"
	    "ivicli_tls_handshake_failures_total %llu\n",
	    srv->n_conns, srv->stats.accepted, srv->stats.rejected_over_limit,
	    srv->stats.handshakes - srv->stats.handshakes_resumed, srv->stats.handshakes_resumed,
	    srv->stats.handshake_failures);
	if (srv->tls_enabled) {
		ret |= srv_buf_puts(b,
		    "# HELP ivicli_tls_connections Open TLS connections by credentials generation.\n"
		    "# TYPE ivicli_tls_connections gauge\n");
		LIST_FOREACH(c, &srv->creds.live, entry) {
			ret |= srv_buf_printf(b, "ivicli_tls_connections{generation=\"%llu\"} %lu\n",
			    (unsigned long long)c->generation, srv_creds_connections(c));
		}
	}
	ret |= srv_buf_puts(b,
	    "# HELP ivicli_http_responses_total HTTP responses by status code.\n"
	    "# TYPE ivicli_http_responses_total counter\n");
	for (i = 0; i < SRV_SLOT_COUNT; i++) {
		ret |= srv_buf_printf(b, "ivicli_http_responses_total{code=\"%d\"} %llu\n",
		    status_codes[i], srv->stats.responses[i]);
	}
	return ret;
}

char *
srv_status_metrics_text(struct srv *srv, size_t *len)
{
	struct srv_buf b = { 0 };

	if (metrics_certificate(&b, srv) != 0 || metrics_reloads(&b, srv) != 0 ||
	    metrics_connections(&b, srv) != 0 || srv_buf_append(&b, "", 1) != 0) {
		srv_buf_free(&b);
		return NULL;
	}
	*len = b.len - 1;
	return b.data;
}
