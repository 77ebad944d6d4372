/*
 * notify.h - telling the service manager how the daemon is doing, with
 * the protocol of systemd's sd_notify(3): one datagram of "KEY=VALUE"
 * lines to the AF_UNIX socket that $NOTIFY_SOCKET names (a path, or
 * "@name" for an abstract socket). A few lines of C instead of libsystemd,
 * so the daemon links nothing more and runs the same under any supervisor:
 * without the variable nothing is sent.
 *
 * The states umbrad sends: READY=1 once its listeners accept connections,
 * RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 when it stops.
 */
#ifndef UMBRA_NOTIFY_H
#define UMBRA_NOTIFY_H

/*
 * Send state (e.g. "READY=1\nSTATUS=serving"). Returns 0, also when
 * $NOTIFY_SOCKET is unset or empty; UMBRA_EINVAL when it names no usable
 * socket; UMBRA_EIO when the datagram could not be sent.
 */
int notify_send(const char *state);

/* "RELOADING=1" with the MONOTONIC_USEC= that Type=notify-reload wants. */
int notify_reloading(void);

#endif
