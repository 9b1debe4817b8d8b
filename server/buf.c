/* Growable byte buffer and time formatting shared by the server modules. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivi_err.h"
#include "buf.h"

#define SRV_BUF_MIN 1024

int
srv_buf_reserve(struct srv_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->off > 0 && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	need = b->len + extra;
	if (need < b->len)
		return IVI_E_NOMEM;
	if (need <= b->cap)
		return 0;
	cap = b->cap > 0 ? b->cap : SRV_BUF_MIN;
	while (cap < need) {
		if (cap > (size_t)-1 / 2)
			return IVI_E_NOMEM;
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (p == NULL)
		return IVI_E_NOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
srv_buf_append(struct srv_buf *b, const void *p, size_t n)
{
	int ret;

	ret = srv_buf_reserve(b, n);
	if (ret < 0)
		return ret;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
srv_buf_puts(struct srv_buf *b, const char *s)
{
	return srv_buf_append(b, s, strlen(s));
}

int
srv_buf_printf(struct srv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, ret;
	size_t room;

	ret = srv_buf_reserve(b, 128);
	if (ret < 0)
		return ret;
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return IVI_E_INTERNAL;
	if ((size_t)n >= room) {
		/* Too long for the first try: grow to the exact size and format again. */
		ret = srv_buf_reserve(b, (size_t)n + 1);
		if (ret < 0)
			return ret;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		if (n < 0)
			return IVI_E_INTERNAL;
	}
	b->len += (size_t)n;
	return 0;
}

void
srv_buf_reset(struct srv_buf *b)
{
	b->len = 0;
	b->off = 0;
}

void
srv_buf_free(struct srv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->off = 0;
	b->cap = 0;
}

void
srv_fmt_time(char dst[21], time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(dst, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(dst, "1970-01-01T00:00:00Z");
}
