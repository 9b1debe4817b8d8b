/*
 * Status reports of the server: the control protocol's status result,
 * the GET /v1/tls document (a superset of it) and the /metrics text in
 * the Prometheus exposition format.
 */
#ifndef SRV_STATUS_H
#define SRV_STATUS_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct srv;

/*
 * Builds the status result: tls_enabled, self_signed, generation,
 * loaded_at, certificate (description or null) and last_reload (or null).
 * Returns a new object (caller frees) or NULL when out of memory.
 */
cJSON *srv_status_json(struct srv *srv);

/*
 * Returns the GET /v1/tls body (caller frees): the status result plus
 * last_rejected and the connection counts per credentials generation.
 * NULL when out of memory.
 */
char *srv_status_tls_text(struct srv *srv);

/* Returns the /metrics body (caller frees) and its length, or NULL. */
char *srv_status_metrics_text(struct srv *srv, size_t *len);

#endif /* SRV_STATUS_H */
