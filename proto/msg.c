/*
 * Request and response objects carried in frame payloads: builders for
 * senders and strict parsers for receivers. Parsers ignore fields they do
 * not know, reject a type they do not know, and reject another version.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "proto_internal.h"

#define REQUEST_ID_BYTES 16 /* 32 hex digits */
#define NONCE_BYTES 32      /* 64 hex digits */
#define NONCE_MIN_HEX 32    /* accept nonces of 128 bits and more */
#define FINGERPRINT_HEX 64  /* SHA-256 */

/* Largest integer that a double represents exactly: 2^53. */
#define JSON_MAX_EXACT_INT 9007199254740992.0

static const char *const type_names[] = {
	[IVI_MSG_PING] = "ping",
	[IVI_MSG_STATUS] = "status",
	[IVI_MSG_RELOAD] = "reload",
};

static const char *const reload_targets[] = {
	IVI_RELOAD_TARGET_API_TLS,
};

const char *
ivi_msg_type_name(int type)
{
	if (type <= 0 || (size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[type];
}

/* Returns the type named name, or 0 when unknown. */
static int
msg_type_from_name(const char *name)
{
	for (size_t i = 1; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (type_names[i] != NULL && strcmp(type_names[i], name) == 0)
			return (int)i;
	}
	return 0;
}

/* Writes nbytes random bytes from GnuTLS as lowercase hex into out. */
static int
random_hex(char *out, size_t nbytes)
{
	uint8_t bytes[NONCE_BYTES];

	if (nbytes > sizeof(bytes) || gnutls_rnd(GNUTLS_RND_NONCE, bytes, nbytes) < 0)
		return -1;
	ivi_hex_encode(bytes, nbytes, out);
	return 0;
}

/* ---- Field readers ---------------------------------------------------- */

/* Reads integer field name of obj into *out. Returns 0 or IVI_E_BAD_MESSAGE. */
static int
get_int(const cJSON *obj, const char *name, int64_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	double v;

	if (!cJSON_IsNumber(item))
		return IVI_E_BAD_MESSAGE;
	v = item->valuedouble;
	if (!isfinite(v) || v != floor(v) || fabs(v) > JSON_MAX_EXACT_INT)
		return IVI_E_BAD_MESSAGE;
	*out = (int64_t)v;
	return 0;
}

/*
 * Copies string field name of obj into out (size outlen). Returns
 * IVI_E_BAD_MESSAGE when it is missing, not a string, or does not fit.
 */
static int
get_string(const cJSON *obj, const char *name, char *out, size_t outlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return IVI_E_BAD_MESSAGE;
	if (strlen(item->valuestring) >= outlen)
		return IVI_E_BAD_MESSAGE;
	snprintf(out, outlen, "%s", item->valuestring);
	return 0;
}

/* Returns true when id is 1 to 63 characters of [A-Za-z0-9._-]. */
static bool
id_is_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 63)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* ---- Requests --------------------------------------------------------- */

cJSON *
ivi_request_new(enum ivi_msg_type type, cJSON *body)
{
	char id[2 * REQUEST_ID_BYTES + 1];
	char nonce[2 * NONCE_BYTES + 1];
	const char *name = ivi_msg_type_name(type);
	cJSON *msg = NULL;

	if (body == NULL)
		body = cJSON_CreateObject();
	if (name == NULL || body == NULL)
		goto fail;
	if (random_hex(id, REQUEST_ID_BYTES) < 0 || random_hex(nonce, NONCE_BYTES) < 0)
		goto fail;

	msg = cJSON_CreateObject();
	if (msg == NULL || cJSON_AddNumberToObject(msg, "version", IVI_PROTO_VERSION) == NULL ||
	    cJSON_AddStringToObject(msg, "type", name) == NULL ||
	    cJSON_AddStringToObject(msg, "id", id) == NULL ||
	    cJSON_AddNumberToObject(msg, "timestamp", (double)time(NULL)) == NULL ||
	    cJSON_AddStringToObject(msg, "nonce", nonce) == NULL)
		goto fail;
	if (!cJSON_AddItemToObject(msg, "body", body))
		goto fail;
	return msg;
fail:
	cJSON_Delete(body);
	cJSON_Delete(msg);
	return NULL;
}

cJSON *
ivi_reload_body(const char *target, const char *fingerprint, const char *reason)
{
	cJSON *body = cJSON_CreateObject();

	if (body == NULL || target == NULL || fingerprint == NULL)
		goto fail;
	if (cJSON_AddStringToObject(body, "target", target) == NULL ||
	    cJSON_AddStringToObject(body, "fingerprint", fingerprint) == NULL)
		goto fail;
	if (reason != NULL && cJSON_AddStringToObject(body, "reason", reason) == NULL)
		goto fail;
	return body;
fail:
	cJSON_Delete(body);
	return NULL;
}

/* Reads the reload body: known target, SHA-256 fingerprint, optional reason. */
static int
parse_reload_body(const cJSON *body, struct ivi_request *req)
{
	const cJSON *reason;
	bool known = false;

	if (get_string(body, "target", req->target, sizeof(req->target)) < 0)
		return IVI_E_BAD_MESSAGE;
	if (get_string(body, "fingerprint", req->fingerprint, sizeof(req->fingerprint)) < 0 ||
	    !ivi_hex_is_lower(req->fingerprint, FINGERPRINT_HEX, FINGERPRINT_HEX))
		return IVI_E_BAD_MESSAGE;

	reason = cJSON_GetObjectItemCaseSensitive(body, "reason");
	if (reason != NULL && !cJSON_IsNull(reason) &&
	    get_string(body, "reason", req->reason, sizeof(req->reason)) < 0)
		return IVI_E_BAD_MESSAGE;

	for (size_t i = 0; i < sizeof(reload_targets) / sizeof(reload_targets[0]); i++) {
		if (strcmp(req->target, reload_targets[i]) == 0)
			known = true;
	}
	return known ? 0 : IVI_E_UNKNOWN_TARGET;
}

int
ivi_request_parse(const cJSON *msg, struct ivi_request *out)
{
	struct ivi_request req;
	char type[32];
	int64_t version;
	int ret;

	if (out == NULL)
		return IVI_E_INVALID_ARG;
	if (!cJSON_IsObject(msg))
		return IVI_E_BAD_JSON;
	memset(&req, 0, sizeof(req));

	/* Version first: another version may use other fields. */
	if (get_int(msg, "version", &version) < 0)
		return IVI_E_BAD_MESSAGE;
	if (version != IVI_PROTO_VERSION)
		return IVI_E_BAD_VERSION;
	req.version = (int)version;

	if (get_string(msg, "type", type, sizeof(type)) < 0) {
		/* A type name longer than any we know is unknown, not mistyped. */
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "type");

		return cJSON_IsString(t) ? IVI_E_UNKNOWN_TYPE : IVI_E_BAD_MESSAGE;
	}
	if (get_string(msg, "id", req.id, sizeof(req.id)) < 0 || !id_is_valid(req.id))
		return IVI_E_BAD_MESSAGE;
	if (get_int(msg, "timestamp", &req.timestamp) < 0)
		return IVI_E_BAD_MESSAGE;
	if (get_string(msg, "nonce", req.nonce, sizeof(req.nonce)) < 0 ||
	    !ivi_hex_is_lower(req.nonce, NONCE_MIN_HEX, 2 * NONCE_BYTES))
		return IVI_E_BAD_MESSAGE;
	req.body = cJSON_GetObjectItemCaseSensitive(msg, "body");
	if (!cJSON_IsObject(req.body))
		return IVI_E_BAD_MESSAGE;

	req.type = (enum ivi_msg_type)msg_type_from_name(type);
	if (req.type == 0)
		return IVI_E_UNKNOWN_TYPE;
	if (req.type == IVI_MSG_RELOAD) {
		ret = parse_reload_body(req.body, &req);
		if (ret < 0)
			return ret;
	}

	*out = req;
	return 0;
}

/* ---- Responses -------------------------------------------------------- */

/* Creates the fields every response has: version and id (null when unknown). */
static cJSON *
response_new(const char *id, bool ok)
{
	cJSON *msg = cJSON_CreateObject();
	cJSON *id_item;

	if (msg == NULL)
		return NULL;
	id_item = id != NULL && id[0] != '\0' ? cJSON_CreateString(id) : cJSON_CreateNull();
	if (cJSON_AddNumberToObject(msg, "version", IVI_PROTO_VERSION) == NULL ||
	    !cJSON_AddItemToObject(msg, "id", id_item) ||
	    cJSON_AddBoolToObject(msg, "ok", ok) == NULL) {
		cJSON_Delete(msg);
		return NULL;
	}
	return msg;
}

cJSON *
ivi_response_ok(const char *id, cJSON *result)
{
	cJSON *msg = response_new(id, true);

	if (result == NULL)
		result = cJSON_CreateObject();
	if (msg == NULL || result == NULL || !cJSON_AddItemToObject(msg, "result", result)) {
		cJSON_Delete(msg);
		cJSON_Delete(result);
		return NULL;
	}
	return msg;
}

cJSON *
ivi_response_error(const char *id, int err, const char *message)
{
	cJSON *msg = response_new(id, false);
	cJSON *error = cJSON_CreateObject();

	if (msg == NULL || error == NULL || !cJSON_AddItemToObject(msg, "error", error)) {
		cJSON_Delete(error);
		goto fail;
	}
	if (cJSON_AddStringToObject(error, "code", ivi_err_code(err)) == NULL ||
	    cJSON_AddStringToObject(error, "message",
		message != NULL ? message : ivi_strerror(err)) == NULL)
		goto fail;
	if (err == IVI_E_BAD_VERSION &&
	    cJSON_AddNumberToObject(error, "server_version", IVI_PROTO_VERSION) == NULL)
		goto fail;
	return msg;
fail:
	cJSON_Delete(msg);
	return NULL;
}

/* Reads the error object of a failed response into resp. */
static int
parse_error_object(const cJSON *error, struct ivi_response *resp)
{
	const cJSON *message, *server_version;
	int64_t v;

	if (!cJSON_IsObject(error))
		return IVI_E_BAD_MESSAGE;
	if (get_string(error, "code", resp->code, sizeof(resp->code)) < 0)
		return IVI_E_BAD_MESSAGE;
	if (resp->code[0] == '\0' ||
	    strspn(resp->code, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(resp->code))
		return IVI_E_BAD_MESSAGE;
	resp->err = ivi_err_from_code(resp->code);
	if (resp->err == IVI_OK)
		return IVI_E_BAD_MESSAGE;

	/* A long message is cut, not rejected: it is only shown to a person. */
	message = cJSON_GetObjectItemCaseSensitive(error, "message");
	if (!cJSON_IsString(message) || message->valuestring == NULL)
		return IVI_E_BAD_MESSAGE;
	snprintf(resp->message, sizeof(resp->message), "%s", message->valuestring);

	server_version = cJSON_GetObjectItemCaseSensitive(error, "server_version");
	if (server_version != NULL) {
		if (get_int(error, "server_version", &v) < 0 || v < 1 || v > 255)
			return IVI_E_BAD_MESSAGE;
		resp->server_version = (int)v;
	}
	return 0;
}

int
ivi_response_parse(const cJSON *msg, struct ivi_response *out)
{
	struct ivi_response resp;
	const cJSON *id, *ok, *result;
	int64_t version;
	int ret;

	if (out == NULL)
		return IVI_E_INVALID_ARG;
	if (!cJSON_IsObject(msg))
		return IVI_E_BAD_JSON;
	memset(&resp, 0, sizeof(resp));

	if (get_int(msg, "version", &version) < 0 || version < 1 || version > 255)
		return IVI_E_BAD_MESSAGE;
	resp.server_version = (int)version;

	id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	if (cJSON_IsString(id)) {
		if (get_string(msg, "id", resp.id, sizeof(resp.id)) < 0 || !id_is_valid(resp.id))
			return IVI_E_BAD_MESSAGE;
	} else if (!cJSON_IsNull(id)) {
		return IVI_E_BAD_MESSAGE;
	}

	ok = cJSON_GetObjectItemCaseSensitive(msg, "ok");
	if (!cJSON_IsBool(ok))
		return IVI_E_BAD_MESSAGE;
	resp.ok = cJSON_IsTrue(ok);

	if (resp.ok) {
		result = cJSON_GetObjectItemCaseSensitive(msg, "result");
		if (!cJSON_IsObject(result))
			return IVI_E_BAD_MESSAGE;
		resp.result = result;
	} else {
		ret = parse_error_object(cJSON_GetObjectItemCaseSensitive(msg, "error"), &resp);
		if (ret < 0)
			return ret;
	}

	*out = resp;
	return 0;
}
