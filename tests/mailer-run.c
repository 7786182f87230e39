/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs the mail delivery loop on an event loop, as the daemon does, for
 * the fault tests of test-mailer.c, which kill it with SIGKILL and start
 * it again.
 *
 *   mailer-run --state DIR --config FILE [--total N] [--interval-ms MS]
 *              [--backoff-ms MS] [--backoff-max-ms MS] [--exit-when-done]
 *              [--lifetime S]
 *
 * Opens the store in DIR (key file DIR/master.key) and queues link-down
 * alerts for links l01, l02, ... one every interval until the outbox holds
 * N messages in all (counted in the outbox, so a restart queues only the
 * rest). Prints one line per message queued ("queued SEQ ID") and per
 * mailer event to standard output. With --exit-when-done it exits 0 once
 * all N are queued and none is pending; SIGTERM stops it cleanly (the
 * attempt in flight stays pending); after --lifetime seconds it exits 2. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "clock.h"
#include "config.h"
#include "curl-glue.h"
#include "mailer.h"
#include "store.h"
#include "strv.h"

typedef struct Run {
        sd_event *event;
        Store *store;
        Clock *clock;
        Mailer *mailer;
        unsigned total;
        usec_t interval;
        bool exit_when_done;
        sd_event_source *queue_timer;
} Run;

static unsigned outbox_size(Run *run) {
        unsigned n = 0, k;
        for (OutboxState st = 0; st < _OUTBOX_STATE_MAX; st++)
                if (store_outbox_count(run->store, st, &k) >= 0)
                        n += k;
        return n;
}

static int on_queue(sd_event_source *s, uint64_t usec, void *userdata) {
        Run *run = userdata;
        unsigned n = outbox_size(run);

        if (n < run->total) {
                char link[16];
                int64_t id = 0;
                snprintf(link, sizeof link, "l%02u", n + 1);
                usec_t now = clock_realtime(run->clock);
                Alert a = ALERT_NULL;
                a.kind = ALERT_LINK_DOWN;
                a.link = link;
                a.time = now;
                a.failure = PROBE_CONNECT;
                a.since = now - 45 * USEC_PER_MINUTE;
                a.failures = 3;
                a.error = (char *) "Failed to connect to toms.example port 443: Connection refused";
                int r = mailer_queue_alert(run->mailer, &a, NULL, &id);
                if (r <= 0) {
                        fprintf(stderr, "mailer_queue_alert: %s\n", r < 0 ? strerror(-r) : "nothing queued");
                        return sd_event_exit(run->event, 3);
                }
                printf("queued %u %" PRIi64 "\n", n + 1, id);
                fflush(stdout);
                n++;
        }
        if (n < run->total) {
                uint64_t now;
                (void) sd_event_now(run->event, CLOCK_MONOTONIC, &now);
                (void) sd_event_source_set_time(s, now + run->interval);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else if (run->exit_when_done && mailer_pending(run->mailer) == 0)
                return sd_event_exit(run->event, 0);
        return 0;
}

static void on_event(Mailer *m, const MailerEvent *e, void *userdata) {
        Run *run = userdata;
        printf("event %s %" PRIi64 " attempts=%u%s%s: %s\n", mailer_event_type_to_string(e->type), e->id, e->attempts,
               e->recipient ? " " : "", e->recipient ?: "", e->text ?: "");
        fflush(stdout);
        if (run->exit_when_done && (e->type == MAILER_EVENT_DELIVERED || e->type == MAILER_EVENT_FAILED) &&
            outbox_size(run) >= run->total && mailer_pending(m) == 0)
                (void) sd_event_exit(run->event, 0);
}

static void on_undeliverable(Mailer *m, const Alert *a, void *userdata) {
        printf("undeliverable %s\n", a->mail_subject ?: "");
        fflush(stdout);
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Run *run = userdata;
        mailer_stop(run->mailer);
        printf("stopped, %d pending\n", mailer_pending(run->mailer));
        fflush(stdout);
        return sd_event_exit(run->event, 0);
}

static int on_lifetime(sd_event_source *s, uint64_t usec, void *userdata) {
        Run *run = userdata;
        fprintf(stderr, "lifetime over, %d pending\n", mailer_pending(run->mailer));
        return sd_event_exit(run->event, 2);
}

static int fail(const char *what, int r) {
        fprintf(stderr, "mailer-run: %s: %s\n", what, strerror(-r));
        return 1;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "state", required_argument, NULL, 's' },
                { "config", required_argument, NULL, 'c' },
                { "total", required_argument, NULL, 'n' },
                { "interval-ms", required_argument, NULL, 'i' },
                { "backoff-ms", required_argument, NULL, 'b' },
                { "backoff-max-ms", required_argument, NULL, 'B' },
                { "exit-when-done", no_argument, NULL, 'x' },
                { "lifetime", required_argument, NULL, 'l' },
                {}
        };
        const char *state = NULL, *config_path = NULL;
        unsigned long backoff_ms = 0, backoff_max_ms = 0, lifetime = 60;
        Run run = { .interval = 20 * USEC_PER_MSEC };
        Config *config = NULL;
        char **errors = NULL;
        CurlGlue *glue = NULL;
        uint8_t key[STORE_KEY_SIZE];
        char *key_source = NULL, key_file[4096];
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's': state = optarg; break;
                case 'c': config_path = optarg; break;
                case 'n': run.total = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'i': run.interval = strtoul(optarg, NULL, 10) * USEC_PER_MSEC; break;
                case 'b': backoff_ms = strtoul(optarg, NULL, 10); break;
                case 'B': backoff_max_ms = strtoul(optarg, NULL, 10); break;
                case 'x': run.exit_when_done = true; break;
                case 'l': lifetime = strtoul(optarg, NULL, 10); break;
                default: return 64;
                }
        if (!state || !config_path)
                return 64;

        r = config_load_file(config_path, NULL, &config, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "%s\n", *e);
                return fail("config", r);
        }
        snprintf(key_file, sizeof key_file, "%s/master.key", state);
        r = master_key_load(NULL, key_file, key, &key_source);
        if (r < 0)
                return fail("master key", r);
        free(key_source);
        if ((r = sd_event_default(&run.event)) < 0 || (r = clock_new_system(run.event, &run.clock)) < 0)
                return fail("event loop", r);
        r = store_open(state, key, run.clock, NULL, &run.store);
        if (r < 0)
                return fail("store", r);
        if ((r = curl_glue_global_init()) < 0 || (r = curl_glue_new(run.event, NULL, NULL, &glue)) < 0)
                return fail("curl", r);
        MailerCallbacks cb = { .event = on_event, .undeliverable = on_undeliverable, .userdata = &run };
        r = mailer_new(glue, run.store, run.clock, config, NULL, "mailer-run.test", &cb, NULL, &run.mailer);
        if (r < 0)
                return fail("mailer", r);
        if (backoff_ms > 0 &&
            (r = mailer_set_timing(run.mailer, &(MailerTiming) {
                                                    .backoff_base = backoff_ms * USEC_PER_MSEC,
                                                    .backoff_max = MAX(backoff_max_ms, backoff_ms) * USEC_PER_MSEC,
                                            })) < 0)
                return fail("timing", r);

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if ((r = sd_event_add_signal(run.event, NULL, SIGTERM, on_term, &run)) < 0 ||
            (r = sd_event_add_time_relative(run.event, &run.queue_timer, CLOCK_MONOTONIC, 0, 1, on_queue, &run)) < 0 ||
            (r = sd_event_add_time_relative(run.event, NULL, CLOCK_MONOTONIC, lifetime * USEC_PER_SEC, 0, on_lifetime,
                                            &run)) < 0)
                return fail("event sources", r);

        r = sd_event_loop(run.event);

        mailer_free(run.mailer);
        curl_glue_free(glue);
        store_close(run.store);
        sd_event_source_disable_unref(run.queue_timer);
        clock_free(run.clock);
        sd_event_unref(run.event);
        config_free(config);
        return r < 0 ? fail("event loop", r) : r;
}
