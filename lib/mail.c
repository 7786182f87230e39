/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mail.h"

#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "strbuf.h"
#include "strv.h"
#include "validate.h"

/* Bounds on text from outside, in bytes of input. */
#define NAME_SHOWN_MAX 200
#define ERROR_SHOWN_MAX 2000
#define SUBJECT_SHOWN_MAX 600

/* Header lines are folded to stay under this many characters. */
#define HEADER_LINE_MAX 78
/* An encoded-word is at most 75 characters (RFC 2047 section 2); we keep
 * each physical line of them within 76. */
#define ENCODED_LINE_MAX 76
#define QP_LINE_MAX 76

void mail_message_done(MailMessage *m) {
        if (!m)
                return;
        free(m->message_id);
        free(m->subject);
        free(m->data);
        strv_free(m->recipients);
        *m = MAIL_MESSAGE_NULL;
}

/* ---- text from outside ---------------------------------------------------- */

/* Length of the well-formed UTF-8 character at p (0 if malformed), and its
 * code point. */
static size_t utf8_char(const char *p, size_t left, uint32_t *ret_cp) {
        unsigned char c = (unsigned char) p[0];
        size_t len;
        if (c < 0x80) {
                *ret_cp = c;
                return 1;
        }
        len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || len > left || !utf8_is_valid(p, len))
                return 0;
        uint32_t cp = c & (0x7f >> len);
        for (size_t i = 1; i < len; i++)
                cp = (cp << 6) | ((unsigned char) p[i] & 0x3f);
        *ret_cp = cp;
        return len;
}

/* A copy of s that is well-formed UTF-8 without control characters: C0
 * and C1 controls, DEL, U+2028 and U+2029 become a space, except that with
 * multiline a line break (LF, CRLF or CR) stays one LF; malformed bytes
 * become U+FFFD. At most max bytes of s are used; a cut text ends in
 * "...". NULL on ENOMEM. */
static char *text_clean(const char *s, size_t max, bool multiline) {
        StrBuf b = STRBUF_NULL;
        size_t n = s ? strlen(s) : 0;

        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t len;

                if (i >= max) {
                        strbuf_puts(&b, "...");
                        break;
                }
                len = utf8_char(s + i, n - i, &cp);
                if (len == 0) {
                        strbuf_puts(&b, "\xef\xbf\xbd");
                        i++;
                        continue;
                }
                if (multiline && (cp == '\n' || cp == '\r')) {
                        strbuf_putc(&b, '\n');
                        i += cp == '\r' && s[i + 1] == '\n' ? 2 : 1;
                        continue;
                }
                if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
                        strbuf_putc(&b, ' ');
                else
                        strbuf_append(&b, s + i, len);
                i += len;
        }
        return strbuf_steal(&b);
}

/* text_clean() for one line, with runs of spaces made one and the ends
 * trimmed: the form a header value takes. */
static char *text_clean_line(const char *s, size_t max) {
        char *t = text_clean(s, max, false);
        if (!t)
                return NULL;
        char *w = t;
        for (const char *r = t; *r; r++)
                if (*r != ' ' || (w > t && w[-1] != ' '))
                        *w++ = *r;
        while (w > t && w[-1] == ' ')
                w--;
        *w = '\0';
        return t;
}

/* ---- header fields ---------------------------------------------------------- */

/* Whether a word can be written as it is: printable ASCII, no "=?" that a
 * reader would take for an encoded-word, short enough to fold around; in
 * a phrase (the From display name) only atom characters. */
static bool word_is_plain(const char *w, size_t n, bool phrase) {
        if (n > HEADER_LINE_MAX - 12)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = w[i];
                if (c < 0x21 || c > 0x7e || (c == '=' && i + 1 < n && w[i + 1] == '?'))
                        return false;
                if (phrase && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                strchr("!#$%&'*+-/=?^_`{|}~", c)))
                        return false;
        }
        return true;
}

/* Appends s[0..n) (clean UTF-8) as RFC 2047 "B" encoded-words, each holding
 * whole characters and at most 75 characters long, starting a new line
 * when the current one (at column col) is full. A word ends after a space
 * of the text where one is near, so that decoders that keep the white
 * space between encoded-words (which RFC 2047 says to drop) still show
 * the text right. Returns the new column. */
static size_t put_encoded_run(StrBuf *b, size_t col, const char *s, size_t n) {
        static const char prefix[] = "=?utf-8?b?", suffix[] = "?=";
        const size_t overhead = strlen(prefix) + strlen(suffix);

        for (size_t i = 0; i < n;) {
                unsigned char enc[64];
                size_t room = col + 1 < ENCODED_LINE_MAX ? ENCODED_LINE_MAX - col - 1 : 0;
                if (room < overhead + 8) {
                        strbuf_puts(b, "\r\n");
                        col = 0;
                        room = ENCODED_LINE_MAX - 1;
                }
                size_t max_raw = MIN((room - overhead) / 4 * 3, (size_t) 45), k = i, after_space = 0;
                while (k < n) {
                        uint32_t cp;
                        size_t len = utf8_char(s + k, n - k, &cp);
                        if (len == 0)
                                len = 1;   /* not after text_clean() */
                        if (k > i && k + len - i > max_raw)
                                break;
                        k += len;
                        if (s[k - 1] == ' ' && k < n)
                                after_space = k;
                }
                if (k < n && after_space > i && after_space - i >= max_raw / 2)
                        k = after_space;
                int m = EVP_EncodeBlock(enc, (const unsigned char *) s + i, (int) (k - i));
                strbuf_printf(b, " %s%s%s", prefix, (const char *) enc, suffix);
                col += 1 + overhead + (size_t) m;
                i = k;
        }
        return col;
}

/* Appends a header value (clean, one line, single spaces): plain words as
 * they are, folding before one that would pass the line limit, and each
 * run of words that need it as encoded-words (the spaces inside a run
 * encoded with it; a space between an encoded-word and a plain word is
 * kept by every reader). Returns the new column. */
static size_t put_words(StrBuf *b, size_t col, const char *v, bool phrase) {
        bool first = true;
        for (const char *p = v; *p;) {
                size_t len = strcspn(p, " ");
                /* The first word cannot move to the next line: after a long
                 * field name ("X-Tomslink-Link:" and a 63-character link
                 * name) it is encoded, which may be split. */
                if (word_is_plain(p, len, phrase) && (!first || col + 1 + len <= HEADER_LINE_MAX)) {
                        if (col + 1 + len > HEADER_LINE_MAX) {
                                strbuf_puts(b, "\r\n");
                                col = 0;
                        }
                        strbuf_putc(b, ' ');
                        strbuf_append(b, p, len);
                        col += 1 + len;
                        p += len;
                } else {
                        const char *end = p + len;
                        while (*end == ' ') {
                                size_t l = strcspn(end + 1, " ");
                                if (word_is_plain(end + 1, l, phrase))
                                        break;
                                end += 1 + l;
                        }
                        col = put_encoded_run(b, col, p, (size_t) (end - p));
                        p = end;
                }
                p += strspn(p, " ");
                first = false;
        }
        return col;
}

/* A value that text_clean_line() made already: cleaning it again could cut
 * it elsewhere (a malformed byte grows into three), and the header would
 * then differ from the text the caller keeps. */
static void put_unstructured_clean(StrBuf *b, const char *name, const char *clean) {
        strbuf_printf(b, "%s:", name);
        put_words(b, strlen(name) + 1, clean, false);
        strbuf_puts(b, "\r\n");
}

static void put_unstructured(StrBuf *b, const char *name, const char *value) {
        _cleanup_free_ char *v = text_clean_line(value, SUBJECT_SHOWN_MAX);
        if (!v) {
                b->oom = true;
                return;
        }
        put_unstructured_clean(b, name, v);
}

char *mail_header_unstructured(const char *name, const char *value) {
        StrBuf b = STRBUF_NULL;
        put_unstructured(&b, name, value);
        return strbuf_steal(&b);
}

static void put_from(StrBuf *b, const char *name, const char *address) {
        _cleanup_free_ char *v = name ? text_clean_line(name, NAME_SHOWN_MAX) : NULL;
        size_t col = 5;
        if (name && !v) {
                b->oom = true;
                return;
        }
        strbuf_puts(b, "From:");
        if (isempty(v)) {
                strbuf_printf(b, " %s\r\n", address);
                return;
        }
        if (string_is_ascii(v) && !strstr(v, "=?")) {
                /* a quoted-string: no special character can escape it;
                 * folded at its spaces (unfolding keeps the space) */
                strbuf_puts(b, " \"");
                col += 2;
                for (const char *p = v; *p;) {
                        size_t len = strcspn(p, " "), shown = len;
                        for (size_t i = 0; i < len; i++)
                                shown += p[i] == '"' || p[i] == '\\';
                        if (p != v) {
                                if (col + 1 + shown + (p[len] ? 0 : 1) > HEADER_LINE_MAX) {
                                        strbuf_puts(b, "\r\n");
                                        col = 0;
                                }
                                strbuf_putc(b, ' ');
                                col++;
                        }
                        for (size_t i = 0; i < len; i++) {
                                if (p[i] == '"' || p[i] == '\\')
                                        strbuf_putc(b, '\\');
                                strbuf_putc(b, p[i]);
                        }
                        col += shown;
                        p += len + (p[len] == ' ');
                }
                strbuf_putc(b, '"');
                col++;
        } else
                col = put_words(b, col, v, true);
        if (col + 3 + strlen(address) > HEADER_LINE_MAX)
                strbuf_puts(b, "\r\n");
        strbuf_printf(b, " <%s>\r\n", address);
}

static void put_address_list(StrBuf *b, const char *name, char *const *addresses) {
        size_t col = strlen(name) + 1;
        strbuf_printf(b, "%s:", name);
        for (size_t i = 0; addresses && addresses[i]; i++) {
                size_t len = strlen(addresses[i]) + (addresses[i + 1] ? 1 : 0);
                if (i > 0 && col + 1 + len > HEADER_LINE_MAX) {
                        strbuf_puts(b, "\r\n");
                        col = 0;
                }
                strbuf_printf(b, " %s%s", addresses[i], addresses[i + 1] ? "," : "");
                col += 1 + len;
        }
        strbuf_puts(b, "\r\n");
}

char *mail_format_date(char *buf, size_t n, const Tz *tz, usec_t t) {
        static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        int64_t sec = (int64_t) MIN(t / USEC_PER_SEC, (usec_t) TIMESTAMP_MAX_SEC);
        TzTime tm = {};

        if (tz)
                localtime_for_offset(tz, (usec_t) sec * USEC_PER_SEC, &tm);
        else {
                int64_t days = sec / 86400, rest = sec % 86400;
                civil_from_days(days, &tm.year, &tm.month, &tm.day);
                tm.hour = (unsigned) (rest / 3600);
                tm.minute = (unsigned) (rest / 60 % 60);
                tm.second = (unsigned) (rest % 60);
                tm.wday = (unsigned) ((days % 7 + 11) % 7);   /* 1970-01-01 was a Thursday */
        }
        int off = tm.utoff / 60;
        char sign = off < 0 ? '-' : '+';
        off = off < 0 ? -off : off;
        snprintf(buf, n, "%s, %02u %s %04" PRId64 " %02u:%02u:%02u %c%02d%02d", wdays[tm.wday % 7], tm.day,
                 months[(tm.month + 11) % 12], tm.year, tm.hour, tm.minute, tm.second, sign, off / 60, off % 60);
        return buf;
}

/* ---- body ---------------------------------------------------------------- */

char *mail_quoted_printable(const char *text) {
        StrBuf b = STRBUF_NULL;
        const char *p = text;

        while (*p) {
                size_t n = strcspn(p, "\n"), col = 0;
                for (size_t i = 0; i < n; i++) {
                        unsigned char c = (unsigned char) p[i];
                        bool literal = (c >= 33 && c <= 126 && c != '=') || (c == ' ' && i + 1 < n);
                        /* a soft break must not leave a space at the end of a line */
                        if (c == ' ' && col + 1 > QP_LINE_MAX - 1)
                                literal = false;
                        if (col + (literal ? 1 : 3) > QP_LINE_MAX - 1) {
                                strbuf_puts(&b, "=\r\n");
                                col = 0;
                        }
                        /* lines starting with "." or "From " survive any transport,
                         * the lines a soft break starts as well */
                        if (col == 0 && (c == '.' || (c == 'F' && n - i >= 5 && strneq(p + i, "From ", 5))))
                                literal = false;
                        if (literal) {
                                strbuf_putc(&b, (char) c);
                                col++;
                        } else {
                                strbuf_printf(&b, "=%02X", c);
                                col += 3;
                        }
                }
                strbuf_puts(&b, "\r\n");
                p += n;
                if (*p == '\n')
                        p++;
        }
        return strbuf_steal(&b);
}

/* A fact line: "  Label:        value" with value cleaned to one line. */
static void fact(StrBuf *b, const char *label, const char *value) {
        _cleanup_free_ char *v = text_clean_line(value, ERROR_SHOWN_MAX);
        if (!v) {
                b->oom = true;
                return;
        }
        strbuf_printf(b, "  %-17s %s\n", label, v);
}

static void factf(StrBuf *b, const char *label, const char *fmt, ...) _printf_(3, 4);
static void factf(StrBuf *b, const char *label, const char *fmt, ...) {
        _cleanup_free_ char *v = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (r < 0) {
                b->oom = true;
                return;
        }
        fact(b, label, v);
}

/* A fact whose value may have several lines (a relay's answer); the
 * further lines are indented under the first. */
static void fact_lines(StrBuf *b, const char *label, const char *value) {
        _cleanup_free_ char *v = text_clean(value, ERROR_SHOWN_MAX, true);
        if (!v) {
                b->oom = true;
                return;
        }
        strbuf_printf(b, "  %-17s ", label);
        for (const char *p = v; *p;) {
                size_t n = strcspn(p, "\n");
                strbuf_append(b, p, n);
                p += n;
                if (*p == '\n') {
                        p++;
                        if (*p)
                                strbuf_printf(b, "\n  %-17s ", "");
                }
        }
        strbuf_putc(b, '\n');
}

static void put_clean(StrBuf *b, const char *s, size_t max) {
        _cleanup_free_ char *v = text_clean_line(s, max);
        if (!v)
                b->oom = true;
        else
                strbuf_puts(b, v);
}

static void put_consumers(StrBuf *b, const LinkConfig *lc, const char *indent) {
        if (lc && lc->consumers && lc->consumers[0])
                STRV_FOREACH(s, lc->consumers) {
                        strbuf_printf(b, "%s- ", indent);
                        put_clean(b, *s, NAME_SHOWN_MAX);
                        strbuf_putc(b, '\n');
                }
        else
                strbuf_printf(b, "%s- the SIS and every other system holding a copy\n", indent);
}

static void fact_time(StrBuf *b, const char *label, const Tz *tz, usec_t t) {
        char ts[TIMESTAMP_MAX];
        fact(b, label, format_timestamp(ts, sizeof ts, tz, t));
}

static void put_link_facts(StrBuf *b, const Alert *a, const LinkConfig *lc) {
        if (a->link)
                fact(b, "Link:", a->link);
        if (lc && lc->cds_code)
                fact(b, "CDS code:", lc->cds_code);
        if (lc && lc->url)
                fact(b, "Endpoint:", lc->url);
        else if (a->link)
                fact(b, "Endpoint:", "unknown (the link is no longer in the configuration)");
}

static void put_days_left(StrBuf *b, int64_t days) {
        if (days >= 0)
                factf(b, "Days left:", "%" PRId64, days);
        else
                factf(b, "Days left:", "none, expired %" PRId64 " day%s ago", -days, days == -1 ? "" : "s");
}

static void put_failure_facts(StrBuf *b, const Alert *a, const Tz *tz) {
        const char *class = probe_class_to_string(a->failure);
        factf(b, "Failure class:", "%s: %s", class ?: "unknown", probe_class_describe(a->failure));
        if (a->http_status > 0)
                factf(b, "HTTP status:", "%ld", a->http_status);
        else
                fact(b, "HTTP status:", "none (no HTTP answer)");
        if (!isempty(a->error))
                fact_lines(b, "Error:", a->error);
        if (a->since > 0)
                fact_time(b, "Since:", tz, a->since);
        if (a->failures > 0)
                factf(b, "Failed probes:", "%u in a row", a->failures);
}

static void put_rotate_steps(StrBuf *b, const LinkConfig *lc, const char *link, unsigned first) {
        strbuf_printf(b,
                      "  %u. Update every system that holds a copy of the credentials:\n", first);
        put_consumers(b, lc, "       ");
        strbuf_printf(b,
                      "  %u. Store the new credential in tomslink; it checks it with a probe\n"
                      "     at once (the secret key is read from standard input):\n"
                      "       tomslinkctl credential rotate %s --username U\n"
                      "     where U is the new username.\n",
                      first + 1, link);
}

static void body_credential(StrBuf *b, const Alert *a, const LinkConfig *lc, const Config *c, const char *link) {
        char date[TIMESTAMP_MAX];
        unsigned lifetime = lc ? (unsigned) (lc->probe.lifetime / USEC_PER_DAY) : 365;
        bool expired = a->kind == ALERT_CREDENTIAL_EXPIRED;

        format_date(date, sizeof date, c->tz, a->expires);
        if (expired)
                strbuf_printf(b,
                              "The SIS vendor credentials of this link expired on %s. The SIS can no\n"
                              "longer fetch CAASPP/ELPAC Student Score Reports from TOMS, so parents\n"
                              "do not see new score reports in the portal.\n\n",
                              date);
        else
                strbuf_printf(b,
                              "The SIS vendor credentials of this link expire on %s. After that the\n"
                              "SIS can no longer fetch CAASPP/ELPAC Student Score Reports from TOMS.\n\n",
                              date);
        strbuf_puts(b, "Facts\n");
        put_link_facts(b, a, lc);
        fact(b, "Problem:", expired ? "the credential has expired" : "the credential expires soon");
        fact_time(b, expired ? "Expired:" : "Expires:", c->tz, a->expires);
        put_days_left(b, a->days_left);
        if (!expired && a->threshold > 0)
                factf(b, "Warning:", "%u day%s before expiry (alerts.expiry_warn_days)", a->threshold,
                      a->threshold == 1 ? "" : "s");
        strbuf_printf(b,
                      "\nTOMS credentials last %u days from the moment they are generated, and\n"
                      "only the most recently generated pair works.\n\n",
                      lifetime);
        strbuf_puts(b,
                    "What to do\n"
                    "  1. Sign in to TOMS and regenerate the SIS vendor credentials under\n"
                    "     Credentialing. Note the new username and secret key. The old pair\n"
                    "     stops working at once, so do the next steps right away, and agree\n"
                    "     with the other coordinator (CAASPP or ELPAC) that only one of you\n"
                    "     regenerates.\n");
        put_rotate_steps(b, lc, link, 2);
}

static void body_auth_rejected(StrBuf *b, const Alert *a, const LinkConfig *lc, const Config *c, const char *link) {
        if (a->http_status == 403)
                strbuf_puts(b,
                            "TOMS accepted the credential but refused access (HTTP 403): the data\n"
                            "release to this vendor is not authorized. The credential itself is\n"
                            "fine.\n\n");
        else
                strbuf_puts(b,
                            "TOMS rejected the credential although it has not expired. Most likely\n"
                            "the SIS vendor credentials were regenerated in TOMS by someone else,\n"
                            "for example the other coordinator (CAASPP or ELPAC). Only the newest\n"
                            "pair works, so the copy in the SIS, and the one here, are now invalid.\n\n");
        strbuf_puts(b, "Facts\n");
        put_link_facts(b, a, lc);
        fact(b, "Problem:", a->http_status == 403 ? "access not authorized (403)" : "credential rejected");
        put_failure_facts(b, a, c->tz);
        strbuf_puts(b, "\nWhat to do\n");
        if (a->http_status == 403)
                strbuf_printf(b,
                              "  1. Ask the LEA CAASPP coordinator to sign in to TOMS, open the\n"
                              "     Credentialing screen and check that \"Authorization to Release\n"
                              "     Student Data to Vendors\" is ticked and that your SIS vendor is\n"
                              "     among the selected vendors.\n"
                              "  2. Do not regenerate the credentials for this: that would break every\n"
                              "     system holding a copy. Once access is authorized, check with\n"
                              "       tomslinkctl probe %s\n"
                              "     tomslink also keeps probing and reports the recovery.\n",
                              link);
        else {
                strbuf_puts(b,
                            "  1. Find the newest pair: ask the LEA CAASPP and ELPAC coordinators who\n"
                            "     regenerated the SIS vendor credentials in TOMS (Credentialing). If\n"
                            "     nobody has the new secret key, regenerate once more and keep it.\n");
                put_rotate_steps(b, lc, link, 2);
                strbuf_printf(b,
                              "     If the pair was generated some time ago, record when, so that the\n"
                              "     expiry warnings come on time:\n"
                              "       tomslinkctl credential set %s --username U --generated TIME\n",
                              link);
        }
}

static void body_link_down(StrBuf *b, const Alert *a, const LinkConfig *lc, const Config *c, const char *link) {
        static const struct {
                ProbeClass klass;
                const char *text;
        } classes[] = {
                { PROBE_DNS, "the endpoint's host name did not resolve: check this\n"
                             "              machine's DNS resolver and the link's url in\n"
                             "              tomslink.yaml." },
                { PROBE_CONNECT, "no TCP connection: a firewall or proxy is in the way,\n"
                                 "              or TOMS is down or in scheduled maintenance." },
                { PROBE_TLS, "the TLS handshake failed: the server certificate is\n"
                             "              expired, untrusted (see probe.ca_file) or for another\n"
                             "              host name; also check this machine's clock and any\n"
                             "              TLS-inspecting proxy." },
                { PROBE_TIMEOUT, "no answer within probe.timeout: network trouble, or\n"
                                 "              TOMS is overloaded." },
                { PROBE_HTTP, "TOMS answered with a status not in expect_status:\n"
                              "              503 is usual during maintenance, 404 means the URL\n"
                              "              changed, a 3xx is a redirect (not followed)." },
                { PROBE_AUTH, "the credential was refused (401 or 403); see the\n"
                              "              auth-rejected alert." },
        };

        strbuf_printf(b,
                      "tomslink could not reach the TOMS endpoint of this link: %u probe%s in a\n"
                      "row failed. The SIS uses the same endpoint, so it most likely cannot\n"
                      "fetch score reports either.\n\n",
                      a->failures, a->failures == 1 ? "" : "s");
        strbuf_puts(b, "Facts\n");
        put_link_facts(b, a, lc);
        fact(b, "Problem:", "the endpoint is unreachable or answers wrongly");
        put_failure_facts(b, a, c->tz);
        strbuf_puts(b, "\nHow to read the failure class (this one is marked with >)\n");
        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                strbuf_printf(b, "  %c %-9s %s\n", classes[i].klass == a->failure ? '>' : ' ',
                              probe_class_to_string(classes[i].klass), classes[i].text);
        strbuf_printf(b,
                      "\nWhat to do\n"
                      "  1. Probe now and read the result:  tomslinkctl probe %s\n"
                      "  2. See the recent probes:          tomslinkctl show %s\n"
                      "  3. Check TOMS's scheduled downtime (the yearly rollover runs from\n"
                      "     June 30 to July 7). For planned work add a maintenance window to\n"
                      "     tomslink.yaml, or silence the link for a while:\n"
                      "       tomslinkctl silence %s --for 2h\n",
                      link, link, link);
}

static void body_link_recovered(StrBuf *b, const Alert *a, const LinkConfig *lc, const Config *c, const char *link) {
        strbuf_puts(b,
                    "The link works again: the TOMS endpoint answers as expected and accepts\n"
                    "the credential.\n\n"
                    "Facts\n");
        put_link_facts(b, a, lc);
        if (a->http_status > 0)
                factf(b, "Problem was:", "%s (HTTP status %ld)", probe_class_to_string(a->failure) ?: "unknown",
                      a->http_status);
        else
                fact(b, "Problem was:", probe_class_to_string(a->failure) ?: "unknown");
        if (a->since > 0)
                fact_time(b, "Since:", c->tz, a->since);
        fact_time(b, "Recovered:", c->tz, a->time);
        if (a->since > 0 && a->time > a->since) {
                char d[DURATION_MAX];
                fact(b, "Duration:", format_duration(d, sizeof d, (a->time - a->since) / USEC_PER_MINUTE * USEC_PER_MINUTE));
        }
        strbuf_puts(b,
                    "\nWhat to do\n"
                    "  Nothing here. If the credentials were regenerated to fix this, make\n"
                    "  sure every system holding a copy has the new pair:\n");
        put_consumers(b, lc, "    ");
}

static void body_cert(StrBuf *b, const Alert *a, const LinkConfig *lc, const Config *c, const char *link) {
        char date[TIMESTAMP_MAX];
        strbuf_printf(b,
                      "The TLS certificate that the TOMS endpoint of this link presents expires\n"
                      "on %s. This is the server's certificate, not your credential.\n\n",
                      format_date(date, sizeof date, c->tz, a->expires));
        strbuf_puts(b, "Facts\n");
        put_link_facts(b, a, lc);
        fact(b, "Problem:", "the server certificate expires soon");
        if (!isempty(a->cert_subject))
                fact(b, "Certificate:", a->cert_subject);
        if (!isempty(a->cert_sha256))
                fact(b, "SHA-256:", a->cert_sha256);
        fact_time(b, "Expires:", c->tz, a->expires);
        put_days_left(b, a->days_left);
        strbuf_printf(b,
                      "\nWhat to do\n"
                      "  1. If the endpoint is TOMS itself, its operator renews the certificate;\n"
                      "     a renewed certificate ends these warnings. If it is not renewed in\n"
                      "     time, probes and the SIS fail with tls errors: report it to CalTAC,\n"
                      "     the CAASPP and ELPAC help desk.\n"
                      "  2. If the link's url points at a proxy or gateway that you run, renew\n"
                      "     its certificate.\n"
                      "  3. Check what the server presents now:  tomslinkctl probe %s\n",
                      link);
}

static void body_undeliverable(StrBuf *b, const Alert *a, const LinkConfig *lc, const Config *c, const char *link) {
        strbuf_puts(b,
                    "An alert e-mail could not be delivered for 24 hours, and tomslink gave\n"
                    "up on it. The alert itself is in the journal and in tomslinkctl alerts.\n\n"
                    "Facts\n");
        if (a->link)
                put_link_facts(b, a, lc);
        if (!isempty(a->mail_subject))
                fact(b, "Lost message:", a->mail_subject);
        fact_lines(b, "Relay's answer:", isempty(a->mail_error) ? "none" : a->mail_error);
        fact_time(b, "Given up:", c->tz, a->time);
        strbuf_puts(b, "  Relays:\n");
        STRV_FOREACH(u, c->email.smtp_urls) {
                strbuf_puts(b, "    - ");
                put_clean(b, *u, NAME_SHOWN_MAX);
                strbuf_putc(b, '\n');
        }
        strbuf_puts(b,
                    "\nWhat to do\n"
                    "  1. Check the relay settings under email: in tomslink.yaml (smtp_url,\n"
                    "     starttls, username, ca_file) and the password (password_file, or the\n"
                    "     systemd credential tomslink.smtp).\n"
                    "  2. Send a test message through the relay:  tomslinkctl test-email\n"
                    "  3. Read the lost alert:  tomslinkctl alerts\n");
}

/* ---- the message ------------------------------------------------------------ */

static bool hostname_is_usable(const char *h) {
        size_t n = h ? strlen(h) : 0;
        if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.' || strstr(h, ".."))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
                      (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '.'))
                        return false;
        return true;
}

static int add_recipients(char ***l, char *const *addresses) {
        STRV_FOREACH(a, (char **) addresses) {
                bool dup = false;
                if (!email_address_is_valid(*a))
                        return -EINVAL;
                STRV_FOREACH(x, *l)
                        dup = dup || strcasecmp(*x, *a) == 0;
                if (!dup && strv_extend(l, *a) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* "<tomslink.SECONDS.RANDOM@HOST>": the time and 64 random bits make it
 * unique; short enough for one header line with most host names. */
static int make_message_id(usec_t t, const char *host, char **ret) {
        uint8_t rnd[8];
        char hex[2 * sizeof rnd + 1];
        ssize_t n = getrandom(rnd, sizeof rnd, 0);
        if (n != (ssize_t) sizeof rnd)
                return n < 0 ? -errno : -EIO;
        for (size_t i = 0; i < sizeof rnd; i++)
                snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        if (asprintf(ret, "<tomslink.%" PRIu64 ".%s@%s>", (uint64_t) (t / USEC_PER_SEC), hex, host) < 0)
                return -ENOMEM;
        return 0;
}

/* Puts together headers and body; link_name may be NULL. */
static int mail_build(const Config *c, char **recipients, const char *subject, const char *link_name, const char *tag,
                      const char *host, usec_t date, const char *body, MailMessage *ret) {
        _cleanup_free_ char *message_id = NULL, *clean_subject = NULL, *qp = NULL;
        char datebuf[MAIL_DATE_MAX];
        StrBuf b = STRBUF_NULL;
        int r;

        r = make_message_id(date, host, &message_id);
        if (r < 0)
                return r;
        clean_subject = text_clean_line(subject, SUBJECT_SHOWN_MAX);
        qp = mail_quoted_printable(body);
        if (!clean_subject || !qp)
                return -ENOMEM;

        strbuf_printf(&b, "Date: %s\r\n", mail_format_date(datebuf, sizeof datebuf, c->tz, date));
        put_from(&b, c->email.from_name, c->email.from_address);
        put_address_list(&b, "To", recipients);
        put_unstructured_clean(&b, "Subject", clean_subject);
        strbuf_printf(&b, "Message-ID: %s\r\n", message_id);
        strbuf_puts(&b,
                    "MIME-Version: 1.0\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n"
                    "Auto-Submitted: auto-generated\r\n"
                    "X-Auto-Response-Suppress: All\r\n");
        if (link_name)
                put_unstructured(&b, "X-Tomslink-Link", link_name);
        strbuf_printf(&b, "X-Tomslink-Alert: %s\r\n", tag);
        strbuf_puts(&b, "\r\n");
        strbuf_puts(&b, qp);

        char *data = strbuf_steal(&b);
        if (!data)
                return -ENOMEM;
        *ret = (MailMessage) {
                .message_id = TAKE_PTR(message_id),
                .subject = TAKE_PTR(clean_subject),
                .data = data,
                .recipients = recipients,
        };
        return 0;
}

static int check_email_config(const Config *c) {
        if (!c->email.from_address || !email_address_is_valid(c->email.from_address) || !c->email.to ||
            !c->email.to[0])
                return -EINVAL;
        return 0;
}

int mail_format_alert(const Alert *a, const LinkConfig *lc, const Config *c, const char *hostname, MailMessage *ret) {
        _cleanup_strv_free_ char **recipients = NULL;
        _cleanup_free_ char *summary = NULL, *subject = NULL, *body = NULL, *link = NULL;
        const char *host = hostname_is_usable(hostname) ? hostname : "localhost";
        const char *kind = alert_kind_to_string(a->kind);
        StrBuf b = STRBUF_NULL;
        int r;

        if (!kind)
                return -EINVAL;
        r = check_email_config(c);
        if (r < 0)
                return r;
        r = add_recipients(&recipients, c->email.to);
        if (r < 0)
                return r;
        if (a->kind != ALERT_MAIL_UNDELIVERABLE && lc) {
                r = add_recipients(&recipients, lc->email_to);
                if (r < 0)
                        return r;
        }

        summary = alert_summary(a, c->tz);
        link = a->link ? text_clean_line(a->link, NAME_SHOWN_MAX) : strdup("LINK");
        if (!summary || !link || asprintf(&subject, "[tomslink] %s", summary) < 0)
                return -ENOMEM;

        strbuf_puts(&b, "tomslink on ");
        strbuf_puts(&b, host);
        strbuf_puts(&b, " reports:\n\n  ");
        put_clean(&b, summary, SUBJECT_SHOWN_MAX);
        strbuf_puts(&b, "\n\n");
        switch (a->kind) {
        case ALERT_CREDENTIAL_EXPIRING:
        case ALERT_CREDENTIAL_EXPIRED:
                body_credential(&b, a, lc, c, link);
                break;
        case ALERT_AUTH_REJECTED:
                body_auth_rejected(&b, a, lc, c, link);
                break;
        case ALERT_LINK_DOWN:
                body_link_down(&b, a, lc, c, link);
                break;
        case ALERT_LINK_RECOVERED:
                body_link_recovered(&b, a, lc, c, link);
                break;
        case ALERT_ENDPOINT_CERT_EXPIRING:
                body_cert(&b, a, lc, c, link);
                break;
        case ALERT_MAIL_UNDELIVERABLE:
                body_undeliverable(&b, a, lc, c, link);
                break;
        default:
                break;
        }
        strbuf_printf(&b,
                      "\n-- \n"
                      "tomslinkd on %s, alert %s%s.\n"
                      "In the journal: journalctl MESSAGE_ID=%s\n",
                      host, kind, a->reminder ? " (reminder)" : "", alert_kind_message_id(a->kind));
        body = strbuf_steal(&b);
        if (!body)
                return -ENOMEM;

        r = mail_build(c, recipients, subject, a->link, kind, host, a->time, body, ret);
        if (r < 0)
                return r;
        TAKE_PTR(recipients);
        return 0;
}

int mail_format_test(const Config *c, const char *hostname, usec_t now, MailMessage *ret) {
        _cleanup_strv_free_ char **recipients = NULL;
        _cleanup_free_ char *subject = NULL, *body = NULL;
        const char *host = hostname_is_usable(hostname) ? hostname : "localhost";
        char ts[TIMESTAMP_MAX];
        StrBuf b = STRBUF_NULL;
        int r;

        r = check_email_config(c);
        if (r < 0)
                return r;
        r = add_recipients(&recipients, c->email.to);
        if (r < 0)
                return r;
        if (asprintf(&subject, "[tomslink] test message from %s", host) < 0)
                return -ENOMEM;

        strbuf_printf(&b,
                      "This is a test message from tomslinkd on %s, sent with\n"
                      "\"tomslinkctl test-email\". If you can read it, tomslink's alert e-mails\n"
                      "reach this address. Nothing else to do.\n\n",
                      host);
        fact(&b, "Sent:", format_timestamp(ts, sizeof ts, c->tz, now));
        fact(&b, "Sender:", c->email.from_address);
        strbuf_puts(&b, "  Recipients:\n");
        STRV_FOREACH(t, recipients)
                strbuf_printf(&b, "    - %s\n", *t);
        strbuf_puts(&b, "  Relays, tried in order:\n");
        STRV_FOREACH(u, c->email.smtp_urls) {
                strbuf_puts(&b, "    - ");
                put_clean(&b, *u, NAME_SHOWN_MAX);
                strbuf_putc(&b, '\n');
        }
        factf(&b, "Links watched:", "%zu", c->n_links);
        strbuf_puts(&b,
                    "\nAn alert about a link also goes to the addresses in that link's\n"
                    "email_to.\n");
        body = strbuf_steal(&b);
        if (!body)
                return -ENOMEM;

        r = mail_build(c, recipients, subject, NULL, "test", host, now, body, ret);
        if (r < 0)
                return r;
        TAKE_PTR(recipients);
        return 0;
}
