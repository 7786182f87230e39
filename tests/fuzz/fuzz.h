/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the fuzz targets share: the libFuzzer entry point, invariant
 * checks, and a small FuzzedDataProvider in plain C for targets that take
 * several values from one input.
 *
 * Every target is built twice: with clang's libFuzzer (-Dfuzz=true) for
 * coverage-guided fuzzing, and in every build with replay.c, which runs it
 * on each file of tests/fuzz/corpus/TARGET and tests/fuzz/regressions/TARGET
 * as a unit test. A target must be deterministic and free every byte it
 * allocates; an invariant that does not hold aborts with a message, which
 * libFuzzer reports as a crash and saves the input for. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(expr, fmt, ...)                                                                   \
        do {                                                                                         \
                if (!(expr)) {                                                                       \
                        fprintf(stderr, "%s:%d: invariant failed: %s: " fmt "\n", __FILE__, __LINE__, \
                                #expr, ##__VA_ARGS__);                                               \
                        abort();                                                                     \
                }                                                                                    \
        } while (0)

/* The input, consumed from the front: fixed-size integers first, then
 * fields separated by NUL bytes (C strings cannot hold a NUL anyway, and
 * seed files stay easy to write with printf). Past the end, integers are 0
 * and fields are absent. */
typedef struct FuzzInput {
        const uint8_t *data;
        size_t size;
} FuzzInput;

static inline uint64_t fuzz_uint(FuzzInput *in, size_t bytes) {
        uint64_t v = 0;
        for (size_t i = 0; i < bytes; i++) {
                v <<= 8;
                if (in->size > 0) {
                        v |= in->data[0];
                        in->data++;
                        in->size--;
                }
        }
        return v;
}

static inline uint8_t fuzz_u8(FuzzInput *in) {
        return (uint8_t) fuzz_uint(in, 1);
}

static inline uint16_t fuzz_u16(FuzzInput *in) {
        return (uint16_t) fuzz_uint(in, 2);
}

static inline uint32_t fuzz_u32(FuzzInput *in) {
        return (uint32_t) fuzz_uint(in, 4);
}

static inline uint64_t fuzz_u64(FuzzInput *in) {
        return fuzz_uint(in, 8);
}

static inline bool fuzz_bool(FuzzInput *in) {
        return fuzz_u8(in) & 1;
}

/* A value in [lo, hi] from 8 bytes. */
static inline uint64_t fuzz_range(FuzzInput *in, uint64_t lo, uint64_t hi) {
        uint64_t v = fuzz_u64(in);
        if (hi - lo == UINT64_MAX)
                return v;
        return lo + v % (hi - lo + 1);
}

/* The next field as a view: the bytes up to the next NUL or the end.
 * false when the input is used up. */
static inline bool fuzz_field(FuzzInput *in, const uint8_t **ret, size_t *ret_size) {
        if (in->size == 0)
                return false;
        const uint8_t *nul = memchr(in->data, 0, in->size);
        size_t n = nul ? (size_t) (nul - in->data) : in->size;
        *ret = in->data;
        *ret_size = n;
        in->data += n;
        in->size -= n;
        if (nul) {
                in->data++;
                in->size--;
        }
        return true;
}

/* The next field as a new C string, NULL when the input is used up. */
static inline char *fuzz_string(FuzzInput *in) {
        const uint8_t *p;
        size_t n;
        if (!fuzz_field(in, &p, &n))
                return NULL;
        char *s = malloc(n + 1);
        FUZZ_CHECK(s, "out of memory");
        memcpy(s, p, n);
        s[n] = '\0';
        return s;
}

/* A NUL-terminated copy of the whole input, for parsers of C strings. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        FUZZ_CHECK(s, "out of memory");
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* Text that is safe to show on a terminal or in a log line: no C0
 * control character but those allowed, no DEL. */
static inline bool fuzz_text_is_clean(const char *s, size_t n, const char *allowed) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if ((c < 0x20 || c == 0x7f) && !(c != 0 && allowed && strchr(allowed, c)))
                        return false;
        }
        return true;
}
