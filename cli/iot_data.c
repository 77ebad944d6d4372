/*
 * iot_data.c - GetThingShadow, UpdateThingShadow, DeleteThingShadow,
 * ListNamedShadowsForThing and Publish as HTTPS calls to umbrad.
 */
#include "iot_data.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct response {
    char *data;
    size_t len;
    char error_type[128]; /* x-amzn-ErrorType */
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t add = size * n;
    if (r->len + add > (64u << 20)) return 0; /* a broken server: stop */
    char *grown = realloc(r->data, r->len + add + 1);
    if (!grown) return 0;
    r->data = grown;
    memcpy(r->data + r->len, p, add);
    r->len += add;
    r->data[r->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t len = size * n;
    static const char name[] = "x-amzn-errortype:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1;
        size_t vl = len - (sizeof name - 1);
        while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        /* AWS appends ":http://internal..."; the name is what comes before. */
        const char *colon = memchr(v, ':', vl);
        if (colon) vl = (size_t)(colon - v);
        snprintf(r->error_type, sizeof r->error_type, "%.*s", (int)vl, v);
    }
    return len;
}

/* The daemon's URL: the flag, else what umbrad wrote into the data dir. */
static int endpoint(const char *data_dir, const char *flag, char *out, size_t cap)
{
    if (flag) {
        snprintf(out, cap, "%s", flag);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/endpoint-url", data_dir);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)cap, f)) {
        fprintf(stderr,
                "umbractl: %s not found: start umbrad (with its HTTPS listener) on this data "
                "directory, or pass --endpoint-url\n",
                path);
        if (f) fclose(f);
        return 1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* Append a percent-encoded path segment or query value (only -._~ and
 * alphanumerics kept, as botocore does). */
static int append_escaped(CURL *curl, char *url, size_t cap, const char *s)
{
    char *e = curl_easy_escape(curl, s, 0);
    if (!e) return -1;
    size_t n = strlen(url);
    int w = snprintf(url + n, cap - n, "%s", e);
    curl_free(e);
    return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

static int append(char *url, size_t cap, const char *s)
{
    size_t n = strlen(url);
    int w = snprintf(url + n, cap - n, "%s", s);
    return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

static const char *str(const json_t *req, const char *key)
{
    return json_string_value(json_object_get(req, key));
}

/* The request line and body of each operation, as botocore would send it. */
static int build(CURL *curl, const char *operation, const json_t *req, char *url, size_t cap,
                 const char **method, const char **body, size_t *body_len)
{
    const char *thing = str(req, "thingName"), *shadow = str(req, "shadowName");
    *body = NULL;
    *body_len = 0;
    int rc = 0;
    if (!strcmp(operation, "ListNamedShadowsForThing")) {
        *method = "GET";
        rc |= append(url, cap, "/api/things/shadow/ListNamedShadowsForThing/");
        rc |= append_escaped(curl, url, cap, thing);
        char sep = '?';
        if (str(req, "nextToken")) {
            rc |= append(url, cap, "?nextToken=");
            rc |= append_escaped(curl, url, cap, str(req, "nextToken"));
            sep = '&';
        }
        if (json_object_get(req, "pageSize")) {
            char q[32];
            snprintf(q, sizeof q, "%cpageSize=%lld", sep,
                     (long long)json_integer_value(json_object_get(req, "pageSize")));
            rc |= append(url, cap, q);
        }
        return rc;
    }
    if (!strcmp(operation, "Publish")) {
        *method = "POST";
        rc |= append(url, cap, "/topics/");
        rc |= append_escaped(curl, url, cap, str(req, "topic"));
        char q[64];
        snprintf(q, sizeof q, "?qos=%lld%s", (long long)json_integer_value(json_object_get(req, "qos")),
                 json_is_true(json_object_get(req, "retain")) ? "&retain=true" : "");
        rc |= append(url, cap, q);
    } else {
        *method = !strcmp(operation, "GetThingShadow")      ? "GET"
                  : !strcmp(operation, "DeleteThingShadow") ? "DELETE"
                                                            : "POST";
        rc |= append(url, cap, "/things/");
        rc |= append_escaped(curl, url, cap, thing);
        rc |= append(url, cap, "/shadow");
        if (shadow) {
            rc |= append(url, cap, "?name=");
            rc |= append_escaped(curl, url, cap, shadow);
        }
    }
    if (!strcmp(*method, "POST")) {
        *body = str(req, "payload") ? str(req, "payload") : "";
        *body_len = strlen(*body);
    }
    return rc;
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "umbractl: cannot write %s: %s\n", path, strerror(errno));
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) ? 1 : 0;
}

/* Print a JSON body the way the CLI prints responses: indented. */
static void print_json(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    char *pretty = o ? json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
    puts(pretty ? pretty : text);
    free(pretty);
    json_decref(o);
}

static int report_error(const char *operation, long status, const struct response *r)
{
    json_t *o = r->data ? json_loads(r->data, 0, NULL) : NULL;
    const char *message = json_string_value(json_object_get(o, "message"));
    char fallback[32];
    snprintf(fallback, sizeof fallback, "HTTP %ld", status);
    fprintf(stderr, "An error occurred (%s) when calling the %s operation: %s\n",
            r->error_type[0] ? r->error_type : "Unknown", operation, message ? message : fallback);
    json_decref(o);
    return 1;
}

int iot_data_run(const char *data_dir, const char *endpoint_url, const char *operation,
                 const json_t *req, const char *outfile)
{
    char url[8192];
    if (endpoint(data_dir, endpoint_url, url, sizeof url)) return 1;
    size_t base_len = strlen(url);
    while (base_len && url[base_len - 1] == '/') url[--base_len] = '\0';
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) return 1;
    CURL *curl = curl_easy_init();
    if (!curl) return 1;
    const char *method, *body;
    size_t body_len;
    if (build(curl, operation, req, url, sizeof url, &method, &body, &body_len)) {
        fprintf(stderr, "umbractl: request too long\n");
        curl_easy_cleanup(curl);
        return 2;
    }
    char ca[4096], cert[4096], key[4096], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(ca, sizeof ca, "%s/ca.pem", data_dir);
    snprintf(cert, sizeof cert, "%s/umbractl.pem", data_dir);
    snprintf(key, sizeof key, "%s/umbractl.key", data_dir);
    struct response r = {0};
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* send the body at once */
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
    /* The server certificate must come from this data directory's CA; its
     * names are the ones devices use, which need not include the address
     * umbractl reaches it on. */
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    int rc;
    if (cc != CURLE_OK) {
        url[base_len] = '\0';
        fprintf(stderr, "umbractl: cannot reach umbrad at %s: %s\n", url,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = 1;
    } else if (status != 200) {
        rc = report_error(operation, status, &r);
    } else if (outfile) {
        rc = write_file(outfile, r.data ? r.data : "", r.len);
    } else {
        if (!strcmp(operation, "ListNamedShadowsForThing") && r.data) print_json(r.data);
        rc = 0;
    }
    free(r.data);
    return rc;
}
