/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's side of the control protocol: one handler per command of
 * lib/protocol.h, answering from the manager's state and the store. */
#include "control.h"

#include <sys/stat.h>

#include "control-server.h"
#include "daemon-log.h"
#include "expiry.h"
#include "fs-util.h"
#include "mailer.h"
#include "strv.h"

#define RECENT_PROBES 20
#define RECENT_ALERTS_SHOW 20
#define RECENT_ALERTS_DEFAULT 50
#define RECENT_ALERTS_MAX 10000
/* A credential generated this far in the future is a typo. */
#define GENERATED_FUTURE_SLACK (10 * USEC_PER_MINUTE)

static usec_t now_of(Manager *m) {
        return clock_realtime(m->clock);
}

static int data_new(Manager *m, json_object **ret) {
        return protocol_data_new(m->config->tz, now_of(m), ret);
}

static int json_add(json_object *o, const char *key, json_object *v) {
        if (!v && key)
                return json_object_object_add(o, key, NULL);
        return json_object_object_add(o, key, v);
}

static json_object *json_time(Manager *m, usec_t t) {
        char buf[TIMESTAMP_MAX];
        return t ? json_object_new_string(format_timestamp(buf, sizeof buf, m->config->tz, t)) : NULL;
}

static json_object *json_strv(char *const *l) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && l && l[i]; i++)
                json_object_array_add(a, json_object_new_string(l[i]));
        return a;
}

static const char *window_name(Manager *m, const Link *l, usec_t t) {
        for (size_t i = 0; i < m->config->n_maintenance; i++) {
                const MaintenanceWindow *w = &m->config->maintenance[i];
                if (t >= w->start && t < w->end && (!w->links || strv_contains(w->links, l->name)))
                        return w->name;
        }
        return NULL;
}

/* The link as "status" and "show" report it. */
static int link_status_json(Manager *m, const Link *l, usec_t now, json_object **ret) {
        unsigned bits;
        LinkState state = manager_link_state(m, l, now, &bits);
        _cleanup_strv_free_ char **problems = NULL;
        for (int s = 0; s < _LINK_STATE_MAX; s++)
                if (bits & (1u << s))
                        if (strv_extend(&problems, link_state_to_string(s)) < 0)
                                return -ENOMEM;
        ProtocolLinkStatus st = PROTOCOL_LINK_STATUS_NULL;
        st.name = l->name;
        st.state = (char *) link_state_to_string(state);
        st.problems = problems;
        st.lifetime = l->config->probe.lifetime;
        if (l->has_credential) {
                Expiry e;
                expiry_compute(m->config->tz, l->credential.generated, l->config->probe.lifetime, now, &e);
                st.expires = e.expires;
                st.days_left = e.days_left;
                st.username = l->credential.username;
                st.generated = l->credential.generated;
                st.generation = l->credential.generation;
                st.fingerprint = (char *) l->credential.fingerprint;
        }
        st.consumers = l->config->consumers;
        if (manager_is_silenced(m, l, now)) {
                st.silenced_until = l->silenced_until;
                st.silence_reason = l->silence_reason;
        }
        st.maintenance = (char *) window_name(m, l, now);
        st.failures = l->alert.failures;
        usec_t next = probe_engine_next_probe(m->probe, l->name);
        st.next_probe = l->has_credential && next != USEC_INFINITY ? next : 0;
        st.has_last_probe = l->has_last;
        if (l->has_last)
                manager_link_last_probe(l, &st.last_probe);
        st.url = l->config->url;
        st.cds_code = l->config->cds_code;
        return protocol_link_status_to_json(&st, m->config->tz, ret);
}

static Link *request_link(Manager *m, ControlRequest *req) {
        const ProtocolRequest *p = control_request_get(req);
        Link *l = manager_find_link(m, p->link);
        if (!l)
                (void) control_request_reply_error(req, PROTOCOL_ERROR_NOT_FOUND,
                                                   "no link named \"%s\" in the configuration", p->link ?: "");
        return l;
}

/* ---- lists from the store as reply arrays ------------------------------------------------ */

/* data[key] = the open problems of link (all links with NULL) */
static int add_problems(Manager *m, json_object *data, const char *key, const char *link) {
        Problem *v = NULL;
        size_t n = 0;
        json_object *o, *a = json_object_new_array();
        int r = store_problem_list(m->store, link, &v, &n);
        json_add(data, key, a);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = protocol_problem_to_json(&v[i], m->config->tz, &o)) >= 0)
                        json_object_array_add(a, o);
        problem_array_free(v, n);
        return r;
}

/* data[key] = the newest max alert log entries of link (all links with NULL) */
static int add_recent_alerts(Manager *m, json_object *data, const char *key, const char *link, size_t max) {
        AlertLogEntry *v = NULL;
        size_t n = 0;
        json_object *o, *a = json_object_new_array();
        int r = store_alert_log_list(m->store, link, max, &v, &n);
        json_add(data, key, a);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = protocol_alert_entry_to_json(&v[i], m->config->tz, &o)) >= 0)
                        json_object_array_add(a, o);
        alert_log_entry_array_free(v, n);
        return r;
}

static int add_silences(Manager *m, json_object *data, const char *key) {
        Silence *v = NULL;
        size_t n = 0;
        json_object *o, *a = json_object_new_array();
        int r = store_silence_list(m->store, now_of(m), &v, &n);
        json_add(data, key, a);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = protocol_silence_to_json(&v[i], m->config->tz, &o)) >= 0)
                        json_object_array_add(a, o);
        silence_array_free(v, n);
        return r;
}

static int add_recent_probes(Manager *m, json_object *data, const char *key, const char *link, size_t max) {
        ProbeResult *v = NULL;
        size_t n = 0;
        json_object *o, *a = json_object_new_array();
        int r = store_probe_list(m->store, link, max, &v, &n);
        json_add(data, key, a);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = protocol_probe_result_to_json(&v[i], m->config->tz, &o)) >= 0)
                        json_object_array_add(a, o);
        free(v);
        return r;
}

/* ---- status, check, show -------------------------------------------------------- */

/* The status of every link, produced a link at a time while the client
 * reads: with 10,000 links the whole document would be tens of megabytes
 * of JSON objects, and building it would hold the loop for a while. The
 * links are sorted by name; the cursor is the last name sent, so a reload
 * in between neither repeats nor skips a link that stays. */
typedef struct StatusStream {
        Manager *manager;
        usec_t now;
        char *after;            /* the last link sent, NULL before the first */
} StatusStream;

static void status_stream_free(void *userdata) {
        StatusStream *st = userdata;
        free(st->after);
        free(st);
}

static Link *link_after(Manager *m, const char *name) {
        size_t lo = 0, hi = m->n_links;
        if (!name)
                return m->n_links > 0 ? m->links[0] : NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(m->links[mid]->name, name) <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < m->n_links ? m->links[lo] : NULL;
}

static int status_stream_next(void *userdata, json_object **ret) {
        StatusStream *st = userdata;
        Link *l = link_after(st->manager, st->after);
        if (!l)
                return 0;
        char *name = strdup(l->name);
        if (!name)
                return -ENOMEM;
        int r = link_status_json(st->manager, l, st->now, ret);
        if (r < 0) {
                free(name);
                return r;
        }
        free(st->after);
        st->after = name;
        return 1;
}

static int on_status(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        json_object *data = NULL;
        int r = data_new(m, &data);
        if (r < 0)
                return r;
        StatusStream *st = calloc(1, sizeof(StatusStream));
        if (!st) {
                json_object_put(data);
                return -ENOMEM;
        }
        *st = (StatusStream) { .manager = m, .now = now_of(m) };
        return control_request_reply_stream(req, data, "links", status_stream_next, status_stream_free, st);
}

static int on_show(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        _cleanup_json_ json_object *data = NULL;
        Link *l = request_link(m, req);
        json_object *o;
        int r;

        if (!l)
                return 0;
        r = data_new(m, &data);
        if (r < 0)
                return r;
        r = link_status_json(m, l, now_of(m), &o);
        if (r < 0)
                return r;
        json_add(data, "link", o);
        (void) manager_flush(m);        /* the latest results, too */
        if ((r = add_recent_probes(m, data, "recent_probes", l->name, RECENT_PROBES)) < 0 ||
            (r = add_problems(m, data, "open_problems", l->name)) < 0 ||
            (r = add_recent_alerts(m, data, "recent_alerts", l->name, RECENT_ALERTS_SHOW)) < 0)
                return r;
        return control_request_reply(req, TAKE_PTR(data));
}

/* ---- probe ---------------------------------------------------------------------- */

/* A probe request waiting for the results of one or more links. */
typedef struct ProbeBatch {
        Manager *manager;
        ControlRequest *request;
        json_object *data;
        json_object *results;
        size_t pending;
        /* credential set/rotate: the reply data waiting for the verification probe */
        bool verify;
} ProbeBatch;

static void probe_batch_finish(ProbeBatch *b) {
        (void) control_request_reply(b->request, b->data);
        free(b);
}

static void on_probe_result(Manager *m, Link *l, const ProbeResult *r, void *userdata) {
        ProbeBatch *b = userdata;
        json_object *o = NULL;
        if (r)
                (void) protocol_probe_result_to_json(r, m->config->tz, &o);
        if (b->verify)
                json_add(b->data, "probe", o);
        else {
                json_object *item = json_object_new_object();
                json_add(item, "link", json_object_new_string(l->name));
                json_add(item, "result", o);
                if (!r)
                        json_add(item, "error", json_object_new_string("the link was removed or the daemon is stopping"));
                json_object_array_add(b->results, item);
        }
        if (--b->pending == 0)
                probe_batch_finish(b);
}

static int on_probe(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        const ProtocolRequest *p = control_request_get(req);
        ProbeBatch *b;
        int r;

        if (!p->all) {
                Link *l = request_link(m, req);
                if (!l)
                        return 0;
                if (!l->has_credential)
                        return control_request_reply_error(req, PROTOCOL_ERROR_INVALID,
                                                           "link \"%s\" has no credential yet: set one with "
                                                           "tomslinkctl credential set %s --username U",
                                                           l->name, l->name);
        }
        b = calloc(1, sizeof(ProbeBatch));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        b->request = req;
        r = data_new(m, &b->data);
        if (r < 0) {
                free(b);
                return r;
        }
        b->results = json_object_new_array();
        json_add(b->data, "results", b->results);
        /* one reference for this function, released at the end, so that a
         * result arriving synchronously cannot finish the batch early */
        b->pending = 1;
        for (size_t i = 0; i < m->n_links; i++) {
                Link *l = m->links[i];
                if (p->all ? !l->has_credential : !streq(l->name, p->link))
                        continue;
                b->pending++;
                r = manager_probe_now(m, l, on_probe_result, b);
                if (r < 0) {
                        b->pending--;
                        log_warning_errno(r, "%s: cannot start a probe", l->name);
                }
        }
        if (--b->pending == 0)
                probe_batch_finish(b);
        return 0;
}

/* ---- credentials ------------------------------------------------------------------ */

static int credential_reply_data(Manager *m, Link *l, json_object **ret) {
        json_object *data;
        Expiry e;
        int r = data_new(m, &data);
        if (r < 0)
                return r;
        expiry_compute(m->config->tz, l->credential.generated, l->config->probe.lifetime, now_of(m), &e);
        json_add(data, "link", json_object_new_string(l->name));
        json_add(data, "username", json_object_new_string(l->credential.username ?: ""));
        json_add(data, "generation", json_object_new_int64((int64_t) l->credential.generation));
        json_add(data, "generated", json_time(m, l->credential.generated));
        json_add(data, "expires", json_time(m, e.expires));
        json_add(data, "days_left", json_object_new_int64(e.days_left));
        json_add(data, "consumers", json_strv(l->config->consumers));
        *ret = data;
        return 0;
}

static int parse_generated(Manager *m, ControlRequest *req, const char *s, usec_t *ret) {
        usec_t now = now_of(m), t;
        if (!s) {
                *ret = now;
                return 0;
        }
        int r = parse_timestamp(s, m->config->tz, &t);
        if (r < 0) {
                (void) control_request_reply_error(req, PROTOCOL_ERROR_INVALID,
                                                   "--generated: expected a time with an offset like 2026-08-15T09:30:00-07:00 "
                                                   "or a date like 2026-08-15, got \"%s\"", s);
                return -EINVAL;
        }
        if (t > now + GENERATED_FUTURE_SLACK) {
                (void) control_request_reply_error(req, PROTOCOL_ERROR_INVALID,
                                                   "--generated %s is in the future", s);
                return -EINVAL;
        }
        *ret = t;
        return 0;
}

static int credential_store(Manager *m, ControlRequest *req, Link *l, bool rotate) {
        const ProtocolRequest *p = control_request_get(req);
        usec_t generated;
        int r;

        if (!p->secret || p->secret_size == 0)
                return control_request_reply_error(req, PROTOCOL_ERROR_INVALID, "the secret key is empty");
        if (rotate)
                r = store_credential_rotate(m->store, l->name, p->username, p->secret, p->secret_size,
                                            control_request_uid(req), NULL);
        else {
                if (parse_generated(m, req, p->generated, &generated) < 0)
                        return 0;
                r = store_credential_set(m->store, l->name, p->username, p->secret, p->secret_size, generated,
                                         control_request_uid(req), NULL);
        }
        if (r < 0) {
                log_error_errno(r, "%s: cannot store the credential", l->name);
                return control_request_reply_error(req, PROTOCOL_ERROR_FAILED, "cannot store the credential: %s",
                                                   strerror(-r));
        }
        log_notice("%s: credential %s by uid %u (username %s)", l->name, rotate ? "rotated" : "set",
                   (unsigned) control_request_uid(req), p->username);
        return manager_credential_changed(m, l);
}

static int on_credential_set(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        Link *l = request_link(m, req);
        json_object *data;
        if (!l)
                return 0;
        int r = credential_store(m, req, l, false);
        if (r < 0 || !control_request_is_connected(req) || !l->has_credential)
                return r;
        /* probed within seconds; the reply does not wait for it */
        (void) manager_probe_now(m, l, NULL, NULL);
        r = credential_reply_data(m, l, &data);
        if (r < 0)
                return r;
        json_add(data, "probe", NULL);
        return control_request_reply(req, data);
}

static int on_credential_rotate(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        Link *l = request_link(m, req);
        if (!l)
                return 0;
        int r = credential_store(m, req, l, true);
        if (r < 0)
                return r;
        ProbeBatch *b = calloc(1, sizeof(ProbeBatch));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        b->request = req;
        b->verify = true;
        b->pending = 1;
        r = credential_reply_data(m, l, &b->data);
        if (r >= 0)
                r = manager_probe_now(m, l, on_probe_result, b);
        if (r < 0) {
                json_object_put(b->data);
                free(b);
                return r;
        }
        return 0;
}

static int on_credential_history(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        const ProtocolRequest *p = control_request_get(req);
        _cleanup_json_ json_object *data = NULL;
        RotationRecord *v = NULL;
        size_t n = 0;
        json_object *o;
        /* history is kept for links no longer configured, too */
        if (!manager_find_link(m, p->link)) {
                CredentialInfo info;
                if (store_credential_get(m->store, p->link, &info) < 0)
                        return control_request_reply_error(req, PROTOCOL_ERROR_NOT_FOUND, "no link named \"%s\"", p->link);
                credential_info_done(&info);
        }
        int r = data_new(m, &data);
        if (r < 0)
                return r;
        r = store_credential_history(m->store, p->link, &v, &n);
        if (r < 0)
                return r;
        json_add(data, "link", json_object_new_string(p->link));
        json_object *a = json_object_new_array();
        json_add(data, "rotations", a);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = protocol_rotation_to_json(&v[i], m->config->tz, &o)) >= 0)
                        json_object_array_add(a, o);
        rotation_record_array_free(v, n);
        if (r < 0)
                return r;
        return control_request_reply(req, TAKE_PTR(data));
}

static int on_credential_import(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        const ProtocolRequest *p = control_request_get(req);
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ CredentialImport *rows = calloc(MAX(p->n_rows, (size_t) 1), sizeof(CredentialImport));
        usec_t now = now_of(m);
        int r;

        if (!rows)
                return -ENOMEM;
        /* every row checked first: all or nothing */
        for (size_t i = 0; i < p->n_rows; i++) {
                const ProtocolImportRow *row = &p->rows[i];
                char line[32] = "";
                if (row->line)
                        snprintf(line, sizeof line, "line %u: ", row->line);
                usec_t generated = now;
                if (!manager_find_link(m, row->link)) {
                        if (strv_extendf(&errors, "%sno link named \"%s\" in the configuration", line, row->link) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (row->generated) {
                        if (parse_timestamp(row->generated, m->config->tz, &generated) < 0) {
                                if (strv_extendf(&errors, "%sgenerated: expected ISO 8601 with an offset or a date, got \"%s\"",
                                                 line, row->generated) < 0)
                                        return -ENOMEM;
                                continue;
                        }
                        if (generated > now + GENERATED_FUTURE_SLACK) {
                                if (strv_extendf(&errors, "%sgenerated %s is in the future", line, row->generated) < 0)
                                        return -ENOMEM;
                                continue;
                        }
                }
                rows[i] = (CredentialImport) {
                        .link = row->link,
                        .username = row->username,
                        .secret = row->secret,
                        .secret_size = row->secret_size,
                        .generated = generated,
                };
        }
        if (errors)
                return control_request_reply_error_details(req, PROTOCOL_ERROR_INVALID, errors,
                                                           "%zu of %zu rows are invalid; nothing was imported",
                                                           strv_length(errors), p->n_rows);
        r = store_credential_import(m->store, rows, p->n_rows, control_request_uid(req));
        if (r < 0) {
                log_error_errno(r, "Credential import of %zu rows failed; nothing was imported", p->n_rows);
                return control_request_reply_error(req, PROTOCOL_ERROR_FAILED, "the import failed, nothing was imported: %s",
                                                   strerror(-r));
        }
        log_notice("%zu credentials imported by uid %u", p->n_rows, (unsigned) control_request_uid(req));
        /* what each new credential changes in the store (its old generation's
         * alerts dropped), in one transaction rather than one per row */
        bool grouped = store_begin(m->store) >= 0;
        for (size_t i = 0; i < p->n_rows; i++) {
                Link *l = manager_find_link(m, rows[i].link);
                if (!l)
                        continue;
                (void) manager_credential_changed(m, l);
                /* every imported credential is probed as soon as the
                 * engine's limits (max_parallel, per_host_parallel) allow */
                (void) manager_probe_now(m, l, NULL, NULL);
        }
        if (grouped && (r = store_commit(m->store)) < 0)
                log_error_errno(r, "Cannot drop the alert records of the replaced credentials");
        json_object *data = json_object_new_object();
        json_add(data, "imported", json_object_new_int64((int64_t) p->n_rows));
        return control_request_reply(req, data);
}

/* ---- silences, alerts ---------------------------------------------------------------- */

static int on_silence(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        const ProtocolRequest *p = control_request_get(req);
        json_object *data;
        Link *l = request_link(m, req);
        if (!l)
                return 0;
        if (p->duration == 0 || p->duration > PROTOCOL_SILENCE_MAX)
                return control_request_reply_error(req, PROTOCOL_ERROR_INVALID, "--for must be between 1s and 366d");
        usec_t until = now_of(m) + p->duration;
        int r = manager_set_silence(m, l, until, p->reason, control_request_uid(req));
        if (r < 0)
                return r;
        log_notice("%s: silenced until %s by uid %u%s%s", l->name, "later", (unsigned) control_request_uid(req),
                   p->reason ? ": " : "", p->reason ?: "");
        r = data_new(m, &data);
        if (r < 0)
                return r;
        json_add(data, "link", json_object_new_string(l->name));
        json_add(data, "until", json_time(m, until));
        json_add(data, "reason", p->reason ? json_object_new_string(p->reason) : NULL);
        return control_request_reply(req, data);
}

static int on_unsilence(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        Link *l = request_link(m, req);
        if (!l)
                return 0;
        int r = manager_clear_silence(m, l);
        if (r < 0)
                return r;
        if (r == 0)
                return control_request_reply_error(req, PROTOCOL_ERROR_NOT_FOUND, "link \"%s\" is not silenced", l->name);
        log_notice("%s: silence lifted by uid %u", l->name, (unsigned) control_request_uid(req));
        json_object *data = json_object_new_object();
        json_add(data, "link", json_object_new_string(l->name));
        return control_request_reply(req, data);
}

static int on_alerts(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        const ProtocolRequest *p = control_request_get(req);
        _cleanup_json_ json_object *data = NULL;
        size_t limit = p->limit ? MIN((size_t) p->limit, (size_t) RECENT_ALERTS_MAX) : RECENT_ALERTS_DEFAULT;
        int r = data_new(m, &data);
        if (r < 0)
                return r;
        (void) manager_flush(m);        /* problems opened a moment ago, too */
        if ((r = add_problems(m, data, "open_problems", NULL)) < 0 || (r = add_silences(m, data, "silences")) < 0 ||
            (r = add_recent_alerts(m, data, "recent_alerts", p->link, limit)) < 0)
                return r;
        return control_request_reply(req, TAKE_PTR(data));
}

/* ---- test-email, reload ------------------------------------------------------------- */

typedef struct TestEmail {
        Manager *manager;
        ControlRequest *request;
} TestEmail;

static void on_test_email_done(Mailer *mailer, int error, const SmtpResult *result, void *userdata) {
        TestEmail *t = userdata;
        Manager *m = t->manager;
        ControlRequest *req = t->request;
        free(t);
        if (error < 0 || !result || result->outcome != SMTP_DELIVERED) {
                const char *answer = result ? (result->error ?: result->reply) : NULL;
                log_warning("test e-mail not delivered: %s", answer ?: strerror(error < 0 ? -error : EIO));
                (void) control_request_reply_error(req, PROTOCOL_ERROR_FAILED, "the relay did not take the test message: %s",
                                                   answer ?: strerror(error < 0 ? -error : EIO));
                return;
        }
        json_object *data = json_object_new_object();
        json_add(data, "recipients", json_strv(m->config->email.to));
        json_add(data, "relay", result->relay ? json_object_new_string(result->relay) : NULL);
        json_add(data, "answer", result->reply ? json_object_new_string(result->reply) : NULL);
        (void) control_request_reply(req, data);
}

static int on_test_email(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        if (!m->mailer)
                return control_request_reply_error(req, PROTOCOL_ERROR_INVALID,
                                                   "e-mail is not configured (no email: section in %s)", m->config_path);
        TestEmail *t = calloc(1, sizeof(TestEmail));
        if (!t)
                return -ENOMEM;
        *t = (TestEmail) { .manager = m, .request = req };
        int r = mailer_test_email(m->mailer, on_test_email_done, t);
        if (r < 0)
                free(t);
        if (r < 0)
                return control_request_reply_error(req, PROTOCOL_ERROR_FAILED, "cannot send the test message: %s",
                                                   strerror(-r));
        return 0;
}

static int on_reload(ControlRequest *req, void *userdata) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **errors = NULL;
        int r = manager_reload(m, &errors);
        if (r == -EINVAL)
                return control_request_reply_error_details(req, PROTOCOL_ERROR_FAILED, errors,
                                                           "%s is invalid (%zu error%s); the running configuration stays",
                                                           m->config_path, strv_length(errors),
                                                           strv_length(errors) == 1 ? "" : "s");
        if (r < 0)
                return control_request_reply_error(req, PROTOCOL_ERROR_FAILED, "reload failed: %s", strerror(-r));
        _cleanup_free_ char *summary = config_summary(m->config);
        json_object *data = json_object_new_object();
        json_add(data, "summary", json_object_new_string(summary ?: ""));
        return control_request_reply(req, data);
}

static const ControlHandlerEntry handlers[] = {
        { PROTOCOL_COMMAND_STATUS, on_status },
        { PROTOCOL_COMMAND_CHECK, on_status },
        { PROTOCOL_COMMAND_SHOW, on_show },
        { PROTOCOL_COMMAND_PROBE, on_probe },
        { PROTOCOL_COMMAND_CREDENTIAL_SET, on_credential_set },
        { PROTOCOL_COMMAND_CREDENTIAL_ROTATE, on_credential_rotate },
        { PROTOCOL_COMMAND_CREDENTIAL_HISTORY, on_credential_history },
        { PROTOCOL_COMMAND_CREDENTIAL_IMPORT, on_credential_import },
        { PROTOCOL_COMMAND_SILENCE, on_silence },
        { PROTOCOL_COMMAND_UNSILENCE, on_unsilence },
        { PROTOCOL_COMMAND_ALERTS, on_alerts },
        { PROTOCOL_COMMAND_TEST_EMAIL, on_test_email },
        { PROTOCOL_COMMAND_RELOAD, on_reload },
};

int control_start(Manager *m) {
        _cleanup_free_ char *path = NULL;
        int fd = -1, r;

        r = control_socket_activated(&fd);
        if (r < 0)
                return log_error_errno(r, "Cannot use the control socket passed by systemd");
        if (r == 0) {
                if (asprintf(&path, "%s/%s", m->runtime_directory, CONTROL_SOCKET_NAME) < 0)
                        return log_error_errno(ENOMEM, "Out of memory");
                r = mkdir_p(m->runtime_directory, 0755);
                if (r < 0)
                        return log_error_errno(r, "Cannot create the runtime directory %s", m->runtime_directory);
                r = control_socket_bind(path, CONTROL_GROUP_DEFAULT, &fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot listen on %s", path);
                log_debug("Listening on %s", path);
        } else
                log_debug("Using the control socket passed by systemd");
        r = control_server_new(m->event, fd, &(ControlServerOptions) {}, handlers, ELEMENTSOF(handlers), m,
                               daemon_logger(), &m->control);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot serve the control socket");
        }
        return 0;
}

void control_stop(Manager *m) {
        m->control = control_server_free(m->control);
}
