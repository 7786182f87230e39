/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The outcome of one probe of a link's TOMS endpoint. Shared by the probe
 * engine, the alert engine, the store's probe history and the control
 * protocol. */

#include <stdbool.h>

#include "time-util.h"

typedef enum ProbeClass {
        PROBE_OK,
        PROBE_DNS,
        PROBE_CONNECT,
        PROBE_TLS,
        PROBE_TIMEOUT,
        PROBE_AUTH,     /* 401 or 403 */
        PROBE_HTTP,     /* any other status not in expect_status */
        _PROBE_CLASS_MAX,
        _PROBE_CLASS_INVALID = -EINVAL,
} ProbeClass;

#define PROBE_ERROR_MAX 256
#define PROBE_SUBJECT_MAX 256

typedef struct ProbeResult {
        ProbeClass klass;
        long http_status;               /* 0: no HTTP answer */
        char error[PROBE_ERROR_MAX];    /* "" on success; never holds a secret */
        usec_t time;                    /* wall clock when the probe started */
        /* durations of each phase from the start, USEC_INFINITY when the
         * phase was not reached */
        usec_t dns, connect, tls, first_byte, total;
        /* the earliest notAfter in the chain the server presented, 0 when
         * unknown (e.g. a reused connection) */
        usec_t cert_not_after;
        char cert_subject[PROBE_SUBJECT_MAX];
        char cert_sha256[65];           /* hex fingerprint of that certificate, "" when unknown */
} ProbeResult;

/* A probe result kept small, for the last result of each of thousands of
 * links: the timings and the class, the error text on the heap, and only
 * whether a certificate was read (its details are kept by whoever tracks
 * the certificate). */
typedef struct ProbeSummary {
        usec_t time, dns, connect, tls, first_byte, total;
        long http_status;
        ProbeClass klass;
        bool read_cert;
        char *error;                    /* NULL: none */
} ProbeSummary;

/* Replaces *s with the summary of r; the error text is left out when it
 * cannot be copied (out of memory). */
void probe_summary_set(ProbeSummary *s, const ProbeResult *r);
void probe_summary_done(ProbeSummary *s);

const char *probe_class_to_string(ProbeClass c);
ProbeClass probe_class_from_string(const char *s);
/* "timed out", "refused by the server (401)", ... for messages */
const char *probe_class_describe(ProbeClass c);
