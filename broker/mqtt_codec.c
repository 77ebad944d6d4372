/*
 * mqtt_codec.c - MQTT 3.1.1 (and 3.1) packet framing, decoding and encoding.
 *
 * Sans-I/O and allocation-free (see mqtt_codec.h). Decoding reads through
 * struct rd, a bounds-checked cursor whose every read fails cleanly when the
 * bytes run out, so no malformed packet can make us index past the frame.
 * Encoding computes the exact size first and writes only into a buffer known
 * to be large enough, so the writer needs no checks.
 *
 * Remaining lengths in non-minimal form (0x80 0x00 for 0) are accepted:
 * MQTT 3.1.1 does not forbid them (only MQTT 5 does), and nothing here
 * depends on the header size being minimal.
 */
#include "mqtt_codec.h"

#include <string.h>

#include "error.h"
#include "mqtt_topic.h"

/* ---- Bounds-checked reader --------------------------------------------- */

struct rd {
    const uint8_t *p, *end;
};

static inline size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

static inline bool rd_u8(struct rd *r, uint8_t *v)
{
    if (r->p >= r->end) return false;
    *v = *r->p++;
    return true;
}

static inline bool rd_u16(struct rd *r, uint16_t *v)
{
    if (rd_left(r) < 2) return false;
    *v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return true;
}

static inline bool rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
    if (rd_left(r) < n) return false;
    *out = r->p;
    r->p += n;
    return true;
}

/* A 2-byte length followed by that many bytes (strings and binary data). */
static inline bool rd_str(struct rd *r, struct mqtt_str *s)
{
    const uint8_t *p;
    if (!rd_u16(r, &s->len) || !rd_bytes(r, s->len, &p)) return false;
    s->ptr = (const char *)p;
    return true;
}

static inline bool rd_blob(struct rd *r, struct mqtt_bytes *b)
{
    uint16_t len;
    if (!rd_u16(r, &len) || !rd_bytes(r, len, &b->ptr)) return false;
    b->len = len;
    return true;
}

/* ---- Writer (callers have checked the capacity) ------------------------ */

struct wr {
    uint8_t *p;
};

static inline void wr_u8(struct wr *w, uint8_t v)
{
    *w->p++ = v;
}

static inline void wr_u16(struct wr *w, uint16_t v)
{
    w->p[0] = (uint8_t)(v >> 8);
    w->p[1] = (uint8_t)v;
    w->p += 2;
}

static inline void wr_raw(struct wr *w, const void *src, size_t n)
{
    if (n > 0) memcpy(w->p, src, n);
    w->p += n;
}

static inline void wr_str(struct wr *w, const void *src, size_t n)
{
    wr_u16(w, (uint16_t)n);
    wr_raw(w, src, n);
}

/* Fixed header: type/flags byte and remaining length. */
static inline void wr_header(struct wr *w, uint8_t first, size_t remaining)
{
    wr_u8(w, first);
    w->p += mqtt_varint_encode(w->p, remaining);
}

/* Total packet size for a remaining length, or 0 if it cannot be encoded. */
static inline size_t packet_size(size_t remaining)
{
    if (remaining > MQTT_MAX_REMAINING_LENGTH) return 0;
    return 1 + mqtt_varint_size(remaining) + remaining;
}

/* ---- Framing ----------------------------------------------------------- */

int mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_frame *frame,
               size_t *need)
{
    size_t remaining = 0, i;

    if (need) *need = 0;
    if (len == 0) return 0;

    uint8_t type = buf[0] >> 4;
    if (type == 0 || type == 15) return UMBRA_EMALFORMED;

    /* Remaining length: 7 bits per byte, least significant group first. */
    for (i = 1;; i++) {
        if (i >= len) return 0;
        uint8_t b = buf[i];
        remaining |= (size_t)(b & 0x7F) << (7 * (i - 1));
        if (!(b & 0x80)) break;
        if (i == 4) return UMBRA_EMALFORMED; /* a fifth byte would follow */
    }

    /* Known now, before the body arrives: refuse oversized packets early. */
    size_t total = i + 1 + remaining;
    if (max_packet != 0 && total > max_packet) return UMBRA_ETOO_LARGE;
    if (len < total) {
        if (need) *need = total;
        return 0;
    }
    frame->type = type;
    frame->flags = buf[0] & 0x0F;
    frame->body = buf + i + 1;
    frame->body_len = remaining;
    frame->total_len = total;
    return 1;
}

/* ---- Decoding ---------------------------------------------------------- */

static bool str_is(const struct mqtt_str *s, const char *lit, size_t n)
{
    return s->len == n && memcmp(s->ptr, lit, n) == 0;
}

static int decode_connect(struct rd *r, struct mqtt_connect *c)
{
    struct mqtt_str proto;
    uint8_t flags;

    *c = (struct mqtt_connect){0};

    /*
     * Name and level first and on their own: a client speaking another
     * version (MQTT 5 sends level 5 and a different layout after it) must get
     * CONNACK 1, not a silent close for failing to parse the rest.
     */
    if (!rd_str(r, &proto) || !rd_u8(r, &c->protocol_level)) return UMBRA_EMALFORMED;
    if (str_is(&proto, "MQTT", 4)) {
        if (c->protocol_level != 4) return UMBRA_EPROTO_LEVEL;
    } else if (str_is(&proto, "MQIsdp", 6)) {
        if (c->protocol_level != 3) return UMBRA_EPROTO_LEVEL;
    } else {
        return UMBRA_EPROTO_NAME;
    }

    if (!rd_u8(r, &flags) || !rd_u16(r, &c->keepalive)) return UMBRA_EMALFORMED;
    if (flags & 0x01) return UMBRA_EMALFORMED; /* MQTT-3.1.2-3: reserved bit */
    c->clean_session = flags & 0x02;
    c->has_will = flags & 0x04;
    c->will_qos = (flags >> 3) & 0x03;
    c->will_retain = flags & 0x20;
    c->has_password = flags & 0x40;
    c->has_username = flags & 0x80;
    if (!c->has_will && (c->will_qos != 0 || c->will_retain)) return UMBRA_EMALFORMED;
    if (c->will_qos == 3) return UMBRA_EMALFORMED;
    if (c->has_password && !c->has_username) return UMBRA_EMALFORMED; /* MQTT-3.1.2-22 */

    /* Payload, in the order the flags announce it. */
    if (!rd_str(r, &c->client_id) || !mqtt_utf8_valid(c->client_id.ptr, c->client_id.len))
        return UMBRA_EMALFORMED;
    if (c->has_will) {
        if (!rd_str(r, &c->will_topic) ||
            !mqtt_topic_name_valid(c->will_topic.ptr, c->will_topic.len) ||
            !rd_blob(r, &c->will_payload))
            return UMBRA_EMALFORMED;
    }
    if (c->has_username) {
        if (!rd_str(r, &c->username) || !mqtt_utf8_valid(c->username.ptr, c->username.len))
            return UMBRA_EMALFORMED;
    }
    if (c->has_password && !rd_blob(r, &c->password)) return UMBRA_EMALFORMED;
    if (rd_left(r) != 0) return UMBRA_EMALFORMED;

    /* Last, so a malformed packet is closed rather than answered. */
    if (c->client_id.len == 0 && !c->clean_session) return UMBRA_ECLIENT_ID;
    return 0;
}

static int decode_connack(struct rd *r, struct mqtt_connack *ca)
{
    uint8_t ack_flags, rc;

    if (!rd_u8(r, &ack_flags) || !rd_u8(r, &rc) || rd_left(r) != 0) return UMBRA_EMALFORMED;
    if (ack_flags & 0xFE) return UMBRA_EMALFORMED; /* MQTT-3.2.2-1 */
    if (rc > MQTT_CONNACK_NOT_AUTHORIZED) return UMBRA_EMALFORMED;
    if (rc != 0 && (ack_flags & 0x01)) return UMBRA_EMALFORMED; /* MQTT-3.2.2-4 */
    ca->session_present = ack_flags & 0x01;
    ca->return_code = rc;
    return 0;
}

/* The hot path: keep it to the checks the spec requires. */
static int decode_publish(struct rd *r, uint8_t flags, struct mqtt_publish *p)
{
    p->dup = flags & 0x08;
    p->qos = (flags >> 1) & 0x03;
    p->retain = flags & 0x01;
    if (p->qos == 3) return UMBRA_EMALFORMED;           /* MQTT-3.3.1-4 */
    if (p->qos == 0 && p->dup) return UMBRA_EMALFORMED; /* MQTT-3.3.1-2 */

    if (!rd_str(r, &p->topic) || !mqtt_topic_name_valid(p->topic.ptr, p->topic.len))
        return UMBRA_EMALFORMED;
    p->packet_id = 0;
    if (p->qos > 0 && (!rd_u16(r, &p->packet_id) || p->packet_id == 0)) return UMBRA_EMALFORMED;
    p->payload.ptr = r->p;
    p->payload.len = rd_left(r);
    return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK. */
static int decode_ack(struct rd *r, struct mqtt_ack *a)
{
    if (!rd_u16(r, &a->packet_id) || rd_left(r) != 0) return UMBRA_EMALFORMED;
    return a->packet_id != 0 ? 0 : UMBRA_EMALFORMED;
}

/*
 * SUBSCRIBE (with_qos) and UNSUBSCRIBE share a layout: a packet id and a
 * non-empty list of filters, each followed by a requested QoS for
 * SUBSCRIBE. Every entry is validated here so the iterators can trust it.
 */
static int decode_filter_list(struct rd *r, bool with_qos, uint16_t *packet_id, uint16_t *count,
                              struct mqtt_bytes *list)
{
    size_t n = 0;

    if (!rd_u16(r, packet_id) || *packet_id == 0) return UMBRA_EMALFORMED;
    list->ptr = r->p;
    list->len = rd_left(r);
    while (rd_left(r) > 0) {
        struct mqtt_str filter;
        uint8_t qos;
        if (!rd_str(r, &filter) || !mqtt_topic_filter_valid(filter.ptr, filter.len))
            return UMBRA_EMALFORMED;
        /* MQTT-3.8.3-4: upper six bits reserved, QoS 3 invalid. */
        if (with_qos && (!rd_u8(r, &qos) || qos > 2)) return UMBRA_EMALFORMED;
        /* count is 16 bits; more entries than that only fit a huge packet. */
        if (++n > UINT16_MAX) return UMBRA_EMALFORMED;
    }
    if (n == 0) return UMBRA_EMALFORMED; /* MQTT-3.8.3-3, MQTT-3.10.3-2 */
    *count = (uint16_t)n;
    return 0;
}

static int decode_suback(struct rd *r, struct mqtt_suback *s)
{
    if (!rd_u16(r, &s->packet_id) || s->packet_id == 0) return UMBRA_EMALFORMED;
    s->return_codes.ptr = r->p;
    s->return_codes.len = rd_left(r);
    if (s->return_codes.len == 0) return UMBRA_EMALFORMED;
    for (const uint8_t *p = r->p; p < r->end; p++)
        if (*p > 2 && *p != MQTT_SUBACK_FAILURE) return UMBRA_EMALFORMED;
    return 0;
}

/* Required low nibble of the first byte for every type but PUBLISH. */
static uint8_t required_flags(uint8_t type)
{
    return type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE ? 0x2 : 0x0;
}

int mqtt_decode(const struct mqtt_frame *frame, struct mqtt_packet *pkt)
{
    struct rd r = {frame->body, frame->body + frame->body_len};
    uint8_t type = frame->type;

    pkt->type = type;
    if (type == MQTT_PUBLISH) return decode_publish(&r, frame->flags, &pkt->u.publish);
    if (type < MQTT_CONNECT || type > MQTT_DISCONNECT) return UMBRA_EMALFORMED;
    if (frame->flags != required_flags(type)) return UMBRA_EMALFORMED; /* MQTT-2.2.2-1 */

    switch (type) {
    case MQTT_CONNECT:
        return decode_connect(&r, &pkt->u.connect);
    case MQTT_CONNACK:
        return decode_connack(&r, &pkt->u.connack);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        return decode_ack(&r, &pkt->u.ack);
    case MQTT_SUBSCRIBE:
        return decode_filter_list(&r, true, &pkt->u.subscribe.packet_id, &pkt->u.subscribe.count,
                                  &pkt->u.subscribe.list);
    case MQTT_UNSUBSCRIBE:
        return decode_filter_list(&r, false, &pkt->u.unsubscribe.packet_id,
                                  &pkt->u.unsubscribe.count, &pkt->u.unsubscribe.list);
    case MQTT_SUBACK:
        return decode_suback(&r, &pkt->u.suback);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
    case MQTT_DISCONNECT:
        return rd_left(&r) == 0 ? 0 : UMBRA_EMALFORMED;
    }
    return UMBRA_EMALFORMED;
}

/* ---- List iterators ---------------------------------------------------- */

void mqtt_list_iter_init(struct mqtt_list_iter *it, const struct mqtt_bytes *list)
{
    it->p = list->ptr;
    it->end = list->ptr + list->len;
}

/*
 * The lists were validated by mqtt_decode(); the iterators still read
 * through struct rd so a list that was not (a caller bug) ends early
 * instead of being read out of bounds.
 */
static bool list_next(struct mqtt_list_iter *it, struct mqtt_str *filter, uint8_t *qos)
{
    struct rd r = {it->p, it->end};
    if (!rd_str(&r, filter)) return false;
    if (qos && !rd_u8(&r, qos)) return false;
    it->p = r.p;
    return true;
}

bool mqtt_subscribe_next(struct mqtt_list_iter *it, struct mqtt_str *filter, uint8_t *qos)
{
    return list_next(it, filter, qos);
}

bool mqtt_unsubscribe_next(struct mqtt_list_iter *it, struct mqtt_str *filter)
{
    return list_next(it, filter, NULL);
}

/* ---- Varint ------------------------------------------------------------ */

size_t mqtt_varint_size(size_t n)
{
    if (n < 128) return 1;
    if (n < 16384) return 2;
    if (n < 2097152) return 3;
    return 4;
}

size_t mqtt_varint_encode(uint8_t *out, size_t n)
{
    size_t i = 0;
    do {
        uint8_t b = n & 0x7F;
        n >>= 7;
        out[i++] = n ? (uint8_t)(b | 0x80) : b;
    } while (n && i < 4);
    return i;
}

/* ---- Encoders ----------------------------------------------------------
 *
 * Each returns the packet size, or 0 when the arguments cannot form a packet
 * (a string over 65535 bytes, a remaining length over 268435455, a type the
 * encoder does not handle). 0 never claims to have written anything.
 */

size_t mqtt_encode_connack(uint8_t *out, size_t cap, bool session_present, uint8_t rc)
{
    if (cap >= 4) {
        out[0] = MQTT_CONNACK << 4;
        out[1] = 2;
        out[2] = session_present ? 1 : 0;
        out[3] = rc;
    }
    return 4;
}

size_t mqtt_encode_ack(uint8_t *out, size_t cap, enum mqtt_type type, uint16_t packet_id)
{
    if (type != MQTT_PUBACK && type != MQTT_PUBREC && type != MQTT_PUBREL && type != MQTT_PUBCOMP &&
        type != MQTT_UNSUBACK)
        return 0;
    if (cap >= 4) {
        out[0] = (uint8_t)(type << 4 | required_flags((uint8_t)type));
        out[1] = 2;
        out[2] = (uint8_t)(packet_id >> 8);
        out[3] = (uint8_t)packet_id;
    }
    return 4;
}

size_t mqtt_encode_empty(uint8_t *out, size_t cap, enum mqtt_type type)
{
    if (type != MQTT_PINGREQ && type != MQTT_PINGRESP && type != MQTT_DISCONNECT) return 0;
    if (cap >= 2) {
        out[0] = (uint8_t)(type << 4);
        out[1] = 0;
    }
    return 2;
}

/* Remaining length of a PUBLISH: topic, packet id and payload. */
static size_t publish_remaining(const struct mqtt_publish *pub)
{
    return 2 + (size_t)pub->topic.len + (pub->qos ? 2 : 0) + pub->payload.len;
}

static uint8_t publish_first_byte(const struct mqtt_publish *pub)
{
    return (uint8_t)(MQTT_PUBLISH << 4 | (pub->dup ? 0x08 : 0) | (pub->qos & 0x03) << 1 |
                     (pub->retain ? 0x01 : 0));
}

/* Size of the PUBLISH header (everything but the payload), or 0 if too large. */
static size_t publish_header_size(const struct mqtt_publish *pub, size_t *remaining)
{
    *remaining = publish_remaining(pub);
    if (*remaining > MQTT_MAX_REMAINING_LENGTH || *remaining < pub->payload.len) return 0;
    return 1 + mqtt_varint_size(*remaining) + *remaining - pub->payload.len;
}

static void write_publish_header(uint8_t *out, const struct mqtt_publish *pub, size_t remaining)
{
    struct wr w = {out};
    wr_header(&w, publish_first_byte(pub), remaining);
    wr_str(&w, pub->topic.ptr, pub->topic.len);
    if (pub->qos) wr_u16(&w, pub->packet_id);
}

size_t mqtt_encode_publish_header(uint8_t *out, size_t cap, const struct mqtt_publish *pub)
{
    size_t remaining, size = publish_header_size(pub, &remaining);
    if (size != 0 && cap >= size) write_publish_header(out, pub, remaining);
    return size;
}

size_t mqtt_encode_publish(uint8_t *out, size_t cap, const struct mqtt_publish *pub)
{
    size_t remaining, header = publish_header_size(pub, &remaining);
    if (header == 0) return 0;
    size_t size = header + pub->payload.len;
    if (cap >= size) {
        write_publish_header(out, pub, remaining);
        if (pub->payload.len > 0) memcpy(out + header, pub->payload.ptr, pub->payload.len);
    }
    return size;
}

size_t mqtt_publish_packet_id_offset(const struct mqtt_publish *pub)
{
    if (pub->qos == 0) return 0; /* no packet id */
    return 1 + mqtt_varint_size(publish_remaining(pub)) + 2 + pub->topic.len;
}

size_t mqtt_encode_suback(uint8_t *out, size_t cap, uint16_t packet_id, const uint8_t *rcs,
                          size_t count)
{
    if (count > MQTT_MAX_REMAINING_LENGTH) return 0; /* before 2 + count can wrap */
    size_t size = packet_size(2 + count);
    if (size == 0) return 0;
    if (cap >= size) {
        struct wr w = {out};
        wr_header(&w, MQTT_SUBACK << 4, 2 + count);
        wr_u16(&w, packet_id);
        wr_raw(&w, rcs, count);
    }
    return size;
}

size_t mqtt_encode_connect(uint8_t *out, size_t cap, const struct mqtt_connect *c)
{
    bool v31 = c->protocol_level == 3;
    const char *proto = v31 ? "MQIsdp" : "MQTT";
    size_t proto_len = v31 ? 6 : 4;

    if ((c->has_will && c->will_payload.len > UINT16_MAX) ||
        (c->has_password && c->password.len > UINT16_MAX))
        return 0;

    /* Variable header: name, level, flags, keepalive. */
    size_t remaining = 2 + proto_len + 1 + 1 + 2 + 2 + c->client_id.len;
    uint8_t flags = c->clean_session ? 0x02 : 0;
    if (c->has_will) {
        flags |= (uint8_t)(0x04 | (c->will_qos & 0x03) << 3 | (c->will_retain ? 0x20 : 0));
        remaining += 2 + c->will_topic.len + 2 + c->will_payload.len;
    }
    if (c->has_username) {
        flags |= 0x80;
        remaining += 2 + c->username.len;
    }
    if (c->has_password) {
        flags |= 0x40;
        remaining += 2 + c->password.len;
    }

    size_t size = packet_size(remaining);
    if (size != 0 && cap >= size) {
        struct wr w = {out};
        wr_header(&w, MQTT_CONNECT << 4, remaining);
        wr_str(&w, proto, proto_len);
        wr_u8(&w, v31 ? 3 : 4);
        wr_u8(&w, flags);
        wr_u16(&w, c->keepalive);
        wr_str(&w, c->client_id.ptr, c->client_id.len);
        if (c->has_will) {
            wr_str(&w, c->will_topic.ptr, c->will_topic.len);
            wr_str(&w, c->will_payload.ptr, c->will_payload.len);
        }
        if (c->has_username) wr_str(&w, c->username.ptr, c->username.len);
        if (c->has_password) wr_str(&w, c->password.ptr, c->password.len);
    }
    return size;
}

/*
 * SUBSCRIBE and UNSUBSCRIBE from NUL-terminated filters. Two passes over the
 * list (size, then bytes); both go through the same strlen calls.
 */
static size_t encode_filter_list(uint8_t *out, size_t cap, uint8_t first, uint16_t packet_id,
                                 const struct mqtt_sub_req *reqs, const char *const *filters,
                                 size_t count)
{
    size_t remaining = 2;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(reqs ? reqs[i].filter : filters[i]);
        if (len > UINT16_MAX) return 0;
        remaining += 2 + len + (reqs ? 1 : 0);
        if (remaining > MQTT_MAX_REMAINING_LENGTH) return 0;
    }
    size_t size = packet_size(remaining);
    if (size != 0 && cap >= size) {
        struct wr w = {out};
        wr_header(&w, first, remaining);
        wr_u16(&w, packet_id);
        for (size_t i = 0; i < count; i++) {
            const char *f = reqs ? reqs[i].filter : filters[i];
            wr_str(&w, f, strlen(f));
            if (reqs) wr_u8(&w, reqs[i].qos);
        }
    }
    return size;
}

size_t mqtt_encode_subscribe(uint8_t *out, size_t cap, uint16_t packet_id,
                             const struct mqtt_sub_req *reqs, size_t count)
{
    return encode_filter_list(out, cap, MQTT_SUBSCRIBE << 4 | 0x2, packet_id, reqs, NULL, count);
}

size_t mqtt_encode_unsubscribe(uint8_t *out, size_t cap, uint16_t packet_id,
                               const char *const *filters, size_t count)
{
    return encode_filter_list(out, cap, MQTT_UNSUBSCRIBE << 4 | 0x2, packet_id, NULL, filters,
                              count);
}

const char *mqtt_type_name(int type)
{
    static const char *const names[] = {
        [MQTT_CONNECT] = "CONNECT",   [MQTT_CONNACK] = "CONNACK",
        [MQTT_PUBLISH] = "PUBLISH",   [MQTT_PUBACK] = "PUBACK",
        [MQTT_PUBREC] = "PUBREC",     [MQTT_PUBREL] = "PUBREL",
        [MQTT_PUBCOMP] = "PUBCOMP",   [MQTT_SUBSCRIBE] = "SUBSCRIBE",
        [MQTT_SUBACK] = "SUBACK",     [MQTT_UNSUBSCRIBE] = "UNSUBSCRIBE",
        [MQTT_UNSUBACK] = "UNSUBACK", [MQTT_PINGREQ] = "PINGREQ",
        [MQTT_PINGRESP] = "PINGRESP", [MQTT_DISCONNECT] = "DISCONNECT",
    };
    if (type < MQTT_CONNECT || type > MQTT_DISCONNECT) return "UNKNOWN";
    return names[type];
}
