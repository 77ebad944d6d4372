/*
 * metrics_scrape.h - the broker's state as one Prometheus exposition.
 *
 * Reads struct umbra_stats and the server's tables (connections, sessions,
 * retained messages, rules) and the process's figures from /proc, at
 * scrape time: what costs a walk or a system call is paid by the scraper,
 * never by the message path. No sockets.
 *
 * Loop thread only.
 */
#ifndef UMBRA_METRICS_SCRAPE_H
#define UMBRA_METRICS_SCRAPE_H

#include "buf.h"

struct umbra_server;

/* Append the whole exposition to out. 0 or UMBRA_ENOMEM. */
int metrics_scrape(struct umbra_server *s, struct buf *out);

#endif
