/*
 * health.c - `umbractl health`: GET /healthz from the running umbrad.
 *
 * A health check runs every few seconds for the life of a container, so it
 * is one short request with a hard time limit, and its failure message says
 * what went wrong (no answer, or which status) because that is what
 * `docker inspect` shows the operator.
 */
#include "health.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_METRICS_URL "http://127.0.0.1:9883"
#define TIMEOUT_MS 3000L

/* The first line of a short answer, for the message when it is not 200. */
struct reply {
    char text[200];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t add = size * n, room = sizeof r->text - 1 - r->len;
    memcpy(r->text + r->len, p, add < room ? add : room);
    r->len += add < room ? add : room;
    r->text[r->len] = '\0';
    return add;
}

/* DATA_DIR/metrics-url's scheme and authority with /healthz as the path:
 * the file names the listener, whatever path it was written with. */
static int healthz_url(const char *data_dir, char *url, size_t cap)
{
    char path[4096], line[1024] = "";
    snprintf(path, sizeof path, "%s/metrics-url", data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, " \t\r\n")] = '\0';
    if (!line[0]) snprintf(line, sizeof line, "%s", DEFAULT_METRICS_URL);
    char *authority = strstr(line, "://");
    authority = authority ? authority + 3 : line;
    authority[strcspn(authority, "/?#")] = '\0';
    int n = snprintf(url, cap, "%s/healthz", line);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int health_check(const char *data_dir)
{
    char url[1100], ca[4096], errbuf[CURL_ERROR_SIZE] = "";
    if (healthz_url(data_dir, url, sizeof url)) {
        fprintf(stderr, "umbractl: %s/metrics-url is too long\n", data_dir);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) return 1;
    CURL *curl = curl_easy_init();
    if (!curl) {
        curl_global_cleanup();
        return 1;
    }
    struct reply r = {.len = 0};
    snprintf(ca, sizeof ca, "%s/ca.pem", data_dir);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    /* An https listener would carry a certificate from the data directory's CA. */
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    /* The daemon is local: a proxy from the environment must not intercept. */
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    if (cc != CURLE_OK) {
        fprintf(stderr, "umbractl: unhealthy: no answer from %s: %s\n", url,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return 1;
    }
    if (status != 200) {
        r.text[strcspn(r.text, "\r\n")] = '\0';
        fprintf(stderr, "umbractl: unhealthy: %s answered HTTP %ld%s%s\n", url, status,
                r.text[0] ? ": " : "", r.text);
        return 1;
    }
    puts("ok");
    return 0;
}
