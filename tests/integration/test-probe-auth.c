/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Each kind of authentication carries the right credential (the server
 * checks it), OAuth2 tokens are cached and re-fetched, hostile token
 * endpoints are handled, and the secret stays out of every log line and
 * error (checked by harness_free() after every test). */
#include <openssl/evp.h>

#include "probe-harness.h"

static World world;

static void setup(void) {
        world_start(&world);
}

static void teardown(void) {
        world_stop(&world);
}

static const char *request_header(json_object *stats, const char *path_prefix, size_t nth, const char *name) {
        json_object *req = world_find_request(stats, path_prefix, nth), *hdrs, *v;
        if (!req || !json_object_object_get_ex(req, "headers", &hdrs) || !json_object_object_get_ex(hdrs, name, &v))
                return NULL;
        return json_object_get_string(v);
}

static LinkConfig link_for(const char *name, int port, const char *path, ProbeAuth auth) {
        LinkConfig lc;
        char *url = world_url(port, path);
        test_link_init(&lc, &world, name, url);
        free(url);
        lc.probe.auth = auth;
        return lc;
}

START_TEST(test_basic) {
        Harness *h = harness_new(8, 4);
        world_post(&world, "/reset");
        LinkConfig lc = link_for("district", world.good, "/basic", PROBE_AUTH_BASIC);
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        char b64[128];
        EVP_EncodeBlock((unsigned char *) b64, (const unsigned char *) TEST_USER ":" TEST_SECRET,
                        (int) strlen(TEST_USER ":" TEST_SECRET));
        json_object *stats = world_stats(&world);
        const char *a = request_header(stats, "/basic", 0, "Authorization");
        ck_assert_ptr_nonnull(a);
        ck_assert(strneq(a, "Basic ", 6));
        ck_assert_str_eq(a + 6, b64);
        json_object_put(stats);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

START_TEST(test_bearer) {
        Harness *h = harness_new(8, 4);
        world_post(&world, "/reset");
        LinkConfig lc = link_for("district", world.good, "/bearer", PROBE_AUTH_BEARER);
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        json_object *stats = world_stats(&world);
        ck_assert_str_eq(request_header(stats, "/bearer", 0, "Authorization"), "Bearer " TEST_SECRET);
        json_object_put(stats);
        /* the wrong secret is refused */
        h->secret = "wrong";
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "auth");
        ck_assert_int_eq(r.http_status, 401);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

START_TEST(test_header) {
        Harness *h = harness_new(8, 4);
        world_post(&world, "/reset");
        LinkConfig lc = link_for("district", world.good, "/header", PROBE_AUTH_HEADER);
        lc.probe.auth_header = strdup("X-TOMS-Key");
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        json_object *stats = world_stats(&world);
        ck_assert_str_eq(request_header(stats, "/header", 0, "X-TOMS-Key"), TEST_SECRET);
        ck_assert_ptr_null(request_header(stats, "/header", 0, "Authorization"));
        json_object_put(stats);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

/* A secret with a line break would split the header: refused, not sent. */
START_TEST(test_header_injection) {
        Harness *h = harness_new(8, 4);
        world_post(&world, "/reset");
        h->secret = "abc\r\nX-Injected: 1";
        LinkConfig lc = link_for("district", world.good, "/bearer", PROBE_AUTH_BEARER);
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "auth");
        ck_assert_ptr_nonnull(strstr(r.error, "control characters"));
        json_object *stats = world_stats(&world);
        ck_assert_uint_eq(world_count_requests(stats, "/"), 0);
        json_object_put(stats);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

static LinkConfig oauth_link(const char *token_query, const char *path) {
        LinkConfig lc = link_for("district", world.good, path, PROBE_AUTH_OAUTH2);
        char q[128];
        snprintf(q, sizeof q, "/token%s", token_query);
        lc.probe.token_url = world_url(world.good, q);
        return lc;
}

START_TEST(test_oauth2) {
        Harness *h = harness_new(8, 4);
        world_post(&world, "/reset");
        LinkConfig lc = oauth_link("?expires_in=3600", "/resource");

        /* token fetched with the credential (the server checks basic auth,
         * POST, the form body), then the resource with the token */
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        ck_assert_int_eq(r.http_status, 200);
        ck_assert_uint_ne(r.first_byte, USEC_INFINITY);
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "tokens_issued", NULL), 1);
        const char *a = request_header(stats, "/resource", 0, "Authorization");
        ck_assert_ptr_nonnull(a);
        ck_assert(strneq(a, "Bearer tomslinktoken-", 21));
        char *first_token = strdup(a + 7);
        json_object_put(stats);

        /* the token is cached */
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "tokens_issued", NULL), 1);
        ck_assert_str_eq(request_header(stats, "/resource", 1, "Authorization") + 7, first_token);
        json_object_put(stats);

        /* revoked: one 401, one new token, success */
        world_post(&world, "/revoke");
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "tokens_issued", NULL), 2);
        ck_assert_uint_eq(world_count_requests(stats, "/resource"), 4);
        ck_assert_str_ne(request_header(stats, "/resource", 3, "Authorization") + 7, first_token);
        json_object_put(stats);
        free(first_token);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

START_TEST(test_oauth2_expiry) {
        Harness *h = harness_new(8, 4);
        world_post(&world, "/reset");
        LinkConfig lc = oauth_link("?expires_in=1", "/resource");
        ck_assert_str_eq(probe_class_to_string(harness_probe_one(h, &world, &lc).klass), "ok");
        harness_run_for(h, 1200 * USEC_PER_MSEC);
        ck_assert_str_eq(probe_class_to_string(harness_probe_one(h, &world, &lc).klass), "ok");
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "tokens_issued", NULL), 2);
        /* no 401 was needed: the expired token was not used */
        ck_assert_uint_eq(world_count_requests(stats, "/resource"), 2);
        json_object_put(stats);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

START_TEST(test_oauth2_refused) {
        Harness *h = harness_new(8, 4);
        h->secret = "not-the-secret";
        LinkConfig lc = oauth_link("", "/resource");
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "auth");
        ck_assert_int_eq(r.http_status, 401);
        ck_assert_str_eq(r.error, "token endpoint: refused the credential, HTTP 401 (invalid_client)");
        test_link_done(&lc);

        /* RFC 6749's 400 invalid_client is a refusal too; the server's
         * error_description (which here quotes the secret) is not copied */
        h->secret = TEST_SECRET;
        lc = oauth_link("?mode=invalid_client", "/resource");
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "auth");
        ck_assert_int_eq(r.http_status, 400);
        ck_assert_str_eq(r.error, "token endpoint: refused the credential, HTTP 400 (invalid_client)");
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

START_TEST(test_oauth2_hostile) {
        Harness *h = harness_new(8, 4);
        LinkConfig lc = oauth_link("?mode=garbage", "/resource");
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_ptr_nonnull(strstr(r.error, "malformed answer"));
        test_link_done(&lc);

        lc = oauth_link("?mode=big", "/resource");
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_ptr_nonnull(strstr(r.error, "answer larger than"));
        test_link_done(&lc);

        /* the token endpoint's own failures keep their class */
        lc = oauth_link("", "/resource");
        free(lc.probe.token_url);
        lc.probe.token_url = world_url(world.expired, "/token");
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "tls");
        ck_assert_msg(strneq(r.error, "token endpoint: expired certificate", 35), "%s", r.error);
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

/* The header that carries the secret goes only where the link points. */
START_TEST(test_header_redirects) {
        Harness *h = harness_new(8, 4);
        LinkConfig lc = link_for("district", world.good, "/redirect-away", PROBE_AUTH_HEADER);
        lc.probe.auth_header = strdup("X-TOMS-Key");
        lc.probe.follow_redirects = true;
        ProbeResult r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "http");
        ck_assert_int_eq(r.http_status, 302);
        ck_assert_ptr_nonnull(strstr(r.error, "another host"));
        test_link_done(&lc);

        lc = link_for("district", world.good, "/redirect?to=/header", PROBE_AUTH_HEADER);
        lc.probe.auth_header = strdup("X-TOMS-Key");
        lc.probe.follow_redirects = true;
        r = harness_probe_one(h, &world, &lc);
        ck_assert_str_eq(probe_class_to_string(r.klass), "ok");
        test_link_done(&lc);
        harness_free(h);
}
END_TEST

/* Every kind at once, many links: the debug log (asserted clean by
 * harness_free) covers starts, results, token fetches and refusals. */
START_TEST(test_all_kinds_no_leak) {
        Harness *h = harness_new(16, 8);
        static const struct {
                ProbeAuth auth;
                const char *path;
        } kinds[] = {
                { PROBE_AUTH_BASIC, "/basic" },
                { PROBE_AUTH_BEARER, "/bearer" },
                { PROBE_AUTH_HEADER, "/header" },
                { PROBE_AUTH_OAUTH2, "/resource" },
                { PROBE_AUTH_BASIC, "/status/403" },
        };
        for (size_t i = 0; i < 20; i++) {
                char name[32];
                snprintf(name, sizeof name, "link-%zu", i);
                LinkConfig lc = link_for(name, i % 2 ? world.good : world.soon, kinds[i % ELEMENTSOF(kinds)].path,
                                         kinds[i % ELEMENTSOF(kinds)].auth);
                if (lc.probe.auth == PROBE_AUTH_HEADER)
                        lc.probe.auth_header = strdup("X-TOMS-Key");
                if (lc.probe.auth == PROBE_AUTH_OAUTH2)
                        lc.probe.token_url = world_url(world.good, "/token");
                ck_assert_int_eq(probe_engine_set_link(h->engine, &lc), 0);
                ck_assert_int_eq(probe_engine_probe_now(h->engine, name), 0);
                test_link_done(&lc);
        }
        ck_assert(harness_wait_results(h, 20, 30 * USEC_PER_SEC));
        for (size_t i = 0; i < 20; i++) {
                int n = atoi(h->results[i].link + strlen("link-"));
                ck_assert_str_eq(probe_class_to_string(h->results[i].r.klass), n % 5 == 4 ? "auth" : "ok");
        }
        harness_free(h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("probe-auth");
        TCase *tc = tcase_create("auth");
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        ADD_TESTS(tc, test_basic, test_bearer, test_header, test_header_injection, test_oauth2, test_oauth2_expiry,
                  test_oauth2_refused, test_oauth2_hostile, test_header_redirects, test_all_kinds_no_leak);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
