/*
 * log.h - the one logger: a line per event on stderr, with a UTC timestamp
 * and a level. Secrets are never passed to it.
 */
#ifndef UMBRA_LOG_H
#define UMBRA_LOG_H

enum umbra_log_level {
    UMBRA_LOG_ERROR = 0,
    UMBRA_LOG_WARN = 1,
    UMBRA_LOG_INFO = 2,
    UMBRA_LOG_DEBUG = 3,
};

void umbra_log_set_level(int level);
int umbra_log_get_level(void);
/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int umbra_log_level_parse(const char *name);

void umbra_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) umbra_log(UMBRA_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) umbra_log(UMBRA_LOG_WARN, __VA_ARGS__)
#define log_info(...) umbra_log(UMBRA_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (umbra_log_get_level() >= UMBRA_LOG_DEBUG) umbra_log(UMBRA_LOG_DEBUG, __VA_ARGS__);     \
    } while (0)

#endif
