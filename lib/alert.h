/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Alerts: the seven kinds of tomslink.yaml(5) and SPEC "Alerts", the
 * journal MESSAGE_IDs that identify them (one per kind, with a catalog
 * entry in packaging/tomslink.catalog), and the Alert record that the
 * journal sink and the mail formatter render. */

#include "probe-result.h"
#include "time-util.h"
#include "tz.h"

typedef enum AlertKind {
        ALERT_CREDENTIAL_EXPIRING,
        ALERT_CREDENTIAL_EXPIRED,
        ALERT_AUTH_REJECTED,
        ALERT_LINK_DOWN,
        ALERT_LINK_RECOVERED,
        ALERT_ENDPOINT_CERT_EXPIRING,
        ALERT_MAIL_UNDELIVERABLE,
        _ALERT_KIND_MAX,
        _ALERT_KIND_INVALID = -EINVAL,
} AlertKind;

/* MESSAGE_ID= of each kind: fixed forever, listed in the catalog. */
#define ALERT_MESSAGE_ID_CREDENTIAL_EXPIRING    "fc86d60437794527b2992cddbd6552b1"
#define ALERT_MESSAGE_ID_CREDENTIAL_EXPIRED     "c2c4c04fdbca472dae41c103b1cca85b"
#define ALERT_MESSAGE_ID_AUTH_REJECTED          "3b805e8a65c94908a59e7a986288636b"
#define ALERT_MESSAGE_ID_LINK_DOWN              "86294b96f9ec458da5349dc200e7caae"
#define ALERT_MESSAGE_ID_LINK_RECOVERED         "ecf015a620e84342a6a530ab989bdd44"
#define ALERT_MESSAGE_ID_ENDPOINT_CERT_EXPIRING "ded987bc9ba247479519aa38f0aabb38"
#define ALERT_MESSAGE_ID_MAIL_UNDELIVERABLE     "1311b337618f47f4923c8c9e7fbd48cb"

typedef struct Alert {
        AlertKind kind;
        char *link;             /* the link; for mail-undeliverable the link of the lost message, or NULL */
        usec_t time;            /* when it was raised (wall clock) */
        bool reminder;          /* a repeat of an open problem already notified */
        bool held;              /* in a maintenance window or silence: journal at info only, no mail */

        /* credential-expiring, credential-expired, endpoint-cert-expiring */
        uint64_t generation;    /* credential generation (0 for certificates) */
        usec_t expires;         /* when the credential or certificate expires */
        int64_t days_left;      /* calendar days in the configured zone */
        unsigned threshold;     /* the warning threshold crossed (expiring kinds) */

        /* auth-rejected, link-down, link-recovered */
        ProbeClass failure;     /* the failure class (for recovered: of the problem that cleared) */
        long http_status;       /* 0: none */
        char *error;            /* the probe's error text, or NULL */
        usec_t since;           /* when the problem was first seen */
        unsigned failures;      /* consecutive failures so far */

        /* endpoint-cert-expiring */
        char *cert_subject;
        char *cert_sha256;

        /* mail-undeliverable */
        char *mail_subject;     /* the subject of the message given up */
        char *mail_error;       /* the relay's last answer */
} Alert;

#define ALERT_NULL ((Alert) { .kind = _ALERT_KIND_INVALID, .failure = _PROBE_CLASS_INVALID })

void alert_done(Alert *a);
Alert *alert_free(Alert *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Alert *, alert_free);
int alert_copy(Alert *dst, const Alert *src);

const char *alert_kind_to_string(AlertKind k);
AlertKind alert_kind_from_string(const char *s);
const char *alert_kind_message_id(AlertKind k);

/* syslog priority: err for expired, auth-rejected, link-down and
 * undeliverable mail; warning for expiring (err from 3 days left); notice
 * for recovered; info when held. */
int alert_priority(const Alert *a);

/* The one-line summary used as the journal MESSAGE and the mail Subject
 * (after "[tomslink] "): "district: SIS credential expires in 7 days
 * (2027-03-01)". Plain UTF-8, no control characters. */
char *alert_summary(const Alert *a, const Tz *tz);
