/*
 * umbrad.c - the Umbra daemon: configuration, then the broker's loop.
 *
 *   umbrad [-c FILE] [--data-dir DIR] [--mqtt HOST:PORT] [--log-level L] ...
 *
 * Every configuration key is a flag ("max_inflight" is --max-inflight).
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when the broker
 * cannot start, 2 for a usage error.
 */
#include "config.h"
#include "error.h"
#include "log.h"
#include "server.h"
#include "version.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static void print_key(void *ctx, const char *key, const char *type, const char *help)
{
    FILE *out = ctx;
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", key);
    for (char *p = flag; *p; p++)
        if (*p == '_') *p = '-';
    fprintf(out, "  %-24s %-5s %s\n", flag, type, help);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: umbrad [-c FILE] [--OPTION VALUE]...\n\n"
                 "Umbra, an AWS IoT Core compatible MQTT broker.\n\n"
                 "  -c FILE                  JSON configuration (keys as below, '_' for '-')\n"
                 "  --version                print the version and exit\n"
                 "  --help                   print this help and exit\n\n"
                 "options:\n");
    config_describe(print_key, out);
}

/* "--max-inflight" -> "max_inflight" */
static void flag_to_key(const char *flag, char *key, size_t cap)
{
    snprintf(key, cap, "%s", flag + 2);
    for (char *p = key; *p; p++)
        if (*p == '-') *p = '_';
}

static int parse_args(int argc, char **argv, struct umbra_config *cfg)
{
    char err[512];
    /* The file first, so flags override it wherever they appear. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") != 0) continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "umbrad: -c needs a file name\n");
            return 2;
        }
        if (config_load_file(cfg, argv[i + 1], err, sizeof err)) {
            fprintf(stderr, "umbrad: %s\n", err);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            fprintf(stderr, "umbrad: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        char key[64];
        const char *value;
        const char *eq = strchr(a, '=');
        if (eq) {
            char flag[64];
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            flag_to_key(flag, key, sizeof key);
            value = eq + 1;
        } else {
            flag_to_key(a, key, sizeof key);
            if (i + 1 >= argc) {
                fprintf(stderr, "umbrad: %s needs a value\n", a);
                return 2;
            }
            value = argv[++i];
        }
        if (config_set(cfg, key, value, err, sizeof err)) {
            fprintf(stderr, "umbrad: %s (see --help)\n", err);
            return 2;
        }
    }
    if (config_validate(cfg, err, sizeof err)) {
        fprintf(stderr, "umbrad: %s\n", err);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("umbrad %s\n", UMBRA_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    struct umbra_config cfg;
    if (config_init(&cfg)) {
        fprintf(stderr, "umbrad: out of memory\n");
        return 1;
    }
    int rc = parse_args(argc, argv, &cfg);
    if (rc) {
        config_free(&cfg);
        return rc;
    }
    umbra_log_set_level(umbra_log_level_parse(cfg.log_level));
    umbra_log_set_format(log_format_parse(cfg.log_format));
    /* A peer that vanishes mid-write must cost an error code, not the process. */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct umbra_server server;
    rc = server_init(&server, &loop, &cfg);
    if (rc) {
        fprintf(stderr, "umbrad: %s\n", umbra_strerror(rc));
        config_free(&cfg);
        return 1;
    }
    int status = 0;
    rc = server_start(&server);
    if (rc) {
        log_error("cannot start: %s", umbra_strerror(rc));
        server_stop(&server);
        status = 1;
    } else {
        log_event(UMBRA_LOG_INFO, "started", "umbrad {version} started, data in {data_dir}",
                  LOG_STR("version", UMBRA_VERSION), LOG_STR("data_dir", cfg.data_dir));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    server_free(&server);
    uv_loop_close(&loop);
    config_free(&cfg);
    if (!status)
        log_event(UMBRA_LOG_INFO, "stopped", "umbrad stopped",
                  LOG_JSON_STR("version", UMBRA_VERSION));
    return status;
}
