/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One full probe round through the probe engine, measured: registers N
 * links (https://127.0.0.1:PORT/e/I with user uI, secret sI-...), asks for
 * all of them at once with probe_engine_probe_now(), runs the event loop
 * until every result is in, and prints one JSON object: wall time, CPU
 * time (user + sys of this process), peak RSS, the memory an idle link
 * costs, how often the CA file was opened (inotify), and the results by
 * class. Driven by tests/bench/probe-throughput; not a test.
 *
 * With --baseline the same requests go through libcurl alone, one at a
 * time on one multi handle (so the CA store is cached as in the engine),
 * each on a fresh connection: the floor for a probe with a full handshake. */
#include <getopt.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/resource.h>

#include "clock.h"
#include "curl-glue.h"
#include "probe.h"

typedef struct Bench {
        unsigned n_links;
        unsigned n_done;
        unsigned by_class[_PROBE_CLASS_MAX];
        char first_error[PROBE_ERROR_MAX + 64];
        unsigned with_cert;
} Bench;

static int get_credential(void *userdata, const char *link, char **ret_username, char **ret_secret,
                          size_t *ret_secret_size) {
        unsigned i;
        if (sscanf(link, "e%u", &i) != 1)
                return -ENOENT;
        char *u, *s;
        if (asprintf(&u, "u%u", i) < 0)
                return -ENOMEM;
        int n = asprintf(&s, "s%u-Wq8v3LkP", i);
        if (n < 0) {
                free(u);
                return -ENOMEM;
        }
        *ret_username = u;
        *ret_secret = s;
        *ret_secret_size = (size_t) n;
        return 0;
}

static void on_done(ProbeEngine *e, const char *link, const ProbeResult *r, void *userdata) {
        Bench *b = userdata;
        b->n_done++;
        if (r->klass >= 0 && r->klass < _PROBE_CLASS_MAX)
                b->by_class[r->klass]++;
        if (r->cert_not_after > 0)
                b->with_cert++;
        if (r->klass != PROBE_OK && !b->first_error[0]) {
                snprintf(b->first_error, sizeof b->first_error, "%s: %s (HTTP %ld) %s", link,
                         probe_class_to_string(r->klass), r->http_status, r->error);
                for (char *c = b->first_error; *c; c++)
                        if (*c == '"' || *c == '\\')
                                *c = '\'';
        }
}

static long rss_kb(void) {
        long pages = 0, resident = 0;
        FILE *f = fopen("/proc/self/statm", "re");
        if (!f)
                return 0;
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
                resident = 0;
        fclose(f);
        return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* What one parse of the CA file costs: what every probe would pay if the
 * store were not cached. */
static double ca_parse_ms(const char *ca) {
        usec_t t0 = now_usec(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < 5; i++) {
                X509_STORE *s = X509_STORE_new();
                if (!s || X509_STORE_load_file(s, ca) != 1) {
                        X509_STORE_free(s);
                        return -1;
                }
                X509_STORE_free(s);
        }
        return (double) (now_usec(CLOCK_PROCESS_CPUTIME_ID) - t0) / 5 / 1e3;
}

static double tv_s(struct timeval tv) {
        return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static size_t discard(char *ptr, size_t size, size_t n, void *userdata) {
        return size * n;
}

static int baseline(unsigned n_links, const unsigned *ports, unsigned n_ports, const char *ca) {
        struct rusage r0, r1;
        unsigned ok = 0;
        CURLM *m = curl_multi_init();
        if (!m)
                return 1;
        getrusage(RUSAGE_SELF, &r0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < n_links; i++) {
                char url[96], user[32], secret[48];
                snprintf(url, sizeof url, "https://127.0.0.1:%u/e/%u", ports[i % n_ports], i);
                snprintf(user, sizeof user, "u%u", i);
                snprintf(secret, sizeof secret, "s%u-Wq8v3LkP", i);
                CURL *c = curl_easy_init();
                if (!c)
                        return 1;
                curl_easy_setopt(c, CURLOPT_URL, url);
                curl_easy_setopt(c, CURLOPT_USERNAME, user);
                curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_CAINFO, ca);
                curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
                curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
                curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
                curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
                curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
                curl_multi_add_handle(m, c);
                int running = 1;
                while (running) {
                        curl_multi_perform(m, &running);
                        if (running)
                                curl_multi_poll(m, NULL, 0, 1000, NULL);
                }
                long status = 0;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                ok += status == 200;
                curl_multi_remove_handle(m, c);
                curl_easy_cleanup(c);
        }
        usec_t t1 = now_usec(CLOCK_MONOTONIC);
        getrusage(RUSAGE_SELF, &r1);
        curl_multi_cleanup(m);
        double user = tv_s(r1.ru_utime) - tv_s(r0.ru_utime), sys = tv_s(r1.ru_stime) - tv_s(r0.ru_stime);
        printf("{\"links\": %u, \"baseline\": true, \"wall_s\": %.3f, \"user_s\": %.3f, \"sys_s\": %.3f, "
               "\"cpu_ms_per_probe\": %.4f, \"ok\": %u}\n",
               n_links, (double) (t1 - t0) / 1e6, user, sys, (user + sys) * 1000.0 / n_links, ok);
        return ok == n_links ? 0 : 1;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "links", required_argument, NULL, 'n' },
                { "ports", required_argument, NULL, 'p' },
                { "ca", required_argument, NULL, 'c' },
                { "max-parallel", required_argument, NULL, 'm' },
                { "per-host", required_argument, NULL, 'h' },
                { "reuse", required_argument, NULL, 'r' },
                { "baseline", no_argument, NULL, 'b' },
                {},
        };
        unsigned n_links = 1000, max_parallel = 64, per_host = 4, ports[256], n_ports = 0;
        bool reuse = true, base = false;
        const char *ca = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        n_links = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'p':
                        for (char *s = optarg; *s && n_ports < ELEMENTSOF(ports);) {
                                char *end;
                                ports[n_ports++] = (unsigned) strtoul(s, &end, 10);
                                s = *end == ',' ? end + 1 : end;
                        }
                        break;
                case 'c':
                        ca = optarg;
                        break;
                case 'm':
                        max_parallel = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'h':
                        per_host = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        reuse = streq(optarg, "yes") || streq(optarg, "true") || streq(optarg, "1");
                        break;
                case 'b':
                        base = true;
                        break;
                default:
                        return 2;
                }
        if (n_ports == 0 || !ca || n_links == 0) {
                fprintf(stderr, "usage: bench-probe --ports P1,P2,... --ca FILE [--links N] [--max-parallel M] "
                                "[--per-host K] [--reuse yes|no] [--baseline]\n");
                return 2;
        }
        if (base)
                return curl_glue_global_init() < 0 ? 1 : baseline(n_links, ports, n_ports, ca);

        /* before the inotify watch: these opens are not the engine's */
        double ca_ms = ca_parse_ms(ca);

        sd_event *event = NULL;
        CurlGlue *glue = NULL;
        Clock *clock = NULL;
        ProbeEngine *engine = NULL;
        Bench b = { .n_links = n_links };
        ProbeEngineOptions o = { .max_parallel = max_parallel, .per_host_parallel = per_host };
        if (curl_glue_global_init() < 0 || sd_event_new(&event) < 0 || curl_glue_new(event, NULL, NULL, &glue) < 0 ||
            clock_new_system(event, &clock) < 0 ||
            probe_engine_new(glue, clock, &o, get_credential, on_done, &b, NULL, &engine) < 0) {
                fprintf(stderr, "bench-probe: set-up failed\n");
                return 1;
        }

        /* every open of the CA file, by anyone in this process */
        int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ino < 0 || inotify_add_watch(ino, ca, IN_OPEN) < 0) {
                fprintf(stderr, "bench-probe: inotify on %s: %m\n", ca);
                return 1;
        }

        long rss_before = rss_kb();
        for (unsigned i = 0; i < n_links; i++) {
                char name[32], url[96], host[48];
                snprintf(name, sizeof name, "e%u", i);
                snprintf(host, sizeof host, "127.0.0.1:%u", ports[i % n_ports]);
                snprintf(url, sizeof url, "https://%s/e/%u", host, i);
                LinkConfig lc = {
                        .name = name,
                        .url = url,
                        .host = host,
                        .probe = {
                                .interval = 24 * USEC_PER_HOUR,
                                .timeout = 20 * USEC_PER_SEC,
                                .connect_timeout = 10 * USEC_PER_SEC,
                                .reuse_connections = reuse,
                                .ca_file = (char *) ca,
                                .method = PROBE_METHOD_GET,
                                .auth = PROBE_AUTH_BASIC,
                        },
                };
                status_set_add(&lc.probe.expect_status, 200);
                if (probe_engine_set_link(engine, &lc) < 0) {
                        fprintf(stderr, "bench-probe: cannot add link %s\n", name);
                        return 1;
                }
        }
        long rss_links = rss_kb();

        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < n_links; i++) {
                char name[32];
                snprintf(name, sizeof name, "e%u", i);
                (void) probe_engine_probe_now(engine, name);
        }
        while (b.n_done < n_links) {
                if (sd_event_run(event, 60 * USEC_PER_SEC) <= 0) {
                        fprintf(stderr, "bench-probe: stalled at %u of %u\n", b.n_done, n_links);
                        return 1;
                }
        }
        usec_t t1 = now_usec(CLOCK_MONOTONIC);
        getrusage(RUSAGE_SELF, &r1);

        unsigned ca_opens = 0;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;
        while ((n = read(ino, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *) p)->len)
                        ca_opens += (((struct inotify_event *) p)->mask & IN_OPEN) != 0;

        double wall = (double) (t1 - t0) / 1e6;
        double user = tv_s(r1.ru_utime) - tv_s(r0.ru_utime), sys = tv_s(r1.ru_stime) - tv_s(r0.ru_stime);
        printf("{\"links\": %u, \"max_parallel\": %u, \"per_host\": %u, \"hosts\": %u, \"reuse\": %s, "
               "\"wall_s\": %.3f, \"user_s\": %.3f, \"sys_s\": %.3f, \"probes_per_s\": %.1f, "
               "\"cpu_ms_per_probe\": %.4f, \"peak_rss_kb\": %ld, \"idle_link_bytes\": %.0f, "
               "\"ca_opens\": %u, \"ca_parse_ms\": %.3f, \"with_cert\": %u, \"ok\": %u, \"failed\": %u, \"first_error\": \"%s\"}\n",
               n_links, max_parallel, per_host, n_ports, reuse ? "true" : "false", wall, user, sys,
               n_links / wall, (user + sys) * 1000.0 / n_links, r1.ru_maxrss,
               (double) (rss_links - rss_before) * 1024.0 / n_links, ca_opens, ca_ms, b.with_cert, b.by_class[PROBE_OK],
               n_links - b.by_class[PROBE_OK], b.first_error);

        probe_engine_free(engine);
        curl_glue_free(glue);
        clock_free(clock);
        sd_event_unref(event);
        close(ino);
        return b.by_class[PROBE_OK] == n_links ? 0 : 1;
}
