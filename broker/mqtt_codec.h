/*
 * mqtt_codec.h - MQTT 3.1.1 (and 3.1) packet codec.
 *
 * Sans-I/O: bytes in, structs out; structs in, bytes out. No sockets, no
 * libuv, no globals, and no allocation: decoded packets are views into the
 * caller's buffer and stay valid only as long as that buffer does.
 *
 * Decoding is two steps so a connection can work incrementally:
 *   1. mqtt_frame() finds one complete packet at the start of a buffer (or
 *      says how it is incomplete), checking the remaining length encoding
 *      and the maximum packet size before the body has even arrived;
 *   2. mqtt_decode() validates the body of that frame against the OASIS
 *      spec and fills a struct mqtt_packet.
 * Every malformed case is an error value, never undefined behaviour: all
 * reads go through a bounds-checked reader.
 *
 * Encoding functions work like snprintf: they return the number of bytes the
 * packet needs and write it only when `cap` is large enough.
 */
#ifndef UMBRA_MQTT_CODEC_H
#define UMBRA_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
};

/* CONNACK return codes (MQTT 3.1.1, 3.2.2.3). */
enum mqtt_connack_rc {
    MQTT_CONNACK_ACCEPTED = 0,
    MQTT_CONNACK_BAD_PROTOCOL = 1,
    MQTT_CONNACK_ID_REJECTED = 2,
    MQTT_CONNACK_UNAVAILABLE = 3,
    MQTT_CONNACK_BAD_CREDENTIALS = 4,
    MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

#define MQTT_SUBACK_FAILURE 0x80
#define MQTT_MAX_REMAINING_LENGTH 268435455u /* 4-byte varint maximum */
#define MQTT_MAX_HEADER_LEN 5                /* fixed header: 1 + up to 4 */

/* A length-prefixed string or blob inside a packet. Not NUL-terminated. */
struct mqtt_str {
    const char *ptr;
    uint16_t len;
};

struct mqtt_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* One packet located in a buffer by mqtt_frame(). */
struct mqtt_frame {
    uint8_t type;        /* enum mqtt_type; 0 and 15 are rejected */
    uint8_t flags;       /* low nibble of the first byte */
    const uint8_t *body; /* variable header + payload */
    size_t body_len;     /* the remaining length */
    size_t total_len;    /* fixed header + body: bytes to consume */
};

struct mqtt_connect {
    uint8_t protocol_level; /* 4 for 3.1.1, 3 for 3.1 */
    bool clean_session;
    uint16_t keepalive;
    struct mqtt_str client_id;
    bool has_will;
    uint8_t will_qos;
    bool will_retain;
    struct mqtt_str will_topic;
    struct mqtt_bytes will_payload;
    bool has_username;
    struct mqtt_str username;
    bool has_password;
    struct mqtt_bytes password;
};

struct mqtt_connack {
    bool session_present;
    uint8_t return_code;
};

struct mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    struct mqtt_str topic;
    uint16_t packet_id; /* 0 for QoS 0 */
    struct mqtt_bytes payload;
};

/*
 * SUBSCRIBE / UNSUBSCRIBE / SUBACK payloads are lists; decoding validates
 * every entry and leaves a view of the raw list, walked with the iterators
 * below, so a packet with thousands of filters needs no allocation.
 */
struct mqtt_subscribe {
    uint16_t packet_id;
    uint16_t count;         /* number of (filter, qos) entries, >= 1 */
    struct mqtt_bytes list; /* raw entries, already validated */
};

struct mqtt_unsubscribe {
    uint16_t packet_id;
    uint16_t count; /* number of filters, >= 1 */
    struct mqtt_bytes list;
};

struct mqtt_suback {
    uint16_t packet_id;
    struct mqtt_bytes return_codes; /* one byte per filter */
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet id only. */
struct mqtt_ack {
    uint16_t packet_id;
};

struct mqtt_packet {
    uint8_t type; /* enum mqtt_type */
    union {
        struct mqtt_connect connect;
        struct mqtt_connack connack;
        struct mqtt_publish publish;
        struct mqtt_subscribe subscribe;
        struct mqtt_unsubscribe unsubscribe;
        struct mqtt_suback suback;
        struct mqtt_ack ack;
    } u;
};

/*
 * Locate one packet at the start of buf[0..len).
 * Returns 1 and fills *frame when a whole packet is there; 0 when more bytes
 * are needed (*need, if not NULL, gets the total size when the header is
 * complete, else 0); or a negative UMBRA_E*:
 *   UMBRA_EMALFORMED  remaining length uses more than 4 bytes, type 0 or 15
 *   UMBRA_ETOO_LARGE  total packet size above max_packet (0 = no limit but
 *                     the protocol's)
 */
int mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_frame *frame,
               size_t *need);

/*
 * Validate and decode a framed packet. `pkt` borrows from frame->body.
 * Checks everything the spec makes a protocol violation, including reserved
 * fixed-header flag bits, UTF-8 validity and U+0000 in strings (MQTT-1.5.3),
 * QoS 3, packet id 0 where one is required, PUBLISH topic empty or holding
 * wildcards, SUBSCRIBE/UNSUBSCRIBE with no entries or invalid filters,
 * trailing bytes. Topic filters are checked for syntax only (mqtt_topic.h);
 * profile limits (length, levels) are applied by the broker.
 * Errors:
 *   UMBRA_EPROTO_NAME   CONNECT protocol name not "MQTT" (level 4) or
 *                       "MQIsdp" (level 3): answer CONNACK 1 and close
 *   UMBRA_EPROTO_LEVEL  known name, unsupported level: CONNACK 1 and close
 *   UMBRA_ECLIENT_ID    zero-length client id with clean session 0:
 *                       CONNACK 2 and close
 *   UMBRA_EMALFORMED    anything else: close without answer
 */
int mqtt_decode(const struct mqtt_frame *frame, struct mqtt_packet *pkt);

/* Iterators over a decoded SUBSCRIBE / UNSUBSCRIBE / SUBACK. */
struct mqtt_list_iter {
    const uint8_t *p, *end;
};
void mqtt_list_iter_init(struct mqtt_list_iter *it, const struct mqtt_bytes *list);
/* Return true and the next entry, or false at the end. */
bool mqtt_subscribe_next(struct mqtt_list_iter *it, struct mqtt_str *filter, uint8_t *qos);
bool mqtt_unsubscribe_next(struct mqtt_list_iter *it, struct mqtt_str *filter);

/* Remaining-length varint: bytes needed for n (1..4), and the encoder. */
size_t mqtt_varint_size(size_t n);
size_t mqtt_varint_encode(uint8_t *out, size_t n);

/*
 * Encoders. Each returns the full size of the packet and writes it to out
 * only when cap >= that size. They return 0 when the packet cannot be
 * represented (a string over 65535 bytes, a remaining length over
 * MQTT_MAX_REMAINING_LENGTH, a type the encoder does not handle).
 */
size_t mqtt_encode_connack(uint8_t *out, size_t cap, bool session_present, uint8_t rc);
/* PUBACK, PUBREC, PUBREL (flags 0b0010 added), PUBCOMP, UNSUBACK. */
size_t mqtt_encode_ack(uint8_t *out, size_t cap, enum mqtt_type type, uint16_t packet_id);
/* PINGREQ, PINGRESP, DISCONNECT. */
size_t mqtt_encode_empty(uint8_t *out, size_t cap, enum mqtt_type type);
size_t mqtt_encode_publish(uint8_t *out, size_t cap, const struct mqtt_publish *pub);
/*
 * The PUBLISH fixed header, topic and packet id without the payload, so the
 * broker can write one header per recipient and share the payload bytes.
 * The header is followed by exactly payload_len bytes of payload.
 */
size_t mqtt_encode_publish_header(uint8_t *out, size_t cap, const struct mqtt_publish *pub);
/* Offset of the packet id inside an encoded QoS>0 PUBLISH header. */
size_t mqtt_publish_packet_id_offset(const struct mqtt_publish *pub);
size_t mqtt_encode_suback(uint8_t *out, size_t cap, uint16_t packet_id, const uint8_t *rcs,
                          size_t count);
/* Client-side packets (for tests, the benchmark and bridges). */
size_t mqtt_encode_connect(uint8_t *out, size_t cap, const struct mqtt_connect *c);
struct mqtt_sub_req {
    const char *filter;
    uint8_t qos;
};
size_t mqtt_encode_subscribe(uint8_t *out, size_t cap, uint16_t packet_id,
                             const struct mqtt_sub_req *reqs, size_t count);
size_t mqtt_encode_unsubscribe(uint8_t *out, size_t cap, uint16_t packet_id,
                               const char *const *filters, size_t count);

/* Name of a packet type for logs ("PUBLISH"); "UNKNOWN" otherwise. */
const char *mqtt_type_name(int type);

#endif
