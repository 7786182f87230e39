/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every failure class against real servers: the class, the HTTP status,
 * the error text, the phase times, the endpoint certificate. */
#include <ctype.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <fcntl.h>

#include "probe-harness.h"

static World world;

static void setup(void) {
        world_start(&world);
}

static void teardown(void) {
        world_stop(&world);
}

static void reset(void) {
        world_post(&world, "/reset");
}

typedef struct CliCert {
        usec_t not_after;
        char *subject;
        char *sha256;
} CliCert;

/* The openssl CLI's view of a certificate file. */
static CliCert cli_cert(const char *name) {
        CliCert c = {};
        char *file, *out;
        struct tm tm = {};
        ck_assert_int_ge(asprintf(&file, "%s/pki/%s", world.dir, name), 0);

        char *enddate[] = { (char *) "/usr/bin/openssl", (char *) "x509", (char *) "-in", file, (char *) "-noout",
                            (char *) "-enddate", (char *) "-dateopt", (char *) "iso_8601", NULL };
        out = run_output(enddate);
        ck_assert_int_eq(sscanf(out, "notAfter=%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                                &tm.tm_min, &tm.tm_sec), 6);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        c.not_after = (usec_t) timegm(&tm) * USEC_PER_SEC;
        free(out);

        char *subject[] = { (char *) "/usr/bin/openssl", (char *) "x509", (char *) "-in", file, (char *) "-noout",
                            (char *) "-subject", (char *) "-nameopt", (char *) "RFC2253", NULL };
        out = run_output(subject);
        ck_assert(strneq(out, "subject=", 8));
        c.subject = strdup(out + 8);
        free(out);

        char *fingerprint[] = { (char *) "/usr/bin/openssl", (char *) "x509", (char *) "-in", file, (char *) "-noout",
                                (char *) "-fingerprint", (char *) "-sha256", NULL };
        out = run_output(fingerprint);
        char *eq = strchr(out, '=');
        ck_assert_ptr_nonnull(eq);
        c.sha256 = calloc(65, 1);
        size_t n = 0;
        for (char *p = eq + 1; *p && n < 64; p++)
                if (*p != ':')
                        c.sha256[n++] = (char) tolower((unsigned char) *p);
        free(out);
        free(file);
        return c;
}

static void cli_cert_done(CliCert *c) {
        free(c->subject);
        free(c->sha256);
}

static void assert_phases_ordered(const ProbeResult *r) {
        ck_assert(r->dns != USEC_INFINITY && r->connect != USEC_INFINITY && r->tls != USEC_INFINITY &&
                  r->first_byte != USEC_INFINITY && r->total != USEC_INFINITY);
        ck_assert_uint_le(r->dns, r->connect);
        ck_assert_uint_le(r->connect, r->tls);
        ck_assert_uint_le(r->tls, r->first_byte);
        ck_assert_uint_le(r->first_byte, r->total);
        ck_assert_uint_gt(r->total, 0);
}

/* A probe of one URL with test defaults, tweaked. */
static ProbeResult probe(Harness *h, int port, const char *path, void (*tweak)(LinkConfig *lc)) {
        LinkConfig lc;
        char *url = world_url(port, path);
        test_link_init(&lc, &world, "district", url);
        if (tweak)
                tweak(&lc);
        ProbeResult r = harness_probe_one(h, &world, &lc);
        test_link_done(&lc);
        free(url);
        return r;
}

START_TEST(test_ok) {
        Harness *h = harness_new(8, 4);
        reset();
        usec_t before = now_usec(CLOCK_REALTIME);
        ProbeResult r = probe(h, world.good, "/basic?link=district", NULL);
        usec_t after = now_usec(CLOCK_REALTIME);

        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        ck_assert_int_eq(r.http_status, 200);
        ck_assert_str_eq(r.error, "");
        assert_phases_ordered(&r);
        ck_assert_uint_ge(r.time, before - USEC_PER_SEC);
        ck_assert_uint_le(r.time, after);

        /* the server got the credential, the User-Agent, a GET */
        json_object *stats = world_stats(&world), *req = world_find_request(stats, "/basic", 0), *hdrs, *v;
        ck_assert_ptr_nonnull(req);
        ck_assert(json_object_object_get_ex(req, "method", &v));
        ck_assert_str_eq(json_object_get_string(v), "GET");
        ck_assert(json_object_object_get_ex(req, "headers", &hdrs));
        ck_assert(json_object_object_get_ex(hdrs, "User-Agent", &v));
        ck_assert_str_eq(json_object_get_string(v), "tomslink/" TOMSLINK_VERSION);
        ck_assert(json_object_object_get_ex(hdrs, "Authorization", &v));
        ck_assert(strneq(json_object_get_string(v), "Basic ", 6));
        json_object_put(stats);

        /* the certificate, as the openssl CLI sees it: the server sends
         * leaf and CA, the leaf expires first */
        CliCert c = cli_cert("server.crt");
        ck_assert_uint_eq(r.cert_not_after, c.not_after);
        ck_assert_str_eq(r.cert_subject, c.subject);
        ck_assert_str_eq(r.cert_subject, "CN=localhost");
        ck_assert_str_eq(r.cert_sha256, c.sha256);
        cli_cert_done(&c);
        harness_free(h);
}
END_TEST

START_TEST(test_wrong_secret) {
        Harness *h = harness_new(8, 4);
        h->secret = "not-the-secret";
        ProbeResult r = probe(h, world.good, "/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "auth");
        ck_assert_int_eq(r.http_status, 401);
        ck_assert_ptr_nonnull(strstr(r.error, "401"));
        assert_phases_ordered(&r);
        harness_free(h);
}
END_TEST

START_TEST(test_forbidden) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.good, "/status/403", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "auth");
        ck_assert_int_eq(r.http_status, 403);
        ck_assert_ptr_nonnull(strstr(r.error, "not authorized"));
        harness_free(h);
}
END_TEST

START_TEST(test_server_errors) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.good, "/status/500", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_int_eq(r.http_status, 500);
        ck_assert_str_eq(r.error, "unexpected HTTP status 500");
        assert_phases_ordered(&r);
        r = probe(h, world.good, "/status/503", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_int_eq(r.http_status, 503);
        harness_free(h);
}
END_TEST

static void expect_503(LinkConfig *lc) {
        status_set_add(&lc->probe.expect_status, 503);
}

static void expect_204(LinkConfig *lc) {
        memset(&lc->probe.expect_status, 0, sizeof lc->probe.expect_status);
        status_set_add(&lc->probe.expect_status, 204);
}

START_TEST(test_expect_status) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.good, "/status/503", expect_503);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        ck_assert_int_eq(r.http_status, 503);
        r = probe(h, world.good, "/ok", expect_204);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_int_eq(r.http_status, 200);
        harness_free(h);
}
END_TEST

static void timeout_1s(LinkConfig *lc) {
        lc->probe.timeout = USEC_PER_SEC;
        lc->probe.connect_timeout = USEC_PER_SEC;
}

static void connect_timeout_1s(LinkConfig *lc) {
        lc->probe.timeout = 10 * USEC_PER_SEC;
        lc->probe.connect_timeout = USEC_PER_SEC;
}

/* The bound: a probe with a 1 s limit is over well before 3 s. */
static ProbeResult probe_timed(Harness *h, int port, const char *path, void (*tweak)(LinkConfig *lc)) {
        usec_t t0 = mono_now();
        ProbeResult r = probe(h, port, path, tweak);
        usec_t took = mono_now() - t0;
        ck_assert_msg(took < 3 * USEC_PER_SEC, "took %llu ms", (unsigned long long) (took / USEC_PER_MSEC));
        ck_assert_uint_ge(took, 900 * USEC_PER_MSEC);
        ck_assert_str_eq(probe_class_to_string(r.klass), "timeout");
        ck_assert_int_eq(r.http_status, 0);
        ck_assert_str_ne(r.error, "");
        ck_assert_uint_ge(r.total, 900 * USEC_PER_MSEC);
        ck_assert_uint_lt(r.total, 3 * USEC_PER_SEC);
        return r;
}

START_TEST(test_slow_answer) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe_timed(h, world.good, "/slow?s=10", timeout_1s);
        /* connected and shook hands, no answer */
        ck_assert_uint_ne(r.tls, USEC_INFINITY);
        ck_assert_uint_eq(r.first_byte, USEC_INFINITY);
        harness_free(h);
}
END_TEST

START_TEST(test_tls_handshake_timeout) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe_timed(h, world.silent, "/", timeout_1s);
        ck_assert_uint_ne(r.connect, USEC_INFINITY);
        ck_assert_uint_eq(r.tls, USEC_INFINITY);
        harness_free(h);
}
END_TEST

START_TEST(test_connect_timeout) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe_timed(h, world.blackhole, "/", connect_timeout_1s);
        ck_assert_uint_eq(r.connect, USEC_INFINITY);
        ck_assert_uint_eq(r.tls, USEC_INFINITY);
        harness_free(h);
}
END_TEST

START_TEST(test_refused) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.closed, "/", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "connect");
        ck_assert_int_eq(r.http_status, 0);
        ck_assert_ptr_nonnull(strstr(r.error, "onnect"));
        ck_assert_uint_ne(r.dns, USEC_INFINITY);
        ck_assert_uint_eq(r.connect, USEC_INFINITY);
        ck_assert_uint_lt(r.total, 3 * USEC_PER_SEC);
        harness_free(h);
}
END_TEST

START_TEST(test_expired) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.expired, "/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "tls");
        ck_assert_int_eq(r.http_status, 0);
        ck_assert_msg(strneq(r.error, "expired certificate: ", 21), "%s", r.error);
        ck_assert_uint_ne(r.connect, USEC_INFINITY);
        ck_assert_uint_eq(r.tls, USEC_INFINITY);
        harness_free(h);
}
END_TEST

START_TEST(test_wrong_host) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.wronghost, "/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "tls");
        ck_assert_msg(strneq(r.error, "host name mismatch: ", 20), "%s", r.error);
        harness_free(h);
}
END_TEST

static void system_trust_store(LinkConfig *lc) {
        lc->probe.ca_file = mfree(lc->probe.ca_file);
}

START_TEST(test_untrusted) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.good, "/basic", system_trust_store);
        ck_assert_str_eq(probe_class_to_string(r.klass), "tls");
        ck_assert_msg(strneq(r.error, "untrusted certificate: ", 23), "%s", r.error);
        harness_free(h);
}
END_TEST

START_TEST(test_cert_soon) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.soon, "/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        CliCert c = cli_cert("soon.crt");
        ck_assert_uint_eq(r.cert_not_after, c.not_after);
        ck_assert_str_eq(r.cert_sha256, c.sha256);
        usec_t left = r.cert_not_after - now_usec(CLOCK_REALTIME);
        ck_assert_uint_gt(left, 10 * USEC_PER_DAY - USEC_PER_HOUR);
        ck_assert_uint_le(left, 10 * USEC_PER_DAY);
        cli_cert_done(&c);
        harness_free(h);
}
END_TEST

/* The earliest notAfter of the chain is the intermediate's (5 days), not
 * the leaf's (825 days). */
START_TEST(test_cert_chain) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.chain, "/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        CliCert c = cli_cert("inter.crt");
        ck_assert_uint_eq(r.cert_not_after, c.not_after);
        ck_assert_str_eq(r.cert_subject, "CN=tomslink test intermediate");
        ck_assert_str_eq(r.cert_subject, c.subject);
        ck_assert_str_eq(r.cert_sha256, c.sha256);
        cli_cert_done(&c);
        harness_free(h);
}
END_TEST

static int write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

static void write_proc(const char *path, const char *text) {
        ck_assert_int_eq(write_file(path, text), 0);
}

/* A private mount namespace where the resolver points at 127.0.0.1, where
 * nothing answers, and /etc/hosts lacks the name: the test never asks a
 * resolver off this machine. Check runs each test in its own process. */
static void private_resolver(void) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWNS) < 0) {
                char map[64];
                ck_assert_msg(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
                (void) write_file("/proc/self/setgroups", "deny");
                snprintf(map, sizeof map, "0 %u 1", (unsigned) uid);
                write_proc("/proc/self/uid_map", map);
                snprintf(map, sizeof map, "0 %u 1", (unsigned) gid);
                write_proc("/proc/self/gid_map", map);
        }
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        static const struct {
                const char *name, *text;
        } files[] = {
                { "resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n" },
                { "hosts", "127.0.0.1 localhost\n" },
                { "nsswitch.conf", "hosts: files dns\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char *src, *dst;
                ck_assert_int_ge(asprintf(&src, "%s/%s", world.dir, files[i].name), 0);
                ck_assert_int_ge(asprintf(&dst, "/etc/%s", files[i].name), 0);
                ck_assert_int_eq(write_file(src, files[i].text), 0);
                ck_assert_msg(mount(src, dst, NULL, MS_BIND, NULL) == 0, "bind %s: %s", dst, strerror(errno));
                free(src);
                free(dst);
        }
}

START_TEST(test_dns) {
        private_resolver();
        Harness *h = harness_new(8, 4);
        LinkConfig lc;
        test_link_init(&lc, &world, "district", "https://toms-endpoint.tomslink-test.invalid/api/ping");
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "dns");
        ck_assert_int_eq(r.http_status, 0);
        ck_assert_msg(strstr(r.error, "resolve"), "%s", r.error);
        ck_assert_uint_eq(r.dns, USEC_INFINITY);
        ck_assert_uint_eq(r.connect, USEC_INFINITY);
        ck_assert_uint_lt(r.total, 3 * USEC_PER_SEC);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

static void follow(LinkConfig *lc) {
        lc->probe.follow_redirects = true;
}

START_TEST(test_redirects) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.good, "/redirect?to=/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_int_eq(r.http_status, 302);
        ck_assert_ptr_nonnull(strstr(r.error, "redirects are not followed"));
        r = probe(h, world.good, "/redirect?to=/basic", follow);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        ck_assert_int_eq(r.http_status, 200);
        harness_free(h);
}
END_TEST

/* A 1 MiB answer is read up to the cap and dropped, not a failure. */
START_TEST(test_big_body) {
        Harness *h = harness_new(8, 4);
        ProbeResult r = probe(h, world.good, "/big", NULL);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        ck_assert_int_eq(r.http_status, 200);
        harness_free(h);
}
END_TEST

static void head(LinkConfig *lc) {
        lc->probe.method = PROBE_METHOD_HEAD;
}

static void post(LinkConfig *lc) {
        lc->probe.method = PROBE_METHOD_POST;
}

START_TEST(test_methods) {
        Harness *h = harness_new(8, 4);
        reset();
        ProbeResult r = probe(h, world.good, "/basic?m=head", head);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        r = probe(h, world.good, "/basic?m=post", post);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        json_object *stats = world_stats(&world), *v;
        ck_assert(json_object_object_get_ex(world_find_request(stats, "/basic?m=head", 0), "method", &v));
        ck_assert_str_eq(json_object_get_string(v), "HEAD");
        ck_assert(json_object_object_get_ex(world_find_request(stats, "/basic?m=post", 0), "method", &v));
        ck_assert_str_eq(json_object_get_string(v), "POST");
        json_object_put(stats);
        harness_free(h);
}
END_TEST

static void no_reuse(LinkConfig *lc) {
        lc->probe.reuse_connections = false;
}

/* With reuse the second probe rides the first one's connection (and
 * cannot see the certificate); without, each probe connects and sees it. */
START_TEST(test_connection_reuse) {
        Harness *h = harness_new(8, 4);
        reset();
        ProbeResult a = probe(h, world.soon, "/basic", NULL);
        ProbeResult b = probe(h, world.soon, "/basic", NULL);
        ck_assert_str_eq(probe_class_to_string(b.klass), "ok");
        ck_assert_uint_ne(a.cert_not_after, 0);
        ck_assert_uint_eq(b.cert_not_after, 0);
        ck_assert_str_eq(b.cert_sha256, "");
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "accepted", "soon"), 1);
        json_object_put(stats);

        reset();
        a = probe(h, world.soon, "/basic?fresh", no_reuse);
        b = probe(h, world.soon, "/basic?fresh", no_reuse);
        ck_assert_str_eq(probe_class_to_string(b.klass), "ok");
        ck_assert_uint_ne(a.cert_not_after, 0);
        ck_assert_uint_eq(b.cert_not_after, a.cert_not_after);
        stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "accepted", "soon"), 2);
        json_object_put(stats);
        harness_free(h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("probe-classes");
        TCase *tc = tcase_create("classes");
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        ADD_TESTS(tc, test_ok, test_wrong_secret, test_forbidden, test_server_errors, test_expect_status,
                  test_slow_answer, test_tls_handshake_timeout, test_connect_timeout, test_refused, test_expired,
                  test_wrong_host, test_untrusted, test_cert_soon, test_cert_chain, test_dns, test_redirects,
                  test_big_body, test_methods, test_connection_reuse);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
