/*
 * fuzz_config.c - libFuzzer target for umbrad's configuration file and
 * listener specs: any bytes must give a clean result or a clear error.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
