/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Link-time overrides that keep glibc's message translation out of the static berth-shim
 * (~60 KiB of gettext, locale-alias and plural-form code, plus the stdio it opens catalogs
 * with). Linked into berth-shim only; every other binary keeps glibc's own versions.
 *
 * __assert_fail: protobuf-c's assert()s end here. glibc's version translates its format first;
 * this one writes the same "prog: file:line: func: Assertion `expr' failed." line with write(2)
 * and aborts.
 *
 * __dcgettext: glibc's strerror_r (which printf's %m reaches) translates through it. The shim
 * never calls setlocale(), so it runs in the "C" locale, where dcgettext returns msgid
 * unchanged: returning msgid here changes no output.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char *__progname;

void __assert_fail(const char *assertion, const char *file, unsigned int line, const char *function)
    __attribute__((noreturn));
char *__dcgettext(const char *domainname, const char *msgid, int category);

static void put(const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void __assert_fail(const char *assertion, const char *file, unsigned int line, const char *function)
{
    char num[12];
    size_t i = sizeof(num);

    num[--i] = '\0';
    do {
        num[--i] = (char)('0' + line % 10);
        line /= 10;
    } while (line && i > 0);
    put(__progname && *__progname ? __progname : "berth-shim");
    put(": ");
    put(file ? file : "?");
    put(":");
    put(num + i);
    put(": ");
    if (function) {
        put(function);
        put(": ");
    }
    put("Assertion `");
    put(assertion ? assertion : "?");
    put("' failed.\n");
    abort();
}

char *__dcgettext(const char *domainname, const char *msgid, int category)
{
    (void)domainname;
    (void)category;
    return (char *)msgid;
}
