/*
 * Growable byte buffer for response output and scratch text. A buffer is
 * allocated once per connection and reused for every request on it.
 */
#ifndef SRV_BUF_H
#define SRV_BUF_H

#include <stddef.h>
#include <time.h>

struct srv_buf {
	char *data;
	size_t len; /* bytes stored */
	size_t off; /* bytes already consumed (written out) */
	size_t cap; /* bytes allocated */
};

/* Makes room for extra more bytes. Returns 0 or IVI_E_NOMEM. */
int srv_buf_reserve(struct srv_buf *b, size_t extra);

/* Appends n bytes. Returns 0 or IVI_E_NOMEM. */
int srv_buf_append(struct srv_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string without its terminator. */
int srv_buf_puts(struct srv_buf *b, const char *s);

/* Appends formatted text. Returns 0, IVI_E_NOMEM or IVI_E_INTERNAL. */
int srv_buf_printf(struct srv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns the number of bytes stored and not yet consumed. */
static inline size_t
srv_buf_pending(const struct srv_buf *b)
{
	return b->len - b->off;
}

/* Empties the buffer and keeps its allocation. */
void srv_buf_reset(struct srv_buf *b);

/* Frees the allocation; the struct itself may be reused afterwards. */
void srv_buf_free(struct srv_buf *b);

/*
 * Writes t as RFC 3339 UTC ("2026-12-04T20:20:00Z") into dst, which must
 * hold at least 21 bytes.
 */
void srv_fmt_time(char dst[21], time_t t);

#endif /* SRV_BUF_H */
