/*
 * fuzz_trie.c - libFuzzer target for the subscription trie and the
 * retained store, checked against brute-force mqtt_topic_matches() over
 * shadow lists of what they should hold.
 *
 * The input is a list of operations separated by '\n':
 *   "+WFILTER"  subscriber W (byte % 4; QoS byte / 4 % 3) subscribes to
 *               FILTER, which may be "$share/GROUP/FILTER"
 *   "-WFILTER"  ... unsubscribes
 *   "rTOPIC"    retains a new message on TOPIC
 *   "cTOPIC"    clears TOPIC
 *   "oM"        subscribers whose bit is set in M are online
 *   anything else: a topic to match (and, when it is a valid filter, a
 *   filter to look retained messages up with)
 * Any disagreement with the shadow lists aborts.
 */
#include "mqtt_topic.h"
#include "retain.h"
#include "trie.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBS 64
#define MAX_RETAINED 64
#define MAX_LEN 128
#define POOL 256

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) abort();                                                                      \
    } while (0)

struct shadow_sub {
    char filter[MAX_LEN]; /* without the $share prefix */
    size_t len;
    char group[MAX_LEN];
    size_t group_len;
    bool shared;
    int who;
    uint8_t qos;
};

struct shadow_retained {
    char topic[MAX_LEN];
    size_t len;
    void *msg;
};

static int subscribers[4];
static unsigned online_mask;
static struct shadow_sub subs[MAX_SUBS];
static int nsubs;
static struct shadow_retained retained[MAX_RETAINED];
static int nretained;

/* Retained messages are slots of a pool, reference-counted here so a
 * double or missing release shows. */
static char pool[POOL];
static int refs[POOL];
static unsigned next_msg;

static bool is_online(void *who)
{
    return online_mask >> ((int *)who - subscribers) & 1;
}

static void release(void *m)
{
    int i = (int)((char *)m - pool);
    CHECK(i >= 0 && i < POOL && refs[i] > 0);
    refs[i]--;
}

/* ---- the trie ---- */

struct hit {
    int who;
    uint8_t qos;
    unsigned flags;
};

struct hits {
    int n;
    struct hit h[MAX_SUBS];
};

static void on_match(void *ctx, void *who, uint8_t qos, unsigned flags)
{
    struct hits *hs = ctx;
    int w = (int)((int *)who - subscribers);
    CHECK(w >= 0 && w < 4 && qos <= 2);
    CHECK((flags & ~(unsigned)(TRIE_MATCH_SHARED | TRIE_MATCH_PARENT)) == 0);
    CHECK(hs->n < MAX_SUBS);
    hs->h[hs->n++] = (struct hit){w, qos, flags};
}

static unsigned expected_flags(const struct shadow_sub *s, const char *t, size_t len)
{
    bool strict = mqtt_topic_matches(s->filter, s->len, t, len, false);
    return (strict ? 0 : TRIE_MATCH_PARENT) | (s->shared ? TRIE_MATCH_SHARED : 0);
}

static bool same_group(const struct shadow_sub *a, const struct shadow_sub *b)
{
    return a->shared && b->shared && a->len == b->len && a->group_len == b->group_len &&
           memcmp(a->filter, b->filter, a->len) == 0 &&
           memcmp(a->group, b->group, a->group_len) == 0;
}

/* Take the hit a plain subscription must have produced. */
static bool take_plain(struct hits *hs, bool *used, const struct shadow_sub *s, unsigned flags)
{
    for (int j = 0; j < hs->n; j++) {
        if (used[j] || hs->h[j].who != s->who || hs->h[j].qos != s->qos || hs->h[j].flags != flags)
            continue;
        used[j] = true;
        return true;
    }
    return false;
}

/* Is hit j one that a member of a matching group could have produced? */
static bool from_some_group(const struct hit *h, const char *t, size_t len, bool *all_have_online)
{
    bool ok = false;
    for (int i = 0; i < nsubs; i++) {
        const struct shadow_sub *s = &subs[i];
        if (!s->shared || !mqtt_topic_matches(s->filter, s->len, t, len, true)) continue;
        ok |= s->who == h->who && s->qos == h->qos && expected_flags(s, t, len) == h->flags;
        /* Does this member's group have someone online? */
        bool group_online = false;
        for (int k = 0; k < nsubs; k++)
            if (same_group(s, &subs[k])) group_online |= is_online(&subscribers[subs[k].who]);
        *all_have_online &= group_online;
    }
    return ok;
}

static void check_trie(struct trie *tr, const char *t, size_t len)
{
    struct hits hs = {0};
    trie_match(tr, t, len, on_match, &hs);
    bool used[MAX_SUBS] = {false};
    int want_shared = 0;
    for (int i = 0; i < nsubs; i++) {
        const struct shadow_sub *s = &subs[i];
        if (!mqtt_topic_matches(s->filter, s->len, t, len, true)) continue;
        if (!s->shared) {
            CHECK(take_plain(&hs, used, s, expected_flags(s, t, len)));
            continue;
        }
        /* One pick per group: count each group at its first member. */
        bool first = true;
        for (int k = 0; k < i; k++)
            first &= !same_group(s, &subs[k]);
        want_shared += first;
    }
    int got_shared = 0;
    bool all_have_online = true, all_picked_online = true;
    for (int j = 0; j < hs.n; j++) {
        if (used[j]) continue;
        CHECK(hs.h[j].flags & TRIE_MATCH_SHARED);
        CHECK(from_some_group(&hs.h[j], t, len, &all_have_online));
        all_picked_online &= is_online(&subscribers[hs.h[j].who]);
        got_shared++;
    }
    CHECK(got_shared == want_shared);
    /* Offline members are skipped whenever their group has someone online. */
    if (all_have_online) CHECK(all_picked_online);
}

static int find_sub(const struct shadow_sub *want)
{
    for (int i = 0; i < nsubs; i++) {
        const struct shadow_sub *s = &subs[i];
        if (s->who == want->who && s->shared == want->shared && s->len == want->len &&
            memcmp(s->filter, want->filter, s->len) == 0 &&
            (!s->shared ||
             (s->group_len == want->group_len && memcmp(s->group, want->group, s->group_len) == 0)))
            return i;
    }
    return -1;
}

static void apply_sub(struct trie *tr, char kind, const char *arg, size_t alen)
{
    if (alen < 2 || alen > MAX_LEN) return;
    unsigned char w = (unsigned char)arg[0];
    const char *f = arg + 1;
    size_t flen = alen - 1;
    if (!mqtt_topic_filter_valid(f, flen)) return;

    struct shadow_sub want = {.who = w % 4, .qos = (uint8_t)(w / 4 % 3)};
    const char *group, *inner;
    size_t glen, ilen;
    want.shared = mqtt_topic_split_shared(f, flen, &group, &glen, &inner, &ilen);
    if (!want.shared) {
        inner = f;
        ilen = flen;
    } else {
        memcpy(want.group, group, glen);
        want.group_len = glen;
    }
    memcpy(want.filter, inner, ilen);
    want.len = ilen;
    int at = find_sub(&want);

    if (kind == '-') {
        int rc = trie_unsubscribe(tr, f, flen, &subscribers[want.who]);
        CHECK((rc == 0) == (at >= 0));
        if (at >= 0) subs[at] = subs[--nsubs];
        return;
    }
    if (at < 0 && nsubs == MAX_SUBS) return;
    bool replaced = false;
    CHECK(trie_subscribe(tr, f, flen, &subscribers[want.who], want.qos, &replaced) == 0);
    CHECK(replaced == (at >= 0));
    subs[at >= 0 ? at : nsubs++] = want;
}

/* ---- the retained store ---- */

struct rfound {
    int n;
    const char *filter;
    size_t flen;
    bool parent;
    const struct retain_store *rs;
};

static void on_retained(void *ctx, const char *t, size_t len, void *m)
{
    struct rfound *f = ctx;
    CHECK(mqtt_topic_matches(f->filter, f->flen, t, len, f->parent));
    CHECK(retain_get(f->rs, t, len) == m);
    f->n++;
}

static void on_each(void *ctx, const char *t, size_t len, void *m)
{
    struct rfound *f = ctx;
    CHECK(retain_get(f->rs, t, len) == m);
    f->n++;
}

static int find_retained(const char *t, size_t len)
{
    for (int i = 0; i < nretained; i++)
        if (retained[i].len == len && memcmp(retained[i].topic, t, len) == 0) return i;
    return -1;
}

static void check_retained(const struct retain_store *rs, const char *f, size_t len)
{
    if (mqtt_topic_name_valid(f, len)) {
        int i = find_retained(f, len);
        CHECK(retain_get(rs, f, len) == (i >= 0 ? retained[i].msg : NULL));
    }
    const char *g, *inner;
    size_t glen, ilen;
    if (!mqtt_topic_filter_valid(f, len) ||
        mqtt_topic_split_shared(f, len, &g, &glen, &inner, &ilen))
        return;
    for (int parent = 0; parent < 2; parent++) {
        struct rfound found = {0, f, len, parent, rs};
        retain_match(rs, f, len, parent, on_retained, &found);
        int expect = 0;
        for (int i = 0; i < nretained; i++)
            expect += mqtt_topic_matches(f, len, retained[i].topic, retained[i].len, parent);
        CHECK(found.n == expect);
    }
}

static void apply_retain(struct retain_store *rs, char kind, const char *t, size_t len)
{
    if (len > MAX_LEN || !mqtt_topic_name_valid(t, len)) return;
    int i = find_retained(t, len);
    if (kind == 'c') {
        CHECK(retain_set(rs, t, len, NULL) == 0);
        if (i >= 0) retained[i] = retained[--nretained];
        return;
    }
    if (i < 0 && nretained == MAX_RETAINED) return;
    char *m = &pool[next_msg++ % POOL];
    refs[m - pool]++;
    CHECK(retain_set(rs, t, len, m) == 0);
    if (i < 0) {
        i = nretained++;
        memcpy(retained[i].topic, t, len);
        retained[i].len = len;
    }
    retained[i].msg = m;
}

/* ---- driver ---- */

static void apply(struct trie *tr, struct retain_store *rs, const char *op, size_t len)
{
    if (len == 0) return;
    switch (op[0]) {
    case '+':
    case '-':
        apply_sub(tr, op[0], op + 1, len - 1);
        break;
    case 'r':
    case 'c':
        apply_retain(rs, op[0], op + 1, len - 1);
        break;
    case 'o':
        if (len > 1) online_mask = (unsigned char)op[1] & 15;
        break;
    default:
        if (mqtt_topic_name_valid(op, len)) check_trie(tr, op, len);
        check_retained(rs, op, len);
        break;
    }
    CHECK(trie_count(tr) == (size_t)nsubs);
    CHECK(retain_count(rs) == (size_t)nretained);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trie *tr = trie_new(is_online);
    struct retain_store *rs = retain_new(release);
    CHECK(tr && rs);
    nsubs = nretained = 0;
    online_mask = 15;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        apply(tr, rs, p, (size_t)(e - p));
        p = nl ? nl + 1 : end;
    }
    struct rfound all = {0, NULL, 0, false, rs};
    retain_foreach(rs, on_each, &all);
    CHECK(all.n == nretained);
    trie_free(tr);
    retain_free(rs);
    for (int i = 0; i < POOL; i++)
        CHECK(refs[i] == 0);
    return 0;
}
