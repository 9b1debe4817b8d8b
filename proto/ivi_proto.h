/*
 * Control protocol between ivicli-certwatch and `ivicli api start`:
 * HMAC-signed, length-prefixed JSON frames over a local stream transport.
 * The wire format is specified in ivicli-control(7). This library never
 * logs; every function returns 0 or a negative enum ivi_err value.
 */
#ifndef IVI_PROTO_H
#define IVI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ivi_err.h"

#define IVI_PROTO_VERSION 1
#define IVI_FRAME_MAGIC "IVIC"
#define IVI_FRAME_HEADER_LEN 12 /* magic[4] version[1] flags[1] reserved[2] length[4] (big endian) */
#define IVI_FRAME_MAC_LEN 32    /* HMAC-SHA256 over header and payload */
#ifdef IVI_SMALL_LIMITS
#define IVI_FRAME_MAX_PAYLOAD 512
#define IVI_REPLAY_DEFAULT_CAPACITY 8
#else
#define IVI_FRAME_MAX_PAYLOAD 65536
#define IVI_REPLAY_DEFAULT_CAPACITY 4096
#endif
#define IVI_KEY_MIN_BYTES 32
#define IVI_KEY_MAX_BYTES 128
#define IVI_KEY_FILE_TAG "ivicli-control-key-v1" /* key file: "<tag> <hex>\n", see ivi_key_load */
#define IVI_RELOAD_TARGET_API_TLS "api.tls"

/* ---- Control key ------------------------------------------------------ */

struct ivi_key;

/*
 * Loads the HMAC key from path. Rejects a file readable or writable by
 * group or others, or owned by a user other than the caller or root
 * (IVI_E_KEY_PERMISSIONS), and a malformed file (IVI_E_KEY_FORMAT). errbuf
 * gets one line with the path and the fix. The key bytes never appear in it.
 *
 * The file is one line: IVI_KEY_FILE_TAG, one space, then the key as
 * 64 to 256 hex digits (32 to 128 bytes, either case), then an optional
 * newline. Also returns IVI_E_FILE_MISSING, IVI_E_FILE_PERMISSION (the
 * caller may not read it) and IVI_E_NOT_REGULAR.
 */
int ivi_key_load(const char *path, struct ivi_key **out, char *errbuf, size_t errlen);

/*
 * Writes a new random key to path atomically with mode 0600, creating the
 * parent directory (0700) when missing. Returns IVI_E_KEY_EXISTS when path
 * exists and force is false.
 */
int ivi_key_generate(const char *path, bool force, char *errbuf, size_t errlen);

/* Wipes and frees key; NULL is allowed. */
void ivi_key_free(struct ivi_key *key);

/*
 * Makes a key from len raw bytes (IVI_KEY_MIN_BYTES to IVI_KEY_MAX_BYTES,
 * else IVI_E_INVALID_ARG). The bytes are copied; the caller wipes its own.
 * For tests and the fuzz target; programs use ivi_key_load.
 */
int ivi_key_from_bytes(const uint8_t *bytes, size_t len, struct ivi_key **out);

/* ---- Frames ----------------------------------------------------------- */

/*
 * Serializes payload, signs it and returns a new buffer in *out (caller
 * frees) of *outlen bytes. IVI_E_TOO_LARGE when the JSON exceeds the cap.
 */
int ivi_frame_encode(const struct ivi_key *key, const cJSON *payload, uint8_t **out,
    size_t *outlen);

/*
 * Frames and signs len payload bytes as they are, JSON or not. Lets tests
 * and ctlprobe build signed frames whose payload is not a JSON object.
 * IVI_E_TOO_LARGE when len exceeds IVI_FRAME_MAX_PAYLOAD.
 */
int ivi_frame_encode_raw(const struct ivi_key *key, const uint8_t *payload, size_t len,
    uint8_t **out, size_t *outlen);

enum ivi_decode_status {
	IVI_DECODE_NEED_MORE = 1, /* all input consumed, frame not complete */
	IVI_DECODE_FRAME = 2,     /* a verified frame is ready: ivi_decoder_take */
};

struct ivi_decoder;

/* Creates an incremental decoder that verifies frames with key (borrowed). */
int ivi_decoder_new(const struct ivi_key *key, struct ivi_decoder **out);

/*
 * Feeds len bytes in any chunking. Sets *consumed to the bytes used and
 * returns IVI_DECODE_NEED_MORE, IVI_DECODE_FRAME (bytes after the frame
 * are left unconsumed), or a negative error (bad_frame, too_large,
 * bad_version, bad_signature, bad_json), after which the decoder is
 * unusable. A declared length over the cap fails before any allocation;
 * the MAC is checked in constant time before the JSON is parsed.
 */
int ivi_decoder_feed(struct ivi_decoder *d, const uint8_t *buf, size_t len, size_t *consumed);

/* Returns the verified JSON object of the last frame (caller frees) and resets d. */
cJSON *ivi_decoder_take(struct ivi_decoder *d);

/* Returns the version byte of the frame being decoded (0 before the header). */
int ivi_decoder_peer_version(const struct ivi_decoder *d);

/* Frees d; NULL is allowed. */
void ivi_decoder_free(struct ivi_decoder *d);

/*
 * Returns the bytes d holds on the heap for the frame being decoded: 0
 * until a valid header arrived, and 0 again after an error or a take.
 */
size_t ivi_decoder_allocated(const struct ivi_decoder *d);

/* ---- Messages --------------------------------------------------------- */

/* Message types: numbered, append only. */
enum ivi_msg_type {
	IVI_MSG_PING = 1,
	IVI_MSG_STATUS = 2,
	IVI_MSG_RELOAD = 3,
};

/* Returns "ping", "status", "reload", or NULL for an unknown type. */
const char *ivi_msg_type_name(int type);

/* A parsed request; string fields are copies, body is borrowed from the message. */
struct ivi_request {
	int version;
	enum ivi_msg_type type;
	char id[64];
	int64_t timestamp;        /* seconds since the epoch */
	char nonce[65];           /* lowercase hex */
	const cJSON *body;        /* object, possibly empty */
	/* Reload only. */
	char target[32];          /* IVI_RELOAD_TARGET_API_TLS */
	char fingerprint[65];     /* SHA-256 of the validated leaf, lowercase hex */
	char reason[256];         /* optional free text from the sender */
};

/*
 * Builds a request of type with a fresh id, the current timestamp and a
 * random nonce. Takes ownership of body (NULL for an empty object).
 * Returns NULL when out of memory.
 */
cJSON *ivi_request_new(enum ivi_msg_type type, cJSON *body);

/* Builds a reload body; reason may be NULL. Never carries a file path. */
cJSON *ivi_reload_body(const char *target, const char *fingerprint, const char *reason);

/*
 * Validates and parses a request object. Returns bad_message for missing
 * or mistyped fields, bad_version, unknown_type, or unknown_target.
 */
int ivi_request_parse(const cJSON *msg, struct ivi_request *out);

/* A parsed response; result is borrowed from the message. */
struct ivi_response {
	char id[64];
	bool ok;
	int err;                  /* 0 when ok, else the enum value of code */
	char code[48];
	char message[512];
	int server_version;       /* protocol version the server speaks */
	const cJSON *result;      /* object or NULL */
};

/* Builds an ok response for request id; takes ownership of result. */
cJSON *ivi_response_ok(const char *id, cJSON *result);

/* Builds an error response with err's stable code and message. */
cJSON *ivi_response_error(const char *id, int err, const char *message);

/* Validates and parses a response object. */
int ivi_response_parse(const cJSON *msg, struct ivi_response *out);

/* ---- Replay guard ----------------------------------------------------- */

struct ivi_replay;

/* Creates a guard accepting timestamps within window seconds of now. */
int ivi_replay_new(int window, size_t capacity, struct ivi_replay **out);

/*
 * Returns 0 and records nonce when timestamp is inside the window and the
 * nonce is new; IVI_E_STALE_TIMESTAMP or IVI_E_REPLAYED_NONCE otherwise.
 * When the cache is full, the oldest entry is evicted.
 *
 * A nonce that leaves the cache (evicted, or older than the window) can
 * no longer be recognised, so the guard also rejects, as stale, every
 * timestamp not newer than the newest timestamp it ever dropped. In normal
 * use that floor stays behind the window. NOTE: when more than capacity
 * requests arrive inside one window, honest requests sent in the same
 * second as an evicted one are rejected too; the sender retries a second
 * later.
 */
int ivi_replay_check(struct ivi_replay *r, int64_t timestamp, const char *nonce, time_t now);

/* Returns the number of nonces cached now (at most the capacity). */
size_t ivi_replay_count(const struct ivi_replay *r);

/* Frees r; NULL is allowed. */
void ivi_replay_free(struct ivi_replay *r);

/* ---- Transport -------------------------------------------------------- */

/* The peer's identity as the kernel reports it. */
struct ivi_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/*
 * A local stream transport. The Unix domain socket implementation is the
 * only one today; a Windows named pipe can implement the same operations.
 * Handles are non-blocking file descriptors on POSIX.
 */
struct ivi_transport_ops {
	const char *name;
	/*
	 * Listens on address. A stale socket file is removed only when no
	 * server accepts a connection on it.
	 */
	int (*listen)(const char *address, int *handle, char *errbuf, size_t errlen);
	/* Connects within timeout_ms. */
	int (*connect)(const char *address, int timeout_ms, int *handle);
	/* Reports who is on the other end. */
	int (*peer)(int handle, struct ivi_peer *out);
	/* Removes what listen created. */
	void (*unlisten)(const char *address, int handle);
	/*
	 * Accepts one pending connection as a non-blocking handle. Returns
	 * IVI_E_BUSY when none is pending (EAGAIN), IVI_E_UNAVAILABLE when
	 * out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
	 * IVI_E_IO otherwise.
	 */
	int (*accept)(int handle, int *conn);
};

extern const struct ivi_transport_ops ivi_transport_unix;

/*
 * Blocking request/response for clients: connects, sends a signed request
 * of type with body (ownership taken), waits up to timeout_ms for the
 * signed response, verifies it belongs to the request and parses it.
 * *resp_msg (caller frees) owns what resp borrows. Returns 0 when a
 * response arrived (ok or not), or a transport/protocol error.
 *
 * A response belongs to the request when it carries the request's id, or
 * when it is an error with a null id: the server sends that when it could
 * not read the request (bad frame or signature). Any other id gives
 * IVI_E_BAD_MESSAGE; timeout_ms bounds the whole call.
 */
int ivi_client_call(const struct ivi_transport_ops *t, const char *address,
    const struct ivi_key *key, enum ivi_msg_type type, cJSON *body, int timeout_ms,
    struct ivi_response *resp, cJSON **resp_msg);

/*
 * Writes len bytes to the non-blocking handle fd within timeout_ms.
 * Returns 0, IVI_E_TIMEOUT, or IVI_E_IO (the peer closed: a response may
 * still be waiting to be read).
 */
int ivi_client_send(int fd, const uint8_t *buf, size_t len, int timeout_ms);

/*
 * Reads one signed frame from the non-blocking handle fd within
 * timeout_ms and returns its JSON object in *msg (caller frees). Returns
 * 0, IVI_E_TIMEOUT, IVI_E_IO (closed before a whole frame arrived), or
 * the decoder's error (bad_signature when the peer uses another key).
 */
int ivi_client_recv(int fd, const struct ivi_key *key, int timeout_ms, cJSON **msg);

#endif /* IVI_PROTO_H */
