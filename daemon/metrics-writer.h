/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The Prometheus text file of metrics.textfile (tomslinkd(8), METRICS):
 * rendered by lib/metrics.c from the manager's memory - never from the
 * store, except three counts of the mail outbox - and written atomically
 * (write_file_atomic()). A change is written soon, with changes coalesced:
 * at most once a second, and less often when the file is large or a write
 * is slow (see metrics-writer.c); the file is also rewritten every 30
 * seconds without a change, so that its write timestamp shows the daemon
 * is alive. A failure to write is logged once, retried, and stops nothing
 * else. */

#include "alert-engine.h"

typedef struct Manager Manager;
typedef struct MetricsWriter MetricsWriter;

#define METRICS_MIN_INTERVAL_USEC (1 * USEC_PER_SEC)
#define METRICS_REFRESH_USEC (30 * USEC_PER_SEC)

/* Writes m->config->metrics_textfile, if set, as soon as the event loop
 * runs. */
int metrics_writer_new(Manager *m, MetricsWriter **ret);
MetricsWriter *metrics_writer_free(MetricsWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricsWriter *, metrics_writer_free);

/* After a reload: metrics.textfile may have been set, changed or removed.
 * A file this daemon wrote under another name is deleted, so that the
 * textfile collector never sees the same series twice. */
void metrics_writer_reconfigure(MetricsWriter *w);
/* Something the metrics show changed: write soon. w may be NULL. */
void metrics_writer_changed(MetricsWriter *w);
/* Counts the alerts raised (tomslink_alerts_total); a change if any. w may
 * be NULL. */
void metrics_writer_count_alerts(MetricsWriter *w, const AlertList *alerts);
