/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The outcome of one probe of a link's TOMS endpoint. Shared by the probe
 * engine, the alert engine, the store's probe history and the control
 * protocol. */

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

const char *probe_class_to_string(ProbeClass c);
ProbeClass probe_class_from_string(const char *s);
/* "timed out", "refused by the server (401)", ... for messages */
const char *probe_class_describe(ProbeClass c);
