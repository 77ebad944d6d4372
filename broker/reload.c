/*
 * reload.c - applying a re-read configuration to the running broker.
 *
 * The fresh configuration is compared with the running one key by key.
 * Only keys listed in live_keys[] are taken; for every other key that
 * changed, the running value is copied back into the fresh configuration,
 * so the one the server keeps always describes what it actually does. A
 * key added to the configuration table later is therefore restart-only
 * until someone makes it live here on purpose.
 */
#include "reload.h"

#include "config.h"
#include "log.h"
#include "notify.h"
#include "server.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys the server reads where it uses them, or copies below in apply(). */
static const char *const live_keys[] = {
    "tls_cert",        "tls_key",           "log_level",           "log_format",
    "max_packet_size", "max_inflight",      "max_queued_messages", "max_queued_bytes",
    "max_connections", "max_subscriptions", "connect_timeout",     "tls_handshake_timeout",
    "session_expiry",  "sys_interval",      "usage_flush_interval",
};

static bool is_live(const char *key)
{
    for (size_t i = 0; i < sizeof live_keys / sizeof live_keys[0]; i++)
        if (strcmp(live_keys[i], key) == 0) return true;
    return false;
}

struct diff {
    const struct umbra_config *running;
    struct umbra_config *fresh;
    unsigned applied, kept;
    bool has_failed; /* out of memory copying a value back */
};

static void on_change(void *ctx, const char *key)
{
    struct diff *d = ctx;
    char was[256], now[256];
    config_value_text(d->running, key, was, sizeof was);
    config_value_text(d->fresh, key, now, sizeof now);
    if (is_live(key)) {
        d->applied++;
        log_event(UMBRA_LOG_INFO, "config_changed", "reload: {key} is now {value} (was {old})",
                  LOG_STR("key", key), LOG_STR("value", now), LOG_STR("old", was));
        return;
    }
    d->kept++;
    log_event(UMBRA_LOG_WARN, "config_needs_restart",
              "reload: {key} changed to {value}, which needs a restart; still {old}",
              LOG_STR("key", key), LOG_STR("value", now), LOG_STR("old", was));
    if (config_copy_key(d->fresh, d->running, key)) d->has_failed = true;
}

/* What the server copied out of its configuration at start. */
static void apply(struct umbra_server *s, const struct umbra_config *cfg)
{
    umbra_log_set_level(umbra_log_level_parse(cfg->log_level));
    umbra_log_set_format(log_format_parse(cfg->log_format));
    s->limits.max_inflight = (uint32_t)cfg->max_inflight;
    s->limits.max_queued_messages =
        cfg->max_queued_messages > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg->max_queued_messages;
    s->limits.max_queued_bytes = cfg->max_queued_bytes;
    s->max_packet_size = (size_t)cfg->max_packet_size;
}

static struct umbra_config *read_config(struct umbra_server *s)
{
    struct umbra_config *fresh = calloc(1, sizeof *fresh);
    char err[1024];
    if (!fresh || config_init(fresh)) {
        free(fresh);
        log_error("reload: out of memory; the running configuration stays");
        return NULL;
    }
    if (!s->load_config(s->load_config_ctx, fresh, err, sizeof err)) return fresh;
    const char *file = s->config_file ? s->config_file : "the command line";
    log_event(UMBRA_LOG_ERROR, "config_refused",
              "reload: refused {reason}; the running configuration stays",
              LOG_JSON_STR("file", file), LOG_JSON_STR("key", config_error_key(err)),
              LOG_STR("reason", err));
    config_free(fresh);
    free(fresh);
    return NULL;
}

/* Take the fresh configuration (owned from here on) as the running one. */
static void take_config(struct umbra_server *s, struct umbra_config *fresh)
{
    struct diff d = {s->cfg, fresh, 0, 0, false};
    config_each_change(s->cfg, fresh, on_change, &d);
    if (d.has_failed) {
        log_error("reload: out of memory; the running configuration stays");
        config_free(fresh);
        free(fresh);
        return;
    }
    /* Logged at the level in force when the signal came, like the lines
     * about each key: a new level applies from the next line on. */
    log_event(UMBRA_LOG_INFO, "config_reloaded",
              "reload: {applied} changes applied, {kept} need a restart",
              LOG_INT("applied", d.applied), LOG_INT("kept", d.kept),
              LOG_JSON_STR("file", s->config_file));
    bool sys_changed = fresh->sys_interval != s->cfg->sys_interval;
    struct umbra_config *old = s->reloaded;
    s->cfg = s->reloaded = fresh;
    if (old) {
        config_free(old);
        free(old);
    }
    apply(s, s->cfg);
    if (sys_changed) server_start_sys_timer(s);
}

void reload_run(struct umbra_server *s)
{
    notify_reloading();
    if (s->load_config) {
        struct umbra_config *fresh = read_config(s);
        if (fresh) take_config(s, fresh);
    }
    /* Even with a refused configuration: a renewed certificate should not
     * wait for someone to fix a typo in the file. */
    server_reload_tls(s);
    server_reload_registry(s);
    server_notify_ready(s);
}
