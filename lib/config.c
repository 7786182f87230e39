/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "strbuf.h"
#include "strv.h"
#include "validate.h"
#include "ynode.h"

/* ---- enums ------------------------------------------------------------------ */

static const char *const probe_method_table[_PROBE_METHOD_MAX] = {
        [PROBE_METHOD_GET] = "GET",
        [PROBE_METHOD_HEAD] = "HEAD",
        [PROBE_METHOD_POST] = "POST",
};

static const char *const probe_auth_table[_PROBE_AUTH_MAX] = {
        [PROBE_AUTH_BASIC] = "basic",
        [PROBE_AUTH_BEARER] = "bearer",
        [PROBE_AUTH_OAUTH2] = "oauth2",
        [PROBE_AUTH_HEADER] = "header",
};

static const char *const starttls_table[_STARTTLS_MAX] = {
        [STARTTLS_REQUIRED] = "required",
        [STARTTLS_OPTIONAL] = "optional",
        [STARTTLS_OFF] = "off",
};

static int table_lookup(const char *const *table, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *probe_method_to_string(ProbeMethod m) {
        return m >= 0 && m < _PROBE_METHOD_MAX ? probe_method_table[m] : NULL;
}
ProbeMethod probe_method_from_string(const char *s) {
        return table_lookup(probe_method_table, _PROBE_METHOD_MAX, s);
}
const char *probe_auth_to_string(ProbeAuth a) {
        return a >= 0 && a < _PROBE_AUTH_MAX ? probe_auth_table[a] : NULL;
}
ProbeAuth probe_auth_from_string(const char *s) {
        return table_lookup(probe_auth_table, _PROBE_AUTH_MAX, s);
}
const char *starttls_to_string(StartTls s) {
        return s >= 0 && s < _STARTTLS_MAX ? starttls_table[s] : NULL;
}
StartTls starttls_from_string(const char *s) {
        return table_lookup(starttls_table, _STARTTLS_MAX, s);
}

/* ---- model lifecycle ------------------------------------------------------------ */

static void probe_settings_done(ProbeSettings *p) {
        free(p->ca_file);
        free(p->auth_header);
        free(p->token_url);
        p->ca_file = p->auth_header = p->token_url = NULL;
}

static int probe_settings_copy(ProbeSettings *dst, const ProbeSettings *src) {
        *dst = *src;
        dst->ca_file = dst->auth_header = dst->token_url = NULL;
        if ((src->ca_file && !(dst->ca_file = strdup(src->ca_file))) ||
            (src->auth_header && !(dst->auth_header = strdup(src->auth_header))) ||
            (src->token_url && !(dst->token_url = strdup(src->token_url)))) {
                probe_settings_done(dst);
                return -ENOMEM;
        }
        return 0;
}

static void link_config_done(LinkConfig *l) {
        free(l->name);
        free(l->cds_code);
        free(l->url);
        free(l->host);
        probe_settings_done(&l->probe);
        strv_free(l->email_to);
        strv_free(l->consumers);
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->timezone);
        tz_free(c->tz);
        free(c->state_directory);
        free(c->runtime_directory);
        free(c->key_file);
        probe_settings_done(&c->probe);
        free(c->expiry_warn_days);
        free(c->cert_warn_days);
        strv_free(c->email.smtp_urls);
        free(c->email.username);
        free(c->email.password_file);
        free(c->email.from);
        free(c->email.from_name);
        free(c->email.from_address);
        strv_free(c->email.to);
        free(c->email.ca_file);
        free(c->metrics_textfile);
        for (size_t i = 0; i < c->n_maintenance; i++) {
                free(c->maintenance[i].name);
                strv_free(c->maintenance[i].links);
        }
        free(c->maintenance);
        for (size_t i = 0; i < c->n_links; i++)
                link_config_done(&c->links[i]);
        free(c->links);
        free(c->links_by_name);
        return mfree(c);
}

/* ---- the loader's context and error reporting ---------------------------------- */

typedef struct Ctx {
        const char *file;
        const char *tzdir;
        Config *config;
        char **errors;
        size_t n_errors;
        bool oom;
} Ctx;

static void ctx_error(Ctx *ctx, const YNode *n, const char *path, const char *fmt, ...) _printf_(4, 5);
static void ctx_error(Ctx *ctx, const YNode *n, const char *path, const char *fmt, ...) {
        StrBuf b = STRBUF_NULL;
        va_list ap;

        if (++ctx->n_errors > CONFIG_ERRORS_MAX)
                return;
        if (ctx->n_errors == CONFIG_ERRORS_MAX) {
                strbuf_printf(&b, "%s: too many errors, stopping here", ctx->file);
        } else {
                if (n)
                        strbuf_printf(&b, "%s:%u:%u: ", ctx->file, n->line, n->column);
                else
                        strbuf_printf(&b, "%s: ", ctx->file);
                if (!isempty(path))
                        strbuf_printf(&b, "%s: ", path);
                va_start(ap, fmt);
                strbuf_vprintf(&b, fmt, ap);
                va_end(ap);
        }
        char *s = strbuf_steal(&b);
        if (!s || strv_push(&ctx->errors, s) < 0)
                ctx->oom = true;
}

/* Renders a scalar for an error message: quoted, escaped, bounded. */
static const char *shown(const YNode *n, char *buf, size_t size) {
        if (!n)
                return "nothing";
        if (n->type != YNODE_SCALAR)
                return ynode_type_to_string(n->type);
        StrBuf b = STRBUF_NULL;
        /* a scalar holding a NUL is shown up to it */
        strbuf_put_quoted(&b, n->value, 40);
        snprintf(buf, size, "%s", b.data ?: "\"\"");
        strbuf_done(&b);
        return buf;
}
#define SHOWN(n) shown((n), (char[64]) {}, 64)

static char *path_join(const char *a, const char *b) {
        char *p;
        if (isempty(a))
                return strdup(b);
        return asprintf(&p, "%s.%s", a, b) < 0 ? NULL : p;
}

/* The path of a key that is not one of ours: the key as it is when it
 * looks like a key, else quoted, so that an error message stays one line of
 * text whatever the file holds. */
static char *path_join_key(const char *a, const char *key) {
        size_t n = strlen(key);
        if (n > 0 && n <= 64 &&
            strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n)
                return path_join(a, key);
        StrBuf b = STRBUF_NULL;
        strbuf_put_quoted(&b, key, 40);
        _cleanup_free_ char *q = strbuf_steal(&b);
        return q ? path_join(a, q) : NULL;
}

/* ---- scalar parsers ------------------------------------------------------------ */

/* A non-null scalar, without NULs. Returns its text or NULL (error logged). */
static const char *want_scalar(Ctx *ctx, const YNode *n, const char *path, const char *expected) {
        if (!n || n->type != YNODE_SCALAR || ynode_is_null(n)) {
                ctx_error(ctx, n, path, "expected %s, got %s", expected,
                          n && n->type == YNODE_SCALAR ? "nothing" : SHOWN(n));
                return NULL;
        }
        if (strlen(n->value) != n->length) {
                ctx_error(ctx, n, path, "expected %s, got a value containing a NUL byte", expected);
                return NULL;
        }
        return n->value;
}

static int parse_string(Ctx *ctx, const YNode *n, const char *path, const char *expected, char **ret) {
        const char *s = want_scalar(ctx, n, path, expected);
        if (!s)
                return -EINVAL;
        if (!string_is_safe(s)) {
                ctx_error(ctx, n, path, "expected %s without control characters, got %s", expected, SHOWN(n));
                return -EINVAL;
        }
        char *d = strdup(s);
        if (!d) {
                ctx->oom = true;
                return -ENOMEM;
        }
        free(*ret);
        *ret = d;
        return 0;
}

static int parse_path(Ctx *ctx, const YNode *n, const char *path, char **ret) {
        const char *s = want_scalar(ctx, n, path, "an absolute path");
        if (!s)
                return -EINVAL;
        if (s[0] != '/' || !string_is_safe(s) || strlen(s) >= PATH_MAX) {
                ctx_error(ctx, n, path, "expected an absolute path, got %s", SHOWN(n));
                return -EINVAL;
        }
        return parse_string(ctx, n, path, "an absolute path", ret);
}

static int parse_uint(Ctx *ctx, const YNode *n, const char *path, unsigned lo, unsigned hi, unsigned *ret) {
        const char *s = want_scalar(ctx, n, path, "a whole number");
        if (!s)
                return -EINVAL;
        unsigned long long v = 0;
        bool ok = n->plain && s[0] >= '0' && s[0] <= '9';
        for (const char *p = s; ok && *p; p++) {
                if (*p < '0' || *p > '9' || v > UINT_MAX)
                        ok = false;
                else
                        v = v * 10 + (unsigned) (*p - '0');
        }
        if (!ok) {
                ctx_error(ctx, n, path, "expected a whole number from %u to %u, got %s", lo, hi, SHOWN(n));
                return -EINVAL;
        }
        if (v < lo || v > hi) {
                ctx_error(ctx, n, path, "expected a whole number from %u to %u, got %llu", lo, hi, v);
                return -ERANGE;
        }
        *ret = (unsigned) v;
        return 0;
}

static int parse_bool(Ctx *ctx, const YNode *n, const char *path, bool *ret) {
        const char *s = want_scalar(ctx, n, path, "true or false");
        if (!s)
                return -EINVAL;
        if (n->plain && (streq(s, "true") || streq(s, "True") || streq(s, "yes") || streq(s, "on")))
                *ret = true;
        else if (n->plain && (streq(s, "false") || streq(s, "False") || streq(s, "no") || streq(s, "off")))
                *ret = false;
        else {
                ctx_error(ctx, n, path, "expected true or false, got %s", SHOWN(n));
                return -EINVAL;
        }
        return 0;
}

static int parse_dur(Ctx *ctx, const YNode *n, const char *path, const char *example, usec_t lo, usec_t hi,
                     usec_t *ret) {
        char a[DURATION_MAX], b[DURATION_MAX];
        usec_t v;
        const char *s = want_scalar(ctx, n, path, "a duration");
        if (!s)
                return -EINVAL;
        if (parse_duration(s, &v) < 0) {
                ctx_error(ctx, n, path, "expected a duration like %s, got %s", example, SHOWN(n));
                return -EINVAL;
        }
        if (v < lo || v > hi) {
                ctx_error(ctx, n, path, "expected a duration from %s to %s, got %s",
                          format_duration(a, sizeof a, lo), format_duration(b, sizeof b, hi), SHOWN(n));
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

static int parse_enum(Ctx *ctx, const YNode *n, const char *path, const char *const *table, size_t size,
                      int *ret) {
        const char *s = want_scalar(ctx, n, path, "a value");
        if (!s)
                return -EINVAL;
        int v = table_lookup(table, size, s);
        if (v < 0) {
                StrBuf b = STRBUF_NULL;
                for (size_t i = 0; i < size; i++)
                        strbuf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == size ? " or " : ", ", table[i]);
                ctx_error(ctx, n, path, "expected %s, got %s", b.data ?: "", SHOWN(n));
                strbuf_done(&b);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

/* A URL: https (or the schemes given), a host, no user name or password in it. */
static int parse_url(Ctx *ctx, const YNode *n, const char *path, const char *const *schemes, char **ret,
                     char **ret_hostport) {
        const char *s = want_scalar(ctx, n, path, "a URL");
        if (!s)
                return -EINVAL;
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *frag = NULL;
        int r = -EINVAL;

        if (!u) {
                ctx->oom = true;
                return -ENOMEM;
        }
        if (!string_is_safe(s) || strchr(s, ' ') || curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || isempty(host)) {
                ctx_error(ctx, n, path, "expected a URL like %s://host/path, got %s", schemes[0], SHOWN(n));
                goto finish;
        }
        bool scheme_ok = false;
        for (size_t i = 0; schemes[i]; i++)
                scheme_ok = scheme_ok || streq(scheme, schemes[i]);
        /* libcurl also takes "smtp:/host" for smtp://host; the text is what
         * the rest of tomslink reads (the STARTTLS check below), so it must
         * say what libcurl understands */
        size_t sl = strlen(scheme);
        if (scheme_ok && (strncasecmp(s, scheme, sl) != 0 || !strneq(s + sl, "://", 3))) {
                ctx_error(ctx, n, path, "expected a URL like %s://host/path, got %s", schemes[0], SHOWN(n));
                goto finish;
        }
        if (!scheme_ok) {
                ctx_error(ctx, n, path, "expected a %s:// URL%s, got %s", schemes[0],
                          schemes[1] ? " (or another listed scheme)" : "", SHOWN(n));
                goto finish;
        }
        if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
                ctx_error(ctx, n, path, "a user name or password in the URL is not allowed "
                                        "(credentials live in the encrypted store)");
                goto finish;
        }
        if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
                ctx_error(ctx, n, path, "a #fragment in the URL is not allowed, got %s", SHOWN(n));
                goto finish;
        }
        if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
                ctx_error(ctx, n, path, "expected a URL with a known port, got %s", SHOWN(n));
                goto finish;
        }
        if (ret_hostport) {
                char *hp;
                if (asprintf(&hp, "%s:%s", host, port) < 0) {
                        ctx->oom = true;
                        r = -ENOMEM;
                        goto finish;
                }
                free(*ret_hostport);
                *ret_hostport = hp;
        }
        r = parse_string(ctx, n, path, "a URL", ret);
finish:
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(user);
        curl_free(frag);
        curl_url_cleanup(u);
        return r;
}

static const char *const https_only[] = { "https", NULL };
static const char *const smtp_schemes[] = { "smtp", "smtps", NULL };

/* A scalar or a list of scalars, each checked by check() (NULL: any safe string). */
static int parse_strlist(Ctx *ctx, const YNode *n, const char *path, const char *expected,
                         bool (*check)(const char *), char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const YNode *const *items = (const YNode *const *) &n;
        size_t count = 1;
        bool bad = false;

        if (n && n->type == YNODE_SEQUENCE) {
                items = (const YNode *const *) n->items;
                count = n->n_items;
        } else if (n && n->type == YNODE_MAPPING) {
                ctx_error(ctx, n, path, "expected %s or a list of them, got a mapping", expected);
                return -EINVAL;
        }
        for (size_t i = 0; i < count; i++) {
                const YNode *it = items[i];
                const char *s = want_scalar(ctx, it, path, expected);
                if (!s) {
                        bad = true;
                        continue;
                }
                if (!string_is_safe(s) || (check && !check(s))) {
                        ctx_error(ctx, it, path, "expected %s, got %s", expected, SHOWN(it));
                        bad = true;
                        continue;
                }
                if (strv_contains(l, s)) {
                        ctx_error(ctx, it, path, "%s is listed twice", SHOWN(it));
                        bad = true;
                        continue;
                }
                if (strv_extend(&l, s) < 0) {
                        ctx->oom = true;
                        return -ENOMEM;
                }
        }
        if (bad)
                return -EINVAL;
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

static int cmp_unsigned_desc(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? 1 : x > y ? -1 : 0;
}

/* A list of day counts (a single number also works), returned sorted descending. */
static int parse_days(Ctx *ctx, const YNode *n, const char *path, unsigned **ret, size_t *ret_n) {
        const YNode *const *items = (const YNode *const *) &n;
        size_t count = 1;
        bool bad = false;

        if (n && n->type == YNODE_SEQUENCE) {
                items = (const YNode *const *) n->items;
                count = n->n_items;
        } else if (!n || n->type != YNODE_SCALAR) {
                ctx_error(ctx, n, path, "expected a list of day counts like [30, 14, 7], got %s", SHOWN(n));
                return -EINVAL;
        }
        _cleanup_free_ unsigned *v = calloc(MAX(count, (size_t) 1), sizeof(unsigned));
        if (!v) {
                ctx->oom = true;
                return -ENOMEM;
        }
        for (size_t i = 0; i < count; i++) {
                if (parse_uint(ctx, items[i], path, 1, 3650, &v[i]) < 0) {
                        bad = true;
                        continue;
                }
                for (size_t j = 0; j < i; j++)
                        if (v[j] == v[i]) {
                                ctx_error(ctx, items[i], path, "%u days is listed twice", v[i]);
                                bad = true;
                        }
        }
        if (bad)
                return -EINVAL;
        qsort(v, count, sizeof(unsigned), cmp_unsigned_desc);
        free(*ret);
        *ret = TAKE_PTR(v);
        *ret_n = count;
        return 0;
}

static int parse_statuses(Ctx *ctx, const YNode *n, const char *path, StatusSet *ret) {
        const YNode *const *items = (const YNode *const *) &n;
        size_t count = 1;
        StatusSet s = {};
        bool bad = false;

        if (n && n->type == YNODE_SEQUENCE) {
                items = (const YNode *const *) n->items;
                count = n->n_items;
        }
        if (count == 0) {
                ctx_error(ctx, n, path, "expected at least one HTTP status, got an empty list");
                return -EINVAL;
        }
        for (size_t i = 0; i < count; i++) {
                unsigned v;
                if (parse_uint(ctx, items[i], path, 100, 599, &v) < 0)
                        bad = true;
                else
                        status_set_add(&s, v);
        }
        if (bad)
                return -EINVAL;
        *ret = s;
        return 0;
}

static int parse_time(Ctx *ctx, const YNode *n, const char *path, const Tz *tz, usec_t *ret) {
        const char *s = want_scalar(ctx, n, path, "a timestamp");
        if (!s)
                return -EINVAL;
        int r = parse_timestamp(s, tz, ret);
        if (r == -EADDRNOTAVAIL)
                ctx_error(ctx, n, path, "expected a time with an offset like 2026-06-30T17:00:00-07:00 "
                                        "(or a date alone), got %s", SHOWN(n));
        else if (r == -ERANGE)
                ctx_error(ctx, n, path, "timestamp out of range: %s", SHOWN(n));
        else if (r < 0)
                ctx_error(ctx, n, path, "expected a timestamp like 2026-06-30T17:00:00-07:00 or a date "
                                        "like 2026-07-01, got %s", SHOWN(n));
        return r;
}

/* ---- mappings ------------------------------------------------------------------ */

typedef struct KeyNode {
        const char *key;
        const YNode *key_node;
        const YNode *value;
} KeyNode;

/* Checks that n is a mapping whose keys are all in keys[] (each once), and
 * fills found[i] with the value of keys[i]. Returns false if n is not a
 * mapping. */
static bool map_keys(Ctx *ctx, const YNode *n, const char *path, const char *const *keys, KeyNode *found) {
        size_t nkeys = 0;
        while (keys[nkeys])
                nkeys++;
        for (size_t i = 0; i < nkeys; i++)
                found[i] = (KeyNode) { .key = keys[i] };
        if (!n || n->type != YNODE_MAPPING) {
                ctx_error(ctx, n, path, "expected a mapping of keys to values, got %s", SHOWN(n));
                return false;
        }
        for (size_t p = 0; p < ynode_n_pairs(n); p++) {
                const YNode *k = n->items[2 * p], *v = n->items[2 * p + 1];
                if (k->type != YNODE_SCALAR || strlen(k->value) != k->length) {
                        ctx_error(ctx, k, path, "expected a plain key, got %s", SHOWN(k));
                        continue;
                }
                size_t i;
                for (i = 0; i < nkeys; i++)
                        if (streq(keys[i], k->value))
                                break;
                _cleanup_free_ char *kp = path_join_key(path, k->value);
                if (i >= nkeys) {
                        const char *best = NULL;
                        unsigned bestd = 3;
                        for (size_t j = 0; j < nkeys; j++) {
                                unsigned d = string_distance(keys[j], k->value);
                                if (d < bestd) {
                                        bestd = d;
                                        best = keys[j];
                                }
                        }
                        if (best)
                                ctx_error(ctx, k, kp ?: path, "unknown key (did you mean \"%s\"?)", best);
                        else {
                                StrBuf b = STRBUF_NULL;
                                for (size_t j = 0; j < nkeys; j++)
                                        strbuf_printf(&b, "%s%s", j ? ", " : "", keys[j]);
                                ctx_error(ctx, k, kp ?: path, "unknown key (expected one of: %s)", b.data ?: "");
                                strbuf_done(&b);
                        }
                        continue;
                }
                if (found[i].key_node) {
                        ctx_error(ctx, k, kp ?: path, "key given twice (first at line %u)",
                                  found[i].key_node->line);
                        continue;
                }
                found[i].key_node = k;
                found[i].value = v;
        }
        return true;
}

/* Value nodes that are null ("key:" with nothing) count as absent for
 * optional sections, so that commenting out a section's body works. */
static const YNode *present(const KeyNode *k) {
        return k->key_node && !ynode_is_null(k->value) ? k->value : NULL;
}

/* The probe keys valid both under probe: and in a link. */
#define PROBE_KEYS                                                                                     \
        "interval", "timeout", "connect_timeout", "failures_before_alert", "reuse_connections",          \
                "follow_redirects", "ca_file", "method", "auth", "auth_header", "token_url",             \
                "expect_status", "lifetime"
enum {
        PK_INTERVAL,
        PK_TIMEOUT,
        PK_CONNECT_TIMEOUT,
        PK_FAILURES,
        PK_REUSE,
        PK_REDIRECTS,
        PK_CA_FILE,
        PK_METHOD,
        PK_AUTH,
        PK_AUTH_HEADER,
        PK_TOKEN_URL,
        PK_EXPECT_STATUS,
        PK_LIFETIME,
        _PK_MAX,
};

static void parse_probe_keys(Ctx *ctx, const KeyNode *k, const char *path, ProbeSettings *p) {
        const YNode *v;
        _cleanup_free_ char *kp = NULL;
#define KP(i) (free(kp), kp = path_join(path, k[i].key), kp ?: k[i].key)

        if (k[PK_INTERVAL].key_node)
                parse_dur(ctx, k[PK_INTERVAL].value, KP(PK_INTERVAL), "15m", USEC_PER_SEC, 7 * USEC_PER_DAY,
                          &p->interval);
        if (k[PK_TIMEOUT].key_node)
                parse_dur(ctx, k[PK_TIMEOUT].value, KP(PK_TIMEOUT), "20s", 100 * USEC_PER_MSEC,
                          10 * USEC_PER_MINUTE, &p->timeout);
        if (k[PK_CONNECT_TIMEOUT].key_node)
                parse_dur(ctx, k[PK_CONNECT_TIMEOUT].value, KP(PK_CONNECT_TIMEOUT), "10s",
                          100 * USEC_PER_MSEC, 10 * USEC_PER_MINUTE, &p->connect_timeout);
        if (k[PK_FAILURES].key_node)
                parse_uint(ctx, k[PK_FAILURES].value, KP(PK_FAILURES), 1, 1000, &p->failures_before_alert);
        if (k[PK_REUSE].key_node)
                parse_bool(ctx, k[PK_REUSE].value, KP(PK_REUSE), &p->reuse_connections);
        if (k[PK_REDIRECTS].key_node)
                parse_bool(ctx, k[PK_REDIRECTS].value, KP(PK_REDIRECTS), &p->follow_redirects);
        if (k[PK_CA_FILE].key_node)
                parse_path(ctx, k[PK_CA_FILE].value, KP(PK_CA_FILE), &p->ca_file);
        if (k[PK_METHOD].key_node) {
                int m;
                if (parse_enum(ctx, k[PK_METHOD].value, KP(PK_METHOD), probe_method_table, _PROBE_METHOD_MAX,
                               &m) >= 0)
                        p->method = m;
        }
        if (k[PK_AUTH].key_node) {
                int a;
                if (parse_enum(ctx, k[PK_AUTH].value, KP(PK_AUTH), probe_auth_table, _PROBE_AUTH_MAX, &a) >= 0)
                        p->auth = a;
        }
        if ((v = k[PK_AUTH_HEADER].value) && k[PK_AUTH_HEADER].key_node) {
                const char *s = want_scalar(ctx, v, KP(PK_AUTH_HEADER), "an HTTP header name");
                if (s && !http_header_name_is_valid(s))
                        ctx_error(ctx, v, kp, "expected an HTTP header name like X-Api-Key, got %s", SHOWN(v));
                else if (s)
                        parse_string(ctx, v, kp, "an HTTP header name", &p->auth_header);
        }
        if (k[PK_TOKEN_URL].key_node)
                parse_url(ctx, k[PK_TOKEN_URL].value, KP(PK_TOKEN_URL), https_only, &p->token_url, NULL);
        if (k[PK_EXPECT_STATUS].key_node)
                parse_statuses(ctx, k[PK_EXPECT_STATUS].value, KP(PK_EXPECT_STATUS), &p->expect_status);
        if (k[PK_LIFETIME].key_node)
                parse_dur(ctx, k[PK_LIFETIME].value, KP(PK_LIFETIME), "365d", USEC_PER_HOUR,
                          3650 * USEC_PER_DAY, &p->lifetime);
#undef KP
}

/* Checks that only make sense once a link's settings are complete. */
static void check_probe_settings(Ctx *ctx, const YNode *at, const char *path, const ProbeSettings *p) {
        char a[DURATION_MAX], b[DURATION_MAX];
        if (p->connect_timeout > p->timeout)
                ctx_error(ctx, at, path, "connect_timeout (%s) must not be longer than timeout (%s)",
                          format_duration(a, sizeof a, p->connect_timeout), format_duration(b, sizeof b, p->timeout));
        if (p->auth == PROBE_AUTH_OAUTH2 && !p->token_url)
                ctx_error(ctx, at, path, "auth: oauth2 needs token_url");
        if (p->auth == PROBE_AUTH_HEADER && !p->auth_header)
                ctx_error(ctx, at, path, "auth: header needs auth_header (the header that carries the secret key)");
}

static void parse_probe_section(Ctx *ctx, const YNode *n) {
        static const char *const keys[] = { PROBE_KEYS, "max_parallel", "per_host_parallel", NULL };
        KeyNode k[ELEMENTSOF(keys)];
        Config *c = ctx->config;

        if (!map_keys(ctx, n, "probe", keys, k))
                return;
        parse_probe_keys(ctx, k, "probe", &c->probe);
        if (k[_PK_MAX].key_node)
                parse_uint(ctx, k[_PK_MAX].value, "probe.max_parallel", 1, 10000, &c->max_parallel);
        if (k[_PK_MAX + 1].key_node)
                parse_uint(ctx, k[_PK_MAX + 1].value, "probe.per_host_parallel", 1, 1000, &c->per_host_parallel);
}

static void parse_paths_section(Ctx *ctx, const YNode *n) {
        static const char *const keys[] = { "state_directory", "runtime_directory", "key_file", NULL };
        KeyNode k[ELEMENTSOF(keys)];
        Config *c = ctx->config;
        if (!map_keys(ctx, n, "paths", keys, k))
                return;
        if (present(&k[0]))
                parse_path(ctx, k[0].value, "paths.state_directory", &c->state_directory);
        if (present(&k[1]))
                parse_path(ctx, k[1].value, "paths.runtime_directory", &c->runtime_directory);
        if (present(&k[2]))
                parse_path(ctx, k[2].value, "paths.key_file", &c->key_file);
}

static void parse_alerts_section(Ctx *ctx, const YNode *n) {
        static const char *const keys[] = { "expiry_warn_days", "repeat", "endpoint_cert_warn_days", NULL };
        KeyNode k[ELEMENTSOF(keys)];
        Config *c = ctx->config;
        if (!map_keys(ctx, n, "alerts", keys, k))
                return;
        if (k[0].key_node) {
                if (ynode_is_null(k[0].value) || (k[0].value->type == YNODE_SEQUENCE && k[0].value->n_items == 0))
                        c->expiry_warn_days = mfree(c->expiry_warn_days), c->n_expiry_warn_days = 0;
                else
                        parse_days(ctx, k[0].value, "alerts.expiry_warn_days", &c->expiry_warn_days,
                                   &c->n_expiry_warn_days);
        }
        if (k[1].key_node)
                parse_dur(ctx, k[1].value, "alerts.repeat", "24h", USEC_PER_MINUTE, 30 * USEC_PER_DAY, &c->repeat);
        if (k[2].key_node) {
                if (ynode_is_null(k[2].value) || (k[2].value->type == YNODE_SEQUENCE && k[2].value->n_items == 0))
                        c->cert_warn_days = mfree(c->cert_warn_days), c->n_cert_warn_days = 0;
                else
                        parse_days(ctx, k[2].value, "alerts.endpoint_cert_warn_days", &c->cert_warn_days,
                                   &c->n_cert_warn_days);
        }
}

static bool url_host_is_loopback(const char *url) {
        CURLU *u = curl_url();
        char *host = NULL;
        bool r = false;
        if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
                r = host_is_loopback(host);
        curl_free(host);
        curl_url_cleanup(u);
        return r;
}

static void parse_email_section(Ctx *ctx, const YNode *n) {
        static const char *const keys[] = { "smtp_url", "starttls", "username", "password_file", "from",
                                             "to", "ca_file", "timeout", NULL };
        KeyNode k[ELEMENTSOF(keys)];
        EmailConfig *e = &ctx->config->email;
        if (!map_keys(ctx, n, "email", keys, k))
                return;
        e->enabled = true;

        if (!k[0].key_node)
                ctx_error(ctx, n, "email.smtp_url", "required: the relay, like smtp://mail.example.org:587");
        else {
                const YNode *v = k[0].value;
                const YNode *const *items = (const YNode *const *) &v;
                size_t count = 1;
                if (v->type == YNODE_SEQUENCE) {
                        items = (const YNode *const *) v->items;
                        count = v->n_items;
                        if (count == 0)
                                ctx_error(ctx, v, "email.smtp_url", "expected at least one relay URL");
                }
                for (size_t i = 0; i < count; i++) {
                        _cleanup_free_ char *url = NULL;
                        if (parse_url(ctx, items[i], "email.smtp_url", smtp_schemes, &url, NULL) >= 0 &&
                            strv_push(&e->smtp_urls, TAKE_PTR(url)) < 0)
                                ctx->oom = true;
                }
        }
        if (k[1].key_node) {
                int s;
                if (parse_enum(ctx, k[1].value, "email.starttls", starttls_table, _STARTTLS_MAX, &s) >= 0)
                        e->starttls = s;
        }
        if (present(&k[2]))
                parse_string(ctx, k[2].value, "email.username", "a user name", &e->username);
        if (present(&k[3]))
                parse_path(ctx, k[3].value, "email.password_file", &e->password_file);
        if (!k[4].key_node)
                ctx_error(ctx, n, "email.from", "required: the sender, like \"TOMS link monitor <tomslink@example.org>\"");
        else if (parse_string(ctx, k[4].value, "email.from", "a sender address", &e->from) >= 0 &&
                 email_from_parse(e->from, &e->from_name, &e->from_address) < 0)
                ctx_error(ctx, k[4].value, "email.from",
                          "expected an address like tomslink@example.org or \"Name <tomslink@example.org>\", got %s",
                          SHOWN(k[4].value));
        if (!k[5].key_node)
                ctx_error(ctx, n, "email.to", "required: at least one recipient address");
        else if (parse_strlist(ctx, k[5].value, "email.to", "an e-mail address", email_address_is_valid, &e->to) >= 0 &&
                 strv_length(e->to) == 0)
                ctx_error(ctx, k[5].value, "email.to", "expected at least one recipient address");
        if (present(&k[6]))
                parse_path(ctx, k[6].value, "email.ca_file", &e->ca_file);
        if (k[7].key_node)
                parse_dur(ctx, k[7].value, "email.timeout", "60s", USEC_PER_SEC, 10 * USEC_PER_MINUTE, &e->timeout);

        /* AUTH over a connection that is never encrypted would send the
         * password in clear; only a relay on this machine may do that. With
         * "optional" an attacker in the path who strips STARTTLS from the
         * relay's EHLO answer gets the same: refused alike. */
        if (e->username && (e->starttls == STARTTLS_OFF || e->starttls == STARTTLS_OPTIONAL))
                STRV_FOREACH(u, e->smtp_urls)
                        if (strncasecmp(*u, "smtp://", 7) == 0 && !url_host_is_loopback(*u))
                                ctx_error(ctx, k[1].value, "email.starttls",
                                          e->starttls == STARTTLS_OFF ?
                                          "off with a username would send the password in clear to %s; "
                                          "use required, or smtps://" :
                                          "optional with a username would send the password in clear to %s "
                                          "if STARTTLS were stripped on the way; use required, or smtps://", *u);
}

static void parse_metrics_section(Ctx *ctx, const YNode *n) {
        static const char *const keys[] = { "textfile", NULL };
        KeyNode k[ELEMENTSOF(keys)];
        Config *c = ctx->config;
        if (!map_keys(ctx, n, "metrics", keys, k))
                return;
        if (present(&k[0]) && parse_path(ctx, k[0].value, "metrics.textfile", &c->metrics_textfile) >= 0) {
                size_t l = strlen(c->metrics_textfile);
                if (l < 6 || !streq(c->metrics_textfile + l - 5, ".prom"))
                        ctx_error(ctx, k[0].value, "metrics.textfile",
                                  "expected a file name ending in .prom (node_exporter reads only those), got %s",
                                  SHOWN(k[0].value));
        }
}

static void parse_link(Ctx *ctx, const YNode *n, size_t index, LinkConfig *l) {
        static const char *const keys[] = { "name", "cds_code", "url", "email_to", "consumers", PROBE_KEYS,
                                             "max_parallel", "per_host_parallel", NULL };
        enum { K_NAME, K_CDS, K_URL, K_EMAIL_TO, K_CONSUMERS, K_PROBE };
        KeyNode k[ELEMENTSOF(keys)];
        char path[32 + LINK_NAME_MAX];
        _cleanup_free_ char *kp = NULL;

        l->line = n ? n->line : 0;
        snprintf(path, sizeof path, "links[%zu]", index);
        if (probe_settings_copy(&l->probe, &ctx->config->probe) < 0) {
                ctx->oom = true;
                return;
        }
        if (!map_keys(ctx, n, path, keys, k))
                return;

        if (!k[K_NAME].key_node)
                ctx_error(ctx, n, path, "name: required, like district or school-a");
        else {
                const char *s = want_scalar(ctx, k[K_NAME].value, "links.name", "a link name");
                if (s && !link_name_is_valid(s))
                        ctx_error(ctx, k[K_NAME].value, "links.name",
                                  "expected a name of lowercase letters, digits and dashes (at most %d), got %s",
                                  LINK_NAME_MAX, SHOWN(k[K_NAME].value));
                else if (s) {
                        l->name = strdup(s);
                        if (!l->name)
                                ctx->oom = true;
                        else
                                snprintf(path, sizeof path, "links.%s", s);
                }
        }
#define KP(i) (free(kp), kp = path_join(path, keys[i]), kp ?: keys[i])
        if (present(&k[K_CDS])) {
                const char *s = want_scalar(ctx, k[K_CDS].value, KP(K_CDS), "a CDS code");
                if (s && !cds_code_is_valid(s))
                        ctx_error(ctx, k[K_CDS].value, kp, "expected a 14-digit County-District-School code, got %s",
                                  SHOWN(k[K_CDS].value));
                else if (s)
                        parse_string(ctx, k[K_CDS].value, kp, "a CDS code", &l->cds_code);
        }
        if (!k[K_URL].key_node)
                ctx_error(ctx, n, KP(K_URL), "required: the TOMS endpoint to probe, like https://toms.example/api/ping");
        else
                parse_url(ctx, k[K_URL].value, KP(K_URL), https_only, &l->url, &l->host);
        if (present(&k[K_EMAIL_TO]))
                parse_strlist(ctx, k[K_EMAIL_TO].value, KP(K_EMAIL_TO), "an e-mail address", email_address_is_valid,
                              &l->email_to);
        if (present(&k[K_CONSUMERS]))
                parse_strlist(ctx, k[K_CONSUMERS].value, KP(K_CONSUMERS), "the name of a system", NULL,
                              &l->consumers);
        parse_probe_keys(ctx, k + K_PROBE, path, &l->probe);
        for (size_t i = K_PROBE + _PK_MAX; keys[i]; i++)
                if (k[i].key_node)
                        ctx_error(ctx, k[i].key_node, KP(i), "is a global limit: set it under probe:");
#undef KP
        check_probe_settings(ctx, n, path, &l->probe);
}

static int link_name_cmp(const void *a, const void *b) {
        const LinkConfig *x = *(LinkConfig *const *) a, *y = *(LinkConfig *const *) b;
        return strcmp(x->name ?: "", y->name ?: "");
}

static void parse_links_section(Ctx *ctx, const YNode *n) {
        Config *c = ctx->config;
        if (!n || n->type != YNODE_SEQUENCE) {
                if (ynode_is_null(n))
                        return;   /* "links:" with nothing: no links yet */
                ctx_error(ctx, n, "links", "expected a list of links (each starting with \"- name: ...\"), got %s",
                          SHOWN(n));
                return;
        }
        c->links = calloc(MAX(n->n_items, (size_t) 1), sizeof(LinkConfig));
        c->links_by_name = calloc(MAX(n->n_items, (size_t) 1), sizeof(LinkConfig *));
        if (!c->links || !c->links_by_name) {
                ctx->oom = true;
                return;
        }
        c->n_links = n->n_items;
        for (size_t i = 0; i < n->n_items; i++) {
                parse_link(ctx, n->items[i], i, &c->links[i]);
                c->links_by_name[i] = &c->links[i];
        }
        qsort(c->links_by_name, c->n_links, sizeof(LinkConfig *), link_name_cmp);
        for (size_t i = 1; i < c->n_links; i++) {
                LinkConfig *a = c->links_by_name[i - 1], *b = c->links_by_name[i];
                if (!a->name || !b->name || !streq(a->name, b->name))
                        continue;
                /* report at the later of the two */
                LinkConfig *first = a->line <= b->line ? a : b, *second = a->line <= b->line ? b : a;
                size_t idx = (size_t) (second - c->links);
                const YNode *item = n->items[idx];
                const YNode *at = item;
                for (size_t p = 0; item->type == YNODE_MAPPING && p < ynode_n_pairs(item); p++)
                        /* a key may be a list or a mapping ("? [k]"), with no text */
                        if (item->items[2 * p]->type == YNODE_SCALAR && streq(item->items[2 * p]->value, "name"))
                                at = item->items[2 * p + 1];
                ctx_error(ctx, at, "links.name", "duplicate link name \"%s\" (first defined at line %u)",
                          second->name, first->line);
        }
}

static void parse_maintenance_section(Ctx *ctx, const YNode *n) {
        static const char *const keys[] = { "name", "start", "end", "timezone", "links", NULL };
        Config *c = ctx->config;
        if (ynode_is_null(n))
                return;
        if (n->type != YNODE_SEQUENCE) {
                ctx_error(ctx, n, "maintenance", "expected a list of windows (each with name, start and end), got %s",
                          SHOWN(n));
                return;
        }
        c->maintenance = calloc(MAX(n->n_items, (size_t) 1), sizeof(MaintenanceWindow));
        if (!c->maintenance) {
                ctx->oom = true;
                return;
        }
        c->n_maintenance = n->n_items;
        for (size_t i = 0; i < n->n_items; i++) {
                KeyNode k[ELEMENTSOF(keys)];
                MaintenanceWindow *w = &c->maintenance[i];
                char path[48];
                _cleanup_(tz_freep) Tz *wtz = NULL;
                snprintf(path, sizeof path, "maintenance[%zu]", i);
                if (!map_keys(ctx, n->items[i], path, keys, k))
                        continue;
                if (!k[0].key_node)
                        ctx_error(ctx, n->items[i], path, "name: required, like \"TOMS yearly rollover\"");
                else
                        parse_string(ctx, k[0].value, "maintenance.name", "a name", &w->name);
                const Tz *tz = c->tz;
                if (k[3].key_node) {
                        const char *s = want_scalar(ctx, k[3].value, "maintenance.timezone", "a time zone name");
                        int r = s ? tz_load(ctx->tzdir, s, &wtz) : -EINVAL;
                        if (s && r < 0)
                                ctx_error(ctx, k[3].value, "maintenance.timezone",
                                          "expected a time zone name like America/Los_Angeles, got %s (%s)",
                                          SHOWN(k[3].value), r == -ENOENT || r == -EINVAL ? "no such zone" : strerror(-r));
                        if (wtz)
                                tz = wtz;
                }
                bool ok = true;
                if (!k[1].key_node) {
                        ctx_error(ctx, n->items[i], "maintenance.start", "required");
                        ok = false;
                } else if (parse_time(ctx, k[1].value, "maintenance.start", tz, &w->start) < 0)
                        ok = false;
                if (!k[2].key_node) {
                        ctx_error(ctx, n->items[i], "maintenance.end", "required");
                        ok = false;
                } else if (parse_time(ctx, k[2].value, "maintenance.end", tz, &w->end) < 0)
                        ok = false;
                if (ok && w->end <= w->start)
                        ctx_error(ctx, k[2].value, "maintenance.end", "must be after start");
                if (present(&k[4]) && parse_strlist(ctx, k[4].value, "maintenance.links", "a link name",
                                                    link_name_is_valid, &w->links) >= 0)
                        for (size_t j = 0; w->links && w->links[j]; j++)
                                if (!config_find_link(c, w->links[j]))
                                        ctx_error(ctx, k[4].value, "maintenance.links", "no link is named \"%s\"",
                                                  w->links[j]);
        }
}

static void config_set_defaults(Config *c) {
        c->probe = (ProbeSettings) {
                .interval = 15 * USEC_PER_MINUTE,
                .timeout = 20 * USEC_PER_SEC,
                .connect_timeout = 10 * USEC_PER_SEC,
                .failures_before_alert = 3,
                .reuse_connections = true,
                .method = PROBE_METHOD_GET,
                .auth = PROBE_AUTH_BASIC,
                .lifetime = 365 * USEC_PER_DAY,
        };
        status_set_add(&c->probe.expect_status, 200);
        c->max_parallel = 64;
        c->per_host_parallel = 4;
        c->repeat = 24 * USEC_PER_HOUR;
        c->email.starttls = STARTTLS_REQUIRED;
        c->email.timeout = 60 * USEC_PER_SEC;
}

static int set_default_days(unsigned **ret, size_t *ret_n, const unsigned *v, size_t n) {
        *ret = malloc(n * sizeof(unsigned));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, v, n * sizeof(unsigned));
        *ret_n = n;
        return 0;
}

static void parse_root(Ctx *ctx, const YNode *root) {
        static const char *const keys[] = { "timezone", "paths", "probe", "alerts", "email", "metrics",
                                             "maintenance", "links", NULL };
        enum { K_TZ, K_PATHS, K_PROBE, K_ALERTS, K_EMAIL, K_METRICS, K_MAINT, K_LINKS };
        KeyNode k[ELEMENTSOF(keys)];
        Config *c = ctx->config;
        int r;

        if (!root) {
                ctx_error(ctx, NULL, NULL, "the file is empty: expected a mapping with at least links:");
                return;
        }
        if (!map_keys(ctx, root, NULL, keys, k))
                return;

        /* The time zone first: dates elsewhere are read in it. */
        if (present(&k[K_TZ])) {
                const char *s = want_scalar(ctx, k[K_TZ].value, "timezone", "a time zone name");
                if (s) {
                        r = tz_load(ctx->tzdir, s, &c->tz);
                        if (r < 0)
                                ctx_error(ctx, k[K_TZ].value, "timezone",
                                          "expected a time zone name like America/Los_Angeles, got %s (%s)",
                                          SHOWN(k[K_TZ].value),
                                          r == -ENOENT || r == -EINVAL ? "no such zone" : strerror(-r));
                        else if (!(c->timezone = strdup(s)))
                                ctx->oom = true;
                }
        }
        if (!c->tz) {
                r = tz_load(ctx->tzdir, NULL, &c->tz);
                if (r < 0 && tz_load_from_rule("UTC", "UTC0", &c->tz) < 0)
                        ctx->oom = true;
        }
        if (present(&k[K_PATHS]))
                parse_paths_section(ctx, k[K_PATHS].value);
        if (present(&k[K_PROBE]))
                parse_probe_section(ctx, k[K_PROBE].value);
        if (c->per_host_parallel > c->max_parallel)
                ctx_error(ctx, k[K_PROBE].value, "probe.per_host_parallel", "must not be more than max_parallel (%u)",
                          c->max_parallel);
        if (present(&k[K_ALERTS]))
                parse_alerts_section(ctx, k[K_ALERTS].value);
        if (present(&k[K_EMAIL]))
                parse_email_section(ctx, k[K_EMAIL].value);
        if (present(&k[K_METRICS]))
                parse_metrics_section(ctx, k[K_METRICS].value);
        if (!k[K_LINKS].key_node)
                ctx_error(ctx, root, "links", "required: the list of links to watch (may be empty: links: [])");
        else
                parse_links_section(ctx, k[K_LINKS].value);
        if (k[K_MAINT].key_node)
                parse_maintenance_section(ctx, k[K_MAINT].value);
}

typedef struct SortedError {
        unsigned long line, column;
        size_t index;
        char *text;
} SortedError;

static int sorted_error_cmp(const void *a, const void *b) {
        const SortedError *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Orders errors by position in the file, so they read top to bottom. */
static void sort_errors(const char *file, char **errors) {
        size_t n = strv_length(errors), skip = strlen(file) + 1;
        SortedError *v = calloc(MAX(n, (size_t) 1), sizeof(SortedError));
        if (!v)
                return;   /* unsorted is still correct */
        for (size_t i = 0; i < n; i++) {
                v[i] = (SortedError) { .index = i, .text = errors[i] };
                if (strlen(errors[i]) > skip && strneq(errors[i], file, skip - 1) && errors[i][skip - 1] == ':') {
                        char *end;
                        v[i].line = strtoul(errors[i] + skip, &end, 10);
                        if (*end == ':')
                                v[i].column = strtoul(end + 1, NULL, 10);
                }
        }
        qsort(v, n, sizeof(SortedError), sorted_error_cmp);
        for (size_t i = 0; i < n; i++)
                errors[i] = v[i].text;
        free(v);
}

int config_load_string(const char *name, const void *data, size_t size, const char *tzdir, Config **ret,
                       char ***ret_errors) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));
        _cleanup_(ynode_freep) YNode *root = NULL;
        Ctx ctx = { .file = name, .tzdir = tzdir };
        YNodeError yerr;
        int r;

        static const unsigned default_warn[] = { 60, 30, 21, 14, 7, 3, 1 };
        static const unsigned default_cert_warn[] = { 30, 14, 7 };

        if (!c || !(c->path = strdup(name)))
                return -ENOMEM;
        ctx.config = c;
        config_set_defaults(c);
        if (set_default_days(&c->expiry_warn_days, &c->n_expiry_warn_days, default_warn, ELEMENTSOF(default_warn)) < 0 ||
            set_default_days(&c->cert_warn_days, &c->n_cert_warn_days, default_cert_warn,
                             ELEMENTSOF(default_cert_warn)) < 0)
                return -ENOMEM;

        if (size > CONFIG_FILE_SIZE_MAX) {
                ctx_error(&ctx, NULL, NULL, "the file is too large (%zu bytes, at most %u)", size,
                          CONFIG_FILE_SIZE_MAX);
                r = -EINVAL;
        } else if (memchr(data, '\0', size)) {
                /* libyaml would stop at a NUL without saying so */
                size_t off = (size_t) ((const char *) memchr(data, '\0', size) - (const char *) data);
                unsigned line = 1, col = 1;
                for (size_t i = 0; i < off; i++)
                        if (((const char *) data)[i] == '\n')
                                line++, col = 1;
                        else
                                col++;
                YNode at = { .line = line, .column = col };
                ctx_error(&ctx, &at, NULL, "a NUL byte: this is not a text file");
                r = -EINVAL;
        } else {
                r = ynode_parse(data, size, &root, &yerr);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        YNode at = { .line = yerr.line, .column = yerr.column };
                        ctx_error(&ctx, &at, NULL, "invalid YAML: %s", yerr.message);
                } else
                        parse_root(&ctx, root);
        }
        if (ctx.oom) {
                strv_free(ctx.errors);
                return -ENOMEM;
        }
        if (ctx.n_errors > 0 || r < 0) {
                sort_errors(name, ctx.errors);
                if (ret_errors)
                        *ret_errors = TAKE_PTR(ctx.errors);
                strv_free(ctx.errors);
                return -EINVAL;
        }
        strv_free(ctx.errors);
        *ret = TAKE_PTR(c);
        if (ret_errors)
                *ret_errors = NULL;
        return 0;
}

int config_load_file(const char *path, const char *tzdir, Config **ret, char ***ret_errors) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t got = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto fail;
        }
        if (st.st_size > CONFIG_FILE_SIZE_MAX) {
                r = -EFBIG;
                goto fail;
        }
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (got > (size_t) st.st_size) {
                        r = -EFBIG;   /* grew while we read it */
                        goto fail;
                }
                ssize_t n = read(fd, buf + got, (size_t) st.st_size + 1 - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        return config_load_string(path, buf, got, tzdir, ret, ret_errors);
fail:
        if (ret_errors) {
                char *msg = NULL;
                *ret_errors = NULL;
                if (r == -EFBIG)
                        r = asprintf(&msg, "%s: the file is too large (at most %u bytes)", path, CONFIG_FILE_SIZE_MAX) < 0
                                    ? -ENOMEM : -EINVAL;
                else if (asprintf(&msg, "%s: cannot read: %s", path, strerror(-r)) < 0)
                        return -ENOMEM;
                if (msg && strv_push(ret_errors, msg) < 0)
                        return -ENOMEM;
        }
        return r;
}

const LinkConfig *config_find_link(const Config *c, const char *name) {
        size_t lo = 0, hi = c->n_links;
        if (!name || !c->links_by_name)
                return NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(name, c->links_by_name[mid]->name ?: "");
                if (d == 0)
                        return c->links_by_name[mid];
                if (d < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

char *config_summary(const Config *c) {
        StrBuf b = STRBUF_NULL;
        strbuf_printf(&b, "%zu link%s", c->n_links, c->n_links == 1 ? "" : "s");
        if (c->email.enabled) {
                size_t n = strv_length(c->email.to);
                strbuf_printf(&b, ", e-mail on (%zu recipient%s via %s)", n, n == 1 ? "" : "s",
                              c->email.smtp_urls ? c->email.smtp_urls[0] : "?");
        } else
                strbuf_puts(&b, ", e-mail off (journal only)");
        if (c->n_maintenance > 0)
                strbuf_printf(&b, ", %zu maintenance window%s", c->n_maintenance, c->n_maintenance == 1 ? "" : "s");
        strbuf_printf(&b, ", time zone %s", tz_name(c->tz));
        return strbuf_steal(&b);
}

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && streq(a, b));
}

bool link_config_probe_equal(const LinkConfig *a, const LinkConfig *b) {
        const ProbeSettings *x = &a->probe, *y = &b->probe;
        return streq_null(a->url, b->url) && x->interval == y->interval && x->timeout == y->timeout &&
               x->connect_timeout == y->connect_timeout && x->reuse_connections == y->reuse_connections &&
               x->follow_redirects == y->follow_redirects && streq_null(x->ca_file, y->ca_file) &&
               x->method == y->method && x->auth == y->auth && streq_null(x->auth_header, y->auth_header) &&
               streq_null(x->token_url, y->token_url) &&
               memcmp(&x->expect_status, &y->expect_status, sizeof(StatusSet)) == 0;
}
