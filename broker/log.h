/*
 * log.h - the one logger: a line per event on stderr, with a UTC timestamp
 * and a level, as text (the default) or as JSON (log_format.h). Secrets
 * are never passed to it.
 *
 * Two ways in: log_info("words %s", x) for a line that is only words (in
 * JSON, event "message" and the words in "msg"), and log_event() for an
 * event a collector should be able to filter on, with its facts as fields:
 *
 *   log_event(UMBRA_LOG_INFO, "client_connected", "client connected: id={client_id}",
 *             LOG_STR("client_id", id), LOG_STR("address", peer));
 */
#ifndef UMBRA_LOG_H
#define UMBRA_LOG_H

#include "log_format.h"

#include <stddef.h>

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
/* enum log_format: LOG_FORMAT_TEXT (default) or LOG_FORMAT_JSON. */
void umbra_log_set_format(int format);
int umbra_log_get_format(void);

void umbra_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One structured event; fields (borrowed) as in log_format.h. */
void umbra_log_event(int level, const char *event, const char *text, const struct log_field *fields,
                     size_t nfields);

#define log_error(...) umbra_log(UMBRA_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) umbra_log(UMBRA_LOG_WARN, __VA_ARGS__)
#define log_info(...) umbra_log(UMBRA_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (umbra_log_get_level() >= UMBRA_LOG_DEBUG) umbra_log(UMBRA_LOG_DEBUG, __VA_ARGS__);     \
    } while (0)

/* log_event(level, "event_name", "template {key}", LOG_STR(...), ...): at least one field. */
#define log_event(level, event, text, ...)                                                         \
    umbra_log_event((level), (event), (text), (const struct log_field[]){__VA_ARGS__},             \
                    sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))

#endif
