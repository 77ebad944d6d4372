/* error.c - names for Umbra's error codes. */
#include "error.h"

const char *umbra_strerror(int err)
{
    switch (err) {
    case UMBRA_OK:
        return "ok";
    case UMBRA_ENOMEM:
        return "out of memory";
    case UMBRA_EINVAL:
        return "invalid argument";
    case UMBRA_EMALFORMED:
        return "malformed packet";
    case UMBRA_EPROTO_NAME:
        return "bad protocol name";
    case UMBRA_EPROTO_LEVEL:
        return "unsupported protocol level";
    case UMBRA_ECLIENT_ID:
        return "client identifier rejected";
    case UMBRA_ETOO_LARGE:
        return "packet too large";
    case UMBRA_ETOPIC:
        return "invalid topic";
    case UMBRA_ELIMIT:
        return "limit reached";
    case UMBRA_ENOTFOUND:
        return "not found";
    case UMBRA_EEXIST:
        return "already exists";
    case UMBRA_EIO:
        return "I/O error";
    case UMBRA_EPROTOCOL:
        return "protocol violation";
    case UMBRA_ECONFIG:
        return "bad configuration";
    case UMBRA_EDENIED:
        return "not authorized";
    }
    return "unknown error";
}
