/*
 * Unit tests of the control protocol: frame encoder and decoder, request
 * and response messages, and the replay guard. Limits come from
 * ivi_proto.h, so the same tests cover the --enable-small-limits build.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "ivi_proto.h"

/* ---- Allocation counter ------------------------------------------------ */

/*
 * The test program is linked with --wrap=malloc (and calloc, realloc), so
 * every allocation made by this file and by libproto.a passes through here.
 */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static int alloc_counting;
static unsigned long alloc_count;

void *
__wrap_malloc(size_t size)
{
	if (alloc_counting)
		alloc_count++;
	return __real_malloc(size);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	if (alloc_counting)
		alloc_count++;
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t size)
{
	if (alloc_counting)
		alloc_count++;
	return __real_realloc(p, size);
}

/* ---- Helpers ------------------------------------------------------------ */

static struct ivi_key *
make_key(uint8_t fill)
{
	uint8_t bytes[IVI_KEY_MIN_BYTES];
	struct ivi_key *key = NULL;

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(fill + i);
	ck_assert_int_eq(ivi_key_from_bytes(bytes, sizeof(bytes), &key), 0);
	return key;
}

static const char test_fingerprint[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* Encodes msg (freed here) with key; returns the frame and its length. */
static uint8_t *
encode(const struct ivi_key *key, cJSON *msg, size_t *len)
{
	uint8_t *frame = NULL;

	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(ivi_frame_encode(key, msg, &frame, len), 0);
	cJSON_Delete(msg);
	return frame;
}

static uint8_t *
encode_raw(const struct ivi_key *key, const char *payload, size_t plen, size_t *len)
{
	uint8_t *frame = NULL;

	ck_assert_int_eq(ivi_frame_encode_raw(key, (const uint8_t *)payload, plen, &frame, len),
	    0);
	return frame;
}

/* Feeds buf whole to a new decoder; returns the status, the bytes used and the frame. */
static int
decode_whole(const struct ivi_key *key, const uint8_t *buf, size_t len, size_t *used,
    cJSON **json)
{
	struct ivi_decoder *d = NULL;
	int ret;

	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	ret = ivi_decoder_feed(d, buf, len, used);
	if (json != NULL)
		*json = ret == IVI_DECODE_FRAME ? ivi_decoder_take(d) : NULL;
	ivi_decoder_free(d);
	return ret;
}

static cJSON *
make_request(enum ivi_msg_type type)
{
	cJSON *body = NULL;

	if (type == IVI_MSG_RELOAD)
		body = ivi_reload_body(IVI_RELOAD_TARGET_API_TLS, test_fingerprint, "renewed");
	return ivi_request_new(type, body);
}

/* Builds a 12-byte header with the given fields. */
static void
put_header(uint8_t *h, uint8_t version, uint8_t flags, uint8_t reserved, uint32_t len)
{
	memcpy(h, IVI_FRAME_MAGIC, 4);
	h[4] = version;
	h[5] = flags;
	h[6] = reserved;
	h[7] = reserved;
	h[8] = (uint8_t)(len >> 24);
	h[9] = (uint8_t)(len >> 16);
	h[10] = (uint8_t)(len >> 8);
	h[11] = (uint8_t)len;
}

/* ---- Frames: round trip -------------------------------------------------- */

static void
check_request_round_trip(enum ivi_msg_type type)
{
	struct ivi_key *key = make_key(1);
	struct ivi_request req;
	cJSON *msg = make_request(type);
	cJSON *sent = cJSON_Duplicate(msg, 1);
	cJSON *got = NULL;
	uint8_t *frame;
	size_t len, used;

	frame = encode(key, msg, &len);
	ck_assert_int_eq(decode_whole(key, frame, len, &used, &got), IVI_DECODE_FRAME);
	ck_assert_uint_eq(used, len);
	ck_assert(cJSON_Compare(sent, got, 1));

	ck_assert_int_eq(ivi_request_parse(got, &req), 0);
	ck_assert_int_eq(req.version, IVI_PROTO_VERSION);
	ck_assert_int_eq(req.type, type);
	ck_assert_str_eq(req.id, cJSON_GetStringValue(cJSON_GetObjectItem(sent, "id")));
	ck_assert_str_eq(req.nonce, cJSON_GetStringValue(cJSON_GetObjectItem(sent, "nonce")));
	ck_assert(llabs(req.timestamp - (int64_t)time(NULL)) <= 5);
	ck_assert(cJSON_IsObject(req.body));
	if (type == IVI_MSG_RELOAD) {
		ck_assert_str_eq(req.target, IVI_RELOAD_TARGET_API_TLS);
		ck_assert_str_eq(req.fingerprint, test_fingerprint);
		ck_assert_str_eq(req.reason, "renewed");
	}

	free(frame);
	cJSON_Delete(sent);
	cJSON_Delete(got);
	ivi_key_free(key);
}

START_TEST(test_frame_round_trip_ping)
{
	check_request_round_trip(IVI_MSG_PING);
}
END_TEST

START_TEST(test_frame_round_trip_status)
{
	check_request_round_trip(IVI_MSG_STATUS);
}
END_TEST

START_TEST(test_frame_round_trip_reload)
{
	check_request_round_trip(IVI_MSG_RELOAD);
}
END_TEST

START_TEST(test_frame_round_trip_responses)
{
	struct ivi_key *key = make_key(1);
	struct ivi_response resp;
	cJSON *result = cJSON_CreateObject();
	cJSON *got = NULL;
	uint8_t *frame;
	size_t len, used;

	cJSON_AddBoolToObject(result, "pong", 1);
	frame = encode(key, ivi_response_ok("abc123", result), &len);
	ck_assert_int_eq(decode_whole(key, frame, len, &used, &got), IVI_DECODE_FRAME);
	ck_assert_int_eq(ivi_response_parse(got, &resp), 0);
	ck_assert(resp.ok);
	ck_assert_int_eq(resp.err, 0);
	ck_assert_str_eq(resp.id, "abc123");
	ck_assert_int_eq(resp.server_version, IVI_PROTO_VERSION);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(resp.result, "pong")));
	free(frame);
	cJSON_Delete(got);

	frame = encode(key, ivi_response_error("abc123", IVI_E_STALE_FINGERPRINT, "files changed"),
	    &len);
	ck_assert_int_eq(decode_whole(key, frame, len, &used, &got), IVI_DECODE_FRAME);
	ck_assert_int_eq(ivi_response_parse(got, &resp), 0);
	ck_assert(!resp.ok);
	ck_assert_int_eq(resp.err, IVI_E_STALE_FINGERPRINT);
	ck_assert_str_eq(resp.code, "stale_fingerprint");
	ck_assert_str_eq(resp.message, "files changed");
	ck_assert_ptr_null(resp.result);
	free(frame);
	cJSON_Delete(got);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_frame_header_layout)
{
	struct ivi_key *key = make_key(1);
	const char payload[] = "{\"a\":1}";
	size_t plen = strlen(payload), len;
	uint8_t *frame = encode_raw(key, payload, plen, &len);

	ck_assert_uint_eq(len, IVI_FRAME_HEADER_LEN + plen + IVI_FRAME_MAC_LEN);
	ck_assert_int_eq(memcmp(frame, "IVIC", 4), 0);
	ck_assert_int_eq(frame[4], IVI_PROTO_VERSION);
	ck_assert_int_eq(frame[5], 0);
	ck_assert_int_eq(frame[6], 0);
	ck_assert_int_eq(frame[7], 0);
	ck_assert_int_eq(frame[8], 0);
	ck_assert_int_eq(frame[9], 0);
	ck_assert_int_eq(frame[10], 0);
	ck_assert_int_eq(frame[11], plen);
	ck_assert_int_eq(memcmp(frame + IVI_FRAME_HEADER_LEN, payload, plen), 0);
	free(frame);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_frame_back_to_back)
{
	struct ivi_key *key = make_key(1);
	struct ivi_decoder *d = NULL;
	uint8_t *a, *b, *both;
	size_t alen, blen, used;
	cJSON *json;

	a = encode(key, make_request(IVI_MSG_PING), &alen);
	b = encode(key, make_request(IVI_MSG_STATUS), &blen);
	both = malloc(alen + blen);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);

	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	ck_assert_int_eq(ivi_decoder_feed(d, both, alen + blen, &used), IVI_DECODE_FRAME);
	ck_assert_uint_eq(used, alen);
	ck_assert_int_eq(ivi_decoder_peer_version(d), IVI_PROTO_VERSION);
	json = ivi_decoder_take(d);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(json, "type")), "ping");
	cJSON_Delete(json);
	ck_assert_int_eq(ivi_decoder_peer_version(d), 0);
	ck_assert_ptr_null(ivi_decoder_take(d));

	ck_assert_int_eq(ivi_decoder_feed(d, both + alen, blen, &used), IVI_DECODE_FRAME);
	ck_assert_uint_eq(used, blen);
	json = ivi_decoder_take(d);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(json, "type")), "status");
	cJSON_Delete(json);

	ivi_decoder_free(d);
	free(a);
	free(b);
	free(both);
	ivi_key_free(key);
}
END_TEST

/* ---- Frames: size limits ----------------------------------------------- */

START_TEST(test_frame_encode_payload_at_cap)
{
	struct ivi_key *key = make_key(1);
	char *payload = malloc(IVI_FRAME_MAX_PAYLOAD + 2);
	uint8_t *frame = NULL;
	size_t len = 0;
	cJSON *got = NULL, *obj;
	size_t used;

	/* {"s":"xxx...x"} of exactly IVI_FRAME_MAX_PAYLOAD bytes. */
	memset(payload, 'x', IVI_FRAME_MAX_PAYLOAD + 1);
	payload[IVI_FRAME_MAX_PAYLOAD - 8] = '\0';
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "s", payload);
	ck_assert_int_eq(ivi_frame_encode(key, obj, &frame, &len), 0);
	ck_assert_uint_eq(len, IVI_FRAME_HEADER_LEN + IVI_FRAME_MAX_PAYLOAD + IVI_FRAME_MAC_LEN);
	ck_assert_int_eq(decode_whole(key, frame, len, &used, &got), IVI_DECODE_FRAME);
	cJSON_Delete(got);
	free(frame);

	/* One byte more is rejected by the encoder. */
	frame = NULL;
	payload[IVI_FRAME_MAX_PAYLOAD - 8] = 'x';
	payload[IVI_FRAME_MAX_PAYLOAD - 7] = '\0';
	cJSON_ReplaceItemInObject(obj, "s", cJSON_CreateString(payload));
	ck_assert_int_eq(ivi_frame_encode(key, obj, &frame, &len), IVI_E_TOO_LARGE);
	ck_assert_ptr_null(frame);
	ck_assert_int_eq(ivi_frame_encode_raw(key, (const uint8_t *)payload,
			     IVI_FRAME_MAX_PAYLOAD + 1, &frame, &len),
	    IVI_E_TOO_LARGE);

	cJSON_Delete(obj);
	free(payload);
	ivi_key_free(key);
}
END_TEST

/* Feeds a bare header declaring length and returns the decoder's result. */
static int
feed_length_header(uint32_t length, size_t *allocated, unsigned long *allocs)
{
	struct ivi_key *key = make_key(1);
	struct ivi_decoder *d = NULL;
	uint8_t h[IVI_FRAME_HEADER_LEN];
	size_t used;
	int ret;

	put_header(h, IVI_PROTO_VERSION, 0, 0, length);
	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	alloc_count = 0;
	alloc_counting = 1;
	ret = ivi_decoder_feed(d, h, sizeof(h), &used);
	alloc_counting = 0;
	*allocs = alloc_count;
	*allocated = ivi_decoder_allocated(d);
	ck_assert_uint_eq(used, sizeof(h));
	ivi_decoder_free(d);
	ivi_key_free(key);
	return ret;
}

START_TEST(test_frame_rejects_oversize_length)
{
	size_t allocated;
	unsigned long allocs;

	ck_assert_int_eq(feed_length_header(IVI_FRAME_MAX_PAYLOAD + 1, &allocated, &allocs),
	    IVI_E_TOO_LARGE);
	ck_assert_uint_eq(allocated, 0);
	ck_assert_uint_eq(allocs, 0);
}
END_TEST

START_TEST(test_frame_4gib_length_allocates_nothing)
{
	size_t allocated;
	unsigned long allocs;

	ck_assert_int_eq(feed_length_header(UINT32_MAX, &allocated, &allocs), IVI_E_TOO_LARGE);
	ck_assert_uint_eq(allocated, 0);
	ck_assert_uint_eq(allocs, 0);
	ck_assert_int_eq(feed_length_header(0x80000000u, &allocated, &allocs), IVI_E_TOO_LARGE);
	ck_assert_uint_eq(allocs, 0);
}
END_TEST

START_TEST(test_frame_length_at_cap_allocates_once)
{
	size_t allocated;
	unsigned long allocs;

	ck_assert_int_eq(feed_length_header(IVI_FRAME_MAX_PAYLOAD, &allocated, &allocs),
	    IVI_DECODE_NEED_MORE);
	ck_assert_uint_eq(allocated,
	    IVI_FRAME_HEADER_LEN + IVI_FRAME_MAX_PAYLOAD + IVI_FRAME_MAC_LEN);
	ck_assert_uint_eq(allocs, 1);
}
END_TEST

/* ---- Frames: malformed input -------------------------------------------- */

START_TEST(test_frame_truncated_needs_more)
{
	struct ivi_key *key = make_key(1);
	uint8_t *frame;
	size_t len, used;

	frame = encode(key, make_request(IVI_MSG_PING), &len);
	ck_assert_int_eq(decode_whole(key, frame, IVI_FRAME_HEADER_LEN - 1, &used, NULL),
	    IVI_DECODE_NEED_MORE);
	ck_assert_uint_eq(used, IVI_FRAME_HEADER_LEN - 1);
	ck_assert_int_eq(decode_whole(key, frame, len - 1, &used, NULL), IVI_DECODE_NEED_MORE);
	ck_assert_uint_eq(used, len - 1);
	ck_assert_int_eq(decode_whole(key, frame, 0, &used, NULL), IVI_DECODE_NEED_MORE);
	free(frame);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_frame_rejects_bad_magic)
{
	struct ivi_key *key = make_key(1);
	const char http[] = "GET / HTTP/1.1\r\n\r\n";
	uint8_t h[IVI_FRAME_HEADER_LEN];
	size_t used;

	put_header(h, IVI_PROTO_VERSION, 0, 0, 2);
	h[3] = 'X';
	ck_assert_int_eq(decode_whole(key, h, sizeof(h), &used, NULL), IVI_E_BAD_FRAME);
	ck_assert_uint_eq(used, 4);

	/* Rejected at the first byte, without waiting for a whole header. */
	ck_assert_int_eq(decode_whole(key, (const uint8_t *)http, 1, &used, NULL),
	    IVI_E_BAD_FRAME);
	ck_assert_uint_eq(used, 1);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_frame_rejects_other_version)
{
	struct ivi_key *key = make_key(1);
	struct ivi_decoder *d = NULL;
	uint8_t h[IVI_FRAME_HEADER_LEN];
	size_t used;

	put_header(h, IVI_PROTO_VERSION + 1, 0, 0, 2);
	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	ck_assert_int_eq(ivi_decoder_feed(d, h, sizeof(h), &used), IVI_E_BAD_VERSION);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(ivi_decoder_peer_version(d), IVI_PROTO_VERSION + 1);
	ivi_decoder_free(d);

	put_header(h, 0, 0, 0, 2);
	ck_assert_int_eq(decode_whole(key, h, sizeof(h), &used, NULL), IVI_E_BAD_VERSION);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_frame_rejects_flags_and_reserved)
{
	struct ivi_key *key = make_key(1);
	uint8_t h[IVI_FRAME_HEADER_LEN];
	size_t used;

	put_header(h, IVI_PROTO_VERSION, 1, 0, 2);
	ck_assert_int_eq(decode_whole(key, h, sizeof(h), &used, NULL), IVI_E_BAD_FRAME);
	put_header(h, IVI_PROTO_VERSION, 0, 0, 2);
	h[6] = 0x80;
	ck_assert_int_eq(decode_whole(key, h, sizeof(h), &used, NULL), IVI_E_BAD_FRAME);
	put_header(h, IVI_PROTO_VERSION, 0, 0, 2);
	h[7] = 1;
	ck_assert_int_eq(decode_whole(key, h, sizeof(h), &used, NULL), IVI_E_BAD_FRAME);
	ivi_key_free(key);
}
END_TEST

/* Signs payload, decodes it and returns the decoder's result. */
static int
decode_signed_payload(const char *payload, size_t plen)
{
	struct ivi_key *key = make_key(1);
	uint8_t *frame;
	size_t len, used;
	cJSON *json = NULL;
	int ret;

	frame = encode_raw(key, payload, plen, &len);
	ret = decode_whole(key, frame, len, &used, &json);
	cJSON_Delete(json);
	free(frame);
	ivi_key_free(key);
	return ret;
}

START_TEST(test_frame_rejects_payload_not_json_object)
{
	static const struct {
		const char *payload;
		size_t len;
	} cases[] = {
		{"", 0},
		{"not json", 8},
		{"{\"a\":", 5},
		{"[1,2]", 5},
		{"42", 2},
		{"\"text\"", 6},
		{"null", 4},
		{"{} trailing", 11},
		{"{}{}", 4},
		{"{}\0\0", 4},
		{"{\"a\":\"x\0y\"}", 11},
		{"{\"a\":\"x\001y\"}", 11},
		{"{\"a\":\"x\x1fy\"}", 11},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = decode_signed_payload(cases[i].payload, cases[i].len);

		ck_assert_msg(ret == IVI_E_BAD_JSON, "payload %zu gave %d, not bad_json", i, ret);
	}
	ck_assert_int_eq(decode_signed_payload("{} \r\n\t", 6), IVI_DECODE_FRAME);
}
END_TEST

START_TEST(test_frame_rejects_bad_mac)
{
	struct ivi_key *key = make_key(1);
	struct ivi_key *other = make_key(2);
	uint8_t *frame;
	size_t len, used;

	frame = encode(key, make_request(IVI_MSG_PING), &len);
	ck_assert_int_eq(decode_whole(other, frame, len, &used, NULL), IVI_E_BAD_SIGNATURE);
	ck_assert_uint_eq(used, len);
	frame[len - 1] ^= 1;
	ck_assert_int_eq(decode_whole(key, frame, len, &used, NULL), IVI_E_BAD_SIGNATURE);
	free(frame);
	ivi_key_free(key);
	ivi_key_free(other);
}
END_TEST

/*
 * Decodes a damaged frame. A damaged length field can leave the decoder
 * waiting for more bytes. It is then fed zeros until it returns a result,
 * as it would with a peer that keeps sending.
 */
static int
decode_damaged(const struct ivi_key *key, const uint8_t *frame, size_t len)
{
	static const uint8_t zeros[256];
	struct ivi_decoder *d = NULL;
	size_t used, fed = 0;
	int ret;

	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	ret = ivi_decoder_feed(d, frame, len, &used);
	while (ret == IVI_DECODE_NEED_MORE) {
		ck_assert_uint_le(fed, IVI_FRAME_MAX_PAYLOAD + IVI_FRAME_MAC_LEN);
		ret = ivi_decoder_feed(d, zeros, sizeof(zeros), &used);
		fed += sizeof(zeros);
	}
	ivi_decoder_free(d);
	return ret;
}

START_TEST(test_frame_rejects_every_single_bit_flip)
{
	struct ivi_key *key = make_key(1);
	uint8_t *frame;
	size_t len;

	frame = encode(key, make_request(IVI_MSG_RELOAD), &len);
	for (size_t pos = 0; pos < len; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			int ret;

			frame[pos] ^= (uint8_t)(1u << bit);
			ret = decode_damaged(key, frame, len);
			frame[pos] ^= (uint8_t)(1u << bit);
			ck_assert_msg(ret < 0, "flipping bit %d of byte %zu gave %d, not an error",
			    bit, pos, ret);
		}
	}
	free(frame);
	ivi_key_free(key);
}
END_TEST

START_TEST(test_frame_error_is_sticky)
{
	struct ivi_key *key = make_key(1);
	struct ivi_decoder *d = NULL;
	uint8_t *frame;
	size_t len, used;

	frame = encode(key, make_request(IVI_MSG_PING), &len);
	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	ck_assert_int_eq(ivi_decoder_feed(d, (const uint8_t *)"X", 1, &used), IVI_E_BAD_FRAME);
	ck_assert_int_eq(ivi_decoder_feed(d, frame, len, &used), IVI_E_BAD_FRAME);
	ck_assert_uint_eq(used, 0);
	ck_assert_ptr_null(ivi_decoder_take(d));
	ivi_decoder_free(d);
	free(frame);
	ivi_key_free(key);
}
END_TEST

/* ---- Frames: chunking ---------------------------------------------------- */

/* What a decoder made of a byte stream: each status, the bytes used, the frames. */
struct decode_trace {
	int status[8];
	size_t used[8];
	char *json[8];
	int n;
};

static uint32_t
next_random(uint32_t *state)
{
	/* xorshift32: a fixed, repeatable sequence for a given seed. */
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/*
 * Feeds stream to a new decoder in chunks: chunk 0 means all at once,
 * 1 one byte at a time, otherwise random sizes from 1 to chunk drawn with
 * seed. Records every frame and the final status in trace.
 */
static void
decode_trace(const struct ivi_key *key, const uint8_t *stream, size_t len, size_t chunk,
    uint32_t seed, struct decode_trace *trace)
{
	struct ivi_decoder *d = NULL;
	size_t off = 0, pos_used = 0;
	int ret = IVI_DECODE_NEED_MORE;

	memset(trace, 0, sizeof(*trace));
	ck_assert_int_eq(ivi_decoder_new(key, &d), 0);
	while (off < len && ret >= 0) {
		size_t n = chunk == 0 ? len - off : 1 + next_random(&seed) % chunk;
		size_t used;

		if (chunk == 1)
			n = 1;
		if (n > len - off)
			n = len - off;
		ret = ivi_decoder_feed(d, stream + off, n, &used);
		off += used;
		pos_used += used;
		if (ret == IVI_DECODE_FRAME) {
			cJSON *json = ivi_decoder_take(d);

			ck_assert_int_lt(trace->n, 8);
			trace->status[trace->n] = ret;
			trace->used[trace->n] = pos_used;
			trace->json[trace->n++] = cJSON_PrintUnformatted(json);
			cJSON_Delete(json);
		}
		if (ret < 0 || (ret == IVI_DECODE_NEED_MORE && used < n))
			break;
	}
	ck_assert_int_lt(trace->n, 8);
	trace->status[trace->n] = ret;
	trace->used[trace->n++] = pos_used;
	ivi_decoder_free(d);
}

static void
trace_free(struct decode_trace *trace)
{
	for (int i = 0; i < trace->n; i++)
		cJSON_free(trace->json[i]);
}

static void
assert_same_trace(const struct decode_trace *a, const struct decode_trace *b, const char *what)
{
	ck_assert_msg(a->n == b->n, "%s: %d results, %d when fed whole", what, b->n, a->n);
	for (int i = 0; i < a->n; i++) {
		ck_assert_msg(a->status[i] == b->status[i],
		    "%s: result %d is %d, %d when fed whole", what, i, b->status[i], a->status[i]);
		ck_assert_msg(a->used[i] == b->used[i], "%s: result %d after %zu bytes, %zu whole",
		    what, i, b->used[i], a->used[i]);
		if (a->json[i] != NULL || b->json[i] != NULL)
			ck_assert_str_eq(a->json[i], b->json[i]);
	}
}

/* Builds the streams the chunking test replays: good, bad and mixed. */
static size_t
build_stream(const struct ivi_key *key, int which, uint8_t *out, size_t max)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0, len = 0;

	a = encode(key, make_request(IVI_MSG_RELOAD), &alen);
	b = encode(key, make_request(IVI_MSG_PING), &blen);
	ck_assert_uint_le(alen + blen, max);
	switch (which) {
	case 0: /* one frame */
		memcpy(out, a, alen);
		len = alen;
		break;
	case 1: /* two frames and half of a third */
		ck_assert_uint_le(alen + blen + alen / 2, max);
		memcpy(out, a, alen);
		memcpy(out + alen, b, blen);
		memcpy(out + alen + blen, a, alen / 2);
		len = alen + blen + alen / 2;
		break;
	case 2: /* a frame, then a frame with a bad MAC */
		memcpy(out, b, blen);
		memcpy(out + blen, a, alen);
		out[blen + alen - 3] ^= 0x40;
		len = alen + blen;
		break;
	case 3: /* a frame, then garbage */
		memcpy(out, b, blen);
		memcpy(out + blen, "GET / HTTP/1.1\r\n", 16);
		len = blen + 16;
		break;
	default: /* a frame, then an oversize header */
		memcpy(out, b, blen);
		put_header(out + blen, IVI_PROTO_VERSION, 0, 0, IVI_FRAME_MAX_PAYLOAD + 1);
		len = blen + IVI_FRAME_HEADER_LEN;
		break;
	}
	free(a);
	free(b);
	return len;
}

START_TEST(test_decoder_chunking_gives_same_result)
{
	struct ivi_key *key = make_key(1);
	size_t max = 2 * (IVI_FRAME_HEADER_LEN + IVI_FRAME_MAX_PAYLOAD + IVI_FRAME_MAC_LEN);
	uint8_t *stream = malloc(max);

	for (int which = 0; which < 5; which++) {
		struct decode_trace whole, bytewise, random;
		size_t len = build_stream(key, which, stream, max);
		char what[64];

		decode_trace(key, stream, len, 0, 0, &whole);
		decode_trace(key, stream, len, 1, 0, &bytewise);
		snprintf(what, sizeof(what), "stream %d byte by byte", which);
		assert_same_trace(&whole, &bytewise, what);
		trace_free(&bytewise);

		for (uint32_t seed = 1; seed <= 40; seed++) {
			size_t chunk = seed % 2 ? 7 : 97;

			decode_trace(key, stream, len, chunk, seed * 2654435761u, &random);
			snprintf(what, sizeof(what), "stream %d random chunks, seed %u", which,
			    seed);
			assert_same_trace(&whole, &random, what);
			trace_free(&random);
		}
		trace_free(&whole);
	}
	free(stream);
	ivi_key_free(key);
}
END_TEST

/* ---- Messages ------------------------------------------------------------- */

START_TEST(test_request_ids_and_nonces_are_fresh)
{
	cJSON *a = make_request(IVI_MSG_PING);
	cJSON *b = make_request(IVI_MSG_PING);
	const char *ida = cJSON_GetStringValue(cJSON_GetObjectItem(a, "id"));
	const char *idb = cJSON_GetStringValue(cJSON_GetObjectItem(b, "id"));
	const char *na = cJSON_GetStringValue(cJSON_GetObjectItem(a, "nonce"));
	const char *nb = cJSON_GetStringValue(cJSON_GetObjectItem(b, "nonce"));

	ck_assert_uint_eq(strlen(ida), 32);
	ck_assert_uint_eq(strlen(na), 64);
	ck_assert_uint_eq(strspn(na, "0123456789abcdef"), 64);
	ck_assert_str_ne(ida, idb);
	ck_assert_str_ne(na, nb);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

START_TEST(test_request_new_rejects_unknown_type)
{
	ck_assert_ptr_null(ivi_request_new((enum ivi_msg_type)99, cJSON_CreateObject()));
	ck_assert_ptr_null(ivi_msg_type_name(0));
	ck_assert_ptr_null(ivi_msg_type_name(4));
	ck_assert_str_eq(ivi_msg_type_name(IVI_MSG_RELOAD), "reload");
	ck_assert_ptr_null(ivi_reload_body(NULL, test_fingerprint, NULL));
}
END_TEST

/* Parses a request built by make_request after edit changed one field. */
static int
parse_edited(enum ivi_msg_type type, const char *field, cJSON *value, bool in_body)
{
	cJSON *msg = make_request(type);
	cJSON *where = in_body ? cJSON_GetObjectItem(msg, "body") : msg;
	struct ivi_request req;
	int ret;

	if (value == NULL)
		cJSON_DeleteItemFromObjectCaseSensitive(where, field);
	else if (cJSON_GetObjectItemCaseSensitive(where, field) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(where, field, value);
	else
		cJSON_AddItemToObject(where, field, value);
	ret = ivi_request_parse(msg, &req);
	cJSON_Delete(msg);
	return ret;
}

START_TEST(test_request_rejects_missing_fields)
{
	static const char *const fields[] = {"version", "type", "id", "timestamp", "nonce",
	    "body"};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		ck_assert_msg(parse_edited(IVI_MSG_PING, fields[i], NULL, false) ==
			IVI_E_BAD_MESSAGE,
		    "request without %s was not rejected as bad_message", fields[i]);
	}
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "target", NULL, true), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "fingerprint", NULL, true),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "reason", NULL, true), 0);
}
END_TEST

START_TEST(test_request_rejects_mistyped_fields)
{
	char long_reason[300];

	memset(long_reason, 'r', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';

	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "version", cJSON_CreateString("1"), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "version", cJSON_CreateNumber(1.5), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "type", cJSON_CreateNumber(1), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "id", cJSON_CreateNumber(7), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "id", cJSON_CreateString(""), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "id", cJSON_CreateString("a b"), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "timestamp", cJSON_CreateString("now"), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "timestamp", cJSON_CreateNumber(1.5), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "timestamp", cJSON_CreateNumber(1e300), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "nonce", cJSON_CreateString("abc"), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "nonce",
			     cJSON_CreateString("0123456789ABCDEF0123456789ABCDEF"), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "nonce", cJSON_CreateNumber(3), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "body", cJSON_CreateArray(), false),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "target", cJSON_CreateNumber(1), true),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "fingerprint",
			     cJSON_CreateString("0123456789ABCDEF"), true),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "fingerprint",
			     cJSON_CreateString("/etc/ivicli/tls.crt"), true),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "reason", cJSON_CreateNumber(1), true),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "reason", cJSON_CreateString(long_reason),
			     true),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "reason", cJSON_CreateNull(), true), 0);
}
END_TEST

START_TEST(test_request_rejects_other_version)
{
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "version", cJSON_CreateNumber(2), false),
	    IVI_E_BAD_VERSION);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "version", cJSON_CreateNumber(0), false),
	    IVI_E_BAD_VERSION);
}
END_TEST

START_TEST(test_request_rejects_unknown_type_and_target)
{
	char long_type[100];

	memset(long_type, 't', sizeof(long_type) - 1);
	long_type[sizeof(long_type) - 1] = '\0';
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "type", cJSON_CreateString("shutdown"), false),
	    IVI_E_UNKNOWN_TYPE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "type", cJSON_CreateString(""), false),
	    IVI_E_UNKNOWN_TYPE);
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "type", cJSON_CreateString(long_type), false),
	    IVI_E_UNKNOWN_TYPE);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "target", cJSON_CreateString("api.http"),
			     true),
	    IVI_E_UNKNOWN_TARGET);
}
END_TEST

START_TEST(test_request_ignores_unknown_fields)
{
	ck_assert_int_eq(parse_edited(IVI_MSG_PING, "future", cJSON_CreateString("x"), false), 0);
	ck_assert_int_eq(parse_edited(IVI_MSG_STATUS, "verbose", cJSON_CreateTrue(), true), 0);
	ck_assert_int_eq(parse_edited(IVI_MSG_RELOAD, "path", cJSON_CreateString("/etc/x"), true),
	    0);
}
END_TEST

START_TEST(test_request_parse_rejects_non_object)
{
	struct ivi_request req;
	cJSON *arr = cJSON_CreateArray();

	ck_assert_int_eq(ivi_request_parse(arr, &req), IVI_E_BAD_JSON);
	ck_assert_int_eq(ivi_request_parse(NULL, &req), IVI_E_BAD_JSON);
	cJSON_Delete(arr);
}
END_TEST

START_TEST(test_response_bad_version_carries_server_version)
{
	struct ivi_response resp;
	cJSON *msg = ivi_response_error(NULL, IVI_E_BAD_VERSION, NULL);
	cJSON *error = cJSON_GetObjectItem(msg, "error");

	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(msg, "id")));
	ck_assert_int_eq(cJSON_GetObjectItem(error, "server_version")->valueint,
	    IVI_PROTO_VERSION);
	ck_assert_int_eq(ivi_response_parse(msg, &resp), 0);
	ck_assert(!resp.ok);
	ck_assert_str_eq(resp.id, "");
	ck_assert_int_eq(resp.err, IVI_E_BAD_VERSION);
	ck_assert_str_eq(resp.code, "bad_version");
	ck_assert_str_eq(resp.message, ivi_strerror(IVI_E_BAD_VERSION));
	ck_assert_int_eq(resp.server_version, IVI_PROTO_VERSION);
	cJSON_Delete(msg);

	/* Other errors do not carry it. */
	msg = ivi_response_error("x", IVI_E_BAD_JSON, "payload is not JSON");
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(msg, "error"),
	    "server_version"));
	cJSON_Delete(msg);
}
END_TEST

/* Parses a response after setting (or, with value NULL, removing) one field. */
static int
parse_response_edited(bool ok, const char *field, cJSON *value)
{
	cJSON *msg = ok ? ivi_response_ok("id1", NULL)
			: ivi_response_error("id1", IVI_E_KEY_MISMATCH, "key does not match");
	cJSON *where = msg;
	struct ivi_response resp;
	int ret;

	if (strncmp(field, "error.", 6) == 0) {
		where = cJSON_GetObjectItem(msg, "error");
		field += 6;
	}
	if (value == NULL)
		cJSON_DeleteItemFromObjectCaseSensitive(where, field);
	else if (cJSON_GetObjectItemCaseSensitive(where, field) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(where, field, value);
	else
		cJSON_AddItemToObject(where, field, value);
	ret = ivi_response_parse(msg, &resp);
	cJSON_Delete(msg);
	return ret;
}

START_TEST(test_response_rejects_missing_and_mistyped_fields)
{
	ck_assert_int_eq(parse_response_edited(true, "version", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "id", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "id", cJSON_CreateNumber(1)),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "ok", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "ok", cJSON_CreateNumber(1)),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "result", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "result", cJSON_CreateString("x")),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error.code", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error.code", cJSON_CreateString("ok")),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error.code", cJSON_CreateString("")),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error.code", cJSON_CreateString("Bad Code")),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error.message", NULL), IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(false, "error.server_version",
			     cJSON_CreateString("1")),
	    IVI_E_BAD_MESSAGE);
	ck_assert_int_eq(parse_response_edited(true, "extra", cJSON_CreateString("x")), 0);
}
END_TEST

START_TEST(test_response_keeps_unknown_error_code)
{
	struct ivi_response resp;
	cJSON *msg = ivi_response_error("id1", IVI_E_KEY_MISMATCH, NULL);
	char long_message[1000];

	memset(long_message, 'm', sizeof(long_message) - 1);
	long_message[sizeof(long_message) - 1] = '\0';
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(msg, "error"), "code",
	    cJSON_CreateString("future_code"));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(msg, "error"), "message",
	    cJSON_CreateString(long_message));
	ck_assert_int_eq(ivi_response_parse(msg, &resp), 0);
	ck_assert_str_eq(resp.code, "future_code");
	ck_assert_int_eq(resp.err, IVI_E_INTERNAL);
	ck_assert_uint_eq(strlen(resp.message), sizeof(resp.message) - 1);
	cJSON_Delete(msg);
}
END_TEST

START_TEST(test_error_codes_round_trip)
{
	static const int proto_errs[] = {IVI_E_BAD_FRAME, IVI_E_TOO_LARGE, IVI_E_BAD_VERSION,
	    IVI_E_BAD_JSON, IVI_E_BAD_SIGNATURE, IVI_E_STALE_TIMESTAMP, IVI_E_REPLAYED_NONCE,
	    IVI_E_UNKNOWN_TYPE, IVI_E_UNKNOWN_TARGET, IVI_E_STALE_FINGERPRINT,
	    IVI_E_PEER_NOT_ALLOWED, IVI_E_BAD_MESSAGE, IVI_E_KEY_PERMISSIONS, IVI_E_KEY_FORMAT,
	    IVI_E_KEY_EXISTS, IVI_E_SOCKET_IN_USE, IVI_E_RELOAD_DISABLED};

	for (size_t i = 0; i < sizeof(proto_errs) / sizeof(proto_errs[0]); i++) {
		const char *code = ivi_err_code(proto_errs[i]);

		ck_assert_str_ne(code, "unknown");
		ck_assert_int_eq(ivi_err_from_code(code), proto_errs[i]);
	}
}
END_TEST

/* ---- Replay guard ---------------------------------------------------------- */

static void
nonce_for(unsigned i, char out[65])
{
	snprintf(out, 65, "%064x", i);
}

START_TEST(test_replay_window_edges)
{
	struct ivi_replay *r = NULL;
	const time_t now = 1000000;
	char nonce[65];

	ck_assert_int_eq(ivi_replay_new(30, 16, &r), 0);
	nonce_for(1, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now - 31, nonce, now), IVI_E_STALE_TIMESTAMP);
	ck_assert_int_eq(ivi_replay_check(r, now + 31, nonce, now), IVI_E_STALE_TIMESTAMP);
	ck_assert_int_eq(ivi_replay_check(r, now - 30, nonce, now), 0);
	nonce_for(2, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now + 30, nonce, now), 0);
	nonce_for(3, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now, nonce, now), 0);
	ck_assert_uint_eq(ivi_replay_count(r), 3);
	ivi_replay_free(r);
}
END_TEST

START_TEST(test_replay_rejects_replayed_nonce)
{
	struct ivi_replay *r = NULL;
	const time_t now = 1000000;
	char nonce[65];

	ck_assert_int_eq(ivi_replay_new(30, 16, &r), 0);
	nonce_for(7, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now, nonce, now), 0);
	ck_assert_int_eq(ivi_replay_check(r, now, nonce, now), IVI_E_REPLAYED_NONCE);
	ck_assert_int_eq(ivi_replay_check(r, now + 1, nonce, now + 2), IVI_E_REPLAYED_NONCE);
	ck_assert_uint_eq(ivi_replay_count(r), 1);
	ivi_replay_free(r);
}
END_TEST

START_TEST(test_replay_evicts_oldest_at_capacity)
{
	const size_t cap = IVI_REPLAY_DEFAULT_CAPACITY;
	const time_t now = 10000000;
	struct ivi_replay *r = NULL;
	char nonce[65];

	/* A window as long as the capacity gives every entry its own second. */
	ck_assert_int_eq(ivi_replay_new((int)cap, cap, &r), 0);
	for (unsigned i = 0; i < cap; i++) {
		nonce_for(i, nonce);
		ck_assert_int_eq(ivi_replay_check(r, now - (time_t)cap + i, nonce, now), 0);
	}
	ck_assert_uint_eq(ivi_replay_count(r), cap);

	nonce_for((unsigned)cap, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now, nonce, now), 0);
	ck_assert_uint_eq(ivi_replay_count(r), cap);

	/* Entry 0 was evicted: its replay is stopped by the floor, not the cache. */
	nonce_for(0, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now - (time_t)cap, nonce, now),
	    IVI_E_STALE_TIMESTAMP);
	/* Entry 1 is still cached. */
	nonce_for(1, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now - (time_t)cap + 1, nonce, now),
	    IVI_E_REPLAYED_NONCE);
	/* A new nonce newer than the evicted entry is accepted and evicts entry 1. */
	nonce_for((unsigned)cap + 1, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now - (time_t)cap + 1, nonce, now), 0);
	ck_assert_uint_eq(ivi_replay_count(r), cap);
	nonce_for(1, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now - (time_t)cap + 1, nonce, now),
	    IVI_E_STALE_TIMESTAMP);
	ivi_replay_free(r);
}
END_TEST

START_TEST(test_replay_forgets_entries_outside_window)
{
	struct ivi_replay *r = NULL;
	const time_t now = 1000000;
	char nonce[65];

	ck_assert_int_eq(ivi_replay_new(30, 16, &r), 0);
	for (unsigned i = 0; i < 5; i++) {
		nonce_for(i, nonce);
		ck_assert_int_eq(ivi_replay_check(r, now, nonce, now), 0);
	}
	nonce_for(100, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now + 31, nonce, now + 31), 0);
	ck_assert_uint_eq(ivi_replay_count(r), 1);

	/* With the clock set back, a forgotten nonce is still not accepted again. */
	nonce_for(0, nonce);
	ck_assert_int_eq(ivi_replay_check(r, now, nonce, now), IVI_E_STALE_TIMESTAMP);
	ivi_replay_free(r);
}
END_TEST

START_TEST(test_replay_rejects_invalid_arguments)
{
	struct ivi_replay *r = NULL;

	ck_assert_int_eq(ivi_replay_new(30, 0, &r), IVI_E_INVALID_ARG);
	ck_assert_int_eq(ivi_replay_new(-1, 4, &r), IVI_E_INVALID_ARG);
	ivi_replay_free(NULL);
	ivi_decoder_free(NULL);
	ivi_key_free(NULL);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *frame = tcase_create("frame");
	TCase *chunk = tcase_create("chunking");
	TCase *msg = tcase_create("messages");
	TCase *replay = tcase_create("replay");

	tcase_add_test(frame, test_frame_round_trip_ping);
	tcase_add_test(frame, test_frame_round_trip_status);
	tcase_add_test(frame, test_frame_round_trip_reload);
	tcase_add_test(frame, test_frame_round_trip_responses);
	tcase_add_test(frame, test_frame_header_layout);
	tcase_add_test(frame, test_frame_back_to_back);
	tcase_add_test(frame, test_frame_encode_payload_at_cap);
	tcase_add_test(frame, test_frame_rejects_oversize_length);
	tcase_add_test(frame, test_frame_4gib_length_allocates_nothing);
	tcase_add_test(frame, test_frame_length_at_cap_allocates_once);
	tcase_add_test(frame, test_frame_truncated_needs_more);
	tcase_add_test(frame, test_frame_rejects_bad_magic);
	tcase_add_test(frame, test_frame_rejects_other_version);
	tcase_add_test(frame, test_frame_rejects_flags_and_reserved);
	tcase_add_test(frame, test_frame_rejects_payload_not_json_object);
	tcase_add_test(frame, test_frame_rejects_bad_mac);
	tcase_add_test(frame, test_frame_rejects_every_single_bit_flip);
	tcase_add_test(frame, test_frame_error_is_sticky);
	/* Bit flips and chunking do thousands of HMACs: slow under valgrind. */
	tcase_set_timeout(frame, 300);
	suite_add_tcase(s, frame);

	tcase_add_test(chunk, test_decoder_chunking_gives_same_result);
	tcase_set_timeout(chunk, 300);
	suite_add_tcase(s, chunk);

	tcase_add_test(msg, test_request_ids_and_nonces_are_fresh);
	tcase_add_test(msg, test_request_new_rejects_unknown_type);
	tcase_add_test(msg, test_request_rejects_missing_fields);
	tcase_add_test(msg, test_request_rejects_mistyped_fields);
	tcase_add_test(msg, test_request_rejects_other_version);
	tcase_add_test(msg, test_request_rejects_unknown_type_and_target);
	tcase_add_test(msg, test_request_ignores_unknown_fields);
	tcase_add_test(msg, test_request_parse_rejects_non_object);
	tcase_add_test(msg, test_response_bad_version_carries_server_version);
	tcase_add_test(msg, test_response_rejects_missing_and_mistyped_fields);
	tcase_add_test(msg, test_response_keeps_unknown_error_code);
	tcase_add_test(msg, test_error_codes_round_trip);
	suite_add_tcase(s, msg);

	tcase_add_test(replay, test_replay_window_edges);
	tcase_add_test(replay, test_replay_rejects_replayed_nonce);
	tcase_add_test(replay, test_replay_evicts_oldest_at_capacity);
	tcase_add_test(replay, test_replay_forgets_entries_outside_window);
	tcase_add_test(replay, test_replay_rejects_invalid_arguments);
	tcase_set_timeout(replay, 120);
	suite_add_tcase(s, replay);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
