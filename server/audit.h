/*
 * Audit trail: NDJSON, one flat object per line, appended with a single
 * write(2) so that concurrent writers never interleave inside a line.
 * Every line starts with kind, timestamp, server and action. A failure to
 * write is logged (rate-limited) and never stops the server.
 */
#ifndef SRV_AUDIT_H
#define SRV_AUDIT_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "ivi_log.h"

struct srv_audit {
	bool enabled;
	const char *path;         /* borrowed from the config */
	struct ivi_ratelimit rl;
	unsigned long failures;
};

/* Prepares the audit trail; path may be NULL when enabled is false. */
void srv_audit_init(struct srv_audit *a, bool enabled, const char *path);

/*
 * Starts an event of kind "server.lifecycle" with action ("started",
 * "stopped", "cert-reloaded", "cert-reload-rejected", "control-rejected").
 * Add flat fields to the returned object, then pass it to
 * srv_audit_commit(). Returns NULL when auditing is off or memory ran out.
 */
cJSON *srv_audit_begin(struct srv_audit *a, const char *action);

/* Appends the event as one line and frees it; NULL is allowed. */
void srv_audit_commit(struct srv_audit *a, cJSON *event);

#endif /* SRV_AUDIT_H */
