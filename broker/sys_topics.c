/* sys_topics.c - $SYS/broker statistics as retained messages. */
#include "sys_topics.h"

#include "persist.h"

#include "retain.h"
#include "rules_service.h"
#include "router.h"
#include "server.h"
#include "strmap.h"
#include "trie.h"
#include "version.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static void publish_text(struct umbra_server *s, const char *topic, const char *text)
{
    router_publish(s, topic, strlen(topic), (const uint8_t *)text, strlen(text), 0, true, NULL,
                   true);
}

static void publish_u64(struct umbra_server *s, const char *topic, uint64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    publish_text(s, topic, text);
}

/* $SYS/broker/rules/NAME/{matched,succeeded,failed,dropped} */
static void publish_rule_counter(void *ctx, const char *rule, const char *counter, uint64_t v)
{
    char topic[256];
    snprintf(topic, sizeof topic, "$SYS/broker/rules/%s/%s", rule, counter);
    publish_u64(ctx, topic, v);
}

void sys_topics_publish(struct umbra_server *s)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t now_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    char text[64];
    snprintf(text, sizeof text, "%llu seconds",
             (unsigned long long)((now_ms - s->start_ms) / 1000));
    publish_text(s, "$SYS/broker/version", "umbra version " UMBRA_VERSION);
    publish_text(s, "$SYS/broker/uptime", text);
    const struct umbra_stats *st = &s->stats;
    publish_u64(s, "$SYS/broker/clients/connected", st->clients_connected);
    publish_u64(s, "$SYS/broker/clients/maximum", st->clients_maximum);
    publish_u64(s, "$SYS/broker/clients/total", strmap_count(s->sessions));
    publish_u64(s, "$SYS/broker/clients/disconnected",
                strmap_count(s->sessions) - st->clients_connected);
    publish_u64(s, "$SYS/broker/messages/received", st->msgs_received);
    publish_u64(s, "$SYS/broker/messages/sent", st->msgs_sent);
    publish_u64(s, "$SYS/broker/publish/messages/dropped", st->msgs_dropped);
    publish_u64(s, "$SYS/broker/bytes/received", st->bytes_received);
    publish_u64(s, "$SYS/broker/bytes/sent", st->bytes_sent);
    publish_u64(s, "$SYS/broker/subscriptions/count", trie_count(s->trie));
    publish_u64(s, "$SYS/broker/retained messages/count", retain_count(s->retained));
    /* Batches committed to SQLite since start: with messages/received, how
     * many durable changes one commit carries. */
    publish_u64(s, "$SYS/broker/store/commits", persist_committed(s->persist));
    rules_service_each_counter(s, publish_rule_counter, s);
}
