/* SPDX-License-Identifier: GPL-2.0-or-later */
/* clockstep.so: LD_PRELOAD this into a program to step its wall clock while
 * it runs, the way clock_settime(CLOCK_REALTIME) steps a machine's clock,
 * without touching the machine's clock.
 *
 * $CLOCKSTEP_FILE names a file holding an offset in seconds ("86400",
 * "-3600.5"; a missing or empty file is 0), read again within 10 ms of any
 * change. From then on:
 *   - CLOCK_REALTIME, _COARSE, _ALARM and CLOCK_TAI (clock_gettime()),
 *     gettimeofday() and time() read the real time plus the offset;
 *   - an absolute timerfd on one of those clocks keeps its deadline in
 *     the stepped wall clock: armed at the stepped time, and armed again
 *     whenever the offset changes, so that a step forward over its
 *     deadline makes it fire at once and a step back delays it, as the
 *     kernel does with absolute CLOCK_REALTIME timers on a real step;
 *   - CLOCK_MONOTONIC, CLOCK_BOOTTIME and relative timers are untouched.
 *
 * Why not libfaketime: 0.9.10 (Debian 12) shifts the value of every
 * absolute timerfd_settime() by its offset whatever the timer's clock, so
 * a CLOCK_BOOTTIME timer of sd-event (which arms every timer absolute)
 * fires a day late after a step of a day forward, and is refused (EINVAL)
 * after a step back; and it does not re-arm a realtime timer when the
 * offset changes. Not modelled here: TFD_TIMER_CANCEL_ON_SET. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define FD_MAX 4096
#define NSEC_PER_SEC 1000000000LL

typedef struct Timer {
        bool realtime;          /* created on a wall clock */
        bool absolute;          /* armed absolute: deadline holds it in the stepped clock */
        struct itimerspec deadline;
} Timer;

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_timerfd_create)(int, int);
static int (*real_timerfd_settime)(int, int, const struct itimerspec *, struct itimerspec *);
static int (*real_timerfd_gettime)(int, struct itimerspec *);

static atomic_llong offset_ns;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Timer timers[FD_MAX];
static const char *control;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool clock_is_wall(clockid_t c) {
        return c == CLOCK_REALTIME || c == CLOCK_REALTIME_COARSE || c == CLOCK_REALTIME_ALARM || c == CLOCK_TAI;
}

static long long read_offset(void) {
        char buf[64] = "";
        FILE *f = control ? fopen(control, "re") : NULL;
        if (!f)
                return 0;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        return (long long) (strtod(buf, NULL) * NSEC_PER_SEC);
}

static struct timespec ts_add(struct timespec t, long long ns) {
        long long v = (long long) t.tv_sec * NSEC_PER_SEC + t.tv_nsec + ns;
        if (v < 1)
                v = 1;  /* an absolute deadline before the epoch: at once */
        return (struct timespec) { .tv_sec = v / NSEC_PER_SEC, .tv_nsec = v % NSEC_PER_SEC };
}

/* With the lock held: the timer armed again for the current offset. */
static void rearm(int fd) {
        struct itimerspec cur, t = timers[fd].deadline;
        if (real_timerfd_gettime(fd, &cur) < 0 || (cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0)) {
                /* closed, disarmed, or fired already: a step does not undo that */
                timers[fd].absolute = false;
                return;
        }
        t.it_value = ts_add(t.it_value, -atomic_load(&offset_ns));
        (void) real_timerfd_settime(fd, TFD_TIMER_ABSTIME, &t, NULL);
}

static void *watch(void *arg) {
        struct timespec last = {};
        off_t last_size = -1;
        for (;;) {
                struct stat st;
                struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
                bool changed = false;
                if (stat(control, &st) == 0) {
                        if (st.st_mtim.tv_sec != last.tv_sec || st.st_mtim.tv_nsec != last.tv_nsec ||
                            st.st_size != last_size) {
                                last = st.st_mtim;
                                last_size = st.st_size;
                                changed = true;
                        }
                } else if (last_size != -1) {
                        last_size = -1;
                        changed = true;
                }
                if (changed) {
                        long long v = read_offset();
                        pthread_mutex_lock(&lock);
                        if (v != atomic_load(&offset_ns)) {
                                atomic_store(&offset_ns, v);
                                for (int fd = 0; fd < FD_MAX; fd++)
                                        if (timers[fd].realtime && timers[fd].absolute)
                                                rearm(fd);
                        }
                        pthread_mutex_unlock(&lock);
                }
                nanosleep(&pause, NULL);
        }
        return arg;
}

static void setup(void) {
        real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
        real_timerfd_create = dlsym(RTLD_NEXT, "timerfd_create");
        real_timerfd_settime = dlsym(RTLD_NEXT, "timerfd_settime");
        real_timerfd_gettime = dlsym(RTLD_NEXT, "timerfd_gettime");
        if (!real_clock_gettime || !real_timerfd_create || !real_timerfd_settime ||
            !real_timerfd_gettime) {
                fprintf(stderr, "clockstep: cannot find the real functions\n");
                abort();
        }
        control = getenv("CLOCKSTEP_FILE");
        if (!control)
                return;
        atomic_store(&offset_ns, read_offset());
        /* the watcher takes no signals: they stay the program's (a
         * daemon that blocks SIGTERM for its signalfd must get it there) */
        pthread_t t;
        pthread_attr_t a;
        sigset_t all, saved;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &saved);
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, watch, NULL) != 0) {
                fprintf(stderr, "clockstep: cannot start the watcher\n");
                abort();
        }
        pthread_attr_destroy(&a);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

__attribute__((constructor)) static void init(void) {
        pthread_once(&once, setup);
}

int clock_gettime(clockid_t c, struct timespec *ts) {
        pthread_once(&once, setup);
        int r = real_clock_gettime(c, ts);
        if (r == 0 && clock_is_wall(c))
                *ts = ts_add(*ts, atomic_load(&offset_ns));
        return r;
}

/* glibc declares tv nonnull */
int gettimeofday(struct timeval *tv, void *tz) {
        struct timespec ts;
        pthread_once(&once, setup);
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return -1;
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
        return 0;
}

time_t time(time_t *t) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return (time_t) -1;
        if (t)
                *t = ts.tv_sec;
        return ts.tv_sec;
}

int timerfd_create(int c, int flags) {
        pthread_once(&once, setup);
        int fd = real_timerfd_create(c, flags);
        if (fd >= 0 && fd < FD_MAX) {
                pthread_mutex_lock(&lock);
                timers[fd] = (Timer) { .realtime = clock_is_wall(c) };
                pthread_mutex_unlock(&lock);
        }
        return fd;
}

int timerfd_settime(int fd, int flags, const struct itimerspec *v, struct itimerspec *old) {
        pthread_once(&once, setup);
        if (fd < 0 || fd >= FD_MAX || !v)
                return real_timerfd_settime(fd, flags, v, old);
        pthread_mutex_lock(&lock);
        Timer *t = &timers[fd];
        bool armed = v->it_value.tv_sec != 0 || v->it_value.tv_nsec != 0;
        int r;
        if (t->realtime && (flags & TFD_TIMER_ABSTIME) && armed) {
                struct itimerspec x = *v;
                x.it_value = ts_add(v->it_value, -atomic_load(&offset_ns));
                r = real_timerfd_settime(fd, flags, &x, old);
                if (r == 0) {
                        t->absolute = true;
                        t->deadline = *v;
                }
        } else {
                r = real_timerfd_settime(fd, flags, v, old);
                if (r == 0)
                        t->absolute = false;
        }
        pthread_mutex_unlock(&lock);
        return r;
}
