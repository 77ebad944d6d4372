/*
 * config.h - umbrad's configuration: defaults, JSON file, command-line flags.
 *
 * One table lists every key with its type and default; a JSON key
 * "max_inflight" is the flag "--max-inflight" and the environment variable
 * UMBRA_MAX_INFLIGHT. Later sources override earlier ones: defaults, then
 * -c FILE, then the environment, then flags.
 */
#ifndef UMBRA_CONFIG_H
#define UMBRA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct umbra_config {
    char *data_dir;               /* default "./var" */
    char *mqtt;                   /* plain MQTT listener "HOST:PORT", NULL = off */
    char *mqtt_profile;           /* "mqtt" (default) or "aws" */
    char *mqtts;                  /* X.509 mutual-TLS MQTT listener, default "0.0.0.0:8883" */
    char *mqtts_profile;          /* "aws" (default) or "mqtt" */
    char *https;                  /* HTTPS data-plane listener, default "0.0.0.0:8443" */
    char *metrics;                /* plain-HTTP metrics and health, default "127.0.0.1:9883" */
    char *hosts;                  /* server certificate names; NULL = loopback + hostname */
    char *tls_cert;               /* server certificate PEM; NULL = DATA_DIR/server.pem */
    char *tls_key;                /* its key; NULL = DATA_DIR/server.key */
    char *mqtt_policy;            /* policy document for plain clients; NULL = allow all */
    char *region;                 /* AWS region in ARNs, default "us-east-1" */
    char *log_level;              /* error|warn|info|debug */
    char *log_format;             /* text|json */
    char *persist_sync;           /* "normal" (survives kill -9) or "full" (power loss) */
    uint64_t usage_flush_interval; /* seconds between usage meter writes, default 10 */
    uint64_t max_packet_size;     /* bytes, default 131072 */
    uint64_t max_inflight;        /* unacknowledged QoS 1/2 per client, default 100 */
    uint64_t max_queued_messages; /* per session, default 1000 */
    uint64_t max_queued_bytes;    /* per session, default 16 MiB */
    uint64_t max_connections;     /* default 100000 */
    uint64_t max_subscriptions;   /* per client, default 1000 (the aws profile: 50) */
    uint64_t sys_interval;        /* seconds between $SYS updates, 0 = off, default 10 */
    uint64_t connect_timeout;     /* seconds to send CONNECT, default 10 */
    uint64_t tls_handshake_timeout; /* seconds to finish the TLS handshake, default 10 */
    uint64_t session_expiry;      /* seconds an offline persistent session lives, 0 = forever */
    uint64_t from_env;            /* internal: a bit per key set from the environment */
};

/* Fill with defaults. Returns 0 or UMBRA_ENOMEM. Free with config_free(). */
int config_init(struct umbra_config *c);
void config_free(struct umbra_config *c);

/*
 * Set one key from text (flag value), e.g. ("max_inflight", "20").
 * Returns 0, or UMBRA_ENOTFOUND for an unknown key, UMBRA_ECONFIG for a bad
 * value; err (may be NULL) gets a message for the user.
 */
int config_set(struct umbra_config *c, const char *key, const char *value, char *err,
               size_t errlen);

/* Load a JSON object file; unknown keys and wrong types are errors. Every
 * error message starts with the path ("PATH: KEY: reason", "PATH:LINE: ..."). */
int config_load_file(struct umbra_config *c, const char *path, char *err, size_t errlen);

/*
 * Apply the environment: UMBRA_<KEY> in upper case for every key
 * (UMBRA_DATA_DIR, UMBRA_MAX_INFLIGHT), and UMBRA_HOSTNAMES for `hosts`
 * (UMBRA_HOSTS also works; both set to different values is an error). An
 * empty variable counts as unset. UMBRA_* variables that name no key are
 * logged as ignored. Returns 0 or UMBRA_ECONFIG, err naming the variable.
 */
int config_load_env(struct umbra_config *c, char *err, size_t errlen);

/*
 * Check every value and the rules between keys, once all sources are in.
 * A message about a value that came from the environment names the variable.
 */
int config_validate(const struct umbra_config *c, char *err, size_t errlen);

/* For --help: calls fn for every key with its default as text. */
void config_describe(void (*fn)(void *ctx, const char *key, const char *type, const char *help),
                     void *ctx);

/* Reload: calls fn for every key whose value differs between a and b. */
void config_each_change(const struct umbra_config *a, const struct umbra_config *b,
                        void (*fn)(void *ctx, const char *key), void *ctx);
/* Copy one key's value from src to dst. 0, UMBRA_ENOTFOUND or UMBRA_ENOMEM. */
int config_copy_key(struct umbra_config *dst, const struct umbra_config *src, const char *key);
/* A key's value as text for a log line: "off" for a listener that is off,
 * "(default)" for a text key left unset. */
void config_value_text(const struct umbra_config *c, const char *key, char *out, size_t cap);
/* The key an error message of this module is about ("max_inflight" in
 * "umbra.json: max_inflight: must be ..."), or NULL. Static. */
const char *config_error_key(const char *err);
/* Every key and its value as a JSON object that config_load_file reads
 * back (for --print-config). Caller frees with free(); NULL if out of memory. */
char *config_to_json(const struct umbra_config *c);

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" into host (NUL-terminated) and port. */
int config_parse_listen(const char *spec, char *host, size_t hostlen, int *port);

#endif
