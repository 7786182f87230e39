/* SPDX-License-Identifier: GPL-2.0-or-later */

/* The alert e-mails (mail_format_alert(), mail_format_test(),
 * mail_header_unstructured()) with hostile text wherever text comes from
 * outside: link and consumer names, probe errors, a relay's answers,
 * certificate subjects, the host name, the sender's display name.
 * Input: the alert's numbers (see take_alert()), then NUL-separated
 * strings: link, error, certificate subject, certificate SHA-256, lost
 * subject, relay answer, host name, From name, From address, To address,
 * link URL, CDS code, two consumers, the link's email_to, relay URL.
 *
 * Invariants: a message is formatted exactly when every address is valid
 * and the kind is known; it has CRLF line ends only; its header block
 * ends once, holds exactly the header fields tomslink writes (so no value
 * added one), each once, every line printable ASCII within 998 characters
 * and within 78 unless it is one word that cannot be folded, continuation
 * lines never blank; Subject
 * decodes (RFC 2047) to the subject returned, each encoded-word holding
 * whole UTF-8 characters; To lists the envelope recipients; the body is
 * quoted-printable with lines within 76 characters, no line starting with
 * "." or "From ", and decodes to UTF-8 text without control characters. */

#include <openssl/evp.h>
#include <strings.h>

#include "fuzz.h"
#include "mail.h"
#include "strbuf.h"
#include "strv.h"
#include "validate.h"

static const Tz *zone(unsigned i) {
        static Tz *zones[3];
        static const char *const rules[] = { "UTC0", "PST8PDT,M3.2.0,M11.1.0", "<-0044>0:44:30" };
        i %= ELEMENTSOF(zones);
        if (!zones[i])
                FUZZ_CHECK(tz_load_from_rule("fuzz", rules[i], &zones[i]) == 0, "zone");
        return zones[i];
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes one "=?utf-8?b?...?=" word; NULL if it is not one. */
static char *decode_word(const char *w, size_t n) {
        static const char prefix[] = "=?utf-8?b?";
        size_t pl = strlen(prefix);
        if (n < pl + 2 || strncasecmp(w, prefix, pl) != 0 || !strneq(w + n - 2, "?=", 2))
                return NULL;
        const char *b = w + pl;
        size_t bl = n - pl - 2;
        FUZZ_CHECK(bl % 4 == 0 && bl > 0, "base64 of %zu characters: %.*s", bl, (int) n, w);
        unsigned char *out = malloc(bl / 4 * 3 + 1);
        FUZZ_CHECK(out, "out of memory");
        int k = EVP_DecodeBlock(out, (const unsigned char *) b, (int) bl);
        FUZZ_CHECK(k >= 0, "bad base64 in %.*s", (int) n, w);
        size_t pad = (b[bl - 1] == '=') + (b[bl - 2] == '=');
        size_t len = (size_t) k - pad;
        out[len] = '\0';
        FUZZ_CHECK(strlen((char *) out) == len, "a NUL in an encoded-word");
        FUZZ_CHECK(utf8_is_valid((char *) out, len), "an encoded-word does not hold whole characters: %.*s", (int) n, w);
        return (char *) out;
}

/* A folded header field's value, unfolded and decoded as a reader does:
 * words separated by single spaces; white space between two encoded-words
 * dropped. */
static char *decode_unstructured(const char *value) {
        StrBuf b = STRBUF_NULL;
        bool prev_encoded = false, first = true;
        for (const char *p = value; *p;) {
                FUZZ_CHECK(*p == ' ', "words must be separated by one space: %s", value);
                p++;
                size_t n = strcspn(p, " ");
                FUZZ_CHECK(n > 0, "two spaces in %s", value);
                char *d = decode_word(p, n);
                if (!first && !(d && prev_encoded))
                        strbuf_putc(&b, ' ');
                if (d)
                        strbuf_puts(&b, d);
                else {
                        FUZZ_CHECK(!memmem(p, n, "=?", 2), "a plain word that looks encoded: %.*s", (int) n, p);
                        strbuf_append(&b, p, n);
                }
                prev_encoded = d;
                free(d);
                first = false;
                p += n;
        }
        char *s = strbuf_steal(&b);
        FUZZ_CHECK(s, "out of memory");
        return s;
}

typedef struct Header {
        char *name;
        char *value;    /* unfolded: CRLF removed */
        size_t max_line;
} Header;

static const char *const known_fields[] = {
        "Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "Auto-Submitted", "X-Auto-Response-Suppress", "X-Tomslink-Link",
        "X-Tomslink-Alert",
};

/* Splits a header block (lines ending in CRLF) into fields. */
static size_t parse_headers(const char *h, size_t size, Header *ret, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < size;) {
                const char *eol = memmem(h + i, size - i, "\r\n", 2);
                FUZZ_CHECK(eol, "header line without CRLF");
                size_t len = (size_t) (eol - (h + i));
                FUZZ_CHECK(len <= 998, "header line of %zu characters", len);
                if (len > 78) {
                        /* longer than 78 only where it cannot be folded: one
                         * word after the field name (an address, a Message-ID) */
                        const char *w = h + i, *e = h + i + len;
                        const char *colon = memchr(w, ':', len);
                        if (w[0] != ' ' && w[0] != '\t' && colon)
                                w = colon + 1;
                        while (w < e && (*w == ' ' || *w == '\t'))
                                w++;
                        FUZZ_CHECK(!memchr(w, ' ', (size_t) (e - w)) && !memchr(w, '\t', (size_t) (e - w)),
                                   "a header line of %zu characters that could have been folded: %.*s", len,
                                   (int) len, h + i);
                }
                for (size_t j = 0; j < len; j++)
                        FUZZ_CHECK(h[i + j] >= 0x20 && h[i + j] < 0x7f, "byte 0x%02x in a header line: %.*s",
                                   (unsigned char) h[i + j], (int) len, h + i);
                if (h[i] == ' ' || h[i] == '\t') {
                        FUZZ_CHECK(n > 0, "the header block starts with a continuation line");
                        FUZZ_CHECK(strspn(h + i, " \t") < len, "a blank continuation line");
                        char *v;
                        FUZZ_CHECK(asprintf(&v, "%s%.*s", ret[n - 1].value, (int) len, h + i) >= 0, "oom");
                        free(ret[n - 1].value);
                        ret[n - 1].value = v;
                        ret[n - 1].max_line = MAX(ret[n - 1].max_line, len);
                } else {
                        const char *colon = memchr(h + i, ':', len);
                        FUZZ_CHECK(colon && colon > h + i, "not a header field: %.*s", (int) len, h + i);
                        FUZZ_CHECK(n < max, "too many header fields");
                        ret[n].name = strndup(h + i, (size_t) (colon - (h + i)));
                        ret[n].value = strndup(colon + 1, len - (size_t) (colon + 1 - (h + i)));
                        ret[n].max_line = len;
                        FUZZ_CHECK(ret[n].name && ret[n].value, "oom");
                        bool known = false;
                        for (size_t k = 0; k < ELEMENTSOF(known_fields); k++)
                                known = known || streq(ret[n].name, known_fields[k]);
                        FUZZ_CHECK(known, "a header field tomslink does not write: %s", ret[n].name);
                        for (size_t k = 0; k < n; k++)
                                FUZZ_CHECK(!streq(ret[k].name, ret[n].name), "%s twice", ret[n].name);
                        n++;
                }
                i += len + 2;
        }
        return n;
}

static const Header *field(const Header *h, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(h[i].name, name))
                        return &h[i];
        return NULL;
}

static const Header *need(const Header *h, size_t n, const char *name) {
        const Header *f = field(h, n, name);
        FUZZ_CHECK(f, "no %s", name);
        return f;
}

static void check_body(const char *body) {
        StrBuf text = STRBUF_NULL;
        for (const char *p = body; *p;) {
                const char *eol = strstr(p, "\r\n");
                FUZZ_CHECK(eol, "body line without CRLF");
                size_t len = (size_t) (eol - p);
                FUZZ_CHECK(len <= 76, "quoted-printable line of %zu characters", len);
                FUZZ_CHECK(len == 0 || (p[len - 1] != ' ' && p[len - 1] != '\t'), "white space at a line end");
                FUZZ_CHECK(!(len > 0 && p[0] == '.') && !strneq(p, "From ", 5), "line starts with . or From: %.*s",
                           (int) len, p);
                bool soft = false;
                for (size_t i = 0; i < len; i++) {
                        char c = p[i];
                        FUZZ_CHECK(c >= 0x20 && c < 0x7f, "byte 0x%02x in the body", (unsigned char) c);
                        if (c != '=') {
                                strbuf_putc(&text, c);
                                continue;
                        }
                        if (i + 1 == len) {
                                soft = true;
                                break;
                        }
                        FUZZ_CHECK(i + 2 < len && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0,
                                   "bad =XX in %.*s", (int) len, p);
                        strbuf_putc(&text, (char) (hexval(p[i + 1]) * 16 + hexval(p[i + 2])));
                        i += 2;
                }
                if (!soft)
                        strbuf_putc(&text, '\n');
                p = eol + 2;
        }
        FUZZ_CHECK(!strbuf_failed(&text), "oom");
        const char *t = text.data ?: "";
        FUZZ_CHECK(strlen(t) == text.len, "a NUL in the body text");
        FUZZ_CHECK(utf8_is_valid(t, text.len), "the body is not UTF-8");
        FUZZ_CHECK(fuzz_text_is_clean(t, text.len, "\n"), "a control character in the body text");
        strbuf_done(&text);
}

static void check_message(const MailMessage *m) {
        FUZZ_CHECK(m->data && m->subject && m->message_id && m->recipients && m->recipients[0], "message parts");
        const char *d = m->data;
        size_t size = strlen(d);
        for (size_t i = 0; i < size; i++) {
                if (d[i] == '\r')
                        FUZZ_CHECK(d[i + 1] == '\n', "a CR without LF at %zu", i);
                if (d[i] == '\n')
                        FUZZ_CHECK(i > 0 && d[i - 1] == '\r', "an LF without CR at %zu", i);
        }
        const char *end = strstr(d, "\r\n\r\n");
        FUZZ_CHECK(end, "no end of the header block");

        Header h[32] = {};
        size_t n = parse_headers(d, (size_t) (end - d) + 2, h, ELEMENTSOF(h));
        static const char *const required[] = { "Date", "From", "To", "Subject", "Message-ID", "MIME-Version",
                                                "Content-Type", "Content-Transfer-Encoding", "X-Tomslink-Alert" };
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                (void) need(h, n, required[i]);

        const Header *s = need(h, n, "Subject");
        FUZZ_CHECK(s->max_line <= 78, "Subject line of %zu characters", s->max_line);
        char *subject = decode_unstructured(s->value);
        FUZZ_CHECK(streq(subject, m->subject), "Subject reads \"%s\", the message says \"%s\"", subject, m->subject);
        free(subject);
        const Header *l = field(h, n, "X-Tomslink-Link");
        if (l) {
                FUZZ_CHECK(l->max_line <= 78, "X-Tomslink-Link line of %zu characters", l->max_line);
                char *v = decode_unstructured(l->value);
                FUZZ_CHECK(string_is_safe(v), "X-Tomslink-Link");
                free(v);
        }
        const Header *id = need(h, n, "Message-ID");
        FUZZ_CHECK(id->value[0] == ' ' && streq(id->value + 1, m->message_id) && m->message_id[0] == '<' &&
                           strchr(m->message_id, '@'),
                   "Message-ID %s", id->value);
        const Header *to = need(h, n, "To");
        char *want = strv_join(m->recipients, ", ");
        FUZZ_CHECK(want && to->value[0] == ' ' && streq(to->value + 1, want), "To:%s for %s", to->value, strna(want));
        free(want);
        STRV_FOREACH(a, m->recipients)
                FUZZ_CHECK(email_address_is_valid(*a), "recipient %s", *a);
        for (size_t i = 0; i < n; i++) {
                free(h[i].name);
                free(h[i].value);
        }
        check_body(end + 4);
}

static void check_unstructured(const char *value) {
        char *h = mail_header_unstructured("Subject", value);
        FUZZ_CHECK(h, "mail_header_unstructured");
        size_t len = strlen(h);
        FUZZ_CHECK(len >= 10 && strneq(h, "Subject:", 8) && streq(h + len - 2, "\r\n"), "header %s", h);
        Header f[2] = {};
        FUZZ_CHECK(parse_headers(h, len, f, ELEMENTSOF(f)) == 1, "one field");
        FUZZ_CHECK(f[0].max_line <= 78, "line of %zu characters", f[0].max_line);
        char *d = decode_unstructured(f[0].value);
        FUZZ_CHECK(string_is_safe(d) && !strstr(d, "  ") && d[0] != ' ', "decoded value \"%s\"", d);
        free(d);
        free(f[0].name);
        free(f[0].value);
        free(h);
}

static void take_alert(FuzzInput *in, Alert *a, LinkConfig *lc, uint8_t *ret_flags, unsigned *ret_zone) {
        const usec_t tmax = (usec_t) TIMESTAMP_MAX_SEC * USEC_PER_SEC;
        uint8_t kind = fuzz_u8(in), failure = fuzz_u8(in);
        *ret_flags = fuzz_u8(in);
        *ret_zone = fuzz_u8(in);
        a->kind = kind % (_ALERT_KIND_MAX + 1) == _ALERT_KIND_MAX ? _ALERT_KIND_INVALID : kind % (_ALERT_KIND_MAX + 1);
        a->failure = failure % (_PROBE_CLASS_MAX + 1) == _PROBE_CLASS_MAX ? _PROBE_CLASS_INVALID
                                                                          : failure % (_PROBE_CLASS_MAX + 1);
        a->reminder = *ret_flags & 1;
        a->time = fuzz_range(in, 0, tmax);
        a->expires = fuzz_range(in, 0, tmax);
        a->since = fuzz_range(in, 0, tmax);
        a->days_left = (int64_t) fuzz_range(in, 0, 8000000) - 4000000;
        a->threshold = fuzz_u32(in);
        a->http_status = (long) (fuzz_u16(in) % 1000);
        a->failures = fuzz_u32(in);
        a->generation = fuzz_u64(in);
        lc->probe.lifetime = fuzz_range(in, USEC_PER_HOUR, 3650 * USEC_PER_DAY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        Alert a = ALERT_NULL;
        LinkConfig lc = {};
        Config c = {};
        uint8_t flags;
        unsigned z;

        take_alert(&in, &a, &lc, &flags, &z);
        a.link = fuzz_string(&in);
        a.error = fuzz_string(&in);
        a.cert_subject = fuzz_string(&in);
        a.cert_sha256 = fuzz_string(&in);
        a.mail_subject = fuzz_string(&in);
        a.mail_error = fuzz_string(&in);
        char *hostname = fuzz_string(&in);
        c.email.from_name = fuzz_string(&in);
        c.email.from_address = fuzz_string(&in) ?: strdup("tomslink@example.org");
        char *to = fuzz_string(&in) ?: strdup("it@example.org");
        lc.name = a.link;
        lc.url = fuzz_string(&in);
        lc.cds_code = fuzz_string(&in);
        char *consumers[3] = { fuzz_string(&in), NULL, NULL };
        if (consumers[0])
                consumers[1] = fuzz_string(&in);
        char *email_to[2] = { fuzz_string(&in), NULL };
        char *relays[2] = { fuzz_string(&in) ?: strdup("smtp://mail.example.org:587"), NULL };
        char *tos[2] = { to, NULL };

        c.tz = (Tz *) zone(z);
        c.email.enabled = true;
        c.email.to = tos;
        c.email.smtp_urls = relays;
        c.n_links = 1;
        lc.consumers = consumers[0] ? consumers : NULL;
        lc.email_to = email_to[0] ? email_to : NULL;
        const LinkConfig *link = (flags & 2) ? &lc : NULL;

        bool addresses_ok = email_address_is_valid(c.email.from_address) && email_address_is_valid(to);
        bool link_ok = !link || a.kind == ALERT_MAIL_UNDELIVERABLE || !email_to[0] ||
                       email_address_is_valid(email_to[0]);

        MailMessage m = MAIL_MESSAGE_NULL;
        int r = mail_format_alert(&a, link, &c, hostname, &m);
        FUZZ_CHECK(r == ((addresses_ok && link_ok && a.kind >= 0) ? 0 : -EINVAL), "mail_format_alert: %d", r);
        if (r == 0) {
                check_message(&m);
                FUZZ_CHECK(strcasecmp(m.recipients[0], to) == 0, "first recipient");
                mail_message_done(&m);
        }

        r = mail_format_test(&c, hostname, a.time, &m);
        FUZZ_CHECK(r == (addresses_ok ? 0 : -EINVAL), "mail_format_test: %d", r);
        if (r == 0) {
                check_message(&m);
                mail_message_done(&m);
        }

        check_unstructured(a.link ?: "");
        check_unstructured(a.error ?: "");

        alert_done(&a);
        free(hostname);
        free(c.email.from_name);
        free(c.email.from_address);
        free(to);
        free(lc.url);
        free(lc.cds_code);
        free(consumers[0]);
        free(consumers[1]);
        free(email_to[0]);
        free(relays[0]);
        return 0;
}
