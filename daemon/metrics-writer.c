/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "metrics-writer.h"

#include "daemon-log.h"
#include "fs-util.h"
#include "manager.h"
#include "metrics.h"

/* How often the file may be written follows what a write costs: at most
 * once a second; no more than 5% of the daemon's time (20 times the last
 * write's duration); and at most 256 KiB a second on average, so that
 * 10,000 links (about 13 MB) do not wear a disk out. Never less often than
 * the refresh. */
#define METRICS_COST_FACTOR 20
#define METRICS_BYTES_PER_SEC (256 * 1024)
#define METRICS_TIMER_ACCURACY_USEC (50 * USEC_PER_MSEC)
/* Readable by node_exporter, which runs as another user; nothing secret in it. */
#define METRICS_FILE_MODE 0644

struct MetricsWriter {
        Manager *manager;
        char *path;                     /* the file, NULL while metrics are off */
        bool written;                   /* path holds a file written here */
        sd_event_source *timer;         /* CLOCK_BOOTTIME: the next write */
        usec_t next;                    /* when the timer is set for, USEC_INFINITY when off */
        usec_t last_write;              /* boottime of the last attempt, 0 before the first */
        usec_t interval;                /* the least time between two writes */
        usec_t started;                 /* wall clock */
        uint64_t alerts[_ALERT_KIND_MAX];
        int last_error;                 /* the failure logged last, 0 after a success */
        usec_t retry;                   /* after failures: the least time to the next try, doubling */
        MetricsLink *links;             /* reused from write to write */
        size_t n_links_allocated;
        StrBuf text;                    /* the same */
};

static void arm(MetricsWriter *w, usec_t when) {
        w->next = when;
        if (when == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
                return;
        }
        int r = sd_event_source_set_time(w->timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Cannot schedule the next write of the metrics file");
}

static int snapshot(MetricsWriter *w, usec_t now, MetricsSnapshot *ret) {
        Manager *m = w->manager;

        if (m->n_links > w->n_links_allocated) {
                MetricsLink *links = reallocarray(w->links, m->n_links, sizeof(MetricsLink));
                if (!links)
                        return -ENOMEM;
                w->links = links;
                w->n_links_allocated = m->n_links;
        }
        for (size_t i = 0; i < m->n_links; i++) {
                const Link *l = m->links[i];
                MetricsLink *ml = &w->links[i];
                *ml = (MetricsLink) {
                        .name = l->name,
                        .state = manager_link_state(m, l, now, NULL),
                        .held = manager_in_maintenance(m, l, now) || manager_is_silenced(m, l, now),
                        .down_open = l->alert.down.open,
                        .auth_open = l->alert.auth.open,
                        .cert_not_after = l->alert.cert_not_after,
                        .last = l->has_last ? &l->last : NULL,
                };
                if (l->has_credential) {
                        Expiry e;
                        expiry_compute(m->config->tz, l->credential.generated, l->config->probe.lifetime, now, &e);
                        ml->has_credential = true;
                        ml->expires = e.expires;
                        ml->days_left = e.days_left;
                }
                memcpy(ml->probes, l->probes, sizeof ml->probes);
        }

        *ret = (MetricsSnapshot) {
                .version = TOMSLINK_VERSION,
                .now = now,
                .started = w->started,
                .links = w->links,
                .n_links = m->n_links,
                .has_outbox = true,
        };
        memcpy(ret->alerts, w->alerts, sizeof ret->alerts);
        for (OutboxState st = 0; st < _OUTBOX_STATE_MAX; st++) {
                int r = store_outbox_count(m->store, st, &ret->outbox[st]);
                if (r < 0) {
                        log_debug("Metrics: cannot count the outbox: %s", strerror(-r));
                        ret->has_outbox = false;
                        break;
                }
        }
        return 0;
}

static int write_file(MetricsWriter *w) {
        MetricsSnapshot s;
        usec_t t0 = now_usec(CLOCK_MONOTONIC);

        strbuf_reset(&w->text);
        int r = snapshot(w, clock_realtime(w->manager->clock), &s);
        if (r >= 0)
                r = metrics_render_to(&s, &w->text);
        size_t size = r >= 0 ? w->text.len : 0;
        if (r >= 0)
                r = write_file_atomic(w->path, w->text.data, size, METRICS_FILE_MODE);

        usec_t cost = now_usec(CLOCK_MONOTONIC) - t0;
        usec_t by_size = (usec_t) size * USEC_PER_SEC / METRICS_BYTES_PER_SEC;
        w->interval = CLAMP(MAX(cost * METRICS_COST_FACTOR, by_size), METRICS_MIN_INTERVAL_USEC, METRICS_REFRESH_USEC);

        if (r < 0) {
                /* a directory that is missing stays missing for a while:
                 * no need to render every second for nothing */
                w->retry = CLAMP(w->retry * 2, METRICS_MIN_INTERVAL_USEC, METRICS_REFRESH_USEC);
                w->interval = MAX(w->interval, w->retry);
                if (r != w->last_error)
                        log_error_errno(r, "Cannot write the metrics file %s (tried again, at least every %llu s; "
                                        "not logged again while the same error persists)",
                                        w->path, (unsigned long long) (METRICS_REFRESH_USEC / USEC_PER_SEC));
                else
                        log_debug("Metrics file %s: still failing (%s), next try in %llu ms", w->path, strerror(-r),
                                  (unsigned long long) (w->interval / USEC_PER_MSEC));
                w->last_error = r;
                return r;
        }
        w->retry = 0;
        log_debug("Metrics file %s written: %zu bytes in %llu ms; next write after a change in %llu ms", w->path, size,
                  (unsigned long long) (cost / USEC_PER_MSEC), (unsigned long long) (w->interval / USEC_PER_MSEC));
        if (w->last_error)
                log_info("Metrics file %s written again", w->path);
        else if (!w->written)
                log_info("Metrics written to %s: %zu links, %zu bytes; rewritten after each change and every %llu s",
                         w->path, s.n_links, size, (unsigned long long) (METRICS_REFRESH_USEC / USEC_PER_SEC));
        w->last_error = 0;
        w->written = true;
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        MetricsWriter *w = userdata;
        usec_t now = clock_boottime(w->manager->clock);

        if (!w->path)
                return 0;
        (void) write_file(w);
        w->last_write = now;
        arm(w, now + METRICS_REFRESH_USEC);
        return 0;
}

void metrics_writer_changed(MetricsWriter *w) {
        if (!w || !w->path)
                return;
        usec_t when = w->last_write == 0 ? 0 : w->last_write + w->interval;
        when = MAX(when, clock_boottime(w->manager->clock));
        if (when < w->next)
                arm(w, when);
}

void metrics_writer_count_alerts(MetricsWriter *w, const AlertList *alerts) {
        if (!w || !alerts || alerts->n == 0)
                return;
        for (size_t i = 0; i < alerts->n; i++)
                if (alerts->alerts[i].kind >= 0 && alerts->alerts[i].kind < _ALERT_KIND_MAX)
                        w->alerts[alerts->alerts[i].kind]++;
        metrics_writer_changed(w);
}

static void forget_path(MetricsWriter *w) {
        if (w->path && w->written) {
                if (unlink(w->path) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Cannot remove the old metrics file %s", w->path);
                else
                        log_info("Metrics file %s removed (metrics.textfile changed)", w->path);
        }
        w->path = mfree(w->path);
        w->written = false;
        w->last_error = 0;
        w->retry = 0;
}

void metrics_writer_reconfigure(MetricsWriter *w) {
        const char *path = w->manager->config->metrics_textfile;

        if (w->path && path && streq(w->path, path)) {
                metrics_writer_changed(w);
                return;
        }
        forget_path(w);
        if (path) {
                w->path = strdup(path);
                if (!w->path) {
                        log_error_errno(ENOMEM, "Cannot set up the metrics file %s", path);
                        return;
                }
                w->last_write = 0;
                w->interval = METRICS_MIN_INTERVAL_USEC;
        }
        arm(w, w->path ? clock_boottime(w->manager->clock) : USEC_INFINITY);
}

int metrics_writer_new(Manager *m, MetricsWriter **ret) {
        _cleanup_(metrics_writer_freep) MetricsWriter *w = calloc(1, sizeof(MetricsWriter));
        if (!w)
                return -ENOMEM;
        w->manager = m;
        w->next = USEC_INFINITY;
        w->interval = METRICS_MIN_INTERVAL_USEC;
        w->started = clock_realtime(m->clock);
        int r = sd_event_add_time(m->event, &w->timer, CLOCK_BOOTTIME, USEC_INFINITY, METRICS_TIMER_ACCURACY_USEC,
                                  on_timer, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->timer, "metrics");
        metrics_writer_reconfigure(w);
        *ret = TAKE_PTR(w);
        return 0;
}

MetricsWriter *metrics_writer_free(MetricsWriter *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->timer);
        free(w->path);
        free(w->links);
        strbuf_done(&w->text);
        return mfree(w);
}
