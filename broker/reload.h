/*
 * reload.h - SIGHUP: read the configuration again and apply what can
 * change while clients stay connected.
 *
 * Applied live: the TLS server certificate and key (re-read from disk on
 * every reload, whether their paths changed or not), log level and format,
 * the session limits, packet size, connection count, timeouts, session
 * expiry, subscription limit and $SYS interval. The trust, policy and rule
 * caches are rebuilt from the registry. Listener addresses, profiles, the
 * data directory and the other keys are read once at start: a change to
 * one is logged as needing a restart and the running value stays.
 *
 * A configuration that does not parse or validate is refused as a whole
 * with one log line naming the file, the key and the reason; the running
 * one stays. Loop thread only.
 */
#ifndef UMBRA_RELOAD_H
#define UMBRA_RELOAD_H

struct umbra_server;

void reload_run(struct umbra_server *s);

#endif
