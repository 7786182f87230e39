/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "curl-glue.h"

#include <sys/epoll.h>

#include "time-util.h"

/* An attached transfer and who hears of its end (NULL: the glue's
 * callback). In-flight transfers number in the hundreds at most, so a flat
 * array beats a hash table here. */
typedef struct CurlGlueOwner {
        CURL *easy;
        CurlGlueFinished on_finished;
        void *userdata;
} CurlGlueOwner;

struct CurlGlue {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        sd_event_source **ios;  /* indexed by fd */
        size_t n_ios;
        CurlGlueFinished on_finished;
        void *userdata;
        CurlGlueOwner *owners;
        size_t n_owners, n_owners_allocated;
};

static CurlGlueOwner *curl_glue_find_owner(CurlGlue *g, CURL *easy) {
        for (size_t i = 0; i < g->n_owners; i++)
                if (g->owners[i].easy == easy)
                        return &g->owners[i];
        return NULL;
}

int curl_glue_global_init(void) {
        /* curl_global_init() is reference counted and idempotent enough for
         * our use; CURL_GLOBAL_DEFAULT sets up OpenSSL. */
        return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

static void curl_glue_check_finished(CurlGlue *g) {
        CURLMsg *msg;
        int left;
        /* every finished transfer, not just the first; a callback may
         * remove and free its handle and add new ones */
        while ((msg = curl_multi_info_read(g->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                CURL *easy = msg->easy_handle;
                CURLcode result = msg->data.result;
                CurlGlueOwner *o = curl_glue_find_owner(g, easy);
                if (o && o->on_finished)
                        o->on_finished(g, easy, result, o->userdata);
                else if (g->on_finished)
                        g->on_finished(g, easy, result, g->userdata);
        }
}

static int curl_glue_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CurlGlue *g = userdata;
        int action = 0, running;
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(g->multi, fd, action, &running);
        curl_glue_check_finished(g);
        return 0;
}

static int curl_glue_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userdata, void *socketp) {
        CurlGlue *g = userdata;
        sd_event_source *io = socketp;
        uint32_t events = 0;

        if (fd < 0)
                return -1;
        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        sd_event_source_disable_unref(io);
                        if ((size_t) fd < g->n_ios && g->ios[fd] == io)
                                g->ios[fd] = NULL;
                        curl_multi_assign(g->multi, fd, NULL);
                }
                return 0;
        }
        if (what == CURL_POLL_IN)
                events = EPOLLIN;
        else if (what == CURL_POLL_OUT)
                events = EPOLLOUT;
        else if (what == CURL_POLL_INOUT)
                events = EPOLLIN | EPOLLOUT;

        if (io) {
                if (sd_event_source_set_io_events(io, events) < 0 ||
                    sd_event_source_set_enabled(io, SD_EVENT_ON) < 0)
                        return -1;
                return 0;
        }
        if ((size_t) fd >= g->n_ios) {
                size_t n = MAX((size_t) fd + 1, g->n_ios * 2);
                sd_event_source **ios = realloc(g->ios, n * sizeof(sd_event_source *));
                if (!ios)
                        return -1;
                memset(ios + g->n_ios, 0, (n - g->n_ios) * sizeof(sd_event_source *));
                g->ios = ios;
                g->n_ios = n;
        }
        if (sd_event_add_io(g->event, &io, fd, events, curl_glue_on_io, g) < 0)
                return -1;
        (void) sd_event_source_set_description(io, "curl-io");
        if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
                sd_event_source_disable_unref(io);
                return -1;
        }
        g->ios[fd] = io;
        return 0;
}

static int curl_glue_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CurlGlue *g = userdata;
        int running;
        (void) curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        curl_glue_check_finished(g);
        return 0;
}

static int curl_glue_timer_cb(CURLM *multi, long timeout_ms, void *userdata) {
        CurlGlue *g = userdata;
        uint64_t now;

        if (timeout_ms < 0) {
                if (g->timer && sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0)
                        return -1;
                return 0;
        }
        if (sd_event_now(g->event, CLOCK_BOOTTIME, &now) < 0)
                now = now_usec(CLOCK_BOOTTIME);
        usec_t when = now + (usec_t) timeout_ms * USEC_PER_MSEC;
        if (g->timer) {
                if (sd_event_source_set_time(g->timer, when) < 0 ||
                    sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT) < 0)
                        return -1;
                return 0;
        }
        /* accuracy 1 µs: 0 would mean sd-event's default of 250 ms, and every
         * timeout and retry libcurl asks for would come that late */
        if (sd_event_add_time(g->event, &g->timer, CLOCK_BOOTTIME, when, 1, curl_glue_on_timer, g) < 0)
                return -1;
        (void) sd_event_source_set_description(g->timer, "curl-timer");
        return 0;
}

int curl_glue_new(sd_event *event, CurlGlueFinished on_finished, void *userdata, CurlGlue **ret) {
        _cleanup_(curl_glue_freep) CurlGlue *g = calloc(1, sizeof(CurlGlue));
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->on_finished = on_finished;
        g->userdata = userdata;
        g->multi = curl_multi_init();
        if (!g->multi)
                return -ENOMEM;
        if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, curl_glue_socket_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, curl_glue_timer_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK)
                return -EIO;
        *ret = TAKE_PTR(g);
        return 0;
}

CurlGlue *curl_glue_free(CurlGlue *g) {
        if (!g)
                return NULL;
        if (g->multi)
                curl_multi_cleanup(g->multi);
        for (size_t i = 0; i < g->n_ios; i++)
                sd_event_source_disable_unref(g->ios[i]);
        free(g->ios);
        free(g->owners);
        sd_event_source_disable_unref(g->timer);
        sd_event_unref(g->event);
        return mfree(g);
}

CURLM *curl_glue_multi(CurlGlue *g) {
        return g->multi;
}

sd_event *curl_glue_event(CurlGlue *g) {
        return g->event;
}

static int curl_glue_attach(CurlGlue *g, CURL *easy, CurlGlueFinished on_finished, void *userdata) {
        if (!easy)
                return -EINVAL;
        if (curl_glue_find_owner(g, easy))
                return -EEXIST;
        if (g->n_owners >= g->n_owners_allocated) {
                size_t n = MAX(g->n_owners_allocated * 2, (size_t) 16);
                CurlGlueOwner *o = reallocarray(g->owners, n, sizeof(CurlGlueOwner));
                if (!o)
                        return -ENOMEM;
                g->owners = o;
                g->n_owners_allocated = n;
        }
        /* room is made before adding, so nothing has to be undone in curl */
        g->owners[g->n_owners++] = (CurlGlueOwner) { easy, on_finished, userdata };
        if (curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
                g->n_owners--;
                return -EIO;
        }
        return 0;
}

int curl_glue_add(CurlGlue *g, CURL *easy) {
        return curl_glue_attach(g, easy, NULL, NULL);
}

int curl_glue_add_with(CurlGlue *g, CURL *easy, CurlGlueFinished on_finished, void *userdata) {
        if (!on_finished)
                return -EINVAL;
        return curl_glue_attach(g, easy, on_finished, userdata);
}

void curl_glue_remove(CurlGlue *g, CURL *easy) {
        CurlGlueOwner *o = easy ? curl_glue_find_owner(g, easy) : NULL;
        if (!o)
                return;
        *o = g->owners[--g->n_owners];
        (void) curl_multi_remove_handle(g->multi, easy);
}

unsigned curl_glue_n_running(CurlGlue *g) {
        return (unsigned) g->n_owners;
}
