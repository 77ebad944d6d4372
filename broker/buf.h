/*
 * buf.h - a growable byte buffer.
 *
 * Used for per-connection output and partial input. Growth doubles, so
 * appending is amortised O(1); buf_reset keeps the memory, buf_free drops it.
 */
#ifndef UMBRA_BUF_H
#define UMBRA_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* Make room for `extra` more bytes. Returns 0 or UMBRA_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Append bytes. Returns 0 or UMBRA_ENOMEM (the buffer is unchanged then). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Drop the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

#endif
