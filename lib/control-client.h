/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The client side of the control protocol, as tomslinkctl uses it:
 * blocking calls with a deadline over a SOCK_SEQPACKET connection. */

#include "protocol.h"

typedef struct ControlClient ControlClient;

/* Connects to the control socket at path, waiting up to timeout when the
 * daemon's backlog is full. -ENOENT or -ECONNREFUSED: no daemon listening;
 * -EACCES: this user may not open the socket; -ETIMEDOUT. */
int control_client_connect(const char *path, usec_t timeout, ControlClient **ret);
ControlClient *control_client_free(ControlClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlClient *, control_client_free);
int control_client_fd(const ControlClient *c);

/* Sends a request, and its secret (req->secret, req->secret_size bytes) as
 * the next message when it has one, then waits up to timeout
 * (USEC_INFINITY: no limit) for the whole reply. Returns 0 with the reply
 * data; -EREMOTEIO with *failure filled when the daemon answered with an
 * error; -ECONNRESET when it closed the connection without answering;
 * -ETIMEDOUT; -EBADMSG for a malformed reply. */
int control_client_call(ControlClient *c, const ProtocolRequest *req, usec_t timeout, json_object **ret_data,
                        ProtocolFailure *failure);
/* Sends a credential import as a request stream (chunks of rows, each
 * followed by its secrets) and waits for the one reply. */
int control_client_import(ControlClient *c, const ProtocolImportRow *rows, size_t n, usec_t timeout,
                          json_object **ret_data, ProtocolFailure *failure);

/* The building blocks, for tests: one raw message, and a whole reply. */
int control_client_send(ControlClient *c, const void *data, size_t size, usec_t timeout);
int control_client_read_reply(ControlClient *c, usec_t timeout, json_object **ret_data, ProtocolFailure *failure);
