/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the probe engine's integration tests share: the real servers
 * (tests/lib/probe-servers.py with a PKI from tests/lib/mkpki.sh, started
 * once per test program and stopped by PID), and a harness that runs the
 * engine on a real sd-event loop, records every result and everything the
 * engine logs, and at the end checks that no secret leaked into either. */

#include <json-c/json.h>

#include "clock.h"
#include "config.h"
#include "curl-glue.h"
#include "probe.h"
#include "strbuf.h"
#include "tests.h"

#define TEST_USER "sisvendor"
#define TEST_SECRET "s3cr3t-K3y.9f2c"

typedef struct World {
        pid_t pid;
        char *dir;              /* scratch directory: pki/, ports.json */
        char *ca_file;
        int good, expired, wronghost, soon, chain, silent, blackhole, closed, control;
} World;

/* Starts the servers (a fixture, in Check's parent process). */
void world_start(World *w);
void world_stop(World *w);
/* "https://127.0.0.1:PORT/path" */
char *world_url(int port, const char *path);
/* The control listener: counters and request log, reset between tests. */
json_object *world_stats(const World *w);
void world_post(const World *w, const char *what);
/* The requests whose path starts with prefix, in arrival order. */
size_t world_count_requests(json_object *stats, const char *path_prefix);
json_object *world_find_request(json_object *stats, const char *path_prefix, size_t nth);
int64_t json_get_int(json_object *o, const char *k1, const char *k2);
/* Runs a command and returns its standard output (trailing newline cut). */
char *run_output(char *const argv[]);

typedef struct ResultRecord {
        char link[64];
        ProbeResult r;
        usec_t done;            /* CLOCK_MONOTONIC */
} ResultRecord;

typedef struct StartRecord {
        char link[64];
        usec_t at;              /* CLOCK_MONOTONIC */
        unsigned in_flight;     /* probes in flight when this one asked for its credential */
} StartRecord;

typedef struct Harness {
        sd_event *event;
        CurlGlue *glue;
        Clock *clock;
        ProbeEngine *engine;
        Logger logger;
        StrBuf log;
        ResultRecord *results;
        size_t n_results, n_results_allocated;
        StartRecord *starts;
        size_t n_starts, n_starts_allocated;
        char **no_credential;   /* links whose credential callback says -ENOENT */
        const char *secret;
        void (*on_done)(struct Harness *h, const char *link, const ProbeResult *r);
} Harness;

Harness *harness_new(unsigned max_parallel, unsigned per_host_parallel);
/* With a fake clock, for what depends on long durations; scheduled probes
 * then do not run, probe_engine_probe_now() does. */
Harness *harness_new_fake_clock(unsigned max_parallel, unsigned per_host_parallel);
/* Frees, after asserting that neither the log nor any result holds the
 * secret, the base64 of user:secret, or an OAuth2 token. */
void harness_free(Harness *h);

/* A link with test defaults: GET, basic auth, expect 200, interval 1 h,
 * timeout 5 s, connect timeout 3 s, reuse on, the test CA. */
void test_link_init(LinkConfig *lc, const World *w, const char *name, const char *url);
void test_link_done(LinkConfig *lc);
/* test_link_init() + probe_engine_set_link() + probe_engine_probe_now() */
void harness_probe_now(Harness *h, const World *w, const char *name, const char *url);

bool harness_wait_results(Harness *h, size_t n, usec_t timeout);
void harness_run_for(Harness *h, usec_t t);
/* The first result of a link, or NULL. */
const ResultRecord *harness_result(const Harness *h, const char *link);
size_t harness_count_results(const Harness *h, const char *link);
/* A single probe of one link, run to its end: the result is copied out. */
ProbeResult harness_probe_one(Harness *h, const World *w, LinkConfig *lc);

usec_t mono_now(void);
