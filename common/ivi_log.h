/*
 * Levelled logging to stderr for the two programs (journald reads stderr).
 * Libraries never log. Programs log once per event at the level its
 * consequence deserves. Never pass a secret or peer text as the format.
 */
#ifndef IVI_LOG_H
#define IVI_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum ivi_log_level {
	IVI_LOG_ERROR = 0,
	IVI_LOG_WARNING = 1,
	IVI_LOG_NOTICE = 2,
	IVI_LOG_INFO = 3,
	IVI_LOG_DEBUG = 4,
};

/* Sets the program name and the most verbose level that is printed. */
void ivi_log_init(const char *program, enum ivi_log_level level);

/* Parses "error", "warning", "notice", "info" or "debug". Returns 0 or -1. */
int ivi_log_parse_level(const char *name, enum ivi_log_level *out);

/* Returns true when messages at level would be printed. */
bool ivi_log_enabled(enum ivi_log_level level);

/* Prints one line: "<time> <program>[pid] <level>: <message>". */
void ivi_log(enum ivi_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Rate limit for messages a peer or a file can trigger repeatedly. It allows
 * burst messages per interval seconds and counts what it suppressed.
 */
struct ivi_ratelimit {
	int interval;
	int burst;
	time_t window_start;
	int printed;
	unsigned long suppressed;
};

/* Returns true when the caller may log now, and logs how many were suppressed. */
bool ivi_ratelimit_allow(struct ivi_ratelimit *rl);

/*
 * Copies src into dst (size dstlen, always terminated), replacing control
 * characters, quotes and backslashes with \xNN so peer text is safe to log.
 */
void ivi_log_escape(char *dst, size_t dstlen, const char *src);

#define log_error(...) ivi_log(IVI_LOG_ERROR, __VA_ARGS__)
#define log_warning(...) ivi_log(IVI_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) ivi_log(IVI_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) ivi_log(IVI_LOG_INFO, __VA_ARGS__)
#define log_debug(...) ivi_log(IVI_LOG_DEBUG, __VA_ARGS__)

#endif /* IVI_LOG_H */
