/* SPDX-License-Identifier: GPL-2.0-or-later */

/* How a transfer's outcome becomes a probe class and a message
 * (probe_classify(), probe_tls_problem(), probe_copy_text()): libcurl's
 * result, the HTTP status and the error text, which quotes the server.
 * Input: CURLcode (2 bytes), HTTP status (2), verify result (2), flags (1),
 * the size of the message buffer (1), up to eight expected statuses (2
 * each, the list ends at 0), then curl's error text.
 *
 * Invariants: the class is a valid one and OK exactly for a transfer that
 * completed with an expected status; 401 and 403 are auth; an unexpected
 * status is http; an error text becomes a NUL-terminated copy of at most
 * the buffer's size, printable ASCII only, with every printable character
 * of the text kept in place. */

#include "fuzz.h"
#include "probe-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        CURLcode code = (CURLcode) (fuzz_u16(&in) % (CURL_LAST + 1));
        long status = fuzz_u16(&in) % 1000;
        long verify = (long) fuzz_u16(&in) % 100;
        uint8_t flags = fuzz_u8(&in);
        size_t bufsize = fuzz_u8(&in);
        bool connected = flags & 1, tls_done = flags & 2;
        StatusSet expect = {};

        for (unsigned i = 0; i < 8; i++) {
                uint16_t s = fuzz_u16(&in);
                if (s == 0)
                        break;
                status_set_add(&expect, s % 640);
        }
        char *text = fuzz_strndup(in.data, in.size);

        ProbeClass c = probe_classify(code, status, &expect, connected, tls_done);
        FUZZ_CHECK(probe_class_to_string(c), "class %d", c);
        FUZZ_CHECK((c == PROBE_OK) == (code == CURLE_OK && status_set_contains(&expect, status)),
                   "code %d status %ld: %s", code, status, probe_class_to_string(c));
        if (code == CURLE_OK && !status_set_contains(&expect, status))
                FUZZ_CHECK(c == (status == 401 || status == 403 ? PROBE_AUTH : PROBE_HTTP), "status %ld: %s", status,
                           probe_class_to_string(c));
        if (code == CURLE_OPERATION_TIMEDOUT)
                FUZZ_CHECK(c == PROBE_TIMEOUT, "timeout: %s", probe_class_to_string(c));

        const char *problem = probe_tls_problem(code, verify, (flags & 4) ? NULL : text);
        FUZZ_CHECK(problem && problem[0] && !strchr(problem, '\n'), "TLS problem");

        char *buf = malloc(MAX(bufsize, (size_t) 1));
        FUZZ_CHECK(buf, "out of memory");
        memset(buf, 'X', MAX(bufsize, (size_t) 1));
        probe_copy_text(buf, bufsize, (flags & 8) ? NULL : text);
        if (bufsize > 0) {
                size_t n = strnlen(buf, bufsize);
                FUZZ_CHECK(n < bufsize, "not terminated");
                size_t want = (flags & 8) ? 0 : MIN(strlen(text), bufsize - 1);
                FUZZ_CHECK(n == want, "copied %zu of %zu bytes", n, want);
                for (size_t i = 0; i < n; i++) {
                        FUZZ_CHECK(buf[i] >= 0x20 && buf[i] < 0x7f, "byte 0x%02x", (unsigned char) buf[i]);
                        FUZZ_CHECK(buf[i] == text[i] || buf[i] == '?', "changed byte %zu", i);
                        if (text[i] >= 0x20 && text[i] < 0x7f)
                                FUZZ_CHECK(buf[i] == text[i], "printable byte %zu replaced", i);
                }
        } else
                FUZZ_CHECK(buf[0] == 'X', "wrote into an empty buffer");
        free(buf);
        free(text);
        return 0;
}
