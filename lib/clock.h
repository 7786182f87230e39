/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The one way lib/ reads the time. Production clocks read the event loop's
 * cached time (sd_event_now()) or the kernel; a fake clock is set by tests,
 * so a year of credential life runs in milliseconds. Wall-clock time
 * (CLOCK_REALTIME) is used for expiry dates, certificate validity and
 * display; intervals use CLOCK_BOOTTIME, which a stepped clock or a
 * suspend does not disturb. */

#include <systemd/sd-event.h>

#include "time-util.h"

typedef struct Clock Clock;

/* The kernel's clocks; with an event loop, its cached per-iteration time. */
int clock_new_system(sd_event *event, Clock **ret);
/* A fake clock starting at the given wall-clock and boottime values. */
int clock_new_fake(usec_t realtime, usec_t boottime, Clock **ret);
Clock *clock_free(Clock *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Clock *, clock_free);

usec_t clock_realtime(const Clock *c);
usec_t clock_boottime(const Clock *c);

bool clock_is_fake(const Clock *c);
/* Fake clocks only: move both clocks forward by d. */
void clock_advance(Clock *c, usec_t d);
/* Fake clocks only: set the wall clock (a step, as by an administrator);
 * boottime is not touched. */
void clock_set_realtime(Clock *c, usec_t t);
