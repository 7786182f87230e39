/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "control-server.h"

#include <assert.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <openssl/crypto.h>

#include "strv.h"

/* Messages read per wake-up and connection, so that one busy client cannot
 * starve the others. */
#define READS_PER_WAKEUP 64
/* After accept() ran out of file descriptors, pause accepting this long
 * instead of spinning on a listening socket that stays readable. */
#define ACCEPT_PAUSE (100 * USEC_PER_MSEC)

typedef struct Connection Connection;

struct ControlRequest {
        unsigned n_ref;
        Connection *connection;         /* NULL once the client is gone */
        ProtocolRequest request;
        struct ucred cred;
        ProtocolAccess access;
        bool replied;
        ControlDisconnectFunc on_disconnect;
        void *disconnect_userdata;
};

struct Connection {
        unsigned n_ref;
        bool closed;
        ControlServer *server;
        Connection *prev, *next;
        int fd;
        sd_event_source *io, *timer;
        struct ucred cred;
        ProtocolAccess access;
        usec_t started, last_activity;  /* CLOCK_BOOTTIME */

        /* input */
        size_t expect_secret;           /* the next message is a raw secret of this size */
        bool drop_secret;               /* ... belonging to a refused request: discard it */
        bool drop_stream;               /* inside a refused import stream: discard its chunks */
        ProtocolRequest current;        /* parsed, waiting for its secret */
        bool in_stream;
        ProtocolRequest stream;         /* an import being reassembled */
        ControlRequest *request;        /* dispatched, reply outstanding */

        /* output */
        ProtocolMessage *out;
        size_t n_out, out_next;
        bool close_after_flush;
        /* a reply produced as the client reads it, a message at a time */
        ProtocolReplyStream *reply_stream;
        ControlStreamNext stream_next;
        ControlStreamFree stream_free;
        void *stream_userdata;
};

struct ControlServer {
        sd_event *event;
        int listen_fd;
        sd_event_source *listen_source, *accept_pause;
        ControlHandler handlers[_PROTOCOL_COMMAND_MAX];
        void *userdata;
        Logger logger;
        char *group;
        unsigned max_clients;
        usec_t idle_timeout, connection_timeout;
        Connection *connections;
        unsigned n_connections;
};

#define server_debug(s, ...) log_debug_to(&(s)->logger, __VA_ARGS__)

static usec_t usec_add(usec_t a, usec_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

static void wipe_free(char *p, size_t n) {
        if (p) {
                OPENSSL_cleanse(p, n);
                free(p);
        }
}

/* ---- requests ---------------------------------------------------------------- */

static ControlRequest *control_request_unref(ControlRequest *r) {
        if (!r)
                return NULL;
        assert(r->n_ref > 0);
        if (--r->n_ref > 0)
                return NULL;
        protocol_request_done(&r->request);
        return mfree(r);
}

ProtocolCommand control_request_command(const ControlRequest *r) {
        return r->request.command;
}

const ProtocolRequest *control_request_get(const ControlRequest *r) {
        return &r->request;
}

uid_t control_request_uid(const ControlRequest *r) {
        return r->cred.uid;
}

gid_t control_request_gid(const ControlRequest *r) {
        return r->cred.gid;
}

pid_t control_request_pid(const ControlRequest *r) {
        return r->cred.pid;
}

ProtocolAccess control_request_access(const ControlRequest *r) {
        return r->access;
}

bool control_request_is_connected(const ControlRequest *r) {
        return r->connection;
}

void control_request_set_disconnect_callback(ControlRequest *r, ControlDisconnectFunc func, void *userdata) {
        r->on_disconnect = func;
        r->disconnect_userdata = userdata;
}

/* ---- connections ------------------------------------------------------------- */

static usec_t boottime(ControlServer *s) {
        usec_t t;
        if (sd_event_now(s->event, CLOCK_BOOTTIME, &t) < 0)
                t = now_usec(CLOCK_BOOTTIME);
        return t;
}

static Connection *connection_ref(Connection *c) {
        c->n_ref++;
        return c;
}

static Connection *connection_unref(Connection *c) {
        if (!c)
                return NULL;
        assert(c->n_ref > 0);
        if (--c->n_ref == 0)
                free(c);
        return NULL;
}

static void connection_stream_end(Connection *c) {
        c->reply_stream = protocol_reply_stream_free(c->reply_stream);
        if (c->stream_free)
                c->stream_free(c->stream_userdata);
        c->stream_next = NULL;
        c->stream_free = NULL;
        c->stream_userdata = NULL;
}

/* Ends a connection: unlinks it, closes the socket and detaches an
 * outstanding request. The struct itself lives on while an event callback
 * still holds a reference, so callers up the stack only need to check
 * c->closed. */
static void connection_close(Connection *c, const char *why) {
        if (c->closed)
                return;
        ControlServer *s = c->server;
        c->closed = true;
        server_debug(s, "control: closing connection of pid %d uid %u: %s", (int) c->cred.pid,
                     (unsigned) c->cred.uid, why);

        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_connections--;

        c->io = sd_event_source_disable_unref(c->io);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->fd = safe_close(c->fd);
        protocol_request_done(&c->current);
        protocol_request_done(&c->stream);
        protocol_messages_free(c->out, c->n_out);
        c->out = NULL;
        c->n_out = c->out_next = 0;
        connection_stream_end(c);

        if (c->request) {
                ControlRequest *r = c->request;
                r->connection = NULL;
                c->request = NULL;
                if (r->on_disconnect)
                        r->on_disconnect(r, r->disconnect_userdata);
        }
        connection_unref(c);   /* the server's reference */
}

static int connection_update(Connection *c) {
        uint32_t events = 0;
        int r;

        if (c->closed)
                return -ECONNRESET;
        if (c->out_next < c->n_out)
                events |= EPOLLOUT;
        else if (!c->request && !c->close_after_flush && !c->stream_next)
                events |= EPOLLIN;
        r = sd_event_source_set_io_events(c->io, events);
        if (r < 0)
                return r;

        /* The idle limit applies while the client is the one to act; the
         * connection limit always. */
        usec_t deadline = usec_add(c->started, c->server->connection_timeout);
        if (!c->request)
                deadline = MIN(deadline, usec_add(c->last_activity, c->server->idle_timeout));
        r = sd_event_source_set_time(c->timer, deadline);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int connection_queue(Connection *c, ProtocolMessage *m, size_t n);
static int connection_queue_failure(Connection *c, const ProtocolFailure *f);
static int connection_stream_produce(Connection *c);

/* Sends what is queued, as far as the socket takes it, producing the next
 * message of a streamed reply whenever the queue runs dry. Returns < 0
 * when the connection was closed. */
static int connection_flush(Connection *c) {
        if (c->closed)
                return -ECONNRESET;
        for (;;) {
                while (c->out_next < c->n_out) {
                        ProtocolMessage *m = &c->out[c->out_next];
                        int r = protocol_send(c->fd, m->data, m->size);
                        if (r == -EAGAIN || r == -ENOBUFS)
                                break;
                        if (r == -EINTR)
                                continue;
                        if (r < 0) {
                                connection_close(c, "the client went away before reading its reply");
                                return r;
                        }
                        m->data = mfree(m->data);
                        c->out_next++;
                        c->last_activity = boottime(c->server);
                }
                if (c->out_next < c->n_out)
                        break;  /* the socket is full: on to EPOLLOUT */
                protocol_messages_free(c->out, c->n_out);
                c->out = NULL;
                c->n_out = c->out_next = 0;
                if (!c->stream_next)
                        break;
                int r = connection_stream_produce(c);
                if (r < 0) {
                        connection_close(c, "cannot produce the reply");
                        return r;
                }
        }
        if (c->out_next >= c->n_out && c->close_after_flush) {
                connection_close(c, "done");
                return -ECONNRESET;
        }
        int r = connection_update(c);
        if (r < 0) {
                connection_close(c, "cannot update the event source");
                return r;
        }
        return 0;
}

static int connection_queue(Connection *c, ProtocolMessage *m, size_t n) {
        if (n == 0) {
                free(m);
                return 0;
        }
        ProtocolMessage *a = reallocarray(c->out, c->n_out + n, sizeof(ProtocolMessage));
        if (!a) {
                protocol_messages_free(m, n);
                return -ENOMEM;
        }
        memcpy(a + c->n_out, m, n * sizeof(ProtocolMessage));
        free(m);
        c->out = a;
        c->n_out += n;
        return 0;
}

/* Queues the next message of the streamed reply, or its last one and the
 * end of the stream. A failure half-way ends the reply with an error. */
static int connection_stream_produce(Connection *c) {
        for (;;) {
                json_object *e = NULL;
                ProtocolMessage *m = NULL;
                size_t n = 0;
                int r = c->stream_next(c->stream_userdata, &e);
                if (r > 0) {
                        r = protocol_reply_stream_add(c->reply_stream, e, &m, &n);
                        if (r == 0)
                                continue;
                } else if (r == 0) {
                        r = protocol_reply_stream_finish(c->reply_stream, &m, &n);
                        if (r >= 0)
                                connection_stream_end(c);
                }
                if (r >= 0)
                        return connection_queue(c, m, n);
                connection_stream_end(c);
                server_debug(c->server, "control: a streamed reply failed: %s", strerror(-r));
                ProtocolFailure f = { .code = PROTOCOL_ERROR_INTERNAL };
                snprintf(f.message, sizeof f.message, "cannot produce the reply: %s", strerror(-r));
                return connection_queue_failure(c, &f);
        }
}

static int connection_queue_failure(Connection *c, const ProtocolFailure *f) {
        ProtocolMessage *m = malloc(sizeof(ProtocolMessage));
        if (!m)
                return -ENOMEM;
        int r = protocol_error_encode(f, 0, m);
        if (r < 0) {
                free(m);
                return r;
        }
        return connection_queue(c, m, 1);
}

/* Sends an error reply; returns < 0 when the connection had to be closed. */
static int connection_reply_failure(Connection *c, const ProtocolFailure *f) {
        server_debug(c->server, "control: refusing a request of pid %d uid %u: %s: %s", (int) c->cred.pid,
                     (unsigned) c->cred.uid, protocol_error_to_string(f->code), f->message);
        if (connection_queue_failure(c, f) < 0) {
                connection_close(c, "out of memory");
                return -ENOMEM;
        }
        return connection_flush(c);
}

static int connection_reply_error(Connection *c, ProtocolError code, const char *fmt, ...) _printf_(3, 4);
static int connection_reply_error(Connection *c, ProtocolError code, const char *fmt, ...) {
        ProtocolFailure f = { .code = code };
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f.message, sizeof f.message, fmt, ap);
        va_end(ap);
        return connection_reply_failure(c, &f);
}

/* ---- replies -------------------------------------------------------------------- */

static int request_reply_messages(ControlRequest *r, ProtocolMessage *m, size_t n) {
        Connection *c = r->connection;
        assert(!r->replied);
        r->replied = true;
        if (!c) {
                protocol_messages_free(m, n);
                control_request_unref(r);
                return -ENOTCONN;
        }
        assert(c->request == r);
        c->request = NULL;
        r->connection = NULL;
        c->last_activity = boottime(c->server);
        int k = connection_queue(c, m, n);
        control_request_unref(r);
        if (k < 0) {
                connection_close(c, "out of memory");
                return k;
        }
        (void) connection_flush(c);
        return 0;
}

static int request_reply_failure(ControlRequest *r, const ProtocolFailure *f) {
        ProtocolMessage *m = malloc(sizeof(ProtocolMessage));
        if (m && protocol_error_encode(f, 0, m) < 0)
                m = mfree(m);
        if (!m) {
                /* cannot even say why: drop the client */
                Connection *c = r->connection;
                r->replied = true;
                if (c) {
                        c->request = NULL;
                        r->connection = NULL;
                        connection_close(c, "out of memory");
                }
                control_request_unref(r);
                return -ENOMEM;
        }
        return request_reply_messages(r, m, 1);
}

int control_request_reply(ControlRequest *r, json_object *data) {
        ProtocolMessage *m = NULL;
        size_t n = 0;
        assert(r);

        if (!r->connection) {
                json_object_put(data);
                return request_reply_messages(r, NULL, 0);
        }
        int k = protocol_reply_encode(data, 0, &m, &n);
        json_object_put(data);
        if (k < 0) {
                ProtocolFailure f = { .code = PROTOCOL_ERROR_INTERNAL };
                snprintf(f.message, sizeof f.message, "cannot encode the reply: %s", strerror(-k));
                return request_reply_failure(r, &f);
        }
        return request_reply_messages(r, m, n);
}

int control_request_reply_stream(ControlRequest *r, json_object *fields, const char *key, ControlStreamNext next,
                                 ControlStreamFree free_func, void *userdata) {
        ProtocolReplyStream *stream = NULL;
        assert(r);
        assert(key);
        assert(next);

        if (!r->connection) {
                json_object_put(fields);
                if (free_func)
                        free_func(userdata);
                return request_reply_messages(r, NULL, 0);
        }
        int k = protocol_reply_stream_new(fields, key, 0, &stream);
        if (k < 0) {
                if (free_func)
                        free_func(userdata);
                ProtocolFailure f = { .code = PROTOCOL_ERROR_INTERNAL };
                snprintf(f.message, sizeof f.message, "cannot encode the reply: %s", strerror(-k));
                return request_reply_failure(r, &f);
        }
        Connection *c = r->connection;
        assert(!c->stream_next);
        c->reply_stream = stream;
        c->stream_next = next;
        c->stream_free = free_func;
        c->stream_userdata = userdata;
        /* the messages are produced as the socket takes them */
        return request_reply_messages(r, NULL, 0);
}

static int reply_error_va(ControlRequest *r, ProtocolError code, char *const *details, const char *fmt, va_list ap)
        _printf_(4, 0);
static int reply_error_va(ControlRequest *r, ProtocolError code, char *const *details, const char *fmt, va_list ap) {
        ProtocolFailure f = { .code = code };
        assert(r);
        vsnprintf(f.message, sizeof f.message, fmt, ap);
        if (details) {
                f.details = strv_copy(details);
                if (!f.details)
                        f.details = NULL;   /* send without them */
        }
        int k = request_reply_failure(r, &f);
        strv_free(f.details);
        return k;
}

int control_request_reply_error(ControlRequest *r, ProtocolError code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int k = reply_error_va(r, code, NULL, fmt, ap);
        va_end(ap);
        return k;
}

int control_request_reply_error_details(ControlRequest *r, ProtocolError code, char *const *details,
                                        const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int k = reply_error_va(r, code, details, fmt, ap);
        va_end(ap);
        return k;
}

/* ---- dispatching ------------------------------------------------------------- */

/* Hands a complete request to its handler. Returns < 0 when the connection
 * was closed. */
static int connection_dispatch(Connection *c, ProtocolRequest *req) {
        ControlServer *s = c->server;
        ControlHandler handler = s->handlers[req->command];
        const char *name = protocol_command_to_string(req->command);

        if (!handler) {
                protocol_request_done(req);
                return connection_reply_error(c, PROTOCOL_ERROR_UNKNOWN_COMMAND,
                                              "command \"%s\" is not supported by this daemon", name);
        }
        if (req->command == PROTOCOL_COMMAND_CREDENTIAL_IMPORT && req->n_rows == 0) {
                protocol_request_done(req);
                return connection_reply_error(c, PROTOCOL_ERROR_BAD_REQUEST, "credential-import: no rows");
        }

        ControlRequest *r = calloc(1, sizeof(ControlRequest));
        if (!r) {
                protocol_request_done(req);
                connection_close(c, "out of memory");
                return -ENOMEM;
        }
        *r = (ControlRequest) {
                .n_ref = 2,     /* the handler's, and ours for the duration of the call */
                .connection = c,
                .request = *req,
                .cred = c->cred,
                .access = c->access,
        };
        *req = PROTOCOL_REQUEST_NULL;
        c->request = r;
        server_debug(s, "control: %s from pid %d uid %u", name, (int) c->cred.pid, (unsigned) c->cred.uid);
        if (connection_update(c) < 0) {
                /* the request stays valid for nobody: fail it */
                c->request = NULL;
                r->connection = NULL;
                r->replied = true;
                control_request_unref(r);
                control_request_unref(r);
                connection_close(c, "cannot update the event source");
                return -ECONNRESET;
        }

        int k = handler(r, s->userdata);
        if (!r->replied) {
                if (k < 0) {
                        ProtocolFailure f = { .code = protocol_error_from_errno(k) };
                        snprintf(f.message, sizeof f.message, "%s failed: %s", name, strerror(-k));
                        (void) request_reply_failure(r, &f);
                }
                /* else: the handler replies later */
        }
        control_request_unref(r);
        /* the reply may have closed the connection */
        return c->closed ? -ECONNRESET : 0;
}

/* A request (and its secret, if any) is complete: dispatch it, or collect
 * it into the import stream it belongs to. */
static int connection_request_ready(Connection *c) {
        ProtocolRequest req = c->current;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        c->current = PROTOCOL_REQUEST_NULL;

        if (req.command != PROTOCOL_COMMAND_CREDENTIAL_IMPORT)
                return connection_dispatch(c, &req);

        if (!c->in_stream) {
                c->stream = req;
                c->in_stream = true;
        } else {
                bool more = req.more;
                int r = protocol_request_append_rows(&c->stream, &req, &f);
                protocol_request_done(&req);
                if (r < 0) {
                        protocol_request_done(&c->stream);
                        c->in_stream = false;
                        c->drop_stream = more;
                        if (f.code < 0)
                                protocol_fail(&f, PROTOCOL_ERROR_INTERNAL, r, "%s", strerror(-r));
                        return connection_reply_failure(c, &f);
                }
                c->stream.more = more;
        }
        if (c->stream.more)
                return 0;   /* wait for the next chunk */

        ProtocolRequest whole = c->stream;
        c->stream = PROTOCOL_REQUEST_NULL;
        c->in_stream = false;
        return connection_dispatch(c, &whole);
}

static bool json_is_import_chunk(json_object *o, bool *ret_more) {
        json_object *v;
        *ret_more = json_object_object_get_ex(o, "more", &v) && json_object_is_type(v, json_type_boolean) &&
                    json_object_get_boolean(v);
        return json_object_object_get_ex(o, "command", &v) && json_object_is_type(v, json_type_string) &&
               streq(json_object_get_string(v), "credential-import");
}

/* Handles one received message. Returns < 0 when the connection was closed. */
static int connection_message(Connection *c, char *buf, size_t size) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        _cleanup_json_ json_object *o = NULL;
        int r;

        if (c->expect_secret > 0) {
                c->expect_secret = 0;
                if (c->drop_secret) {
                        c->drop_secret = false;
                        return 0;
                }
                r = protocol_request_set_secret(&c->current, buf, size, &f);
                if (r < 0) {
                        if (c->current.command == PROTOCOL_COMMAND_CREDENTIAL_IMPORT) {
                                c->drop_stream = c->current.more;
                                protocol_request_done(&c->stream);
                                c->in_stream = false;
                        }
                        protocol_request_done(&c->current);
                        if (f.code < 0)
                                protocol_fail(&f, PROTOCOL_ERROR_INTERNAL, r, "%s", strerror(-r));
                        return connection_reply_failure(c, &f);
                }
                return connection_request_ready(c);
        }

        r = protocol_message_parse(buf, size, &o, &f);
        if (r < 0) {
                /* Garbage ends any stream: the client is not following the protocol. */
                c->drop_stream = false;
                protocol_request_done(&c->stream);
                c->in_stream = false;
                if (f.code < 0)
                        protocol_fail(&f, PROTOCOL_ERROR_INTERNAL, r, "%s", strerror(-r));
                return connection_reply_failure(c, &f);
        }

        size_t announced = protocol_request_announced_secret(o);
        bool more;
        bool chunk = json_is_import_chunk(o, &more);

        if (c->drop_stream) {
                if (chunk) {
                        /* part of a stream already refused: no second reply */
                        c->expect_secret = announced;
                        c->drop_secret = announced > 0;
                        c->drop_stream = more;
                        return 0;
                }
                c->drop_stream = false;
        }

        ProtocolRequest req = PROTOCOL_REQUEST_NULL;
        r = protocol_request_from_json(o, &req, &f);
        if (r < 0) {
                c->expect_secret = announced;
                c->drop_secret = announced > 0;
                if (chunk) {
                        c->drop_stream = more;
                        protocol_request_done(&c->stream);
                        c->in_stream = false;
                }
                if (f.code < 0)
                        protocol_fail(&f, PROTOCOL_ERROR_INTERNAL, r, "%s", strerror(-r));
                return connection_reply_failure(c, &f);
        }

        const ProtocolCommandInfo *info = protocol_command_info(req.command);
        if (c->in_stream && req.command != PROTOCOL_COMMAND_CREDENTIAL_IMPORT) {
                protocol_request_done(&req);
                protocol_request_done(&c->stream);
                c->in_stream = false;
                c->expect_secret = announced;
                c->drop_secret = announced > 0;
                return connection_reply_error(c, PROTOCOL_ERROR_BAD_REQUEST,
                                              "credential-import: the stream was interrupted by \"%s\"", info->name);
        }
        if (c->access < info->access) {
                protocol_request_done(&req);
                c->expect_secret = announced;
                c->drop_secret = announced > 0;
                if (chunk) {
                        c->drop_stream = more;
                        protocol_request_done(&c->stream);
                        c->in_stream = false;
                }
                if (c->access == PROTOCOL_ACCESS_NONE)
                        return connection_reply_error(c, PROTOCOL_ERROR_PERMISSION_DENIED,
                                                      "%s: permission denied: uid %u is neither root nor a member of "
                                                      "group \"%s\"",
                                                      info->name, (unsigned) c->cred.uid, c->server->group);
                return connection_reply_error(c, PROTOCOL_ERROR_PERMISSION_DENIED,
                                              "%s: permission denied: only root may do this", info->name);
        }

        c->current = req;
        if (req.secret_size > 0) {
                c->expect_secret = req.secret_size;
                c->drop_secret = false;
                return 0;
        }
        return connection_request_ready(c);
}

static int connection_read(Connection *c) {
        for (unsigned i = 0; i < READS_PER_WAKEUP; i++) {
                if (c->closed)
                        return -ECONNRESET;
                if (c->request || c->out_next < c->n_out || c->close_after_flush)
                        return 0;   /* one request at a time, and replies read before the next */

                char *buf = NULL;
                size_t max = c->expect_secret > 0 ? c->expect_secret : PROTOCOL_MESSAGE_MAX;
                ssize_t n = protocol_recv(c->fd, max, &buf);
                if (n == -EAGAIN || n == -EINTR)
                        return 0;
                if (n == 0) {
                        connection_close(c, "end of stream");
                        return -ECONNRESET;
                }
                if (n == -EMSGSIZE) {
                        c->last_activity = boottime(c->server);
                        if (c->expect_secret > 0 && !c->drop_secret) {
                                /* a secret larger than announced */
                                c->expect_secret = 0;
                                bool import = c->current.command == PROTOCOL_COMMAND_CREDENTIAL_IMPORT;
                                if (import) {
                                        c->drop_stream = c->current.more;
                                        protocol_request_done(&c->stream);
                                        c->in_stream = false;
                                }
                                protocol_request_done(&c->current);
                                if (connection_reply_error(c, PROTOCOL_ERROR_BAD_REQUEST,
                                                           "secret message larger than announced") < 0)
                                        return -ECONNRESET;
                                continue;
                        }
                        if (c->expect_secret > 0) {
                                c->expect_secret = 0;
                                c->drop_secret = false;
                                continue;
                        }
                        if (connection_reply_error(c, PROTOCOL_ERROR_BAD_REQUEST,
                                                   "message larger than the limit of %u bytes",
                                                   PROTOCOL_MESSAGE_MAX) < 0)
                                return -ECONNRESET;
                        continue;
                }
                if (n < 0) {
                        connection_close(c, "receive error");
                        return (int) n;
                }

                c->last_activity = boottime(c->server);
                int r = connection_message(c, buf, (size_t) n);
                /* the buffer may have held a secret */
                wipe_free(buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        return connection_update(c) < 0 ? -EIO : 0;
}

static int on_connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Connection *c = connection_ref(userdata);

        if (revents & EPOLLOUT)
                (void) connection_flush(c);
        if (!c->closed && (revents & EPOLLIN))
                (void) connection_read(c);
        if (!c->closed && (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN))
                /* Gone: nothing left to read, and no reply could be delivered. */
                connection_close(c, "hang-up");
        if (!c->closed && connection_update(c) < 0)
                connection_close(c, "cannot update the event sources");
        connection_unref(c);
        return 0;
}

static int on_connection_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Connection *c = connection_ref(userdata);
        ControlServer *s = c->server;

        if (usec >= usec_add(c->started, s->connection_timeout))
                connection_close(c, "connection time limit reached");
        else if (!c->request && usec >= usec_add(c->last_activity, s->idle_timeout))
                connection_close(c, "idle for too long");
        else if (connection_update(c) < 0)
                connection_close(c, "cannot update the timer");
        connection_unref(c);
        return 0;
}

/* ---- access --------------------------------------------------------------------- */

static int lookup_group(const char *name, gid_t *ret) {
        struct group grp, *result = NULL;
        char buf[4096];
        _cleanup_free_ char *big = NULL;
        size_t size = sizeof buf;
        char *b = buf;
        int r;

        for (;;) {
                r = getgrnam_r(name, &grp, b, size, &result);
                if (r != ERANGE)
                        break;
                if (size >= 1024 * 1024)
                        return -ERANGE;
                size *= 4;
                free(big);
                big = malloc(size);
                if (!big)
                        return -ENOMEM;
                b = big;
        }
        if (r != 0)
                return -r;
        if (!result)
                return -ENOENT;
        *ret = result->gr_gid;
        return 0;
}

static bool user_in_group(uid_t uid, gid_t gid) {
        struct passwd pw, *result = NULL;
        char buf[4096];
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &result) != 0 || !result)
                return false;
        if (pw.pw_gid == gid)
                return true;
        int n = 64;
        for (int attempt = 0; attempt < 4; attempt++) {
                gid_t *groups = calloc((size_t) n, sizeof(gid_t));
                if (!groups)
                        return false;
                int k = n;
                if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &k) >= 0) {
                        bool found = false;
                        for (int i = 0; i < k; i++)
                                found = found || groups[i] == gid;
                        free(groups);
                        return found;
                }
                free(groups);
                n = MAX(k, n * 4);
        }
        return false;
}

static bool peer_groups_contain(int fd, gid_t gid) {
        gid_t stack[64];
        gid_t *groups = stack;
        socklen_t len = sizeof stack;
        bool found = false;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
                if (errno != ERANGE || len == 0 || len > 65536 * sizeof(gid_t))
                        return false;
                groups = malloc(len);
                if (!groups)
                        return false;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
                        free(groups);
                        return false;
                }
        }
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                found = found || groups[i] == gid;
        if (groups != stack)
                free(groups);
        return found;
}

int control_peer_access(int fd, const char *group, ProtocolAccess *ret_access, struct ucred *ret_cred) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        gid_t gid;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();
        if (len != sizeof cred)
                return -EIO;

        ProtocolAccess access = PROTOCOL_ACCESS_NONE;
        if (cred.uid == 0 || cred.uid == geteuid())
                access = PROTOCOL_ACCESS_ADMIN;
        else if (lookup_group(group ?: CONTROL_GROUP_DEFAULT, &gid) >= 0 &&
                 (cred.gid == gid || peer_groups_contain(fd, gid) || user_in_group(cred.uid, gid)))
                access = PROTOCOL_ACCESS_READ;

        if (ret_access)
                *ret_access = access;
        if (ret_cred)
                *ret_cred = cred;
        return 0;
}

/* ---- accepting ------------------------------------------------------------------- */

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata);

static int on_accept_pause_end(sd_event_source *source, uint64_t usec, void *userdata) {
        ControlServer *s = userdata;
        s->accept_pause = sd_event_source_disable_unref(s->accept_pause);
        (void) sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
        return 0;
}

static void refuse_busy(ControlServer *s, int fd) {
        ProtocolFailure f = { .code = PROTOCOL_ERROR_BUSY };
        ProtocolMessage m;
        snprintf(f.message, sizeof f.message, "too many clients (%u); try again later", s->max_clients);
        if (protocol_error_encode(&f, 0, &m) >= 0) {
                (void) protocol_send(fd, m.data, m.size);
                free(m.data);
        }
}

static int on_accept(sd_event_source *source, int listen_fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;
        int r;

        _cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        server_debug(s, "control: cannot accept: %s; pausing", strerror(errno));
                        (void) sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
                        if (!s->accept_pause)
                                (void) sd_event_add_time_relative(s->event, &s->accept_pause, CLOCK_BOOTTIME,
                                                                  ACCEPT_PAUSE, 0, on_accept_pause_end, s);
                        if (!s->accept_pause)   /* no timer either: try again at once */
                                (void) sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
                } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        server_debug(s, "control: accept failed: %s", strerror(errno));
                return 0;
        }

        r = control_server_add_client(s, fd);
        if (r >= 0)
                TAKE_FD(fd);
        else if (r != -EBUSY)
                server_debug(s, "control: cannot serve a client: %s", strerror(-r));
        return 0;
}

int control_server_add_client(ControlServer *s, int fd) {
        int r;

        assert(s);
        assert(fd >= 0);
        if (s->n_connections >= s->max_clients) {
                refuse_busy(s, fd);
                server_debug(s, "control: refused a client: %u connections", s->n_connections);
                return -EBUSY;
        }

        Connection *c = calloc(1, sizeof(Connection));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->server = s;
        c->fd = -1;
        c->current = c->stream = PROTOCOL_REQUEST_NULL;
        r = control_peer_access(fd, s->group, &c->access, &c->cred);
        if (r < 0) {
                free(c);
                return r;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                r = negative_errno();
                free(c);
                return r;
        }
        (void) protocol_socket_setup(fd);
        c->started = c->last_activity = boottime(s);

        /* linked in before anything can fail, so that connection_close() can unlink it */
        c->next = s->connections;
        if (c->next)
                c->next->prev = c;
        s->connections = c;
        s->n_connections++;

        r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_connection_io, c);
        if (r >= 0)
                r = sd_event_add_time(s->event, &c->timer, CLOCK_BOOTTIME,
                                      usec_add(c->last_activity, s->idle_timeout), 0, on_connection_timer, c);
        if (r >= 0)
                r = connection_update(c);
        if (r < 0) {
                connection_close(c, "cannot add event sources");
                return r;   /* fd not taken */
        }
        c->fd = fd;
        server_debug(s, "control: connection from pid %d uid %u gid %u, access %s", (int) c->cred.pid,
                     (unsigned) c->cred.uid, (unsigned) c->cred.gid, protocol_access_to_string(c->access));
        return 0;
}

/* ---- the server ---------------------------------------------------------------- */

int control_server_new(sd_event *event, int listen_fd, const ControlServerOptions *options,
                       const ControlHandlerEntry *handlers, size_t n_handlers, void *userdata,
                       const Logger *logger, ControlServer **ret) {
        assert(event);
        assert(handlers || n_handlers == 0);
        assert(ret);

        ControlServer *s = calloc(1, sizeof(ControlServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->listen_fd = -1;
        s->userdata = userdata;
        if (logger)
                s->logger = *logger;
        s->group = strdup(options && options->group ? options->group : CONTROL_GROUP_DEFAULT);
        s->max_clients = options && options->max_clients ? options->max_clients : CONTROL_CLIENTS_MAX_DEFAULT;
        s->idle_timeout = options && options->idle_timeout ? options->idle_timeout : CONTROL_IDLE_TIMEOUT_DEFAULT;
        s->connection_timeout = options && options->connection_timeout ? options->connection_timeout
                                                                       : CONTROL_CONNECTION_TIMEOUT_DEFAULT;
        if (!s->group) {
                control_server_free(s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_handlers; i++) {
                if (handlers[i].command < 0 || handlers[i].command >= _PROTOCOL_COMMAND_MAX) {
                        control_server_free(s);
                        return -EINVAL;
                }
                s->handlers[handlers[i].command] = handlers[i].handler;
        }

        if (listen_fd >= 0) {
                int flags = fcntl(listen_fd, F_GETFL);
                if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                        int r = negative_errno();
                        control_server_free(s);
                        return r;
                }
                int r = sd_event_add_io(event, &s->listen_source, listen_fd, EPOLLIN, on_accept, s);
                if (r < 0) {
                        control_server_free(s);
                        return r;
                }
                s->listen_fd = listen_fd;
        }
        *ret = s;
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->connections)
                connection_close(s->connections, "the server stops");
        sd_event_source_disable_unref(s->listen_source);
        sd_event_source_disable_unref(s->accept_pause);
        safe_close(s->listen_fd);
        sd_event_unref(s->event);
        free(s->group);
        return mfree(s);
}

unsigned control_server_n_clients(const ControlServer *s) {
        return s->n_connections;
}

/* ---- the socket ------------------------------------------------------------------- */

int control_socket_activated(int *ret_fd) {
        int n = sd_listen_fds(true);
        if (n < 0)
                return n;
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
                        continue;
                int flags = fcntl(fd, F_GETFL);
                if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                        return negative_errno();
                *ret_fd = fd;
                return 1;
        }
        return 0;
}

int control_socket_bind(const char *path, const char *group, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        gid_t gid;
        int r;

        assert(path);
        assert(ret_fd);
        if (isempty(path))
                return -EINVAL;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();

        if (lstat(path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                /* Is somebody listening? Then this is another daemon's socket. */
                _cleanup_close_ int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (probe < 0)
                        return negative_errno();
                if (connect(probe, (struct sockaddr *) &sa, sizeof sa) >= 0 || errno == EAGAIN)
                        return -EADDRINUSE;
                if (errno != ECONNREFUSED && errno != ENOENT)
                        return negative_errno();
                if (unlink(path) < 0 && errno != ENOENT)
                        return negative_errno();
        } else if (errno != ENOENT)
                return negative_errno();

        mode_t old = umask(0177);
        r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        int saved = errno;
        umask(old);
        if (r < 0)
                return -saved;

        if (lookup_group(group ?: CONTROL_GROUP_DEFAULT, &gid) >= 0) {
                if (lchown(path, (uid_t) -1, gid) < 0 || chmod(path, 0660) < 0) {
                        r = negative_errno();
                        (void) unlink(path);
                        return r;
                }
        }
        if (listen(fd, SOMAXCONN) < 0) {
                r = negative_errno();
                (void) unlink(path);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}
