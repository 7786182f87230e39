/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "probe-result.h"

static const char *const probe_class_table[_PROBE_CLASS_MAX] = {
        [PROBE_OK] = "ok",
        [PROBE_DNS] = "dns",
        [PROBE_CONNECT] = "connect",
        [PROBE_TLS] = "tls",
        [PROBE_TIMEOUT] = "timeout",
        [PROBE_AUTH] = "auth",
        [PROBE_HTTP] = "http",
};

static const char *const probe_class_descriptions[_PROBE_CLASS_MAX] = {
        [PROBE_OK] = "answered as expected",
        [PROBE_DNS] = "the endpoint's host name did not resolve",
        [PROBE_CONNECT] = "no TCP connection could be made to the endpoint",
        [PROBE_TLS] = "the TLS handshake failed (certificate expired, untrusted or for another host)",
        [PROBE_TIMEOUT] = "the endpoint did not answer in time",
        [PROBE_AUTH] = "the endpoint refused the credential",
        [PROBE_HTTP] = "the endpoint answered with an unexpected HTTP status",
};

const char *probe_class_to_string(ProbeClass c) {
        return c >= 0 && c < _PROBE_CLASS_MAX ? probe_class_table[c] : NULL;
}

ProbeClass probe_class_from_string(const char *s) {
        for (int i = 0; s && i < _PROBE_CLASS_MAX; i++)
                if (streq(probe_class_table[i], s))
                        return i;
        return _PROBE_CLASS_INVALID;
}

const char *probe_class_describe(ProbeClass c) {
        return c >= 0 && c < _PROBE_CLASS_MAX ? probe_class_descriptions[c] : "unknown";
}

void probe_summary_set(ProbeSummary *s, const ProbeResult *r) {
        free(s->error);
        *s = (ProbeSummary) {
                .time = r->time,
                .dns = r->dns,
                .connect = r->connect,
                .tls = r->tls,
                .first_byte = r->first_byte,
                .total = r->total,
                .http_status = r->http_status,
                .klass = r->klass,
                .read_cert = r->cert_sha256[0] && r->cert_not_after,
                .error = isempty(r->error) ? NULL : strdup(r->error),
        };
}

void probe_summary_done(ProbeSummary *s) {
        s->error = mfree(s->error);
}
