/*
 * Frame encoder and incremental decoder. A frame is a 12-byte header
 * (magic "IVIC", version, flags, two reserved bytes, payload length as a
 * 32-bit big-endian integer), the JSON payload, and an HMAC-SHA256 over
 * header and payload. See ivicli-control(7).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "proto_internal.h"

enum decoder_state {
	DEC_HEADER,  /* collecting the 12 header bytes */
	DEC_BODY,    /* collecting payload and MAC into buf */
	DEC_READY,   /* a verified frame waits in frame */
	DEC_FAILED,  /* an error was returned; the decoder stays unusable */
};

struct ivi_decoder {
	const struct ivi_key *key;
	enum decoder_state state;
	int err;                          /* the error while DEC_FAILED */
	uint8_t header[IVI_FRAME_HEADER_LEN];
	size_t header_len;                /* header bytes received */
	uint8_t *buf;                     /* header, payload and MAC of the frame */
	size_t buf_size;
	size_t buf_len;                   /* bytes of buf filled */
	int version;                      /* version byte, 0 before it arrived */
	cJSON *frame;
};

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- Encoder ---------------------------------------------------------- */

int
ivi_frame_encode_raw(const struct ivi_key *key, const uint8_t *payload, size_t len,
    uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t total;
	int ret;

	if (key == NULL || (payload == NULL && len > 0) || out == NULL || outlen == NULL)
		return IVI_E_INVALID_ARG;
	if (len > IVI_FRAME_MAX_PAYLOAD)
		return IVI_E_TOO_LARGE;

	total = IVI_FRAME_HEADER_LEN + len + IVI_FRAME_MAC_LEN;
	buf = malloc(total);
	if (buf == NULL)
		return IVI_E_NOMEM;

	memcpy(buf, IVI_FRAME_MAGIC, 4);
	buf[4] = IVI_PROTO_VERSION;
	buf[5] = 0;
	buf[6] = 0;
	buf[7] = 0;
	put_be32(buf + 8, (uint32_t)len);
	if (len > 0)
		memcpy(buf + IVI_FRAME_HEADER_LEN, payload, len);

	ret = ivi_key_mac(key, buf, IVI_FRAME_HEADER_LEN + len, buf + IVI_FRAME_HEADER_LEN + len);
	if (ret < 0)
		goto out;

	*out = buf;
	*outlen = total;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	return ret;
}

int
ivi_frame_encode(const struct ivi_key *key, const cJSON *payload, uint8_t **out,
    size_t *outlen)
{
	char *text;
	int ret;

	if (!cJSON_IsObject(payload))
		return IVI_E_INVALID_ARG;
	text = cJSON_PrintUnformatted(payload);
	if (text == NULL)
		return IVI_E_NOMEM;
	ret = ivi_frame_encode_raw(key, (const uint8_t *)text, strlen(text), out, outlen);
	cJSON_free(text);
	return ret;
}

/* ---- Decoder ---------------------------------------------------------- */

int
ivi_decoder_new(const struct ivi_key *key, struct ivi_decoder **out)
{
	struct ivi_decoder *d;

	if (key == NULL || out == NULL)
		return IVI_E_INVALID_ARG;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return IVI_E_NOMEM;
	d->key = key;
	d->state = DEC_HEADER;
	*out = d;
	return 0;
}

/* Releases the frame buffer. */
static void
decoder_drop_buffer(struct ivi_decoder *d)
{
	free(d->buf);
	d->buf = NULL;
	d->buf_size = 0;
	d->buf_len = 0;
}

/* Puts d in the failed state; every later feed returns err again. */
static int
decoder_fail(struct ivi_decoder *d, int err)
{
	decoder_drop_buffer(d);
	d->state = DEC_FAILED;
	d->err = err;
	return err;
}

/*
 * Checks the header bytes received so far, so that a peer sending
 * something else is rejected at its first wrong byte. Once the header is
 * complete, allocates the buffer for payload and MAC, and only then.
 */
static int
decoder_check_header(struct ivi_decoder *d)
{
	size_t n = d->header_len;
	uint32_t len;

	if (memcmp(d->header, IVI_FRAME_MAGIC, n < 4 ? n : 4) != 0)
		return IVI_E_BAD_FRAME;
	if (n < 5)
		return 0;
	d->version = d->header[4];
	if (d->version != IVI_PROTO_VERSION)
		return IVI_E_BAD_VERSION;
	/* Flags and reserved bytes: zero in version 1. */
	for (size_t i = 5; i < n && i < 8; i++) {
		if (d->header[i] != 0)
			return IVI_E_BAD_FRAME;
	}
	if (n < IVI_FRAME_HEADER_LEN)
		return 0;

	len = get_be32(d->header + 8);
	if (len > IVI_FRAME_MAX_PAYLOAD)
		return IVI_E_TOO_LARGE;
	d->buf_size = IVI_FRAME_HEADER_LEN + (size_t)len + IVI_FRAME_MAC_LEN;
	d->buf = malloc(d->buf_size);
	if (d->buf == NULL) {
		d->buf_size = 0;
		return IVI_E_NOMEM;
	}
	memcpy(d->buf, d->header, IVI_FRAME_HEADER_LEN);
	d->buf_len = IVI_FRAME_HEADER_LEN;
	d->state = DEC_BODY;
	return 0;
}

/* Returns true when only JSON whitespace is left in s[0..len). */
static bool
only_whitespace(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	}
	return true;
}

/*
 * Returns true when s[0..len) has no control character other than JSON
 * white space. RFC 8259 allows none inside strings either, and cJSON
 * 1.7.15 accepts a raw NUL inside a string and cuts the string there.
 */
static bool
no_control_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return false;
	}
	return true;
}

/* Verifies the MAC of the complete frame in d->buf, then parses the payload. */
static int
decoder_finish(struct ivi_decoder *d)
{
	uint8_t mac[IVI_FRAME_MAC_LEN];
	size_t signed_len = d->buf_size - IVI_FRAME_MAC_LEN;
	size_t payload_len = signed_len - IVI_FRAME_HEADER_LEN;
	const char *payload = (const char *)d->buf + IVI_FRAME_HEADER_LEN;
	const char *end = NULL;
	cJSON *json;
	int ret;

	ret = ivi_key_mac(d->key, d->buf, signed_len, mac);
	if (ret < 0)
		return ret;
	ret = gnutls_memcmp(mac, d->buf + signed_len, IVI_FRAME_MAC_LEN);
	gnutls_memset(mac, 0, sizeof(mac));
	if (ret != 0)
		return IVI_E_BAD_SIGNATURE;

	/* Only a signed payload reaches the JSON parser. */
	if (!no_control_chars(payload, payload_len))
		return IVI_E_BAD_JSON;
	json = cJSON_ParseWithLengthOpts(payload, payload_len, &end, 0);
	if (json == NULL)
		return IVI_E_BAD_JSON;
	if (!cJSON_IsObject(json) || end == NULL ||
	    !only_whitespace(end, payload_len - (size_t)(end - payload))) {
		cJSON_Delete(json);
		return IVI_E_BAD_JSON;
	}

	decoder_drop_buffer(d);
	d->frame = json;
	d->state = DEC_READY;
	return 0;
}

int
ivi_decoder_feed(struct ivi_decoder *d, const uint8_t *buf, size_t len, size_t *consumed)
{
	size_t used = 0;
	int ret;

	if (d == NULL || (buf == NULL && len > 0) || consumed == NULL)
		return IVI_E_INVALID_ARG;
	*consumed = 0;
	if (d->state == DEC_FAILED)
		return d->err;

	while (d->state != DEC_READY && used < len) {
		if (d->state == DEC_HEADER) {
			d->header[d->header_len++] = buf[used++];
			ret = decoder_check_header(d);
		} else {
			size_t want = d->buf_size - d->buf_len;
			size_t take = len - used < want ? len - used : want;

			memcpy(d->buf + d->buf_len, buf + used, take);
			d->buf_len += take;
			used += take;
			ret = d->buf_len == d->buf_size ? decoder_finish(d) : 0;
		}
		if (ret < 0) {
			*consumed = used;
			return decoder_fail(d, ret);
		}
	}

	*consumed = used;
	return d->state == DEC_READY ? IVI_DECODE_FRAME : IVI_DECODE_NEED_MORE;
}

cJSON *
ivi_decoder_take(struct ivi_decoder *d)
{
	cJSON *frame;

	if (d == NULL || d->state != DEC_READY)
		return NULL;
	frame = d->frame;
	d->frame = NULL;
	d->header_len = 0;
	d->version = 0;
	d->state = DEC_HEADER;
	return frame;
}

int
ivi_decoder_peer_version(const struct ivi_decoder *d)
{
	return d != NULL ? d->version : 0;
}

size_t
ivi_decoder_allocated(const struct ivi_decoder *d)
{
	return d != NULL ? d->buf_size : 0;
}

void
ivi_decoder_free(struct ivi_decoder *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	cJSON_Delete(d->frame);
	free(d);
}
