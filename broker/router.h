/*
 * router.h - from one published message to every session that gets it.
 *
 * router_publish matches the topic in the trie, merges overlapping
 * subscriptions of one session into one delivery at the highest granted
 * QoS (MQTT-3.3.5-1), picks one member per $share group, updates the
 * retained store, and hands each session its delivery: written straight to
 * the connection when the session is online with room in its window,
 * queued otherwise. A message is copied into a struct umbra_msg only if
 * some recipient has to keep it; pure QoS 0 fan-out to online subscribers
 * copies nothing but the bytes into each connection's output.
 *
 * Loop thread only.
 */
#ifndef UMBRA_ROUTER_H
#define UMBRA_ROUTER_H

#include "server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_msg;

/*
 * Route an application message. `msg` may be NULL; when given it must hold
 * this topic and payload, and the caller keeps its reference.
 * is_internal marks broker-generated messages ($SYS) whose retained copies
 * are not written to disk.
 */
void router_publish(struct umbra_server *s, const char *topic, size_t topic_len,
                    const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain,
                    struct umbra_msg *msg, bool is_internal);

/* Deliver one message to one session (retained-on-subscribe uses this). */
void router_deliver(struct umbra_server *s, struct umbra_session *sess, struct umbra_msg *msg,
                    uint8_t qos, bool is_retained);

/* Send queued deliveries while the window and the connection allow. */
void router_pump(struct umbra_server *s, struct umbra_session *sess);

/* After a reconnect: re-send in-flight deliveries with DUP, then pump. */
void router_resume(struct umbra_server *s, struct umbra_session *sess);

/* PUBACK / PUBREC / PUBCOMP from the client for an outgoing delivery. */
void router_acked(struct umbra_server *s, struct umbra_session *sess, int type, uint16_t packet_id);

/* The connection went away: keep what a persistent session keeps. */
void router_session_offline(struct umbra_server *s, struct umbra_session *sess);

#endif
