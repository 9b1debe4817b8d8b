/*
 * Control client of ivicli-certwatch: sends status and reload requests to
 * the server's control socket and extracts what the watcher needs from
 * the signed responses.
 */
#ifndef CW_CTL_H
#define CW_CTL_H

#include <stdbool.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ivi_config.h"
#include "ivi_proto.h"

/* The certificate a server serves, as its status or reload response describes it. */
struct cw_served {
	bool present;              /* false when the server serves no certificate */
	char serial[130];
	char fingerprint[65];
	char content_hash[65];
	char not_after[40];        /* RFC 3339, as sent */
	time_t not_after_t;
	unsigned chain_len;
};

/* The response to one request that reached the server. */
struct cw_reply {
	bool ok;                   /* false: err, code and message give the reason */
	int err;
	char code[48];
	char message[512];
	long long generation;      /* -1 when absent */
	bool changed;              /* reload only */
	struct cw_served served;   /* from result.certificate */
	cJSON *msg;                /* whole response; owned, freed by cw_reply_clear */
	const cJSON *result;       /* borrowed from msg; NULL on error */
};

/*
 * Sends a status request. Returns 0 when the server responded (ans->ok
 * is true when it succeeded), or a negative ivi_err for transport and protocol failures
 * (IVI_E_UNAVAILABLE when nothing listens, IVI_E_TIMEOUT, ...).
 */
int cw_ctl_status(const struct ivi_config *cfg, const struct ivi_key *key, int timeout_ms,
    struct cw_reply *ans);

/*
 * Sends a reload request for the validated leaf fingerprint with a short
 * reason (no file paths). Same returns as cw_ctl_status.
 */
int cw_ctl_reload(const struct ivi_config *cfg, const struct ivi_key *key, const char *fingerprint,
    const char *reason, int timeout_ms, struct cw_reply *ans);

/* Fills served from a certificate description object; NULL leaves it absent. */
void cw_ctl_parse_served(const cJSON *desc, struct cw_served *served);

/* Frees what ans owns and zeroes it; safe on a zeroed answer. */
void cw_reply_clear(struct cw_reply *ans);

#endif /* CW_CTL_H */
