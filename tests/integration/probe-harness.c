/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "probe-harness.h"

#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "strv.h"

usec_t mono_now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

char *run_output(char *const argv[]) {
        int pipefd[2];
        ck_assert_int_eq(pipe(pipefd), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                close(pipefd[0]);
                close(pipefd[1]);
                execv(argv[0], argv);
                _exit(127);
        }
        close(pipefd[1]);
        StrBuf b = STRBUF_NULL;
        char buf[4096];
        ssize_t n;
        while ((n = read(pipefd[0], buf, sizeof buf)) > 0)
                strbuf_append(&b, buf, (size_t) n);
        close(pipefd[0]);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed", argv[0]);
        char *s = strbuf_steal(&b);
        size_t l = strlen(s);
        while (l > 0 && s[l - 1] == '\n')
                s[--l] = 0;
        return s;
}

void world_start(World *w) {
        const char *tmp = getenv("TMPDIR") ?: "/tmp";
        char *dir, *pki, *ports;
        ck_assert_int_ge(asprintf(&dir, "%s/tomslink-probe-XXXXXX", tmp), 0);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_ge(asprintf(&pki, "%s/pki", dir), 0);
        ck_assert_int_ge(asprintf(&ports, "%s/ports.json", dir), 0);
        *w = (World) { .dir = dir };
        ck_assert_int_ge(asprintf(&w->ca_file, "%s/ca.crt", pki), 0);

        char *mkpki[] = { (char *) SOURCE_ROOT "/tests/lib/mkpki.sh", pki, (char *) "ec", NULL };
        free(run_output(mkpki));

        pid_t parent = getpid();
        w->pid = fork();
        ck_assert_int_ge(w->pid, 0);
        if (w->pid == 0) {
                /* never outlives the test program */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
                int null = open("/dev/null", O_RDONLY);
                dup2(null, STDIN_FILENO);
                execl("/usr/bin/python3", "python3", SOURCE_ROOT "/tests/lib/probe-servers.py", "--pki", pki,
                      "--ports", ports, "--user", TEST_USER, "--secret", TEST_SECRET, "--lifetime", "600",
                      (char *) NULL);
                _exit(127);
        }
        json_object *o = NULL;
        for (int i = 0; i < 1000 && !o; i++) {
                if (access(ports, F_OK) == 0)
                        o = json_object_from_file(ports);
                else {
                        int status;
                        ck_assert_msg(waitpid(w->pid, &status, WNOHANG) == 0, "probe-servers.py died");
                        usleep(20 * 1000);
                }
        }
        ck_assert_msg(o, "probe-servers.py did not start");
#define PORT(name) w->name = (int) json_get_int(o, #name, NULL)
        PORT(good);
        PORT(expired);
        PORT(wronghost);
        PORT(soon);
        PORT(chain);
        PORT(silent);
        PORT(blackhole);
        PORT(closed);
        PORT(control);
#undef PORT
        json_object_put(o);
        free(pki);
        free(ports);
}

void world_stop(World *w) {
        if (w->pid > 0) {
                (void) kill(w->pid, SIGTERM);
                (void) waitpid(w->pid, NULL, 0);
        }
        if (w->dir)
                (void) nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(w->dir);
        free(w->ca_file);
        *w = (World) {};
}

char *world_url(int port, const char *path) {
        char *s;
        ck_assert_int_ge(asprintf(&s, "https://127.0.0.1:%d%s", port, path), 0);
        return s;
}

static size_t collect(char *ptr, size_t size, size_t n, void *userdata) {
        strbuf_append(userdata, ptr, size * n);
        return size * n;
}

static json_object *control(const World *w, const char *path, bool post) {
        char url[128];
        StrBuf b = STRBUF_NULL;
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->control, path);
        CURL *c = curl_easy_init();
        ck_assert_ptr_nonnull(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        if (post)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        CURLcode r = curl_easy_perform(c);
        curl_easy_cleanup(c);
        ck_assert_msg(r == CURLE_OK, "control %s: %s", path, curl_easy_strerror(r));
        json_object *o = json_tokener_parse(b.data ?: "");
        strbuf_done(&b);
        ck_assert_ptr_nonnull(o);
        return o;
}

json_object *world_stats(const World *w) {
        return control(w, "/stats", false);
}

void world_post(const World *w, const char *what) {
        json_object_put(control(w, what, true));
}

int64_t json_get_int(json_object *o, const char *k1, const char *k2) {
        json_object *v;
        if (!json_object_object_get_ex(o, k1, &v))
                return -1;
        if (k2 && !json_object_object_get_ex(v, k2, &v))
                return -1;
        return json_object_get_int64(v);
}

json_object *world_find_request(json_object *stats, const char *path_prefix, size_t nth) {
        json_object *reqs, *path;
        if (!json_object_object_get_ex(stats, "requests", &reqs))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(reqs); i++) {
                json_object *r = json_object_array_get_idx(reqs, i);
                if (json_object_object_get_ex(r, "path", &path) &&
                    strneq(json_object_get_string(path), path_prefix, strlen(path_prefix)) && nth-- == 0)
                        return r;
        }
        return NULL;
}

size_t world_count_requests(json_object *stats, const char *path_prefix) {
        size_t n = 0;
        while (world_find_request(stats, path_prefix, n))
                n++;
        return n;
}

static void on_log(void *userdata, int priority, const char *message) {
        Harness *h = userdata;
        ck_assert_int_eq(priority, LOG_DEBUG);  /* lib/ never logs above debug */
        strbuf_puts(&h->log, message);
        strbuf_putc(&h->log, '\n');
        if (getenv("TEST_VERBOSE"))
                fprintf(stderr, "%s\n", message);
}

static int get_credential(void *userdata, const char *link, char **ret_username, char **ret_secret,
                          size_t *ret_secret_size) {
        Harness *h = userdata;
        if (h->n_starts >= h->n_starts_allocated) {
                h->n_starts_allocated = MAX(h->n_starts_allocated * 2, (size_t) 64);
                h->starts = reallocarray(h->starts, h->n_starts_allocated, sizeof(StartRecord));
                ck_assert_ptr_nonnull(h->starts);
        }
        StartRecord *s = &h->starts[h->n_starts++];
        snprintf(s->link, sizeof s->link, "%s", link);
        s->at = mono_now();
        s->in_flight = probe_engine_in_flight(h->engine);
        if (strv_contains(h->no_credential, link))
                return -ENOENT;
        *ret_username = strdup(TEST_USER);
        *ret_secret = strdup(h->secret);
        *ret_secret_size = strlen(h->secret);
        return 0;
}

static void on_done(ProbeEngine *e, const char *link, const ProbeResult *r, void *userdata) {
        Harness *h = userdata;
        if (h->n_results >= h->n_results_allocated) {
                h->n_results_allocated = MAX(h->n_results_allocated * 2, (size_t) 64);
                h->results = reallocarray(h->results, h->n_results_allocated, sizeof(ResultRecord));
                ck_assert_ptr_nonnull(h->results);
        }
        ResultRecord *rec = &h->results[h->n_results++];
        snprintf(rec->link, sizeof rec->link, "%s", link);
        rec->r = *r;
        rec->done = mono_now();
        if (getenv("TEST_VERBOSE"))
                fprintf(stderr, "result %s: %s %ld \"%s\"\n", link, probe_class_to_string(r->klass), r->http_status,
                        r->error);
        if (h->on_done)
                h->on_done(h, link, r);
}

static Harness *harness_new_full(unsigned max_parallel, unsigned per_host_parallel, bool fake_clock) {
        Harness *h = calloc(1, sizeof(Harness));
        ck_assert_ptr_nonnull(h);
        h->secret = TEST_SECRET;
        ck_assert_int_eq(curl_glue_global_init(), 0);
        ck_assert_int_ge(sd_event_new(&h->event), 0);
        ck_assert_int_eq(curl_glue_new(h->event, NULL, NULL, &h->glue), 0);
        if (fake_clock)
                ck_assert_int_eq(clock_new_fake(now_usec(CLOCK_REALTIME), now_usec(CLOCK_BOOTTIME), &h->clock), 0);
        else
                ck_assert_int_eq(clock_new_system(h->event, &h->clock), 0);
        h->logger = (Logger) { .func = on_log, .userdata = h };
        ProbeEngineOptions o = { .max_parallel = max_parallel, .per_host_parallel = per_host_parallel };
        ck_assert_int_eq(probe_engine_new(h->glue, h->clock, &o, get_credential, on_done, h, &h->logger, &h->engine),
                         0);
        return h;
}

Harness *harness_new(unsigned max_parallel, unsigned per_host_parallel) {
        return harness_new_full(max_parallel, per_host_parallel, false);
}

Harness *harness_new_fake_clock(unsigned max_parallel, unsigned per_host_parallel) {
        return harness_new_full(max_parallel, per_host_parallel, true);
}

static void assert_absent(const char *haystack, const char *needle, const char *where) {
        ck_assert_msg(!haystack || !strstr(haystack, needle), "\"%s\" found in %s", needle, where);
}

void harness_free(Harness *h) {
        if (!h)
                return;
        h->engine = probe_engine_free(h->engine);

        /* the secret, as sent with basic auth, and OAuth2 tokens */
        char b64[256], pair[128];
        snprintf(pair, sizeof pair, "%s:%s", TEST_USER, TEST_SECRET);
        EVP_EncodeBlock((unsigned char *) b64, (const unsigned char *) pair, (int) strlen(pair));
        const char *secrets[] = { TEST_SECRET, b64, "tomslinktoken-", h->secret };
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++) {
                assert_absent(h->log.data, secrets[i], "the engine's debug log");
                for (size_t j = 0; j < h->n_results; j++) {
                        assert_absent(h->results[j].r.error, secrets[i], "a result's error");
                        assert_absent(h->results[j].r.cert_subject, secrets[i], "a result's certificate subject");
                }
        }
        /* the log was not empty: the check above looked at something */
        ck_assert_msg(h->log.len > 0, "nothing was logged");

        curl_glue_free(h->glue);
        clock_free(h->clock);
        sd_event_unref(h->event);
        strbuf_done(&h->log);
        free(h->results);
        free(h->starts);
        strv_free(h->no_credential);
        free(h);
}

void test_link_init(LinkConfig *lc, const World *w, const char *name, const char *url) {
        *lc = (LinkConfig) {
                .name = strdup(name),
                .url = strdup(url),
                .probe = {
                        .interval = USEC_PER_HOUR,
                        .timeout = 5 * USEC_PER_SEC,
                        .connect_timeout = 3 * USEC_PER_SEC,
                        .failures_before_alert = 3,
                        .reuse_connections = true,
                        .ca_file = w ? strdup(w->ca_file) : NULL,
                        .method = PROBE_METHOD_GET,
                        .auth = PROBE_AUTH_BASIC,
                        .lifetime = 365 * USEC_PER_DAY,
                },
        };
        status_set_add(&lc->probe.expect_status, 200);
}

void test_link_done(LinkConfig *lc) {
        free(lc->name);
        free(lc->url);
        free(lc->host);
        free(lc->probe.ca_file);
        free(lc->probe.auth_header);
        free(lc->probe.token_url);
        *lc = (LinkConfig) {};
}

void harness_probe_now(Harness *h, const World *w, const char *name, const char *url) {
        LinkConfig lc;
        test_link_init(&lc, w, name, url);
        ck_assert_int_eq(probe_engine_set_link(h->engine, &lc), 0);
        ck_assert_int_ge(probe_engine_probe_now(h->engine, name), 0);
        test_link_done(&lc);
}

bool harness_wait_results(Harness *h, size_t n, usec_t timeout) {
        usec_t end = mono_now() + timeout;
        while (h->n_results < n) {
                usec_t now = mono_now();
                if (now >= end)
                        return false;
                ck_assert_int_ge(sd_event_run(h->event, end - now), 0);
        }
        return true;
}

void harness_run_for(Harness *h, usec_t t) {
        usec_t end = mono_now() + t;
        for (usec_t now = mono_now(); now < end; now = mono_now())
                ck_assert_int_ge(sd_event_run(h->event, end - now), 0);
}

const ResultRecord *harness_result(const Harness *h, const char *link) {
        for (size_t i = 0; i < h->n_results; i++)
                if (streq(h->results[i].link, link))
                        return &h->results[i];
        return NULL;
}

size_t harness_count_results(const Harness *h, const char *link) {
        size_t n = 0;
        for (size_t i = 0; i < h->n_results; i++)
                n += streq(h->results[i].link, link);
        return n;
}

ProbeResult harness_probe_one(Harness *h, const World *w, LinkConfig *lc) {
        size_t before = h->n_results;
        ck_assert_int_eq(probe_engine_set_link(h->engine, lc), 0);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, lc->name), 0);
        ck_assert_msg(harness_wait_results(h, before + 1, 30 * USEC_PER_SEC), "no result for %s", lc->name);
        return h->results[before].r;
}
