/*
 * rule_run.c - one rule's run on one message: counting its actions,
 * logging failures (at most once a second per rule), and the one error
 * document per (rule, message) that the errorAction receives once every
 * action, including those a sink finishes later, has reported.
 */
#include "rules_internal.h"

#include "log.h"
#include "server.h"
#include "sql_json.h"

#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char sink_queue_full[] = "the sink's queue is full";

void rule_stats_unref(struct rule_stats *st)
{
    if (!st || --st->refs) return;
    free(st->name);
    free(st);
}

static char *copy_string(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The run outlives the publish: keep what the errorAction will need. */
static int keep_message(struct rule_run *run)
{
    const struct sql_message *m = run->msg;
    if (!run->failures || run->copy_topic || !m) return 0;
    run->copy = *m;
    run->copy.doc = NULL; /* scanned again if the errorAction's templates need it */
    run->copy_topic = malloc(m->topic_len + 1);
    run->copy_payload = malloc(m->payload_len ? m->payload_len : 1);
    run->copy_client_id = copy_string(m->client_id);
    run->copy_principal = copy_string(m->principal);
    if (!run->copy_topic || !run->copy_payload || (m->client_id && !run->copy_client_id) ||
        (m->principal && !run->copy_principal))
        return -1;
    memcpy(run->copy_topic, m->topic, m->topic_len);
    run->copy_topic[m->topic_len] = '\0';
    memcpy(run->copy_payload, m->payload, m->payload_len);
    /* The error document names the message's trace id: make it now. */
    const char *trace = sql_trace_id(m);
    if (trace) {
        snprintf(run->copy_trace_id, sizeof run->copy_trace_id, "%s", trace);
        run->copy.trace_id = run->copy_trace_id;
    }
    run->copy.trace_buf = NULL;
    run->copy.topic = run->copy_topic;
    run->copy.payload = run->copy_payload;
    run->copy.client_id = run->copy_client_id;
    run->copy.principal = run->copy_principal;
    return 0;
}

struct rule_ticket *rule_ticket_new(struct rule_run *run, const struct rule_action *a,
                                    const char *resource)
{
    struct rule_ticket *t = calloc(1, sizeof *t);
    if (!t || !(t->resource = strdup(resource)) || keep_message(run)) {
        if (t) free(t->resource);
        free(t);
        return NULL;
    }
    t->run = run;
    t->failed_action = a->failed_action;
    run->pending++;
    return t;
}

static void ticket_finish(struct umbra_server *s, struct rule_ticket *t, const char *why,
                          bool is_dropped)
{
    rule_run_report(s, t->run, t->failed_action, t->resource, why, is_dropped);
    rule_run_release(s, t->run);
    free(t->resource);
    free(t);
}

void rule_ticket_done(struct umbra_server *s, struct rule_ticket *t, const char *why)
{
    ticket_finish(s, t, why, false);
}

void rule_ticket_drop(struct umbra_server *s, struct rule_ticket *t, const char *why)
{
    ticket_finish(s, t, why, true);
}

void rule_run_report(struct umbra_server *s, struct rule_run *run, const char *failed_action,
                     const char *resource, const char *why, bool is_dropped)
{
    struct rule_stats *st = run->stats;
    if (run->is_error_run) {
        if (why) log_warn("rule %s: errorAction to %s failed: %s", st->name, resource, why);
        return;
    }
    if (!why) {
        st->succeeded++;
        return;
    }
    if (is_dropped)
        st->dropped++;
    else
        st->failed++;
    uint64_t now = server_now_ms(s);
    if (st->last_warning_ms && now - st->last_warning_ms < 1000) {
        st->warnings_not_logged++;
    } else {
        log_warn("rule %s: %s to %s %s: %s (%llu more not logged)", st->name, failed_action,
                 resource, is_dropped ? "dropped" : "failed", why,
                 (unsigned long long)st->warnings_not_logged);
        st->last_warning_ms = now;
        st->warnings_not_logged = 0;
    }
    if (run->failures)
        json_array_append_new(run->failures,
                              json_pack("{s:s, s:s, s:s}", "failedAction", failed_action,
                                        "failedResource", resource, "errorMessage", why));
}

/* The AWS error document for errorAction. Caller frees. */
static char *error_document(const char *rule, const struct sql_message *m, json_t *failures)
{
    size_t b64_len = 0;
    mbedtls_base64_encode(NULL, 0, &b64_len, m->payload, m->payload_len);
    unsigned char *b64 = malloc(b64_len + 1);
    if (!b64 || mbedtls_base64_encode(b64, b64_len + 1, &b64_len, m->payload, m->payload_len)) {
        free(b64);
        return NULL;
    }
    b64[b64_len] = '\0';
    json_t *doc = json_pack("{s:s, s:s%, s:s, s:s, s:s, s:O}", "ruleName", rule, "topic", m->topic,
                            m->topic_len, "cloudwatchTraceId", m->trace_id ? m->trace_id : "",
                            "clientId", m->client_id ? m->client_id : "n/a",
                            "base64OriginalPayload", (const char *)b64, "failures", failures);
    free(b64);
    char *text = doc ? sql_json_dump(doc, NULL) : NULL;
    json_decref(doc);
    return text;
}

static void send_error_document(struct umbra_server *s, struct rule_run *run)
{
    struct sql_message *m = run->msg ? NULL : &run->copy;
    struct sql_doc payload;
    if (m) {
        sql_doc_init(&payload, m->payload, m->payload_len);
        m->doc = &payload;
    }
    const struct sql_message *msg = m ? m : run->msg;
    char *doc = error_document(run->stats->name, msg, run->failures);
    if (doc)
        rules_run_error_action(s, run->stats, msg, doc);
    else
        log_error("rule %s: out of memory for the error document", run->stats->name);
    free(doc);
    if (m) sql_doc_release(m->doc);
}

void rule_run_release(struct umbra_server *s, struct rule_run *run)
{
    if (--run->pending) return;
    /* A broker that is stopping sends no more messages. */
    if (json_array_size(run->failures) && !s->is_stopping) send_error_document(s, run);
    json_decref(run->failures);
    free(run->copy_topic);
    free(run->copy_payload);
    free(run->copy_client_id);
    free(run->copy_principal);
    rule_stats_unref(run->stats);
    free(run);
}
