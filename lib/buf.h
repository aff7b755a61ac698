/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte queue: bytes are appended at the end and consumed from the front, for
 * network input and output buffers. Consuming only moves `off`; the space before it is
 * reclaimed when an append needs room, so a steady stream does not grow the allocation.
 * Allocation failure aborts, as the rest of lib does (berth_xrealloc).
 */
#ifndef BERTH_LIB_BUF_H
#define BERTH_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

struct berth_buf {
    uint8_t *data; /* owned; NULL while nothing was ever appended */
    size_t off;    /* first unconsumed byte */
    size_t len;    /* end of the bytes held: the pending bytes are data[off..len) */
    size_t cap;
};

#define BERTH_BUF_INIT                                                                             \
    {                                                                                              \
        0                                                                                          \
    }

/* Pending bytes and their count. */
static inline const uint8_t *berth_buf_head(const struct berth_buf *b)
{
    return b->data + b->off;
}
static inline size_t berth_buf_pending(const struct berth_buf *b)
{
    return b->len - b->off;
}

/* Makes room for at least n more bytes after the pending ones and returns where they go;
 * commit them with berth_buf_commit. */
uint8_t *berth_buf_reserve(struct berth_buf *b, size_t n);
/* Adds n bytes written at the pointer berth_buf_reserve returned. */
void berth_buf_commit(struct berth_buf *b, size_t n);
/* Appends n bytes (p may be NULL when n is 0). */
void berth_buf_append(struct berth_buf *b, const void *p, size_t n);
/* Drops the first n pending bytes (n <= pending). */
void berth_buf_consume(struct berth_buf *b, size_t n);
/* Frees the storage and empties the buffer. */
void berth_buf_clear(struct berth_buf *b);

#endif
