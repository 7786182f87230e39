/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checks tests/lib/clockstep.so against what a real step of CLOCK_REALTIME
 * does, before the clock-step fault test relies on it. Run with
 * LD_PRELOAD=clockstep.so and CLOCKSTEP_FILE=FILE (written here); prints
 * one "ok - ..." or "not ok - ..." line per check. */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const char *file;
static int failed;

static double now_of(clockid_t c) {
        struct timespec t;
        clock_gettime(c, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

/* the kernel's clock, past any LD_PRELOAD */
static double kernel_now(clockid_t c) {
        struct timespec t;
        syscall(SYS_clock_gettime, c, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

static void check(bool ok, const char *what) {
        printf("%s - clockstep: %s\n", ok ? "ok" : "not ok", what);
        fflush(stdout);
        if (!ok)
                failed++;
}

static void set_offset(const char *v) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", file);
        FILE *f = fopen(tmp, "we");
        if (!f || fputs(v, f) < 0 || fclose(f) != 0 || rename(tmp, file) < 0) {
                perror(file);
                exit(1);
        }
        struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };     /* the shim looks every 10 ms */
        nanosleep(&pause, NULL);
}

static int arm(clockid_t c, double at) {
        int fd = timerfd_create(c, TFD_NONBLOCK | TFD_CLOEXEC);
        struct itimerspec its = { .it_value = { .tv_sec = (time_t) at, .tv_nsec = (long) ((at - (time_t) at) * 1e9) } };
        if (fd < 0 || timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
                perror("timerfd");
                exit(1);
        }
        return fd;
}

/* Seconds until fd fires, or -1 if not within limit. */
static double fires_in(int fd, double limit) {
        double start = kernel_now(CLOCK_MONOTONIC);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        while (kernel_now(CLOCK_MONOTONIC) - start < limit) {
                if (poll(&p, 1, 20) > 0)
                        return kernel_now(CLOCK_MONOTONIC) - start;
        }
        return -1;
}

int main(void) {
        char what[256];
        file = getenv("CLOCKSTEP_FILE");
        if (!file) {
                fprintf(stderr, "CLOCKSTEP_FILE is not set\n");
                return 1;
        }
        set_offset("0");
        double d = now_of(CLOCK_REALTIME) - kernel_now(CLOCK_REALTIME);
        snprintf(what, sizeof what, "offset 0: the wall clock is the kernel's (%.3f s apart)", d);
        check(d > -0.5 && d < 0.5, what);

        set_offset("86400");
        struct timeval tv;
        gettimeofday(&tv, NULL);
        d = now_of(CLOCK_REALTIME) - kernel_now(CLOCK_REALTIME);
        double dt = (double) time(NULL) - kernel_now(CLOCK_REALTIME);
        double dg = tv.tv_sec + tv.tv_usec / 1e6 - kernel_now(CLOCK_REALTIME);
        snprintf(what, sizeof what, "+1 day: clock_gettime, time and gettimeofday read a day ahead (%.1f, %.1f, %.1f s)", d,
                 dt, dg);
        check(d > 86399 && d < 86401 && dt > 86398 && dt < 86401 && dg > 86399 && dg < 86401, what);
        double b = now_of(CLOCK_BOOTTIME) - kernel_now(CLOCK_BOOTTIME);
        double mo = now_of(CLOCK_MONOTONIC) - kernel_now(CLOCK_MONOTONIC);
        snprintf(what, sizeof what, "+1 day: CLOCK_BOOTTIME and CLOCK_MONOTONIC untouched (%.3f, %.3f s)", b, mo);
        check(b > -0.5 && b < 0.5 && mo > -0.5 && mo < 0.5, what);

        /* an absolute realtime timer an hour ahead; the clock steps two hours */
        set_offset("0");
        int rt = arm(CLOCK_REALTIME, now_of(CLOCK_REALTIME) + 3600);
        int bt = arm(CLOCK_BOOTTIME, now_of(CLOCK_BOOTTIME) + 1.5);
        set_offset("7200");
        double f = fires_in(rt, 1.0);
        snprintf(what, sizeof what, "a step forward over a realtime timer's deadline fires it at once (%.2f s)", f);
        check(f >= 0 && f < 0.5, what);
        f = fires_in(bt, 3.0);
        snprintf(what, sizeof what, "a boottime timer 1.5 s ahead fires after 1.5 s whatever the step (%.2f s)", f + 0.1);
        check(f > 1.0 && f < 1.9, what);
        close(rt);
        close(bt);

        /* a realtime timer 1 s ahead; the clock steps back a day */
        rt = arm(CLOCK_REALTIME, now_of(CLOCK_REALTIME) + 1.0);
        bt = arm(CLOCK_BOOTTIME, now_of(CLOCK_BOOTTIME) + 1.5);
        set_offset("-79200");
        f = fires_in(rt, 2.5);
        check(f < 0, "a step back a day delays a realtime timer due in a second");
        set_offset("7200");
        f = fires_in(rt, 1.0);
        check(f >= 0 && f < 0.5, "stepping forward again makes it fire at once");
        f = fires_in(bt, 1.0);
        check(f >= 0, "the boottime timer fired during all this (not lost)");
        return failed ? 1 : 0;
}
