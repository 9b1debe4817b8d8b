/*
 * libFuzzer target for the frame decoder and the message parsers.
 *
 * Input layout: byte 0 is a mode bit and a seed, the rest is the data.
 * Bits 0 to 6 seed the chunk sizes. With bit 7 clear the data is the byte
 * stream a peer sends. With bit 7 set the data is a payload that is signed
 * here first, so that mutations reach the JSON and message parsers, which
 * a frame with a wrong MAC never reaches.
 *
 * The stream is fed to one decoder whole and to another in chunks; both
 * must give the same frames and the same final status. Every frame is
 * then run through the request and response parsers.
 *
 * The key is fixed (bytes 0x00 to 0x1f) so that the seed corpus in
 * tests/fuzz/frame/ can carry frames with valid MACs. Build and run:
 *
 *   CC=clang ../configure --enable-fuzzing && make tests/fuzz/fuzz_frame
 *   mkdir -p /tmp/frame-corpus
 *   ./tests/fuzz/fuzz_frame -max_total_time=600 /tmp/frame-corpus ../tests/fuzz/frame
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ivi_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 64

/* What a decoder made of the stream. */
struct outcome {
	int status;          /* last value ivi_decoder_feed returned */
	size_t consumed;     /* bytes the decoder used in total */
	int frames;
	char *json[MAX_FRAMES];
};

static struct ivi_key *
fuzz_key(void)
{
	static struct ivi_key *key;
	uint8_t bytes[32];

	if (key != NULL)
		return key;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)i;
	if (ivi_key_from_bytes(bytes, sizeof(bytes), &key) < 0)
		abort();
	return key;
}

/* Runs a decoded frame through both message parsers; they must not crash. */
static void
parse_frame(const cJSON *json)
{
	struct ivi_request req;
	struct ivi_response resp;

	if (ivi_request_parse(json, &req) == 0) {
		if (req.id[0] == '\0' || strlen(req.nonce) < 32 || !cJSON_IsObject(req.body))
			abort();
		if (req.type == IVI_MSG_RELOAD && strlen(req.fingerprint) != 64)
			abort();
	}
	if (ivi_response_parse(json, &resp) == 0 && !resp.ok && resp.code[0] == '\0')
		abort();
}

/*
 * Feeds stream to a new decoder, chunk bytes at a time, or in sizes drawn
 * from seed when chunk is 0.
 */
static void
run_decoder(const uint8_t *stream, size_t len, size_t chunk, uint32_t seed, struct outcome *out)
{
	struct ivi_decoder *d = NULL;
	size_t off = 0;
	int ret = IVI_DECODE_NEED_MORE;

	memset(out, 0, sizeof(*out));
	if (ivi_decoder_new(fuzz_key(), &d) < 0)
		abort();
	while (off < len && ret >= 0 && out->frames < MAX_FRAMES) {
		size_t n = chunk;
		size_t used = 0;

		if (n == 0) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 64;
		}
		if (n > len - off)
			n = len - off;
		ret = ivi_decoder_feed(d, stream + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (ret == IVI_DECODE_FRAME) {
			cJSON *json = ivi_decoder_take(d);

			if (json == NULL)
				abort();
			parse_frame(json);
			out->json[out->frames++] = cJSON_PrintUnformatted(json);
			cJSON_Delete(json);
		}
	}
	if (ret < 0 && ivi_decoder_allocated(d) != 0)
		abort();
	out->status = ret;
	out->consumed = off;
	ivi_decoder_free(d);
}

static void
outcome_free(struct outcome *o)
{
	for (int i = 0; i < o->frames; i++)
		cJSON_free(o->json[i]);
}

static bool
same_outcome(const struct outcome *a, const struct outcome *b)
{
	if (a->status != b->status || a->consumed != b->consumed || a->frames != b->frames)
		return false;
	for (int i = 0; i < a->frames; i++) {
		if ((a->json[i] == NULL) != (b->json[i] == NULL))
			return false;
		if (a->json[i] != NULL && strcmp(a->json[i], b->json[i]) != 0)
			return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, split;
	const uint8_t *stream = data + 1;
	uint8_t *signed_frame = NULL;
	size_t len = size - 1;

	if (size < 1)
		return 0;
	if (data[0] & 0x80) {
		if (ivi_frame_encode_raw(fuzz_key(), data + 1, size - 1, &signed_frame, &len) < 0)
			return 0;
		stream = signed_frame;
	}

	run_decoder(stream, len, len, 0, &whole);
	run_decoder(stream, len, 0, data[0] & 0x7f, &split);
	if (!same_outcome(&whole, &split))
		abort();
	if (signed_frame != NULL && whole.status != IVI_DECODE_FRAME &&
	    whole.status != IVI_E_BAD_JSON)
		abort();

	outcome_free(&whole);
	outcome_free(&split);
	free(signed_frame);
	return 0;
}
