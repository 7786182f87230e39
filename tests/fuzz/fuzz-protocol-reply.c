/* SPDX-License-Identifier: GPL-2.0-or-later */

/* tomslinkctl's side of the control protocol: the replies it reads from
 * the daemon and what it makes of them. Input: one byte choosing the
 * command whose output is rendered and the output options, one byte
 * setting the message size for streaming the reply again, then the
 * messages of the reply separated by NUL bytes.
 *
 * Invariants: the reader reassembles a reply or refuses it with a failure
 * whose code matches the errno; every failure message is one line of valid
 * UTF-8 (tomslinkctl prints it as it is); each record decoder either
 * refuses an element or decodes it to a value that encodes to a fixed
 * point; the text output of the command holds no control character but
 * line breaks (and, with colours, only SGR sequences), valid UTF-8; the
 * monitoring-plugin output starts with its status line; the JSON output
 * reads back as the same data; the data, streamed again in small messages
 * by the daemon's encoder, reassembles to the same data. */

#include "ctl-output.h"
#include "fuzz.h"
#include "protocol.h"
#include "strv.h"
#include "validate.h"

static Tz *utc(void) {
        /* built once: the same for every input */
        static Tz *tz = NULL;
        if (!tz)
                FUZZ_CHECK(tz_load_from_rule("UTC", "UTC0", &tz) == 0, "UTC");
        return tz;
}

static void check_failure_text(const ProtocolFailure *f, int r) {
        FUZZ_CHECK(memchr(f->message, 0, sizeof f->message) && f->message[0], "empty failure message (%d)", r);
        FUZZ_CHECK(string_is_safe(f->message), "failure message is not one line of UTF-8: %s", f->message);
}

static void check_bad_message(const ProtocolFailure *f, int r) {
        FUZZ_CHECK(r == -EBADMSG && f->code == PROTOCOL_ERROR_BAD_REQUEST, "%d %s", r, protocol_error_to_string(f->code));
        check_failure_text(f, r);
}

static char *to_string(json_object *o) {
        size_t n;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
        FUZZ_CHECK(s, "out of memory");
        return fuzz_strndup((const uint8_t *) s, n);
}

/* decode, encode, decode, encode: the two encodings are the same */
#define CHECK_RECORD(name, type, init, e)                                                               \
        do {                                                                                            \
                type x = init, y = init;                                                                \
                ProtocolFailure f = PROTOCOL_FAILURE_NULL;                                              \
                json_object *o1 = NULL, *o2 = NULL;                                                     \
                int r = protocol_##name##_from_json((e), &x, &f);                                       \
                if (r < 0) {                                                                            \
                        check_bad_message(&f, r);                                                       \
                        break;                                                                          \
                }                                                                                       \
                FUZZ_CHECK(protocol_##name##_to_json(&x, utc(), &o1) == 0, #name ": cannot encode");    \
                r = protocol_##name##_from_json(o1, &y, &f);                                            \
                FUZZ_CHECK(r == 0, #name ": own encoding refused: %s: %s", f.message,                   \
                           json_object_to_json_string(o1));                                             \
                FUZZ_CHECK(protocol_##name##_to_json(&y, utc(), &o2) == 0, #name ": cannot encode");    \
                char *s1 = to_string(o1), *s2 = to_string(o2);                                          \
                FUZZ_CHECK(streq(s1, s2), #name ": %s became %s", s1, s2);                              \
                free(s1);                                                                               \
                free(s2);                                                                               \
                json_object_put(o1);                                                                    \
                json_object_put(o2);                                                                    \
                DONE_##name(&x);                                                                        \
                DONE_##name(&y);                                                                        \
        } while (0)

static void probe_result_done(ProbeResult *r) {
}

#define DONE_link_status protocol_link_status_done
#define DONE_probe_result probe_result_done
#define DONE_rotation protocol_rotation_done
#define DONE_problem protocol_problem_done
#define DONE_silence protocol_silence_done
#define DONE_alert_entry protocol_alert_entry_done

static void check_element(json_object *e) {
        CHECK_RECORD(link_status, ProtocolLinkStatus, PROTOCOL_LINK_STATUS_NULL, e);
        CHECK_RECORD(probe_result, ProbeResult, ((ProbeResult) {}), e);
        CHECK_RECORD(rotation, RotationRecord, ((RotationRecord) {}), e);
        CHECK_RECORD(problem, Problem, ((Problem) {}), e);
        CHECK_RECORD(silence, Silence, ((Silence) {}), e);
        CHECK_RECORD(alert_entry, AlertLogEntry, ((AlertLogEntry) {}), e);
}

/* Text for a terminal: line breaks, printable UTF-8, and with colours the
 * SGR sequences "ESC [ digits/; m" only. */
static void check_text(const StrBuf *b, bool color, const char *what) {
        const char *s = b->data ?: "";
        FUZZ_CHECK(strlen(s) == b->len, "%s: a NUL in the output", what);
        FUZZ_CHECK(utf8_is_valid(s, b->len), "%s: invalid UTF-8 in the output: %s", what, s);
        for (size_t i = 0; i < b->len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\033' && color) {
                        size_t j = i + 1;
                        FUZZ_CHECK(s[j] == '[', "%s: escape sequence at %zu: %s", what, i, s);
                        for (j++; (s[j] >= '0' && s[j] <= '9') || s[j] == ';'; j++)
                                ;
                        FUZZ_CHECK(s[j] == 'm', "%s: escape sequence at %zu: %s", what, i, s);
                        i = j;
                        continue;
                }
                FUZZ_CHECK(c == '\n' || (c >= 0x20 && c != 0x7f), "%s: control character 0x%02x at %zu: %s", what,
                           c, i, s);
                FUZZ_CHECK(!(c == 0xc2 && (unsigned char) s[i + 1] >= 0x80 && (unsigned char) s[i + 1] <= 0x9f),
                           "%s: C1 control character at %zu: %s", what, i, s);
        }
}

static void check_outputs(json_object *data, uint8_t sel) {
        static const CtlAction actions[] = {
                CTL_STATUS,         CTL_SHOW,    CTL_PROBE,     CTL_CREDENTIAL_SET, CTL_CREDENTIAL_ROTATE,
                CTL_CREDENTIAL_HISTORY, CTL_CREDENTIAL_IMPORT, CTL_SILENCE, CTL_UNSILENCE, CTL_ALERTS,
                CTL_TEST_EMAIL,     CTL_RELOAD,  CTL_CHECK,
        };
        const CtlOutput *out = ctl_output_for(actions[(sel & 0x0f) % ELEMENTSOF(actions)]);
        CtlOutputOptions opts = { .color = sel & 0x10, .utf8 = sel & 0x20, .legend = !(sel & 0x40) };
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        StrBuf b = STRBUF_NULL;

        FUZZ_CHECK(out, "no output functions");
        int r = out->text(data, &opts, &b, &f);
        if (r < 0)
                check_bad_message(&f, r);
        else {
                check_text(&b, opts.color, "text output");
                if (out->outcome) {
                        int k = out->outcome(data);
                        FUZZ_CHECK(k >= 0 && k <= CTL_CHECK_UNKNOWN, "outcome %d", k);
                }
        }
        strbuf_done(&b);

        int state = ctl_check_render(data, &b);
        FUZZ_CHECK(state >= CTL_CHECK_OK && state <= CTL_CHECK_UNKNOWN, "check state %d", state);
        FUZZ_CHECK(b.data && strneq(b.data, "TOMSLINK ", 9), "check output: %s", strna(b.data));
        check_text(&b, false, "check output");
        strbuf_done(&b);

        FUZZ_CHECK(ctl_render_json(data, &b) == 0, "JSON output");
        json_object *back = json_tokener_parse(b.data);
        FUZZ_CHECK(back && json_object_equal(back, data), "JSON output reads back differently: %s", b.data);
        json_object_put(back);
        strbuf_done(&b);
}

/* The daemon's encoder, then the reader: the same data. */
static void check_restream(json_object *data, size_t max) {
        ProtocolMessage *m = NULL;
        size_t n = 0;
        int r = protocol_reply_encode(data, max, &m, &n);
        if (r == -EMSGSIZE)
                return;   /* an element does not fit in max */
        FUZZ_CHECK(r == 0 && n > 0, "protocol_reply_encode: %d", r);

        ProtocolReplyReader rr = PROTOCOL_REPLY_READER_NULL;
        for (size_t i = 0; i < n; i++) {
                ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                FUZZ_CHECK(m[i].size <= max && strlen(m[i].data) == m[i].size, "message %zu of %zu bytes", i,
                           m[i].size);
                int k = protocol_reply_reader_feed(&rr, m[i].data, m[i].size, &f);
                FUZZ_CHECK(k == (i + 1 == n ? 1 : 0), "message %zu of %zu read as %d (%s): %s", i, n, k, f.message,
                           m[i].data);
        }
        FUZZ_CHECK(json_object_equal(rr.data, data), "streamed in %zu messages of %zu bytes, the reply changed", n,
                   max);
        protocol_reply_reader_done(&rr);
        protocol_messages_free(m, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        uint8_t sel = fuzz_u8(&in);
        size_t max = 256 + (size_t) fuzz_u8(&in) * 64;
        ProtocolReplyReader rr = PROTOCOL_REPLY_READER_NULL;
        const uint8_t *m;
        size_t n;
        int r = 0;

        while (r == 0 && fuzz_field(&in, &m, &n)) {
                ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                r = protocol_reply_reader_feed(&rr, m, n, &f);
                if (r == -EREMOTEIO) {
                        /* an error reply: what tomslinkctl prints of it */
                        FUZZ_CHECK(protocol_error_to_string(f.code), "error code %d", f.code);
                        FUZZ_CHECK(memchr(f.message, 0, sizeof f.message), "error message");
                        FUZZ_CHECK(strv_length(f.details) <= PROTOCOL_FAILURE_DETAILS_MAX, "details");
                        StrBuf b = STRBUF_NULL;
                        FUZZ_CHECK(ctl_check_unknown(&b, "tomslinkd: %s", f.message) == CTL_CHECK_UNKNOWN, "state");
                        check_text(&b, false, "check output");
                        strbuf_done(&b);
                } else if (r < 0) {
                        FUZZ_CHECK(r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT, "protocol_reply_reader_feed: %d",
                                   r);
                        FUZZ_CHECK(f.code == (r == -EPROTONOSUPPORT ? PROTOCOL_ERROR_UNSUPPORTED_VERSION
                                                                    : PROTOCOL_ERROR_BAD_REQUEST),
                                   "code %d", f.code);
                        check_failure_text(&f, r);
                } else
                        FUZZ_CHECK(r == 0 || r == 1, "protocol_reply_reader_feed: %d", r);
                protocol_failure_done(&f);
        }
        if (r == 1) {
                json_object *d = rr.data;
                FUZZ_CHECK(json_object_is_type(d, json_type_object), "reply data is not an object");
                json_object_object_foreach(d, key, val) {
                        (void) key;
                        if (json_object_is_type(val, json_type_array)) {
                                size_t k = json_object_array_length(val);
                                for (size_t i = 0; i < k; i++)
                                        check_element(json_object_array_get_idx(val, i));
                        } else
                                check_element(val);
                }
                check_outputs(d, sel);
                check_restream(d, max);
        }
        protocol_reply_reader_done(&rr);
        return 0;
}
