/*
 * error.h - Umbra's error codes.
 *
 * Functions return 0 on success and a negative UMBRA_E* value on failure, the
 * way libuv returns negative errno values. umbra_strerror() names them.
 */
#ifndef UMBRA_ERROR_H
#define UMBRA_ERROR_H

enum umbra_error {
    UMBRA_OK = 0,
    UMBRA_ENOMEM = -1,       /* allocation failed */
    UMBRA_EINVAL = -2,       /* bad argument */
    UMBRA_EMALFORMED = -3,   /* bytes do not form a valid packet */
    UMBRA_EPROTO_NAME = -4,  /* CONNECT protocol name is not MQTT / MQIsdp */
    UMBRA_EPROTO_LEVEL = -5, /* CONNECT protocol level not supported */
    UMBRA_ECLIENT_ID = -6,   /* client identifier rejected */
    UMBRA_ETOO_LARGE = -7,   /* packet above the configured maximum */
    UMBRA_ETOPIC = -8,       /* invalid topic name or filter */
    UMBRA_ELIMIT = -9,       /* a configured limit was reached */
    UMBRA_ENOTFOUND = -10,   /* no such item */
    UMBRA_EEXIST = -11,      /* item already exists */
    UMBRA_EIO = -12,         /* storage or system I/O failed */
    UMBRA_EPROTOCOL = -13,   /* valid packet, wrong at this point of the session */
    UMBRA_ECONFIG = -14,     /* bad configuration value */
    UMBRA_EDENIED = -15,     /* not authorized by the client's policies */
};

/* Static string, never freed. Unknown codes give "unknown error". */
const char *umbra_strerror(int err);

#endif
