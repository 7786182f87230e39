/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "control-client.h"

#include <assert.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <openssl/crypto.h>

struct ControlClient {
        int fd;
};

static usec_t deadline_of(usec_t timeout) {
        if (timeout == USEC_INFINITY)
                return USEC_INFINITY;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        return timeout > USEC_INFINITY - now ? USEC_INFINITY : now + timeout;
}

/* Waits for events on fd until the deadline: 0 when ready, -ETIMEDOUT. */
static int wait_for(int fd, short events, usec_t deadline) {
        for (;;) {
                int ms = -1;
                if (deadline != USEC_INFINITY) {
                        usec_t now = now_usec(CLOCK_MONOTONIC);
                        if (now >= deadline)
                                return -ETIMEDOUT;
                        ms = (int) MIN((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (usec_t) INT32_MAX);
                }
                struct pollfd p = { .fd = fd, .events = events };
                int n = poll(&p, 1, ms);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n > 0)
                        return 0;   /* ready, or an error the next call reports */
        }
}

int control_client_connect(const char *path, usec_t timeout, ControlClient **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        assert(path);
        assert(ret);

        if (isempty(path))
                return -EINVAL;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void) protocol_socket_setup(fd);

        usec_t deadline = deadline_of(timeout);
        while (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return negative_errno();
                /* the daemon's backlog is full: try again shortly */
                if (deadline != USEC_INFINITY && now_usec(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }

        ControlClient *c = malloc(sizeof(ControlClient));
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(fd);
        *ret = c;
        return 0;
}

ControlClient *control_client_free(ControlClient *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        return mfree(c);
}

int control_client_fd(const ControlClient *c) {
        return c->fd;
}

static int send_until(ControlClient *c, const void *data, size_t size, usec_t deadline) {
        for (;;) {
                int r = protocol_send(c->fd, data, size);
                if (r != -EAGAIN && r != -ENOBUFS && r != -EINTR)
                        return r;
                r = wait_for(c->fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
}

int control_client_send(ControlClient *c, const void *data, size_t size, usec_t timeout) {
        return send_until(c, data, size, deadline_of(timeout));
}

static int read_reply_until(ControlClient *c, usec_t deadline, json_object **ret_data, ProtocolFailure *failure) {
        ProtocolReplyReader rd = PROTOCOL_REPLY_READER_NULL;
        bool reset_seen = false;
        int r;

        for (;;) {
                r = wait_for(c->fd, POLLIN, deadline);
                if (r < 0)
                        break;
                char *buf = NULL;
                ssize_t n = protocol_recv(c->fd, PROTOCOL_MESSAGE_MAX, &buf);
                if (n == -EAGAIN || n == -EINTR)
                        continue;
                if (n == -ECONNRESET && !reset_seen) {
                        /* A server that closed with our request unread reports a
                         * reset before the reply it queued: read on. */
                        reset_seen = true;
                        continue;
                }
                if (n == 0) {
                        r = -ECONNRESET;
                        break;
                }
                if (n < 0) {
                        r = (int) n;
                        break;
                }
                r = protocol_reply_reader_feed(&rd, buf, (size_t) n, failure);
                free(buf);
                if (r != 0)
                        break;
        }
        if (r == 1) {
                if (ret_data)
                        *ret_data = protocol_reply_reader_steal(&rd);
                r = 0;
        }
        protocol_reply_reader_done(&rd);
        return r;
}

int control_client_read_reply(ControlClient *c, usec_t timeout, json_object **ret_data, ProtocolFailure *failure) {
        return read_reply_until(c, deadline_of(timeout), ret_data, failure);
}

/* A send failed because the daemon closed: it may have said why first. */
static int reply_after_send_error(ControlClient *c, int error, usec_t deadline, json_object **ret_data,
                                  ProtocolFailure *failure) {
        if (error != -EPIPE && error != -ECONNRESET)
                return error;
        int r = read_reply_until(c, deadline, ret_data, failure);
        return r == -ECONNRESET ? error : r;
}

int control_client_call(ControlClient *c, const ProtocolRequest *req, usec_t timeout, json_object **ret_data,
                        ProtocolFailure *failure) {
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *msg = NULL;
        size_t size;
        usec_t deadline = deadline_of(timeout);
        int r;

        assert(c);
        assert(req);
        if (req->secret_size > 0 && !req->secret)
                return -EINVAL;
        r = protocol_request_to_json(req, &o);
        if (r < 0)
                return r;
        r = protocol_message_format(o, PROTOCOL_MESSAGE_MAX, &msg, &size);
        if (r < 0)
                return r;
        r = send_until(c, msg, size, deadline);
        if (r >= 0 && req->secret_size > 0)
                r = send_until(c, req->secret, req->secret_size, deadline);
        if (r < 0)
                return reply_after_send_error(c, r, deadline, ret_data, failure);
        return read_reply_until(c, deadline, ret_data, failure);
}

int control_client_import(ControlClient *c, const ProtocolImportRow *rows, size_t n, usec_t timeout,
                          json_object **ret_data, ProtocolFailure *failure) {
        usec_t deadline = deadline_of(timeout);
        size_t pos = 0;
        int r;

        assert(c);
        if (n == 0)
                return -EINVAL;
        for (;;) {
                ProtocolImportChunk chunk;
                r = protocol_import_chunk_next(rows, n, &pos, 0, &chunk);
                if (r <= 0)
                        break;
                r = send_until(c, chunk.json, chunk.json_size, deadline);
                if (r >= 0 && chunk.secrets_size > 0)
                        r = send_until(c, chunk.secrets, chunk.secrets_size, deadline);
                protocol_import_chunk_done(&chunk);
                if (r < 0)
                        return reply_after_send_error(c, r, deadline, ret_data, failure);
        }
        if (r < 0)
                return r;
        return read_reply_until(c, deadline, ret_data, failure);
}
