/*
 * sql_from.c - which topics a rule's FROM filter takes.
 */
#include "sql.h"

#include <string.h>

/*
 * FROM's filter against a topic: MQTT's + and # (which also matches its
 * parent level), but a leading wildcard takes $aws/... topics too: the
 * lecture's "SELECT * FROM '#'" rule stores a device's shadow updates.
 */
bool sql_from_matches(const char *f, size_t flen, const char *t, size_t tlen)
{
    const char *fe = f + flen, *te = t + tlen;
    for (;;) {
        const char *fl = memchr(f, '/', (size_t)(fe - f)), *tl = memchr(t, '/', (size_t)(te - t));
        size_t fn = (size_t)((fl ? fl : fe) - f), tn = (size_t)((tl ? tl : te) - t);
        if (fn == 1 && *f == '#') return true;
        if (!(fn == 1 && *f == '+') && (fn != tn || memcmp(f, t, fn) != 0)) return false;
        if (!fl || !tl) {
            /* "a/#" also matches "a" */
            return !fl && !tl ? true : fl && !tl && fe - fl == 2 && fl[1] == '#';
        }
        f = fl + 1;
        t = tl + 1;
    }
}
