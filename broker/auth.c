/*
 * auth.c - per-client authorization: variables, policy sets, decisions.
 *
 * A policy set is the compiled default versions of the policies attached to
 * one principal, shared by every client of that certificate and kept in
 * server->policy_sets by principal ARN. Each auth has a small direct-mapped
 * cache of decisions keyed by (action, name): a publish to a topic seen
 * before costs one hash and one compare. Everything is rebuilt when the
 * registry's change counter moves (auth_refresh_all from the tick).
 */
#include "auth.h"

#include "cert.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "mqtt_codec.h"
#include "registry.h"
#include "server.h"
#include "strmap.h"
#include "tls_engine.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 32 /* per client; a power of two */
#define MAX_CERT_FIELDS 48

struct policy_set {
    unsigned refs;
    char *principal; /* the map's key; "" for the plain listener's policy */
    size_t n;
    struct policy **policies;
    char **names;
};

struct cache_entry {
    uint64_t hash;
    char *name; /* NULL: empty slot */
    uint32_t len;
    uint8_t action;
    uint8_t decision;
};

struct cert_field {
    char *field; /* "Subject.CommonName" */
    char *value;
};

struct umbra_auth {
    struct conn_list link; /* server->auths */
    unsigned refs;
    struct policy_set *set;
    char *principal; /* certificate ARN, NULL on the plain listener */
    char *client_id;
    char cert_id[65];
    char source_ip[48];
    char *will_topic_arn; /* NULL without a will */
    bool is_persistent;
    json_t *thing; /* the connection's thing, NULL if none */
    struct cert_field *fields;
    size_t nfields;
    struct cache_entry *cache; /* CACHE_SLOTS, allocated on first use */
    /* Per action, the slot of the last decision: a client publishing to one
     * topic (or a subscriber receiving from one) skips even the hash. */
    uint8_t last_slot[POLICY_NACTIONS];
    /* Denials are logged at most once a second per client; the rest counted. */
    uint64_t last_denial_log_ms;
    uint32_t denials_not_logged;
};

/* ---- policy sets ---- */

static void set_unref(struct policy_set *ps)
{
    if (!ps || --ps->refs > 0) return;
    for (size_t i = 0; i < ps->n; i++) {
        policy_free(ps->policies[i]);
        free(ps->names[i]);
    }
    free(ps->policies);
    free(ps->names);
    free(ps->principal);
    free(ps);
}

static int set_add(struct policy_set *ps, const char *name, const char *document)
{
    char err[256];
    struct policy *p;
    /* Documents were checked when stored; one that no longer compiles
     * (a newer grammar rule) grants nothing rather than stopping the rest. */
    if (policy_compile(document, strlen(document), &p, err, sizeof err)) {
        log_warn("policy %s ignored: %s", name, err);
        return 0;
    }
    struct policy **np = realloc(ps->policies, (ps->n + 1) * sizeof *np);
    if (np) ps->policies = np;
    char **nn = realloc(ps->names, (ps->n + 1) * sizeof *nn);
    if (nn) ps->names = nn;
    char *copy = strdup(name);
    if (!np || !nn || !copy) {
        free(copy);
        policy_free(p);
        return UMBRA_ENOMEM;
    }
    ps->policies[ps->n] = p;
    ps->names[ps->n++] = copy;
    return 0;
}

struct load_ctx {
    struct policy_set *set;
    int rc;
};

static void on_policy(void *ctx, const char *name, const char *document)
{
    struct load_ctx *l = ctx;
    if (!l->rc) l->rc = set_add(l->set, name, document);
}

/* The principal's policy set, from the server's map or the registry. */
static struct policy_set *principal_set(struct umbra_server *s, const char *principal)
{
    if (s->admin_policies && s->admin_principal[0] && strcmp(principal, s->admin_principal) == 0) {
        s->admin_policies->refs++;
        return s->admin_policies;
    }
    struct policy_set *ps = strmap_get(s->policy_sets, principal, strlen(principal));
    if (ps) {
        ps->refs++;
        return ps;
    }
    ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->principal = strdup(principal))) {
        free(ps);
        return NULL;
    }
    ps->refs = 1;
    struct load_ctx l = {ps, 0};
    if (registry_principal_policies(s->registry, principal, on_policy, &l) || l.rc) {
        log_error("cannot load the policies of %s from the registry", principal);
        set_unref(ps);
        return NULL;
    }
    if (strmap_put_borrowed(s->policy_sets, ps->principal, strlen(ps->principal), ps, NULL) == 0)
        ps->refs++; /* the map's reference */
    return ps;
}

static void drop_policy_sets(struct umbra_server *s)
{
    struct strmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    strmap_iter_init(&it, s->policy_sets);
    while (strmap_next(&it, &k, &kl, &v))
        set_unref(v);
    /* Empty the map in place: allocating a new one could fail. */
    struct strmap *fresh = strmap_new();
    if (!fresh) { /* one key at a time: deleting may move the others */
        while (strmap_count(s->policy_sets) > 0) {
            strmap_iter_init(&it, s->policy_sets);
            if (!strmap_next(&it, &k, &kl, &v)) break;
            strmap_del(s->policy_sets, k, kl);
        }
        return;
    }
    strmap_free(s->policy_sets);
    s->policy_sets = fresh;
}

int auth_server_init(struct umbra_server *s)
{
    s->auths.prev = s->auths.next = &s->auths;
    if (!(s->policy_sets = strmap_new())) return UMBRA_ENOMEM;
    snprintf(s->arn_prefix, sizeof s->arn_prefix,
             "arn:aws:iot:%s:%s:", registry_region(s->registry), registry_account(s->registry));
    static const char allow_all[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                                    "\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}]}";
    if (!(s->admin_policies = calloc(1, sizeof *s->admin_policies)) ||
        !(s->admin_policies->principal = strdup("umbractl"))) {
        free(s->admin_policies);
        s->admin_policies = NULL;
        return UMBRA_ENOMEM;
    }
    s->admin_policies->refs = 1;
    if (set_add(s->admin_policies, "umbractl (administrator)", allow_all)) return UMBRA_ENOMEM;
    const char *path = s->cfg->mqtt_policy;
    if (!path) return 0;
    FILE *f = fopen(path, "rb");
    char *text = f ? calloc(1, 65537) : NULL;
    size_t n = text ? fread(text, 1, 65536, f) : 0;
    if (f) fclose(f);
    if (!text) {
        log_error("mqtt_policy: cannot read %s", path);
        return UMBRA_ECONFIG;
    }
    struct policy_set *ps = calloc(1, sizeof *ps);
    char err[512];
    struct policy *p = NULL;
    int rc = ps ? 0 : UMBRA_ENOMEM;
    if (!rc && (rc = policy_compile(text, n, &p, err, sizeof err)))
        log_error("mqtt_policy: %s: %s", path, err);
    free(text);
    if (rc) {
        free(ps);
        return rc == UMBRA_ENOMEM ? rc : UMBRA_ECONFIG;
    }
    ps->refs = 1;
    ps->principal = strdup("");
    ps->policies = malloc(sizeof *ps->policies);
    ps->names = malloc(sizeof *ps->names);
    if (!ps->principal || !ps->policies || !ps->names || !(ps->names[0] = strdup(path))) {
        policy_free(p);
        ps->n = 0;
        set_unref(ps);
        return UMBRA_ENOMEM;
    }
    ps->policies[0] = p;
    ps->n = 1;
    s->plain_policies = ps;
    return 0;
}

void auth_server_free(struct umbra_server *s)
{
    if (s->policy_sets) {
        drop_policy_sets(s);
        strmap_free(s->policy_sets);
        s->policy_sets = NULL;
    }
    set_unref(s->plain_policies);
    s->plain_policies = NULL;
    set_unref(s->admin_policies);
    s->admin_policies = NULL;
}

/* ---- variables ---- */

static const char *cert_field(const struct umbra_auth *a, const char *field, size_t index)
{
    for (size_t i = 0; i < a->nfields; i++)
        if (strcmp(a->fields[i].field, field) == 0 && index-- == 0) return a->fields[i].value;
    return NULL;
}

/* "iot:Certificate.Subject.Organization[.N|.List]" */
static size_t certificate_var(const struct umbra_auth *a, const char *name, const char **values,
                              size_t max)
{
    char field[96];
    snprintf(field, sizeof field, "%s", name);
    char *dot = strrchr(field, '.');
    if (dot && strcmp(dot, ".List") == 0) {
        *dot = '\0';
        size_t n = 0;
        for (size_t i = 0; i < a->nfields && n < max && n < 5; i++)
            if (strcmp(a->fields[i].field, field) == 0) values[n++] = a->fields[i].value;
        return n;
    }
    size_t index = 0;
    if (dot && dot[1] >= '0' && dot[1] <= '9') {
        char *end;
        index = strtoul(dot + 1, &end, 10);
        if (*end || index > 4) return 0; /* AWS keeps at most five values */
        *dot = '\0';
    }
    const char *v = cert_field(a, field, index);
    if (!v || max == 0) return 0;
    values[0] = v;
    return 1;
}

static size_t get_var(void *ctx, const char *name, const char **values, size_t max)
{
    const struct umbra_auth *a = ctx;
    if (max == 0) return 0;
    const char *v = NULL;
    if (strcmp(name, "iot:ClientId") == 0) {
        v = a->client_id;
    } else if (strcmp(name, "iot:CertificateId") == 0) {
        v = a->principal ? a->cert_id : NULL;
    } else if (strcmp(name, "aws:SourceIp") == 0) {
        v = a->source_ip[0] ? a->source_ip : NULL;
    } else if (strcmp(name, "iot:LastWillTopic") == 0) {
        v = a->will_topic_arn;
    } else if (strcmp(name, "iot:ConnectAttributes") == 0) {
        size_t n = 0;
        if (a->is_persistent && n < max) values[n++] = "PersistentConnect";
        if (a->will_topic_arn && n < max) values[n++] = "LastWill";
        return n;
    } else if (strcmp(name, "iot:Connection.Thing.IsAttached") == 0) {
        v = a->thing ? "true" : "false";
    } else if (strcmp(name, "iot:Connection.Thing.ThingName") == 0 ||
               strcmp(name, "iot:Thing.ThingName") == 0) {
        v = json_string_value(json_object_get(a->thing, "thingName"));
    } else if (strcmp(name, "iot:Connection.Thing.ThingTypeName") == 0) {
        v = json_string_value(json_object_get(a->thing, "thingTypeName"));
    } else if (strncmp(name, "iot:Connection.Thing.Attributes[", 32) == 0) {
        const char *attr = name + 32;
        size_t len = strlen(attr);
        if (len < 2 || attr[len - 1] != ']') return 0;
        char key[160];
        snprintf(key, sizeof key, "%.*s", (int)(len - 1), attr);
        v = json_string_value(json_object_get(json_object_get(a->thing, "attributes"), key));
    } else if (strncmp(name, "iot:Certificate.", 16) == 0) {
        return certificate_var(a, name + 16, values, max);
    }
    if (!v) return 0;
    values[0] = v;
    return 1;
}

/* ---- building an auth ---- */

static void add_field(void *ctx, const char *field, const char *value)
{
    struct umbra_auth *a = ctx;
    if (a->nfields == MAX_CERT_FIELDS) return;
    struct cert_field *nf = realloc(a->fields, (a->nfields + 1) * sizeof *nf);
    if (!nf) return;
    a->fields = nf;
    char *f = strdup(field), *v = strdup(value);
    if (!f || !v) {
        free(f);
        free(v);
        return;
    }
    a->fields[a->nfields++] = (struct cert_field){f, v};
}

static void load_thing(struct umbra_server *s, struct umbra_auth *a)
{
    json_decref(a->thing);
    a->thing = NULL;
    if (a->principal && a->client_id &&
        registry_connection_thing(s->registry, a->principal, a->client_id, &a->thing) < 0)
        log_error("cannot read the thing of client %s from the registry", a->client_id);
}

static void clear_cache(struct umbra_auth *a)
{
    if (!a->cache) return;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(a->cache[i].name);
        a->cache[i].name = NULL;
    }
}

static void auth_free(struct umbra_auth *a)
{
    a->link.prev->next = a->link.next;
    a->link.next->prev = a->link.prev;
    clear_cache(a);
    free(a->cache);
    for (size_t i = 0; i < a->nfields; i++) {
        free(a->fields[i].field);
        free(a->fields[i].value);
    }
    free(a->fields);
    json_decref(a->thing);
    set_unref(a->set);
    free(a->principal);
    free(a->client_id);
    free(a->will_topic_arn);
    free(a);
}

static void peer_ip(const struct umbra_conn *c, char *out, size_t cap)
{
    out[0] = '\0';
    if (c->peer.sa.sa_family == AF_INET) {
        uv_ip4_name(&c->peer.v4, out, cap);
    } else if (c->peer.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&c->peer.v6.sin6_addr)) {
        /* An IPv4 client on a dual-stack listener: its IPv4 address, so
         * IPv4 blocks in aws:SourceIp conditions apply to it. */
        const uint8_t *b = c->peer.v6.sin6_addr.s6_addr + 12;
        snprintf(out, cap, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    } else if (c->peer.sa.sa_family == AF_INET6) {
        uv_ip6_name(&c->peer.v6, out, cap);
    }
}

/* Fill the certificate's part of an auth: id, principal ARN, subject fields. */
static int add_certificate(struct umbra_server *s, struct umbra_conn *c, struct umbra_auth *a)
{
    memcpy(a->cert_id, c->tls->cert_id, sizeof a->cert_id);
    size_t n = strlen(s->arn_prefix) + 5 + sizeof a->cert_id;
    if (!(a->principal = malloc(n))) return UMBRA_ENOMEM;
    snprintf(a->principal, n, "%scert/%s", s->arn_prefix, a->cert_id);
    size_t der_len = 0;
    const uint8_t *der = tls_conn_peer_der(c->tls->engine, &der_len);
    if (der) cert_policy_fields(der, der_len, add_field, a);
    return 0;
}

static void list_auth(struct umbra_server *s, struct umbra_auth *a)
{
    /* Listed even without a set: a refresh may give it one. */
    a->link.next = s->auths.next;
    a->link.prev = &s->auths;
    s->auths.next->prev = &a->link;
    s->auths.next = &a->link;
}

int auth_open_rest(struct umbra_server *s, struct umbra_conn *c, struct umbra_auth **out)
{
    *out = NULL;
    struct umbra_auth *a = calloc(1, sizeof *a);
    if (!a) return UMBRA_ENOMEM;
    a->refs = 1;
    a->link.prev = a->link.next = &a->link;
    peer_ip(c, a->source_ip, sizeof a->source_ip);
    if (add_certificate(s, c, a)) {
        auth_free(a);
        return UMBRA_ENOMEM;
    }
    /* No client id, so no connection thing: AWS resolves neither for HTTP. */
    a->set = principal_set(s, a->principal);
    list_auth(s, a);
    *out = a;
    return 0;
}

int auth_open(struct umbra_server *s, struct umbra_conn *c, const struct mqtt_connect *m,
              const char *client_id, size_t id_len, struct umbra_auth **out)
{
    *out = NULL;
    bool is_tls = c->tls != NULL;
    if (!is_tls && !s->plain_policies) return 0; /* the open development listener */
    struct umbra_auth *a = calloc(1, sizeof *a);
    if (!a) return UMBRA_ENOMEM;
    a->refs = 1;
    a->link.prev = a->link.next = &a->link;
    a->client_id = strndup(client_id, id_len);
    a->is_persistent = !m->clean_session;
    peer_ip(c, a->source_ip, sizeof a->source_ip);
    if (m->has_will) {
        size_t n = strlen(s->arn_prefix) + 6 + m->will_topic.len + 1;
        if ((a->will_topic_arn = malloc(n)))
            snprintf(a->will_topic_arn, n, "%stopic/%.*s", s->arn_prefix, (int)m->will_topic.len,
                     m->will_topic.ptr);
    }
    if (!a->client_id || (m->has_will && !a->will_topic_arn) ||
        (is_tls && add_certificate(s, c, a))) {
        auth_free(a);
        return UMBRA_ENOMEM;
    }
    if (is_tls) {
        a->set = principal_set(s, a->principal);
        load_thing(s, a);
    } else {
        a->set = s->plain_policies;
        a->set->refs++;
    }
    list_auth(s, a);
    *out = a;
    return 0;
}

struct umbra_auth *auth_ref(struct umbra_auth *a)
{
    if (a) a->refs++;
    return a;
}

void auth_unref(struct umbra_auth *a)
{
    if (a && --a->refs == 0) auth_free(a);
}

int auth_refresh_all(struct umbra_server *s)
{
    int failed = 0;
    drop_policy_sets(s);
    for (struct conn_list *n = s->auths.next; n != &s->auths; n = n->next) {
        struct umbra_auth *a = (struct umbra_auth *)n;
        if (!a->principal) continue; /* the plain listener's policy is fixed */
        struct policy_set *fresh = principal_set(s, a->principal);
        if (fresh) { /* on a database error keep deciding with what we had */
            set_unref(a->set);
            a->set = fresh;
        } else {
            failed++;
        }
        load_thing(s, a);
        clear_cache(a);
    }
    return failed;
}

/* ---- deciding ---- */

/* The client for logs: its client id, or what an HTTPS caller has instead. */
static const char *client_label(const struct umbra_auth *a)
{
    return a->client_id ? a->client_id : "(https)";
}

static uint64_t hash_name(int action, const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)action;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
    return h;
}

static const char *resource_kind(enum policy_action action)
{
    switch (action) {
    case POLICY_CONNECT:
        return "client/";
    case POLICY_SUBSCRIBE:
        return "topicfilter/";
    case POLICY_GET_THING_SHADOW:
    case POLICY_UPDATE_THING_SHADOW:
    case POLICY_DELETE_THING_SHADOW:
    case POLICY_LIST_NAMED_SHADOWS:
        return "thing/";
    default:
        return "topic/";
    }
}

static void log_denied(const struct umbra_auth *a, enum policy_action action, const char *arn,
                       enum policy_decision d, int who)
{
    char reason[300];
    const char *policy = d == POLICY_EXPLICIT_DENY ? a->set->names[who] : NULL;
    if (policy)
        snprintf(reason, sizeof reason, "explicit Deny in policy %s", policy);
    else
        snprintf(reason, sizeof reason, "no policy allows it%s",
                 a->set->n ? "" : " (none attached)");
    log_event(UMBRA_LOG_WARN, "denied",
              "denied: client={client_id} action={action} resource={resource}: {reason}",
              LOG_STR("client_id", client_label(a)), LOG_STR("action", policy_action_name(action)),
              LOG_STR("resource", arn), LOG_STR("reason", reason), LOG_JSON_STR("policy", policy));
}

static enum policy_decision decide(struct umbra_server *s, struct umbra_auth *a,
                                   enum policy_action action, const char *name, size_t len)
{
    if (!a->set) {
        log_event(UMBRA_LOG_WARN, "denied",
                  "denied: client={client_id} action={action}: the policies of {principal} could "
                  "not be loaded",
                  LOG_STR("client_id", client_label(a)),
                  LOG_STR("action", policy_action_name(action)),
                  LOG_STR("principal", a->principal ? a->principal : "-"),
                  LOG_JSON_STR("reason", "the policies could not be loaded"));
        return POLICY_IMPLICIT_DENY;
    }
    const char *kind = resource_kind(action);
    size_t plen = strlen(s->arn_prefix), klen = strlen(kind);
    char stack[512];
    char *arn = plen + klen + len + 1 <= sizeof stack ? stack : malloc(plen + klen + len + 1);
    if (!arn) return POLICY_IMPLICIT_DENY;
    memcpy(arn, s->arn_prefix, plen);
    memcpy(arn + plen, kind, klen);
    memcpy(arn + plen + klen, name, len);
    arn[plen + klen + len] = '\0';
    struct policy_vars vars = {get_var, a};
    int who = -1;
    enum policy_decision d = policy_evaluate((const struct policy *const *)a->set->policies,
                                             a->set->n, action, arn, &vars, &who);
    /* Receive and Subscribe denials can come in floods (other clients'
     * traffic, a client's own SUBSCRIBE packets): at most one log line a
     * second per client for those. Connect and Publish denials end the
     * connection and are always logged. */
    bool quiet = false;
    if (d != POLICY_ALLOWED && (action == POLICY_RECEIVE || action == POLICY_SUBSCRIBE)) {
        uint64_t now = server_now_ms(s);
        if (a->last_denial_log_ms && now - a->last_denial_log_ms < 1000) {
            a->denials_not_logged++;
            quiet = true;
        } else {
            if (a->denials_not_logged)
                log_event(UMBRA_LOG_WARN, "denials_not_logged",
                          "client={client_id}: {count} more denials in the second before (not "
                          "logged)",
                          LOG_STR("client_id", client_label(a)),
                          LOG_INT("count", a->denials_not_logged));
            a->denials_not_logged = 0;
            a->last_denial_log_ms = now;
        }
    }
    if (!quiet && d != POLICY_ALLOWED) log_denied(a, action, arn, d, who);
    if (arn != stack) free(arn);
    return d;
}

_Static_assert(POLICY_NACTIONS <= UMBRA_STATS_POLICY_ACTIONS,
               "struct umbra_stats counts denials per policy action");

static bool allows(struct umbra_server *s, struct umbra_auth *a, enum policy_action action,
                   const char *name, size_t len);

bool auth_allows(struct umbra_server *s, struct umbra_auth *a, enum policy_action action,
                 const char *name, size_t len)
{
    if (!a) return true;
    if (allows(s, a, action, name, len)) return true;
    s->stats.policy_denials[action]++; /* cached decisions too: each is a refused operation */
    return false;
}

static bool allows(struct umbra_server *s, struct umbra_auth *a, enum policy_action action,
                   const char *name, size_t len)
{
    /* Connecting happens once: no cache for it, so an idle client that never
     * publishes or subscribes never pays for one. */
    if (action == POLICY_CONNECT ||
        (!a->cache && !(a->cache = calloc(CACHE_SLOTS, sizeof *a->cache))))
        return decide(s, a, action, name, len) == POLICY_ALLOWED;
    struct cache_entry *e = &a->cache[a->last_slot[action]];
    if (e->name && e->action == action && e->len == len && memcmp(e->name, name, len) == 0)
        return e->decision == POLICY_ALLOWED;
    uint64_t h = hash_name(action, name, len);
    a->last_slot[action] = (uint8_t)(h & (CACHE_SLOTS - 1));
    e = &a->cache[a->last_slot[action]];
    if (e->name && e->hash == h && e->action == action && e->len == len &&
        memcmp(e->name, name, len) == 0)
        return e->decision == POLICY_ALLOWED;
    enum policy_decision d = decide(s, a, action, name, len);
    /* Remember it (replacing whatever held the slot); names too long to be
     * worth keeping are decided every time. */
    if (len <= 1024) {
        char *copy = malloc(len ? len : 1);
        if (copy) {
            memcpy(copy, name, len);
            free(e->name);
            *e = (struct cache_entry){h, copy, (uint32_t)len, (uint8_t)action, (uint8_t)d};
        }
    }
    return d == POLICY_ALLOWED;
}
