/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The control socket's server side, on sd-event: accepts tomslinkctl
 * connections on a listening SOCK_SEQPACKET socket, decides from
 * SO_PEERCRED what each peer may do, reads and validates requests
 * (protocol.h), reassembles credential-import streams, collects the
 * out-of-band secrets, and hands each complete request to the handler the
 * daemon registered for its command. Replies are encoded, split into
 * messages when large, and sent without ever blocking the loop.
 *
 * Nothing a client sends can disturb the daemon: a malformed, oversized,
 * truncated, unknown or unauthorised request gets an error reply (or the
 * connection is dropped), and the handlers only ever see requests that are
 * valid for their command and allowed for the peer.
 *
 * Writing a handler (the daemon's side of the contract):
 *
 *     static int on_status(ControlRequest *req, void *userdata) {
 *             Manager *m = userdata;
 *             _cleanup_json_ json_object *data = NULL;
 *             int r = manager_status_json(m, &data);  // protocol_data_new() + "links" array
 *             if (r < 0)
 *                     return r;                        // error reply mapped from the errno
 *             return control_request_reply(req, TAKE_PTR(data));
 *     }
 *
 *     static int on_probe(ControlRequest *req, void *userdata) {
 *             Manager *m = userdata;
 *             const ProtocolRequest *p = control_request_get(req);
 *             if (p->link && !manager_has_link(m, p->link))
 *                     return control_request_reply_error(req, PROTOCOL_ERROR_NOT_FOUND,
 *                                                        "no link named \"%s\"", p->link);
 *             // keep req; when the probe is done, call control_request_reply(req, data)
 *             return manager_queue_probe_waiter(m, p->link, p->all, req);
 *     }
 *
 *     static const ControlHandlerEntry handlers[] = {
 *             { PROTOCOL_COMMAND_STATUS, on_status },
 *             { PROTOCOL_COMMAND_PROBE, on_probe },
 *     };
 *     r = control_server_new(event, fd, &(ControlServerOptions) {}, handlers, ELEMENTSOF(handlers),
 *                            manager, &logger, &m->control);
 *
 * Rules: a handler either replies before it returns, or returns >= 0 and
 * replies later (asynchronously) exactly once. Returning < 0 without having
 * replied sends an error reply mapped from the errno
 * (protocol_error_from_errno()). Every request is freed by its reply, so a
 * request kept for later must be replied to even when its client has gone
 * (control_request_is_connected() tells; the reply is then discarded), and
 * even after control_server_free(). A command without a handler is
 * answered with unknown-command. */

#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "log.h"
#include "protocol.h"

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_SOCKET_DEFAULT "/run/tomslink/" CONTROL_SOCKET_NAME
#define CONTROL_GROUP_DEFAULT "tomslink"
#define CONTROL_CLIENTS_MAX_DEFAULT 256U
#define CONTROL_IDLE_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define CONTROL_CONNECTION_TIMEOUT_DEFAULT (30 * USEC_PER_MINUTE)

typedef struct ControlServer ControlServer;
typedef struct ControlRequest ControlRequest;

/* Handles one complete, valid, authorised request. */
typedef int (*ControlHandler)(ControlRequest *request, void *userdata);

typedef struct ControlHandlerEntry {
        ProtocolCommand command;
        ControlHandler handler;
} ControlHandlerEntry;

typedef struct ControlServerOptions {
        const char *group;              /* whose members may read; NULL: "tomslink" */
        unsigned max_clients;           /* connections at once; 0: 256. Beyond, a busy reply and close. */
        usec_t idle_timeout;            /* a client that neither sends nor reads for this long is
                                         * dropped, except while the daemon works on its request;
                                         * 0: 10 s */
        usec_t connection_timeout;      /* any connection is dropped after this long; 0: 30 min */
} ControlServerOptions;

/* Serves the listening socket listen_fd (SOCK_SEQPACKET), which it owns
 * from then on (on success only); -1 for none (clients then come only
 * through control_server_add_client()). handlers maps commands to callbacks
 * (later entries override earlier ones); userdata is passed to each. The
 * logger (may be NULL) gets debug messages only. */
int control_server_new(sd_event *event, int listen_fd, const ControlServerOptions *options,
                       const ControlHandlerEntry *handlers, size_t n_handlers, void *userdata,
                       const Logger *logger, ControlServer **ret);
/* Closes every connection (requests held by handlers stay valid until
 * replied to) and the listening socket. */
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);

unsigned control_server_n_clients(const ControlServer *s);
/* Serves one connected SOCK_SEQPACKET socket (e.g. one end of a
 * socketpair()), owned by the server on success. Access is decided from
 * its SO_PEERCRED like any other's. -EBUSY (the fd answered with busy, not
 * taken) at the client limit. */
int control_server_add_client(ControlServer *s, int fd);

/* ---- requests, for handlers ------------------------------------------------ */

ProtocolCommand control_request_command(const ControlRequest *r);
/* The decoded request: link, username, the secret (wiped when the request
 * is freed), the import rows with their secrets, ... */
const ProtocolRequest *control_request_get(const ControlRequest *r);
/* The peer, from SO_PEERCRED at connect time. */
uid_t control_request_uid(const ControlRequest *r);
gid_t control_request_gid(const ControlRequest *r);
pid_t control_request_pid(const ControlRequest *r);
ProtocolAccess control_request_access(const ControlRequest *r);
bool control_request_is_connected(const ControlRequest *r);

/* Called once if the client goes away before the reply (e.g. to stop
 * waiting for a probe). The handler still replies to free the request. */
typedef void (*ControlDisconnectFunc)(ControlRequest *r, void *userdata);
void control_request_set_disconnect_callback(ControlRequest *r, ControlDisconnectFunc func, void *userdata);

/* Replies with success and data (NULL: {}; the reference is taken in any
 * case) and frees the request. A reply too large even for a stream is
 * replaced by an internal error. Returns 0, or -ENOTCONN when the client is
 * gone (the request is freed all the same). */
int control_request_reply(ControlRequest *r, json_object *data);
/* Produces the elements of a streamed reply, one per call: 1 with the
 * element in *ret, 0 after the last, or a negative errno. */
typedef int (*ControlStreamNext)(void *userdata, json_object **ret);
typedef void (*ControlStreamFree)(void *userdata);
/* Replies with data too large to build at once (the status of 10,000
 * links): the fields (the reference is taken; NULL: none) and an array
 * named key whose elements next() produces while the client reads, so the
 * daemon holds one message at a time and the loop runs between messages.
 * The messages are those control_request_reply() would send. free_func
 * (may be NULL) gets userdata when the reply ends or the client goes.
 * Frees the request. */
int control_request_reply_stream(ControlRequest *r, json_object *fields, const char *key, ControlStreamNext next,
                                 ControlStreamFree free_func, void *userdata);
/* Replies with an error and frees the request. */
int control_request_reply_error(ControlRequest *r, ProtocolError code, const char *fmt, ...) _printf_(3, 4);
/* The same with detail lines (e.g. one per refused import row; copied). */
int control_request_reply_error_details(ControlRequest *r, ProtocolError code, char *const *details,
                                        const char *fmt, ...) _printf_(4, 5);

/* ---- the listening socket ---------------------------------------------------- */

/* The control socket passed by systemd socket activation (a listening
 * SOCK_SEQPACKET AF_UNIX socket among sd_listen_fds()), made non-blocking.
 * Returns 1 with the fd, 0 when there is none. Unsets $LISTEN_FDS. */
int control_socket_activated(int *ret_fd);
/* Creates, binds and listens on path: the socket file is created under a
 * umask of 0177, then given to group (NULL: "tomslink") with mode 0660 when
 * that group exists, else left 0600. A stale socket file (nobody listening)
 * is replaced; one with a live server behind it gives -EADDRINUSE, and a
 * file that is not a socket -EEXIST. -ENAMETOOLONG when path does not fit
 * a sockaddr_un. */
int control_socket_bind(const char *path, const char *group, int *ret_fd);

/* What the peer on a connected socket may do: ADMIN for uid 0 and for the
 * uid this process runs as; READ when the peer's gid, its supplementary
 * groups (SO_PEERGROUPS) or its user's groups in the user database
 * (getgrouplist()) include group (NULL: "tomslink"); NONE otherwise. */
int control_peer_access(int fd, const char *group, ProtocolAccess *ret_access, struct ucred *ret_cred);
