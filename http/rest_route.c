/*
 * rest_route.c - AWS IoT data-plane paths to operations.
 *
 *   GET|POST|DELETE /things/{thingName}/shadow[?name=S]
 *   GET  /api/things/shadow/ListNamedShadowsForThing/{thingName}[?nextToken=&pageSize=]
 *   POST /topics/{topic}[?qos=N&retain=B]
 */
#include "rest_route.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long rest_percent_decode(const char *src, size_t len, char *dst, size_t cap)
{
    if (cap == 0) return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len) return -1; /* needs two more bytes */
            int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (n + 1 >= cap) return -1;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return (long)n;
}

static int bad(struct rest_route_error *err, int status, const char *exception,
               const char *message)
{
    *err = (struct rest_route_error){status, exception, message};
    return -1;
}

static int not_found(struct rest_route_error *err)
{
    return bad(err, 404, "ResourceNotFoundException", "Not Found");
}

static int not_allowed(struct rest_route_error *err)
{
    return bad(err, 405, "MethodNotAllowedException", "Method Not Allowed");
}

static int invalid(struct rest_route_error *err, const char *message)
{
    return bad(err, 400, "InvalidRequestException", message);
}

/* Decode one path segment into a name buffer; an empty one is refused. */
static int segment(const char *s, size_t len, char *dst, size_t cap)
{
    long n = rest_percent_decode(s, len, dst, cap);
    return n > 0 && (size_t)n == strlen(dst) ? 0 : -1;
}

static bool starts(const char *path, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(path, prefix, n) == 0;
}

/* One query parameter, already split: decode and store what the operation takes. */
static int query_param(struct rest_route *out, const char *k, size_t klen, const char *v,
                       size_t vlen, struct rest_route_error *err)
{
    char key[32], value[REST_MAX_NAME + 1];
    if (rest_percent_decode(k, klen, key, sizeof key) < 0)
        return 0; /* a long or odd key names nothing we take: ignored, as unknown ones are */
    if (rest_percent_decode(v, vlen, value, sizeof value) < 0)
        return invalid(err, "Invalid query parameter");
    bool is_shadow_op = out->op != REST_PUBLISH && out->op != REST_LIST_NAMED_SHADOWS;
    if (is_shadow_op && strcmp(key, "name") == 0) {
        if (!value[0]) return invalid(err, "Invalid shadow name");
        memcpy(out->shadow, value, strlen(value) + 1);
    } else if (out->op == REST_PUBLISH && strcmp(key, "qos") == 0) {
        if (strcmp(value, "0") && strcmp(value, "1")) return invalid(err, "Invalid qos");
        out->qos = value[0] - '0';
    } else if (out->op == REST_PUBLISH && strcmp(key, "retain") == 0) {
        if (strcmp(value, "true") == 0)
            out->is_retained = true;
        else if (strcmp(value, "false") == 0)
            out->is_retained = false;
        else
            return invalid(err, "Invalid retain");
    } else if (out->op == REST_LIST_NAMED_SHADOWS && strcmp(key, "nextToken") == 0) {
        memcpy(out->next_token, value, strlen(value) + 1);
    } else if (out->op == REST_LIST_NAMED_SHADOWS && strcmp(key, "pageSize") == 0) {
        char *end;
        long n = strtol(value, &end, 10);
        if (!value[0] || *end || n < 1 || n > 100) return invalid(err, "Invalid pageSize");
        out->page_size = (int)n;
    }
    return 0;
}

static int parse_query(struct rest_route *out, const char *q, size_t len,
                       struct rest_route_error *err)
{
    while (len) {
        const char *amp = memchr(q, '&', len);
        size_t plen = amp ? (size_t)(amp - q) : len;
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (klen && query_param(out, q, klen, eq ? eq + 1 : "", eq ? plen - klen - 1 : 0, err))
            return -1;
        if (!amp) break;
        len -= plen + 1;
        q = amp + 1;
    }
    return 0;
}

int rest_route(const char *method, const char *target, size_t len, struct rest_route *out,
               struct rest_route_error *err)
{
    memset(out, 0, sizeof *out);
    const char *qmark = memchr(target, '?', len);
    size_t plen = qmark ? (size_t)(qmark - target) : len;
    const char *path = target;
    bool is_get = strcmp(method, "GET") == 0, is_post = strcmp(method, "POST") == 0,
         is_delete = strcmp(method, "DELETE") == 0;

    if (starts(path, plen, "/things/")) {
        /* /things/{thingName}/shadow */
        const char *name = path + 8;
        const char *slash = memchr(name, '/', plen - 8);
        if (!slash || (size_t)(path + plen - slash) != 7 || memcmp(slash, "/shadow", 7) != 0)
            return not_found(err);
        if (is_get)
            out->op = REST_GET_THING_SHADOW;
        else if (is_post)
            out->op = REST_UPDATE_THING_SHADOW;
        else if (is_delete)
            out->op = REST_DELETE_THING_SHADOW;
        else
            return not_allowed(err);
        if (segment(name, (size_t)(slash - name), out->thing, sizeof out->thing))
            return invalid(err, "Invalid thing name");
    } else if (starts(path, plen, "/api/things/shadow/ListNamedShadowsForThing/")) {
        const char *name = path + 44;
        size_t nlen = plen - 44;
        if (!nlen || memchr(name, '/', nlen)) return not_found(err);
        if (!is_get) return not_allowed(err);
        out->op = REST_LIST_NAMED_SHADOWS;
        if (segment(name, nlen, out->thing, sizeof out->thing))
            return invalid(err, "Invalid thing name");
    } else if (starts(path, plen, "/topics/")) {
        if (!is_post) return not_allowed(err);
        out->op = REST_PUBLISH;
        /* The rest of the path is the topic, slashes and all. */
        long n = rest_percent_decode(path + 8, plen - 8, out->topic, sizeof out->topic);
        if (n <= 0) return invalid(err, n == 0 ? "Topic is missing" : "Invalid topic");
        out->topic_len = (size_t)n;
    } else {
        return not_found(err);
    }
    return qmark ? parse_query(out, qmark + 1, len - plen - 1, err) : 0;
}
