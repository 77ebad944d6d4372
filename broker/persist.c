/*
 * persist.c - write-behind persistence of broker state in SQLite.
 *
 * Two batches exist at any time: the one the loop is filling and the one
 * the writer thread is committing. A batch is a flat array of fixed-size
 * operations plus one arena for their strings, so recording an operation
 * is a couple of memcpys, and handing a batch over is a pointer swap under
 * a mutex. Operations that carry payloads (retained set, message put) hold
 * a message reference; the writer only reads the immutable topic and
 * payload, and the loop drops the reference after the commit.
 */
#include "persist.h"

#include "buf.h"
#include "error.h"
#include "log.h"
#include "registry.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

enum op_kind {
    OP_RETAIN_SET,
    OP_RETAIN_DEL,
    OP_SESSION_PUT,
    OP_SESSION_DEL,
    OP_SUB_PUT,
    OP_SUB_DEL,
    OP_MSG_PUT,
    OP_MSG_DEL,
    OP_DLV_PUT,
    OP_DLV_DEL,
    OP_IN2_PUT,
    OP_IN2_DEL,
    OP_SHADOW_PUT,
    OP_SHADOW_DEL,
    OP_RULE_ROW,
    OP_USAGE_ADD,
};

struct op {
    uint8_t kind;
    uint8_t qos;
    uint8_t state;
    uint8_t is_retained;
    uint16_t packet_id;
    uint32_t a_off, a_len; /* first string in the arena (client id, topic) */
    uint32_t b_off, b_len; /* second string (filter) */
    uint64_t id;           /* message id, seq, or timestamp */
    uint64_t id2;
    struct umbra_msg *msg; /* referenced until the batch is released */
};

struct batch {
    struct op *ops;
    size_t nops, cap;
    struct buf arena;
    uint64_t epoch;
};

enum stmt_id {
    S_RETAIN_SET,
    S_RETAIN_DEL,
    S_SESSION_PUT,
    S_SESSION_DEL,
    S_SESSION_DEL_SUBS,
    S_SESSION_DEL_DLVS,
    S_SESSION_DEL_IN2,
    S_SUB_PUT,
    S_SUB_DEL,
    S_MSG_PUT,
    S_MSG_DEL,
    S_DLV_PUT,
    S_DLV_DEL,
    S_IN2_PUT,
    S_IN2_DEL,
    S_SHADOW_PUT,
    S_SHADOW_DEL,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_RETAIN_SET] = "INSERT OR REPLACE INTO retained(topic, payload, qos, updated_at) "
                     "VALUES(?1, ?2, ?3, ?4)",
    [S_RETAIN_DEL] = "DELETE FROM retained WHERE topic = ?1",
    [S_SESSION_PUT] = "INSERT INTO sessions(client_id, offline_since) VALUES(?1, ?2) "
                      "ON CONFLICT(client_id) DO UPDATE SET offline_since = ?2",
    [S_SESSION_DEL] = "DELETE FROM sessions WHERE client_id = ?1",
    [S_SESSION_DEL_SUBS] = "DELETE FROM subscriptions WHERE client_id = ?1",
    [S_SESSION_DEL_DLVS] = "DELETE FROM deliveries WHERE client_id = ?1",
    [S_SESSION_DEL_IN2] = "DELETE FROM incoming_qos2 WHERE client_id = ?1",
    [S_SUB_PUT] = "INSERT OR REPLACE INTO subscriptions(client_id, filter, qos) VALUES(?1, ?2, ?3)",
    [S_SUB_DEL] = "DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2",
    [S_MSG_PUT] = "INSERT OR REPLACE INTO messages(id, topic, payload, qos) VALUES(?1, ?2, ?3, ?4)",
    [S_MSG_DEL] = "DELETE FROM messages WHERE id = ?1",
    [S_DLV_PUT] = "INSERT OR REPLACE INTO deliveries(client_id, seq, msg_id, qos, state, "
                  "packet_id, retained) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_DLV_DEL] = "DELETE FROM deliveries WHERE client_id = ?1 AND seq = ?2",
    [S_IN2_PUT] = "INSERT OR IGNORE INTO incoming_qos2(client_id, packet_id) VALUES(?1, ?2)",
    [S_IN2_DEL] = "DELETE FROM incoming_qos2 WHERE client_id = ?1 AND packet_id = ?2",
    [S_SHADOW_PUT] = "INSERT OR REPLACE INTO shadows(key, doc) VALUES(?1, ?2)",
    [S_SHADOW_DEL] = "DELETE FROM shadows WHERE key = ?1",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY, version INTEGER);"
    "CREATE TABLE IF NOT EXISTS retained(topic TEXT PRIMARY KEY, payload BLOB NOT NULL,"
    " qos INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions(client_id TEXT PRIMARY KEY, offline_since INTEGER);"
    "CREATE TABLE IF NOT EXISTS subscriptions(client_id TEXT, filter TEXT, qos INTEGER,"
    " PRIMARY KEY(client_id, filter)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, topic TEXT NOT NULL,"
    " payload BLOB NOT NULL, qos INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deliveries(client_id TEXT, seq INTEGER, msg_id INTEGER,"
    " qos INTEGER, state INTEGER, packet_id INTEGER, retained INTEGER,"
    " PRIMARY KEY(client_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS incoming_qos2(client_id TEXT, packet_id INTEGER,"
    " PRIMARY KEY(client_id, packet_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS shadows(key TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO schema_version(component, version) VALUES('broker', 1);";

/* The version schema_sql makes; a later change to the tables adds a step
 * from the previous one and raises it. */
#define BROKER_SCHEMA_VERSION 1

/* Refuse a database a newer umbrad changed: its tables may not mean what
 * this build reads (see "Upgrade" in docs/operations.md). */
static int check_schema_version(sqlite3 *db, const char *path)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version WHERE component='broker'", -1,
                           &st, NULL) != SQLITE_OK)
        return UMBRA_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version <= BROKER_SCHEMA_VERSION) return 0;
    log_error("persist: %s has broker schema version %d, newer than this build's %d: run the "
              "newer umbrad, or restore the backup taken before the upgrade",
              path, version, BROKER_SCHEMA_VERSION);
    return UMBRA_EIO;
}

struct persist {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    uint64_t next_msg_id;
    uint64_t op_count;

    struct batch *filling; /* loop thread */
    struct batch *writing; /* owned by the writer while busy */
    uint64_t committed;    /* last committed epoch (loop thread view) */

    uv_loop_t *loop;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t cond;
    uv_async_t *done; /* heap: it must outlive this struct until its close callback */
    bool started;
    bool busy;       /* the writer holds a batch (loop thread view) */
    bool has_work;   /* under lock: writer should take `writing` */
    bool is_written; /* under lock: writer finished `writing` */
    bool stop;       /* under lock */
    int last_error;  /* under lock */
    uint64_t write_ns;       /* under lock: how long the writer's last batch took */
    uint64_t last_commit_ns; /* loop thread: the same, for the batch committed last */
    persist_committed_fn on_commit;
    void *ctx;
    /* Writer side, prepared on first use: the usage table is the
     * registry's (migration 7), which may not exist when this opens. */
    sqlite3_stmt *usage_add;
};

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* ---- batches ---- */

static struct batch *batch_new(uint64_t epoch)
{
    struct batch *b = calloc(1, sizeof *b);
    if (b) b->epoch = epoch;
    return b;
}

static void batch_release(struct batch *b)
{
    for (size_t i = 0; i < b->nops; i++)
        msg_unref(b->ops[i].msg);
    b->nops = 0;
    b->arena.len = 0;
}

static void batch_free(struct batch *b)
{
    if (!b) return;
    batch_release(b);
    free(b->ops);
    buf_free(&b->arena);
    free(b);
}

static uint32_t arena_put(struct batch *b, const char *s, size_t len, bool *ok)
{
    uint32_t off = (uint32_t)b->arena.len;
    if (buf_append(&b->arena, s, len)) *ok = false;
    return off;
}

/* Append an operation. On allocation failure the operation is lost and
 * logged: the in-memory state stays right, only durability is degraded. */
static struct op *op_add(struct persist *p, enum op_kind kind, const char *a, size_t alen,
                         const char *b, size_t blen)
{
    struct batch *bt = p->filling;
    if (bt->nops == bt->cap) {
        size_t ncap = bt->cap ? bt->cap * 2 : 64;
        struct op *n = realloc(bt->ops, ncap * sizeof *n);
        if (!n) goto oom;
        bt->ops = n;
        bt->cap = ncap;
    }
    bool ok = true;
    struct op *o = &bt->ops[bt->nops];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    o->a_off = a ? arena_put(bt, a, alen, &ok) : 0;
    o->a_len = (uint32_t)alen;
    o->b_off = b ? arena_put(bt, b, blen, &ok) : 0;
    o->b_len = (uint32_t)blen;
    if (!ok) goto oom;
    bt->nops++;
    p->op_count++;
    return o;
oom:
    log_error("persist: out of memory, a state change will not be stored");
    return NULL;
}

/* Move every operation of `from` to the end of `to`. */
static void batch_merge(struct batch *to, struct batch *from)
{
    for (size_t i = 0; i < from->nops; i++) {
        struct op o = from->ops[i];
        bool ok = true;
        if (to->nops == to->cap) {
            size_t ncap = to->cap ? to->cap * 2 : 64;
            struct op *n = realloc(to->ops, ncap * sizeof *n);
            if (n) {
                to->ops = n;
                to->cap = ncap;
            } else {
                ok = false;
            }
        }
        if (o.a_len) o.a_off = arena_put(to, (char *)from->arena.data + o.a_off, o.a_len, &ok);
        if (o.b_len) o.b_off = arena_put(to, (char *)from->arena.data + o.b_off, o.b_len, &ok);
        if (!ok) {
            log_error("persist: out of memory while retrying a batch");
            msg_unref(o.msg);
            continue;
        }
        to->ops[to->nops++] = o;
    }
    from->nops = 0;
    from->arena.len = 0;
}

/* ---- writer side ---- */

static void bind_text(sqlite3_stmt *st, int i, const struct batch *b, uint32_t off, uint32_t len)
{
    sqlite3_bind_text(st, i, (const char *)b->arena.data + off, (int)len, SQLITE_STATIC);
}

static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

static int run_client(struct persist *p, enum stmt_id id, const struct batch *b, const struct op *o)
{
    bind_text(p->stmt[id], 1, b, o->a_off, o->a_len);
    return run(p->stmt[id]);
}

/* "name" with its quotes doubled: an SQL identifier from any text. */
static void quote_ident(struct buf *out, const char *s, size_t len)
{
    buf_append(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        buf_append(out, &s[i], 1);
        if (s[i] == '"') buf_append(out, "\"", 1);
    }
    buf_append(out, "\"", 1);
}

static void apply_rule_item(struct persist *p, const char *table, size_t tlen, json_t *item);

/*
 * A rules-engine table row: table in a, and in b the JSON
 * {"keys":[[column, value, is_number]...], "payloadField": column, "payload": text,
 *  "delete": bool}. The table is made on first use with the keys as its
 * primary key; a row with the same keys replaces the one before (PutItem).
 * Runs inside a savepoint: a row that does not fit its table is logged
 * and dropped, and the rest of the batch commits.
 */
static void apply_rule_row(struct persist *p, const struct batch *b, const struct op *o)
{
    const char *table = (const char *)b->arena.data + o->a_off;
    json_t *row = json_loadb((const char *)b->arena.data + o->b_off, o->b_len, 0, NULL);
    json_t *item = json_object_get(row, "item");
    if (json_is_object(item)) {
        apply_rule_item(p, table, o->a_len, item);
        json_decref(row);
        return;
    }
    json_t *keys = json_object_get(row, "keys");
    const char *pf = json_string_value(json_object_get(row, "payloadField"));
    bool is_delete = json_is_true(json_object_get(row, "delete"));
    struct buf create = {0}, put = {0};
    buf_append(&create, "CREATE TABLE IF NOT EXISTS ", 27);
    quote_ident(&create, table, o->a_len);
    buf_append(&create, "(", 1);
    buf_append(&put, is_delete ? "DELETE FROM " : "INSERT OR REPLACE INTO ", is_delete ? 12 : 23);
    quote_ident(&put, table, o->a_len);
    buf_append(&put, is_delete ? " WHERE " : "(", is_delete ? 7 : 1);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *col = json_string_value(json_array_get(k, 0));
        if (!col) continue;
        if (i) buf_append(&create, ", ", 2);
        quote_ident(&create, col, strlen(col));
        buf_append(&create, json_is_true(json_array_get(k, 2)) ? " NUMERIC" : " TEXT", json_is_true(json_array_get(k, 2)) ? 8 : 5);
        if (i) buf_append(&put, is_delete ? " AND " : ", ", is_delete ? 5 : 2);
        quote_ident(&put, col, strlen(col));
        if (is_delete) buf_append(&put, " = ?", 4);
    }
    if (pf) {
        buf_append(&create, ", ", 2);
        quote_ident(&create, pf, strlen(pf));
        buf_append(&create, " TEXT", 5);
    }
    buf_append(&create, ", PRIMARY KEY(", 14);
    json_array_foreach(keys, i, k)
    {
        const char *col = json_string_value(json_array_get(k, 0));
        if (!col) continue;
        if (i) buf_append(&create, ", ", 2);
        quote_ident(&create, col, strlen(col));
    }
    buf_append(&create, "))", 3); /* with its NUL */
    if (!is_delete) {
        if (pf) {
            buf_append(&put, ", ", 2);
            quote_ident(&put, pf, strlen(pf));
        }
        buf_append(&put, ") VALUES(", 9);
        size_t n = json_array_size(keys) + (pf ? 1 : 0);
        for (size_t j = 0; j < n; j++) buf_append(&put, j ? ", ?" : "?", j ? 3 : 1);
        buf_append(&put, ")", 1);
    }
    buf_append(&put, "", 1);
    sqlite3_exec(p->db, "SAVEPOINT rule_row", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    int rc = create.data && put.data && json_array_size(keys) ? SQLITE_OK : SQLITE_MISUSE;
    if (rc == SQLITE_OK) rc = sqlite3_exec(p->db, (const char *)create.data, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(p->db, (const char *)put.data, -1, &st, NULL);
    int arg = 1;
    json_array_foreach(keys, i, k)
    {
        json_t *v = json_array_get(k, 1);
        if (st && json_is_true(json_array_get(k, 2)))
            sqlite3_bind_double(st, arg++, strtod(json_string_value(v), NULL));
        else if (st)
            sqlite3_bind_text(st, arg++, json_string_value(v), -1, SQLITE_STATIC);
    }
    if (st && pf && !is_delete)
        sqlite3_bind_text(st, arg, json_string_value(json_object_get(row, "payload")), -1,
                          SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        log_warn("rules: row for table %.*s dropped: %s", (int)o->a_len, table,
                 sqlite3_errmsg(p->db));
        sqlite3_exec(p->db, "ROLLBACK TO rule_row", NULL, NULL, NULL);
    }
    sqlite3_finalize(st);
    sqlite3_exec(p->db, "RELEASE rule_row", NULL, NULL, NULL);
    buf_free(&create);
    buf_free(&put);
    json_decref(row);
}

/* Add to table the columns of item it does not have yet (dynamoDBv2: any
 * attribute may appear in any message). */
static int add_item_columns(struct persist *p, const char *table, size_t tlen, json_t *item)
{
    struct buf q = {0};
    buf_append(&q, "SELECT name FROM pragma_table_info(?)", 38);
    sqlite3_stmt *st = NULL;
    int rc = q.data ? sqlite3_prepare_v2(p->db, (const char *)q.data, -1, &st, NULL) : SQLITE_NOMEM;
    buf_free(&q);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, table, (int)tlen, SQLITE_STATIC);
    json_t *have = json_object();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(have, (const char *)sqlite3_column_text(st, 0), json_true());
    sqlite3_finalize(st);
    bool is_new = json_object_size(have) == 0;
    struct buf ddl = {0};
    if (is_new) {
        buf_append(&ddl, "CREATE TABLE ", 13);
        quote_ident(&ddl, table, tlen);
        buf_append(&ddl, "(", 1);
    }
    const char *col;
    json_t *v;
    size_t added = 0;
    json_object_foreach(item, col, v)
    {
        if (json_object_get(have, col)) continue;
        if (!is_new) {
            buf_append(&ddl, "ALTER TABLE ", 12);
            quote_ident(&ddl, table, tlen);
            buf_append(&ddl, " ADD COLUMN ", 12);
        } else if (added) {
            buf_append(&ddl, ", ", 2);
        }
        quote_ident(&ddl, col, strlen(col));
        buf_append(&ddl, json_is_number(v) ? " NUMERIC" : " TEXT", json_is_number(v) ? 8 : 5);
        if (!is_new) buf_append(&ddl, ";", 1);
        added++;
    }
    if (is_new) buf_append(&ddl, ")", 1);
    buf_append(&ddl, "", 1);
    json_decref(have);
    rc = !ddl.data ? SQLITE_NOMEM
         : added   ? sqlite3_exec(p->db, (const char *)ddl.data, NULL, NULL, NULL)
                   : SQLITE_OK;
    buf_free(&ddl);
    return rc;
}

/*
 * A dynamoDBv2 item: table in a, {"item": {attribute: value}} in b. Every
 * top-level attribute is a column (numbers NUMERIC, strings TEXT, anything
 * else its JSON text); the table is made on first use and grows a column
 * for each new attribute. An item with the same primary key (when the
 * table has one, e.g. made by a dynamoDB action) replaces the one before.
 */
static void apply_rule_item(struct persist *p, const char *table, size_t tlen, json_t *item)
{
    struct buf put = {0};
    buf_append(&put, "INSERT OR REPLACE INTO ", 23);
    quote_ident(&put, table, tlen);
    buf_append(&put, "(", 1);
    const char *col;
    json_t *v;
    size_t n = 0;
    json_object_foreach(item, col, v)
    {
        if (n++) buf_append(&put, ", ", 2);
        quote_ident(&put, col, strlen(col));
    }
    buf_append(&put, ") VALUES(", 9);
    for (size_t j = 0; j < n; j++) buf_append(&put, j ? ", ?" : "?", j ? 3 : 1);
    buf_append(&put, ")", 2); /* with its NUL */
    sqlite3_exec(p->db, "SAVEPOINT rule_row", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    int rc = put.data && n ? add_item_columns(p, table, tlen, item) : SQLITE_MISUSE;
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(p->db, (const char *)put.data, -1, &st, NULL);
    int arg = 1;
    json_object_foreach(item, col, v)
    {
        if (!st) break;
        if (json_is_integer(v)) {
            sqlite3_bind_int64(st, arg++, json_integer_value(v));
        } else if (json_is_real(v)) {
            sqlite3_bind_double(st, arg++, json_real_value(v));
        } else if (json_is_string(v)) {
            sqlite3_bind_text(st, arg++, json_string_value(v), (int)json_string_length(v),
                              SQLITE_TRANSIENT);
        } else if (json_is_null(v)) {
            sqlite3_bind_null(st, arg++);
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            sqlite3_bind_text(st, arg++, text ? text : "", -1, SQLITE_TRANSIENT);
            free(text);
        }
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        log_warn("rules: item for table %.*s dropped: %s", (int)tlen, table,
                 sqlite3_errmsg(p->db));
        sqlite3_exec(p->db, "ROLLBACK TO rule_row", NULL, NULL, NULL);
    }
    sqlite3_finalize(st);
    sqlite3_exec(p->db, "RELEASE rule_row", NULL, NULL, NULL);
    buf_free(&put);
}

/* Add an accumulator's counts to its (hour, client id) row. A failure
 * fails the batch, which is retried: counts are never lost or doubled. */
static int apply_usage_add(struct persist *p, const struct batch *b, const struct op *o)
{
    if (!p->usage_add &&
        sqlite3_prepare_v2(p->db, registry_usage_add_sql, -1, &p->usage_add, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    struct usage_counts c;
    if (o->b_len != sizeof c) return SQLITE_MISUSE;
    memcpy(&c, b->arena.data + o->b_off, sizeof c);
    sqlite3_bind_int64(p->usage_add, 1, (sqlite3_int64)o->id);
    bind_text(p->usage_add, 2, b, o->a_off, o->a_len);
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        sqlite3_bind_int64(p->usage_add, 3 + i, (sqlite3_int64)c.n[i]);
    return run(p->usage_add);
}

static int apply_op(struct persist *p, const struct batch *b, const struct op *o)
{
    sqlite3_stmt *st;
    switch (o->kind) {
    case OP_RETAIN_SET:
        st = p->stmt[S_RETAIN_SET];
        sqlite3_bind_text(st, 1, o->msg->topic, o->msg->topic_len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, o->msg->payload, (int)o->msg->payload_len, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, o->qos);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)o->id);
        return run(st);
    case OP_RETAIN_DEL:
        return run_client(p, S_RETAIN_DEL, b, o);
    case OP_SESSION_PUT:
        st = p->stmt[S_SESSION_PUT];
        bind_text(st, 1, b, o->a_off, o->a_len);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)o->id);
        return run(st);
    case OP_SESSION_DEL: {
        int rc = run_client(p, S_SESSION_DEL, b, o);
        if (!rc) rc = run_client(p, S_SESSION_DEL_SUBS, b, o);
        if (!rc) rc = run_client(p, S_SESSION_DEL_DLVS, b, o);
        if (!rc) rc = run_client(p, S_SESSION_DEL_IN2, b, o);
        return rc;
    }
    case OP_SUB_PUT:
        st = p->stmt[S_SUB_PUT];
        bind_text(st, 1, b, o->a_off, o->a_len);
        bind_text(st, 2, b, o->b_off, o->b_len);
        sqlite3_bind_int(st, 3, o->qos);
        return run(st);
    case OP_SUB_DEL:
        st = p->stmt[S_SUB_DEL];
        bind_text(st, 1, b, o->a_off, o->a_len);
        bind_text(st, 2, b, o->b_off, o->b_len);
        return run(st);
    case OP_MSG_PUT:
        st = p->stmt[S_MSG_PUT];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)o->id);
        sqlite3_bind_text(st, 2, o->msg->topic, o->msg->topic_len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, o->msg->payload, (int)o->msg->payload_len, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, o->qos);
        return run(st);
    case OP_MSG_DEL:
        st = p->stmt[S_MSG_DEL];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)o->id);
        return run(st);
    case OP_DLV_PUT:
        st = p->stmt[S_DLV_PUT];
        bind_text(st, 1, b, o->a_off, o->a_len);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)o->id);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)o->id2);
        sqlite3_bind_int(st, 4, o->qos);
        sqlite3_bind_int(st, 5, o->state);
        sqlite3_bind_int(st, 6, o->packet_id);
        sqlite3_bind_int(st, 7, o->is_retained);
        return run(st);
    case OP_DLV_DEL:
        st = p->stmt[S_DLV_DEL];
        bind_text(st, 1, b, o->a_off, o->a_len);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)o->id);
        return run(st);
    case OP_IN2_PUT:
    case OP_IN2_DEL:
        st = p->stmt[o->kind == OP_IN2_PUT ? S_IN2_PUT : S_IN2_DEL];
        bind_text(st, 1, b, o->a_off, o->a_len);
        sqlite3_bind_int(st, 2, o->packet_id);
        return run(st);
    case OP_SHADOW_PUT:
        st = p->stmt[S_SHADOW_PUT];
        bind_text(st, 1, b, o->a_off, o->a_len);
        bind_text(st, 2, b, o->b_off, o->b_len);
        return run(st);
    case OP_SHADOW_DEL:
        return run_client(p, S_SHADOW_DEL, b, o);
    case OP_RULE_ROW:
        apply_rule_row(p, b, o);
        return 0; /* a sink's failure never costs the broker's own state */
    case OP_USAGE_ADD:
        return apply_usage_add(p, b, o);
    }
    return SQLITE_MISUSE;
}

static int write_batch(struct persist *p, const struct batch *b)
{
    int rc = run(p->stmt[S_BEGIN]);
    for (size_t i = 0; !rc && i < b->nops; i++)
        rc = apply_op(p, b, &b->ops[i]);
    if (!rc) rc = run(p->stmt[S_COMMIT]);
    if (rc) {
        log_error("persist: commit failed: %s", sqlite3_errmsg(p->db));
        run(p->stmt[S_ROLLBACK]);
    }
    return rc;
}

static void writer_main(void *arg)
{
    struct persist *p = arg;
    uv_mutex_lock(&p->lock);
    for (;;) {
        while (!p->has_work && !p->stop)
            uv_cond_wait(&p->cond, &p->lock);
        if (!p->has_work && p->stop) break;
        struct batch *b = p->writing;
        uv_mutex_unlock(&p->lock);
        /* Timed here, not on the loop: BEGIN to COMMIT is what durability costs. */
        uint64_t began = uv_hrtime();
        int rc = write_batch(p, b);
        uint64_t took = uv_hrtime() - began;
        uv_mutex_lock(&p->lock);
        p->last_error = rc;
        p->write_ns = took;
        p->has_work = false;
        p->is_written = true;
        uv_async_send(p->done);
    }
    uv_mutex_unlock(&p->lock);
}

/* ---- loop side ---- */

static void hand_over(struct persist *p)
{
    struct batch *b = p->filling;
    p->filling = p->writing;
    p->filling->epoch = b->epoch + 1;
    p->writing = b;
    p->busy = true;
    uv_mutex_lock(&p->lock);
    p->has_work = true;
    p->is_written = false;
    uv_cond_signal(&p->cond);
    uv_mutex_unlock(&p->lock);
}

static void on_written(uv_async_t *h)
{
    struct persist *p = h->data;
    uv_mutex_lock(&p->lock);
    bool is_written = p->is_written;
    int err = p->last_error;
    uint64_t took = p->write_ns;
    p->is_written = false;
    uv_mutex_unlock(&p->lock);
    if (!is_written || !p->busy) return;
    p->busy = false;
    if (err) {
        /* Keep the batch and retry it with what was collected meanwhile:
         * nothing acknowledged on its behalf is released until it commits. */
        struct batch *w = p->writing, *f = p->filling;
        batch_merge(w, f);
        w->epoch = f->epoch;
        p->filling = w;
        p->writing = f;
        return;
    }
    p->committed = p->writing->epoch;
    p->last_commit_ns = took;
    batch_release(p->writing);
    if (p->on_commit) p->on_commit(p->ctx, p->committed);
}

int persist_open(struct persist **out, const char *path, bool sync_full)
{
    struct persist *p = calloc(1, sizeof *p);
    if (!p) return UMBRA_ENOMEM;
    p->filling = batch_new(1);
    p->writing = batch_new(0);
    if (!p->filling || !p->writing) goto nomem;
    if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        log_error("persist: cannot open %s: %s", path, p->db ? sqlite3_errmsg(p->db) : "?");
        goto fail;
    }
    sqlite3_busy_timeout(p->db, 5000);
    char *err = NULL;
    const char *pragmas = sync_full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    if (sqlite3_exec(p->db, pragmas, NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(p->db, schema_sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("persist: %s: %s", path, err ? err : sqlite3_errmsg(p->db));
        sqlite3_free(err);
        goto fail;
    }
    if (check_schema_version(p->db, path)) goto fail;
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v2(p->db, stmt_sql[i], -1, &p->stmt[i], NULL) != SQLITE_OK) {
            log_error("persist: %s", sqlite3_errmsg(p->db));
            goto fail;
        }
    }
    p->next_msg_id = 1;
    *out = p;
    return 0;
nomem:
    persist_close(p);
    return UMBRA_ENOMEM;
fail:
    persist_close(p);
    return UMBRA_EIO;
}

static int load_retained(struct persist *p, const struct persist_loader *l)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT topic, payload, qos FROM retained", -1, &st, NULL))
        return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = l->retained(l->ctx, (const char *)sqlite3_column_text(st, 0),
                         (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_blob(st, 1),
                         (size_t)sqlite3_column_bytes(st, 1), (uint8_t)sqlite3_column_int(st, 2));
    sqlite3_finalize(st);
    return rc;
}

static int load_messages(struct persist *p, const struct persist_loader *l)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT id, topic, payload, qos FROM messages ORDER BY id", -1,
                           &st, NULL))
        return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
        if (id >= p->next_msg_id) p->next_msg_id = id + 1;
        rc = l->message(l->ctx, id, (const char *)sqlite3_column_text(st, 1),
                        (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_blob(st, 2),
                        (size_t)sqlite3_column_bytes(st, 2), (uint8_t)sqlite3_column_int(st, 3));
    }
    sqlite3_finalize(st);
    return rc;
}

static int load_sessions(struct persist *p, const struct persist_loader *l)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT client_id, offline_since FROM sessions", -1, &st, NULL))
        return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = l->session(l->ctx, (const char *)sqlite3_column_text(st, 0),
                        (size_t)sqlite3_column_bytes(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc;
}

static int load_subscriptions(struct persist *p, const struct persist_loader *l)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT client_id, filter, qos FROM subscriptions", -1, &st,
                           NULL))
        return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = l->subscription(
            l->ctx, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
            (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1),
            (uint8_t)sqlite3_column_int(st, 2));
    sqlite3_finalize(st);
    return rc;
}

static int load_deliveries(struct persist *p, const struct persist_loader *l)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db,
                           "SELECT client_id, seq, msg_id, qos, state, packet_id, retained "
                           "FROM deliveries ORDER BY client_id, seq",
                           -1, &st, NULL))
        return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = l->delivery(l->ctx, (const char *)sqlite3_column_text(st, 0),
                         (size_t)sqlite3_column_bytes(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                         (uint64_t)sqlite3_column_int64(st, 2), (uint8_t)sqlite3_column_int(st, 3),
                         (uint8_t)sqlite3_column_int(st, 4), (uint16_t)sqlite3_column_int(st, 5),
                         sqlite3_column_int(st, 6) != 0);
    sqlite3_finalize(st);
    return rc;
}

static int load_incoming(struct persist *p, const struct persist_loader *l)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT client_id, packet_id FROM incoming_qos2", -1, &st, NULL))
        return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = l->incoming_qos2(l->ctx, (const char *)sqlite3_column_text(st, 0),
                              (size_t)sqlite3_column_bytes(st, 0),
                              (uint16_t)sqlite3_column_int(st, 1));
    sqlite3_finalize(st);
    return rc;
}

static int load_shadows(struct persist *p, const struct persist_loader *l)
{
    if (!l->shadow) return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(p->db, "SELECT key, doc FROM shadows", -1, &st, NULL)) return UMBRA_EIO;
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = l->shadow(
            l->ctx, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
            (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    sqlite3_finalize(st);
    return rc;
}

int persist_load(struct persist *p, const struct persist_loader *l)
{
    int rc = load_retained(p, l);
    if (!rc) rc = load_messages(p, l);
    if (!rc) rc = load_sessions(p, l);
    if (!rc) rc = load_subscriptions(p, l);
    if (!rc) rc = load_deliveries(p, l);
    if (!rc) rc = load_incoming(p, l);
    if (!rc) rc = load_shadows(p, l);
    /* Messages no delivery refers to any more are garbage from a crash
     * between a delivery's delete and its message's. */
    if (!rc)
        sqlite3_exec(p->db, "DELETE FROM messages WHERE id NOT IN (SELECT msg_id FROM deliveries)",
                     NULL, NULL, NULL);
    return rc;
}

int persist_start(struct persist *p, uv_loop_t *loop, persist_committed_fn fn, void *ctx)
{
    p->loop = loop;
    p->on_commit = fn;
    p->ctx = ctx;
    if (uv_mutex_init(&p->lock)) return UMBRA_ENOMEM;
    if (uv_cond_init(&p->cond)) {
        uv_mutex_destroy(&p->lock);
        return UMBRA_ENOMEM;
    }
    p->done = malloc(sizeof *p->done);
    if (!p->done) {
        uv_cond_destroy(&p->cond);
        uv_mutex_destroy(&p->lock);
        return UMBRA_ENOMEM;
    }
    uv_async_init(loop, p->done, on_written);
    p->done->data = p;
    if (uv_thread_create(&p->thread, writer_main, p)) {
        uv_close((uv_handle_t *)p->done, (uv_close_cb)free);
        p->done = NULL;
        uv_cond_destroy(&p->cond);
        uv_mutex_destroy(&p->lock);
        return UMBRA_ENOMEM;
    }
    p->started = true;
    return 0;
}

uint64_t persist_epoch(const struct persist *p)
{
    return p->filling->epoch;
}

uint64_t persist_last_commit_ns(const struct persist *p)
{
    return p->last_commit_ns;
}

uint64_t persist_committed(const struct persist *p)
{
    return p->committed;
}

uint64_t persist_op_count(const struct persist *p)
{
    return p->op_count;
}

void persist_flush(struct persist *p)
{
    if (!p->started || p->busy || p->filling->nops == 0) return;
    hand_over(p);
}

void persist_retain_set(struct persist *p, struct umbra_msg *m)
{
    struct op *o = op_add(p, OP_RETAIN_SET, NULL, 0, NULL, 0);
    if (!o) return;
    o->msg = msg_ref(m);
    o->qos = m->qos;
    o->id = now_ms() / 1000;
}

void persist_retain_del(struct persist *p, const char *topic, size_t len)
{
    op_add(p, OP_RETAIN_DEL, topic, len, NULL, 0);
}

void persist_session_put(struct persist *p, const char *client_id, size_t len,
                         uint64_t offline_since_ms)
{
    struct op *o = op_add(p, OP_SESSION_PUT, client_id, len, NULL, 0);
    if (o) o->id = offline_since_ms;
}

void persist_session_del(struct persist *p, const char *client_id, size_t len)
{
    op_add(p, OP_SESSION_DEL, client_id, len, NULL, 0);
}

void persist_sub_put(struct persist *p, const char *client_id, size_t len, const char *filter,
                     size_t filter_len, uint8_t qos)
{
    struct op *o = op_add(p, OP_SUB_PUT, client_id, len, filter, filter_len);
    if (o) o->qos = qos;
}

void persist_sub_del(struct persist *p, const char *client_id, size_t len, const char *filter,
                     size_t filter_len)
{
    op_add(p, OP_SUB_DEL, client_id, len, filter, filter_len);
}

void persist_msg_ref(struct persist *p, struct umbra_msg *m)
{
    if (m->persist_refs++ > 0) return;
    if (m->db_id == 0) m->db_id = p->next_msg_id++;
    struct op *o = op_add(p, OP_MSG_PUT, NULL, 0, NULL, 0);
    if (!o) return;
    o->msg = msg_ref(m);
    o->id = m->db_id;
    o->qos = m->qos;
}

void persist_msg_unref(struct persist *p, struct umbra_msg *m)
{
    if (m->persist_refs == 0 || --m->persist_refs > 0) return;
    struct op *o = op_add(p, OP_MSG_DEL, NULL, 0, NULL, 0);
    if (o) o->id = m->db_id;
}

void persist_delivery_put(struct persist *p, const char *client_id, size_t len, uint64_t seq,
                          const struct umbra_msg *m, uint8_t qos, uint8_t state, uint16_t packet_id,
                          bool is_retained)
{
    struct op *o = op_add(p, OP_DLV_PUT, client_id, len, NULL, 0);
    if (!o) return;
    o->id = seq;
    o->id2 = m->db_id;
    o->qos = qos;
    o->state = state;
    o->packet_id = packet_id;
    o->is_retained = is_retained;
}

void persist_delivery_del(struct persist *p, const char *client_id, size_t len, uint64_t seq)
{
    struct op *o = op_add(p, OP_DLV_DEL, client_id, len, NULL, 0);
    if (o) o->id = seq;
}

void persist_incoming_qos2(struct persist *p, const char *client_id, size_t len, uint16_t packet_id,
                           bool present)
{
    struct op *o = op_add(p, present ? OP_IN2_PUT : OP_IN2_DEL, client_id, len, NULL, 0);
    if (o) o->packet_id = packet_id;
}

void persist_shadow_put(struct persist *p, const char *key, size_t klen, const char *doc,
                        size_t dlen)
{
    op_add(p, OP_SHADOW_PUT, key, klen, doc, dlen);
}

void persist_shadow_del(struct persist *p, const char *key, size_t klen)
{
    op_add(p, OP_SHADOW_DEL, key, klen, NULL, 0);
}

void persist_usage_add(struct persist *p, uint64_t hour, const char *client_id, size_t len,
                       const struct usage_counts *counts)
{
    struct op *o = op_add(p, OP_USAGE_ADD, client_id, len, (const char *)counts, sizeof *counts);
    if (o) o->id = hour;
}

int persist_rule_row(struct persist *p, const char *table, size_t tlen, const char *row,
                     size_t rlen)
{
    if (p->filling->nops >= PERSIST_MAX_RULE_ROWS) return UMBRA_ELIMIT;
    return op_add(p, OP_RULE_ROW, table, tlen, row, rlen) ? 0 : UMBRA_ENOMEM;
}

static void wait_idle(struct persist *p)
{
    uv_mutex_lock(&p->lock);
    while (p->has_work) {
        uv_mutex_unlock(&p->lock);
        uv_sleep(1);
        uv_mutex_lock(&p->lock);
    }
    uv_mutex_unlock(&p->lock);
}

void persist_close(struct persist *p)
{
    if (!p) return;
    if (p->started) {
        wait_idle(p);
        uv_mutex_lock(&p->lock);
        p->stop = true;
        uv_cond_signal(&p->cond);
        uv_mutex_unlock(&p->lock);
        uv_thread_join(&p->thread);
        /* The writer is gone: write what is left on this thread. */
        if (p->writing && p->busy && p->last_error) write_batch(p, p->writing);
        if (p->filling && p->filling->nops) write_batch(p, p->filling);
        uv_close((uv_handle_t *)p->done, (uv_close_cb)free);
        p->done = NULL;
        uv_cond_destroy(&p->cond);
        uv_mutex_destroy(&p->lock);
    } else if (p->db && p->filling && p->filling->nops && p->stmt[S_COUNT - 1]) {
        write_batch(p, p->filling);
    }
    batch_free(p->filling);
    batch_free(p->writing);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(p->stmt[i]);
    sqlite3_finalize(p->usage_add);
    if (p->db) sqlite3_close(p->db);
    free(p);
}
