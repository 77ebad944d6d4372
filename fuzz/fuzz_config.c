/*
 * fuzz_config.c - libFuzzer target for umbrad's configuration file,
 * environment variables and listener specs: any bytes must give a clean
 * result or a clear error.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One variable of each kind of key gets the input as its value. */
static void fuzz_environment(const char *value)
{
    static const char *const vars[] = {"UMBRA_MAX_INFLIGHT", "UMBRA_MQTTS", "UMBRA_HOSTNAMES",
                                       "UMBRA_LOG_LEVEL", "UMBRA_TLS_CERT"};
    const char *var = vars[(unsigned char)value[0] % (sizeof vars / sizeof vars[0])];
    struct umbra_config c;
    char err[512];
    if (setenv(var, value, 1) == 0 && config_init(&c) == 0) {
        if (config_load_env(&c, err, sizeof err) == 0) config_validate(&c, err, sizeof err);
        config_free(&c);
    }
    unsetenv(var);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char spec[256];
    size_t n = size < sizeof spec - 1 ? size : sizeof spec - 1;
    memcpy(spec, data, n);
    spec[n] = '\0';
    char host[128];
    int port;
    if (config_parse_listen(spec, host, sizeof host, &port) == 0 && (port < 0 || port > 65535))
        __builtin_trap();
    fuzz_environment(spec);

    int fd = memfd_create("umbra-config", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64], err[512];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        struct umbra_config c;
        if (config_init(&c) == 0) {
            if (config_load_file(&c, path, err, sizeof err) == 0)
                config_validate(&c, err, sizeof err);
            config_free(&c);
        }
    }
    close(fd);
    return 0;
}
