/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The probe engine: probes each registered link's TOMS endpoint once per
 * interval over HTTPS with the link's stored credential, the way the SIS
 * does, on libcurl's multi-socket API inside the sd-event loop (one thread,
 * hundreds of probes in flight). Start times are spread evenly over the
 * interval with a small per-link jitter; max_parallel and per_host_parallel
 * bound what is in flight; a link is never probed twice at once; a probe
 * asked for from the CLI goes to the front of the queue. */

#include <systemd/sd-event.h>

#include "clock.h"
#include "config.h"
#include "curl-glue.h"
#include "log.h"
#include "probe-result.h"

typedef struct ProbeEngine ProbeEngine;

/* Fetches a link's credential when its probe starts. Returns 0 with the
 * username and the secret (the engine wipes and frees both after use with
 * secret_free() semantics: OPENSSL_cleanse then free), -ENOENT when the
 * link has no credential (it is then not probed), or another error. */
typedef int (*ProbeCredentialFunc)(void *userdata, const char *link, char **ret_username, char **ret_secret,
                                   size_t *ret_secret_size);
/* Called when a probe of a link has ended, with its result. */
typedef void (*ProbeDoneFunc)(ProbeEngine *e, const char *link, const ProbeResult *result, void *userdata);

typedef struct ProbeEngineOptions {
        unsigned max_parallel;          /* probes in flight, all links */
        unsigned per_host_parallel;     /* per host:port */
        size_t body_max;                /* response bytes read then discarded; 0: 64 KiB */
} ProbeEngineOptions;

int probe_engine_new(CurlGlue *glue, Clock *clock, const ProbeEngineOptions *options, ProbeCredentialFunc get_credential,
                     ProbeDoneFunc done, void *userdata, const Logger *logger, ProbeEngine **ret);
/* Cancels everything in flight (no done callbacks) and frees. */
ProbeEngine *probe_engine_free(ProbeEngine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProbeEngine *, probe_engine_free);

int probe_engine_set_options(ProbeEngine *e, const ProbeEngineOptions *options);

/* Registers or updates a link (the engine copies what it needs from lc).
 * A new link's first probe is placed in the spread over its interval; an
 * unchanged link keeps its schedule. */
int probe_engine_set_link(ProbeEngine *e, const LinkConfig *lc);
/* Forgets a link, cancelling a probe in flight without a callback. */
void probe_engine_remove_link(ProbeEngine *e, const char *link);

/* Takes a link out of the schedule (active false: it has no credential, so
 * its slots would only wake the process up) or puts it back at its place
 * in the interval, its next slot to come. A probe asked for with
 * probe_engine_probe_now() runs either way. Returns 1 when it changed, 0
 * when it was so already, -ENOENT for an unknown link. */
int probe_engine_set_active(ProbeEngine *e, const char *link, bool active);

/* Probes the link as soon as a slot is free, ahead of scheduled probes.
 * -ENOENT for an unknown link, 0 if queued, 1 if already in flight or
 * queued (the running probe's result will be reported). */
int probe_engine_probe_now(ProbeEngine *e, const char *link);

/* Stops starting probes (shutdown); in-flight probes finish. */
void probe_engine_stop(ProbeEngine *e);
unsigned probe_engine_in_flight(ProbeEngine *e);
/* Wall-clock time of a link's next scheduled probe, USEC_INFINITY if none. */
usec_t probe_engine_next_probe(ProbeEngine *e, const char *link);
