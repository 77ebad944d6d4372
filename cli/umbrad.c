/*
 * umbrad.c - the Umbra daemon: configuration, then the broker's loop.
 *
 *   umbrad [-c FILE] [--data-dir DIR] [--mqtt HOST:PORT] [--log-level L] ...
 *
 * Every configuration key is a flag ("max_inflight" is --max-inflight) and
 * an environment variable (UMBRA_MAX_INFLIGHT); flags win over the
 * environment, which wins over the -c file. SIGHUP reads the -c files, the
 * environment and the flags again (reload.h).
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when the broker
 * cannot start, 2 for a usage error.
 */
#include "config.h"
#include "error.h"
#include "log.h"
#include "server.h"
#include "version.h"

#include <signal.h>
#include <stdbool.h>
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
                 "  -c FILE                  JSON configuration (keys as below, '_' for '-');\n"
                 "                           SIGHUP reads it again\n"
                 "  --print-config           print the configuration as JSON and exit\n"
                 "  --version                print the version and exit\n"
                 "  --help                   print this help and exit\n\n"
                 "Every option is also an environment variable, UMBRA_ and its name in upper\n"
                 "case with '_' for '-' (UMBRA_DATA_DIR, UMBRA_MAX_INFLIGHT), and UMBRA_HOSTNAMES\n"
                 "is --hosts. Later sources win: defaults, -c FILE, environment, flags.\n\n"
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

/* The command line, kept for SIGHUP: a reload reads the same -c files and
 * applies the same flags over them, so flags still win. */
struct args {
    int argc;
    char **argv;
    const char *config_file; /* the last -c, NULL if none */
};

/* Defaults, then -c files, then flags, then validation. Returns 0, or 2
 * with a message for the user in err. */
static int load_config(const struct args *a, struct umbra_config *cfg, char *err, size_t errlen)
{
    /* The file first, so flags override it wherever they appear. */
    for (int i = 1; i < a->argc; i++) {
        if (strcmp(a->argv[i], "-c") != 0) continue;
        if (i + 1 >= a->argc) {
            snprintf(err, errlen, "-c needs a file name");
            return 2;
        }
        if (config_load_file(cfg, a->argv[i + 1], err, errlen)) return 2;
    }
    /* Then the environment (a container's settings), which flags override. */
    if (config_load_env(cfg, err, errlen)) return 2;
    for (int i = 1; i < a->argc; i++) {
        const char *arg = a->argv[i];
        if (strcmp(arg, "-c") == 0) {
            i++;
            continue;
        }
        if (strcmp(arg, "--print-config") == 0) continue;
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return 2;
        }
        char key[64];
        const char *value;
        const char *eq = strchr(arg, '=');
        if (eq) {
            char flag[64];
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - arg), arg);
            flag_to_key(flag, key, sizeof key);
            value = eq + 1;
        } else {
            flag_to_key(arg, key, sizeof key);
            if (i + 1 >= a->argc) {
                snprintf(err, errlen, "%s needs a value", arg);
                return 2;
            }
            value = a->argv[++i];
        }
        char why[512];
        if (config_set(cfg, key, value, why, sizeof why)) {
            snprintf(err, errlen, "%s (see --help)", why);
            return 2;
        }
    }
    if (config_validate(cfg, err, errlen)) return 2;
    return 0;
}

/* SIGHUP (server_config_loader): only the files can have changed since the
 * start, so a validation error is theirs and is named with the file. */
static int reload_config(void *ctx, struct umbra_config *out, char *err, size_t errlen)
{
    const struct args *a = ctx;
    char why[1024];
    if (!load_config(a, out, why, sizeof why)) return 0;
    if (a->config_file && strncmp(why, a->config_file, strlen(a->config_file)) != 0)
        snprintf(err, errlen, "%s: %s", a->config_file, why);
    else
        snprintf(err, errlen, "%s", why);
    return 2;
}

/* --print-config: the configuration these arguments make, as a file -c reads. */
static int print_config(const struct umbra_config *cfg)
{
    char *text = config_to_json(cfg);
    if (!text) {
        fprintf(stderr, "umbrad: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
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
    struct args args = {argc, argv, NULL};
    bool is_print = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            args.config_file = argv[++i];
        else if (strcmp(argv[i], "--print-config") == 0)
            is_print = true;
    }
    struct umbra_config cfg;
    if (config_init(&cfg)) {
        fprintf(stderr, "umbrad: out of memory\n");
        return 1;
    }
    char err[1024];
    int rc = load_config(&args, &cfg, err, sizeof err);
    if (rc || is_print) {
        if (rc)
            fprintf(stderr, "umbrad: %s\n", err);
        else
            rc = print_config(&cfg);
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
    server_set_config_loader(&server, reload_config, &args, args.config_file);
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
