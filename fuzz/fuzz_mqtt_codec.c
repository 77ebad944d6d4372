/*
 * fuzz_mqtt_codec.c - libFuzzer target for mqtt_codec.c and mqtt_topic.c.
 *
 * The input is read as a stream of MQTT packets: each is framed (with a small
 * maximum packet size, plus every shorter prefix to exercise incremental
 * framing) and decoded. Whenever a packet decodes, it is encoded again from
 * the decoded struct; the result must decode to the same fields, and must be
 * byte-identical to the input when the input's remaining length was minimal,
 * since MQTT 3.1.1 gives every packet exactly one canonical form otherwise.
 *
 * The same bytes are then fed to the topic functions and compared with slow,
 * obviously-correct reference versions written differently (per code point,
 * per level) from the fast single-pass ones.
 *
 * Any disagreement aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mqtt_codec.h"
#include "mqtt_topic.h"

#define MAX_PACKET 2048

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- Reference topic functions ----------------------------------------- */

/* Decode code points with the general formula, then apply the rules. */
static bool ref_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        uint32_t cp, min;
        size_t n;
        if (c < 0x80)
            n = 1, cp = c, min = 0;
        else if ((c & 0xE0) == 0xC0)
            n = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            n = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            n = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (len - i < n) return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

struct level {
    const uint8_t *p;
    size_t len;
};
static struct level flevels[4097], tlevels[4097];

static size_t split_levels(const uint8_t *s, size_t len, struct level *out)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            out[n].p = s + start;
            out[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static bool level_is(const struct level *l, char c)
{
    return l->len == 1 && l->p[0] == c;
}

static bool level_has(const struct level *l, char c)
{
    return memchr(l->p, c, l->len) != NULL;
}

static bool ref_plain_filter_valid(const uint8_t *s, size_t len)
{
    if (len == 0 || !ref_utf8_valid(s, len)) return false;
    size_t n = split_levels(s, len, flevels);
    for (size_t i = 0; i < n; i++) {
        const struct level *l = &flevels[i];
        if (level_has(l, '+') && !level_is(l, '+')) return false;
        if (level_has(l, '#') && (!level_is(l, '#') || i != n - 1)) return false;
    }
    return true;
}

static bool ref_filter_valid(const uint8_t *s, size_t len)
{
    if (len < 7 || memcmp(s, "$share/", 7) != 0) return ref_plain_filter_valid(s, len);
    size_t g = 7;
    while (g < len && s[g] != '/')
        g++;
    if (g == len || g == 7) return false;
    const uint8_t *group = s + 7;
    size_t glen = g - 7;
    if (memchr(group, '+', glen) || memchr(group, '#', glen) || !ref_utf8_valid(group, glen))
        return false;
    return ref_plain_filter_valid(s + g + 1, len - g - 1);
}

static bool ref_matches(const uint8_t *f, size_t flen, const uint8_t *t, size_t tlen, bool parent)
{
    if (tlen > 0 && t[0] == '$' && flen > 0 && (f[0] == '+' || f[0] == '#')) return false;
    size_t nf = split_levels(f, flen, flevels), nt = split_levels(t, tlen, tlevels);
    for (size_t i = 0;; i++) {
        if (i == nf) return i == nt;
        if (level_is(&flevels[i], '#')) return i < nt || parent;
        if (i == nt) return false;
        if (!level_is(&flevels[i], '+') &&
            (flevels[i].len != tlevels[i].len ||
             memcmp(flevels[i].p, tlevels[i].p, flevels[i].len) != 0))
            return false;
    }
}

static void fuzz_topics(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    if (size >= sizeof(flevels) / sizeof(flevels[0])) return; /* level tables' bound */

    bool utf8 = mqtt_utf8_valid(s, size);
    CHECK(utf8 == ref_utf8_valid(data, size));
    bool wild = memchr(s, '+', size) || memchr(s, '#', size);
    bool name = mqtt_topic_name_valid(s, size);
    CHECK(name == (size > 0 && utf8 && !wild));
    bool filter = mqtt_topic_filter_valid(s, size);
    CHECK(filter == ref_filter_valid(data, size));

    const char *g, *f;
    size_t gl, fl;
    if (mqtt_topic_split_shared(s, size, &g, &gl, &f, &fl)) {
        CHECK(gl + fl + 8 == size && f == g + gl + 1);
        /* The inner filter is taken literally, even if it starts with "$share/" itself. */
        if (filter) CHECK(gl > 0 && fl > 0 && ref_plain_filter_valid((const uint8_t *)f, fl));
    } else if (filter) {
        CHECK(size < 7 || memcmp(s, "$share/", 7) != 0);
    }

    struct mqtt_topic_limits unlimited = {0, 0}, tight = {16, 2}, aws = {256, 7};
    CHECK(mqtt_topic_within_limits(s, size, &unlimited));
    bool in_tight = mqtt_topic_within_limits(s, size, &tight);
    if (in_tight) CHECK(mqtt_topic_within_limits(s, size, &aws));
    if (size <= 16 && in_tight == false) {
        size_t slashes = 0;
        for (size_t i = 0; i < size; i++)
            slashes += s[i] == '/';
        CHECK(slashes > 2);
    }

    /* Matching: the first byte chooses where the filter ends and the topic begins. */
    if (size == 0) return;
    size_t cut = 1 + data[0] % size;
    const char *filt = s + 1, *topic = s + cut;
    size_t flen = cut - 1, tlen = size - cut;
    bool m_mqtt = mqtt_topic_matches(filt, flen, topic, tlen, true);
    bool m_aws = mqtt_topic_matches(filt, flen, topic, tlen, false);
    CHECK(!m_aws || m_mqtt);
    if (mqtt_topic_filter_valid(filt, flen) &&
        !mqtt_topic_split_shared(filt, flen, &g, &gl, &f, &fl)) {
        if (mqtt_topic_name_valid(topic, tlen)) {
            CHECK(m_mqtt == ref_matches(data + 1, flen, data + cut, tlen, true));
            CHECK(m_aws == ref_matches(data + 1, flen, data + cut, tlen, false));
            CHECK(mqtt_topic_matches(topic, tlen, topic, tlen, false));
        }
        if (mqtt_topic_name_valid(filt, flen)) /* no wildcards: plain equality */
            CHECK(m_mqtt == (flen == tlen && memcmp(filt, topic, flen) == 0));
    }
}

/* ---- Codec ------------------------------------------------------------- */

static uint8_t out[MAX_PACKET + 64], out2[MAX_PACKET + 64];

static bool same_str(struct mqtt_str a, struct mqtt_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_bytes(struct mqtt_bytes a, struct mqtt_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_packet(const struct mqtt_packet *a, const struct mqtt_packet *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case MQTT_CONNECT: {
        const struct mqtt_connect *x = &a->u.connect, *y = &b->u.connect;
        return x->protocol_level == y->protocol_level && x->clean_session == y->clean_session &&
               x->keepalive == y->keepalive && same_str(x->client_id, y->client_id) &&
               x->has_will == y->has_will && x->will_qos == y->will_qos &&
               x->will_retain == y->will_retain && same_str(x->will_topic, y->will_topic) &&
               same_bytes(x->will_payload, y->will_payload) && x->has_username == y->has_username &&
               same_str(x->username, y->username) && x->has_password == y->has_password &&
               same_bytes(x->password, y->password);
    }
    case MQTT_CONNACK:
        return a->u.connack.session_present == b->u.connack.session_present &&
               a->u.connack.return_code == b->u.connack.return_code;
    case MQTT_PUBLISH: {
        const struct mqtt_publish *x = &a->u.publish, *y = &b->u.publish;
        return x->dup == y->dup && x->qos == y->qos && x->retain == y->retain &&
               same_str(x->topic, y->topic) && x->packet_id == y->packet_id &&
               same_bytes(x->payload, y->payload);
    }
    case MQTT_SUBSCRIBE:
        return a->u.subscribe.packet_id == b->u.subscribe.packet_id &&
               a->u.subscribe.count == b->u.subscribe.count &&
               same_bytes(a->u.subscribe.list, b->u.subscribe.list);
    case MQTT_UNSUBSCRIBE:
        return a->u.unsubscribe.packet_id == b->u.unsubscribe.packet_id &&
               a->u.unsubscribe.count == b->u.unsubscribe.count &&
               same_bytes(a->u.unsubscribe.list, b->u.unsubscribe.list);
    case MQTT_SUBACK:
        return a->u.suback.packet_id == b->u.suback.packet_id &&
               same_bytes(a->u.suback.return_codes, b->u.suback.return_codes);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        return a->u.ack.packet_id == b->u.ack.packet_id;
    default:
        return true; /* PINGREQ, PINGRESP, DISCONNECT: no fields */
    }
}

/* Encode a SUBSCRIBE/UNSUBSCRIBE list through the public NUL-terminated API. */
static size_t reencode_list(const struct mqtt_packet *p, uint8_t *dst, size_t cap)
{
    bool sub = p->type == MQTT_SUBSCRIBE;
    const struct mqtt_bytes *list = sub ? &p->u.subscribe.list : &p->u.unsubscribe.list;
    size_t count = sub ? p->u.subscribe.count : p->u.unsubscribe.count;
    struct mqtt_sub_req *reqs = calloc(count, sizeof(*reqs));
    const char **filters = calloc(count, sizeof(*filters));
    char *strings = malloc(list->len + count); /* every filter plus its NUL */
    CHECK(reqs && filters && strings);

    struct mqtt_list_iter it;
    struct mqtt_str f;
    uint8_t qos = 0;
    size_t i = 0, used = 0;
    mqtt_list_iter_init(&it, list);
    while (sub ? mqtt_subscribe_next(&it, &f, &qos) : mqtt_unsubscribe_next(&it, &f)) {
        CHECK(i < count);
        CHECK(memchr(f.ptr, 0, f.len) == NULL && mqtt_topic_filter_valid(f.ptr, f.len));
        CHECK(!sub || qos <= 2);
        memcpy(strings + used, f.ptr, f.len);
        strings[used + f.len] = '\0';
        reqs[i].filter = filters[i] = strings + used;
        reqs[i].qos = qos;
        used += f.len + 1;
        i++;
    }
    CHECK(i == count);

    size_t n = sub ? mqtt_encode_subscribe(dst, cap, p->u.subscribe.packet_id, reqs, count)
                   : mqtt_encode_unsubscribe(dst, cap, p->u.unsubscribe.packet_id,
                                             (const char *const *)filters, count);
    free(reqs);
    free(filters);
    free(strings);
    return n;
}

static size_t reencode(const struct mqtt_packet *p, uint8_t *dst, size_t cap)
{
    switch (p->type) {
    case MQTT_CONNECT:
        return mqtt_encode_connect(dst, cap, &p->u.connect);
    case MQTT_CONNACK:
        return mqtt_encode_connack(dst, cap, p->u.connack.session_present,
                                   p->u.connack.return_code);
    case MQTT_PUBLISH:
        return mqtt_encode_publish(dst, cap, &p->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        return mqtt_encode_ack(dst, cap, p->type, p->u.ack.packet_id);
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        return reencode_list(p, dst, cap);
    case MQTT_SUBACK:
        return mqtt_encode_suback(dst, cap, p->u.suback.packet_id, p->u.suback.return_codes.ptr,
                                  p->u.suback.return_codes.len);
    default:
        return mqtt_encode_empty(dst, cap, p->type);
    }
}

/* Reference framing, the spec's own varint loop: result and total size. */
static int ref_frame(const uint8_t *b, size_t len, size_t max, size_t *total)
{
    size_t value = 0, mul = 1;
    *total = 0;
    if (len == 0) return 0;
    if (b[0] >> 4 == 0 || b[0] >> 4 == 15) return UMBRA_EMALFORMED;
    for (size_t i = 1; i <= 4; i++) {
        if (i >= len) return 0;
        value += (size_t)(b[i] & 127) * mul;
        mul *= 128;
        if (!(b[i] & 128)) {
            *total = i + 1 + value;
            if (max != 0 && *total > max) return UMBRA_ETOO_LARGE;
            return len >= *total ? 1 : 0;
        }
    }
    return UMBRA_EMALFORMED;
}

static bool filter_list_ok(const struct mqtt_bytes *list, bool sub, size_t count)
{
    struct mqtt_list_iter it;
    struct mqtt_str f;
    uint8_t qos = 0;
    size_t n = 0;
    mqtt_list_iter_init(&it, list);
    while (sub ? mqtt_subscribe_next(&it, &f, &qos) : mqtt_unsubscribe_next(&it, &f)) {
        if (!ref_filter_valid((const uint8_t *)f.ptr, f.len) || qos > 2) return false;
        n++;
    }
    return n == count && n > 0 && it.p == list->ptr + list->len;
}

/* What the spec guarantees about any packet mqtt_decode() accepted. */
static void check_decoded(const struct mqtt_frame *fr, const struct mqtt_packet *pkt)
{
    static const uint8_t flags[16] = {
        [MQTT_PUBREL] = 2, [MQTT_SUBSCRIBE] = 2, [MQTT_UNSUBSCRIBE] = 2};
    if (fr->type != MQTT_PUBLISH) CHECK(fr->flags == flags[fr->type]);

    switch (pkt->type) {
    case MQTT_CONNECT: {
        const struct mqtt_connect *c = &pkt->u.connect;
        CHECK(c->protocol_level == 3 || c->protocol_level == 4);
        CHECK(c->will_qos <= 2 && (c->has_will || (c->will_qos == 0 && !c->will_retain)));
        CHECK(!c->has_password || c->has_username);
        CHECK(c->client_id.len > 0 || c->clean_session);
        CHECK(ref_utf8_valid((const uint8_t *)c->client_id.ptr, c->client_id.len));
        if (c->has_will)
            CHECK(c->will_topic.len > 0 && !memchr(c->will_topic.ptr, '+', c->will_topic.len) &&
                  !memchr(c->will_topic.ptr, '#', c->will_topic.len) &&
                  ref_utf8_valid((const uint8_t *)c->will_topic.ptr, c->will_topic.len));
        if (c->has_username)
            CHECK(ref_utf8_valid((const uint8_t *)c->username.ptr, c->username.len));
        break;
    }
    case MQTT_CONNACK:
        CHECK(fr->body_len == 2 && pkt->u.connack.return_code <= 5);
        CHECK(!pkt->u.connack.session_present || pkt->u.connack.return_code == 0);
        break;
    case MQTT_PUBLISH: {
        const struct mqtt_publish *p = &pkt->u.publish;
        CHECK(p->qos <= 2 && (p->qos > 0 || !p->dup));
        CHECK((p->qos == 0) == (p->packet_id == 0));
        CHECK(p->topic.len > 0 && !memchr(p->topic.ptr, '+', p->topic.len) &&
              !memchr(p->topic.ptr, '#', p->topic.len) &&
              ref_utf8_valid((const uint8_t *)p->topic.ptr, p->topic.len));
        CHECK(fr->body_len == 2u + p->topic.len + (p->qos ? 2 : 0) + p->payload.len);
        break;
    }
    case MQTT_SUBSCRIBE:
        CHECK(pkt->u.subscribe.packet_id != 0);
        CHECK(filter_list_ok(&pkt->u.subscribe.list, true, pkt->u.subscribe.count));
        break;
    case MQTT_UNSUBSCRIBE:
        CHECK(pkt->u.unsubscribe.packet_id != 0);
        CHECK(filter_list_ok(&pkt->u.unsubscribe.list, false, pkt->u.unsubscribe.count));
        break;
    case MQTT_SUBACK:
        CHECK(pkt->u.suback.packet_id != 0 && pkt->u.suback.return_codes.len > 0);
        for (size_t i = 0; i < pkt->u.suback.return_codes.len; i++) {
            uint8_t rc = pkt->u.suback.return_codes.ptr[i];
            CHECK(rc <= 2 || rc == MQTT_SUBACK_FAILURE);
        }
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        CHECK(fr->body_len == 2 && pkt->u.ack.packet_id != 0);
        break;
    default:
        CHECK(fr->body_len == 0);
        break;
    }
}

/* The PUBLISH fan-out path: header + shared payload, id patched in place. */
static void check_publish_header(const struct mqtt_publish *pub, const uint8_t *whole, size_t n)
{
    size_t h = mqtt_encode_publish_header(out2, sizeof(out2), pub);
    CHECK(h > 0 && h + pub->payload.len == n && memcmp(out2, whole, h) == 0);
    size_t off = mqtt_publish_packet_id_offset(pub);
    if (pub->qos == 0) {
        CHECK(off == 0);
        return;
    }
    CHECK(off + 2 == h);
    CHECK(out2[off] == pub->packet_id >> 8 && out2[off + 1] == (pub->packet_id & 0xFF));
}

static void roundtrip(const struct mqtt_frame *fr, const struct mqtt_packet *pkt)
{
    size_t n = reencode(pkt, out, sizeof(out));
    CHECK(n > 0 && n <= fr->total_len && n <= sizeof(out));

    /* A minimal fixed header means the input was the one canonical encoding. */
    size_t header = fr->total_len - fr->body_len;
    if (header == 1 + mqtt_varint_size(fr->body_len)) {
        CHECK(n == fr->total_len);
        CHECK(memcmp(out, fr->body - header, n) == 0);
    } else {
        CHECK(n == fr->total_len - (header - 1 - mqtt_varint_size(fr->body_len)));
    }

    struct mqtt_frame fr2;
    struct mqtt_packet pkt2;
    size_t need;
    CHECK(mqtt_frame(out, n, MAX_PACKET, &fr2, &need) == 1 && fr2.total_len == n);
    CHECK(mqtt_decode(&fr2, &pkt2) == 0);
    CHECK(same_packet(pkt, &pkt2));

    if (pkt->type == MQTT_PUBLISH) check_publish_header(&pkt->u.publish, out, n);
}

/* Shorter prefixes of a buffer must never give a different answer. */
static void check_prefixes(const uint8_t *buf, size_t len, int rc, const struct mqtt_frame *fr)
{
    size_t header = rc == 1 ? fr->total_len - fr->body_len : 0;
    size_t upto = rc == 1 ? fr->total_len : len;
    for (size_t k = 0; k < upto && k < len; k++) {
        struct mqtt_frame f;
        size_t need = 1;
        int r = mqtt_frame(buf, k, MAX_PACKET, &f, &need);
        if (rc == 1) {
            CHECK(r == 0);
            CHECK(need == (k >= header ? fr->total_len : 0));
        } else {
            CHECK(r == 0 || r == rc); /* errors may show before the whole header */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        const uint8_t *p = data + off;
        size_t left = size - off;
        struct mqtt_frame fr;
        size_t need = 0;
        int rc = mqtt_frame(p, left, MAX_PACKET, &fr, &need);
        CHECK(rc == 1 || rc == 0 || rc == UMBRA_EMALFORMED || rc == UMBRA_ETOO_LARGE);
        size_t ref_total;
        CHECK(rc == ref_frame(p, left, MAX_PACKET, &ref_total));
        CHECK(rc != 1 || fr.total_len == ref_total);
        CHECK(rc != 0 || need == ref_total);
        check_prefixes(p, left, rc, &fr);

        /* Without a limit, the same packet is found (or a larger one is waited for). */
        struct mqtt_frame fr0;
        int rc0 = mqtt_frame(p, left, 0, &fr0, NULL);
        if (rc == 1)
            CHECK(rc0 == 1 && fr0.type == fr.type && fr0.flags == fr.flags && fr0.body == fr.body &&
                  fr0.body_len == fr.body_len && fr0.total_len == fr.total_len);
        if (rc == UMBRA_ETOO_LARGE) CHECK(rc0 == 0 || (rc0 == 1 && fr0.total_len > MAX_PACKET));
        if (rc <= 0) {
            CHECK(rc != 0 || need == 0 || (need > left && need <= MAX_PACKET));
            break;
        }

        CHECK(fr.type >= MQTT_CONNECT && fr.type <= MQTT_DISCONNECT);
        CHECK(fr.total_len <= left && fr.total_len <= MAX_PACKET);
        CHECK(fr.body + fr.body_len == p + fr.total_len);
        CHECK(strcmp(mqtt_type_name(fr.type), "UNKNOWN") != 0);

        struct mqtt_packet pkt;
        int drc = mqtt_decode(&fr, &pkt);
        CHECK(drc == 0 || drc == UMBRA_EMALFORMED ||
              (fr.type == MQTT_CONNECT &&
               (drc == UMBRA_EPROTO_NAME || drc == UMBRA_EPROTO_LEVEL || drc == UMBRA_ECLIENT_ID)));
        if (drc == 0) {
            CHECK(pkt.type == fr.type);
            check_decoded(&fr, &pkt);
            roundtrip(&fr, &pkt);
        }
        off += fr.total_len;
    }

    fuzz_topics(data, size);
    return 0;
}
