/*
 * health.h - `umbractl health`: is the running umbrad healthy?
 *
 * For container health checks (Docker's HEALTHCHECK), which run a command
 * inside the container and look only at its exit status. umbrad's metrics
 * listener answers GET /healthz; its address is in DATA_DIR/metrics-url.
 */
#ifndef UMBRA_CLI_HEALTH_H
#define UMBRA_CLI_HEALTH_H

/*
 * GET /healthz at the address in DATA_DIR/metrics-url (else
 * http://127.0.0.1:9883) within 3 seconds. Prints "ok" and returns 0 on
 * HTTP 200; otherwise prints why on stderr and returns 1.
 */
int health_check(const char *data_dir);

#endif
