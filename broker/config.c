/*
 * config.c - the configuration table and its four sources.
 *
 * The table is the single place a key is declared: its name (JSON key; the
 * flag is the same with '-' for '_', the environment variable UMBRA_ and
 * the name in upper case), its type, where it lives in struct
 * umbra_config, its default and a line of help.
 */
#include "config.h"

#include "error.h"
#include "log.h"
#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A KEY_LISTEN is a string where "off" (or "") means not listening. */
enum key_type { KEY_STRING, KEY_UINT, KEY_LISTEN };

struct key {
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def; /* default as text; NULL = unset */
    const char *help;
};

#define STR(f, d, h)                                                                               \
    {                                                                                              \
#f, KEY_STRING, offsetof(struct umbra_config, f), d, h                                     \
    }
#define LISTEN(f, d, h)                                                                            \
    {                                                                                              \
#f, KEY_LISTEN, offsetof(struct umbra_config, f), d, h                                     \
    }
#define UINT(f, d, h)                                                                              \
    {                                                                                              \
#f, KEY_UINT, offsetof(struct umbra_config, f), d, h                                       \
    }

static const struct key keys[] = {
    STR(data_dir, "./var", "directory for the database and keys"),
    LISTEN(mqtt, "off", "plain-TCP MQTT listener HOST:PORT or off (development and tests)"),
    STR(mqtt_profile, "mqtt", "behaviour of the plain listener: mqtt (OASIS 3.1.1) or aws"),
    LISTEN(mqtts, "0.0.0.0:8883", "MQTT over TLS with client certificates HOST:PORT or off"),
    STR(mqtts_profile, "aws", "behaviour of the TLS listener: aws or mqtt"),
    LISTEN(https, "0.0.0.0:8443",
           "HTTPS data plane (shadows, publish) with client certificates HOST:PORT or off"),
    LISTEN(metrics, "127.0.0.1:9883",
           "plain-HTTP Prometheus metrics, /healthz and /readyz HOST:PORT or off (no "
           "authentication: keep it on loopback or a private network)"),
    STR(hosts, NULL,
        "names and addresses the server certificate is made for (default localhost,127.0.0.1,"
        "::1 and this machine's host name)"),
    STR(tls_cert, NULL, "server certificate chain PEM (default DATA_DIR/server.pem)"),
    STR(tls_key, NULL, "server private key PEM (default DATA_DIR/server.key)"),
    STR(mqtt_policy, NULL,
        "AWS IoT policy document (JSON file) for plain-listener clients (default: allow all)"),
    STR(region, "us-east-1", "AWS region used in ARNs"),
    STR(log_level, "info", "error, warn, info or debug"),
    STR(log_format, "text", "text or json: one line per event on stderr"),
    STR(persist_sync, "normal", "normal (survives a killed daemon) or full (survives power loss)"),
    UINT(usage_flush_interval, "10",
         "seconds between writes of the usage meters (what kill -9 can lose), at least 1"),
    UINT(max_packet_size, "131072", "largest accepted MQTT packet in bytes"),
    UINT(max_inflight, "100", "unacknowledged QoS 1/2 messages per client"),
    UINT(max_queued_messages, "1000", "queued messages per session"),
    UINT(max_queued_bytes, "16777216", "queued payload bytes per session"),
    UINT(max_connections, "100000", "simultaneous client connections"),
    UINT(max_subscriptions, "1000", "subscriptions per client (the aws profile allows at most 50)"),
    UINT(sys_interval, "10", "seconds between $SYS/broker updates, 0 to disable"),
    UINT(connect_timeout, "10", "seconds a new connection has to send CONNECT"),
    UINT(tls_handshake_timeout, "10", "seconds a TLS client has to finish its handshake"),
    UINT(session_expiry, "0", "seconds an offline persistent session is kept, 0 = forever"),
};
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= 64, "struct umbra_config.from_env has one bit per key");

static uint64_t key_bit(const struct key *k)
{
    return (uint64_t)1 << (k - keys);
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

static int set_text(struct umbra_config *c, const struct key *k, const char *value, char *err,
                    size_t errlen)
{
    void *field = (char *)c + k->offset;
    c->from_env &= ~key_bit(k); /* a later source owns the value now */
    if (k->type == KEY_LISTEN && value && (strcmp(value, "off") == 0 || !*value)) value = NULL;
    if (k->type != KEY_UINT) {
        char *copy = value ? strdup(value) : NULL;
        if (value && !copy) return UMBRA_ENOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    char *end;
    errno = 0;
    if (!value || !*value || *value == '-') goto bad;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || *end) goto bad;
    *(uint64_t *)field = v;
    return 0;
bad:
    if (err)
        snprintf(err, errlen, "%s: expected a non-negative integer, got '%s'", k->name,
                 value ? value : "");
    return UMBRA_ECONFIG;
}

int config_init(struct umbra_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        if (!keys[i].def) continue;
        int rc = set_text(c, &keys[i], keys[i].def, NULL, 0);
        if (rc) return rc;
    }
    return 0;
}

void config_free(struct umbra_config *c)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type != KEY_UINT) {
            char **f = (char **)((char *)c + keys[i].offset);
            free(*f);
            *f = NULL;
        }
}

int config_set(struct umbra_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const struct key *k = find_key(key);
    if (!k) {
        if (err) snprintf(err, errlen, "unknown option '%s'", key);
        return UMBRA_ENOTFOUND;
    }
    return set_text(c, k, value, err, errlen);
}

int config_load_file(struct umbra_config *c, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return UMBRA_ECONFIG;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: the configuration must be a JSON object", path);
        rc = UMBRA_ECONFIG;
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v)
    {
        const struct key *k = find_key(name);
        if (!k) {
            snprintf(err, errlen, "%s: %s: unknown key", path, name);
            rc = UMBRA_ECONFIG;
            break;
        }
        char num[32];
        const char *text;
        if (k->type != KEY_UINT && json_is_string(v)) {
            text = json_string_value(v);
        } else if (k->type != KEY_UINT && json_is_null(v)) {
            text = NULL;
        } else if (k->type == KEY_UINT && json_is_integer(v) && json_integer_value(v) >= 0) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            text = num;
        } else {
            snprintf(err, errlen, "%s: %s: must be %s", path, name,
                     k->type != KEY_UINT ? "a string" : "a non-negative integer");
            rc = UMBRA_ECONFIG;
            break;
        }
        rc = set_text(c, k, text, err, errlen);
        if (rc) break;
    }
out:
    json_decref(root);
    return rc;
}

/* The documented name of the `hosts` variable: what the names are for. */
static const char hostnames_var[] = "UMBRA_HOSTNAMES";

/* "max_inflight" -> "UMBRA_MAX_INFLIGHT" */
static void env_name(const struct key *k, char *out, size_t cap)
{
    int n = snprintf(out, cap, "UMBRA_%s", k->name);
    for (int i = 6; i < n && (size_t)i < cap; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
}

/* Which variable a key's value came from: for `hosts`, the one that is set. */
static void env_source(const struct key *k, char *out, size_t cap)
{
    const char *h = getenv(hostnames_var);
    if (strcmp(k->name, "hosts") == 0 && h && *h)
        snprintf(out, cap, "%s", hostnames_var);
    else
        env_name(k, out, cap);
}

/* Variables that look like settings but name none are most likely typos
 * (UMBRA_HOSTNAME); they are not errors, because the environment is shared
 * with other programs, but the operator should see them. */
static void warn_unknown_env(void)
{
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "UMBRA_", 6) != 0) continue;
        size_t len = strcspn(*e, "=");
        char key[64] = "";
        if (len - 6 < sizeof key) {
            for (size_t i = 6; i < len; i++)
                key[i - 6] = (char)tolower((unsigned char)(*e)[i]);
            key[len - 6] = '\0';
        }
        bool is_hostnames = len == strlen(hostnames_var) && strncmp(*e, hostnames_var, len) == 0;
        if (!find_key(key) && !is_hostnames)
            log_warn("environment variable %.*s is not an umbrad setting; ignored", (int)len, *e);
    }
}

int config_load_env(struct umbra_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        char var[64];
        env_name(k, var, sizeof var);
        const char *value = getenv(var);
        if (strcmp(k->name, "hosts") == 0) {
            const char *h = getenv(hostnames_var);
            if (h && *h && value && *value && strcmp(h, value) != 0) {
                snprintf(err, errlen, "%s and %s disagree: set only %s", hostnames_var, var,
                         hostnames_var);
                return UMBRA_ECONFIG;
            }
            if (h && *h) value = h;
        }
        /* Compose files and `docker run -e X=` pass empty values easily and
         * omit them with difficulty: empty means "not set", never "off". */
        if (!value || !*value) continue;
        char msg[256];
        int rc = set_text(c, k, value, msg, sizeof msg);
        if (rc == UMBRA_ECONFIG) {
            env_source(k, var, sizeof var);
            snprintf(err, errlen, "%s (from %s)", msg, var);
        }
        if (rc) return rc;
        c->from_env |= key_bit(k);
    }
    warn_unknown_env();
    return 0;
}

int config_parse_listen(const char *spec, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = spec;
    size_t hl;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':') return UMBRA_ECONFIG;
        h = spec + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon) return UMBRA_ECONFIG;
        hl = (size_t)(colon - spec);
    }
    if (hl + 1 > hostlen) return UMBRA_ECONFIG;
    if (hl == 0) {
        snprintf(host, hostlen, "0.0.0.0");
    } else {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535) return UMBRA_ECONFIG;
    *port = (int)p;
    return 0;
}

/* Every message starts with the key it is about: config_validate relies on
 * that to say where a bad value came from. */
static int validate_values(const struct umbra_config *c, char *err, size_t errlen)
{
    const struct {
        const char *key, *spec;
    } listeners[] = {
        {"mqtt", c->mqtt}, {"mqtts", c->mqtts}, {"https", c->https}, {"metrics", c->metrics}};
    for (size_t i = 0; i < sizeof listeners / sizeof listeners[0]; i++) {
        char host[128];
        int port;
        if (listeners[i].spec && config_parse_listen(listeners[i].spec, host, sizeof host, &port)) {
            snprintf(err, errlen, "%s: expected HOST:PORT or [IPV6]:PORT, got '%s'",
                     listeners[i].key, listeners[i].spec);
            return UMBRA_ECONFIG;
        }
    }
    if (!c->mqtts_profile || !umbra_profile_find(c->mqtts_profile)) {
        snprintf(err, errlen, "mqtts_profile: expected 'mqtt' or 'aws'");
        return UMBRA_ECONFIG;
    }
    if (!c->region || !*c->region) {
        snprintf(err, errlen, "region: must not be empty");
        return UMBRA_ECONFIG;
    }
    if (c->hosts && !*c->hosts) {
        snprintf(err, errlen, "hosts: must not be empty");
        return UMBRA_ECONFIG;
    }
    if (!c->mqtt_profile || !umbra_profile_find(c->mqtt_profile)) {
        snprintf(err, errlen, "mqtt_profile: expected 'mqtt' or 'aws'");
        return UMBRA_ECONFIG;
    }
    if (!c->log_level || umbra_log_level_parse(c->log_level) < 0) {
        snprintf(err, errlen, "log_level: expected error, warn, info or debug");
        return UMBRA_ECONFIG;
    }
    if (log_format_parse(c->log_format) < 0) {
        snprintf(err, errlen, "log_format: expected text or json");
        return UMBRA_ECONFIG;
    }
    if (!c->persist_sync ||
        (strcmp(c->persist_sync, "normal") != 0 && strcmp(c->persist_sync, "full") != 0)) {
        snprintf(err, errlen, "persist_sync: expected 'normal' or 'full'");
        return UMBRA_ECONFIG;
    }
    if (!c->data_dir || !*c->data_dir) {
        snprintf(err, errlen, "data_dir: must not be empty");
        return UMBRA_ECONFIG;
    }
    if (c->max_packet_size < 64 || c->max_packet_size > 268435460) {
        snprintf(err, errlen, "max_packet_size: expected 64..268435460");
        return UMBRA_ECONFIG;
    }
    if (c->max_inflight < 1 || c->max_inflight > 65535) {
        snprintf(err, errlen, "max_inflight: expected 1..65535");
        return UMBRA_ECONFIG;
    }
    if (c->max_queued_messages < 1) {
        snprintf(err, errlen, "max_queued_messages: expected at least 1");
        return UMBRA_ECONFIG;
    }
    if (c->max_subscriptions < 1 || c->max_subscriptions > UINT32_MAX) {
        snprintf(err, errlen, "max_subscriptions: expected 1..4294967295");
        return UMBRA_ECONFIG;
    }
    if (!c->tls_cert != !c->tls_key) {
        /* Named by the one that was given: that is where the mistake is. */
        snprintf(err, errlen, "%s: tls_cert and tls_key go together",
                 c->tls_cert ? "tls_cert" : "tls_key");
        return UMBRA_ECONFIG;
    }
    if (c->tls_handshake_timeout < 1 || c->tls_handshake_timeout > 3600) {
        snprintf(err, errlen, "tls_handshake_timeout: expected 1..3600");
        return UMBRA_ECONFIG;
    }
    if (c->max_connections < 1) {
        snprintf(err, errlen, "max_connections: expected at least 1");
        return UMBRA_ECONFIG;
    }
    return 0;
}

int config_validate(const struct umbra_config *c, char *err, size_t errlen)
{
    int rc = validate_values(c, err, errlen);
    if (!rc || !c->from_env) return rc;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        size_t n = strlen(k->name);
        if (!(c->from_env & key_bit(k)) || strncmp(err, k->name, n) != 0 ||
            (err[n] != ':' && err[n] != ' '))
            continue;
        char var[64];
        env_source(k, var, sizeof var);
        size_t len = strlen(err);
        snprintf(err + len, errlen > len ? errlen - len : 0, " (from %s)", var);
        break;
    }
    return rc;
}

void config_describe(void (*fn)(void *ctx, const char *key, const char *type, const char *help),
                     void *ctx)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char line[256];
        snprintf(line, sizeof line, "%s%s%s%s", keys[i].help, keys[i].def ? " (default " : "",
                 keys[i].def ? keys[i].def : "", keys[i].def ? ")" : "");
        fn(ctx, keys[i].name, keys[i].type == KEY_UINT ? "N" : "TEXT", line);
    }
}

/* ---- comparing, copying and printing (reload, --print-config) ---- */

static bool key_equal(const struct umbra_config *a, const struct umbra_config *b,
                      const struct key *k)
{
    const void *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
    if (k->type == KEY_UINT) return *(const uint64_t *)fa == *(const uint64_t *)fb;
    const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
    return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
}

void config_each_change(const struct umbra_config *a, const struct umbra_config *b,
                        void (*fn)(void *ctx, const char *key), void *ctx)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!key_equal(a, b, &keys[i])) fn(ctx, keys[i].name);
}

int config_copy_key(struct umbra_config *dst, const struct umbra_config *src, const char *key)
{
    const struct key *k = find_key(key);
    if (!k) return UMBRA_ENOTFOUND;
    const void *from = (const char *)src + k->offset;
    void *to = (char *)dst + k->offset;
    if (k->type == KEY_UINT) {
        *(uint64_t *)to = *(const uint64_t *)from;
        return 0;
    }
    const char *v = *(char *const *)from;
    char *copy = v ? strdup(v) : NULL;
    if (v && !copy) return UMBRA_ENOMEM;
    free(*(char **)to);
    *(char **)to = copy;
    return 0;
}

void config_value_text(const struct umbra_config *c, const char *key, char *out, size_t cap)
{
    const struct key *k = find_key(key);
    const void *f = k ? (const char *)c + k->offset : NULL;
    if (!k)
        snprintf(out, cap, "?");
    else if (k->type == KEY_UINT)
        snprintf(out, cap, "%llu", (unsigned long long)*(const uint64_t *)f);
    else if (*(char *const *)f)
        snprintf(out, cap, "%s", *(char *const *)f);
    else
        snprintf(out, cap, "%s", k->type == KEY_LISTEN ? "off" : "(default)");
}

const char *config_error_key(const char *err)
{
    /* Messages read "[FILE[:LINE]: ]KEY: reason": the key is the first
     * part before a ": " that names one. */
    for (const char *p = err; p && *p;) {
        const char *colon = strstr(p, ": ");
        if (!colon) break;
        for (size_t i = 0; i < NKEYS; i++)
            if (strlen(keys[i].name) == (size_t)(colon - p) &&
                strncmp(keys[i].name, p, (size_t)(colon - p)) == 0)
                return keys[i].name;
        p = colon + 2;
    }
    return NULL;
}

char *config_to_json(const struct umbra_config *c)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < NKEYS; i++) {
        const void *f = (const char *)c + keys[i].offset;
        const char *v = keys[i].type == KEY_UINT ? NULL : *(char *const *)f;
        json_t *value = keys[i].type == KEY_UINT ? json_integer((json_int_t) * (const uint64_t *)f)
                        : v                      ? json_string(v)
                        : keys[i].type == KEY_LISTEN ? json_string("off")
                                                     : json_null();
        if (json_object_set_new(o, keys[i].name, value)) {
            json_decref(o);
            return NULL;
        }
    }
    char *text = o ? json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}
