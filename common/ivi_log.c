/* Levelled stderr logging and a small rate limiter for the programs. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ivi_log.h"

static const char *log_program = "ivicli";
static enum ivi_log_level log_max = IVI_LOG_NOTICE;

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};

void
ivi_log_init(const char *program, enum ivi_log_level level)
{
	log_program = program;
	log_max = level;
}

int
ivi_log_parse_level(const char *name, enum ivi_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum ivi_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool
ivi_log_enabled(enum ivi_log_level level)
{
	return level <= log_max;
}

void
ivi_log(enum ivi_log_level level, const char *fmt, ...)
{
	char msg[2048];
	char stamp[40];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (!ivi_log_enabled(level))
		return;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One fprintf per line so lines from concurrent writers do not mix. */
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s\n", stamp, ts.tv_nsec / 1000000L,
	    log_program, (long)getpid(), level_names[level], msg);
}

bool
ivi_ratelimit_allow(struct ivi_ratelimit *rl)
{
	time_t now = time(NULL);

	if (now - rl->window_start >= rl->interval) {
		if (rl->suppressed > 0)
			ivi_log(IVI_LOG_NOTICE, "%lu similar messages suppressed in the last %d s",
			    rl->suppressed, rl->interval);
		rl->window_start = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}

void
ivi_log_escape(char *dst, size_t dstlen, const char *src)
{
	size_t o = 0;

	if (dstlen == 0)
		return;
	for (; src != NULL && *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			if (o + 4 >= dstlen)
				break;
			snprintf(dst + o, dstlen - o, "\\x%02x", c);
			o += 4;
		} else {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}
