/*
 * Blocking client side of the protocol: one signed request per connection,
 * one signed response back, all within a deadline kept with poll().
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto_internal.h"

#define READ_CHUNK 4096

/* Waits until fd is ready for events or deadline (CLOCK_MONOTONIC ms) passes. */
static int
wait_ready(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline - ivi_now_ms();
		int n;

		if (left <= 0)
			return IVI_E_TIMEOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return IVI_E_IO;
	}
}

static int
send_until(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	int ret;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return IVI_E_IO;
		ret = wait_ready(fd, POLLOUT, deadline);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
recv_until(int fd, const struct ivi_key *key, int64_t deadline, cJSON **msg)
{
	struct ivi_decoder *d = NULL;
	uint8_t buf[READ_CHUNK];
	int ret;

	ret = ivi_decoder_new(key, &d);
	if (ret < 0)
		return ret;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		size_t used;

		if (n == 0) {
			ret = IVI_E_IO;
			goto out;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				ret = IVI_E_IO;
				goto out;
			}
			ret = wait_ready(fd, POLLIN, deadline);
			if (ret < 0)
				goto out;
			continue;
		}
		ret = ivi_decoder_feed(d, buf, (size_t)n, &used);
		if (ret < 0)
			goto out;
		if (ret == IVI_DECODE_FRAME)
			break;
	}
	*msg = ivi_decoder_take(d);
	ret = 0;
out:
	ivi_decoder_free(d);
	return ret;
}

static int64_t
deadline_after(int timeout_ms)
{
	return ivi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

int
ivi_client_send(int fd, const uint8_t *buf, size_t len, int timeout_ms)
{
	if (fd < 0 || (buf == NULL && len > 0))
		return IVI_E_INVALID_ARG;
	return send_until(fd, buf, len, deadline_after(timeout_ms));
}

int
ivi_client_recv(int fd, const struct ivi_key *key, int timeout_ms, cJSON **msg)
{
	if (fd < 0 || key == NULL || msg == NULL)
		return IVI_E_INVALID_ARG;
	return recv_until(fd, key, deadline_after(timeout_ms), msg);
}

/* Remaining milliseconds until deadline, at least 1 so a last attempt runs. */
static int
ms_left(int64_t deadline)
{
	int64_t left = deadline - ivi_now_ms();

	return left < 1 ? 1 : (int)left;
}

/*
 * Checks that a verified response belongs to the request with id. A server
 * that could not read the request (bad frame, bad signature) responds with
 * an error and a null id, and that response is accepted too.
 */
static int
check_response_id(const struct ivi_response *resp, const char *id)
{
	if (strcmp(resp->id, id) == 0)
		return 0;
	if (!resp->ok && resp->id[0] == '\0')
		return 0;
	return IVI_E_BAD_MESSAGE;
}

int
ivi_client_call(const struct ivi_transport_ops *t, const char *address,
    const struct ivi_key *key, enum ivi_msg_type type, cJSON *body, int timeout_ms,
    struct ivi_response *resp, cJSON **resp_msg)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct ivi_response parsed;
	char id[sizeof(parsed.id)];
	const cJSON *id_item;
	cJSON *req = NULL, *msg = NULL;
	uint8_t *frame = NULL;
	size_t frame_len = 0;
	int fd = -1;
	int ret, sent;

	if (t == NULL || key == NULL || resp == NULL || resp_msg == NULL) {
		cJSON_Delete(body);
		return IVI_E_INVALID_ARG;
	}

	/* Build and sign the request first: nothing to undo if that fails. */
	req = ivi_request_new(type, body);
	if (req == NULL) {
		ret = type == IVI_MSG_PING || type == IVI_MSG_STATUS || type == IVI_MSG_RELOAD
		    ? IVI_E_NOMEM
		    : IVI_E_INVALID_ARG;
		goto out;
	}
	id_item = cJSON_GetObjectItemCaseSensitive(req, "id");
	snprintf(id, sizeof(id), "%s", cJSON_GetStringValue(id_item));
	ret = ivi_frame_encode(key, req, &frame, &frame_len);
	if (ret < 0)
		goto out;

	ret = t->connect(address, ms_left(deadline), &fd);
	if (ret < 0)
		goto out;

	/*
	 * A server that rejects the request early may close before reading
	 * all of it, and its error response is still worth reading.
	 */
	sent = send_until(fd, frame, frame_len, deadline);
	if (sent == IVI_E_TIMEOUT) {
		ret = sent;
		goto out;
	}
	ret = recv_until(fd, key, deadline, &msg);
	if (ret < 0) {
		ret = sent < 0 ? sent : ret;
		goto out;
	}

	ret = ivi_response_parse(msg, &parsed);
	if (ret < 0)
		goto out;
	ret = check_response_id(&parsed, id);
	if (ret < 0)
		goto out;

	*resp = parsed;
	*resp_msg = msg;
	msg = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(frame);
	cJSON_Delete(req);
	cJSON_Delete(msg);
	return ret;
}
