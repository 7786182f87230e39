/* SPDX-License-Identifier: GPL-2.0-or-later */

/* The configuration loader (config_load_string(), ynode_parse() under it)
 * on arbitrary bytes as tomslink.yaml.
 *
 * Invariants: the YAML tree is well formed (mappings hold key/value pairs,
 * positions are 1-based); the loader either returns a Config that
 * satisfies every rule of tomslink.yaml(5) that the rest of the daemon
 * relies on, or -EINVAL with a non-empty list of at most CONFIG_ERRORS_MAX
 * messages, each starting with the file name, free of control characters
 * and valid UTF-8 (they go to the journal and to a terminal one per line,
 * and to tomslinkctl in the JSON reply to "reload"). */

#include <curl/curl.h>

#include "config.h"
#include "fuzz.h"
#include "strv.h"
#include "validate.h"
#include "ynode.h"

#define NAME "fuzz.yaml"

static void check_tree(const YNode *n, unsigned depth) {
        FUZZ_CHECK(n->line >= 1 && n->column >= 1, "node at %u:%u", n->line, n->column);
        FUZZ_CHECK(depth <= YNODE_DEPTH_MAX + 1, "depth %u", depth);
        switch (n->type) {
        case YNODE_SCALAR:
                FUZZ_CHECK(n->value && n->value[n->length] == '\0' && n->n_items == 0, "scalar");
                break;
        case YNODE_MAPPING:
                FUZZ_CHECK(n->n_items % 2 == 0, "mapping with %zu items", n->n_items);
                _fallthrough_;
        case YNODE_SEQUENCE:
                FUZZ_CHECK(!n->value, "collection with a value");
                for (size_t i = 0; i < n->n_items; i++)
                        check_tree(n->items[i], depth + 1);
                break;
        default:
                FUZZ_CHECK(false, "node type %d", n->type);
        }
}

/* The scheme and host libcurl will use, whatever the text looks like. */
static void url_parts(const char *url, char **ret_scheme, char **ret_host) {
        CURLU *u = curl_url();
        FUZZ_CHECK(u, "out of memory");
        *ret_scheme = *ret_host = NULL;
        FUZZ_CHECK(curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
                   curl_url_get(u, CURLUPART_SCHEME, ret_scheme, 0) == CURLUE_OK &&
                   curl_url_get(u, CURLUPART_HOST, ret_host, 0) == CURLUE_OK,
                   "libcurl cannot parse the accepted URL %s", url);
        curl_url_cleanup(u);
}

static void check_url(const char *url, const char *scheme1, const char *scheme2) {
        char *scheme, *host;
        url_parts(url, &scheme, &host);
        FUZZ_CHECK(streq(scheme, scheme1) || (scheme2 && streq(scheme, scheme2)), "%s: scheme %s", url, scheme);
        FUZZ_CHECK(!isempty(host), "%s: no host", url);
        curl_free(scheme);
        curl_free(host);
}

static void check_string(const char *s, const char *what) {
        FUZZ_CHECK(!s || string_is_safe(s), "%s has control characters or invalid UTF-8", what);
}

static void check_days(const unsigned *v, size_t n, const char *what) {
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(v[i] >= 1 && v[i] <= 3650, "%s[%zu] = %u", what, i, v[i]);
                FUZZ_CHECK(i == 0 || v[i - 1] > v[i], "%s not sorted descending and unique", what);
        }
}

static void check_probe(const ProbeSettings *p) {
        FUZZ_CHECK(p->interval >= USEC_PER_SEC && p->interval <= 7 * USEC_PER_DAY, "interval");
        FUZZ_CHECK(p->timeout >= 100 * USEC_PER_MSEC && p->timeout <= 10 * USEC_PER_MINUTE, "timeout");
        FUZZ_CHECK(p->connect_timeout >= 100 * USEC_PER_MSEC, "connect_timeout");
        FUZZ_CHECK(p->failures_before_alert >= 1 && p->failures_before_alert <= 1000, "failures_before_alert");
        FUZZ_CHECK(probe_method_to_string(p->method) && probe_auth_to_string(p->auth), "method/auth");
        FUZZ_CHECK(p->lifetime >= USEC_PER_HOUR && p->lifetime <= 3650 * USEC_PER_DAY, "lifetime");
        FUZZ_CHECK(!p->ca_file || p->ca_file[0] == '/', "ca_file");
        FUZZ_CHECK(!p->auth_header || http_header_name_is_valid(p->auth_header), "auth_header");
        if (p->token_url)
                check_url(p->token_url, "https", NULL);
        check_string(p->ca_file, "ca_file");
        check_string(p->token_url, "token_url");
        bool any = false;
        for (unsigned s = 0; s < 640; s++)
                if (status_set_contains(&p->expect_status, s)) {
                        FUZZ_CHECK(s >= 100 && s <= 599, "expect_status %u", s);
                        any = true;
                }
        FUZZ_CHECK(any, "no expect_status");
}

static void check_link(const Config *c, const LinkConfig *l) {
        FUZZ_CHECK(link_name_is_valid(l->name), "link name");
        FUZZ_CHECK(config_find_link(c, l->name) == l, "config_find_link(%s)", l->name);
        FUZZ_CHECK(!l->cds_code || cds_code_is_valid(l->cds_code), "cds_code");
        FUZZ_CHECK(l->url, "link without url");
        check_url(l->url, "https", NULL);
        FUZZ_CHECK(l->host && strchr(l->host, ':'), "host %s", strna(l->host));
        check_string(l->url, "url");
        check_probe(&l->probe);
        FUZZ_CHECK(l->probe.connect_timeout <= l->probe.timeout, "connect_timeout > timeout");
        FUZZ_CHECK(l->probe.auth != PROBE_AUTH_OAUTH2 || l->probe.token_url, "oauth2 without token_url");
        FUZZ_CHECK(l->probe.auth != PROBE_AUTH_HEADER || l->probe.auth_header, "header without auth_header");
        STRV_FOREACH(a, l->email_to)
                FUZZ_CHECK(email_address_is_valid(*a), "email_to %s", *a);
        STRV_FOREACH(s, l->consumers)
                check_string(*s, "consumer");
        FUZZ_CHECK(l->line >= 1, "link line");
}

static void check_config(const Config *c) {
        FUZZ_CHECK(c->tz && tz_name(c->tz), "no time zone");
        FUZZ_CHECK(!c->timezone || tz_name_is_valid(c->timezone), "timezone");
        check_string(c->state_directory, "state_directory");
        check_string(c->runtime_directory, "runtime_directory");
        check_string(c->key_file, "key_file");
        check_probe(&c->probe);
        FUZZ_CHECK(c->max_parallel >= 1 && c->per_host_parallel >= 1 && c->per_host_parallel <= c->max_parallel,
                   "parallel limits %u/%u", c->max_parallel, c->per_host_parallel);
        check_days(c->expiry_warn_days, c->n_expiry_warn_days, "expiry_warn_days");
        check_days(c->cert_warn_days, c->n_cert_warn_days, "cert_warn_days");
        FUZZ_CHECK(c->repeat >= USEC_PER_MINUTE && c->repeat <= 30 * USEC_PER_DAY, "repeat");

        const EmailConfig *e = &c->email;
        if (e->enabled) {
                FUZZ_CHECK(strv_length(e->smtp_urls) > 0, "email without relays");
                STRV_FOREACH(u, e->smtp_urls)
                        check_url(*u, "smtp", "smtps");
                /* a password goes in clear only to a relay on this machine */
                if (e->username && e->starttls != STARTTLS_REQUIRED)
                        STRV_FOREACH(u, e->smtp_urls) {
                                char *scheme, *host;
                                url_parts(*u, &scheme, &host);
                                FUZZ_CHECK(streq(scheme, "smtps") || host_is_loopback(host),
                                           "password in clear to %s (starttls %s)", *u, starttls_to_string(e->starttls));
                                curl_free(scheme);
                                curl_free(host);
                        }
                FUZZ_CHECK(e->from_address && email_address_is_valid(e->from_address), "from address");
                check_string(e->from_name, "from name");
                FUZZ_CHECK(strv_length(e->to) > 0, "email without recipients");
                STRV_FOREACH(a, e->to)
                        FUZZ_CHECK(email_address_is_valid(*a), "to %s", *a);
                FUZZ_CHECK(starttls_to_string(e->starttls), "starttls");
                check_string(e->username, "username");
        }
        FUZZ_CHECK(!c->metrics_textfile || c->metrics_textfile[0] == '/', "metrics textfile");

        for (size_t i = 0; i < c->n_links; i++)
                check_link(c, &c->links[i]);
        for (size_t i = 1; i < c->n_links; i++)
                FUZZ_CHECK(strcmp(c->links_by_name[i - 1]->name, c->links_by_name[i]->name) < 0,
                           "links_by_name not sorted and unique");
        for (size_t i = 0; i < c->n_maintenance; i++) {
                const MaintenanceWindow *w = &c->maintenance[i];
                FUZZ_CHECK(w->name, "maintenance window without a name");
                check_string(w->name, "maintenance name");
                FUZZ_CHECK(w->end > w->start, "maintenance window ends before it starts");
                STRV_FOREACH(l, w->links)
                        FUZZ_CHECK(config_find_link(c, *l), "maintenance names unknown link %s", *l);
        }
        _cleanup_free_ char *summary = config_summary(c);
        FUZZ_CHECK(summary && fuzz_text_is_clean(summary, strlen(summary), NULL), "summary");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(ynode_freep) YNode *root = NULL;
        YNodeError yerr = {};
        int r;

        r = ynode_parse(data, size, &root, &yerr);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "ynode_parse: %d", r);
        if (r == 0 && root)
                check_tree(root, 0);
        if (r < 0)
                FUZZ_CHECK(yerr.message[0] && memchr(yerr.message, 0, sizeof yerr.message), "YAML error message");

        Config *c = NULL;
        char **errors = NULL;
        r = config_load_string(NAME, data, size, NULL, &c, &errors);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "config_load_string: %d", r);
        if (r == 0) {
                FUZZ_CHECK(c && !errors, "success without a Config");
                check_config(c);
        } else {
                FUZZ_CHECK(!c, "failure with a Config");
                size_t n = strv_length(errors);
                FUZZ_CHECK(n > 0 && n <= CONFIG_ERRORS_MAX, "%zu errors", n);
                STRV_FOREACH(e, errors) {
                        size_t l = strlen(*e);
                        FUZZ_CHECK(strneq(*e, NAME ":", strlen(NAME ":")) && l > strlen(NAME) + 4,
                                   "error does not name the file: %s", *e);
                        /* shown one per line, and sent to tomslinkctl as JSON strings by "reload" */
                        FUZZ_CHECK(string_is_safe(*e), "control characters or invalid UTF-8 in an error: %s", *e);
                }
        }
        config_free(c);
        strv_free(errors);
        return 0;
}
