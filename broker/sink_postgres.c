/*
 * sink_postgres.c - rows for PostgreSQL, written by one worker thread per
 * connection string. Rows are built on the loop (templates rendered, the
 * statement text made), handed over in a queue, and come back through a
 * uv_async with their outcome, where the rule's ticket is finished.
 */
#include "sink_postgres.h"

#include "log.h"
#include "rules_internal.h"
#include "server.h"
#include "template.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CONNECT_EVERY_MS 1000
#define STOP_WAIT_MS 2000

struct pg_row {
    struct pg_row *next;
    struct rule_ticket *ticket;
    char *insert; /* INSERT INTO t (...) VALUES ($1, ...) */
    char *create; /* CREATE TABLE IF NOT EXISTS t (...), when the insert finds no table */
    int nvalues;
    char **values;
    char *why; /* the outcome: NULL when written */
};

struct pg_worker {
    struct pg_worker *next;
    struct umbra_server *server;
    char *conninfo;
    uv_thread_t thread;
    uv_async_t results;
    uv_mutex_t lock;
    uv_cond_t wake;
    /* Under lock: rows to write, and rows written (or not) for the loop. */
    struct pg_row *head, *tail;
    size_t queued;
    struct pg_row *done;
    bool is_stopping;
    uint64_t stop_by_ms;
    /* The worker's own. */
    PGconn *conn;
    uint64_t next_connect_ms;
    char last_error[256];
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- the worker thread ---- */

static bool connected(struct pg_worker *w)
{
    if (w->conn && PQstatus(w->conn) == CONNECTION_OK) return true;
    if (w->conn) {
        PQfinish(w->conn);
        w->conn = NULL;
    }
    uint64_t now = now_ms();
    if (now < w->next_connect_ms) return false;
    w->next_connect_ms = now + CONNECT_EVERY_MS;
    /* Our defaults first; the connection string's own values win. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"3", "umbra", w->conninfo, NULL};
    w->conn = PQconnectdbParams(keys, values, 1);
    if (w->conn && PQstatus(w->conn) == CONNECTION_OK) return true;
    snprintf(w->last_error, sizeof w->last_error, "cannot connect to PostgreSQL: %s",
             w->conn ? PQerrorMessage(w->conn) : "out of memory");
    w->last_error[strcspn(w->last_error, "\n")] = '\0';
    return false;
}

static char *error_text(const char *prefix, const char *detail)
{
    size_t n = strlen(prefix) + strlen(detail) + 3;
    char *out = malloc(n);
    if (out) {
        snprintf(out, n, "%s: %s", prefix, detail);
        out[strcspn(out, "\n")] = '\0';
    }
    return out;
}

/* One statement; NULL when it worked, else the error (caller frees). */
static char *exec(struct pg_worker *w, const char *sql, int n, char **values, bool *no_table)
{
    PGresult *r = PQexecParams(w->conn, sql, n, NULL, (const char *const *)values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    char *why = NULL;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (no_table) *no_table = state && strcmp(state, "42P01") == 0;
        why = error_text("PostgreSQL refused the row",
                         r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn));
        if (!why) why = strdup("out of memory");
    }
    PQclear(r);
    return why;
}

/* A row on its own (autocommit); the table is made when it is missing. */
static void write_row(struct pg_worker *w, struct pg_row *r)
{
    bool no_table = false;
    r->why = exec(w, r->insert, r->nvalues, r->values, &no_table);
    if (!no_table) return;
    char *why = exec(w, r->create, 0, NULL, NULL);
    free(r->why);
    r->why = why ? why : exec(w, r->insert, r->nvalues, r->values, NULL);
}

static void fail_rows(struct pg_row *rows, const char *why)
{
    for (struct pg_row *r = rows; r; r = r->next)
        r->why = strdup(why);
}

/* Up to a batch of rows in one transaction; row by row if one fails. */
static void write_rows(struct pg_worker *w, struct pg_row *rows, bool is_late)
{
    if (is_late) {
        fail_rows(rows, "the broker stopped before the row was written");
        return;
    }
    if (!connected(w)) {
        fail_rows(rows, w->last_error);
        return;
    }
    bool is_batch = rows->next != NULL;
    if (is_batch) {
        char *why = exec(w, "BEGIN", 0, NULL, NULL);
        for (struct pg_row *r = rows; r && !why; r = r->next)
            why = exec(w, r->insert, r->nvalues, r->values, NULL);
        if (!why) why = exec(w, "COMMIT", 0, NULL, NULL);
        if (!why) return; /* all written */
        free(why);
        free(exec(w, "ROLLBACK", 0, NULL, NULL));
    }
    for (struct pg_row *r = rows; r; r = r->next) {
        if (PQstatus(w->conn) != CONNECTION_OK) {
            fail_rows(r, "the connection to PostgreSQL was lost");
            return;
        }
        write_row(w, r);
    }
}

static void worker_main(void *arg)
{
    struct pg_worker *w = arg;
    uv_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->is_stopping)
            uv_cond_wait(&w->wake, &w->lock);
        if (!w->head) break; /* stopping, and nothing left */
        struct pg_row *rows = w->head, *last = rows;
        for (int n = 1; n < SINK_POSTGRES_BATCH && last->next; n++)
            last = last->next;
        w->head = last->next;
        if (!w->head) w->tail = NULL;
        last->next = NULL;
        for (struct pg_row *r = rows; r; r = r->next)
            w->queued--;
        bool is_late = w->is_stopping && now_ms() > w->stop_by_ms;
        uv_mutex_unlock(&w->lock);
        write_rows(w, rows, is_late);
        uv_mutex_lock(&w->lock);
        last->next = w->done;
        w->done = rows;
        uv_async_send(&w->results);
    }
    uv_mutex_unlock(&w->lock);
    PQfinish(w->conn);
    w->conn = NULL;
}

/* ---- the loop ---- */

static void row_free(struct pg_row *r)
{
    for (int i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
    free(r->insert);
    free(r->create);
    free(r->why);
    free(r);
}

static void deliver(uv_async_t *a)
{
    struct pg_worker *w = a->data;
    uv_mutex_lock(&w->lock);
    struct pg_row *rows = w->done;
    w->done = NULL;
    uv_mutex_unlock(&w->lock);
    while (rows) {
        struct pg_row *next = rows->next;
        rule_ticket_done(w->server, rows->ticket, rows->why);
        row_free(rows);
        rows = next;
    }
}

static struct pg_worker *worker_for(struct umbra_server *s, const char *conninfo)
{
    for (struct pg_worker *w = s->postgres; w; w = w->next)
        if (strcmp(w->conninfo, conninfo) == 0) return w;
    struct pg_worker *w = calloc(1, sizeof *w);
    if (!w || !(w->conninfo = strdup(conninfo))) {
        free(w);
        return NULL;
    }
    w->server = s;
    uv_mutex_init(&w->lock);
    uv_cond_init(&w->wake);
    uv_async_init(s->loop, &w->results, deliver);
    w->results.data = w;
    if (uv_thread_create(&w->thread, worker_main, w)) {
        uv_close((uv_handle_t *)&w->results, NULL);
        free(w->conninfo);
        free(w);
        return NULL;
    }
    w->next = s->postgres;
    s->postgres = w;
    return w;
}

/* "name" folded to lower case, as PostgreSQL takes an unquoted name; a
 * schema-qualified table keeps its dot. The registry admitted only
 * letters, digits, '_' and that dot. */
static void append_ident(char *out, size_t *at, const char *name)
{
    out[(*at)++] = '"';
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            out[(*at)++] = '"';
            out[(*at)++] = '.';
            out[(*at)++] = '"';
        } else {
            out[(*at)++] = (char)tolower((unsigned char)*p);
        }
    }
    out[(*at)++] = '"';
}

/* The INSERT and the CREATE TABLE for the action's columns. */
static int build_statements(const struct rule_action *a, struct pg_row *r)
{
    size_t need = 64 + 3 * strlen(a->table);
    for (size_t i = 0; i < a->nheaders; i++)
        need += 2 * strlen(a->headers[i].key) + 24;
    if (a->payload_field) need += 2 * strlen(a->payload_field) + 24;
    char *ins = malloc(need), *cre = malloc(need);
    if (!ins || !cre) {
        free(ins);
        free(cre);
        return -1;
    }
    size_t i_at = 0, c_at = 0;
    i_at += (size_t)sprintf(ins, "INSERT INTO ");
    c_at += (size_t)sprintf(cre, "CREATE TABLE IF NOT EXISTS ");
    append_ident(ins, &i_at, a->table);
    append_ident(cre, &c_at, a->table);
    size_t n = a->nheaders + (a->payload_field ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        const char *col = i < a->nheaders ? a->headers[i].key : a->payload_field;
        ins[i_at++] = i ? ',' : '(';
        cre[c_at++] = i ? ',' : '(';
        append_ident(ins, &i_at, col);
        append_ident(cre, &c_at, col);
        c_at += (size_t)sprintf(cre + c_at, i < a->nheaders ? " TEXT" : " JSONB");
    }
    i_at += (size_t)sprintf(ins + i_at, ") VALUES (");
    for (size_t i = 0; i < n; i++)
        i_at += (size_t)sprintf(ins + i_at, i ? ",$%zu" : "$%zu", i + 1);
    sprintf(ins + i_at, ")");
    sprintf(cre + c_at, ")");
    r->insert = ins;
    r->create = cre;
    return 0;
}

/* The result as JSON text; a payload that is not JSON as a JSON string of its base64. */
static char *payload_text(const uint8_t *body, size_t len, bool is_raw)
{
    if (!is_raw) return strndup((const char *)body, len);
    size_t need = 0;
    mbedtls_base64_encode(NULL, 0, &need, body, len);
    char *out = malloc(need + 3);
    if (!out) return NULL;
    out[0] = '"';
    if (mbedtls_base64_encode((unsigned char *)out + 1, need + 1, &need, body, len)) {
        free(out);
        return NULL;
    }
    out[need + 1] = '"';
    out[need + 2] = '\0';
    return out;
}

static struct pg_row *row_new(struct rule_ticket *t, const struct rule_action *a,
                              const struct sql_message *m, const uint8_t *body, size_t len,
                              bool is_raw)
{
    struct pg_row *r = calloc(1, sizeof *r);
    size_t n = a->nheaders + (a->payload_field ? 1 : 0);
    if (!r || !(r->values = calloc(n ? n : 1, sizeof *r->values)) || build_statements(a, r)) {
        if (r) row_free(r);
        return NULL;
    }
    r->ticket = t;
    for (size_t i = 0; i < n; i++) {
        r->values[i] = i < a->nheaders ? template_render(a->headers[i].value, m)
                                       : payload_text(body, len, is_raw);
        r->nvalues = (int)i + 1;
        if (!r->values[i]) {
            row_free(r);
            return NULL;
        }
    }
    return r;
}

void sink_postgres_insert(struct umbra_server *s, struct rule_ticket *t,
                          const struct rule_action *a, const struct sql_message *m,
                          const uint8_t *body, size_t len, bool is_raw)
{
    struct pg_worker *w = worker_for(s, a->connection);
    if (!w) {
        rule_ticket_done(s, t, "cannot start the PostgreSQL worker");
        return;
    }
    uv_mutex_lock(&w->lock);
    bool is_full = w->queued >= SINK_POSTGRES_MAX_QUEUE;
    uv_mutex_unlock(&w->lock);
    if (is_full) {
        rule_ticket_drop(s, t, sink_queue_full);
        return;
    }
    struct pg_row *r = row_new(t, a, m, body, len, is_raw);
    if (!r) {
        rule_ticket_done(s, t, "out of memory");
        return;
    }
    uv_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->queued++;
    uv_cond_signal(&w->wake);
    uv_mutex_unlock(&w->lock);
}

static void worker_freed(uv_handle_t *h)
{
    struct pg_worker *w = h->data;
    uv_mutex_destroy(&w->lock);
    uv_cond_destroy(&w->wake);
    free(w->conninfo);
    free(w);
}

void sink_postgres_stop(struct umbra_server *s)
{
    for (struct pg_worker *w = s->postgres; w; w = w->next) {
        uv_mutex_lock(&w->lock);
        w->is_stopping = true;
        w->stop_by_ms = now_ms() + STOP_WAIT_MS;
        uv_cond_signal(&w->wake);
        uv_mutex_unlock(&w->lock);
    }
    while (s->postgres) {
        struct pg_worker *w = s->postgres;
        s->postgres = w->next;
        uv_thread_join(&w->thread);
        deliver(&w->results);
        uv_close((uv_handle_t *)&w->results, worker_freed);
    }
}
