/* SPDX-License-Identifier: Apache-2.0 */
#include "lib/buf.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

uint8_t *berth_buf_reserve(struct berth_buf *b, size_t n)
{
    size_t pending = b->len - b->off;

    if (b->cap - b->len >= n)
        return b->data + b->len;
    /* Slide the pending bytes to the front when that makes enough room, else grow. */
    if (b->off > 0 && b->cap - pending >= n) {
        memmove(b->data, b->data + b->off, pending);
    } else {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - pending < n)
            cap *= 2;
        if (b->off > 0) {
            uint8_t *d = berth_xmalloc(cap);
            memcpy(d, b->data + b->off, pending);
            free(b->data);
            b->data = d;
        } else {
            b->data = berth_xrealloc(b->data, cap);
        }
        b->cap = cap;
    }
    b->off = 0;
    b->len = pending;
    return b->data + b->len;
}

void berth_buf_commit(struct berth_buf *b, size_t n)
{
    b->len += n;
}

void berth_buf_append(struct berth_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(berth_buf_reserve(b, n), p, n);
    b->len += n;
}

void berth_buf_consume(struct berth_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void berth_buf_clear(struct berth_buf *b)
{
    free(b->data);
    *b = (struct berth_buf)BERTH_BUF_INIT;
}
