/*
 * ctlprobe: test client for a server's control socket. It sends one
 * request, well-formed or deliberately broken, and prints each signed
 * response it gets as one JSON line on stdout.
 *
 * Exit status: 0 when every connection got a response (ok or error), or,
 * with --no-read, when everything was sent. A usage error exits with 64.
 * Other failures exit with their sysexits(3) status, for example 69 when
 * nothing listens, 75 on a timeout, 77 for a bad signature on the response.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "ivi_log.h"
#include "ivi_proto.h"

#define MAX_EXTRA_FIELDS 16

struct probe_opts {
	const char *socket;
	const char *key_path;
	const char *type;
	const char *fingerprint;
	const char *target;
	const char *extra[MAX_EXTRA_FIELDS];
	int n_extra;
	bool bad_mac;
	long timestamp_offset;
	int replay;
	const char *raw_hex;
	const char *payload;
	long garbage;
	long long length_header; /* -1: not given */
	int slow_ms;
	bool no_read;
	int timeout_ms;
	const char *output;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctlprobe --socket PATH --key FILE [--type ping|status|reload|NAME]\n"
	    "                [--fingerprint HEX] [--target T] [--extra-field K=V]...\n"
	    "                [--bad-mac] [--timestamp-offset SECONDS] [--replay N]\n"
	    "                [--raw-hex HEX | --garbage N | --length-header N | --payload TEXT]\n"
	    "                [--slow-ms MS] [--no-read] [--timeout-ms MS] [--output FILE]\n"
	    "\n"
	    "  --type              request type; an unknown NAME is sent as is (default ping)\n"
	    "  --fingerprint       reload: SHA-256 of the leaf, lowercase hex (omitted if unset)\n"
	    "  --target            reload: what to reload (default api.tls)\n"
	    "  --extra-field K=V   set request field K (\"body.K\" for the body) to V, parsed\n"
	    "                      as JSON when it is valid JSON, else sent as a string\n"
	    "  --bad-mac           flip one bit of the HMAC\n"
	    "  --timestamp-offset  seconds added to the request timestamp\n"
	    "  --replay N          send the same signed frame N times, each on a new connection\n"
	    "  --raw-hex HEX       send these bytes instead of a request\n"
	    "  --garbage N         send N random bytes instead of a request\n"
	    "  --length-header N   send only a frame header declaring a payload of N bytes\n"
	    "  --payload TEXT      sign TEXT as the payload as it is, JSON or not\n"
	    "  --slow-ms MS        send one byte every MS milliseconds\n"
	    "  --no-read           close after sending, without reading a response\n"
	    "  --timeout-ms MS     time allowed per connection (default 5000)\n"
	    "  --output FILE       write the bytes to FILE instead of connecting\n");
}

/* Parses a decimal integer in [min, max]; returns false when s is not one. */
static bool
parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int
parse_opts(int argc, char **argv, struct probe_opts *o)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"type", required_argument, NULL, 't'},
	    {"fingerprint", required_argument, NULL, 'f'},
	    {"target", required_argument, NULL, 'T'},
	    {"extra-field", required_argument, NULL, 'e'},
	    {"bad-mac", no_argument, NULL, 'b'},
	    {"timestamp-offset", required_argument, NULL, 'o'},
	    {"replay", required_argument, NULL, 'r'},
	    {"raw-hex", required_argument, NULL, 'x'},
	    {"payload", required_argument, NULL, 'p'},
	    {"garbage", required_argument, NULL, 'g'},
	    {"length-header", required_argument, NULL, 'l'},
	    {"slow-ms", required_argument, NULL, 'S'},
	    {"no-read", no_argument, NULL, 'n'},
	    {"timeout-ms", required_argument, NULL, 'm'},
	    {"output", required_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->type = "ping";
	o->target = IVI_RELOAD_TARGET_API_TLS;
	o->replay = 1;
	o->garbage = -1;
	o->length_header = -1;
	o->timeout_ms = 5000;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'k':
			o->key_path = optarg;
			break;
		case 't':
			o->type = optarg;
			break;
		case 'f':
			o->fingerprint = optarg;
			break;
		case 'T':
			o->target = optarg;
			break;
		case 'b':
			o->bad_mac = true;
			break;
		case 'n':
			o->no_read = true;
			break;
		case 'x':
			o->raw_hex = optarg;
			break;
		case 'p':
			o->payload = optarg;
			break;
		case 'O':
			o->output = optarg;
			break;
		case 'e':
			ok = o->n_extra < MAX_EXTRA_FIELDS && strchr(optarg, '=') != NULL;
			if (ok)
				o->extra[o->n_extra++] = optarg;
			break;
		case 'o':
			ok = parse_long(optarg, -1000000000LL, 1000000000LL, &v);
			o->timestamp_offset = (long)v;
			break;
		case 'r':
			ok = parse_long(optarg, 1, 10000, &v);
			o->replay = (int)v;
			break;
		case 'g':
			ok = parse_long(optarg, 0, 16 * 1024 * 1024, &v);
			o->garbage = (long)v;
			break;
		case 'l':
			ok = parse_long(optarg, 0, UINT32_MAX, &v);
			o->length_header = v;
			break;
		case 'S':
			ok = parse_long(optarg, 0, 60000, &v);
			o->slow_ms = (int)v;
			break;
		case 'm':
			ok = parse_long(optarg, 1, 3600000, &v);
			o->timeout_ms = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(EX_OK);
		default:
			ok = false;
			break;
		}
		if (!ok) {
			log_error(
			    "invalid value for option %s; see ctlprobe --help", argv[optind - 1]);
			return EX_USAGE;
		}
	}
	if (optind != argc || o->key_path == NULL || (o->socket == NULL && o->output == NULL)) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((o->raw_hex != NULL) + (o->garbage >= 0) + (o->length_header >= 0) +
	        (o->payload != NULL) >
	    1) {
		log_error("--raw-hex, --garbage, --length-header and --payload are mutually "
			  "exclusive");
		return EX_USAGE;
	}
	return 0;
}

/* ---- Building what is sent ----------------------------------------------------- */

/* Sets field K (or body.K) of req to V, parsed as JSON when possible. */
static int
set_extra_field(cJSON *req, const char *spec)
{
	const char *eq = strchr(spec, '=');
	char name[128];
	cJSON *where = req, *value;

	if ((size_t)(eq - spec) >= sizeof(name))
		return -1;
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	if (strncmp(name, "body.", 5) == 0) {
		where = cJSON_GetObjectItemCaseSensitive(req, "body");
		memmove(name, name + 5, strlen(name + 5) + 1);
	}
	value = cJSON_Parse(eq + 1);
	if (value == NULL)
		value = cJSON_CreateString(eq + 1);
	if (value == NULL || !cJSON_IsObject(where))
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(where, name);
	return cJSON_AddItemToObject(where, name, value) ? 0 : -1;
}

/* Builds the request object the options describe. */
static cJSON *
build_request(const struct probe_opts *o)
{
	enum ivi_msg_type type = IVI_MSG_PING;
	cJSON *body = NULL, *req, *ts;

	for (int t = IVI_MSG_PING; t <= IVI_MSG_RELOAD; t++) {
		if (strcmp(o->type, ivi_msg_type_name(t)) == 0)
			type = (enum ivi_msg_type)t;
	}
	if (type == IVI_MSG_RELOAD) {
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "target", o->target);
		if (o->fingerprint != NULL)
			cJSON_AddStringToObject(body, "fingerprint", o->fingerprint);
		cJSON_AddStringToObject(body, "reason", "ctlprobe");
	}
	req = ivi_request_new(type, body);
	if (req == NULL)
		return NULL;

	/* An unknown type name goes on the wire as it is. */
	cJSON_ReplaceItemInObjectCaseSensitive(req, "type", cJSON_CreateString(o->type));
	ts = cJSON_GetObjectItemCaseSensitive(req, "timestamp");
	cJSON_SetNumberValue(ts, ts->valuedouble + (double)o->timestamp_offset);
	for (int i = 0; i < o->n_extra; i++) {
		if (set_extra_field(req, o->extra[i]) < 0) {
			log_error("cannot set --extra-field %s", o->extra[i]);
			cJSON_Delete(req);
			return NULL;
		}
	}
	return req;
}

static int
decode_hex_arg(const char *hex, uint8_t **out, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *buf = malloc(n + 1);

	if (buf == NULL || strlen(hex) % 2 != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			goto fail;
		buf[i] = (uint8_t)v;
	}
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	return -1;
}

/* Builds the unsigned bytes of --raw-hex, --garbage or --length-header. */
static int
build_unsigned(const struct probe_opts *o, uint8_t **out, size_t *len)
{
	if (o->raw_hex != NULL) {
		if (decode_hex_arg(o->raw_hex, out, len) < 0) {
			log_error("--raw-hex needs an even number of hex digits");
			return EX_USAGE;
		}
		return 0;
	}
	if (o->garbage >= 0) {
		*len = (size_t)o->garbage;
		*out = malloc(*len + 1);
		if (*out == NULL || gnutls_rnd(GNUTLS_RND_NONCE, *out, *len) < 0)
			return EX_SOFTWARE;
		return 0;
	}

	/* --length-header: a valid header, and nothing after it. */
	*len = IVI_FRAME_HEADER_LEN;
	*out = calloc(1, *len);
	if (*out == NULL)
		return EX_OSERR;
	memcpy(*out, IVI_FRAME_MAGIC, 4);
	(*out)[4] = IVI_PROTO_VERSION;
	(*out)[8] = (uint8_t)(o->length_header >> 24);
	(*out)[9] = (uint8_t)(o->length_header >> 16);
	(*out)[10] = (uint8_t)(o->length_header >> 8);
	(*out)[11] = (uint8_t)o->length_header;
	return 0;
}

/* Signs the request the options describe, or the --payload text as it is. */
static int
build_signed(const struct probe_opts *o, const struct ivi_key *key, uint8_t **out, size_t *len,
    char *request_id, size_t idlen)
{
	cJSON *req;
	int ret;

	if (o->payload != NULL) {
		ret = ivi_frame_encode_raw(
		    key, (const uint8_t *)o->payload, strlen(o->payload), out, len);
	} else {
		req = build_request(o);
		if (req == NULL)
			return EX_SOFTWARE;
		snprintf(request_id, idlen, "%s",
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "id")));
		ret = ivi_frame_encode(key, req, out, len);
		cJSON_Delete(req);
	}
	if (ret < 0) {
		log_error("cannot encode the frame (%s)", ivi_strerror(ret));
		return ivi_err_exit_status(ret);
	}
	if (o->bad_mac)
		(*out)[*len - 1] ^= 0x01;
	return 0;
}

/*
 * Builds the bytes to send. *request_id gets the request id when a request
 * was built, so the responses can be matched to it.
 */
static int
build_bytes(const struct probe_opts *o, const struct ivi_key *key, uint8_t **out, size_t *len,
    char *request_id, size_t idlen)
{
	request_id[0] = '\0';
	if (o->raw_hex != NULL || o->garbage >= 0 || o->length_header >= 0)
		return build_unsigned(o, out, len);
	return build_signed(o, key, out, len, request_id, idlen);
}

/* ---- Talking to the server --------------------------------------------------- */

static int
send_bytes(int fd, const uint8_t *buf, size_t len, const struct probe_opts *o)
{
	struct timespec pause = {o->slow_ms / 1000, (long)(o->slow_ms % 1000) * 1000000L};
	int ret;

	if (o->slow_ms == 0)
		return ivi_client_send(fd, buf, len, o->timeout_ms);
	for (size_t i = 0; i < len; i++) {
		ret = ivi_client_send(fd, buf + i, 1, o->timeout_ms);
		if (ret < 0)
			return ret;
		if (i + 1 < len)
			nanosleep(&pause, NULL);
	}
	return 0;
}

/* Prints a verified response as one line after checking that it is well formed. */
static int
print_response(cJSON *msg, const char *request_id)
{
	struct ivi_response resp;
	char *text;
	int ret = ivi_response_parse(msg, &resp);

	if (ret < 0) {
		log_error("response is not valid (%s)", ivi_strerror(ret));
		return ret;
	}
	if (request_id[0] != '\0' && resp.id[0] != '\0' && strcmp(resp.id, request_id) != 0) {
		log_error("response id does not match request id %s", request_id);
		return IVI_E_BAD_MESSAGE;
	}
	text = cJSON_PrintUnformatted(msg);
	if (text == NULL)
		return IVI_E_NOMEM;
	printf("%s\n", text);
	fflush(stdout);
	cJSON_free(text);
	return 0;
}

/* One connection: send the bytes, then read and print the response. */
static int
exchange(const struct probe_opts *o, const struct ivi_key *key, const uint8_t *buf, size_t len,
    const char *request_id)
{
	cJSON *msg = NULL;
	int fd = -1;
	int ret, sent;

	ret = ivi_transport_unix.connect(o->socket, o->timeout_ms, &fd);
	if (ret < 0) {
		log_error("cannot connect to %s (%s)", o->socket, ivi_strerror(ret));
		return ret;
	}

	/* The server may reject early and close; its response is still read. */
	sent = send_bytes(fd, buf, len, o);
	if (sent < 0)
		log_info("sending to %s stopped (%s)", o->socket, ivi_strerror(sent));
	if (o->no_read) {
		ret = sent;
		goto out;
	}
	ret = ivi_client_recv(fd, key, o->timeout_ms, &msg);
	if (ret < 0) {
		log_error("no valid response from %s (%s)", o->socket, ivi_strerror(ret));
		goto out;
	}
	ret = print_response(msg, request_id);
out:
	cJSON_Delete(msg);
	close(fd);
	return ret;
}

static int
write_output(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		log_error("cannot write %s", path);
		return EX_CANTCREAT;
	}
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct probe_opts o;
	struct ivi_key *key = NULL;
	char err[512] = "", request_id[64];
	uint8_t *buf = NULL;
	size_t len = 0;
	int status, ret = 0;

	ivi_log_init("ctlprobe", IVI_LOG_NOTICE);
	status = parse_opts(argc, argv, &o);
	if (status != 0)
		return status;

	ret = ivi_key_load(o.key_path, &key, err, sizeof(err));
	if (ret < 0) {
		log_error("%s", err);
		return ivi_err_exit_status(ret);
	}
	status = build_bytes(&o, key, &buf, &len, request_id, sizeof(request_id));
	if (status != 0)
		goto out;
	if (o.output != NULL) {
		status = write_output(o.output, buf, len);
		goto out;
	}

	for (int i = 0; i < o.replay; i++) {
		int r = exchange(&o, key, buf, len, request_id);

		if (r < 0 && ret == 0)
			ret = r;
	}
	status = ret < 0 ? ivi_err_exit_status(ret) : EX_OK;
out:
	free(buf);
	ivi_key_free(key);
	return status;
}
