/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "control-client.h"
#include "control-server.h"
#include "strv.h"
#include "tests.h"

/* A server on its own thread and event loop, with handlers that record what
 * they see; the test thread plays the clients with blocking calls. */
typedef struct TestServer {
        char dir[64];
        char path[128];
        sd_event *event;
        ControlServer *server;
        Tz *tz;
        pthread_t thread;
        bool running;
        int stop[2];
        size_t n_links;                 /* links in the status reply */
        usec_t delay;                   /* of the asynchronous replies */

        pthread_mutex_t lock;           /* guards what follows */
        char secret[PROTOCOL_SECRET_MAX + 1];
        size_t secret_size;
        unsigned n_dispatched;
        unsigned n_imported;
        bool import_intact;
        unsigned n_disconnected;
        int late_reply;                 /* what the delayed reply returned */
        unsigned n_streams_freed;
        size_t stream_fail_at;          /* the streamed reply fails at this element, 0: never */
} TestServer;

static void record(TestServer *t, void (*f)(TestServer *t, void *p), void *p) {
        pthread_mutex_lock(&t->lock);
        f(t, p);
        pthread_mutex_unlock(&t->lock);
}

static void count_dispatch(TestServer *t, void *p) {
        t->n_dispatched++;
}

static json_object *link_json(TestServer *t, size_t i) {
        char name[32];
        snprintf(name, sizeof name, "link-%05zu", i);
        ProtocolLinkStatus s = PROTOCOL_LINK_STATUS_NULL;
        s.name = name;
        s.state = (char *) "ok";
        s.days_left = (int64_t) i;
        s.expires = (1800000000 + i) * USEC_PER_SEC;
        s.lifetime = 365 * USEC_PER_DAY;
        s.username = (char *) "vendor@example.org";
        s.has_last_probe = true;
        s.last_probe = (ProbeResult) { .klass = PROBE_OK, .http_status = 200, .time = 1782900000 * USEC_PER_SEC,
                                       .dns = 1000, .connect = 2000, .tls = 3000, .first_byte = 4000,
                                       .total = 5000 };
        json_object *o;
        ck_assert_int_eq(protocol_link_status_to_json(&s, t->tz, &o), 0);
        return o;
}

static int on_status(ControlRequest *req, void *userdata) {
        TestServer *t = userdata;
        json_object *data, *links = json_object_new_array();
        record(t, count_dispatch, NULL);
        ck_assert_int_eq(protocol_data_new(t->tz, 1782900000 * USEC_PER_SEC, &data), 0);
        for (size_t i = 0; i < t->n_links; i++)
                json_object_array_add(links, link_json(t, i));
        json_object_object_add(data, "links", links);
        return control_request_reply(req, data);
}

/* The same reply, streamed (check). */
typedef struct TestStream {
        TestServer *t;
        size_t i, n;
} TestStream;

static void count_stream_freed(TestServer *t, void *p) {
        t->n_streams_freed++;
}

static int test_stream_next(void *userdata, json_object **ret) {
        TestStream *st = userdata;
        if (st->i >= st->n)
                return 0;
        if (st->t->stream_fail_at > 0 && st->i == st->t->stream_fail_at)
                return -EIO;
        *ret = link_json(st->t, st->i++);
        return 1;
}

static void test_stream_free(void *userdata) {
        TestStream *st = userdata;
        record(st->t, count_stream_freed, NULL);
        free(st);
}

static int on_status_streamed(ControlRequest *req, void *userdata) {
        TestServer *t = userdata;
        json_object *data;
        record(t, count_dispatch, NULL);
        ck_assert_int_eq(protocol_data_new(t->tz, 1782900000 * USEC_PER_SEC, &data), 0);
        TestStream *st = calloc(1, sizeof(TestStream));
        ck_assert_ptr_nonnull(st);
        *st = (TestStream) { .t = t, .n = t->n_links };
        return control_request_reply_stream(req, data, "links", test_stream_next, test_stream_free, st);
}

static int on_show(ControlRequest *req, void *userdata) {
        const ProtocolRequest *p = control_request_get(req);
        record(userdata, count_dispatch, NULL);
        if (streq(p->link, "missing"))
                return control_request_reply_error(req, PROTOCOL_ERROR_NOT_FOUND, "no link named \"%s\"", p->link);
        if (streq(p->link, "errno"))
                return -ENOENT;   /* no reply: the server maps the errno */
        json_object *o = json_object_new_object();
        json_object_object_add(o, "link", json_object_new_string(p->link));
        json_object_object_add(o, "uid", json_object_new_int64(control_request_uid(req)));
        json_object_object_add(o, "access", json_object_new_string(protocol_access_to_string(control_request_access(req))));
        return control_request_reply(req, o);
}

static void store_secret(TestServer *t, void *p) {
        const ProtocolRequest *r = p;
        t->n_dispatched++;
        if (r->secret)
                memcpy(t->secret, r->secret, r->secret_size);
        t->secret_size = r->secret_size;
}

static int on_credential_set(ControlRequest *req, void *userdata) {
        const ProtocolRequest *p = control_request_get(req);
        record(userdata, store_secret, (void *) p);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "link", json_object_new_string(p->link));
        json_object_object_add(o, "username", json_object_new_string(p->username));
        return control_request_reply(req, o);
}

/* asynchronous: the reply comes from a timer, as a probe result would */
static int on_delayed_reply(sd_event_source *s, uint64_t usec, void *userdata) {
        ControlRequest *req = userdata;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "verified", json_object_new_boolean(true));
        sd_event_source_disable_unref(s);
        (void) control_request_reply(req, o);
        return 0;
}

static void count_disconnect(TestServer *t, void *p) {
        t->n_disconnected++;
}

static void on_disconnect(ControlRequest *req, void *userdata) {
        record(userdata, count_disconnect, NULL);
}

static int on_rotate(ControlRequest *req, void *userdata) {
        TestServer *t = userdata;
        record(t, store_secret, (void *) control_request_get(req));
        control_request_set_disconnect_callback(req, on_disconnect, t);
        return sd_event_add_time_relative(t->event, NULL, CLOCK_BOOTTIME, t->delay, 0, on_delayed_reply, req);
}

static void check_import(TestServer *t, void *p) {
        const ProtocolRequest *r = p;
        t->n_dispatched++;
        t->n_imported = (unsigned) r->n_rows;
        t->import_intact = true;
        for (size_t i = 0; i < r->n_rows; i++) {
                char want[64];
                snprintf(want, sizeof want, "secret-%zu-\x01\xff", i);
                if (r->rows[i].secret_size != strlen(want) || memcmp(r->rows[i].secret, want, strlen(want)) != 0 ||
                    r->rows[i].line != i + 2)
                        t->import_intact = false;
        }
}

static int on_import(ControlRequest *req, void *userdata) {
        const ProtocolRequest *p = control_request_get(req);
        record(userdata, check_import, (void *) p);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "imported", json_object_new_int64((int64_t) p->n_rows));
        return control_request_reply(req, o);
}

static int on_reload(ControlRequest *req, void *userdata) {
        record(userdata, count_dispatch, NULL);
        return -EIO;
}

static int on_generic(ControlRequest *req, void *userdata) {
        record(userdata, count_dispatch, NULL);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "command", json_object_new_string(protocol_command_to_string(control_request_command(req))));
        return control_request_reply(req, o);
}

static const ControlHandlerEntry handlers[] = {
        { PROTOCOL_COMMAND_STATUS, on_status },
        { PROTOCOL_COMMAND_CHECK, on_status_streamed },
        { PROTOCOL_COMMAND_SHOW, on_show },
        { PROTOCOL_COMMAND_CREDENTIAL_SET, on_credential_set },
        { PROTOCOL_COMMAND_CREDENTIAL_ROTATE, on_rotate },
        { PROTOCOL_COMMAND_PROBE, on_rotate },
        { PROTOCOL_COMMAND_CREDENTIAL_IMPORT, on_import },
        { PROTOCOL_COMMAND_RELOAD, on_reload },
        { PROTOCOL_COMMAND_ALERTS, on_generic },
        { PROTOCOL_COMMAND_SILENCE, on_generic },
        { PROTOCOL_COMMAND_UNSILENCE, on_generic },
        { PROTOCOL_COMMAND_CREDENTIAL_HISTORY, on_generic },
        /* test-email deliberately missing */
};

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void *server_thread(void *p) {
        TestServer *t = p;
        ck_assert_int_ge(sd_event_loop(t->event), 0);
        return NULL;
}

/* Sets up a server on a socket in a fresh directory (not yet running). */
static TestServer *server_new(const ControlServerOptions *options) {
        TestServer *t = calloc(1, sizeof(TestServer));
        int fd;
        ck_assert_ptr_nonnull(t);
        pthread_mutex_init(&t->lock, NULL);
        strcpy(t->dir, "/tmp/test-control-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        ck_assert_int_eq(chmod(t->dir, 0755), 0);
        snprintf(t->path, sizeof t->path, "%s/control.sock", t->dir);
        ck_assert_int_eq(tz_load(NULL, "America/Los_Angeles", &t->tz), 0);
        ck_assert_int_eq(sd_event_new(&t->event), 0);
        ck_assert_int_eq(control_socket_bind(t->path, options ? options->group : NULL, &fd), 0);
        ck_assert_int_eq(control_server_new(t->event, fd, options, handlers, ELEMENTSOF(handlers), t, NULL, &t->server),
                         0);
        ck_assert_int_eq(pipe2(t->stop, O_CLOEXEC), 0);
        ck_assert_int_ge(sd_event_add_io(t->event, NULL, t->stop[0], EPOLLIN, on_stop, NULL), 0);
        t->n_links = 3;
        t->delay = 50 * USEC_PER_MSEC;
        return t;
}

static void server_start(TestServer *t) {
        ck_assert_int_eq(pthread_create(&t->thread, NULL, server_thread, t), 0);
        t->running = true;
}

static void server_free(TestServer *t) {
        if (t->running) {
                ck_assert_int_eq(write(t->stop[1], "x", 1), 1);
                ck_assert_int_eq(pthread_join(t->thread, NULL), 0);
        }
        control_server_free(t->server);
        sd_event_unref(t->event);
        tz_free(t->tz);
        close(t->stop[0]);
        close(t->stop[1]);
        unlink(t->path);
        rmdir(t->dir);
        pthread_mutex_destroy(&t->lock);
        free(t);
}

static ControlClient *client(TestServer *t) {
        ControlClient *c = NULL;
        int r = control_client_connect(t->path, 5 * USEC_PER_SEC, &c);
        ck_assert_msg(r == 0, "connect: %s", strerror(-r));
        return c;
}

static int call(ControlClient *c, ProtocolRequest req, json_object **ret, ProtocolFailure *f) {
        protocol_failure_done(f);
        return control_client_call(c, &req, 60 * USEC_PER_SEC, ret, f);
}

START_TEST(test_requests) {
        TestServer *t = server_new(NULL);
        /* in-process over a socketpair, handed in before the loop runs */
        int pair[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        ck_assert_int_eq(control_server_add_client(t->server, pair[1]), 0);
        ck_assert_uint_eq(control_server_n_clients(t->server), 1);
        server_start(t);
        const char *hello = "{\"v\":1,\"command\":\"check\"}";
        ck_assert_int_eq(send(pair[0], hello, strlen(hello), 0), (ssize_t) strlen(hello));
        char *answer = NULL;
        ck_assert_int_gt(protocol_recv(pair[0], PROTOCOL_MESSAGE_MAX, &answer), 0);
        ck_assert_ptr_nonnull(strstr(answer, "\"ok\":true"));
        free(answer);
        close(pair[0]);

        _cleanup_(control_client_freep) ControlClient *c = client(t);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *data = NULL, *v;

        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), 0);
        ck_assert(json_object_object_get_ex(data, "links", &v));
        ck_assert_uint_eq(json_object_array_length(v), 3);
        ck_assert(json_object_object_get_ex(data, "timezone", &v));
        ck_assert_str_eq(json_object_get_string(v), "America/Los_Angeles");
        json_object_put(data);

        /* several requests on one connection */
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_SHOW, .link = (char *) "district" },
                              &data, &f), 0);
        ck_assert(json_object_object_get_ex(data, "access", &v));
        ck_assert_str_eq(json_object_get_string(v), "admin");   /* tests run as root or as the server's own uid */
        json_object_put(data);

        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_SHOW, .link = (char *) "missing" },
                              &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_NOT_FOUND);
        ck_assert_str_eq(f.message, "no link named \"missing\"");

        /* a handler that fails without replying: the errno is mapped */
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_SHOW, .link = (char *) "errno" },
                              &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_NOT_FOUND);
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_RELOAD }, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_INTERNAL);
        ck_assert_ptr_nonnull(strstr(f.message, "reload failed"));

        /* a command the daemon registered no handler for */
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_TEST_EMAIL }, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_UNKNOWN_COMMAND);
        ck_assert_ptr_nonnull(strstr(f.message, "not supported by this daemon"));

        /* an unknown command and a wrong version, raw */
        const char *unknown = "{\"v\":1,\"command\":\"self-destruct\"}";
        ck_assert_int_eq(control_client_send(c, unknown, strlen(unknown), USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_read_reply(c, USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_UNKNOWN_COMMAND);
        const char *v2 = "{\"v\":2,\"command\":\"status\"}";
        ck_assert_int_eq(control_client_send(c, v2, strlen(v2), USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_read_reply(c, USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_UNSUPPORTED_VERSION);

        /* still fine */
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_ALERTS }, &data, &f), 0);
        json_object_put(data);
        protocol_failure_done(&f);
        server_free(t);
}
END_TEST

START_TEST(test_secret_out_of_band) {
        TestServer *t = server_new(NULL);
        server_start(t);
        _cleanup_(control_client_freep) ControlClient *c = client(t);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *data = NULL;
        const char secret[] = "s3cr\0t with \"quotes\", newline\n and \xff bytes";

        ck_assert_int_eq(call(c,
                              (ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_SET,
                                                  .link = (char *) "district",
                                                  .username = (char *) "vendor",
                                                  .secret = (char *) secret,
                                                  .secret_size = sizeof secret - 1 },
                              &data, &f),
                         0);
        ck_assert_ptr_null(strstr(json_object_to_json_string(data), "s3cr"));
        json_object_put(data);
        pthread_mutex_lock(&t->lock);
        ck_assert_uint_eq(t->secret_size, sizeof secret - 1);
        ck_assert_int_eq(memcmp(t->secret, secret, sizeof secret - 1), 0);
        pthread_mutex_unlock(&t->lock);

        /* the secret is announced, wrong sizes are refused */
        const char *req = "{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":8}";
        ck_assert_int_eq(control_client_send(c, req, strlen(req), USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_send(c, "short", 5, USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_read_reply(c, USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_ptr_nonnull(strstr(f.message, "8 were announced"));
        ck_assert_int_eq(control_client_send(c, req, strlen(req), USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_send(c, "much too long", 13, USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_read_reply(c, USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_ptr_nonnull(strstr(f.message, "larger than announced"));
        /* a secret without announcement is just a bad message */
        ck_assert_int_eq(control_client_send(c, "hunter2", 7, USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_read_reply(c, USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_BAD_REQUEST);
        ck_assert_ptr_null(strstr(f.message, "hunter2"));
        server_free(t);

        /* What the client puts on the wire: the request without the secret,
         * then the secret alone. Seen from a bare listening socket. */
        char dir[] = "/tmp/test-control-XXXXXX", path[128];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/s", dir);
        int lfd;
        ck_assert_int_eq(control_socket_bind(path, "no-such-group-here", &lfd), 0);
        ControlClient *cc;
        ck_assert_int_eq(control_client_connect(path, USEC_PER_SEC, &cc), 0);
        ck_assert_int_eq(control_client_call(cc,
                                             &(ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_ROTATE,
                                                                  .link = (char *) "district",
                                                                  .username = (char *) "vendor",
                                                                  .secret = (char *) secret,
                                                                  .secret_size = sizeof secret - 1 },
                                             100 * USEC_PER_MSEC, &data, &f),
                         -ETIMEDOUT);
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 1000), 1);
        int afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(afd, 0);
        char *m1 = NULL, *m2 = NULL;
        ssize_t n1 = protocol_recv(afd, PROTOCOL_MESSAGE_MAX, &m1), n2 = protocol_recv(afd, PROTOCOL_MESSAGE_MAX, &m2);
        ck_assert_int_gt(n1, 0);
        char want[64];
        snprintf(want, sizeof want, "\"secret_size\":%zu", sizeof secret - 1);
        ck_assert_ptr_nonnull(strstr(m1, want));
        ck_assert_ptr_null(memmem(m1, (size_t) n1, "s3cr", 4));
        ck_assert_int_eq(n2, sizeof secret - 1);
        ck_assert_int_eq(memcmp(m2, secret, sizeof secret - 1), 0);
        free(m1);
        free(m2);
        close(afd);
        control_client_free(cc);
        close(lfd);
        unlink(path);
        rmdir(dir);
        protocol_failure_done(&f);
}
END_TEST

START_TEST(test_async_and_disconnect) {
        TestServer *t = server_new(NULL);
        server_start(t);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *data = NULL, *v;

        _cleanup_(control_client_freep) ControlClient *c = client(t);
        usec_t start = now_usec(CLOCK_MONOTONIC);
        ck_assert_int_eq(call(c,
                              (ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_ROTATE,
                                                  .link = (char *) "district",
                                                  .username = (char *) "vendor",
                                                  .secret = (char *) "x",
                                                  .secret_size = 1 },
                              &data, &f),
                         0);
        ck_assert_uint_ge(now_usec(CLOCK_MONOTONIC) - start, 40 * USEC_PER_MSEC);
        ck_assert(json_object_object_get_ex(data, "verified", &v));
        json_object_put(data);
        /* the connection serves the next request after an asynchronous reply */
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), 0);
        json_object_put(data);

        /* a client that leaves while its probe runs: the handler hears of it,
         * its late reply is discarded, nothing leaks */
        ControlClient *gone = client(t);
        const char *probe = "{\"v\":1,\"command\":\"probe\",\"all\":true}";
        ck_assert_int_eq(control_client_send(gone, probe, strlen(probe), USEC_PER_SEC), 0);
        usleep(10 * 1000);
        control_client_free(gone);
        for (int i = 0; i < 100; i++) {
                pthread_mutex_lock(&t->lock);
                unsigned n = t->n_disconnected;
                pthread_mutex_unlock(&t->lock);
                if (n > 0)
                        break;
                usleep(10 * 1000);
        }
        pthread_mutex_lock(&t->lock);
        ck_assert_uint_eq(t->n_disconnected, 1);
        pthread_mutex_unlock(&t->lock);
        usleep(100 * 1000);   /* the late reply fires */
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), 0);
        json_object_put(data);
        server_free(t);
}
END_TEST

START_TEST(test_large_reply_and_import) {
        TestServer *t = server_new(NULL);
        t->n_links = 10000;
        server_start(t);
        _cleanup_(control_client_freep) ControlClient *c = client(t);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *data = NULL, *links;

        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), 0);
        ck_assert(json_object_object_get_ex(data, "links", &links));
        ck_assert_uint_eq(json_object_array_length(links), 10000);
        for (size_t i = 0; i < 10000; i++) {
                ProtocolLinkStatus s;
                check_loop(protocol_link_status_from_json(json_object_array_get_idx(links, i), &s, &f) == 0, "%s",
                           f.message);
                check_loop(s.days_left == (int64_t) i, "order kept at %zu", i);
                protocol_link_status_done(&s);
        }
        json_object_put(data);

        /* 10,000 credentials in one import */
        const size_t n = 10000;
        ProtocolImportRow *rows = calloc(n, sizeof(ProtocolImportRow));
        for (size_t i = 0; i < n; i++) {
                char buf[64];
                snprintf(buf, sizeof buf, "school-%05zu", i);
                rows[i].link = strdup(buf);
                rows[i].username = strdup("vendor@example.org");
                snprintf(buf, sizeof buf, "secret-%zu-\x01\xff", i);
                rows[i].secret = strdup(buf);
                rows[i].secret_size = strlen(buf);
                rows[i].line = (unsigned) i + 2;
        }
        ck_assert_int_eq(control_client_import(c, rows, n, 30 * USEC_PER_SEC, &data, &f), 0);
        json_object *v;
        ck_assert(json_object_object_get_ex(data, "imported", &v));
        ck_assert_int_eq(json_object_get_int64(v), 10000);
        json_object_put(data);
        pthread_mutex_lock(&t->lock);
        ck_assert_uint_eq(t->n_imported, 10000);
        ck_assert(t->import_intact);
        unsigned dispatched = t->n_dispatched;
        pthread_mutex_unlock(&t->lock);

        /* a stream with a bad chunk in the middle: one error, nothing imported,
         * and the connection goes on */
        free(rows[5000].link);
        rows[5000].link = strdup("Not-A-Valid-Name");
        ck_assert_int_eq(control_client_import(c, rows, n, 30 * USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_BAD_REQUEST);
        ck_assert_ptr_nonnull(strstr(f.message, "\"link\" must be a valid link name"));
        t->n_links = 1;
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_CHECK }, &data, &f), 0);
        json_object_put(data);
        pthread_mutex_lock(&t->lock);
        ck_assert_uint_eq(t->n_dispatched, dispatched + 1);   /* only the check */
        pthread_mutex_unlock(&t->lock);

        /* a stream interrupted by another command */
        ProtocolImportChunk chunk;
        size_t pos = 0;
        ck_assert_int_eq(protocol_import_chunk_next(rows, 10, &pos, 600, &chunk), 1);
        ck_assert(!chunk.last);
        ck_assert_int_eq(control_client_send(c, chunk.json, chunk.json_size, USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_send(c, chunk.secrets, chunk.secrets_size, USEC_PER_SEC), 0);
        protocol_import_chunk_done(&chunk);
        const char *status = "{\"v\":1,\"command\":\"status\"}";
        ck_assert_int_eq(control_client_send(c, status, strlen(status), USEC_PER_SEC), 0);
        ck_assert_int_eq(control_client_read_reply(c, USEC_PER_SEC, &data, &f), -EREMOTEIO);
        ck_assert_ptr_nonnull(strstr(f.message, "interrupted"));
        ck_assert_int_eq(call(c, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), 0);
        json_object_put(data);

        protocol_import_rows_free(rows, n);
        protocol_failure_done(&f);
        server_free(t);
}
END_TEST

static unsigned streams_freed(TestServer *t) {
        pthread_mutex_lock(&t->lock);
        unsigned n = t->n_streams_freed;
        pthread_mutex_unlock(&t->lock);
        return n;
}

/* A reply produced while the client reads: the same data as when built at
 * once, the loop free between messages, the producer's state freed at the
 * end, when the client leaves half-way, and on failure. */
START_TEST(test_streamed_reply) {
        TestServer *t = server_new(NULL);
        t->n_links = 10000;
        server_start(t);
        _cleanup_(control_client_freep) ControlClient *a = client(t);
        _cleanup_(control_client_freep) ControlClient *b = client(t);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *eager = NULL, *streamed = NULL;

        ck_assert_int_eq(call(a, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &eager, &f), 0);
        ck_assert_int_eq(call(a, (ProtocolRequest) { .command = PROTOCOL_COMMAND_CHECK }, &streamed, &f), 0);
        ck_assert(json_object_equal(eager, streamed));
        json_object *links;
        ck_assert(json_object_object_get_ex(streamed, "links", &links));
        ck_assert_uint_eq(json_object_array_length(links), 10000);
        json_object_put(eager);
        json_object_put(streamed);
        ck_assert_uint_eq(streams_freed(t), 1);

        /* a client that does not read does not hold the others up */
        const char *check = "{\"v\":1,\"command\":\"check\"}";
        ck_assert_int_eq(control_client_send(a, check, strlen(check), USEC_PER_SEC), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        ck_assert_int_eq(call(b, (ProtocolRequest) { .command = PROTOCOL_COMMAND_SHOW, .link = (char *) "x" }, &eager, &f), 0);
        json_object_put(eager);
        ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC) - t0, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(streams_freed(t), 1);         /* a's is still going */
        ck_assert_int_eq(control_client_read_reply(a, 30 * USEC_PER_SEC, &streamed, &f), 0);
        ck_assert(json_object_object_get_ex(streamed, "links", &links));
        ck_assert_uint_eq(json_object_array_length(links), 10000);
        json_object_put(streamed);

        /* a small one is one message */
        t->n_links = 2;
        ck_assert_int_eq(call(a, (ProtocolRequest) { .command = PROTOCOL_COMMAND_CHECK }, &streamed, &f), 0);
        ck_assert(json_object_object_get_ex(streamed, "links", &links));
        ck_assert_uint_eq(json_object_array_length(links), 2);
        json_object_put(streamed);

        /* the producer fails half-way: an error ends the reply, the
         * connection goes on */
        t->n_links = 10000;
        t->stream_fail_at = 5000;
        ck_assert_int_eq(call(a, (ProtocolRequest) { .command = PROTOCOL_COMMAND_CHECK }, &streamed, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_INTERNAL);
        ck_assert_ptr_nonnull(strstr(f.message, "cannot produce the reply"));
        t->stream_fail_at = 0;
        ck_assert_int_eq(call(a, (ProtocolRequest) { .command = PROTOCOL_COMMAND_SHOW, .link = (char *) "x" }, &eager, &f), 0);
        json_object_put(eager);

        /* the client leaves half-way */
        unsigned before = streams_freed(t);
        ck_assert_int_eq(control_client_send(b, check, strlen(check), USEC_PER_SEC), 0);
        char *buf = NULL;
        struct pollfd pfd = { .fd = control_client_fd(b), .events = POLLIN };
        ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
        ck_assert_int_gt(protocol_recv(control_client_fd(b), PROTOCOL_MESSAGE_MAX, &buf), 0);
        free(buf);
        b = control_client_free(b);
        for (int i = 0; i < 500 && streams_freed(t) == before; i++)
                usleep(10000);
        ck_assert_uint_eq(streams_freed(t), before + 1);

        protocol_failure_done(&f);
        server_free(t);
}
END_TEST

/* Waits for the server to close the connection: true if it did within ms. */
static bool closed_within(ControlClient *c, int ms) {
        struct pollfd p = { .fd = control_client_fd(c), .events = POLLIN };
        if (poll(&p, 1, ms) != 1)
                return false;
        char *buf = NULL;
        ssize_t n = protocol_recv(control_client_fd(c), PROTOCOL_MESSAGE_MAX, &buf);
        free(buf);
        return n == 0 || n == -ECONNRESET;
}

START_TEST(test_timeouts) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *data;

        /* says nothing: dropped after the idle timeout, long before the
         * connection limit */
        TestServer *t = server_new(&(ControlServerOptions) { .idle_timeout = 200 * USEC_PER_MSEC,
                                                             .connection_timeout = 20 * USEC_PER_SEC });
        server_start(t);
        ControlClient *idle = client(t);
        usec_t start = now_usec(CLOCK_MONOTONIC);
        ck_assert(closed_within(idle, 5000));
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;
        ck_assert_uint_ge(took, 150 * USEC_PER_MSEC);
        ck_assert_uint_le(took, 3 * USEC_PER_SEC);
        control_client_free(idle);
        /* one that speaks in time is served */
        ControlClient *prompt = client(t);
        usleep(100 * 1000);
        ck_assert_int_eq(call(prompt, (ProtocolRequest) { .command = PROTOCOL_COMMAND_ALERTS }, &data, &f), 0);
        json_object_put(data);
        control_client_free(prompt);
        server_free(t);

        /* a slow but active client is served until the connection limit */
        t = server_new(&(ControlServerOptions) { .idle_timeout = 5 * USEC_PER_SEC,
                                                 .connection_timeout = 700 * USEC_PER_MSEC });
        server_start(t);
        ControlClient *busy = client(t);
        start = now_usec(CLOCK_MONOTONIC);
        unsigned served = 0;
        for (;;) {
                usleep(100 * 1000);
                int r = call(busy, (ProtocolRequest) { .command = PROTOCOL_COMMAND_ALERTS }, &data, &f);
                if (r < 0)
                        break;
                json_object_put(data);
                served++;
        }
        took = now_usec(CLOCK_MONOTONIC) - start;
        ck_assert_uint_ge(served, 3);
        ck_assert_uint_ge(took, 600 * USEC_PER_MSEC);
        ck_assert_uint_le(took, 4 * USEC_PER_SEC);
        control_client_free(busy);

        /* the idle limit does not run while the daemon works on a request */
        ControlServerOptions quick = { .idle_timeout = 300 * USEC_PER_MSEC };
        TestServer *t2 = server_new(&quick);
        t2->delay = 900 * USEC_PER_MSEC;
        server_start(t2);
        ControlClient *waiting = client(t2);
        ck_assert_int_eq(call(waiting,
                              (ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_ROTATE,
                                                  .link = (char *) "a",
                                                  .username = (char *) "u",
                                                  .secret = (char *) "k",
                                                  .secret_size = 1 },
                              &data, &f),
                         0);   /* 900 ms of work > 300 ms idle limit */
        json_object_put(data);
        control_client_free(waiting);
        server_free(t2);
        server_free(t);
}
END_TEST

START_TEST(test_many_clients) {
        TestServer *t = server_new(NULL);
        server_start(t);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ControlClient *clients[200];
        const char *req = "{\"v\":1,\"command\":\"status\"}";

        /* 200 at once: all connected, all asking, then all reading */
        for (size_t i = 0; i < ELEMENTSOF(clients); i++)
                clients[i] = client(t);
        for (size_t i = 0; i < ELEMENTSOF(clients); i++)
                ck_assert_int_eq(control_client_send(clients[i], req, strlen(req), USEC_PER_SEC), 0);
        for (size_t i = 0; i < ELEMENTSOF(clients); i++) {
                json_object *data = NULL;
                int r = control_client_read_reply(clients[i], 30 * USEC_PER_SEC, &data, &f);
                ck_assert_msg(r == 0, "client %zu: %s", i, strerror(-r));
                json_object_put(data);
        }
        for (size_t i = 0; i < ELEMENTSOF(clients); i++)
                control_client_free(clients[i]);
        server_free(t);

        /* beyond the limit: a busy reply, then the door closes */
        t = server_new(&(ControlServerOptions) { .max_clients = 10 });
        server_start(t);
        for (size_t i = 0; i < 10; i++) {
                clients[i] = client(t);
                json_object *data = NULL;
                ck_assert_int_eq(call(clients[i], (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), 0);
                json_object_put(data);
        }
        ControlClient *extra = client(t);
        json_object *data = NULL;
        ck_assert_int_eq(call(extra, (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f), -EREMOTEIO);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_BUSY);
        control_client_free(extra);
        /* one leaves, a newcomer is served */
        control_client_free(clients[0]);
        int r = -EREMOTEIO;
        for (int attempt = 0; attempt < 200 && r < 0; attempt++) {
                usleep(10 * 1000);   /* until the server has seen the departure */
                clients[0] = client(t);
                r = call(clients[0], (ProtocolRequest) { .command = PROTOCOL_COMMAND_STATUS }, &data, &f);
                if (r < 0) {
                        ck_assert_int_eq(f.code, PROTOCOL_ERROR_BUSY);
                        control_client_free(clients[0]);
                }
        }
        ck_assert_int_eq(r, 0);
        json_object_put(data);
        for (size_t i = 0; i < 10; i++)
                control_client_free(clients[i]);
        protocol_failure_done(&f);
        server_free(t);
}
END_TEST

/* ---- robustness --------------------------------------------------------------- */

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint32_t rnd(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t) (rng_state >> 11);
}

static const char *const valid_templates[] = {
        "{\"v\":1,\"command\":\"status\"}",
        "{\"v\":1,\"command\":\"show\",\"link\":\"district\"}",
        "{\"v\":1,\"command\":\"silence\",\"link\":\"a\",\"duration_seconds\":60,\"reason\":\"x\"}",
        "{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":3}",
};

static const char *const bad_templates[] = {
        "{\"v\":1,\"command\":\"show\",\"link\":7}",
        "{\"v\":1,\"command\":\"show\"}",
        "{\"v\":1,\"command\":[\"status\"]}",
        "{\"v\":\"1\",\"command\":\"status\"}",
        "{\"v\":3,\"command\":\"status\"}",
        "{\"v\":1,\"command\":\"rm -rf\"}",
        "{\"v\":1,\"command\":\"probe\",\"link\":\"a\",\"all\":true}",
        "{\"v\":1,\"command\":\"silence\",\"link\":\"a\",\"duration_seconds\":-5}",
        "{\"v\":1,\"command\":\"silence\",\"link\":\"a\",\"duration_seconds\":1e9}",
        "[]",
        "null",
        "{}",
        "{\"v\":1,\"command\":\"credential-import\",\"rows\":[{\"link\":\"a\"}],\"secret_size\":0}",
        "{\"v\":1,\"command\":\"credential-import\",\"rows\":[],\"secret_size\":0}",
};

typedef enum Outcome { OUT_ERROR, OUT_DROPPED, OUT_OK } Outcome;

static Outcome read_outcome(int fd, ProtocolError *ret_code) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ProtocolReplyReader rd = PROTOCOL_REPLY_READER_NULL;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                check_loop(poll(&p, 1, 5000) == 1, "no answer within 5 s");
                char *buf = NULL;
                ssize_t n = protocol_recv(fd, PROTOCOL_MESSAGE_MAX, &buf);
                if (n <= 0) {
                        protocol_reply_reader_done(&rd);
                        return OUT_DROPPED;
                }
                int r = protocol_reply_reader_feed(&rd, buf, (size_t) n, &f);
                free(buf);
                if (r == 0)
                        continue;
                protocol_reply_reader_done(&rd);
                protocol_failure_done(&f);
                *ret_code = f.code;
                check_loop(r == 1 || r == -EREMOTEIO, "malformed reply from the server: %d", r);
                return r == 1 ? OUT_OK : OUT_ERROR;
        }
}

static int connect_raw(TestServer *t) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        strcpy(sa.sun_path, t->path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        return fd;
}

START_TEST(test_robustness) {
        TestServer *t = server_new(NULL);
        server_start(t);
        int fd = connect_raw(t);
        char *big = malloc(PROTOCOL_MESSAGE_MAX + 200);
        unsigned errors = 0, drops = 0, reconnects = 0;

        for (unsigned i = 0; i < 10000; i++) {
                char buf[512];
                const void *msg = buf;
                size_t size = 0;
                bool expect_drop = false;
                unsigned kind = rnd() % 9;
                switch (kind) {
                case 0:         /* random bytes */
                        size = 1 + rnd() % 300;
                        for (size_t j = 0; j < size; j++)
                                buf[j] = (char) rnd();
                        break;
                case 1: {       /* valid JSON, truncated */
                        const char *s = valid_templates[rnd() % ELEMENTSOF(valid_templates)];
                        size = 1 + rnd() % (strlen(s) - 1);
                        memcpy(buf, s, size);
                        break;
                }
                case 2:         /* too large */
                        size = PROTOCOL_MESSAGE_MAX + 1 + rnd() % 100;
                        memset(big, '{', size);
                        msg = big;
                        break;
                case 3: {       /* wrong types, unknown commands, bad values */
                        const char *s = bad_templates[rnd() % ELEMENTSOF(bad_templates)];
                        size = strlen(s);
                        memcpy(buf, s, size);
                        break;
                }
                case 4: {       /* a valid request with one byte flipped */
                        const char *s = valid_templates[rnd() % 3];
                        size = strlen(s);
                        memcpy(buf, s, size);
                        buf[rnd() % size] ^= (char) (1 + rnd() % 255);
                        /* a flip can leave it valid ("district" -> "distrhct"): then it is answered */
                        break;
                }
                case 5:         /* a secret nobody announced */
                        size = 1 + rnd() % 64;
                        for (size_t j = 0; j < size; j++)
                                buf[j] = (char) ('a' + rnd() % 26);
                        break;
                case 6: {       /* a refused request announcing a secret, then the secret */
                        const char *s = "{\"v\":1,\"command\":\"credential-set\",\"link\":\"BAD\",\"username\":\"u\","
                                        "\"secret_size\":5}";
                        check_loop(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t) strlen(s), "send");
                        memcpy(buf, "{\"v\":", 5);   /* looks like JSON but is the secret: must be swallowed */
                        size = 5;
                        break;
                }
                case 7: {       /* a refused import chunk with more to come, then the rest of the stream */
                        const char *s = "{\"v\":1,\"command\":\"credential-import\",\"more\":true,\"secret_size\":2,"
                                        "\"rows\":[{\"link\":\"x\",\"username\":\"\",\"secret_size\":2}]}";
                        check_loop(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t) strlen(s), "send");
                        check_loop(send(fd, "ab", 2, MSG_NOSIGNAL) == 2, "send");
                        s = "{\"v\":1,\"command\":\"credential-import\",\"secret_size\":1,"
                            "\"rows\":[{\"link\":\"y\",\"username\":\"u\",\"secret_size\":1}]}";
                        size = strlen(s);
                        memcpy(buf, s, size);
                        check_loop(send(fd, buf, size, MSG_NOSIGNAL) == (ssize_t) size, "send");
                        buf[0] = 'z';   /* its secret */
                        size = 1;
                        break;
                }
                case 8:         /* an empty message ends the connection */
                        if (rnd() % 20 != 0) {
                                memcpy(buf, "{\"v\":1", 6);
                                size = 6;
                                break;
                        }
                        size = 0;
                        expect_drop = true;
                        break;
                }
                if (getenv("TEST_DEBUG"))
                        fprintf(stderr, "%u: kind %u size %zu\n", i, kind, size);
                ssize_t n = send(fd, msg, size, MSG_NOSIGNAL);
                check_loop(n == (ssize_t) size, "send %u: %s", i, strerror(errno));
                ProtocolError code = _PROTOCOL_ERROR_INVALID;
                Outcome o = read_outcome(fd, &code);
                check_loop(o != OUT_OK || kind == 4, "message %u (kind %u) was accepted", i, kind);
                check_loop(!expect_drop || o == OUT_DROPPED, "message %u: an empty message did not end it", i);
                if (o == OUT_ERROR)
                        errors++;
                if (o == OUT_DROPPED) {
                        drops++;
                        close(fd);
                        fd = connect_raw(t);
                        reconnects++;
                }
        }
        ck_assert_uint_gt(errors, 9000);
        ck_assert_uint_gt(drops, 0);
        ck_assert_uint_eq(drops, reconnects);

        /* and a valid request is still answered, on the same connection */
        const char *status = "{\"v\":1,\"command\":\"status\"}";
        ck_assert_int_eq(send(fd, status, strlen(status), MSG_NOSIGNAL), (ssize_t) strlen(status));
        ProtocolError code;
        ck_assert_int_eq(read_outcome(fd, &code), OUT_OK);
        /* with nothing left over in the queue */
        char *rest = NULL;
        ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        ck_assert_int_eq(protocol_recv(fd, PROTOCOL_MESSAGE_MAX, &rest), -EAGAIN);
        close(fd);
        free(big);
        server_free(t);
}
END_TEST

/* ---- authorisation -------------------------------------------------------------- */

/* A group that exists and that user nobody (65534) is not in. */
static const char *foreign_group(gid_t *ret_gid) {
        static const char *const candidates[] = { "staff", "adm", "daemon", "users", "sys" };
        struct passwd *pw = getpwuid(65534);
        for (size_t i = 0; pw && i < ELEMENTSOF(candidates); i++) {
                struct group *g = getgrnam(candidates[i]);
                if (!g || g->gr_gid == pw->pw_gid)
                        continue;
                gid_t groups[64];
                int n = 64;
                if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
                        continue;
                bool member = false;
                for (int j = 0; j < n; j++)
                        member = member || groups[j] == g->gr_gid;
                if (!member) {
                        *ret_gid = g->gr_gid;
                        return candidates[i];
                }
        }
        return NULL;
}

typedef struct Child {
        pid_t pid;
        int fd;
} Child;

/* Forks a client that drops to uid 65534 with the given supplementary
 * groups, runs a few requests and reports what came back, one word each.
 * Forked before the server thread starts, so that the child inherits no
 * lock held by another thread; its connection waits in the backlog. */
static Child unprivileged_client(TestServer *t, const gid_t *groups, size_t n_groups) {
        int p[2];
        ck_assert(!t->running);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char out[256] = "";
                if (setgroups(n_groups, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                ControlClient *c;
                if (control_client_connect(t->path, 10 * USEC_PER_SEC, &c) < 0)
                        _exit(3);
                ProtocolRequest reqs[] = {
                        { .command = PROTOCOL_COMMAND_STATUS },
                        { .command = PROTOCOL_COMMAND_CREDENTIAL_ROTATE, .link = (char *) "a", .username = (char *) "u",
                          .secret = (char *) "k", .secret_size = 1 },
                        { .command = PROTOCOL_COMMAND_PROBE, .all = true },
                        { .command = PROTOCOL_COMMAND_SHOW, .link = (char *) "district" },
                };
                for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
                        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                        json_object *data = NULL;
                        int r = control_client_call(c, &reqs[i], 30 * USEC_PER_SEC, &data, &f);
                        json_object_put(data);
                        strcat(out, r == 0 ? "ok" : r == -EREMOTEIO ? protocol_error_to_string(f.code) : "fail");
                        strcat(out, " ");
                        protocol_failure_done(&f);
                }
                /* an import stream is refused once, and the connection goes on */
                ProtocolImportRow rows[3] = {};
                for (size_t i = 0; i < 3; i++)
                        rows[i] = (ProtocolImportRow) { .link = (char *) "a", .username = (char *) "u",
                                                        .secret = (char *) "kk", .secret_size = 2 };
                ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                int r = control_client_import(c, rows, 3, 30 * USEC_PER_SEC, NULL, &f);
                strcat(out, r == -EREMOTEIO ? protocol_error_to_string(f.code) : "fail");
                protocol_failure_done(&f);
                r = control_client_call(c, &reqs[0], 30 * USEC_PER_SEC, NULL, &f);
                strcat(out, r == 0 ? " ok" : " fail");
                protocol_failure_done(&f);
                control_client_free(c);
                if (write(p[1], out, strlen(out)) < 0)
                        _exit(4);
                _exit(0);
        }
        close(p[1]);
        return (Child) { .pid = pid, .fd = p[0] };
}

static void child_result(Child c, char *result, size_t size) {
        int status;
        ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client exit status %d", status);
        ssize_t n = read(c.fd, result, size - 1);
        ck_assert_int_gt(n, 0);
        result[n] = '\0';
        close(c.fd);
}

START_TEST(test_authorisation) {
        gid_t gid;
        const char *group = foreign_group(&gid);
        struct passwd *nobody = getpwuid(65534);
        char result[256];

        if (geteuid() != 0 || !group || !nobody) {
                fprintf(stderr, "# skipped: needs root, user 65534 and a group it is not in\n");
                return;
        }

        /* the server's read group is "group"; the socket file is opened up
         * so that the daemon's own check is what decides */
        TestServer *t = server_new(&(ControlServerOptions) { .group = group });
        struct stat st;
        ck_assert_int_eq(stat(t->path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0660);   /* the group exists: 0660 root:group */
        ck_assert_uint_eq(st.st_gid, gid);
        ck_assert_int_eq(chmod(t->path, 0666), 0);
        Child outsider = unprivileged_client(t, NULL, 0);   /* neither root nor in the group */
        Child member = unprivileged_client(t, &gid, 1);     /* in the group by its supplementary groups */
        server_start(t);

        /* the outsider may do nothing at all */
        child_result(outsider, result, sizeof result);
        ck_assert_str_eq(result, "permission-denied permission-denied permission-denied permission-denied "
                                 "permission-denied fail");
        /* the member may read, not change */
        child_result(member, result, sizeof result);
        ck_assert_str_eq(result, "ok permission-denied permission-denied ok permission-denied ok");
        server_free(t);

        /* in the group because it is the user's primary group (user database
         * and SO_PEERCRED's gid) */
        struct group *primary = getgrgid(nobody->pw_gid);
        ck_assert_ptr_nonnull(primary);
        t = server_new(&(ControlServerOptions) { .group = primary->gr_name });
        ck_assert_int_eq(chmod(t->path, 0666), 0);
        Child by_primary = unprivileged_client(t, NULL, 0);
        server_start(t);
        child_result(by_primary, result, sizeof result);
        ck_assert_str_eq(result, "ok permission-denied permission-denied ok permission-denied ok");
        server_free(t);
}
END_TEST

START_TEST(test_peer_access) {
        int fds[2];
        ProtocolAccess a;
        struct ucred cred;
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(control_peer_access(fds[0], "no-such-group", &a, &cred), 0);
        ck_assert_int_eq(a, PROTOCOL_ACCESS_ADMIN);   /* our own uid */
        ck_assert_int_eq(cred.pid, getpid());
        ck_assert_int_eq(cred.uid, geteuid());
        close(fds[0]);
        close(fds[1]);
        /* not a socket */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(control_peer_access(null, NULL, &a, &cred), -ENOTSOCK);
        close(null);
}
END_TEST

START_TEST(test_socket_bind) {
        char dir[] = "/tmp/test-control-XXXXXX", path[160];
        struct stat st;
        int fd, fd2;
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/control.sock", dir);

        /* no such group: private to the daemon's user */
        ck_assert_int_eq(control_socket_bind(path, "no-such-group-here", &fd), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        /* somebody listens: refused */
        ck_assert_int_eq(control_socket_bind(path, NULL, &fd2), -EADDRINUSE);
        /* stale: replaced */
        close(fd);
        ck_assert_int_eq(control_socket_bind(path, "root", &fd), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0660);
        ck_assert_uint_eq(st.st_gid, 0);
        close(fd);
        unlink(path);

        /* never removes something that is not a socket */
        int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ck_assert_int_ge(f, 0);
        close(f);
        ck_assert_int_eq(control_socket_bind(path, NULL, &fd), -EEXIST);
        ck_assert_int_eq(stat(path, &st), 0);
        unlink(path);

        char longpath[200];
        memset(longpath, 'a', sizeof longpath - 1);
        longpath[0] = '/';
        longpath[sizeof longpath - 1] = '\0';
        ck_assert_int_eq(control_socket_bind(longpath, NULL, &fd), -ENAMETOOLONG);
        ck_assert_int_eq(control_client_connect(longpath, 0, &(ControlClient *) { NULL }), -ENAMETOOLONG);
        /* nobody there */
        ControlClient *c;
        ck_assert_int_eq(control_client_connect(path, USEC_PER_SEC, &c), -ENOENT);
        rmdir(dir);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("control-server");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_requests, test_secret_out_of_band, test_async_and_disconnect, test_large_reply_and_import,
                  test_streamed_reply,
                  test_timeouts, test_many_clients, test_robustness, test_authorisation, test_peer_access,
                  test_socket_bind);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
