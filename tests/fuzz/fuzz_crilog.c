/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the CRI log line splitter of berth-shim (runtime/shim/crilog.c) writing into a
 * memfd. Input: one byte of max_line_size (0: no splitting), then records of a control byte
 * (bit 7: stderr, bit 6: flush after, bits 0-5: length) and that many payload bytes, fed as
 * reads from the process. Every output line must be "<ts> stdout|stderr F|P <bytes>", no
 * longer than max_line_size, and each stream's P and F records (F adding back the "\n") must
 * give back exactly the bytes fed to it, '\r's aside (the "\r" of "\r\n" is dropped).
 */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <sys/mman.h> /* memfd_create */
#include <unistd.h>

#include "runtime/shim/crilog.h"

struct bytes {
    char *p;
    size_t n;
};

static void add(struct bytes *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    FUZZ_CHECK(b->p != NULL);
    for (size_t i = 0; i < n; i++) /* '\r' aside */
        if (((const char *)p)[i] != '\r')
            b->p[b->n++] = ((const char *)p)[i];
}

static int64_t fixed_clock(void)
{
    return 1700000000123456789LL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bytes fed[2] = {{0}}, got[2] = {{0}}, out = {0};
    struct berth_shim_crilog *l;
    int64_t max;
    size_t pos = 1;
    int fd;

    if (size < 1)
        return 0;
    max = data[0];
    fd = memfd_create("crilog", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    l = berth_shim_crilog_new_fd(fd, max ? max : -1);
    berth_shim_crilog_set_clock(l, fixed_clock);
    while (pos < size) {
        uint8_t ctl = data[pos++];
        size_t n = ctl & 0x3f, s = ctl >> 7;
        if (n > size - pos)
            n = size - pos;
        berth_shim_crilog_feed(l, s, data + pos, n);
        add(&fed[s], data + pos, n);
        pos += n;
        if (ctl & 0x40)
            berth_shim_crilog_flush(l, s);
    }
    berth_shim_crilog_flush(l, BERTH_SHIM_CRILOG_STDOUT);
    berth_shim_crilog_flush(l, BERTH_SHIM_CRILOG_STDERR);
    berth_shim_crilog_close(l);

    /* Read the log back and parse it line by line. */
    {
        off_t end = lseek(fd, 0, SEEK_END);
        out.p = malloc((size_t)end + 1);
        FUZZ_CHECK(out.p && pread(fd, out.p, (size_t)end, 0) == end);
        out.n = (size_t)end;
    }
    close(fd);
    for (size_t i = 0; i < out.n;) {
        char *line = out.p + i, *nl = memchr(line, '\n', out.n - i), *sp, *content;
        size_t len, clen;
        int s;

        FUZZ_CHECK(nl != NULL); /* every record ends in "\n" */
        len = (size_t)(nl - line);
        sp = memchr(line, ' ', len);
        FUZZ_CHECK(sp && sp > line && (size_t)(sp - line) + 10 <= len);
        FUZZ_CHECK(!memcmp(sp + 1, "stdout ", 7) || !memcmp(sp + 1, "stderr ", 7));
        s = sp[4] == 'e' ? 1 : 0;
        FUZZ_CHECK((sp[8] == 'F' || sp[8] == 'P') && sp[9] == ' ');
        content = sp + 10;
        clen = (size_t)(nl - content);
        if (max > 0 && clen > (size_t)max) {
            fprintf(stderr, "record of %zu bytes, max_line_size %lld\n", clen, (long long)max);
            FUZZ_CHECK(!"record longer than max_line_size");
        }
        add(&got[s], content, clen);
        if (sp[8] == 'F')
            add(&got[s], "\n", 1);
        i += len + 1;
    }
    for (int s = 0; s < 2; s++) {
        if (got[s].n != fed[s].n || (fed[s].n && memcmp(got[s].p, fed[s].p, fed[s].n))) {
            fprintf(stderr, "stream %d: fed %zu bytes, log gives back %zu\n", s, fed[s].n,
                    got[s].n);
            FUZZ_CHECK(!"the log does not give back what was fed");
        }
        free(fed[s].p);
        free(got[s].p);
    }
    free(out.p);
    return 0;
}
