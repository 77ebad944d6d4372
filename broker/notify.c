/* notify.c - the NOTIFY_SOCKET datagram (notify.h). */
#include "notify.h"

#include "error.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Fill addr from $NOTIFY_SOCKET; returns its length, 0 for none, -1 if unusable. */
static int notify_address(struct sockaddr_un *addr)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !*name) return 0;
    size_t len = strlen(name);
    /* systemd only ever hands out absolute paths and abstract names. */
    if ((name[0] != '/' && name[0] != '@') || len >= sizeof addr->sun_path) return -1;
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, name, len);
    /* An abstract name starts with a NUL and is exactly as long as given:
     * a trailing NUL would be part of it. */
    if (name[0] == '@') addr->sun_path[0] = '\0';
    return (int)(offsetof(struct sockaddr_un, sun_path) + len);
}

int notify_send(const char *state)
{
    struct sockaddr_un addr;
    int len = notify_address(&addr);
    if (len <= 0) return len == 0 ? 0 : UMBRA_EINVAL;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return UMBRA_EIO;
    size_t n = strlen(state);
    ssize_t sent =
        sendto(fd, state, n, MSG_NOSIGNAL, (const struct sockaddr *)&addr, (socklen_t)len);
    close(fd);
    return sent == (ssize_t)n ? 0 : UMBRA_EIO;
}

int notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char state[64];
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    return notify_send(state);
}
