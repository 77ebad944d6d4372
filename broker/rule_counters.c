/*
 * rule_counters.c - the per-rule counters file, written off the loop.
 */
#include "rule_counters.h"

#include "rules_service.h"
#include "server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

struct counters_write {
    uv_work_t work;
    struct umbra_server *server;
    char path[4096];
    char *text;
};

struct snapshot {
    json_t *rules;
    uint64_t sum;
};

static void add_counter(void *ctx, const char *rule, const char *counter, uint64_t value)
{
    struct snapshot *sn = ctx;
    json_t *r = json_object_get(sn->rules, rule);
    if (!r) json_object_set_new(sn->rules, rule, r = json_object());
    json_object_set_new(r, counter, json_integer((json_int_t)value));
    sn->sum += value + 1; /* counters only grow: their sum moves whenever one does */
}

static void write_file(uv_work_t *req)
{
    struct counters_write *w = req->data;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", w->path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    bool ok = fputs(w->text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, w->path)) unlink(tmp);
}

static void written(uv_work_t *req, int status)
{
    (void)status;
    struct counters_write *w = req->data;
    w->server->rule_counters_writing = false;
    if (w->server->is_stopping) unlink(w->path); /* written after the daemon removed it */
    free(w->text);
    free(w);
}

static void add_to_sum(void *ctx, const char *rule, const char *counter, uint64_t value)
{
    (void)rule, (void)counter;
    *(uint64_t *)ctx += value + 1;
}

void rule_counters_update(struct umbra_server *s)
{
    if (s->rule_counters_writing) return;
    /* Every tick: only a sum, and the file only when it moved. */
    uint64_t sum = 0;
    rules_service_each_counter(s, add_to_sum, &sum);
    if (sum == s->rule_counters_sum) return;
    struct snapshot sn = {json_object(), 0};
    rules_service_each_counter(s, add_counter, &sn);
    if (!sn.rules) return;
    json_t *doc = json_pack("{s:I, s:o}", "pid", (json_int_t)getpid(), "rules", sn.rules);
    struct counters_write *w = calloc(1, sizeof *w);
    if (w) w->text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!w || !w->text) {
        free(w);
        return;
    }
    snprintf(w->path, sizeof w->path, "%s/" RULE_COUNTERS_FILE, s->cfg->data_dir);
    w->server = s;
    w->work.data = w;
    if (uv_queue_work(s->loop, &w->work, write_file, written)) {
        free(w->text);
        free(w);
        return;
    }
    s->rule_counters_writing = true;
    s->rule_counters_sum = sn.sum;
}

void rule_counters_remove(struct umbra_server *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" RULE_COUNTERS_FILE, s->cfg->data_dir);
    unlink(path);
}
