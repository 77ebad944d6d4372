/*
 * auth.h - what one client may do: the policies attached to its
 * certificate, evaluated with its variables, behind a decision cache.
 *
 * An auth is made at CONNECT on a listener that authorizes (the TLS
 * listener always; the plain one only with --mqtt-policy) and is held by
 * the session, so deliveries to an offline session are checked too. It
 * keeps what policy variables need (client id, certificate fields, the
 * connection's thing from the registry, source address, connect
 * attributes) and the principal's compiled policies, shared between the
 * clients of one certificate. When the registry changes, every auth is
 * refreshed at once from the loop's tick: the publish path reads only
 * memory.
 *
 * Loop thread only.
 */
#ifndef UMBRA_AUTH_H
#define UMBRA_AUTH_H

#include "policy.h"

#include <stdbool.h>
#include <stddef.h>

struct umbra_server;
struct umbra_conn;
struct mqtt_connect;
struct umbra_auth;

/*
 * For a CONNECT on c's listener: *out gets the client's auth, or NULL when
 * the listener lets everyone do everything. Returns 0 or UMBRA_ENOMEM.
 */
int auth_open(struct umbra_server *s, struct umbra_conn *c, const struct mqtt_connect *m,
              const char *client_id, size_t id_len, struct umbra_auth **out);

/* For an HTTPS request on c: the certificate's policies, no client id. */
int auth_open_rest(struct umbra_server *s, struct umbra_conn *c, struct umbra_auth **out);

struct umbra_auth *auth_ref(struct umbra_auth *a);
void auth_unref(struct umbra_auth *a);

/*
 * May the client do `action` on this name (client id, topic or topic
 * filter, by action)? A NULL auth allows everything. Denials are logged
 * once per cached decision, with the client, the resource and the reason.
 */
bool auth_allows(struct umbra_server *s, struct umbra_auth *a, enum policy_action action,
                 const char *name, size_t len);

/* The registry changed: reload policies and things, forget decisions.
 * Returns how many principals' policies could not be read (then keeping
 * what they had): the caller tries again later. */
int auth_refresh_all(struct umbra_server *s);

/* Load --mqtt-policy, if configured, for the plain listener. 0 or an error (logged). */
int auth_server_init(struct umbra_server *s);
void auth_server_free(struct umbra_server *s);

#endif
