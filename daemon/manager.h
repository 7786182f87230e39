/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The manager owns the event loop and everything the daemon knows: the
 * configuration, the state store, the probe engine, the alert engine's
 * per-link state, alert delivery, and the control socket. */

#include <systemd/sd-event.h>

#include "alert-engine.h"
#include "clock.h"
#include "config.h"
#include "control-server.h"
#include "curl-glue.h"
#include "mailer.h"
#include "probe.h"
#include "store.h"

typedef struct Manager Manager;
typedef struct MetricsWriter MetricsWriter;

typedef struct Link {
        char *name;
        const LinkConfig *config;       /* into manager->config, updated on reload */
        LinkAlertState alert;
        bool has_credential;
        CredentialInfo credential;      /* never the secret */
        bool has_last;
        ProbeSummary last;              /* the certificate it read, if any, is the one in the alert state */
        uint64_t probes[_PROBE_CLASS_MAX];      /* probes finished since the daemon started, by class (metrics) */
        usec_t silenced_until;          /* 0: not silenced */
        char *silence_reason;
        usec_t next_tick;               /* when the alert engine next wants a tick (wall clock) */
        unsigned history_appends;       /* probe results written since start (pruning cadence) */
        uint8_t stored_problems;        /* problems that may be in the store: 1 << ALERT_LINK_DOWN, ... */
        bool dirty;                     /* state to write to the store */
        bool kept;                      /* reload: still configured */
} Link;

/* Someone waiting for the next probe result of a link (a control request). */
typedef void (*ProbeWaiterFunc)(Manager *m, Link *l, const ProbeResult *r, void *userdata);

/* A probe result not yet written to the store's history. */
typedef struct PendingProbe {
        Link *link;
        ProbeResult result;
} PendingProbe;

/* An alert whose ledger record, alert log entry or e-mail the state
 * database refused (a full disk): written when writes work again. */
typedef struct UnsavedAlert {
        Alert alert;
        bool link;                      /* raised for a configured link (ledger, the link's recipients) */
        bool ledger;
        bool log;
        bool mail;
} UnsavedAlert;

typedef struct ProbeWaiter {
        char *link;
        ProbeWaiterFunc func;
        void *userdata;
        struct ProbeWaiter *next;
} ProbeWaiter;

struct Manager {
        sd_event *event;
        char *config_path;
        Config *config;
        Clock *clock;
        Store *store;
        CurlGlue *glue;
        ProbeEngine *probe;
        Mailer *mailer;                 /* when e-mail is configured */
        ControlServer *control;
        MetricsWriter *metrics;         /* writes metrics.textfile when set */

        Link **links;                   /* sorted by name */
        size_t n_links;

        char *state_directory;
        char *runtime_directory;
        char *key_source;

        sd_event_source *tick_timer;    /* CLOCK_REALTIME: the earliest link tick or window boundary */
        usec_t tick_at;                 /* what tick_timer is armed for, USEC_INFINITY when off */
        sd_event_source *flush_event;   /* defer: write dirty state in one transaction */
        sd_event_source *flush_timer;   /* CLOCK_BOOTTIME: ... or a moment later, when it is only history and counters */
        Link **dirty;                   /* the links with state to write, each once */
        size_t n_dirty, n_dirty_allocated;
        PendingProbe *pending;          /* probe results to write with that state */
        size_t n_pending, n_pending_allocated;
        sd_event_source *status_event;  /* defer: refresh STATUS= */
        sd_event_source *stop_timer;    /* on SIGTERM: the deadline for in-flight work */
        sd_event_source *retry_timer;   /* CLOCK_BOOTTIME: writes that failed are tried again */
        ProbeWaiter *waiters;

        int write_error;                /* while the state database refuses writes: the error (logged once) */
        UnsavedAlert *unsaved;
        size_t n_unsaved;
        bool unsaved_dropped;           /* more than UNSAVED_ALERTS_MAX: logged once */

        bool stopping;
        bool debug;
        char *last_status;
};

int manager_new(const char *config_path, Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Opens the store, registers the links, starts probing; READY=1 follows. */
int manager_start(Manager *m);
int manager_run(Manager *m);

Link *manager_find_link(Manager *m, const char *name);
/* Writes the probe results and link state not yet in the store, in one
 * transaction (durable when a problem is written). Done once the loop has
 * nothing else to do; before reading the store's copy, call it. */
int manager_flush(Manager *m);
/* Whether a maintenance window holds the link at time t. */
bool manager_in_maintenance(Manager *m, const Link *l, usec_t t);
bool manager_is_silenced(Manager *m, const Link *l, usec_t t);
LinkState manager_link_state(Manager *m, const Link *l, usec_t now, unsigned *ret_problems);
/* The link's last probe result in full (has_last must be true). */
void manager_link_last_probe(const Link *l, ProbeResult *ret);

/* A new credential for a link (already stored): reset its expiry alerts,
 * evaluate, and probe it within seconds. */
int manager_credential_changed(Manager *m, Link *l);
int manager_probe_now(Manager *m, Link *l, ProbeWaiterFunc func, void *userdata);
int manager_set_silence(Manager *m, Link *l, usec_t until, const char *reason, uid_t uid);
int manager_clear_silence(Manager *m, Link *l);
/* Re-reads the configuration: a valid one replaces the running one, an
 * invalid one is logged with every error and the old one stays. */
int manager_reload(Manager *m, char ***ret_errors);
/* Queues the alerts' e-mails, logs them to the journal and the alert log. */
void manager_raise(Manager *m, Link *l, AlertList *alerts);
/* Re-arms the tick timer for the earliest link tick or window boundary
 * (walks every link: for start-up, reload and the tick itself). */
void manager_schedule_tick(Manager *m);
/* Makes sure the tick timer fires by t (one link's next tick or a silence's
 * end); O(1). An earlier tick than needed only re-arms the timer. */
void manager_schedule_tick_at(Manager *m, usec_t t);
/* Formats the alert's e-mail and commits it to the outbox (no-op without e-mail). */
void manager_queue_mail(Manager *m, Link *l, const Alert *a);
/* "12 links: 11 ok, 1 expiring (district-b, 13 days)" */
char *manager_status_line(Manager *m);
