/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "probe.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>

#include "hashmap.h"
#include "probe-util.h"

#define PROBE_BODY_MAX_DEFAULT (64U * 1024U)
/* how late sd-event may run the schedule timer, to batch wake-ups */
#define PROBE_TIMER_ACCURACY (10 * USEC_PER_MSEC)
/* the per-link jitter is at most 1/32 of the interval and at most this */
#define PROBE_JITTER_MAX (10 * USEC_PER_SEC)
/* a slot missed by more than a quarter interval (and this) is skipped:
 * after a suspend the links keep their spread instead of all starting */
#define PROBE_LATE_MIN (10 * USEC_PER_SEC)
/* with connection reuse, a host's certificate chain is still read from a
 * full handshake this often */
#define PROBE_CERT_REFRESH USEC_PER_DAY
/* an OAuth2 token is used until expires_in minus a tenth, at most this */
#define PROBE_TOKEN_MARGIN_MAX (60 * USEC_PER_SEC)
#define PROBE_MAX_REDIRECTS 5L
#define PROBE_CA_CACHE_TIMEOUT 86400L
#define PROBE_USER_AGENT "tomslink/" TOMSLINK_VERSION
#define PROBE_SEND_BUFFER 16384L        /* libcurl's least */
#define PROBE_RECEIVE_BUFFER 4096L

enum {
        QUEUE_URGENT,
        QUEUE_NORMAL,
        _QUEUE_MAX,
};

typedef struct Host Host;
typedef struct Link Link;
typedef struct Probe Probe;

/* One host:port: its share of the parallel probes and its queue of links
 * waiting for a slot. Shared by every link that points there. */
struct Host {
        char *name;                     /* host:port, lower case; the key in ProbeEngine.hosts */
        unsigned n_ref;                 /* links and probes */
        unsigned in_flight;
        Link *queue_head, *queue_tail;  /* waiting links, urgent ones first */
        Link *urgent_tail;              /* the last urgent link in the queue, or NULL */
        Host *ring_prev, *ring_next;    /* in ring[ring] while it has a waiting link and a free slot */
        int ring;                       /* QUEUE_*, or -1 */
        usec_t last_full_handshake;     /* boottime of the last chain read without reuse, 0: never */
};

/* A registered link: what the engine needs from its LinkConfig, its place
 * in the schedule and in its host's queue. No curl handle or buffer while
 * idle. */
struct Link {
        char *name;                     /* the key in ProbeEngine.links */
        char *url;
        char *ca_file;
        char *auth_header;
        char *token_url;
        Host *host;
        StatusSet expect_status;
        usec_t interval, timeout, connect_timeout;
        ProbeMethod method;
        ProbeAuth auth;
        bool reuse_connections;
        bool follow_redirects;

        bool queued, urgent;
        Link *queue_prev, *queue_next;
        bool inactive;                  /* nothing to probe with: out of the schedule */

        usec_t last_start;              /* boottime the last probe started, 0: never */
        usec_t base;                    /* boottime of this round's slot */
        usec_t due;                     /* base plus this round's jitter: the heap key */
        size_t heap_idx;

        Probe *probe;                   /* in flight, or NULL */

        char *token;                    /* OAuth2 access token, wiped when dropped */
        usec_t token_valid_until;       /* boottime; 0: use once, do not cache */
};

typedef enum ProbeStep {
        STEP_TOKEN,                     /* fetching an OAuth2 token */
        STEP_REQUEST,                   /* the request to the endpoint */
} ProbeStep;

/* A probe in flight. */
struct Probe {
        ProbeEngine *engine;
        Link *link;
        Host *host;                     /* the host it counts against; referenced */
        CURL *easy;
        struct curl_slist *headers;     /* may carry the secret: wiped before it is freed */
        ProbeStep step;
        bool token_from_cache;
        bool token_retried;
        bool full_handshake;            /* no connection or TLS session reuse for this request */
        bool body_capped;
        bool cert_looked;
        bool token_too_large;
        bool redirect_refused;
        usec_t start;                   /* boottime */
        usec_t step_start;              /* boottime */
        usec_t tcp_connected;           /* boottime when a new connection's TLS set-up began, 0: none */
        size_t body_size;
        char *token_body;               /* PROBE_TOKEN_RESPONSE_MAX bytes, wiped */
        size_t token_body_size;
        char errbuf[CURL_ERROR_SIZE];
        ProbeResult result;
};

struct ProbeEngine {
        CurlGlue *glue;
        Clock *clock;
        ProbeEngineOptions options;
        ProbeCredentialFunc get_credential;
        ProbeDoneFunc done;
        void *userdata;
        Logger logger;

        CURLSH *share;                  /* TLS sessions, for links that reuse connections */
        char *default_ca_file;          /* libcurl's built-in CA bundle, or NULL */

        Hashmap *links;                 /* name → Link */
        Hashmap *hosts;                 /* host:port → Host */

        Link **heap;                    /* every link, a min-heap on due */
        size_t n_heap, n_heap_allocated;
        sd_event_source *timer;         /* CLOCK_BOOTTIME, at heap[0]->due */
        sd_event_source *kick;          /* deferred dispatch after a change */

        Host *ring_head[_QUEUE_MAX], *ring_tail[_QUEUE_MAX];
        unsigned in_flight;
        size_t connection_cache;        /* CURLMOPT_MAXCONNECTS set, 0: not yet */
        uint64_t n_placed;
        uint64_t rng;
        bool stopped;
};

typedef struct Credential {
        char *username;
        char *secret;                   /* NUL-terminated copy */
        size_t secret_size;
} Credential;

static void credential_done(Credential *c) {
        free(c->username);
        probe_secret_free(c->secret, c->secret_size);
        *c = (Credential) {};
}

static uint64_t engine_random(ProbeEngine *e) {
        /* xorshift64*: jitter needs spread, not secrecy */
        e->rng ^= e->rng >> 12;
        e->rng ^= e->rng << 25;
        e->rng ^= e->rng >> 27;
        return e->rng * UINT64_C(0x2545F4914F6CDD1D);
}

static char *format_ms(char *buf, size_t n, usec_t t) {
        if (t == USEC_INFINITY)
                snprintf(buf, n, "-");
        else
                snprintf(buf, n, "%llu.%03llu", (unsigned long long) (t / USEC_PER_MSEC),
                         (unsigned long long) (t % USEC_PER_MSEC));
        return buf;
}

/* ---- hosts and their place in the fair queue ---- */

static void ring_unlink(ProbeEngine *e, Host *h) {
        if (h->ring < 0)
                return;
        if (h->ring_prev)
                h->ring_prev->ring_next = h->ring_next;
        else
                e->ring_head[h->ring] = h->ring_next;
        if (h->ring_next)
                h->ring_next->ring_prev = h->ring_prev;
        else
                e->ring_tail[h->ring] = h->ring_prev;
        h->ring_prev = h->ring_next = NULL;
        h->ring = -1;
}

static void ring_append(ProbeEngine *e, Host *h, int ring) {
        h->ring = ring;
        h->ring_next = NULL;
        h->ring_prev = e->ring_tail[ring];
        if (h->ring_prev)
                h->ring_prev->ring_next = h;
        else
                e->ring_head[ring] = h;
        e->ring_tail[ring] = h;
}

/* A host is in the urgent ring while an urgent link heads its queue, in
 * the normal ring while another link does, and in none while it has no
 * waiting link or no free slot. The dispatcher takes hosts from the front
 * of a ring and puts them back at its end, so that hosts take turns. */
static void host_update_ring(ProbeEngine *e, Host *h) {
        int want = -1;
        if (h->queue_head && h->in_flight < e->options.per_host_parallel)
                want = h->queue_head->urgent ? QUEUE_URGENT : QUEUE_NORMAL;
        if (want == h->ring)
                return;
        ring_unlink(e, h);
        if (want >= 0)
                ring_append(e, h, want);
}

static char *host_key_from_url(const char *url) {
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, *key = NULL;
        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
            asprintf(&key, "%s:%s", host, port) < 0)
                key = NULL;
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return key;
}

static int host_get(ProbeEngine *e, const LinkConfig *lc, Host **ret) {
        _cleanup_free_ char *key = lc->host ? strdup(lc->host) : host_key_from_url(lc->url);
        if (!key)
                return lc->host ? -ENOMEM : -EINVAL;
        for (char *c = key; *c; c++)
                *c = (char) tolower((unsigned char) *c);

        Host *h = hashmap_get(e->hosts, key);
        if (!h) {
                h = calloc(1, sizeof(Host));
                if (!h)
                        return -ENOMEM;
                h->name = TAKE_PTR(key);
                h->ring = -1;
                int r = hashmap_put(e->hosts, h->name, h);
                if (r < 0) {
                        free(h->name);
                        free(h);
                        return r;
                }
        }
        h->n_ref++;
        *ret = h;
        return 0;
}

static void host_unref(ProbeEngine *e, Host *h) {
        if (!h || --h->n_ref > 0)
                return;
        ring_unlink(e, h);
        (void) hashmap_remove(e->hosts, h->name);
        free(h->name);
        free(h);
}

/* ---- a host's queue of waiting links ---- */

static void queue_remove(Link *l) {
        Host *h = l->host;
        if (!l->queued)
                return;
        if (h->urgent_tail == l)
                /* urgent links are at the front: the one before is urgent too */
                h->urgent_tail = l->queue_prev;
        if (l->queue_prev)
                l->queue_prev->queue_next = l->queue_next;
        else
                h->queue_head = l->queue_next;
        if (l->queue_next)
                l->queue_next->queue_prev = l->queue_prev;
        else
                h->queue_tail = l->queue_prev;
        l->queue_prev = l->queue_next = NULL;
        l->queued = l->urgent = false;
}

static void queue_add(Link *l, bool urgent) {
        Host *h = l->host;
        if (l->queued)
                return;
        Link *after = urgent ? h->urgent_tail : h->queue_tail;
        l->queue_prev = after;
        l->queue_next = after ? after->queue_next : h->queue_head;
        if (l->queue_prev)
                l->queue_prev->queue_next = l;
        else
                h->queue_head = l;
        if (l->queue_next)
                l->queue_next->queue_prev = l;
        else
                h->queue_tail = l;
        if (urgent)
                h->urgent_tail = l;
        l->queued = true;
        l->urgent = urgent;
}

/* ---- the schedule: a min-heap of links on their due time, one timer ---- */

static void heap_set(ProbeEngine *e, size_t i, Link *l) {
        e->heap[i] = l;
        l->heap_idx = i;
}

static void heap_up(ProbeEngine *e, size_t i) {
        Link *l = e->heap[i];
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (e->heap[parent]->due <= l->due)
                        break;
                heap_set(e, i, e->heap[parent]);
                i = parent;
        }
        heap_set(e, i, l);
}

static void heap_down(ProbeEngine *e, size_t i) {
        Link *l = e->heap[i];
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= e->n_heap)
                        break;
                if (c + 1 < e->n_heap && e->heap[c + 1]->due < e->heap[c]->due)
                        c++;
                if (l->due <= e->heap[c]->due)
                        break;
                heap_set(e, i, e->heap[c]);
                i = c;
        }
        heap_set(e, i, l);
}

static int heap_push(ProbeEngine *e, Link *l) {
        if (e->n_heap >= e->n_heap_allocated) {
                size_t n = MAX(e->n_heap_allocated * 2, (size_t) 64);
                Link **h = reallocarray(e->heap, n, sizeof(Link *));
                if (!h)
                        return -ENOMEM;
                e->heap = h;
                e->n_heap_allocated = n;
        }
        heap_set(e, e->n_heap++, l);
        heap_up(e, l->heap_idx);
        return 0;
}

static void heap_fix(ProbeEngine *e, Link *l) {
        heap_up(e, l->heap_idx);
        heap_down(e, l->heap_idx);
}

static void heap_remove(ProbeEngine *e, Link *l) {
        size_t i = l->heap_idx;
        if (i >= e->n_heap || e->heap[i] != l)
                return;
        Link *last = e->heap[--e->n_heap];
        if (last != l) {
                heap_set(e, i, last);
                heap_fix(e, last);
        }
        l->heap_idx = SIZE_MAX;
}

static void engine_arm_timer(ProbeEngine *e) {
        if (e->stopped || e->n_heap == 0) {
                (void) sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_set_time(e->timer, e->heap[0]->due) < 0 ||
            sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT) < 0)
                log_debug_to(&e->logger, "probe engine: cannot arm the schedule timer");
}

static void engine_kick(ProbeEngine *e) {
        if (!e->stopped)
                (void) sd_event_source_set_enabled(e->kick, SD_EVENT_ONESHOT);
}

static usec_t link_jitter(ProbeEngine *e, const Link *l) {
        usec_t max = MIN(l->interval / 32, PROBE_JITTER_MAX);
        return max > 0 ? engine_random(e) % max : 0;
}

/* A new link's first slot. The k-th link placed gets the offset
 * frac(k / golden ratio) of its interval: every prefix of that sequence is
 * spread evenly over the interval, so links registered together start
 * spread out, and so do links added later. */
static void link_place(ProbeEngine *e, Link *l, usec_t now) {
        uint64_t f = e->n_placed++ * UINT64_C(0x9E3779B97F4A7C15);
        usec_t offset = (usec_t) ((long double) f / 18446744073709551616.0L * (long double) l->interval);
        l->base = now + MIN(offset, l->interval - 1);
        l->due = l->base + link_jitter(e, l);
}

/* The link's slot has come: queue it unless it is busy, and move on to the
 * next slot, which keeps the link's place in the interval. */
static void link_on_slot(ProbeEngine *e, Link *l, usec_t now) {
        usec_t late = now > l->due ? now - l->due : 0;
        usec_t since = l->last_start > 0 ? now - l->last_start : USEC_INFINITY;
        char a[DURATION_MAX];

        if (late > MAX(l->interval / 4, PROBE_LATE_MIN))
                log_debug_to(&e->logger, "probe %s: slot missed by %s (suspended?), waiting for the next", l->name,
                             format_duration(a, sizeof a, late - late % USEC_PER_SEC));
        else if (l->probe || l->queued)
                log_debug_to(&e->logger, "probe %s: previous probe still %s, slot skipped", l->name,
                             l->probe ? "running" : "waiting");
        else if (since < l->interval / 4)
                /* probed on request a moment ago (probe_now()) */
                log_debug_to(&e->logger, "probe %s: probed %s ago, slot skipped", l->name,
                             format_duration(a, sizeof a, since - since % USEC_PER_MSEC));
        else {
                queue_add(l, false);
                host_update_ring(e, l->host);
        }

        l->base += l->interval;
        if (l->base <= now)
                l->base += ((now - l->base) / l->interval + 1) * l->interval;
        l->due = l->base + link_jitter(e, l);
        heap_fix(e, l);
}

/* ---- credentials ---- */

static int engine_get_credential(ProbeEngine *e, Link *l, Credential *ret) {
        char *username = NULL, *secret = NULL;
        size_t size = 0;

        if (!e->get_credential)
                return -ENOENT;
        int r = e->get_credential(e->userdata, l->name, &username, &secret, &size);
        if (r < 0)
                return r;
        if (!username || !secret) {
                free(username);
                probe_secret_free(secret, size);
                return -EINVAL;
        }
        /* libcurl takes C strings: a NUL-terminated copy, a trailing NUL
         * tolerated, an embedded one refused */
        size_t n = size > 0 && secret[size - 1] == 0 ? size - 1 : size;
        char *copy = NULL;
        r = memchr(secret, 0, n) ? -EBADMSG : 0;
        if (r == 0) {
                copy = malloc(n + 1);
                if (copy) {
                        memcpy(copy, secret, n);
                        copy[n] = 0;
                } else
                        r = -ENOMEM;
        }
        probe_secret_free(secret, size);
        if (r < 0) {
                free(username);
                return r;
        }
        *ret = (Credential) { .username = username, .secret = copy, .secret_size = n + 1 };
        return 0;
}

/* A secret that goes into a header as it is must not break the header. */
static bool header_value_is_safe(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* ---- probes ---- */

static void slist_free_erase(struct curl_slist *l) {
        for (struct curl_slist *i = l; i; i = i->next)
                if (i->data)
                        OPENSSL_cleanse(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

/* Ends the current transfer of the probe. */
static void probe_detach(Probe *p) {
        if (p->easy) {
                curl_glue_remove(p->engine->glue, p->easy);
                curl_easy_cleanup(p->easy);
                p->easy = NULL;
        }
        slist_free_erase(p->headers);
        p->headers = NULL;
}

/* Frees a probe, finished or not, and gives its slot back. */
static void probe_free(Probe *p) {
        ProbeEngine *e = p->engine;
        probe_detach(p);
        probe_secret_free(p->token_body, PROBE_TOKEN_RESPONSE_MAX);
        e->in_flight--;
        p->host->in_flight--;
        if (p->link)
                p->link->probe = NULL;
        host_update_ring(e, p->host);
        host_unref(e, p->host);
        free(p);
}

static void link_drop_token(Link *l) {
        if (l->token)
                probe_secret_free(l->token, strlen(l->token));
        l->token = NULL;
        l->token_valid_until = 0;
}

static size_t probe_on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Probe *p = userdata;
        size_t n = size * nmemb;

        if (p->step == STEP_TOKEN) {
                if (n > PROBE_TOKEN_RESPONSE_MAX - p->token_body_size) {
                        p->token_too_large = true;
                        return 0;
                }
                memcpy(p->token_body + p->token_body_size, ptr, n);
                p->token_body_size += n;
                return n;
        }
        /* read up to the cap and thrown away; past it the transfer stops,
         * which is not a failure: the status is known */
        if (n > p->engine->options.body_max - MIN(p->body_size, p->engine->options.body_max)) {
                p->body_capped = true;
                return 0;
        }
        p->body_size += n;
        return n;
}

static bool same_origin(const char *a, const char *base, const char *b) {
        CURLU *ua = curl_url(), *ub = curl_url();
        char *sa = NULL, *ha = NULL, *pa = NULL, *sb = NULL, *hb = NULL, *pb = NULL;
        bool same = false;

        /* b may be relative to base */
        if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
            curl_url_set(ub, CURLUPART_URL, base, 0) == CURLUE_OK &&
            curl_url_set(ub, CURLUPART_URL, b, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
            curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
            curl_url_get(ua, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
            curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
            curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
            curl_url_get(ub, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
            curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK)
                same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && streq(pa, pb);
        curl_free(sa);
        curl_free(ha);
        curl_free(pa);
        curl_free(sb);
        curl_free(hb);
        curl_free(pb);
        curl_url_cleanup(ua);
        curl_url_cleanup(ub);
        return same;
}

/* The chain the server presented on the connection this request made,
 * straight from OpenSSL, which has parsed it for the handshake already
 * (CURLOPT_CERTINFO would have libcurl render every certificate as text
 * for it to be parsed again: a fifth of the CPU a probe costs). A reused
 * connection gives nothing: its chain is as old as the connection. */
static void probe_read_cert(Probe *p) {
        const struct curl_tlssessioninfo *info = NULL;
        ProbeCert cert;

        if (p->tcp_connected == 0 ||
            curl_easy_getinfo(p->easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
            info->backend != CURLSSLBACKEND_OPENSSL || !info->internals ||
            probe_cert_from_chain(SSL_get_peer_cert_chain(info->internals), &cert) < 0)
                return;
        p->result.cert_not_after = cert.not_after;
        memcpy(p->result.cert_subject, cert.subject, sizeof cert.subject);
        memcpy(p->result.cert_sha256, cert.sha256, sizeof cert.sha256);
        if (p->full_handshake)
                p->host->last_full_handshake = clock_boottime(p->engine->clock);
}

/* Every header line of the answer. The first one is when the connection's
 * certificate chain is read. And with auth: header and follow_redirects,
 * the header carrying the secret would go wherever a redirect points
 * (libcurl keeps custom headers other than Authorization and Cookie on a
 * redirect to another host): such a redirect is not followed. */
static size_t probe_on_header(char *buf, size_t size, size_t nitems, void *userdata) {
        Probe *p = userdata;
        size_t n = size * nitems;
        long status = 0;
        char *effective = NULL;

        if (!p->cert_looked) {
                p->cert_looked = true;
                probe_read_cert(p);
        }
        if (p->link->auth != PROBE_AUTH_HEADER || !p->link->follow_redirects)
                return n;
        if (n < 9 || strncasecmp(buf, "location:", 9) != 0)
                return n;
        if (curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 300 || status > 399)
                return n;
        size_t b = 9, end = n;
        while (b < end && (buf[b] == ' ' || buf[b] == '\t'))
                b++;
        while (end > b && strchr(" \t\r\n", buf[end - 1]))
                end--;
        _cleanup_free_ char *location = end - b <= 8192 ? strndup(buf + b, end - b) : NULL;
        if (curl_easy_getinfo(p->easy, CURLINFO_EFFECTIVE_URL, &effective) != CURLE_OK || !effective || !location ||
            !same_origin(p->link->url, effective, location)) {
                p->redirect_refused = true;
                return 0;
        }
        return n;
}

static bool host_needs_full_handshake(const Host *h, usec_t now) {
        return h->last_full_handshake == 0 || now - h->last_full_handshake >= PROBE_CERT_REFRESH;
}

static void probe_on_finished(CurlGlue *g, CURL *easy, CURLcode code, void *userdata);

/* libcurl sets up TLS on a new connection once TCP has connected. Its own
 * connect time stays 0 when the handshake then fails, so the moment is
 * taken here. Nothing of the context is changed. */
static CURLcode probe_on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userdata) {
        Probe *p = userdata;
        p->tcp_connected = clock_boottime(p->engine->clock);
        return CURLE_OK;
}

#define SETOPT(c, opt, value)                                                   \
        do {                                                                    \
                if (curl_easy_setopt((c), (opt), (value)) != CURLE_OK)          \
                        return -EIO;                                            \
        } while (0)

/* A transfer with the settings every request of a probe shares. */
static int probe_new_easy(Probe *p, const char *url, bool request) {
        ProbeEngine *e = p->engine;
        Link *l = p->link;
        usec_t now = clock_boottime(e->clock);
        usec_t used = now > p->start ? now - p->start : 0;
        usec_t left = used < l->timeout ? l->timeout - used : 0;

        p->easy = curl_easy_init();
        if (!p->easy)
                return -ENOMEM;
        CURL *c = p->easy;
        p->errbuf[0] = 0;
        p->step_start = now;
        p->tcp_connected = 0;

        SETOPT(c, CURLOPT_URL, url);
        SETOPT(c, CURLOPT_PROTOCOLS_STR, "https");
        SETOPT(c, CURLOPT_PRIVATE, p);
        SETOPT(c, CURLOPT_NOSIGNAL, 1L);
        SETOPT(c, CURLOPT_ERRORBUFFER, p->errbuf);
        SETOPT(c, CURLOPT_USERAGENT, PROBE_USER_AGENT);
        SETOPT(c, CURLOPT_WRITEFUNCTION, probe_on_body);
        SETOPT(c, CURLOPT_WRITEDATA, p);
        /* a request of a few hundred bytes and a short answer: libcurl's
         * defaults (64 KiB to send an HTTPS request, 16 KiB to receive)
         * would be 80 KiB per probe in flight, 5 MiB at 64 */
        SETOPT(c, CURLOPT_UPLOAD_BUFFERSIZE, PROBE_SEND_BUFFER);
        SETOPT(c, CURLOPT_BUFFERSIZE, PROBE_RECEIVE_BUFFER);

        /* the whole probe, token included, has l->timeout */
        SETOPT(c, CURLOPT_TIMEOUT_MS, (long) MAX(left / USEC_PER_MSEC, (usec_t) 1));
        SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS,
               (long) MAX(MIN(l->connect_timeout, left) / USEC_PER_MSEC, (usec_t) 1));

        SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        /* One CA file and no CA directory: then libcurl keeps the parsed
         * store in the multi handle and every probe shares it. */
        const char *ca = l->ca_file ?: e->default_ca_file;
        if (ca) {
                SETOPT(c, CURLOPT_CAINFO, ca);
                SETOPT(c, CURLOPT_CAPATH, NULL);
        }
        SETOPT(c, CURLOPT_CA_CACHE_TIMEOUT, PROBE_CA_CACHE_TIMEOUT);
        SETOPT(c, CURLOPT_SSL_CTX_FUNCTION, probe_on_ssl_ctx);
        SETOPT(c, CURLOPT_SSL_CTX_DATA, p);

        p->full_handshake = !l->reuse_connections || (request && host_needs_full_handshake(p->host, now));
        if (p->full_handshake) {
                SETOPT(c, CURLOPT_FRESH_CONNECT, 1L);
                SETOPT(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
                if (!l->reuse_connections)
                        SETOPT(c, CURLOPT_FORBID_REUSE, 1L);
        } else if (e->share)
                SETOPT(c, CURLOPT_SHARE, e->share);
        if (request) {
                p->cert_looked = false;
                SETOPT(c, CURLOPT_HEADERFUNCTION, probe_on_header);
                SETOPT(c, CURLOPT_HEADERDATA, p);
        }
        return 0;
}

static int probe_begin_token(Probe *p, const Credential *cred) {
        Link *l = p->link;
        int r;

        if (!p->token_body) {
                p->token_body = malloc(PROBE_TOKEN_RESPONSE_MAX);
                if (!p->token_body)
                        return -ENOMEM;
        }
        p->token_body_size = 0;
        p->token_too_large = false;
        p->step = STEP_TOKEN;
        log_debug_to(&p->engine->logger, "probe %s: fetching an OAuth2 token from %s", l->name, l->token_url);
        r = probe_new_easy(p, l->token_url, false);
        if (r < 0)
                return r;
        CURL *c = p->easy;
        /* RFC 6749 4.4: client credentials by HTTP basic authentication */
        SETOPT(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
        SETOPT(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        SETOPT(c, CURLOPT_USERNAME, cred->username);
        SETOPT(c, CURLOPT_PASSWORD, cred->secret);
        p->headers = curl_slist_append(NULL, "Accept: application/json");
        if (!p->headers)
                return -ENOMEM;
        SETOPT(c, CURLOPT_HTTPHEADER, p->headers);
        return curl_glue_add_with(p->engine->glue, c, probe_on_finished, p);
}

static int probe_begin_request(Probe *p, const Credential *cred) {
        Link *l = p->link;
        int r;

        p->step = STEP_REQUEST;
        p->body_size = 0;
        p->body_capped = p->redirect_refused = false;
        r = probe_new_easy(p, l->url, true);
        if (r < 0)
                return r;
        CURL *c = p->easy;

        switch (l->method) {
        case PROBE_METHOD_HEAD:
                SETOPT(c, CURLOPT_NOBODY, 1L);
                break;
        case PROBE_METHOD_POST:
                SETOPT(c, CURLOPT_POSTFIELDS, "");
                SETOPT(c, CURLOPT_POSTFIELDSIZE, 0L);
                break;
        default:
                break;
        }
        if (l->follow_redirects) {
                SETOPT(c, CURLOPT_FOLLOWLOCATION, 1L);
                SETOPT(c, CURLOPT_MAXREDIRS, PROBE_MAX_REDIRECTS);
                SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        }

        switch (l->auth) {
        case PROBE_AUTH_BASIC:
                SETOPT(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                SETOPT(c, CURLOPT_USERNAME, cred->username);
                SETOPT(c, CURLOPT_PASSWORD, cred->secret);
                break;
        case PROBE_AUTH_BEARER:
                SETOPT(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
                SETOPT(c, CURLOPT_XOAUTH2_BEARER, cred->secret);
                break;
        case PROBE_AUTH_OAUTH2:
                if (!l->token)
                        return -ENOKEY;
                SETOPT(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
                SETOPT(c, CURLOPT_XOAUTH2_BEARER, l->token);
                break;
        case PROBE_AUTH_HEADER: {
                size_t n = strlen(l->auth_header) + 2 + strlen(cred->secret) + 1;
                char *h = malloc(n);
                if (!h)
                        return -ENOMEM;
                snprintf(h, n, "%s: %s", l->auth_header, cred->secret);
                p->headers = curl_slist_append(NULL, h);
                probe_secret_free(h, n);
                if (!p->headers)
                        return -ENOMEM;
                SETOPT(c, CURLOPT_HTTPHEADER, p->headers);
                break;
        }
        default:
                return -EINVAL;
        }
        return curl_glue_add_with(p->engine->glue, c, probe_on_finished, p);
}

/* What a transfer reached, into the result: status and the time of each
 * phase from the start of the probe. libcurl reports 0 for a phase not
 * reached, and also for phases a reused connection skipped, so a phase
 * counts as reached when it or a later one has a time; a connection whose
 * TLS handshake failed has no connect time from libcurl 7.88, so that one
 * is the moment TLS set-up began. */
static void probe_collect(Probe *p, bool *ret_connected, bool *ret_tls_done) {
        CURL *c = p->easy;
        ProbeResult *r = &p->result;
        long status = 0;
        curl_off_t dns = 0, connect = 0, tls = 0, first_byte = 0, total = 0;

        (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &dns);
        (void) curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect);
        (void) curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &tls);
        (void) curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &first_byte);
        (void) curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total);

        usec_t offset = p->step_start - p->start;
        bool reached_first_byte = first_byte > 0 || status > 0;
        bool reached_tls = tls > 0 || reached_first_byte;
        if (connect <= 0 && !reached_tls && p->tcp_connected > 0)
                connect = (curl_off_t) MAX(p->tcp_connected - p->step_start, (usec_t) 1);
        bool reached_connect = connect > 0 || reached_tls;
        bool reached_dns = dns > 0 || reached_connect;

        r->http_status = MAX(status, 0L);
        r->dns = reached_dns ? offset + (usec_t) MAX(dns, (curl_off_t) 0) : USEC_INFINITY;
        r->connect = reached_connect ? offset + (usec_t) MAX(connect, (curl_off_t) 0) : USEC_INFINITY;
        r->tls = reached_tls ? offset + (usec_t) MAX(tls, (curl_off_t) 0) : USEC_INFINITY;
        r->first_byte = reached_first_byte ? offset + (usec_t) MAX(first_byte, (curl_off_t) 0) : USEC_INFINITY;
        r->total = offset + (usec_t) MAX(total, (curl_off_t) 0);
        *ret_connected = reached_connect;
        *ret_tls_done = reached_tls;
}

static void probe_set_error(Probe *p, const char *fmt, ...) _printf_(2, 3);
static void probe_set_error(Probe *p, const char *fmt, ...) {
        char buf[PROBE_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        probe_copy_text(p->result.error, sizeof p->result.error, buf);
}

static const char *probe_curl_text(Probe *p, CURLcode code) {
        return p->errbuf[0] ? p->errbuf : curl_easy_strerror(code);
}

/* The result of a failed transfer, from the one classification. */
static void probe_fail_transfer(Probe *p, CURLcode code, bool connected, bool tls_done, const char *what) {
        ProbeClass k = probe_classify(code, p->result.http_status, &p->link->expect_status, connected, tls_done);
        p->result.klass = k;
        if (k == PROBE_TLS) {
                long verify = 0;
                (void) curl_easy_getinfo(p->easy, CURLINFO_SSL_VERIFYRESULT, &verify);
                probe_set_error(p, "%s%s: %s", what, probe_tls_problem(code, verify, p->errbuf),
                                probe_curl_text(p, code));
        } else
                probe_set_error(p, "%s%s", what, probe_curl_text(p, code));
}

static void probe_complete(Probe *p) {
        ProbeEngine *e = p->engine;
        Link *l = p->link;
        ProbeResult result = p->result;
        char a[32], b[32], c[32], d[32], t[32];

        log_debug_to(&e->logger,
                     "probe %s: %s, HTTP %ld, dns %s ms, connect %s ms, tls %s ms, first byte %s ms, total %s ms%s%s",
                     l->name, probe_class_to_string(result.klass), result.http_status,
                     format_ms(a, sizeof a, result.dns), format_ms(b, sizeof b, result.connect),
                     format_ms(c, sizeof c, result.tls), format_ms(d, sizeof d, result.first_byte),
                     format_ms(t, sizeof t, result.total), result.error[0] ? ": " : "", result.error);
        probe_free(p);
        engine_kick(e);
        /* last: the callback may change or remove the link */
        if (e->done)
                e->done(e, l->name, &result, e->userdata);
}

static void probe_request_done(Probe *p, CURLcode code) {
        ProbeEngine *e = p->engine;
        Link *l = p->link;
        bool connected, tls_done;

        probe_collect(p, &connected, &tls_done);
        long status = p->result.http_status;
        if (code == CURLE_WRITE_ERROR && p->body_capped)
                code = CURLE_OK;

        /* a cached OAuth2 token may have been revoked: one fresh token */
        if (code == CURLE_OK && status == 401 && l->auth == PROBE_AUTH_OAUTH2 && p->token_from_cache &&
            !p->token_retried) {
                Credential cred = {};
                log_debug_to(&e->logger, "probe %s: cached token refused, fetching a new one", l->name);
                link_drop_token(l);
                p->token_retried = true;
                probe_detach(p);
                int r = engine_get_credential(e, l, &cred);
                if (r >= 0)
                        r = probe_begin_token(p, &cred);
                credential_done(&cred);
                if (r >= 0)
                        return;
                log_debug_to(&e->logger, "probe %s: cannot fetch a new token: %s", l->name, strerror(-r));
                p->result.klass = PROBE_AUTH;
                probe_set_error(p, "HTTP 401: the endpoint refused the OAuth2 token");
                probe_complete(p);
                return;
        }

        if (p->redirect_refused) {
                p->result.klass = PROBE_HTTP;
                probe_set_error(p, "HTTP %ld: a redirect to another host is not followed (the secret header would go along)",
                                status);
        } else if (code != CURLE_OK)
                probe_fail_transfer(p, code, connected, tls_done, "");
        else {
                p->result.klass = probe_classify(code, status, &l->expect_status, connected, tls_done);
                switch (p->result.klass) {
                case PROBE_OK:
                        p->result.error[0] = 0;
                        break;
                case PROBE_AUTH:
                        probe_set_error(p, status == 403 ?
                                        "HTTP 403: the credential was accepted but access is not authorized" :
                                        "HTTP 401: the endpoint refused the credential");
                        break;
                default:
                        probe_set_error(p, "unexpected HTTP status %ld%s", status,
                                        status >= 300 && status < 400 && !l->follow_redirects ?
                                        " (redirects are not followed)" : "");
                        break;
                }
        }

        probe_complete(p);
}

static void probe_token_done(Probe *p, CURLcode code) {
        ProbeEngine *e = p->engine;
        Link *l = p->link;
        bool connected, tls_done;
        _cleanup_free_ char *token = NULL;
        usec_t expires_in = 0;

        probe_collect(p, &connected, &tls_done);
        long status = p->result.http_status;

        if (code == CURLE_WRITE_ERROR && p->token_too_large) {
                p->result.klass = PROBE_HTTP;
                probe_set_error(p, "token endpoint: answer larger than %u bytes", PROBE_TOKEN_RESPONSE_MAX);
        } else if (code != CURLE_OK)
                probe_fail_transfer(p, code, connected, tls_done, "token endpoint: ");
        else if (status == 200) {
                int r = probe_parse_token_response(p->token_body, p->token_body_size, &token, &expires_in);
                OPENSSL_cleanse(p->token_body, p->token_body_size);
                if (r < 0) {
                        p->result.klass = PROBE_HTTP;
                        probe_set_error(p, "token endpoint: %s", r == -ENOMEM ? "out of memory" :
                                        "malformed answer (expected JSON with a bearer access_token)");
                } else {
                        usec_t now = clock_boottime(e->clock);
                        link_drop_token(l);
                        l->token = TAKE_PTR(token);
                        l->token_valid_until = expires_in > 0 ?
                                now + expires_in - MIN(expires_in / 10, PROBE_TOKEN_MARGIN_MAX) : 0;
                        p->token_from_cache = false;
                        probe_detach(p);
                        r = probe_begin_request(p, NULL);
                        if (r >= 0)
                                return;
                        log_debug_to(&e->logger, "probe %s: cannot start the request: %s", l->name, strerror(-r));
                        p->result.klass = PROBE_HTTP;
                        probe_set_error(p, "cannot start the request: %s", strerror(-r));
                }
        } else {
                const char *oauth_error = probe_token_error(p->token_body, p->token_body_size);
                bool refused = status == 401 || status == 403 ||
                               (status == 400 && oauth_error &&
                                (streq(oauth_error, "invalid_client") || streq(oauth_error, "unauthorized_client") ||
                                 streq(oauth_error, "invalid_grant")));
                p->result.klass = refused ? PROBE_AUTH : PROBE_HTTP;
                probe_set_error(p, "token endpoint: %s HTTP %ld%s%s%s",
                                refused ? "refused the credential," : "unexpected", status,
                                oauth_error ? " (" : "", oauth_error ?: "", oauth_error ? ")" : "");
        }
        if (p->token_body)
                OPENSSL_cleanse(p->token_body, p->token_body_size);
        probe_complete(p);
}

static void probe_on_finished(CurlGlue *g, CURL *easy, CURLcode code, void *userdata) {
        Probe *p = userdata;
        if (p->step == STEP_TOKEN)
                probe_token_done(p, code);
        else
                probe_request_done(p, code);
}

/* Starts a probe of a queued link. 0 when it is in flight or was not
 * started for a reason that is not an error (no credential). */
static int probe_start(ProbeEngine *e, Link *l) {
        _cleanup_(credential_done) Credential cred = {};
        usec_t now = clock_boottime(e->clock);
        int r;

        r = engine_get_credential(e, l, &cred);
        if (r == -ENOENT) {
                log_debug_to(&e->logger, "probe %s: no credential, not probed", l->name);
                return 0;
        }
        if (r < 0) {
                log_debug_to(&e->logger, "probe %s: cannot read the credential, not probed: %s", l->name,
                             strerror(-r));
                return r;
        }

        Probe *p = calloc(1, sizeof(Probe));
        if (!p)
                return -ENOMEM;
        p->engine = e;
        p->link = l;
        p->host = l->host;
        p->host->n_ref++;
        p->start = now;
        p->result = (ProbeResult) {
                .klass = PROBE_OK,
                .time = clock_realtime(e->clock),
                .dns = USEC_INFINITY,
                .connect = USEC_INFINITY,
                .tls = USEC_INFINITY,
                .first_byte = USEC_INFINITY,
                .total = USEC_INFINITY,
        };
        l->probe = p;
        l->last_start = now;
        e->in_flight++;
        p->host->in_flight++;

        log_debug_to(&e->logger, "probe %s: starting %s %s (%u in flight, %u to %s)", l->name,
                     probe_method_to_string(l->method), l->url, e->in_flight, p->host->in_flight, p->host->name);

        if ((l->auth == PROBE_AUTH_BEARER || l->auth == PROBE_AUTH_HEADER) && !header_value_is_safe(cred.secret)) {
                p->result.klass = PROBE_AUTH;
                p->result.total = 0;
                probe_set_error(p, "the stored secret key contains control characters and cannot be sent in a header");
                probe_complete(p);
                return 0;
        }

        if (l->auth == PROBE_AUTH_OAUTH2 && l->token && l->token_valid_until > now) {
                p->token_from_cache = true;
                r = probe_begin_request(p, &cred);
        } else if (l->auth == PROBE_AUTH_OAUTH2)
                r = probe_begin_token(p, &cred);
        else
                r = probe_begin_request(p, &cred);
        if (r < 0) {
                log_debug_to(&e->logger, "probe %s: cannot start: %s", l->name, strerror(-r));
                probe_free(p);
                return r;
        }
        return 0;
}

/* Starts queued probes while there is room: urgent ones first, hosts in
 * turn, at most per_host_parallel per host and max_parallel in all. */
static void engine_dispatch(ProbeEngine *e) {
        while (!e->stopped && e->in_flight < e->options.max_parallel) {
                Host *h = e->ring_head[QUEUE_URGENT] ?: e->ring_head[QUEUE_NORMAL];
                if (!h)
                        break;
                Link *l = h->queue_head;
                h->n_ref++;     /* the link may go in the done callback of a probe that fails at once */
                queue_remove(l);
                ring_unlink(e, h);
                (void) probe_start(e, l);
                host_update_ring(e, h);
                host_unref(e, h);
        }
}

static int engine_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ProbeEngine *e = userdata;
        usec_t now = clock_boottime(e->clock);

        while (e->n_heap > 0 && e->heap[0]->due <= now)
                link_on_slot(e, e->heap[0], now);
        engine_dispatch(e);
        engine_arm_timer(e);
        return 0;
}

static int engine_on_kick(sd_event_source *s, void *userdata) {
        engine_dispatch(userdata);
        return 0;
}

/* ---- the engine ---- */

static int options_check(const ProbeEngineOptions *o) {
        if (!o || o->max_parallel == 0 || o->per_host_parallel == 0)
                return -EINVAL;
        return 0;
}

/* libcurl keeps at most 4 idle connections per transfer in progress: when
 * few probes run (a 15-minute interval spreads them thin), the kept-alive
 * connections of all but a few hosts would be closed after each probe and
 * opened again for the next. Room for what the limits let the probes use:
 * per_host_parallel connections per host, at most 4 per probe that may
 * run at once. */
static void engine_set_connection_cache(ProbeEngine *e) {
        size_t want = MIN(hashmap_size(e->hosts) * e->options.per_host_parallel,
                          (size_t) e->options.max_parallel * 4);
        want = MAX(want, (size_t) e->options.max_parallel);
        if (want == e->connection_cache)
                return;
        if (curl_multi_setopt(curl_glue_multi(e->glue), CURLMOPT_MAXCONNECTS, (long) want) != CURLM_OK) {
                log_debug_to(&e->logger, "probe engine: cannot size the connection cache");
                return;
        }
        e->connection_cache = want;
}

int probe_engine_new(CurlGlue *glue, Clock *clock, const ProbeEngineOptions *options, ProbeCredentialFunc get_credential,
                     ProbeDoneFunc done, void *userdata, const Logger *logger, ProbeEngine **ret) {
        int r;

        if (!glue || !clock || options_check(options) < 0)
                return -EINVAL;
        _cleanup_(probe_engine_freep) ProbeEngine *e = calloc(1, sizeof(ProbeEngine));
        if (!e)
                return -ENOMEM;
        e->glue = glue;
        e->clock = clock;
        e->options = *options;
        if (e->options.body_max == 0)
                e->options.body_max = PROBE_BODY_MAX_DEFAULT;
        e->get_credential = get_credential;
        e->done = done;
        e->userdata = userdata;
        if (logger)
                e->logger = *logger;
        if (getrandom(&e->rng, sizeof e->rng, GRND_NONBLOCK) != sizeof e->rng)
                e->rng = now_usec(CLOCK_MONOTONIC) ^ (uint64_t) (uintptr_t) e;
        e->rng |= 1;

        r = hashmap_new(&e->links);
        if (r < 0)
                return r;
        r = hashmap_new(&e->hosts);
        if (r < 0)
                return r;

        engine_set_connection_cache(e);

        /* TLS sessions are shared between the probes of links that reuse
         * connections; the event loop is one thread, so no locks */
        e->share = curl_share_init();
        if (!e->share || curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
                return -ENOMEM;

        /* libcurl's built-in bundle, used as a file so that the CA cache
         * works (it is skipped when a CA directory is set) */
        CURL *c = curl_easy_init();
        char *ca = NULL;
        if (!c)
                return -ENOMEM;
        if (curl_easy_getinfo(c, CURLINFO_CAINFO, &ca) == CURLE_OK && ca && !(e->default_ca_file = strdup(ca))) {
                curl_easy_cleanup(c);
                return -ENOMEM;
        }
        curl_easy_cleanup(c);

        sd_event *event = curl_glue_event(glue);
        r = sd_event_add_time(event, &e->timer, CLOCK_BOOTTIME, 0, PROBE_TIMER_ACCURACY, engine_on_timer, e);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(e->timer, "probe-schedule");
        r = sd_event_add_defer(event, &e->kick, engine_on_kick, e);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(e->kick, SD_EVENT_OFF);
        (void) sd_event_source_set_description(e->kick, "probe-dispatch");

        *ret = TAKE_PTR(e);
        return 0;
}

static void link_free_fields(Link *l) {
        free(l->name);
        free(l->url);
        free(l->ca_file);
        free(l->auth_header);
        free(l->token_url);
        link_drop_token(l);
        free(l);
}

ProbeEngine *probe_engine_free(ProbeEngine *e) {
        Link *l;
        Host *h;
        size_t i = 0;

        if (!e)
                return NULL;
        /* in-flight probes end without a callback */
        while (hashmap_iterate(e->links, &i, (void **) &l))
                if (l->probe)
                        probe_free(l->probe);
        i = 0;
        while (hashmap_iterate(e->links, &i, (void **) &l))
                link_free_fields(l);
        i = 0;
        while (hashmap_iterate(e->hosts, &i, (void **) &h)) {
                free(h->name);
                free(h);
        }
        hashmap_free(e->links);
        hashmap_free(e->hosts);
        free(e->heap);
        sd_event_source_disable_unref(e->timer);
        sd_event_source_disable_unref(e->kick);
        if (e->share)
                curl_share_cleanup(e->share);
        free(e->default_ca_file);
        return mfree(e);
}

int probe_engine_set_options(ProbeEngine *e, const ProbeEngineOptions *options) {
        Host *h;
        size_t i = 0;

        if (options_check(options) < 0)
                return -EINVAL;
        e->options = *options;
        if (e->options.body_max == 0)
                e->options.body_max = PROBE_BODY_MAX_DEFAULT;
        engine_set_connection_cache(e);
        /* a host's room may have changed */
        while (hashmap_iterate(e->hosts, &i, (void **) &h))
                host_update_ring(e, h);
        engine_kick(e);
        return 0;
}

static int strdup_null(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

#define free_and_replace(a, b)                  \
        do {                                    \
                free(a);                        \
                (a) = TAKE_PTR(b);              \
        } while (0)

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && streq(a, b));
}

int probe_engine_set_link(ProbeEngine *e, const LinkConfig *lc) {
        const ProbeSettings *s;
        Host *host = NULL;
        int r;

        if (!lc || !lc->name || !lc->url)
                return -EINVAL;
        s = &lc->probe;
        if (s->interval == 0 || s->timeout == 0 || s->method < 0 || s->method >= _PROBE_METHOD_MAX ||
            s->auth < 0 || s->auth >= _PROBE_AUTH_MAX || (s->auth == PROBE_AUTH_OAUTH2 && !s->token_url) ||
            (s->auth == PROBE_AUTH_HEADER && !s->auth_header))
                return -EINVAL;

        /* everything that can fail first, so that a failure changes nothing */
        _cleanup_free_ char *url = NULL, *ca_file = NULL, *auth_header = NULL, *token_url = NULL;
        if (strdup_null(lc->url, &url) < 0 || strdup_null(s->ca_file, &ca_file) < 0 ||
            strdup_null(s->auth_header, &auth_header) < 0 || strdup_null(s->token_url, &token_url) < 0)
                return -ENOMEM;
        r = host_get(e, lc, &host);
        if (r < 0)
                return r;

        Link *l = hashmap_get(e->links, lc->name);
        if (!l) {
                l = calloc(1, sizeof(Link));
                if (!l || !(l->name = strdup(lc->name))) {
                        free(l);
                        host_unref(e, host);
                        return -ENOMEM;
                }
                l->heap_idx = SIZE_MAX;
                r = hashmap_put(e->links, l->name, l);
                if (r >= 0) {
                        l->interval = s->interval;
                        link_place(e, l, clock_boottime(e->clock));
                        r = heap_push(e, l);
                        if (r < 0)
                                (void) hashmap_remove(e->links, l->name);
                }
                if (r < 0) {
                        free(l->name);
                        free(l);
                        host_unref(e, host);
                        return r;
                }
                log_debug_to(&e->logger, "probe %s: added, %s, first probe in %llu ms", l->name, host->name,
                             (unsigned long long) ((l->due - MIN(l->due, clock_boottime(e->clock))) / USEC_PER_MSEC));
        } else {
                /* the request changes: a cached token was for the old one */
                if (l->auth != s->auth || !streq(l->url, url) || !streq_null(l->token_url, token_url) ||
                    !streq_null(l->ca_file, ca_file))
                        link_drop_token(l);
                if (l->host != host) {
                        bool queued = l->queued, urgent = l->urgent;
                        Host *old = l->host;
                        queue_remove(l);
                        host_update_ring(e, old);
                        l->host = host;
                        host = old;     /* unreferenced below */
                        if (queued) {
                                queue_add(l, urgent);
                                host_update_ring(e, l->host);
                        }
                }
                if (l->interval != s->interval) {
                        l->interval = s->interval;
                        link_place(e, l, clock_boottime(e->clock));
                        if (!l->inactive)
                                heap_fix(e, l);
                }
        }

        if (!l->host)
                l->host = TAKE_PTR(host);
        host_unref(e, host);
        free_and_replace(l->url, url);
        free_and_replace(l->ca_file, ca_file);
        free_and_replace(l->auth_header, auth_header);
        free_and_replace(l->token_url, token_url);
        l->expect_status = s->expect_status;
        l->timeout = s->timeout;
        l->connect_timeout = s->connect_timeout > 0 ? MIN(s->connect_timeout, s->timeout) : s->timeout;
        l->method = s->method;
        l->auth = s->auth;
        l->reuse_connections = s->reuse_connections;
        l->follow_redirects = s->follow_redirects;

        engine_set_connection_cache(e);
        engine_arm_timer(e);
        engine_kick(e);
        return 0;
}

void probe_engine_remove_link(ProbeEngine *e, const char *link) {
        Link *l = link ? hashmap_remove(e->links, link) : NULL;
        if (!l)
                return;
        if (l->probe) {
                /* cancelled without a callback */
                l->probe->link = NULL;
                probe_free(l->probe);
                l->probe = NULL;
        }
        queue_remove(l);
        host_update_ring(e, l->host);
        heap_remove(e, l);
        host_unref(e, l->host);
        log_debug_to(&e->logger, "probe %s: removed", l->name);
        link_free_fields(l);
        engine_set_connection_cache(e);
        engine_arm_timer(e);
        engine_kick(e);
}

int probe_engine_set_active(ProbeEngine *e, const char *link, bool active) {
        Link *l = link ? hashmap_get(e->links, link) : NULL;
        if (!l)
                return -ENOENT;
        if (active == !l->inactive)
                return 0;
        l->inactive = !active;
        if (!active) {
                heap_remove(e, l);
                if (l->queued && !l->urgent) {
                        queue_remove(l);
                        host_update_ring(e, l->host);
                }
        } else {
                /* back at its place in the interval: the next slot to come */
                usec_t now = clock_boottime(e->clock);
                if (l->base <= now)
                        l->base += ((now - l->base) / l->interval + 1) * l->interval;
                l->due = l->base + link_jitter(e, l);
                int r = heap_push(e, l);
                if (r < 0) {
                        l->inactive = true;
                        return r;
                }
        }
        log_debug_to(&e->logger, "probe %s: %s", l->name, active ? "scheduled" : "out of the schedule");
        engine_arm_timer(e);
        return 1;
}

int probe_engine_probe_now(ProbeEngine *e, const char *link) {
        Link *l = link ? hashmap_get(e->links, link) : NULL;
        if (!l)
                return -ENOENT;
        if (e->stopped)
                return -ESHUTDOWN;
        if (l->probe)
                return 1;
        bool was_queued = l->queued;
        if (was_queued && l->urgent)
                return 1;
        /* to the front: behind other urgent links, ahead of every scheduled one */
        queue_remove(l);
        queue_add(l, true);
        host_update_ring(e, l->host);
        engine_kick(e);
        return was_queued ? 1 : 0;
}

void probe_engine_stop(ProbeEngine *e) {
        if (!e)
                return;
        e->stopped = true;
        (void) sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(e->kick, SD_EVENT_OFF);
}

unsigned probe_engine_in_flight(ProbeEngine *e) {
        return e ? e->in_flight : 0;
}

usec_t probe_engine_next_probe(ProbeEngine *e, const char *link) {
        Link *l = link ? hashmap_get(e->links, link) : NULL;
        if (!l || e->stopped)
                return USEC_INFINITY;
        usec_t now = clock_boottime(e->clock), wall = clock_realtime(e->clock);
        if (l->queued || l->probe)
                return wall;
        if (l->inactive)
                return USEC_INFINITY;
        return wall + (l->due > now ? l->due - now : 0);
}
