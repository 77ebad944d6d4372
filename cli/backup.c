/*
 * backup.c - umbractl backup: the database through SQLite's online backup
 * API, the key files by copy, into a directory renamed into place.
 *
 * The daemon keeps writing while the copy runs. The source connection
 * holds one read transaction from the first page to the last: in WAL mode
 * a reader never blocks the writer (its commits go on appending to the
 * WAL), and the copy is of one snapshot. Without that transaction,
 * sqlite3_backup_step would start over each time another process commits
 * between two steps, which under steady traffic is forever. The steps are
 * small, with a short sleep between them, so the copy's reads leave the
 * disk and a core to the daemon. Everything acknowledged before the
 * snapshot was committed before it, so it is in the copy.
 */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PAGES_PER_STEP 32 /* 128 KiB with SQLite's default 4 KiB pages */
#define DEFAULT_SLEEP_MS 2

/* What a restore needs beside the database (tls/pki.c makes them). */
static const char *const key_files[] = {"ca.pem",     "ca.key",       "server.pem",
                                        "server.key", "umbractl.pem", "umbractl.key"};
#define NKEY_FILES (sizeof key_files / sizeof key_files[0])

struct backup_opts {
    const char *dest;
    int pages_per_step;
    int sleep_ms;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: umbractl backup DEST [--pages-per-step N] [--sleep-ms N]\n\n"
            "Copy the data directory (--data-dir, before the command) to DEST, a new\n"
            "directory, while umbrad runs: umbra.db from one consistent snapshot, and the\n"
            "CA, server and umbractl keys and certificates. DEST is itself a data\n"
            "directory: restore by starting umbrad with --data-dir DEST, or by moving it\n"
            "into place while umbrad is stopped. The database is copied N pages at a time\n"
            "(default %d) with a pause of --sleep-ms between steps (default %d), to leave\n"
            "the disk to the daemon.\n",
            DEFAULT_PAGES_PER_STEP, DEFAULT_SLEEP_MS);
}

static int parse_int(const char *flag, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || *end || end == text || v < min || v > INT_MAX) {
        fprintf(stderr, "umbractl: %s expects a whole number of at least %d\n", flag, min);
        return 2;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct backup_opts *o)
{
    *o = (struct backup_opts){NULL, DEFAULT_PAGES_PER_STEP, DEFAULT_SLEEP_MS};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc;
        if (strcmp(a, "--pages-per-step") == 0) {
            if ((rc = parse_int(a, value, 1, &o->pages_per_step))) return rc;
            i++;
        } else if (strcmp(a, "--sleep-ms") == 0) {
            if ((rc = parse_int(a, value, 0, &o->sleep_ms))) return rc;
            i++;
        } else if (strncmp(a, "--", 2) == 0 || o->dest) {
            fprintf(stderr, "umbractl: backup: unknown option or extra argument '%s'\n", a);
            return 2;
        } else {
            o->dest = a;
        }
    }
    if (!o->dest || !*o->dest) {
        usage(stderr);
        return 2;
    }
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Copy src to dst (created, with src's permissions). Returns 0, 1 when src
 * does not exist, -1 on failure (errno set). */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno == ENOENT ? 1 : -1;
    struct stat st;
    int out = fstat(in, &st) == 0
                  ? open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777)
                  : -1;
    int rc = out < 0 ? -1 : 0;
    char buf[65536];
    while (rc == 0) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0 && errno == EINTR) continue;
        for (ssize_t off = 0; n > 0 && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                n = -1;
                break;
            }
            off += w;
        }
        if (n < 0) rc = -1;
    }
    if (rc == 0 && fsync(out) != 0) rc = -1;
    int saved = errno;
    if (out >= 0) close(out);
    close(in);
    errno = saved;
    return rc;
}

/* The online backup of src into dst (a new file), from one read snapshot. */
static int copy_database(const char *src_path, const char *dst_path, const struct backup_opts *o,
                         int *pages, char *err, size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    int rc = SQLITE_ERROR;
    /* No SQLITE_OPEN_CREATE: a mistyped --data-dir must not back up an empty database. */
    if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) goto out;
    sqlite3_busy_timeout(src, 5000);
    /* The snapshot: a read transaction that the steps below all share. */
    if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL) !=
        SQLITE_OK)
        goto out;
    if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        goto out;
    if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) goto out;
    for (;;) {
        rc = sqlite3_backup_step(b, o->pages_per_step);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
        sleep_ms(o->sleep_ms);
    }
    *pages = sqlite3_backup_pagecount(b);
    if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
        rc = SQLITE_ERROR;
        b = NULL;
        goto out;
    }
    b = NULL;
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    /* Read the copy back before calling it a backup. */
    sqlite3_stmt *st = NULL;
    rc = SQLITE_ERROR;
    if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW &&
        strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0)
        rc = SQLITE_OK;
    else
        snprintf(err, errlen, "the copy of %s fails its check", src_path);
    sqlite3_finalize(st);
out:
    if (rc != SQLITE_OK && !*err)
        snprintf(err, errlen, "%s: %s", src_path,
                 dst && sqlite3_errcode(dst) != SQLITE_OK ? sqlite3_errmsg(dst)
                 : src                                    ? sqlite3_errmsg(src)
                                                          : "cannot open");
    if (b) sqlite3_backup_finish(b);
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc == SQLITE_OK ? 0 : -1;
}

/* dir/name into out; -1 (ENAMETOOLONG) when it does not fit. */
static int join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Remove what a failed backup left in its temporary directory. */
static void remove_partial(const char *dir)
{
    char path[PATH_MAX];
    static const char *const extra[] = {"umbra.db", "umbra.db-journal", "umbra.db-wal",
                                        "umbra.db-shm"};
    for (size_t i = 0; i < NKEY_FILES; i++)
        if (join(path, sizeof path, dir, key_files[i]) == 0) unlink(path);
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (join(path, sizeof path, dir, extra[i]) == 0) unlink(path);
    rmdir(dir);
}

/* The parent directory of path, for fsync after the rename. */
static void parent_of(const char *path, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s", path) >= (int)cap) out[0] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

static int fill(const char *data_dir, const char *tmp, const struct backup_opts *o, json_t *report)
{
    char src[PATH_MAX], dst[PATH_MAX], err[PATH_MAX + 256] = "";
    json_t *files = json_array();
    json_object_set_new(report, "files", files);
    for (size_t i = 0; i < NKEY_FILES; i++) {
        int rc = join(src, sizeof src, data_dir, key_files[i]) ||
                         join(dst, sizeof dst, tmp, key_files[i])
                     ? -1
                     : copy_file(src, dst);
        if (rc < 0) {
            fprintf(stderr, "umbractl: backup: cannot copy %s: %s\n", src, strerror(errno));
            return 1;
        }
        if (rc == 0) json_array_append_new(files, json_string(key_files[i]));
    }
    int pages = 0;
    if (join(src, sizeof src, data_dir, "umbra.db") || join(dst, sizeof dst, tmp, "umbra.db") ||
        copy_database(src, dst, o, &pages, err, sizeof err) || fsync_path(dst, O_RDONLY)) {
        fprintf(stderr, "umbractl: backup: %s\n", *err ? err : strerror(errno));
        return 1;
    }
    json_array_append_new(files, json_string("umbra.db"));
    json_object_set_new(report, "databasePages", json_integer(pages));
    return 0;
}

int backup_main(const char *data_dir, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    struct backup_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    struct stat st;
    if (lstat(o.dest, &st) == 0 || errno != ENOENT) {
        fprintf(stderr, "umbractl: backup: %s already exists; give a new directory\n", o.dest);
        return 1;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.partial-XXXXXX", o.dest) >= (int)sizeof tmp ||
        !mkdtemp(tmp)) {
        fprintf(stderr, "umbractl: backup: cannot create a directory beside %s: %s\n", o.dest,
                strerror(errno));
        return 1;
    }
    json_t *report = json_pack("{s:s}", "backup", o.dest);
    rc = fill(data_dir, tmp, &o, report);
    char parent[PATH_MAX];
    parent_of(o.dest, parent, sizeof parent);
    if (!rc && (fsync_path(tmp, O_RDONLY | O_DIRECTORY) || rename(tmp, o.dest) ||
                fsync_path(parent, O_RDONLY | O_DIRECTORY))) {
        fprintf(stderr, "umbractl: backup: cannot move the copy to %s: %s\n", o.dest,
                strerror(errno));
        rc = 1;
    }
    if (rc) {
        remove_partial(tmp);
        json_decref(report);
        return rc;
    }
    char *text = json_dumps(report, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    if (text) puts(text);
    free(text);
    json_decref(report);
    return 0;
}
