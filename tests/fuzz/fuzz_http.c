/*
 * libFuzzer target for the server's HTTP request path: bytes go through
 * srv_http_feed() (libhttp-parser callbacks, limits, routing and response
 * building) in chunks whose size comes from the first input byte, with no
 * socket involved. A self-signed certificate is published at start so that
 * /v1/tls and /metrics describe real credentials.
 *
 * Build: CC=clang ../configure --enable-fuzzing; run tests/server_fuzz_http.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "http.h"
#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ivi_config fuzz_cfg;
static struct srv fuzz_srv;
static struct srv_buf fuzz_out;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ivi_bundle *bundle = NULL;
	struct ivi_bundle_error err;
	gnutls_certificate_credentials_t xcred = NULL;

	fuzz_srv.cfg = &fuzz_cfg;
	srv_creds_table_init(&fuzz_srv.creds);
	TAILQ_INIT(&fuzz_srv.conns);
	fuzz_srv.limits.max_header_bytes = 8192;
	fuzz_srv.limits.max_body_bytes = 16384;
	srv_http_global_init(&fuzz_srv.limits);
	fuzz_srv.tls_enabled = true;

	if (ivi_bundle_self_signed(&bundle, &err) == 0 &&
	    ivi_bundle_credentials(bundle, &xcred, &err) == 0)
		srv_creds_publish(&fuzz_srv.creds, ivi_bundle_describe(bundle), xcred, time(NULL));
	ivi_bundle_free(bundle);

	/* A recorded rejection, so that /v1/tls prints last_rejected too. */
	fuzz_srv.reload_state.last_result = "rejected";
	fuzz_srv.reload_state.last_time = time(NULL);
	strcpy(fuzz_srv.reload_state.last_code, "key_mismatch");
	fuzz_srv.reload_state.have_rejected = true;
	strcpy(fuzz_srv.reload_state.rejected_code, "key_mismatch");
	strcpy(fuzz_srv.reload_state.rejected_message, "the key does not match");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_http h;
	size_t off = 0, chunk, n, used;

	if (size == 0)
		return 0;
	/* First byte: chunk size (1 to 128) and whether the connection is over the limit. */
	chunk = 1 + (data[0] & 0x7f);
	srv_http_init(&h, &fuzz_srv, &fuzz_out, &fuzz_srv.limits, (data[0] & 0x80) != 0);
	data++;
	size--;

	while (off < size && !h.close_after) {
		n = size - off < chunk ? size - off : chunk;
		used = srv_http_feed(&h, (const char *)data + off, n);
		off += used;
		if (h.paused) {
			/* The connection would write the output out here. */
			srv_buf_reset(&fuzz_out);
			srv_http_resume(&h);
		} else if (used == 0) {
			break;
		}
	}
	if (!h.close_after && h.in_message)
		srv_http_timeout(&h);
	srv_buf_reset(&fuzz_out);
	return 0;
}
