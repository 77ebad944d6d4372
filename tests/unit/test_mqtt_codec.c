/*
 * test_mqtt_codec.c - unit tests for mqtt_codec.c.
 *
 * Round trips for every packet type (encode -> frame -> decode -> fields),
 * known byte vectors, incremental framing, remaining-length boundaries, the
 * maximum packet size, and a table of raw packets, valid and malformed, each
 * with the result the spec asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "mqtt_codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define STR(lit) ((struct mqtt_str){(lit), sizeof(lit) - 1})
#define BYTES(lit) ((struct mqtt_bytes){(const uint8_t *)(lit), sizeof(lit) - 1})

static uint8_t buf[1 << 16];

/* Frame buf[0..len) as exactly one packet and decode it; returns mqtt_decode's result. */
static int frame_decode(const uint8_t *b, size_t len, struct mqtt_packet *pkt)
{
    struct mqtt_frame fr = {0};
    size_t need = 12345;
    assert_int_equal(mqtt_frame(b, len, 0, &fr, &need), 1);
    assert_int_equal(fr.total_len, len);
    assert_int_equal(need, 0);
    return mqtt_decode(&fr, pkt);
}

static void assert_str_eq(struct mqtt_str got, struct mqtt_str want)
{
    assert_int_equal(got.len, want.len);
    if (want.len) assert_memory_equal(got.ptr, want.ptr, want.len);
}

static void assert_bytes_eq(struct mqtt_bytes got, struct mqtt_bytes want)
{
    assert_int_equal(got.len, want.len);
    if (want.len) assert_memory_equal(got.ptr, want.ptr, want.len);
}

/* ---- Round trips ------------------------------------------------------- */

static void roundtrip_connect(const struct mqtt_connect *c)
{
    struct mqtt_packet pkt;
    size_t n = mqtt_encode_connect(buf, sizeof(buf), c);
    assert_true(n > 0 && n <= sizeof(buf));
    assert_int_equal(frame_decode(buf, n, &pkt), 0);
    assert_int_equal(pkt.type, MQTT_CONNECT);
    const struct mqtt_connect *d = &pkt.u.connect;
    assert_int_equal(d->protocol_level, c->protocol_level == 3 ? 3 : 4);
    assert_int_equal(d->clean_session, c->clean_session);
    assert_int_equal(d->keepalive, c->keepalive);
    assert_str_eq(d->client_id, c->client_id);
    assert_int_equal(d->has_will, c->has_will);
    if (c->has_will) {
        assert_int_equal(d->will_qos, c->will_qos);
        assert_int_equal(d->will_retain, c->will_retain);
        assert_str_eq(d->will_topic, c->will_topic);
        assert_bytes_eq(d->will_payload, c->will_payload);
    }
    assert_int_equal(d->has_username, c->has_username);
    if (c->has_username) assert_str_eq(d->username, c->username);
    assert_int_equal(d->has_password, c->has_password);
    if (c->has_password) assert_bytes_eq(d->password, c->password);
}

static void test_roundtrip_connect(void **state)
{
    (void)state;
    struct mqtt_connect c = {
        .protocol_level = 4, .clean_session = true, .keepalive = 60, .client_id = STR("client-1")};
    roundtrip_connect(&c);

    c.clean_session = false;
    c.keepalive = 0xFFFF;
    roundtrip_connect(&c);

    c.has_will = true;
    c.will_qos = 2;
    c.will_retain = true;
    c.will_topic = STR("clients/client-1/status");
    c.will_payload = BYTES("gone\0\xff");
    c.has_username = true;
    c.username = STR("us\xc3\xa9r");
    c.has_password = true;
    c.password = BYTES("\x00\x01\xfe\xff");
    roundtrip_connect(&c);

    c.will_payload = BYTES(""); /* empty will message and password */
    c.password = BYTES("");
    c.will_qos = 1;
    c.will_retain = false;
    roundtrip_connect(&c);

    c.has_password = false; /* username alone */
    roundtrip_connect(&c);

    c.protocol_level = 3; /* MQTT 3.1 */
    roundtrip_connect(&c);

    c = (struct mqtt_connect){.protocol_level = 4, .clean_session = true}; /* empty id */
    roundtrip_connect(&c);
}

static void test_roundtrip_connack(void **state)
{
    (void)state;
    struct mqtt_packet pkt;
    for (uint8_t rc = 0; rc <= MQTT_CONNACK_NOT_AUTHORIZED; rc++) {
        for (int sp = 0; sp <= (rc == 0); sp++) { /* session present only with rc 0 */
            size_t n = mqtt_encode_connack(buf, sizeof(buf), sp, rc);
            assert_int_equal(n, 4);
            assert_int_equal(frame_decode(buf, n, &pkt), 0);
            assert_int_equal(pkt.type, MQTT_CONNACK);
            assert_int_equal(pkt.u.connack.session_present, sp);
            assert_int_equal(pkt.u.connack.return_code, rc);
        }
    }
}

static void roundtrip_publish(const struct mqtt_publish *p)
{
    struct mqtt_packet pkt;
    size_t n = mqtt_encode_publish(buf, sizeof(buf), p);
    assert_true(n > 0 && n <= sizeof(buf));
    assert_int_equal(frame_decode(buf, n, &pkt), 0);
    assert_int_equal(pkt.type, MQTT_PUBLISH);
    const struct mqtt_publish *d = &pkt.u.publish;
    assert_int_equal(d->dup, p->dup);
    assert_int_equal(d->qos, p->qos);
    assert_int_equal(d->retain, p->retain);
    assert_str_eq(d->topic, p->topic);
    assert_int_equal(d->packet_id, p->qos ? p->packet_id : 0);
    assert_bytes_eq(d->payload, p->payload);
    assert_ptr_equal(d->payload.ptr + d->payload.len, buf + n); /* a view, to the end */
}

static void test_roundtrip_publish(void **state)
{
    (void)state;
    static uint8_t big[20000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);

    static const size_t sizes[] = {0,   1,   120, 121, 122,   123,        124,
                                   125, 126, 127, 128, 16000, sizeof(big)};
    for (uint8_t qos = 0; qos <= 2; qos++) {
        for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
            struct mqtt_publish p = {.qos = qos,
                                     .dup = qos > 0 && s % 2,
                                     .retain = s % 3 == 0,
                                     .topic = STR("a/b"),
                                     .packet_id = (uint16_t)(qos ? 1 + s * 4099 : 0),
                                     .payload = {big, sizes[s]}};
            roundtrip_publish(&p);
        }
    }
    struct mqtt_publish p = {.qos = 1,
                             .topic = STR("$aws/things/\xf0\x9f\x98\x80/shadow"),
                             .packet_id = 0xFFFF,
                             .payload = BYTES("{}")};
    roundtrip_publish(&p);
}

static void test_roundtrip_acks(void **state)
{
    (void)state;
    static const enum mqtt_type types[] = {MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP,
                                           MQTT_UNSUBACK};
    static const uint16_t ids[] = {1, 0x7F, 0x80, 0x1234, 0xFFFF};
    struct mqtt_packet pkt;
    for (size_t t = 0; t < ARRAY_LEN(types); t++) {
        for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
            size_t n = mqtt_encode_ack(buf, sizeof(buf), types[t], ids[i]);
            assert_int_equal(n, 4);
            assert_int_equal(frame_decode(buf, n, &pkt), 0);
            assert_int_equal(pkt.type, types[t]);
            assert_int_equal(pkt.u.ack.packet_id, ids[i]);
        }
    }
}

static void test_roundtrip_empty(void **state)
{
    (void)state;
    static const enum mqtt_type types[] = {MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT};
    struct mqtt_packet pkt;
    for (size_t t = 0; t < ARRAY_LEN(types); t++) {
        size_t n = mqtt_encode_empty(buf, sizeof(buf), types[t]);
        assert_int_equal(n, 2);
        assert_int_equal(frame_decode(buf, n, &pkt), 0);
        assert_int_equal(pkt.type, types[t]);
    }
}

static void test_roundtrip_subscribe(void **state)
{
    (void)state;
    static const struct mqtt_sub_req reqs[] = {
        {"a/b", 0}, {"a/+/c", 1}, {"#", 2}, {"$share/g/x/#", 1}, {"$SYS/\xc3\xa9", 0}};
    struct mqtt_packet pkt;
    for (size_t count = 1; count <= ARRAY_LEN(reqs); count++) {
        size_t n = mqtt_encode_subscribe(buf, sizeof(buf), 42, reqs, count);
        assert_int_equal(frame_decode(buf, n, &pkt), 0);
        assert_int_equal(pkt.type, MQTT_SUBSCRIBE);
        assert_int_equal(pkt.u.subscribe.packet_id, 42);
        assert_int_equal(pkt.u.subscribe.count, count);

        struct mqtt_list_iter it;
        struct mqtt_str f;
        uint8_t qos;
        size_t i = 0;
        mqtt_list_iter_init(&it, &pkt.u.subscribe.list);
        while (mqtt_subscribe_next(&it, &f, &qos)) {
            assert_true(i < count);
            assert_int_equal(f.len, strlen(reqs[i].filter));
            assert_memory_equal(f.ptr, reqs[i].filter, f.len);
            assert_int_equal(qos, reqs[i].qos);
            i++;
        }
        assert_int_equal(i, count);
    }
}

static void test_roundtrip_unsubscribe(void **state)
{
    (void)state;
    static const char *const filters[] = {"a/b", "+/+", "#", "$share/g/x"};
    struct mqtt_packet pkt;
    for (size_t count = 1; count <= ARRAY_LEN(filters); count++) {
        size_t n = mqtt_encode_unsubscribe(buf, sizeof(buf), 0xBEEF, filters, count);
        assert_int_equal(frame_decode(buf, n, &pkt), 0);
        assert_int_equal(pkt.type, MQTT_UNSUBSCRIBE);
        assert_int_equal(pkt.u.unsubscribe.packet_id, 0xBEEF);
        assert_int_equal(pkt.u.unsubscribe.count, count);

        struct mqtt_list_iter it;
        struct mqtt_str f;
        size_t i = 0;
        mqtt_list_iter_init(&it, &pkt.u.unsubscribe.list);
        while (mqtt_unsubscribe_next(&it, &f)) {
            assert_true(i < count);
            assert_int_equal(f.len, strlen(filters[i]));
            assert_memory_equal(f.ptr, filters[i], f.len);
            i++;
        }
        assert_int_equal(i, count);
    }
}

static void test_roundtrip_suback(void **state)
{
    (void)state;
    static const uint8_t rcs[] = {0, 1, 2, MQTT_SUBACK_FAILURE, 1};
    struct mqtt_packet pkt;
    for (size_t count = 1; count <= ARRAY_LEN(rcs); count++) {
        size_t n = mqtt_encode_suback(buf, sizeof(buf), 7, rcs, count);
        assert_int_equal(n, 4 + count);
        assert_int_equal(frame_decode(buf, n, &pkt), 0);
        assert_int_equal(pkt.type, MQTT_SUBACK);
        assert_int_equal(pkt.u.suback.packet_id, 7);
        assert_bytes_eq(pkt.u.suback.return_codes, (struct mqtt_bytes){rcs, count});
    }
    /* A SUBACK whose remaining length needs two bytes. */
    static uint8_t many[300];
    memset(many, 1, sizeof(many));
    size_t n = mqtt_encode_suback(buf, sizeof(buf), 7, many, sizeof(many));
    assert_int_equal(n, 1 + 2 + 2 + sizeof(many));
    assert_int_equal(frame_decode(buf, n, &pkt), 0);
    assert_int_equal(pkt.u.suback.return_codes.len, sizeof(many));
}

/* ---- Known byte vectors ------------------------------------------------ */

static void assert_encoded(size_t n, const void *want, size_t want_len)
{
    assert_int_equal(n, want_len);
    assert_memory_equal(buf, want, want_len);
}
#define ASSERT_ENCODED(n, lit) assert_encoded((n), (lit), sizeof(lit) - 1)

static void test_encode_vectors(void **state)
{
    (void)state;
    struct mqtt_connect c = {
        .protocol_level = 4, .clean_session = true, .keepalive = 60, .client_id = STR("c")};
    ASSERT_ENCODED(mqtt_encode_connect(buf, sizeof(buf), &c),
                   "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01"
                   "c");
    c.protocol_level = 3;
    ASSERT_ENCODED(mqtt_encode_connect(buf, sizeof(buf), &c),
                   "\x10\x0f\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01"
                   "c");
    c = (struct mqtt_connect){.protocol_level = 4,
                              .keepalive = 1,
                              .client_id = STR("c"),
                              .has_will = true,
                              .will_qos = 1,
                              .will_retain = true,
                              .will_topic = STR("w"),
                              .will_payload = BYTES("x"),
                              .has_username = true,
                              .username = STR("u"),
                              .has_password = true,
                              .password = BYTES("p")};
    ASSERT_ENCODED(mqtt_encode_connect(buf, sizeof(buf), &c),
                   "\x10\x19\x00\x04MQTT\x04\xec\x00\x01\x00\x01"
                   "c\x00\x01w\x00\x01x\x00\x01u\x00\x01p");

    ASSERT_ENCODED(mqtt_encode_connack(buf, sizeof(buf), true, 0), "\x20\x02\x01\x00");
    ASSERT_ENCODED(mqtt_encode_connack(buf, sizeof(buf), false, 5), "\x20\x02\x00\x05");
    ASSERT_ENCODED(mqtt_encode_ack(buf, sizeof(buf), MQTT_PUBACK, 7), "\x40\x02\x00\x07");
    ASSERT_ENCODED(mqtt_encode_ack(buf, sizeof(buf), MQTT_PUBREC, 0x102), "\x50\x02\x01\x02");
    ASSERT_ENCODED(mqtt_encode_ack(buf, sizeof(buf), MQTT_PUBREL, 7), "\x62\x02\x00\x07");
    ASSERT_ENCODED(mqtt_encode_ack(buf, sizeof(buf), MQTT_PUBCOMP, 7), "\x70\x02\x00\x07");
    ASSERT_ENCODED(mqtt_encode_ack(buf, sizeof(buf), MQTT_UNSUBACK, 7), "\xb0\x02\x00\x07");
    ASSERT_ENCODED(mqtt_encode_empty(buf, sizeof(buf), MQTT_PINGREQ), "\xc0\x00");
    ASSERT_ENCODED(mqtt_encode_empty(buf, sizeof(buf), MQTT_PINGRESP), "\xd0\x00");
    ASSERT_ENCODED(mqtt_encode_empty(buf, sizeof(buf), MQTT_DISCONNECT), "\xe0\x00");

    struct mqtt_publish p = {.topic = STR("a/b"), .payload = BYTES("hi")};
    ASSERT_ENCODED(mqtt_encode_publish(buf, sizeof(buf), &p), "\x30\x07\x00\x03"
                                                              "a/bhi");
    p = (struct mqtt_publish){.dup = true,
                              .qos = 2,
                              .retain = true,
                              .topic = STR("a/b"),
                              .packet_id = 10,
                              .payload = BYTES("hi")};
    ASSERT_ENCODED(mqtt_encode_publish(buf, sizeof(buf), &p), "\x3d\x09\x00\x03"
                                                              "a/b\x00\x0ahi");

    static const struct mqtt_sub_req reqs[] = {{"a/b", 1}, {"#", 0}};
    ASSERT_ENCODED(mqtt_encode_subscribe(buf, sizeof(buf), 10, reqs, 2), "\x82\x0c\x00\x0a\x00\x03"
                                                                         "a/b\x01\x00\x01#\x00");
    static const char *const filters[] = {"a/b"};
    ASSERT_ENCODED(mqtt_encode_unsubscribe(buf, sizeof(buf), 10, filters, 1),
                   "\xa2\x07\x00\x0a\x00\x03"
                   "a/b");
    static const uint8_t rcs[] = {0, 0x80};
    ASSERT_ENCODED(mqtt_encode_suback(buf, sizeof(buf), 10, rcs, 2), "\x90\x04\x00\x0a\x00\x80");
}

/* snprintf semantics: the size is always returned, nothing is written when cap is short. */
static void test_encode_short_buffer(void **state)
{
    (void)state;
    struct mqtt_connect c = {.protocol_level = 4, .clean_session = true, .client_id = STR("c")};
    struct mqtt_publish p = {.qos = 1, .topic = STR("t"), .packet_id = 1, .payload = BYTES("x")};
    static const struct mqtt_sub_req reqs[] = {{"a", 0}};
    static const char *const filters[] = {"a"};
    static const uint8_t rcs[] = {0};

    for (int which = 0; which < 9; which++) {
        size_t need = 0;
        for (size_t cap = 0;; cap++) {
            memset(buf, 0xAA, 64);
            size_t n = 0;
            switch (which) {
            case 0:
                n = mqtt_encode_connect(buf, cap, &c);
                break;
            case 1:
                n = mqtt_encode_connack(buf, cap, false, 0);
                break;
            case 2:
                n = mqtt_encode_publish(buf, cap, &p);
                break;
            case 3:
                n = mqtt_encode_publish_header(buf, cap, &p);
                break;
            case 4:
                n = mqtt_encode_ack(buf, cap, MQTT_PUBACK, 1);
                break;
            case 5:
                n = mqtt_encode_empty(buf, cap, MQTT_PINGREQ);
                break;
            case 6:
                n = mqtt_encode_subscribe(buf, cap, 1, reqs, 1);
                break;
            case 7:
                n = mqtt_encode_unsubscribe(buf, cap, 1, filters, 1);
                break;
            case 8:
                n = mqtt_encode_suback(buf, cap, 1, rcs, 1);
                break;
            }
            if (cap == 0) need = n;
            assert_int_equal(n, need);
            if (cap < need) {
                for (size_t i = 0; i < 64; i++)
                    assert_int_equal(buf[i], 0xAA);
            } else {
                assert_int_not_equal(buf[0], 0xAA);
                assert_int_equal(buf[need], 0xAA); /* nothing past the packet */
                break;
            }
        }
    }
    /* NULL with cap 0 just sizes. */
    assert_int_equal(mqtt_encode_publish(NULL, 0, &p), 1 + 1 + 3 + 2 + 1);
}

static void test_encode_invalid(void **state)
{
    (void)state;
    assert_int_equal(mqtt_encode_ack(buf, sizeof(buf), MQTT_PUBLISH, 1), 0);
    assert_int_equal(mqtt_encode_ack(buf, sizeof(buf), MQTT_PINGREQ, 1), 0);
    assert_int_equal(mqtt_encode_empty(buf, sizeof(buf), MQTT_PUBACK), 0);
    assert_int_equal(mqtt_encode_empty(buf, sizeof(buf), MQTT_CONNECT), 0);

    /* Remaining length above 268435455 cannot be encoded. */
    struct mqtt_publish p = {.topic = STR("t"), .payload = {buf, MQTT_MAX_REMAINING_LENGTH}};
    assert_int_equal(mqtt_encode_publish(NULL, 0, &p), 0);
    assert_int_equal(mqtt_encode_publish_header(NULL, 0, &p), 0);
    p.payload.len = MQTT_MAX_REMAINING_LENGTH - 3; /* exactly the maximum */
    assert_int_equal(mqtt_encode_publish_header(NULL, 0, &p), 1 + 4 + 3);
    assert_int_equal(mqtt_encode_publish(NULL, 0, &p), 1 + 4 + MQTT_MAX_REMAINING_LENGTH);
    p.payload.len = SIZE_MAX - 1; /* sizes must not wrap */
    assert_int_equal(mqtt_encode_publish(NULL, 0, &p), 0);
    assert_int_equal(mqtt_encode_suback(NULL, 0, 1, buf, SIZE_MAX), 0);

    struct mqtt_connect c = {
        .protocol_level = 4, .has_password = true, .has_username = true, .password = {buf, 70000}};
    assert_int_equal(mqtt_encode_connect(NULL, 0, &c), 0);
}

/* ---- PUBLISH header for fan-out ---------------------------------------- */

static void test_publish_header(void **state)
{
    (void)state;
    static uint8_t payload[300];
    static uint8_t whole[512];
    memset(payload, 'p', sizeof(payload));
    static const size_t sizes[] = {0, 5, 200};

    for (uint8_t qos = 0; qos <= 2; qos++) {
        for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
            struct mqtt_publish p = {.qos = qos,
                                     .topic = STR("fan/out"),
                                     .packet_id = qos ? 1 : 0,
                                     .payload = {payload, sizes[s]}};
            size_t h = mqtt_encode_publish_header(buf, sizeof(buf), &p);
            size_t n = mqtt_encode_publish(whole, sizeof(whole), &p);
            assert_int_equal(h + sizes[s], n);
            assert_memory_equal(buf, whole, h); /* same header as the whole packet */

            if (qos == 0) {
                assert_int_equal(mqtt_publish_packet_id_offset(&p), 0);
                continue;
            }
            /* Patch the id per recipient, then append the shared payload. */
            size_t off = mqtt_publish_packet_id_offset(&p);
            assert_int_equal(off + 2, h);
            buf[off] = 0xAB;
            buf[off + 1] = 0xCD;
            memcpy(buf + h, payload, sizes[s]);
            struct mqtt_packet pkt;
            assert_int_equal(frame_decode(buf, n, &pkt), 0);
            assert_int_equal(pkt.u.publish.packet_id, 0xABCD);
            assert_int_equal(pkt.u.publish.payload.len, sizes[s]);
        }
    }
}

/* ---- Varint and framing ------------------------------------------------ */

static const struct varint_row {
    size_t value;
    const char *bytes;
    size_t len;
} varint_rows[] = {
    {0, "\x00", 1},
    {1, "\x01", 1},
    {127, "\x7f", 1},
    {128, "\x80\x01", 2},
    {16383, "\xff\x7f", 2},
    {16384, "\x80\x80\x01", 3},
    {2097151, "\xff\xff\x7f", 3},
    {2097152, "\x80\x80\x80\x01", 4},
    {268435455, "\xff\xff\xff\x7f", 4},
};

static void test_varint(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(varint_rows); i++) {
        const struct varint_row *r = &varint_rows[i];
        uint8_t out[8] = {0};
        assert_int_equal(mqtt_varint_size(r->value), r->len);
        assert_int_equal(mqtt_varint_encode(out, r->value), r->len);
        assert_memory_equal(out, r->bytes, r->len);
    }
}

/*
 * For each boundary length: a header alone says how much is needed; for
 * lengths a test can afford, the full packet frames (PUBLISH body of that
 * size), and one byte short is still incomplete.
 */
static void test_frame_lengths(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(varint_rows); i++) {
        const struct varint_row *r = &varint_rows[i];
        size_t total = 1 + r->len + r->value;
        uint8_t hdr[5] = {0x30};
        memcpy(hdr + 1, r->bytes, r->len);

        struct mqtt_frame fr = {0};
        size_t need = 99;
        for (size_t k = 0; k <= r->len; k++) { /* header not complete */
            assert_int_equal(mqtt_frame(hdr, k, 0, &fr, &need), 0);
            assert_int_equal(need, 0);
        }
        int want = total == 1 + r->len ? 1 : 0; /* rl 0: the header is the packet */
        assert_int_equal(mqtt_frame(hdr, 1 + r->len, 0, &fr, &need), want);
        assert_int_equal(need, want ? 0 : total);
        assert_int_equal(mqtt_frame(hdr, 1 + r->len, 0, &fr, NULL), want); /* need optional */

        if (r->value > 3 * 1024 * 1024) continue;
        uint8_t *pk = calloc(1, total);
        assert_non_null(pk);
        memcpy(pk, hdr, 1 + r->len);
        if (r->value > 0) {
            assert_int_equal(mqtt_frame(pk, total - 1, 0, &fr, &need), 0);
            assert_int_equal(need, total);
        }
        assert_int_equal(mqtt_frame(pk, total, 0, &fr, &need), 1);
        assert_int_equal(fr.type, MQTT_PUBLISH);
        assert_int_equal(fr.flags, 0);
        assert_int_equal(fr.body_len, r->value);
        assert_int_equal(fr.total_len, total);
        assert_ptr_equal(fr.body, pk + 1 + r->len);
        if (r->value >= 3) { /* make it a valid PUBLISH and decode it */
            pk[1 + r->len + 1] = 1;
            pk[1 + r->len + 2] = 'x';
            struct mqtt_packet pkt;
            assert_int_equal(mqtt_decode(&fr, &pkt), 0);
            assert_int_equal(pkt.u.publish.payload.len, r->value - 3);
        }
        free(pk);
    }
}

static void test_frame_malformed(void **state)
{
    (void)state;
    struct mqtt_frame fr = {0};
    size_t need;

    /* A fifth remaining-length byte: rejected once the fourth shows its continuation bit. */
    assert_int_equal(mqtt_frame((const uint8_t *)"\x30\xff\xff\xff\xff\x7f", 6, 0, &fr, &need),
                     UMBRA_EMALFORMED);
    assert_int_equal(mqtt_frame((const uint8_t *)"\x30\xff\xff\xff\x80", 5, 0, &fr, &need),
                     UMBRA_EMALFORMED);
    assert_int_equal(mqtt_frame((const uint8_t *)"\x30\xff\xff\xff", 4, 0, &fr, &need), 0);

    /* Types 0 and 15, whatever follows, even with only the first byte. */
    for (int flags = 0; flags < 16; flags++) {
        uint8_t b[2] = {(uint8_t)flags, 0};
        assert_int_equal(mqtt_frame(b, 2, 0, &fr, &need), UMBRA_EMALFORMED);
        assert_int_equal(mqtt_frame(b, 1, 0, &fr, &need), UMBRA_EMALFORMED);
        b[0] = (uint8_t)(0xF0 | flags);
        assert_int_equal(mqtt_frame(b, 2, 0, &fr, &need), UMBRA_EMALFORMED);
        assert_int_equal(mqtt_frame(b, 1, 0, &fr, &need), UMBRA_EMALFORMED);
    }

    /* Nothing at all. */
    need = 5;
    assert_int_equal(mqtt_frame(NULL, 0, 0, &fr, &need), 0);
    assert_int_equal(need, 0);

    /* Non-minimal lengths are legal in 3.1.1: 0x80 0x00 is 0. */
    assert_int_equal(mqtt_frame((const uint8_t *)"\xc0\x80\x00", 3, 0, &fr, &need), 1);
    assert_int_equal(fr.body_len, 0);
    assert_int_equal(fr.total_len, 3);
}

static void test_frame_max_packet(void **state)
{
    (void)state;
    struct mqtt_frame fr = {0};
    size_t need;
    /* PUBLISH with remaining length 200: total 203. Refused from the header alone. */
    const uint8_t hdr[] = {0x30, 0xC8, 0x01};
    assert_int_equal(mqtt_frame(hdr, 3, 202, &fr, &need), UMBRA_ETOO_LARGE);
    assert_int_equal(mqtt_frame(hdr, 3, 203, &fr, &need), 0);
    assert_int_equal(need, 203);
    assert_int_equal(mqtt_frame(hdr, 2, 10, &fr, &need), 0); /* length not known yet */
    assert_int_equal(need, 0);
    /* The largest length the protocol allows, refused before any body byte. */
    const uint8_t huge[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(mqtt_frame(huge, 5, 128 * 1024, &fr, &need), UMBRA_ETOO_LARGE);
    assert_int_equal(mqtt_frame(huge, 5, 0, &fr, &need), 0);
    assert_int_equal(need, 5 + (size_t)MQTT_MAX_REMAINING_LENGTH);

    /* Exactly at the limit. */
    uint8_t ping[2];
    mqtt_encode_empty(ping, sizeof(ping), MQTT_PINGREQ);
    assert_int_equal(mqtt_frame(ping, 2, 2, &fr, &need), 1);
    assert_int_equal(mqtt_frame(ping, 2, 1, &fr, &need), UMBRA_ETOO_LARGE);
}

/* Build a stream of several packets; returns its length and the packet boundaries. */
static size_t build_stream(uint8_t *out, size_t cap, size_t *ends, uint8_t *types, size_t *n)
{
    static uint8_t payload[300];
    memset(payload, 'z', sizeof(payload));
    struct mqtt_connect c = {
        .protocol_level = 4, .clean_session = true, .keepalive = 30, .client_id = STR("stream")};
    struct mqtt_publish p0 = {.topic = STR("s/0"), .payload = BYTES("small")};
    struct mqtt_publish p1 = {
        .qos = 1, .packet_id = 9, .topic = STR("s/1"), .payload = {payload, sizeof(payload)}};
    static const struct mqtt_sub_req reqs[] = {{"s/#", 1}};
    size_t len = 0;
    *n = 0;
#define ADD(type, expr)                                                                            \
    do {                                                                                           \
        len += (expr);                                                                             \
        assert_true(len <= cap);                                                                   \
        ends[*n] = len;                                                                            \
        types[(*n)++] = (type);                                                                    \
    } while (0)
    ADD(MQTT_CONNECT, mqtt_encode_connect(out + len, cap - len, &c));
    ADD(MQTT_SUBSCRIBE, mqtt_encode_subscribe(out + len, cap - len, 1, reqs, 1));
    ADD(MQTT_PUBLISH, mqtt_encode_publish(out + len, cap - len, &p0));
    ADD(MQTT_PINGREQ, mqtt_encode_empty(out + len, cap - len, MQTT_PINGREQ));
    ADD(MQTT_PUBLISH, mqtt_encode_publish(out + len, cap - len, &p1));
    ADD(MQTT_PUBACK, mqtt_encode_ack(out + len, cap - len, MQTT_PUBACK, 9));
    ADD(MQTT_DISCONNECT, mqtt_encode_empty(out + len, cap - len, MQTT_DISCONNECT));
#undef ADD
    return len;
}

static void test_frame_stream_whole(void **state)
{
    (void)state;
    size_t ends[16], n;
    uint8_t types[16];
    size_t len = build_stream(buf, sizeof(buf), ends, types, &n);

    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        struct mqtt_frame fr = {0};
        struct mqtt_packet pkt;
        assert_int_equal(mqtt_frame(buf + off, len - off, 1024, &fr, NULL), 1);
        assert_int_equal(fr.type, types[i]);
        assert_int_equal(mqtt_decode(&fr, &pkt), 0);
        assert_int_equal(pkt.type, types[i]);
        off += fr.total_len;
        assert_int_equal(off, ends[i]);
    }
    assert_int_equal(off, len);
    assert_int_equal(mqtt_frame(buf + off, 0, 1024, &(struct mqtt_frame){0}, NULL), 0);
}

/* Bytes arrive one at a time, as over a slow socket. */
static void test_frame_stream_bytewise(void **state)
{
    (void)state;
    size_t ends[16], n;
    uint8_t types[16];
    size_t len = build_stream(buf, sizeof(buf), ends, types, &n);

    size_t start = 0, got = 0;
    for (size_t avail = 0; avail <= len; avail++) {
        struct mqtt_frame fr = {0};
        size_t need = 777;
        int rc = mqtt_frame(buf + start, avail - start, 1024, &fr, &need);
        size_t want_total = ends[got] - start;
        if (avail < ends[got]) {
            assert_int_equal(rc, 0);
            /* need is known once the fixed header is complete. */
            size_t hdr = 2;
            while (buf[start + hdr - 1] & 0x80)
                hdr++;
            assert_int_equal(need, avail - start >= hdr ? want_total : 0);
            continue;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(fr.total_len, want_total);
        struct mqtt_packet pkt;
        assert_int_equal(mqtt_decode(&fr, &pkt), 0);
        assert_int_equal(pkt.type, types[got]);
        start = ends[got++];
        if (got == n) break;
    }
    assert_int_equal(got, n);
}

/* ---- Raw packet table -------------------------------------------------- */

/* One raw packet: first byte and body; the remaining length is computed. */
struct raw_row {
    const char *name;
    uint8_t first;
    const uint8_t *body;
    size_t len;
    int rc;
};
#define ROW(name, first, rc, ...)                                                                  \
    {                                                                                              \
        name, first, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), rc    \
    }
#define ROW0(name, first, rc)                                                                      \
    {                                                                                              \
        name, first, NULL, 0, rc                                                                   \
    }

#define OK 0
#define MAL UMBRA_EMALFORMED
#define P_MQTT 0, 4, 'M', 'Q', 'T', 'T', 4
#define P_MQISDP 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3
#define KA 0, 60
#define CID 0, 1, 'c'

static const struct raw_row raw_rows[] = {
    /* CONNECT */
    ROW("connect", 0x10, OK, P_MQTT, 0x02, KA, CID),
    ROW("connect 3.1", 0x10, OK, P_MQISDP, 0x02, KA, CID),
    ROW("connect flags nibble", 0x11, MAL, P_MQTT, 0x02, KA, CID),
    ROW("connect MQTT level 3", 0x10, UMBRA_EPROTO_LEVEL, 0, 4, 'M', 'Q', 'T', 'T', 3, 0x02, KA,
        CID),
    ROW("connect MQTT 5 layout", 0x10, UMBRA_EPROTO_LEVEL, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, KA, 0,
        CID),
    ROW("connect MQTT level 5 truncated", 0x10, UMBRA_EPROTO_LEVEL, 0, 4, 'M', 'Q', 'T', 'T', 5),
    ROW("connect MQIsdp level 4", 0x10, UMBRA_EPROTO_LEVEL, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4,
        0x02, KA, CID),
    ROW("connect name MQTX", 0x10, UMBRA_EPROTO_NAME, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, KA, CID),
    ROW("connect name mqtt", 0x10, UMBRA_EPROTO_NAME, 0, 4, 'm', 'q', 't', 't', 4, 0x02, KA, CID),
    ROW("connect name MQIsdp5", 0x10, UMBRA_EPROTO_NAME, 0, 7, 'M', 'Q', 'I', 's', 'd', 'p', '5', 3,
        0x02, KA, CID),
    ROW("connect name empty", 0x10, UMBRA_EPROTO_NAME, 0, 0, 4, 0x02, KA, CID),
    ROW("connect name truncated", 0x10, MAL, 0, 4, 'M', 'Q'),
    ROW("connect no level", 0x10, MAL, 0, 4, 'M', 'Q', 'T', 'T'),
    ROW("connect no flags", 0x10, MAL, P_MQTT),
    ROW("connect no keepalive", 0x10, MAL, P_MQTT, 0x02, 0),
    ROW("connect no client id", 0x10, MAL, P_MQTT, 0x02, KA),
    ROW("connect client id past end", 0x10, MAL, P_MQTT, 0x02, KA, 0, 5, 'c'),
    ROW("connect reserved flag", 0x10, MAL, P_MQTT, 0x03, KA, CID),
    ROW("connect will qos without will", 0x10, MAL, P_MQTT, 0x0A, KA, CID),
    ROW("connect will retain without will", 0x10, MAL, P_MQTT, 0x22, KA, CID),
    ROW("connect will qos 3", 0x10, MAL, P_MQTT, 0x1E, KA, CID, 0, 1, 'w', 0, 0),
    ROW("connect password without username", 0x10, MAL, P_MQTT, 0x42, KA, CID, 0, 1, 'p'),
    ROW("connect empty id clean 0", 0x10, UMBRA_ECLIENT_ID, P_MQTT, 0x00, KA, 0, 0),
    ROW("connect empty id clean 1", 0x10, OK, P_MQTT, 0x02, KA, 0, 0),
    ROW("connect empty id clean 0 trailing", 0x10, MAL, P_MQTT, 0x00, KA, 0, 0, 0),
    ROW("connect empty id clean 0 bad will", 0x10, MAL, P_MQTT, 0x04, KA, 0, 0, 0, 1, '+', 0, 0),
    ROW("connect client id bad utf8", 0x10, MAL, P_MQTT, 0x02, KA, 0, 1, 0xFF),
    ROW("connect client id overlong", 0x10, MAL, P_MQTT, 0x02, KA, 0, 2, 0xC0, 0x80),
    ROW("connect client id U+0000", 0x10, MAL, P_MQTT, 0x02, KA, 0, 1, 0),
    ROW("connect client id utf8", 0x10, OK, P_MQTT, 0x02, KA, 0, 2, 0xC3, 0xA9),
    ROW("connect will", 0x10, OK, P_MQTT, 0x06, KA, CID, 0, 1, 'w', 0, 2, 0xFF, 0x00),
    ROW("connect will qos 2 retain", 0x10, OK, P_MQTT, 0x36, KA, CID, 0, 1, 'w', 0, 0),
    ROW("connect will topic wildcard", 0x10, MAL, P_MQTT, 0x06, KA, CID, 0, 1, '#', 0, 0),
    ROW("connect will topic empty", 0x10, MAL, P_MQTT, 0x06, KA, CID, 0, 0, 0, 0),
    ROW("connect will topic bad utf8", 0x10, MAL, P_MQTT, 0x06, KA, CID, 0, 1, 0x80, 0, 0),
    ROW("connect will payload missing", 0x10, MAL, P_MQTT, 0x06, KA, CID, 0, 1, 'w'),
    ROW("connect will payload short", 0x10, MAL, P_MQTT, 0x06, KA, CID, 0, 1, 'w', 0, 2, 'x'),
    ROW("connect user pass", 0x10, OK, P_MQTT, 0xC2, KA, CID, 0, 1, 'u', 0, 2, 0xFF, 0x00),
    ROW("connect user only", 0x10, OK, P_MQTT, 0x82, KA, CID, 0, 1, 'u'),
    ROW("connect username bad utf8", 0x10, MAL, P_MQTT, 0x82, KA, CID, 0, 1, 0xC0),
    ROW("connect username U+0000", 0x10, MAL, P_MQTT, 0x82, KA, CID, 0, 1, 0),
    ROW("connect username missing", 0x10, MAL, P_MQTT, 0x82, KA, CID),
    ROW("connect password missing", 0x10, MAL, P_MQTT, 0xC2, KA, CID, 0, 1, 'u'),
    ROW("connect trailing byte", 0x10, MAL, P_MQTT, 0x02, KA, CID, 0),
    ROW("connect 3.1 all fields", 0x10, OK, P_MQISDP, 0xEE, KA, CID, 0, 1, 'w', 0, 1, 'm', 0, 1,
        'u', 0, 1, 'p'),

    /* CONNACK */
    ROW("connack", 0x20, OK, 0x00, 0x00),
    ROW("connack session present", 0x20, OK, 0x01, 0x00),
    ROW("connack rc 5", 0x20, OK, 0x00, 0x05),
    ROW("connack rc 6", 0x20, MAL, 0x00, 0x06),
    ROW("connack reserved ack flag", 0x20, MAL, 0x02, 0x00),
    ROW("connack session present with error", 0x20, MAL, 0x01, 0x04),
    ROW("connack flags nibble", 0x21, MAL, 0x00, 0x00),
    ROW("connack short", 0x20, MAL, 0x00),
    ROW("connack long", 0x20, MAL, 0x00, 0x00, 0x00),
    ROW0("connack empty", 0x20, MAL),

    /* PUBLISH */
    ROW("publish qos 0", 0x30, OK, 0, 1, 'a', 'x'),
    ROW("publish qos 0 empty payload", 0x30, OK, 0, 1, 'a'),
    ROW("publish qos 0 retain", 0x31, OK, 0, 1, 'a'),
    ROW("publish qos 1", 0x32, OK, 0, 1, 'a', 0, 1),
    ROW("publish qos 2 dup retain", 0x3D, OK, 0, 1, 'a', 0x12, 0x34, 'x'),
    ROW("publish qos 1 dup", 0x3A, OK, 0, 1, 'a', 0, 1),
    ROW("publish qos 3", 0x36, MAL, 0, 1, 'a', 0, 1),
    ROW("publish qos 3 dup retain", 0x3F, MAL, 0, 1, 'a', 0, 1),
    ROW("publish qos 0 dup", 0x38, MAL, 0, 1, 'a'),
    ROW("publish topic empty", 0x30, MAL, 0, 0, 'x'),
    ROW("publish topic +", 0x30, MAL, 0, 3, 'a', '/', '+'),
    ROW("publish topic #", 0x30, MAL, 0, 1, '#'),
    ROW("publish topic bad utf8", 0x30, MAL, 0, 1, 0xFF),
    ROW("publish topic surrogate", 0x30, MAL, 0, 3, 0xED, 0xA0, 0x80),
    ROW("publish topic U+0000", 0x30, MAL, 0, 3, 'a', 0, 'b'),
    ROW("publish topic past end", 0x30, MAL, 0, 5, 'a'),
    ROW("publish topic length cut", 0x30, MAL, 0),
    ROW0("publish empty", 0x30, MAL),
    ROW("publish qos 1 no packet id", 0x32, MAL, 0, 1, 'a'),
    ROW("publish qos 1 half packet id", 0x32, MAL, 0, 1, 'a', 0),
    ROW("publish qos 1 packet id 0", 0x32, MAL, 0, 1, 'a', 0, 0),
    ROW("publish qos 2 packet id 0", 0x34, MAL, 0, 1, 'a', 0, 0, 'x'),
    ROW("publish $SYS topic", 0x30, OK, 0, 4, '$', 'S', 'Y', 'S'),

    /* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK */
    ROW("puback", 0x40, OK, 0, 1),
    ROW("puback id 0", 0x40, MAL, 0, 0),
    ROW("puback short", 0x40, MAL, 0),
    ROW("puback long", 0x40, MAL, 0, 1, 0),
    ROW0("puback empty", 0x40, MAL),
    ROW("puback flags", 0x42, MAL, 0, 1),
    ROW("pubrec", 0x50, OK, 0xFF, 0xFF),
    ROW("pubrec flags", 0x52, MAL, 0, 1),
    ROW("pubrec id 0", 0x50, MAL, 0, 0),
    ROW("pubrel", 0x62, OK, 0, 1),
    ROW("pubrel flags 0", 0x60, MAL, 0, 1),
    ROW("pubrel flags 3", 0x63, MAL, 0, 1),
    ROW("pubrel long", 0x62, MAL, 0, 1, 0),
    ROW("pubrel id 0", 0x62, MAL, 0, 0),
    ROW("pubcomp", 0x70, OK, 0, 1),
    ROW("pubcomp flags", 0x78, MAL, 0, 1),
    ROW("pubcomp short", 0x70, MAL, 1),
    ROW("unsuback", 0xB0, OK, 0, 1),
    ROW("unsuback flags", 0xB2, MAL, 0, 1),
    ROW("unsuback id 0", 0xB0, MAL, 0, 0),
    ROW("unsuback long", 0xB0, MAL, 0, 1, 0),

    /* SUBSCRIBE */
    ROW("subscribe", 0x82, OK, 0, 1, 0, 1, 'a', 0),
    ROW("subscribe two", 0x82, OK, 0, 1, 0, 1, 'a', 2, 0, 3, 'b', '/', '#', 1),
    ROW("subscribe flags 0", 0x80, MAL, 0, 1, 0, 1, 'a', 0),
    ROW("subscribe flags 3", 0x83, MAL, 0, 1, 0, 1, 'a', 0),
    ROW("subscribe id 0", 0x82, MAL, 0, 0, 0, 1, 'a', 0),
    ROW("subscribe no entries", 0x82, MAL, 0, 1),
    ROW("subscribe no id", 0x82, MAL, 0),
    ROW("subscribe bad filter", 0x82, MAL, 0, 1, 0, 2, 'a', '+', 0),
    ROW("subscribe bad second filter", 0x82, MAL, 0, 1, 0, 1, 'a', 0, 0, 3, '#', '/', 'a', 0),
    ROW("subscribe empty filter", 0x82, MAL, 0, 1, 0, 0, 0),
    ROW("subscribe filter bad utf8", 0x82, MAL, 0, 1, 0, 1, 0xFE, 0),
    ROW("subscribe filter U+0000", 0x82, MAL, 0, 1, 0, 1, 0, 0),
    ROW("subscribe bad share", 0x82, MAL, 0, 1, 0, 9, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/',
        0),
    ROW("subscribe share", 0x82, OK, 0, 1, 0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', '#',
        1),
    ROW("subscribe qos 3", 0x82, MAL, 0, 1, 0, 1, 'a', 3),
    ROW("subscribe qos reserved bit 2", 0x82, MAL, 0, 1, 0, 1, 'a', 0x04),
    ROW("subscribe qos reserved bit 7", 0x82, MAL, 0, 1, 0, 1, 'a', 0x81),
    ROW("subscribe qos missing", 0x82, MAL, 0, 1, 0, 1, 'a'),
    ROW("subscribe second qos missing", 0x82, MAL, 0, 1, 0, 1, 'a', 0, 0, 1, 'b'),
    ROW("subscribe filter past end", 0x82, MAL, 0, 1, 0, 5, 'a', 0),
    ROW("subscribe trailing byte", 0x82, MAL, 0, 1, 0, 1, 'a', 0, 0),

    /* SUBACK */
    ROW("suback", 0x90, OK, 0, 1, 0),
    ROW("suback all codes", 0x90, OK, 0, 1, 0, 1, 2, 0x80),
    ROW("suback no codes", 0x90, MAL, 0, 1),
    ROW("suback code 3", 0x90, MAL, 0, 1, 3),
    ROW("suback code 0x81", 0x90, MAL, 0, 1, 0, 0x81),
    ROW("suback id 0", 0x90, MAL, 0, 0, 0),
    ROW("suback flags", 0x92, MAL, 0, 1, 0),
    ROW("suback short", 0x90, MAL, 0),

    /* UNSUBSCRIBE */
    ROW("unsubscribe", 0xA2, OK, 0, 1, 0, 1, 'a'),
    ROW("unsubscribe two", 0xA2, OK, 0, 1, 0, 1, '+', 0, 3, 'a', '/', '#'),
    ROW("unsubscribe flags 0", 0xA0, MAL, 0, 1, 0, 1, 'a'),
    ROW("unsubscribe id 0", 0xA2, MAL, 0, 0, 0, 1, 'a'),
    ROW("unsubscribe no entries", 0xA2, MAL, 0, 1),
    ROW("unsubscribe bad filter", 0xA2, MAL, 0, 1, 0, 2, '#', 'a'),
    ROW("unsubscribe empty filter", 0xA2, MAL, 0, 1, 0, 0),
    ROW("unsubscribe filter past end", 0xA2, MAL, 0, 1, 0, 2, 'a'),
    ROW("unsubscribe dangling byte", 0xA2, MAL, 0, 1, 0, 1, 'a', 0),

    /* PINGREQ, PINGRESP, DISCONNECT */
    ROW0("pingreq", 0xC0, OK),
    ROW0("pingreq flags", 0xC1, MAL),
    ROW("pingreq body", 0xC0, MAL, 0),
    ROW0("pingresp", 0xD0, OK),
    ROW0("pingresp flags", 0xD4, MAL),
    ROW("pingresp body", 0xD0, MAL, 0),
    ROW0("disconnect", 0xE0, OK),
    ROW0("disconnect flags", 0xE2, MAL),
    ROW("disconnect body", 0xE0, MAL, 0, 0),
};

static void test_raw_packets(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(raw_rows); i++) {
        const struct raw_row *r = &raw_rows[i];
        size_t n = 0;
        buf[n++] = r->first;
        n += mqtt_varint_encode(buf + n, r->len);
        if (r->len) memcpy(buf + n, r->body, r->len);
        n += r->len;

        struct mqtt_packet pkt;
        int rc = frame_decode(buf, n, &pkt);
        if (rc != r->rc)
            fail_msg("%s: mqtt_decode = %d (%s), want %d (%s)", r->name, rc, umbra_strerror(rc),
                     r->rc, umbra_strerror(r->rc));
        if (rc == 0) assert_int_equal(pkt.type, r->first >> 4);
    }
}

/* Every accepted raw packet also decodes from a non-minimal (4-byte) remaining length. */
static void test_raw_packets_long_header(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(raw_rows); i++) {
        const struct raw_row *r = &raw_rows[i];
        buf[0] = r->first;
        buf[1] = (uint8_t)(0x80 | (r->len & 0x7F));
        buf[2] = (uint8_t)(0x80 | (r->len >> 7));
        buf[3] = 0x80;
        buf[4] = 0x00;
        if (r->len) memcpy(buf + 5, r->body, r->len);
        struct mqtt_packet pkt;
        assert_int_equal(frame_decode(buf, 5 + r->len, &pkt), r->rc);
    }
}

/* A PUBLISH with a packet id check and fields read back from raw bytes. */
static void test_decode_publish_fields(void **state)
{
    (void)state;
    static const uint8_t raw[] = {0x3B, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x12, 0x34, 'x', 'y', 'z'};
    struct mqtt_packet pkt;
    assert_int_equal(frame_decode(raw, sizeof(raw), &pkt), 0);
    assert_true(pkt.u.publish.dup);
    assert_int_equal(pkt.u.publish.qos, 1);
    assert_true(pkt.u.publish.retain);
    assert_str_eq(pkt.u.publish.topic, STR("a/b"));
    assert_ptr_equal(pkt.u.publish.topic.ptr, raw + 4); /* views, not copies */
    assert_int_equal(pkt.u.publish.packet_id, 0x1234);
    assert_bytes_eq(pkt.u.publish.payload, BYTES("xyz"));
}

/* The 65536th SUBSCRIBE entry does not fit the 16-bit count. */
static void test_subscribe_count_limit(void **state)
{
    (void)state;
    size_t entries = 65536, rl = 2 + entries * 4;
    uint8_t *p = malloc(5 + rl);
    assert_non_null(p);
    size_t n = 0;
    p[n++] = 0x82;
    n += mqtt_varint_encode(p + n, rl);
    p[n++] = 0;
    p[n++] = 1;
    for (size_t i = 0; i < entries; i++) {
        p[n++] = 0;
        p[n++] = 1;
        p[n++] = 'a';
        p[n++] = 0;
    }
    struct mqtt_packet pkt;
    assert_int_equal(frame_decode(p, n, &pkt), UMBRA_EMALFORMED);
    /* One fewer fits. */
    n -= 4;
    assert_int_equal(mqtt_varint_encode(p + 1, rl - 4), 3); /* same header size as before */
    assert_int_equal(frame_decode(p, n, &pkt), 0);
    assert_int_equal(pkt.u.subscribe.count, 65535);
    free(p);
}

/* Iterators stay in bounds even on a list that was never validated. */
static void test_iter_bounds(void **state)
{
    (void)state;
    static const uint8_t junk[] = {0, 1, 'a', 0, 0, 9, 'b'};
    struct mqtt_bytes list = {junk, sizeof(junk)};
    struct mqtt_list_iter it;
    struct mqtt_str f;
    uint8_t qos;
    mqtt_list_iter_init(&it, &list);
    assert_true(mqtt_subscribe_next(&it, &f, &qos));
    assert_false(mqtt_subscribe_next(&it, &f, &qos));
    assert_false(mqtt_subscribe_next(&it, &f, &qos));
    list.len = 2;
    mqtt_list_iter_init(&it, &list);
    assert_false(mqtt_unsubscribe_next(&it, &f));
}

static void test_type_name(void **state)
{
    (void)state;
    assert_string_equal(mqtt_type_name(MQTT_CONNECT), "CONNECT");
    assert_string_equal(mqtt_type_name(MQTT_PUBLISH), "PUBLISH");
    assert_string_equal(mqtt_type_name(MQTT_UNSUBSCRIBE), "UNSUBSCRIBE");
    assert_string_equal(mqtt_type_name(MQTT_DISCONNECT), "DISCONNECT");
    assert_string_equal(mqtt_type_name(0), "UNKNOWN");
    assert_string_equal(mqtt_type_name(15), "UNKNOWN");
    assert_string_equal(mqtt_type_name(-1), "UNKNOWN");
    for (int t = MQTT_CONNECT; t <= MQTT_DISCONNECT; t++)
        assert_string_not_equal(mqtt_type_name(t), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_connect),
        cmocka_unit_test(test_roundtrip_connack),
        cmocka_unit_test(test_roundtrip_publish),
        cmocka_unit_test(test_roundtrip_acks),
        cmocka_unit_test(test_roundtrip_empty),
        cmocka_unit_test(test_roundtrip_subscribe),
        cmocka_unit_test(test_roundtrip_unsubscribe),
        cmocka_unit_test(test_roundtrip_suback),
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_encode_short_buffer),
        cmocka_unit_test(test_encode_invalid),
        cmocka_unit_test(test_publish_header),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_frame_lengths),
        cmocka_unit_test(test_frame_malformed),
        cmocka_unit_test(test_frame_max_packet),
        cmocka_unit_test(test_frame_stream_whole),
        cmocka_unit_test(test_frame_stream_bytewise),
        cmocka_unit_test(test_raw_packets),
        cmocka_unit_test(test_raw_packets_long_header),
        cmocka_unit_test(test_decode_publish_fields),
        cmocka_unit_test(test_subscribe_count_limit),
        cmocka_unit_test(test_iter_bounds),
        cmocka_unit_test(test_type_name),
    };
    return cmocka_run_group_tests_name("mqtt_codec", tests, NULL, NULL);
}
