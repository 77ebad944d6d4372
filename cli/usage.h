/*
 * usage.h - umbractl's usage metering: the get-usage command, and the
 * registry operations umbractl itself performs (AWS meters those too).
 */
#ifndef UMBRA_CLI_USAGE_H
#define UMBRA_CLI_USAGE_H

#include "registry.h"

#include <jansson.h>

/* umbractl get-usage [--start-time T] [--end-time T] [--group-by thing|day]
 * [--price-table FILE]: 0, 1 (operation failed) or 2 (usage error). */
int usage_main(const char *data_dir, int argc, char **argv);

/* After a successful registry operation: if AWS meters it (CreateThing,
 * DescribeThing, ListThings, ...), add it to the usage table for its
 * thing (the account when it names none), in 1 KB increments of the
 * response. A failure to record is reported on stderr, never fatal. */
void usage_record_registry_op(struct registry *r, const char *operation, const json_t *req,
                              const json_t *resp);

#endif
