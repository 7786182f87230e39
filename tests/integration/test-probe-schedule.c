/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The schedule and the limits, counted at the server where they can be:
 * first probes spread over the interval, per-host and overall parallelism,
 * probe_now() first, never the same link twice at once, links without a
 * credential skipped, the daily full handshake with connection reuse. */
#include <math.h>

#include "probe-harness.h"
#include "strv.h"

static World world;

static void setup(void) {
        world_start(&world);
}

static void teardown(void) {
        world_stop(&world);
}

static void add_link(Harness *h, const char *name, int port, const char *path, usec_t interval, usec_t timeout) {
        LinkConfig lc;
        char *url = world_url(port, path);
        test_link_init(&lc, &world, name, url);
        lc.probe.interval = interval;
        lc.probe.timeout = timeout;
        lc.probe.connect_timeout = MIN(timeout, 3 * USEC_PER_SEC);
        ck_assert_int_eq(probe_engine_set_link(h->engine, &lc), 0);
        test_link_done(&lc);
        free(url);
}

static int cmp_usec(const void *a, const void *b) {
        usec_t x = *(const usec_t *) a, y = *(const usec_t *) b;
        return x < y ? -1 : x > y;
}

/* The starts the engine made for a link, in order (from the credential
 * callback, which runs when a probe starts). */
static size_t starts_of(const Harness *h, const char *link, usec_t *ret, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < h->n_starts && n < max; i++)
                if (streq(h->starts[i].link, link))
                        ret[n++] = h->starts[i].at;
        return n;
}

/* Eight links registered together with a 3 s interval: their first probes
 * are spread over the first interval, the next ones follow one interval
 * later (give or take the jitter), and the server sees the same. */
START_TEST(test_spread) {
        enum { N = 8 };
        const usec_t interval = 3 * USEC_PER_SEC;
        Harness *h = harness_new(64, 64);
        world_post(&world, "/reset");
        usec_t t0 = mono_now();
        for (int i = 0; i < N; i++) {
                char name[16], path[32];
                snprintf(name, sizeof name, "link-%d", i);
                snprintf(path, sizeof path, "/ok?link=%s", name);
                add_link(h, name, world.good, path, interval, 2 * USEC_PER_SEC);
        }
        harness_run_for(h, 7 * USEC_PER_SEC);

        usec_t first[N];
        for (int i = 0; i < N; i++) {
                char name[16];
                usec_t s[8];
                snprintf(name, sizeof name, "link-%d", i);
                size_t n = starts_of(h, name, s, 8);
                ck_assert_msg(n >= 2, "%s started %zu times", name, n);
                first[i] = s[0] - t0;
                ck_assert_uint_lt(first[i], interval + 200 * USEC_PER_MSEC);
                /* one interval later, within the jitter (1/32) and timer slack */
                for (size_t j = 1; j < n; j++) {
                        double d = (double) (s[j] - s[j - 1]) - (double) interval;
                        ck_assert_msg(fabs(d) < 250e3, "%s: %.0f ms off its interval", name, d / 1e3);
                }
        }
        qsort(first, N, sizeof first[0], cmp_usec);
        /* not a burst: well apart (the sequence puts them 270 ms apart at
         * least, the jitter may take up to 94 ms of that), over most of the
         * interval */
        for (int i = 1; i < N; i++)
                ck_assert_msg(first[i] - first[i - 1] >= 100 * USEC_PER_MSEC, "first probes %d and %d %llu ms apart",
                              i - 1, i, (unsigned long long) ((first[i] - first[i - 1]) / USEC_PER_MSEC));
        ck_assert_uint_ge(first[N - 1] - first[0], 2 * USEC_PER_SEC);

        /* the server saw them arrive the same way */
        json_object *stats = world_stats(&world);
        double arrivals[N];
        for (int i = 0; i < N; i++) {
                char path[32];
                json_object *v;
                snprintf(path, sizeof path, "/ok?link=link-%d", i);
                json_object *req = world_find_request(stats, path, 0);
                ck_assert_ptr_nonnull(req);
                ck_assert(json_object_object_get_ex(req, "start", &v));
                arrivals[i] = json_object_get_double(v);
        }
        double lo = arrivals[0], hi = arrivals[0];
        for (int i = 1; i < N; i++) {
                lo = MIN(lo, arrivals[i]);
                hi = MAX(hi, arrivals[i]);
        }
        ck_assert_msg(hi - lo >= 2.0, "server saw the first probes within %.3f s", hi - lo);
        json_object_put(stats);
        harness_free(h);
}
END_TEST

/* 200 links on one host:port with per_host_parallel 4: the server never
 * has more than 4 connections open at once (and does reach 4). */
START_TEST(test_per_host_limit) {
        enum { N = 200 };
        Harness *h = harness_new(64, 4);
        world_post(&world, "/reset");
        for (int i = 0; i < N; i++) {
                char name[16], path[48];
                snprintf(name, sizeof name, "link-%d", i);
                snprintf(path, sizeof path, "/basic?link=%s", name);
                add_link(h, name, world.good, path, USEC_PER_HOUR, 10 * USEC_PER_SEC);
                ck_assert_int_ge(probe_engine_probe_now(h->engine, name), 0);
        }
        ck_assert(harness_wait_results(h, N, 50 * USEC_PER_SEC));
        for (size_t i = 0; i < h->n_results; i++)
                ck_assert_str_eq(probe_class_to_string(h->results[i].r.klass), "ok");
        for (size_t i = 0; i < h->n_starts; i++)
                ck_assert_uint_lt(h->starts[i].in_flight, 4);
        json_object *stats = world_stats(&world);
        ck_assert_uint_eq(world_count_requests(stats, "/basic"), N);
        ck_assert_int_eq(json_get_int(stats, "max_conns", "good"), 4);
        ck_assert_int_le(json_get_int(stats, "max_active", NULL), 4);
        json_object_put(stats);
        harness_free(h);
}
END_TEST

/* max_parallel 3 over two hosts that each allow 3: the server (one
 * process for both) never answers more than 3 requests at once. */
START_TEST(test_max_parallel) {
        enum { N = 12 };
        Harness *h = harness_new(3, 3);
        world_post(&world, "/reset");
        for (int i = 0; i < N; i++) {
                char name[16], path[48];
                snprintf(name, sizeof name, "link-%d", i);
                snprintf(path, sizeof path, "/slow?s=0.3&link=%s", name);
                add_link(h, name, i % 2 ? world.good : world.soon, path, USEC_PER_HOUR, 10 * USEC_PER_SEC);
                ck_assert_int_ge(probe_engine_probe_now(h->engine, name), 0);
        }
        ck_assert(harness_wait_results(h, N, 30 * USEC_PER_SEC));
        for (size_t i = 0; i < h->n_starts; i++)
                ck_assert_uint_lt(h->starts[i].in_flight, 3);
        /* every slot is given back */
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 0);
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "max_active", NULL), 3);
        json_object_put(stats);
        harness_free(h);
}
END_TEST

/* One slot; scheduled probes are waiting for it when probe_now() comes:
 * the asked-for link is the very next to start. */
START_TEST(test_probe_now_first) {
        Harness *h = harness_new(1, 1);
        world_post(&world, "/reset");
        for (int i = 0; i < 4; i++) {
                char name[16], path[48];
                snprintf(name, sizeof name, "sched-%d", i);
                snprintf(path, sizeof path, "/slow?s=0.3&link=%s", name);
                add_link(h, name, world.good, path, 200 * USEC_PER_MSEC, 5 * USEC_PER_SEC);
        }
        add_link(h, "urgent", world.good, "/slow?s=0.3&link=urgent", USEC_PER_HOUR, 5 * USEC_PER_SEC);
        usec_t end = mono_now() + 5 * USEC_PER_SEC;
        while (h->n_starts == 0 && mono_now() < end)
                ck_assert_int_ge(sd_event_run(h->event, 100 * USEC_PER_MSEC), 0);
        /* the first takes 300 ms at least; meanwhile the others come due */
        harness_run_for(h, 150 * USEC_PER_MSEC);
        /* one in flight, the others queued behind it */
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 1);
        ck_assert_uint_eq(h->n_starts, 1);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, h->starts[0].link), 1);
        size_t before = h->n_starts;
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "urgent"), 0);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "urgent"), 1);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "no-such-link"), -ENOENT);
        harness_run_for(h, 1500 * USEC_PER_MSEC);
        ck_assert_uint_ge(h->n_starts, before + 3);
        ck_assert_str_eq(h->starts[before].link, "urgent");
        /* the scheduled ones that waited came after it */
        ck_assert(strneq(h->starts[before + 1].link, "sched-", 6));
        json_object *stats = world_stats(&world), *v;
        json_object *second = world_find_request(stats, "/slow", 1);
        ck_assert(json_object_object_get_ex(second, "path", &v));
        ck_assert_str_eq(json_object_get_string(v), "/slow?s=0.3&link=urgent");
        json_object_put(stats);
        harness_free(h);
}
END_TEST

/* A scheduled slot right after a probe asked for with probe_now() (a
 * credential just set) is skipped; the schedule goes on after it. */
START_TEST(test_probe_now_then_slot) {
        const usec_t interval = 4 * USEC_PER_SEC;
        Harness *h = harness_new(8, 8);
        world_post(&world, "/reset");
        /* the second link placed: its first slot is at 0.618 of 4 s */
        add_link(h, "first", world.good, "/ok?link=first", interval, 2 * USEC_PER_SEC);
        add_link(h, "manual", world.good, "/ok?link=manual", interval, 2 * USEC_PER_SEC);
        usec_t t0 = mono_now();
        harness_run_for(h, 2 * USEC_PER_SEC);
        ck_assert_uint_eq(harness_count_results(h, "manual"), 0);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "manual"), 0);
        harness_run_for(h, 3200 * USEC_PER_MSEC - (mono_now() - t0));
        ck_assert_uint_eq(harness_count_results(h, "manual"), 1);
        ck_assert_ptr_nonnull(strstr(h->log.data, "probe manual: probed "));
        /* the slot after that is kept: about 6.5 s from the start */
        harness_run_for(h, 7 * USEC_PER_SEC - (mono_now() - t0));
        ck_assert_uint_eq(harness_count_results(h, "manual"), 2);
        harness_free(h);
}
END_TEST

/* A probe that outlasts the interval is never started again while it
 * runs: its slots are skipped. */
START_TEST(test_no_double_start) {
        Harness *h = harness_new(8, 8);
        world_post(&world, "/reset");
        add_link(h, "slowpoke", world.good, "/slow?s=1&link=slowpoke", 300 * USEC_PER_MSEC, 5 * USEC_PER_SEC);
        harness_run_for(h, 600 * USEC_PER_MSEC);
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 1);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "slowpoke"), 1);
        harness_run_for(h, 2 * USEC_PER_SEC);
        ck_assert_uint_ge(harness_count_results(h, "slowpoke"), 1);
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "max_active_by_path", "/slow?s=1&link=slowpoke"), 1);
        ck_assert_uint_le(world_count_requests(stats, "/slow"), 3);
        json_object_put(stats);
        ck_assert_ptr_nonnull(strstr(h->log.data, "probe slowpoke: previous probe still running, slot skipped"));
        harness_free(h);
}
END_TEST

/* A link without a credential is asked again at each slot and never
 * probed; the others are. */
START_TEST(test_no_credential) {
        Harness *h = harness_new(8, 8);
        world_post(&world, "/reset");
        ck_assert_int_eq(strv_extend(&h->no_credential, "nocred"), 0);
        add_link(h, "nocred", world.good, "/basic?link=nocred", USEC_PER_SEC, 2 * USEC_PER_SEC);
        add_link(h, "withcred", world.good, "/basic?link=withcred", USEC_PER_SEC, 2 * USEC_PER_SEC);
        harness_run_for(h, 2500 * USEC_PER_MSEC);
        usec_t s[8];
        ck_assert_uint_ge(starts_of(h, "nocred", s, 8), 2);
        ck_assert_uint_eq(harness_count_results(h, "nocred"), 0);
        ck_assert_uint_ge(harness_count_results(h, "withcred"), 2);
        json_object *stats = world_stats(&world);
        ck_assert_uint_eq(world_count_requests(stats, "/basic?link=nocred"), 0);
        json_object_put(stats);
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 0);
        harness_free(h);
}
END_TEST

/* A link out of the schedule costs no wake-up until it is put back, then
 * keeps its place in the interval. */
START_TEST(test_inactive) {
        Harness *h = harness_new(8, 8);
        world_post(&world, "/reset");
        add_link(h, "idle", world.good, "/basic?link=idle", USEC_PER_SEC, 2 * USEC_PER_SEC);
        add_link(h, "busy", world.good, "/basic?link=busy", USEC_PER_SEC, 2 * USEC_PER_SEC);
        ck_assert_int_eq(probe_engine_set_active(h->engine, "idle", false), 1);
        ck_assert_int_eq(probe_engine_set_active(h->engine, "idle", false), 0);
        ck_assert_int_eq(probe_engine_set_active(h->engine, "nope", false), -ENOENT);
        ck_assert_uint_eq(probe_engine_next_probe(h->engine, "idle"), USEC_INFINITY);
        harness_run_for(h, 2500 * USEC_PER_MSEC);
        usec_t s[8];
        ck_assert_uint_eq(starts_of(h, "idle", s, 8), 0);
        ck_assert_uint_ge(harness_count_results(h, "busy"), 2);

        /* asked for, it is probed all the same */
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "idle"), 0);
        ck_assert(harness_wait_results(h, harness_count_results(h, "busy") + 1, 5 * USEC_PER_SEC));
        ck_assert_uint_eq(harness_count_results(h, "idle"), 1);

        /* back in the schedule: probed once an interval again */
        ck_assert_int_eq(probe_engine_set_active(h->engine, "idle", true), 1);
        usec_t next = probe_engine_next_probe(h->engine, "idle");
        ck_assert_uint_le(next, now_usec(CLOCK_REALTIME) + 2 * USEC_PER_SEC);
        harness_run_for(h, 3 * USEC_PER_SEC);
        ck_assert_uint_ge(harness_count_results(h, "idle"), 2);
        harness_free(h);
}
END_TEST

/* Removing a link cancels its probe without a callback; stop() lets
 * probes in flight finish and starts no more. */
START_TEST(test_remove_and_stop) {
        Harness *h = harness_new(8, 8);
        add_link(h, "gone", world.good, "/slow?s=3&link=gone", USEC_PER_HOUR, 10 * USEC_PER_SEC);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "gone"), 0);
        harness_run_for(h, 300 * USEC_PER_MSEC);
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 1);
        probe_engine_remove_link(h->engine, "gone");
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 0);
        ck_assert_uint_eq(probe_engine_next_probe(h->engine, "gone"), USEC_INFINITY);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "gone"), -ENOENT);

        add_link(h, "a", world.good, "/slow?s=0.3&link=a", USEC_PER_HOUR, 10 * USEC_PER_SEC);
        add_link(h, "b", world.good, "/ok?link=b", USEC_PER_HOUR, 10 * USEC_PER_SEC);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "a"), 0);
        harness_run_for(h, 100 * USEC_PER_MSEC);
        probe_engine_stop(h->engine);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "b"), -ESHUTDOWN);
        harness_run_for(h, 800 * USEC_PER_MSEC);
        ck_assert_uint_eq(h->n_results, 1);
        ck_assert_str_eq(h->results[0].link, "a");
        ck_assert_uint_eq(probe_engine_in_flight(h->engine), 0);
        harness_free(h);
}
END_TEST

/* next_probe() is within the interval; re-registering an unchanged link
 * keeps its schedule; a queued link is due now. */
START_TEST(test_next_probe) {
        Harness *h = harness_new(8, 8);
        for (int i = 0; i < 5; i++) {
                char name[16];
                snprintf(name, sizeof name, "link-%d", i);
                add_link(h, name, world.good, "/ok", USEC_PER_HOUR, 10 * USEC_PER_SEC);
        }
        usec_t now = now_usec(CLOCK_REALTIME);
        usec_t next = probe_engine_next_probe(h->engine, "link-3");
        ck_assert_uint_ge(next, now - USEC_PER_SEC);
        ck_assert_uint_le(next, now + USEC_PER_HOUR + USEC_PER_SEC);
        /* not all at once: link-3's slot is not at the start */
        ck_assert_uint_gt(next, now + 60 * USEC_PER_SEC);
        add_link(h, "link-3", world.good, "/ok", USEC_PER_HOUR, 10 * USEC_PER_SEC);
        usec_t again = probe_engine_next_probe(h->engine, "link-3");
        /* the loop has not run: each reading of the clocks is a fresh one */
        ck_assert_uint_lt(again > next ? again - next : next - again, 10 * USEC_PER_MSEC);
        ck_assert_int_eq(probe_engine_probe_now(h->engine, "link-3"), 0);
        ck_assert_uint_le(probe_engine_next_probe(h->engine, "link-3"), now_usec(CLOCK_REALTIME));
        ck_assert_uint_eq(probe_engine_next_probe(h->engine, "nope"), USEC_INFINITY);
        ck_assert(harness_wait_results(h, 1, 10 * USEC_PER_SEC));
        harness_free(h);
}
END_TEST

/* With reuse, the certificate is read from a full handshake when a host
 * is new and again once its last reading is a day old, even though a
 * connection is there to reuse. */
START_TEST(test_daily_full_handshake) {
        Harness *h = harness_new_fake_clock(8, 8);
        world_post(&world, "/reset");
        LinkConfig lc;
        char *url = world_url(world.soon, "/basic");
        test_link_init(&lc, &world, "district", url);
        ProbeResult a = harness_probe_one(h, &world, &lc);
        ProbeResult b = harness_probe_one(h, &world, &lc);
        clock_advance(h->clock, 23 * USEC_PER_HOUR);
        ProbeResult c = harness_probe_one(h, &world, &lc);
        clock_advance(h->clock, USEC_PER_HOUR);
        ProbeResult d = harness_probe_one(h, &world, &lc);
        ProbeResult e = harness_probe_one(h, &world, &lc);
        ck_assert_uint_ne(a.cert_not_after, 0);
        ck_assert_uint_eq(b.cert_not_after, 0);
        ck_assert_uint_eq(c.cert_not_after, 0);
        ck_assert_uint_eq(d.cert_not_after, a.cert_not_after);
        ck_assert_str_eq(d.cert_sha256, a.cert_sha256);
        ck_assert_uint_eq(e.cert_not_after, 0);
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "accepted", "soon"), 2);
        json_object_put(stats);
        test_link_done(&lc);
        free(url);
        harness_free(h);
}
END_TEST

/* With reuse, each host keeps its connection between probes even when one
 * probe runs at a time (a long interval spreads them thin): left to
 * itself, libcurl keeps only 4 idle connections per transfer in progress. */
START_TEST(test_reuse_many_hosts) {
        Harness *h = harness_new(2, 1);
        const int ports[] = { world.good, world.soon, world.chain };
        const char *names[] = { "127.0.0.1", "localhost" };
        LinkConfig lc[6];
        size_t n = 0;

        world_post(&world, "/reset");
        for (size_t p = 0; p < ELEMENTSOF(ports); p++)
                for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                        char name[32], *url;
                        snprintf(name, sizeof name, "host-%zu", n);
                        ck_assert_int_ge(asprintf(&url, "https://%s:%d/basic", names[i], ports[p]), 0);
                        test_link_init(&lc[n++], &world, name, url);
                        free(url);
                }
        for (int round = 0; round < 3; round++)
                for (size_t i = 0; i < n; i++) {
                        ProbeResult r = harness_probe_one(h, &world, &lc[i]);
                        ck_assert_msg(r.klass == PROBE_OK, "round %d %s: %s", round, lc[i].name, r.error);
                }
        /* one connection per host name and port, made in the first round */
        json_object *stats = world_stats(&world);
        ck_assert_int_eq(json_get_int(stats, "accepted", "good"), 2);
        ck_assert_int_eq(json_get_int(stats, "accepted", "soon"), 2);
        ck_assert_int_eq(json_get_int(stats, "accepted", "chain"), 2);
        json_object_put(stats);
        for (size_t i = 0; i < n; i++)
                test_link_done(&lc[i]);
        harness_free(h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("probe-schedule");
        TCase *tc = tcase_create("schedule");
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        ADD_TESTS(tc, test_spread, test_per_host_limit, test_max_parallel, test_probe_now_first, test_probe_now_then_slot,
                  test_no_double_start,
                  test_no_credential, test_remove_and_stop, test_next_probe, test_daily_full_handshake,
                  test_reuse_many_hosts, test_inactive);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
