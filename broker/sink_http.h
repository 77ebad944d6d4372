/*
 * sink_http.h - the rules engine's http action: an HTTP(S) POST of the
 * SELECT result, run by libcurl's multi interface on the broker's loop
 * (its sockets are uv_poll handles, its timeouts a uv_timer), so a slow or
 * dead endpoint never blocks the loop.
 *
 * As AWS does: the url and header values are templates; Content-Type is
 * application/json for a JSON result and application/octet-stream for a
 * payload that is not JSON, unless the rule gives a content-type header;
 * each try has 3000 ms; a 2xx answer is success; 429, 5xx and connection
 * failures are tried again (3 tries in all, 100 ms then 400 ms apart);
 * anything else fails at once. Unlike AWS, http:// URLs and any port are
 * accepted (a local endpoint is the usual case here); redirects are not
 * followed.
 *
 * Bounded: at most SINK_HTTP_MAX_PER_ORIGIN requests wait for one
 * scheme://host:port and SINK_HTTP_MAX_PENDING in all; past that a
 * message is dropped for that action and counted, so one endpoint that is
 * down costs the others nothing.
 *
 * Loop thread only.
 */
#ifndef UMBRA_SINK_HTTP_H
#define UMBRA_SINK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_server;
struct rule_ticket;
struct rule_action;
struct sql_message;

#define SINK_HTTP_MAX_PER_ORIGIN 1000
#define SINK_HTTP_MAX_PENDING 10000
#define SINK_HTTP_TRIES 3
#define SINK_HTTP_TIMEOUT_MS 3000
#define SINK_HTTP_MAX_URL 2000

/* POST body to url (already rendered) with the action's headers; t is done
 * when the endpoint answered or the tries ran out, or now. */
void sink_http_post(struct umbra_server *s, struct rule_ticket *t, const struct rule_action *a,
                    const struct sql_message *m, const char *url, const uint8_t *body, size_t len,
                    bool is_raw);

/* Stop: every request still running fails ("the broker is stopping"), and
 * the handles close. */
void sink_http_stop(struct umbra_server *s);

#endif
