/*
 * Helpers shared by the modules of the control protocol library. Not part
 * of the public API: programs include ivi_proto.h only.
 */
#ifndef IVI_PROTO_INTERNAL_H
#define IVI_PROTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ivi_proto.h"

/* Computes HMAC-SHA256 of len bytes at data with key into mac. Returns 0 or IVI_E_INTERNAL. */
int ivi_key_mac(const struct ivi_key *key, const void *data, size_t len,
    uint8_t mac[IVI_FRAME_MAC_LEN]);

/* Writes len bytes as 2 * len lowercase hex digits and a NUL into out. */
void ivi_hex_encode(const uint8_t *bytes, size_t len, char *out);

/*
 * Decodes 2 * len hex digits (either case) from hex into bytes. Returns 0,
 * or -1 on a character that is not a hex digit.
 */
int ivi_hex_decode(const char *hex, uint8_t *bytes, size_t len);

/* Returns true when s has min to max characters, all lowercase hex digits. */
bool ivi_hex_is_lower(const char *s, size_t min, size_t max);

/* Returns CLOCK_MONOTONIC in milliseconds. */
int64_t ivi_now_ms(void);

#endif /* IVI_PROTO_INTERNAL_H */
