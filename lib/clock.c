/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clock.h"

#include <assert.h>

struct Clock {
        bool fake;
        sd_event *event;
        usec_t realtime, boottime;
};

int clock_new_system(sd_event *event, Clock **ret) {
        Clock *c = calloc(1, sizeof(Clock));
        if (!c)
                return -ENOMEM;
        c->event = event ? sd_event_ref(event) : NULL;
        *ret = c;
        return 0;
}

int clock_new_fake(usec_t realtime, usec_t boottime, Clock **ret) {
        Clock *c = calloc(1, sizeof(Clock));
        if (!c)
                return -ENOMEM;
        c->fake = true;
        c->realtime = realtime;
        c->boottime = boottime;
        *ret = c;
        return 0;
}

Clock *clock_free(Clock *c) {
        if (!c)
                return NULL;
        sd_event_unref(c->event);
        return mfree(c);
}

static usec_t clock_read(const Clock *c, clockid_t id) {
        uint64_t t;
        if (c->event && sd_event_now(c->event, id, &t) >= 0)
                return t;
        return now_usec(id);
}

usec_t clock_realtime(const Clock *c) {
        return c->fake ? c->realtime : clock_read(c, CLOCK_REALTIME);
}

usec_t clock_boottime(const Clock *c) {
        return c->fake ? c->boottime : clock_read(c, CLOCK_BOOTTIME);
}

bool clock_is_fake(const Clock *c) {
        return c->fake;
}

void clock_advance(Clock *c, usec_t d) {
        assert(c->fake);
        c->realtime += d;
        c->boottime += d;
}

void clock_set_realtime(Clock *c, usec_t t) {
        assert(c->fake);
        c->realtime = t;
}
