/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((const))
#define _fallthrough_ __attribute__((__fallthrough__))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))

/* Takes ownership: returns the value and leaves NULL (or -1 for fds) behind. */
#define TAKE_PTR(p)                                     \
        ({                                              \
                __typeof__(p) *_pp_ = &(p);             \
                __typeof__(p) _p_ = *_pp_;              \
                *_pp_ = NULL;                           \
                _p_;                                    \
        })
#define TAKE_FD(fd)                                     \
        ({                                              \
                int *_fdp_ = &(fd);                     \
                int _fd_ = *_fdp_;                      \
                *_fdp_ = -1;                            \
                _fd_;                                   \
        })

#define mfree(p)                                        \
        ({                                              \
                free(p);                                \
                (__typeof__(p)) NULL;                   \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -1;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Defines name##p(type *p) calling func(*p) when *p is non-NULL, for _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define isempty(s) (!(s) || (s)[0] == '\0')

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* errno as a negative return value, never 0 */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define RET_NERRNO(expr)                                \
        ({                                              \
                __typeof__(expr) _r_ = (expr);          \
                _r_ < 0 ? negative_errno() : _r_;       \
        })
