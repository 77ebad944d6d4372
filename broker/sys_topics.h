/*
 * sys_topics.h - the broker's own $SYS/broker/... topics, named as mosquitto
 * names them, published retained every sys_interval seconds.
 */
#ifndef UMBRA_SYS_TOPICS_H
#define UMBRA_SYS_TOPICS_H

struct umbra_server;

void sys_topics_publish(struct umbra_server *s);

#endif
