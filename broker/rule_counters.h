/*
 * rule_counters.h - the running daemon's per-rule counters for umbractl:
 * DATA_DIR/rule-counters.json, {"pid": PID, "rules": {NAME: {"matched",
 * "succeeded", "failed", "dropped"}}}, rewritten (on the thread pool,
 * atomically) at most every 250 ms and only when a counter moved, so
 * `umbractl get-topic-rule` shows them under "umbraCounters" without a
 * connection to the daemon.
 *
 * Loop thread only.
 */
#ifndef UMBRA_RULE_COUNTERS_H
#define UMBRA_RULE_COUNTERS_H

struct umbra_server;

#define RULE_COUNTERS_FILE "rule-counters.json"

/* Write the file if a counter moved since the last write. */
void rule_counters_update(struct umbra_server *s);

/* The daemon stops: the file goes. */
void rule_counters_remove(struct umbra_server *s);

#endif
