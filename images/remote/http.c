/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transfer engine (see http.h). Callers queue a transfer and sleep on its condition
 * variable; the I/O thread owns the multi handle and every easy handle, so libcurl is only
 * ever entered from that thread. A sink answering WAIT stops the transfer: the next piece
 * libcurl offers is refused with CURL_WRITEFUNC_PAUSE (libcurl keeps it and offers it again
 * after the unpause), and the sink's wait_fd joins the poll set until it is writable.
 */
#include "images/remote/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "images/remote/hosts.h"

#define DEFAULT_MAX_BODY (64 << 10)
#define DEFAULT_PROGRESS (300LL * 1000000000LL)
#define DEFAULT_CONNECT  (30LL * 1000000000LL)
#define POLL_MS          200   /* with transfers: cancel and progress checks */
#define IDLE_EXIT_MS     30000 /* an I/O thread without transfers this long ends */
#define MAX_WAIT_FDS     256
#define DRAIN_RETRY_MS   100

struct xfer {
    struct xfer *next;
    const struct berth_http_req *req;
    struct berth_http_resp *resp;
    CURL *easy;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    pthread_cond_t cond;
    int64_t last_progress_ns;
    bool sink_on;           /* the 2xx body goes to the sink */
    bool waiting;           /* the sink asked to wait for wait_fd */
    int64_t drain_tried_ns; /* last drain attempt while waiting */
    bool curl_done;         /* libcurl finished; completion waits for the sink to drain */
    CURLcode result;
    bool finished;
    struct berth_err *err;
};

struct berth_http {
    pthread_mutex_t mu;
    pthread_t thread;
    bool thread_joinable; /* made and not yet joined (mu) */
    bool thread_running;  /* made and not yet ending; a transfer handed in finds it (mu) */
    bool stopping;
    CURLM *multi;
    struct xfer *queued; /* handed in, not yet added to the multi handle (mu) */
    struct xfer *active; /* I/O thread only */
    int64_t progress_ns, connect_ns;
    char *user_agent;
    struct berth_http_stats stats; /* mu */
};

void berth_http_resp_clear(struct berth_http_resp *r)
{
    if (!r)
        return;
    free(r->content_type);
    free(r->docker_digest);
    free(r->location);
    free(r->www_authenticate);
    free(r->content_range);
    berth_bytes_clear(&r->body);
    memset(r, 0, sizeof(*r));
}

static void resp_reset(struct berth_http_resp *r)
{
    berth_http_resp_clear(r);
    r->content_length = -1;
    r->retry_after_s = -1;
}

/* ---- callbacks (I/O thread) ---- */

static char *header_value(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    const char *v, *end = line + len;

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    v = line + n + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return berth_xstrndup(v, (size_t)(end - v));
}

static void set_once(char **slot, char *v)
{
    if (!v)
        return;
    free(*slot);
    *slot = v;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    struct berth_http_resp *r = x->resp;
    size_t len = size * nitems;
    char *v;

    x->last_progress_ns = berth_mono_ns();
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) { /* a new answer (after 1xx, redirects) */
        resp_reset(r);
        return len;
    }
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 100 && code < 200)
            return len; /* an interim answer; the real one follows */
        r->status = code;
        x->sink_on = x->req->sink && code >= 200 && code < 300;
        if (x->sink_on && x->req->sink->start &&
            x->req->sink->start(x->req->sink->arg, r) == BERTH_HTTP_SINK_ABORT)
            return 0;
        return len;
    }
    if ((v = header_value(buf, len, "Content-Type"))) {
        char *semi = strchr(v, ';');
        if (semi) {
            *semi = '\0';
            while (semi > v && (semi[-1] == ' ' || semi[-1] == '\t'))
                *--semi = '\0';
        }
        set_once(&r->content_type, v);
    } else if ((v = header_value(buf, len, "Content-Length"))) {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (!errno && end != v && !*end && n >= 0)
            r->content_length = n;
        free(v);
    } else if ((v = header_value(buf, len, "Docker-Content-Digest"))) {
        set_once(&r->docker_digest, v);
    } else if ((v = header_value(buf, len, "Location"))) {
        set_once(&r->location, v);
    } else if ((v = header_value(buf, len, "Content-Range"))) {
        set_once(&r->content_range, v);
    } else if ((v = header_value(buf, len, "Retry-After"))) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (end != v && !*end && n >= 0)
            r->retry_after_s = n;
        free(v);
    } else if ((v = header_value(buf, len, "WWW-Authenticate"))) {
        if (r->www_authenticate) {
            char *j = berth_strdup_printf("%s, %s", r->www_authenticate, v);
            free(v);
            v = j;
        }
        set_once(&r->www_authenticate, v);
    }
    return len;
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * nmemb;

    if (x->waiting)
        return CURL_WRITEFUNC_PAUSE; /* offered again after the unpause */
    x->last_progress_ns = berth_mono_ns();
    if (x->sink_on) {
        switch (x->req->sink->data(x->req->sink->arg, buf, len)) {
        case BERTH_HTTP_SINK_OK:
            return len;
        case BERTH_HTTP_SINK_WAIT:
            x->waiting = true;
            return len;
        default:
            return 0;
        }
    }
    {
        struct berth_http_resp *r = x->resp;
        size_t max = x->req->max_body ? x->req->max_body : DEFAULT_MAX_BODY;
        size_t take = r->body.len >= max ? 0 : (max - r->body.len < len ? max - r->body.len : len);
        if (take < len)
            r->body_truncated = true;
        if (take) {
            r->body.data = berth_xrealloc(r->body.data, r->body.len + take + 1);
            memcpy(r->body.data + r->body.len, buf, take);
            r->body.len += take;
            r->body.data[r->body.len] = '\0';
        }
    }
    return len;
}

/* ---- transfers ---- */

const char *berth_http_url_host(const char *url, char *buf, size_t cap)
{
    const char *p = strstr(url, "://");
    size_t n;

    p = p ? p + 3 : url;
    n = strcspn(p, "/?#");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int xfer_setup(struct berth_http *h, struct xfer *x, struct berth_err **err)
{
    const struct berth_http_req *req = x->req;
    CURL *e = curl_easy_init();

    if (!e)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "curl_easy_init failed");
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L); /* prefer a stream on an h2 connection */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->connect_ns / 1000000));
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
    if (strcmp(req->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(req->method, "GET") != 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "method %s not supported",
                             req->method);
    if (req->host) {
        if (berth_registry_host_tls_apply(req->host, e, err) < 0)
            return -1;
        for (char **hd = req->host->headers; hd && *hd; hd++)
            x->hdrs = curl_slist_append(x->hdrs, *hd);
    }
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        x->hdrs = curl_slist_append(x->hdrs, *hd);
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    return 0;
}

static void xfer_error(struct xfer *x, CURLcode rc)
{
    char host[256];
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

    berth_http_url_host(x->req->url, host, sizeof(host));
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        berth_err_set(&x->err, BERTH_E_UNAVAILABLE, 0, "%s: host not found: %s", host, why);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        berth_err_set(&x->err, BERTH_E_UNAVAILABLE, 0, "%s: TLS certificate does not verify: %s",
                      host, why);
        break;
    case CURLE_WRITE_ERROR:
        berth_err_set(&x->err, BERTH_E_CANCELED, 0, "%s: aborted by sink", host);
        break;
    default:
        berth_err_set(&x->err, BERTH_E_UNAVAILABLE, 0, "%s: %s", host, why);
        break;
    }
}

/* Ends x: wakes its caller. mu held. */
static void xfer_finish(struct berth_http *h, struct xfer *x)
{
    if (x->easy) {
        curl_off_t n = 0;
        long conns = 0;
        curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &n);
        curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
        h->stats.bytes += (uint64_t)n;
        h->stats.connections += (uint64_t)conns;
        curl_multi_remove_handle(h->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    x->finished = true;
    pthread_cond_signal(&x->cond);
}

static void active_remove(struct berth_http *h, struct xfer *x)
{
    for (struct xfer **p = &h->active; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            x->next = NULL;
            return;
        }
}

static void complete(struct berth_http *h, struct xfer *x)
{
    if (!x->err && x->result != CURLE_OK)
        xfer_error(x, x->result);
    active_remove(h, x);
    pthread_mutex_lock(&h->mu);
    xfer_finish(h, x);
    pthread_mutex_unlock(&h->mu);
}

static void fail(struct berth_http *h, struct xfer *x, int code, const char *what)
{
    char host[256];

    berth_http_url_host(x->req->url, host, sizeof(host));
    if (!x->err)
        berth_err_set(&x->err, code, 0, "%s: %s", host, what);
    complete(h, x);
}

static void *io_thread(void *arg)
{
    struct berth_http *h = arg;
    struct curl_waitfd wfds[MAX_WAIT_FDS];
    struct xfer *wx[MAX_WAIT_FDS];

    int64_t idle_since = berth_mono_ns();

    for (;;) {
        struct xfer *in;
        unsigned nw = 0;
        int running = 0;
        CURLMsg *msg;
        int left;
        bool stop;

        pthread_mutex_lock(&h->mu);
        in = h->queued;
        h->queued = NULL;
        stop = h->stopping;
        if (in || h->active) {
            idle_since = berth_mono_ns();
        } else if (!stop && berth_mono_ns() - idle_since >= IDLE_EXIT_MS * 1000000LL) {
            /* Pulls are rare on a node: no thread waits for the next one. The connection
             * cache stays with the multi handle; the next transfer makes a thread again. */
            h->thread_running = false;
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        pthread_mutex_unlock(&h->mu);
        while (in) {
            struct xfer *x = in;
            in = in->next;
            x->next = h->active;
            h->active = x;
            x->last_progress_ns = berth_mono_ns();
            if (xfer_setup(h, x, &x->err) < 0 || curl_multi_add_handle(h->multi, x->easy)) {
                if (!x->err)
                    berth_err_set(&x->err, BERTH_E_INTERNAL, 0, "curl_multi_add_handle failed");
                complete(h, x);
            }
        }
        if (stop) {
            while (h->active)
                fail(h, h->active, BERTH_E_CANCELED, "the registry client is stopping");
            return NULL;
        }
        for (struct xfer *x = h->active; x && nw < MAX_WAIT_FDS; x = x->next)
            if (x->waiting) {
                wfds[nw].fd = x->req->sink->wait_fd;
                wfds[nw].events = CURL_WAIT_POLLOUT;
                wfds[nw].revents = 0;
                wx[nw++] = x;
            }
        /* Idle: sleep until berth_http_do or berth_http_stop wakes the handle. */
        curl_multi_poll(h->multi, wfds, nw, h->active ? POLL_MS : IDLE_EXIT_MS, NULL);
        for (unsigned i = 0; i < nw; i++) {
            struct xfer *x = wx[i];
            enum berth_http_sink_ret r;
            int64_t now = berth_mono_ns();
            /* libcurl reports only POLLIN/POLLOUT of extra descriptors: a pipe whose reader
             * left shows POLLERR alone, so a held transfer also tries every DRAIN_RETRY_MS. */
            if (!wfds[i].revents && now - x->drain_tried_ns < DRAIN_RETRY_MS * 1000000LL)
                continue;
            x->drain_tried_ns = now;
            r = x->req->sink->drain(x->req->sink->arg);
            if (r == BERTH_HTTP_SINK_WAIT)
                continue;
            x->waiting = false;
            x->last_progress_ns = berth_mono_ns();
            if (r == BERTH_HTTP_SINK_ABORT) {
                fail(h, x, BERTH_E_CANCELED, "aborted by sink");
                continue;
            }
            if (x->curl_done)
                complete(h, x);
            else
                curl_easy_pause(x->easy, CURLPAUSE_CONT);
        }
        curl_multi_perform(h->multi, &running);
        while ((msg = curl_multi_info_read(h->multi, &left))) {
            struct xfer *x = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            x->result = msg->data.result;
            x->curl_done = true;
            if (!x->waiting) /* else it completes once the sink has drained */
                complete(h, x);
        }
        {
            int64_t now = berth_mono_ns();
            for (struct xfer *x = h->active, *nx; x; x = nx) {
                nx = x->next;
                if (x->req->cancel && atomic_load(x->req->cancel))
                    fail(h, x, BERTH_E_CANCELED, "transfer canceled");
                else if (!x->waiting && now - x->last_progress_ns > h->progress_ns)
                    fail(h, x, BERTH_E_DEADLINE_EXCEEDED,
                         "no progress within the pull progress "
                         "timeout");
            }
        }
    }
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int berth_http_new(const struct berth_http_opts *o, struct berth_http **out, struct berth_err **err)
{
    struct berth_http *h;

    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    h = berth_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    h->progress_ns = o && o->progress_timeout_ns > 0 ? o->progress_timeout_ns : DEFAULT_PROGRESS;
    h->connect_ns = o && o->connect_timeout_ns > 0 ? o->connect_timeout_ns : DEFAULT_CONNECT;
    h->user_agent = berth_xstrdup(o && o->user_agent ? o->user_agent : "berth");
    h->multi = curl_multi_init();
    if (!h->multi) {
        berth_http_free(h);
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "curl_multi_init failed");
    }
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
    *out = h;
    return 0;
}

/* With h->mu held: makes sure an I/O thread runs (joining one that ended idle). */
static int io_thread_ensure(struct berth_http *h, struct berth_err **err)
{
    int rc;

    if (h->thread_running)
        return 0;
    if (h->thread_joinable) /* it has given up the lock for good: joining is immediate */
        pthread_join(h->thread, NULL);
    h->thread_joinable = false;
    rc = pthread_create(&h->thread, NULL, io_thread, h);
    if (rc)
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "start the registry client thread");
    h->thread_joinable = h->thread_running = true;
    return 0;
}

void berth_http_stop(struct berth_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_mutex_unlock(&h->mu);
    curl_multi_wakeup(h->multi);
}

void berth_http_free(struct berth_http *h)
{
    if (!h)
        return;
    berth_http_stop(h);
    if (h->thread_joinable)
        pthread_join(h->thread, NULL);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    pthread_mutex_destroy(&h->mu);
    free(h->user_agent);
    free(h);
}

int berth_http_do(struct berth_http *h, const struct berth_http_req *req,
                  struct berth_http_resp *resp, struct berth_err **err)
{
    struct xfer x = {.req = req, .resp = resp};

    resp_reset(resp);
    pthread_cond_init(&x.cond, NULL);
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        pthread_cond_destroy(&x.cond);
        return berth_err_set(err, BERTH_E_CANCELED, 0, "the registry client is stopping");
    }
    if (io_thread_ensure(h, err) < 0) {
        pthread_mutex_unlock(&h->mu);
        pthread_cond_destroy(&x.cond);
        return -1;
    }
    x.next = h->queued;
    h->queued = &x;
    h->stats.requests++;
    pthread_mutex_unlock(&h->mu);
    curl_multi_wakeup(h->multi);
    pthread_mutex_lock(&h->mu);
    while (!x.finished)
        pthread_cond_wait(&x.cond, &h->mu);
    pthread_mutex_unlock(&h->mu);
    pthread_cond_destroy(&x.cond);
    if (x.err) {
        *err = x.err;
        return -1;
    }
    if (!req->sink && resp->body_truncated) {
        char host[256];
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0, "%s: answer larger than %zu bytes",
                             berth_http_url_host(req->url, host, sizeof(host)),
                             req->max_body ? req->max_body : (size_t)DEFAULT_MAX_BODY);
    }
    return 0;
}

void berth_http_stats(struct berth_http *h, struct berth_http_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->stats;
    pthread_mutex_unlock(&h->mu);
}
