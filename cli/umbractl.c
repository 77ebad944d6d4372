/*
 * umbractl.c - Umbra's administration CLI.
 *
 * Commands and flags mirror `aws iot ...`. Exit status: 0 ok, 1 the
 * operation failed (error name and message on stderr), 2 usage error.
 */
#include "version.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: umbractl [--data-dir DIR | --endpoint URL] COMMAND [--FLAG VALUE]...\n\n"
                 "Administer an Umbra broker; commands and flags mirror `aws iot`.\n\n"
                 "  --version   print the version and exit\n"
                 "  --help      print this help and exit\n\n"
                 "commands:\n"
                 "  version     print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("umbractl %s\n", UMBRA_VERSION);
            return 0;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            return 0;
        }
        if ((strcmp(a, "--data-dir") == 0 || strcmp(a, "--endpoint") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "umbractl: %s needs a value\n", a);
                return 2;
            }
            i++;
            continue;
        }
        break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    fprintf(stderr, "umbractl: unknown command or option '%s' (see umbractl --help)\n", argv[i]);
    return 2;
}
