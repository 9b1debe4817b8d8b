/* Status and reload requests from the watcher to the server's control socket. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"

static void
copy_string(const cJSON *obj, const char *name, char *dst, size_t len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	dst[0] = '\0';
	if (cJSON_IsString(item) && item->valuestring != NULL)
		snprintf(dst, len, "%s", item->valuestring);
}

void
cw_ctl_parse_served(const cJSON *desc, struct cw_served *served)
{
	const cJSON *chain;

	memset(served, 0, sizeof(*served));
	if (!cJSON_IsObject(desc))
		return;
	served->present = true;
	copy_string(desc, "serial", served->serial, sizeof(served->serial));
	copy_string(desc, "fingerprint", served->fingerprint, sizeof(served->fingerprint));
	copy_string(desc, "content_hash", served->content_hash, sizeof(served->content_hash));
	copy_string(desc, "not_after", served->not_after, sizeof(served->not_after));
	if (cw_parse_time(served->not_after, &served->not_after_t) != 0)
		served->not_after_t = 0;
	chain = cJSON_GetObjectItemCaseSensitive(desc, "chain_length");
	if (cJSON_IsNumber(chain) && chain->valuedouble >= 0)
		served->chain_len = (unsigned)chain->valuedouble;
}

/* Copies the parts of a parsed response the watcher uses into ans. */
static void
answer_fill(struct cw_reply *ans, const struct ivi_response *resp)
{
	const cJSON *item;

	ans->ok = resp->ok;
	ans->err = resp->err;
	snprintf(ans->code, sizeof(ans->code), "%s", resp->code);
	snprintf(ans->message, sizeof(ans->message), "%s", resp->message);
	ans->generation = -1;
	if (!resp->ok || !cJSON_IsObject(resp->result))
		return;
	ans->result = resp->result;
	item = cJSON_GetObjectItemCaseSensitive(resp->result, "generation");
	if (cJSON_IsNumber(item))
		ans->generation = (long long)item->valuedouble;
	item = cJSON_GetObjectItemCaseSensitive(resp->result, "changed");
	ans->changed = cJSON_IsTrue(item);
	item = cJSON_GetObjectItemCaseSensitive(resp->result, "certificate");
	cw_ctl_parse_served(item, &ans->served);
}

static int
ctl_call(const struct ivi_config *cfg, const struct ivi_key *key, enum ivi_msg_type type,
    cJSON *body, int timeout_ms, struct cw_reply *ans)
{
	struct ivi_response resp;
	cJSON *msg = NULL;
	int rc;

	memset(ans, 0, sizeof(*ans));
	memset(&resp, 0, sizeof(resp));
	rc = ivi_client_call(&ivi_transport_unix, cfg->control.socket, key, type, body, timeout_ms,
	    &resp, &msg);
	if (rc != 0) {
		cJSON_Delete(msg);
		return rc;
	}
	ans->msg = msg;
	answer_fill(ans, &resp);
	return 0;
}

int
cw_ctl_status(const struct ivi_config *cfg, const struct ivi_key *key, int timeout_ms,
    struct cw_reply *ans)
{
	return ctl_call(cfg, key, IVI_MSG_STATUS, NULL, timeout_ms, ans);
}

int
cw_ctl_reload(const struct ivi_config *cfg, const struct ivi_key *key, const char *fingerprint,
    const char *reason, int timeout_ms, struct cw_reply *ans)
{
	cJSON *body;

	body = ivi_reload_body(IVI_RELOAD_TARGET_API_TLS, fingerprint, reason);
	if (body == NULL)
		return IVI_E_NOMEM;
	return ctl_call(cfg, key, IVI_MSG_RELOAD, body, timeout_ms, ans);
}

void
cw_reply_clear(struct cw_reply *ans)
{
	cJSON_Delete(ans->msg);
	memset(ans, 0, sizeof(*ans));
	ans->generation = -1;
}
