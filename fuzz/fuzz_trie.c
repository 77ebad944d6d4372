/*
 * fuzz_trie.c - libFuzzer target for the subscription trie and the
 * retained store, checked against brute-force mqtt_topic_matches().
 *
 * The input is a list of operations separated by '\n': "+FILTER" subscribes
 * subscriber (first byte of FILTER mod 4), "-FILTER" unsubscribes it,
 * "rTOPIC" retains a message on TOPIC, "cTOPIC" clears it, anything else is
 * a TOPIC to match against both structures.
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

struct shadow_sub {
    char f[128];
    size_t len;
    int who;
};

static int subscribers[4];
static struct shadow_sub subs[MAX_SUBS];
static int nsubs;
static char retained[MAX_RETAINED][128];
static size_t retained_len[MAX_RETAINED];
static int nretained;

struct tally {
    int per_who[4];
};

static void on_match(void *ctx, void *who, uint8_t qos, unsigned flags)
{
    (void)qos;
    (void)flags;
    ((struct tally *)ctx)->per_who[(int *)who - subscribers]++;
}

static void on_retained(void *ctx, const char *t, size_t len, void *m)
{
    (void)t;
    (void)len;
    (void)m;
    (*(int *)ctx)++;
}

static void nop_release(void *m)
{
    (void)m;
}

static int find_sub(const char *f, size_t len, int who)
{
    for (int i = 0; i < nsubs; i++)
        if (subs[i].who == who && subs[i].len == len && memcmp(subs[i].f, f, len) == 0) return i;
    return -1;
}

static int find_retained(const char *t, size_t len)
{
    for (int i = 0; i < nretained; i++)
        if (retained_len[i] == len && memcmp(retained[i], t, len) == 0) return i;
    return -1;
}

static void check_match(struct trie *tr, struct retain_store *rs, const char *t, size_t len)
{
    if (!mqtt_topic_name_valid(t, len)) return;
    struct tally got = {{0}};
    trie_match(tr, t, len, on_match, &got);
    int want[4] = {0};
    for (int i = 0; i < nsubs; i++)
        if (mqtt_topic_matches(subs[i].f, subs[i].len, t, len, true)) want[subs[i].who]++;
    for (int w = 0; w < 4; w++)
        if (got.per_who[w] != want[w]) abort();
    /* The topic as a filter over the retained store. */
    if (!mqtt_topic_filter_valid(t, len)) return;
    for (int parent = 0; parent < 2; parent++) {
        int found = 0, expect = 0;
        retain_match(rs, t, len, parent, on_retained, &found);
        for (int i = 0; i < nretained; i++)
            expect += mqtt_topic_matches(t, len, retained[i], retained_len[i], parent);
        if (found != expect) abort();
    }
}

static void apply(struct trie *tr, struct retain_store *rs, const char *op, size_t len)
{
    if (len == 0) return;
    const char *arg = op + 1;
    size_t alen = len - 1;
    if (alen > 127) return;
    char kind = op[0];
    if (kind == '+' || kind == '-') {
        /* Shared filters are excluded: the brute force has no groups. */
        if (!mqtt_topic_filter_valid(arg, alen) ||
            (alen && arg[0] == '$' && alen > 6 && memcmp(arg, "$share", 6) == 0))
            return;
        int who = alen ? (unsigned char)arg[0] % 4 : 0;
        int i = find_sub(arg, alen, who);
        if (kind == '+') {
            if (trie_subscribe(tr, arg, alen, &subscribers[who], 1, NULL)) abort();
            if (i < 0 && nsubs < MAX_SUBS) {
                memcpy(subs[nsubs].f, arg, alen);
                subs[nsubs].len = alen;
                subs[nsubs].who = who;
                nsubs++;
            } else if (i < 0) {
                trie_unsubscribe(tr, arg, alen, &subscribers[who]);
            }
        } else {
            int rc = trie_unsubscribe(tr, arg, alen, &subscribers[who]);
            if ((rc == 0) != (i >= 0)) abort();
            if (i >= 0) subs[i] = subs[--nsubs];
        }
        return;
    }
    if (kind == 'r' || kind == 'c') {
        if (!mqtt_topic_name_valid(arg, alen)) return;
        int i = find_retained(arg, alen);
        if (kind == 'r' && i < 0 && nretained < MAX_RETAINED) {
            retain_set(rs, arg, alen, &subscribers[0]);
            memcpy(retained[nretained], arg, alen);
            retained_len[nretained++] = alen;
        } else if (kind == 'c' && i >= 0) {
            retain_set(rs, arg, alen, NULL);
            memcpy(retained[i], retained[nretained - 1], retained_len[nretained - 1]);
            retained_len[i] = retained_len[nretained - 1];
            nretained--;
        }
        return;
    }
    check_match(tr, rs, op, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trie *tr = trie_new(NULL);
    struct retain_store *rs = retain_new(nop_release);
    nsubs = nretained = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        apply(tr, rs, p, (size_t)(e - p));
        p = nl ? nl + 1 : end;
    }
    if (trie_count(tr) != (size_t)nsubs || retain_count(rs) != (size_t)nretained) abort();
    trie_free(tr);
    retain_free(rs);
    return 0;
}
