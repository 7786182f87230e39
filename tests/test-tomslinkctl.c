/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tomslinkctl, the program, against a control server with canned handlers
 * running in this process: arguments, exit statuses, what reaches the
 * daemon, and what the user sees. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "control-server.h"
#include "strbuf.h"
#include "strv.h"
#include "tests.h"

#ifndef TOMSLINKCTL
#error "TOMSLINKCTL must name the program under test"
#endif

#define PROBE_OK "{\"class\":\"ok\",\"http_status\":200,\"error\":null,\"time\":\"2026-07-01T09:48:00-07:00\"," \
                 "\"times_ms\":{\"dns\":1.2,\"connect\":5.7,\"tls\":45.0,\"first_byte\":120.0,\"total\":143.25}}"
#define PROBE_AUTH "{\"class\":\"auth\",\"http_status\":401,\"error\":\"refused\",\"time\":" \
                   "\"2026-07-01T07:00:00-07:00\",\"times_ms\":{\"dns\":0.8,\"total\":98.0}}"

static const char *status_doc =
        "{\"time\":\"2026-07-01T10:00:00-07:00\",\"timezone\":\"America/Los_Angeles\",\"links\":["
        "{\"name\":\"district\",\"state\":\"ok\",\"problems\":[],\"expires\":\"2027-03-01T10:00:00-08:00\","
        "\"days_left\":243,\"lifetime_seconds\":31536000,\"last_probe\":" PROBE_OK "},"
        "{\"name\":\"school-a\",\"state\":\"expired\",\"problems\":[\"expired\"],"
        "\"expires\":\"2026-06-01T10:00:00-07:00\",\"days_left\":-30,\"lifetime_seconds\":31536000,"
        "\"last_probe\":null}]}";

typedef struct Server {
        char dir[64], path[128];
        sd_event *event;
        ControlServer *server;
        pthread_t thread;
        int stop[2];
        const char *status;             /* the status and check reply */

        pthread_mutex_t lock;
        unsigned n_requests;
        char secret[PROTOCOL_SECRET_MAX + 1];
        size_t secret_size;
        char username[PROTOCOL_USERNAME_MAX + 1];
        size_t n_imported;
        bool import_intact;
} Server;

static Server *S;   /* the one server of a test, for the handlers */

static int reply_doc(ControlRequest *req, const char *text) {
        json_object *o = json_tokener_parse(text);
        ck_assert_ptr_nonnull(o);
        return control_request_reply(req, o);
}

static void counted(void) {
        pthread_mutex_lock(&S->lock);
        S->n_requests++;
        pthread_mutex_unlock(&S->lock);
}

static int on_status(ControlRequest *req, void *userdata) {
        counted();
        return reply_doc(req, S->status);
}

static int on_show(ControlRequest *req, void *userdata) {
        counted();
        const ProtocolRequest *p = control_request_get(req);
        if (!streq(p->link, "district"))
                return control_request_reply_error(req, PROTOCOL_ERROR_NOT_FOUND, "no link named \"%s\"", p->link);
        return reply_doc(req, "{\"timezone\":\"UTC\",\"link\":{\"name\":\"district\",\"state\":\"ok\"}}");
}

static int on_probe(ControlRequest *req, void *userdata) {
        counted();
        const ProtocolRequest *p = control_request_get(req);
        if (p->all)
                return reply_doc(req, "{\"results\":[{\"link\":\"district\",\"result\":" PROBE_OK "},"
                                      "{\"link\":\"school-a\",\"result\":" PROBE_AUTH "}]}");
        if (streq(p->link, "district"))
                return reply_doc(req, "{\"results\":[{\"link\":\"district\",\"result\":" PROBE_OK "}]}");
        return reply_doc(req, "{\"results\":[{\"link\":\"school-a\",\"result\":" PROBE_AUTH "}]}");
}

static int on_credential(ControlRequest *req, void *userdata) {
        const ProtocolRequest *p = control_request_get(req);
        counted();
        pthread_mutex_lock(&S->lock);
        memcpy(S->secret, p->secret, p->secret_size);
        S->secret_size = p->secret_size;
        snprintf(S->username, sizeof S->username, "%s", p->username);
        pthread_mutex_unlock(&S->lock);
        bool rotate = control_request_command(req) == PROTOCOL_COMMAND_CREDENTIAL_ROTATE;
        StrBuf b = STRBUF_NULL;
        strbuf_printf(&b, "{\"timezone\":\"UTC\",\"link\":\"%s\",\"generation\":2,\"expires\":\"2027-07-01T17:00:00Z\","
                          "\"days_left\":365,\"consumers\":[\"parent portal\"],\"probe\":%s}",
                      p->link, !rotate ? "null" : streq(p->link, "district") ? PROBE_OK : PROBE_AUTH);
        int r = reply_doc(req, b.data);
        strbuf_done(&b);
        return r;
}

static int on_import(ControlRequest *req, void *userdata) {
        const ProtocolRequest *p = control_request_get(req);
        counted();
        pthread_mutex_lock(&S->lock);
        S->n_imported = p->n_rows;
        S->import_intact = true;
        for (size_t i = 0; i < p->n_rows; i++) {
                char want[64];
                snprintf(want, sizeof want, "Secret-%zu", i);
                if (!streq(p->rows[i].secret, want))
                        S->import_intact = false;
        }
        pthread_mutex_unlock(&S->lock);
        char buf[64];
        snprintf(buf, sizeof buf, "{\"imported\":%zu}", p->n_rows);
        return reply_doc(req, buf);
}

static int on_simple(ControlRequest *req, void *userdata) {
        counted();
        switch (control_request_command(req)) {
        case PROTOCOL_COMMAND_SILENCE:
                return reply_doc(req, "{\"timezone\":\"UTC\",\"link\":\"district\",\"until\":\"2026-07-01T19:00:00Z\"}");
        case PROTOCOL_COMMAND_UNSILENCE:
                return reply_doc(req, "{\"link\":\"district\"}");
        case PROTOCOL_COMMAND_ALERTS:
                return reply_doc(req, "{}");
        case PROTOCOL_COMMAND_CREDENTIAL_HISTORY:
                return reply_doc(req, "{\"link\":\"district\",\"rotations\":[]}");
        case PROTOCOL_COMMAND_TEST_EMAIL:
                return reply_doc(req, "{\"recipients\":[\"it@example.org\"]}");
        default:
                return control_request_reply_error(req, PROTOCOL_ERROR_FAILED,
                                                   "tomslink.yaml:3:1: probe.interval: expected a duration");
        }
}

static const ControlHandlerEntry handlers[] = {
        { PROTOCOL_COMMAND_STATUS, on_status },
        { PROTOCOL_COMMAND_CHECK, on_status },
        { PROTOCOL_COMMAND_SHOW, on_show },
        { PROTOCOL_COMMAND_PROBE, on_probe },
        { PROTOCOL_COMMAND_CREDENTIAL_SET, on_credential },
        { PROTOCOL_COMMAND_CREDENTIAL_ROTATE, on_credential },
        { PROTOCOL_COMMAND_CREDENTIAL_IMPORT, on_import },
        { PROTOCOL_COMMAND_CREDENTIAL_HISTORY, on_simple },
        { PROTOCOL_COMMAND_SILENCE, on_simple },
        { PROTOCOL_COMMAND_UNSILENCE, on_simple },
        { PROTOCOL_COMMAND_ALERTS, on_simple },
        { PROTOCOL_COMMAND_TEST_EMAIL, on_simple },
        { PROTOCOL_COMMAND_RELOAD, on_simple },
};

static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void *loop(void *p) {
        sd_event_loop(((Server *) p)->event);
        return NULL;
}

static void server_start(void) {
        int fd;
        S = calloc(1, sizeof(Server));
        pthread_mutex_init(&S->lock, NULL);
        S->status = status_doc;
        strcpy(S->dir, "/tmp/test-ctl-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(S->dir));
        snprintf(S->path, sizeof S->path, "%s/control.sock", S->dir);
        ck_assert_int_eq(sd_event_new(&S->event), 0);
        ck_assert_int_eq(control_socket_bind(S->path, NULL, &fd), 0);
        ck_assert_int_eq(control_server_new(S->event, fd, NULL, handlers, ELEMENTSOF(handlers), NULL, NULL, &S->server), 0);
        ck_assert_int_eq(pipe2(S->stop, O_CLOEXEC), 0);
        ck_assert_int_ge(sd_event_add_io(S->event, NULL, S->stop[0], EPOLLIN, on_stop, NULL), 0);
        ck_assert_int_eq(pthread_create(&S->thread, NULL, loop, S), 0);
}

static void server_stop(void) {
        ck_assert_int_eq(write(S->stop[1], "x", 1), 1);
        ck_assert_int_eq(pthread_join(S->thread, NULL), 0);
        control_server_free(S->server);
        sd_event_unref(S->event);
        close(S->stop[0]);
        close(S->stop[1]);
        unlink(S->path);
        rmdir(S->dir);
        free(S);
        S = NULL;
}

static unsigned n_requests(void) {
        pthread_mutex_lock(&S->lock);
        unsigned n = S->n_requests;
        pthread_mutex_unlock(&S->lock);
        return n;
}

typedef struct Run {
        int status;
        char *out, *err;
} Run;

static void run_done(Run *r) {
        free(r->out);
        free(r->err);
}

/* Runs tomslinkctl with the words of line as arguments, input on standard
 * input and env added to a minimal environment. With tty, its standard
 * output is a terminal. */
static Run run_full(const char *line, const char *input, size_t input_size, char *const *env, bool tty) {
        int in[2], out[2], err[2], master = -1, slave = -1;
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        if (tty)
                ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);

        char *argv[64] = { (char *) TOMSLINKCTL };
        int argc = 1;
        char *copy = strdup(line);
        for (char *t = strtok(copy, " "); t; t = strtok(NULL, " "))
                argv[argc++] = t;
        char *envp[16] = { (char *) "LANG=C.UTF-8", (char *) "PATH=/usr/bin:/bin" };
        size_t n_env = 2;
        STRV_FOREACH(e, (char **) env)
                envp[n_env++] = *e;

        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(tty ? slave : out[1], 1);
                dup2(err[1], 2);
                execve(TOMSLINKCTL, argv, envp);
                _exit(127);
        }
        free(copy);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        if (tty)
                close(slave);
        if (input_size > 0)
                ck_assert_int_eq(write(in[1], input, input_size), (ssize_t) input_size);
        close(in[1]);

        StrBuf o = STRBUF_NULL, e = STRBUF_NULL;
        struct pollfd p[2] = { { .fd = tty ? master : out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
        int open_fds = 2;
        while (open_fds > 0) {
                ck_assert_int_gt(poll(p, 2, 20000), 0);
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        char buf[4096];
                        ssize_t k = read(p[i].fd, buf, sizeof buf);
                        if (k <= 0) {   /* a pty reports EIO once the child is gone */
                                p[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        strbuf_append(i == 0 ? &o : &e, buf, (size_t) k);
                }
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        close(tty ? master : out[0]);
        if (tty)
                close(out[0]);
        close(err[0]);
        ck_assert(WIFEXITED(status));
        Run r = { .status = WEXITSTATUS(status), .out = strbuf_steal(&o), .err = strbuf_steal(&e) };
        return r;
}

static Run run(const char *line) {
        char sock[200];
        snprintf(sock, sizeof sock, "TOMSLINK_SOCKET=%s", S ? S->path : "/nonexistent/control.sock");
        char *env[] = { sock, NULL };
        return run_full(line, NULL, 0, env, false);
}

static Run run_input(const char *line, const char *input, size_t size) {
        char sock[200];
        snprintf(sock, sizeof sock, "TOMSLINK_SOCKET=%s", S->path);
        char *env[] = { sock, NULL };
        return run_full(line, input, size, env, false);
}

#define expect(r, st, stream, text)                                                                                 \
        ck_assert_msg((r).status == (st) && strstr((r).stream, (text)),                                          \
                      "exit %d (wanted %d), " #stream " lacks \"%s\":\nstdout: %s\nstderr: %s", (r).status, (st),      \
                      (text), (r).out, (r).err)

START_TEST(test_usage) {
        static const struct {
                const char *line;
                const char *want;
        } cases[] = {
                { "stauts", "unknown command \"stauts\"; did you mean \"status\"?" },
                { "show", "show: missing LINK" },
                { "probe", "probe: give a LINK or --all" },
                { "credential", "credential: expected one of" },
                { "credential set district", "credential set: --username is required" },
                { "credential rotate district", "credential rotate: --username is required" },
                { "credential history", "credential history: missing LINK" },
                { "credential import", "credential import: missing FILE" },
                { "credential export-template x", "unexpected argument \"x\"" },
                { "silence district", "silence: --for is required" },
                { "silence district --for tomorrow", "--for: expected a duration" },
                { "unsilence", "unsilence: missing LINK" },
                { "alerts extra", "alerts: unexpected argument" },
                { "test-email now", "test-email: unexpected argument" },
                { "reload --force", "reload: unknown option \"--force\"" },
                { "check -v", "check: unknown option \"-v\"" },
                { "status --socket", "--socket needs a value" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Run r = run(cases[i].line);
                expect(r, 2, err, cases[i].want);
                ck_assert_ptr_nonnull(strstr(r.err, "Try \"tomslinkctl --help\"."));
                ck_assert_str_eq(r.out, "");
                run_done(&r);
        }

        Run r = run("--help");
        expect(r, 0, out, "credential import FILE|-");
        run_done(&r);
        r = run("--version");
        expect(r, 0, out, "tomslinkctl ");
        run_done(&r);
        r = run("credential export-template");
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "link,username,secret,generated\n");
        run_done(&r);
}
END_TEST

START_TEST(test_unreachable) {
        Run r = run("status");
        expect(r, 69, err, "cannot reach tomslinkd at /nonexistent/control.sock");
        run_done(&r);
        r = run("check");
        expect(r, 3, out, "TOMSLINK UNKNOWN - cannot reach tomslinkd at /nonexistent/control.sock");
        run_done(&r);
        r = run("--socket /tmp/no-such-dir-here/x.sock probe --all");
        expect(r, 69, err, "/tmp/no-such-dir-here/x.sock");
        run_done(&r);

        /* a socket file nobody listens on */
        char dir[] = "/tmp/test-ctl-XXXXXX", path[200];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/control.sock", dir);
        int fd;
        ck_assert_int_eq(control_socket_bind(path, NULL, &fd), 0);
        close(fd);   /* bound, then closed: stale */
        char line[300];
        snprintf(line, sizeof line, "--socket %s alerts", path);
        r = run(line);
        expect(r, 69, err, "Connection refused");
        run_done(&r);
        unlink(path);
        rmdir(dir);
        /* and a command that never needs the daemon works without it */
        r = run("credential export-template");
        ck_assert_int_eq(r.status, 0);
        run_done(&r);
}
END_TEST

START_TEST(test_status_and_check) {
        server_start();
        Run r = run("status");
        expect(r, 0, out, "district  ok       2027-03-01        243  ██████▋░░░  ok, HTTP 200, 143 ms (12m ago)\n");
        ck_assert_ptr_nonnull(strstr(r.out, "school-a  expired  2026-06-01        -30  ░░░░░░░░░░  -\n"));
        ck_assert_ptr_null(strchr(r.out, '\033'));   /* not a terminal: no colour */
        run_done(&r);

        r = run("status --json");
        ck_assert_int_eq(r.status, 0);
        json_object *o = json_tokener_parse(r.out), *links;
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "links", &links));
        ck_assert_uint_eq(json_object_array_length(links), 2);
        json_object_put(o);
        run_done(&r);

        r = run("--no-legend status");
        ck_assert(strneq(r.out, "district ", 9));
        run_done(&r);

        /* colour on a terminal, unless NO_COLOR says otherwise */
        char sock[200];
        snprintf(sock, sizeof sock, "TOMSLINK_SOCKET=%s", S->path);
        char *env[] = { sock, NULL };
        r = run_full("status", NULL, 0, env, true);
        expect(r, 0, out, "\033[32mok\033[0m");
        run_done(&r);
        char *env_nc[] = { sock, (char *) "NO_COLOR=1", NULL };
        r = run_full("status", NULL, 0, env_nc, true);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_null(strchr(r.out, '\033'));
        run_done(&r);
        char *env_dumb[] = { sock, (char *) "TERM=dumb", NULL };
        r = run_full("status", NULL, 0, env_dumb, true);
        ck_assert_ptr_null(strchr(r.out, '\033'));
        run_done(&r);

        /* the monitoring plugin */
        r = run("check");
        expect(r, 2, out, "TOMSLINK CRITICAL - 1 critical: school-a (expired, -30 days left); 1 ok | links=2");
        run_done(&r);
        S->status = "{\"links\":[{\"name\":\"a\",\"state\":\"expiring\",\"problems\":[\"expiring\"],\"days_left\":9}]}";
        r = run("check");
        expect(r, 1, out, "TOMSLINK WARNING - 1 warning: a (expiring, 9 days left)");
        run_done(&r);
        S->status = "{\"links\":[{\"name\":\"a\",\"state\":\"ok\",\"days_left\":99}]}";
        r = run("check");
        expect(r, 0, out, "TOMSLINK OK - 1 ok | links=1 critical=0 warning=0 ok=1 min_days_left=99 days_left_a=99\n");
        run_done(&r);
        S->status = "{\"links\":\"broken\"}";
        r = run("check");
        expect(r, 3, out, "TOMSLINK UNKNOWN - malformed reply");
        run_done(&r);
        r = run("status");
        expect(r, 1, err, "malformed reply from tomslinkd");
        run_done(&r);
        server_stop();
}
END_TEST

START_TEST(test_commands) {
        server_start();
        Run r = run("show district");
        expect(r, 0, out, "district: ok\n");
        run_done(&r);
        r = run("show nowhere");
        expect(r, 1, err, "tomslinkctl: no link named \"nowhere\"");
        run_done(&r);

        r = run("probe district");
        expect(r, 0, out, "district  ok       200");
        run_done(&r);
        r = run("probe school-a");
        expect(r, 1, out, "school-a  auth     401");
        run_done(&r);
        r = run("probe --all --json");
        ck_assert_int_eq(r.status, 1);   /* the exit status does not depend on the format */
        ck_assert_ptr_nonnull(strstr(r.out, "\"class\": \"auth\""));
        run_done(&r);

        r = run("silence district --for 2h --reason upgrade");
        expect(r, 0, out, "Silenced district until 2026-07-01 19:00");
        run_done(&r);
        r = run("unsilence district");
        expect(r, 0, out, "district is no longer silenced.");
        run_done(&r);
        r = run("alerts");
        expect(r, 0, out, "No open problems.");
        run_done(&r);
        r = run("credential history district");
        expect(r, 0, out, "No credential was ever stored for district.");
        run_done(&r);
        r = run("test-email");
        expect(r, 0, out, "Test message sent to it@example.org.");
        run_done(&r);
        r = run("reload");
        expect(r, 1, err, "tomslinkctl: tomslink.yaml:3:1: probe.interval: expected a duration");
        run_done(&r);
        server_stop();
}
END_TEST

START_TEST(test_secret_from_pipe) {
        server_start();
        Run r = run_input("credential set district --username vendor@sis.example --generated 2026-03-01",
                          "Tops3cret-Key\n", 14);
        expect(r, 0, out, "Stored the credential of district (generation 2)");
        ck_assert_ptr_nonnull(strstr(r.out, "  - parent portal\n"));
        ck_assert_ptr_null(strstr(r.out, "Tops3cret"));
        ck_assert_ptr_null(strstr(r.err, "Tops3cret"));
        pthread_mutex_lock(&S->lock);
        ck_assert_uint_eq(S->secret_size, 13);
        ck_assert(memcmp(S->secret, "Tops3cret-Key", 13) == 0);   /* newline stripped */
        ck_assert_str_eq(S->username, "vendor@sis.example");
        pthread_mutex_unlock(&S->lock);
        run_done(&r);

        /* rotation waits for the verification probe and reports it */
        r = run_input("credential rotate district --username u2", "second-key", 10);
        expect(r, 0, out, "Verification probe: ok, HTTP 200");
        run_done(&r);
        r = run_input("credential rotate school-a --username u2", "second-key", 10);
        expect(r, 1, out, "Verification probe: auth, HTTP 401");
        run_done(&r);

        /* bad input: nothing is sent */
        unsigned before = n_requests();
        r = run_input("credential set district --username u", "", 0);
        expect(r, 1, err, "the secret key is empty");
        run_done(&r);
        r = run_input("credential set district --username u", "two\nlines\n", 10);
        expect(r, 1, err, "one line of text");
        run_done(&r);
        ck_assert_uint_eq(n_requests(), before);
        server_stop();
}
END_TEST

START_TEST(test_import) {
        server_start();
        char path[] = "/tmp/test-ctl-import-XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        StrBuf b = STRBUF_NULL;
        strbuf_puts(&b, "link,username,secret,generated\n");
        for (int i = 0; i < 10000; i++)
                strbuf_printf(&b, "school-%05d,vendor@sis.example,Secret-%d,2026-03-01\n", i, i);
        ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t) b.len);
        char line[200];
        snprintf(line, sizeof line, "credential import %s", path);

        /* readable by others: refused before anything is sent */
        ck_assert_int_eq(fchmod(fd, 0644), 0);
        unsigned before = n_requests();
        Run r = run(line);
        expect(r, 1, err, "its mode is 0644; allow only its owner to read it (chmod 600");
        run_done(&r);
        ck_assert_uint_eq(n_requests(), before);

        ck_assert_int_eq(fchmod(fd, 0600), 0);
        r = run(line);
        expect(r, 0, out, "Imported 10000 credentials.");
        run_done(&r);
        pthread_mutex_lock(&S->lock);
        ck_assert_uint_eq(S->n_imported, 10000);
        ck_assert(S->import_intact);
        pthread_mutex_unlock(&S->lock);

        /* from standard input */
        r = run_input("credential import -", "link,username,secret\nd,u,Secret-0\n", 33);
        expect(r, 0, out, "Imported 1 credential.");
        run_done(&r);

        /* every bad row is reported by line, and nothing is sent */
        const char *bad = "link,username,secret,generated\n"
                          "ok-one,u,Secret-0,\n"
                          "Bad_Name,u,Secret-1,\n"
                          "ok-two,,Secret-2,\n"
                          "ok-three,u,Secret-3,someday\n";
        ck_assert_int_eq(ftruncate(fd, 0), 0);
        ck_assert_int_eq(pwrite(fd, bad, strlen(bad), 0), (ssize_t) strlen(bad));
        before = n_requests();
        r = run(line);
        ck_assert_int_eq(r.status, 1);
        char want[300];
        snprintf(want, sizeof want, "%s:3: link: \"Bad_Name\" is not a valid link name", path);
        ck_assert_msg(strstr(r.err, want), "%s", r.err);
        snprintf(want, sizeof want, "%s:4: username: empty", path);
        ck_assert_msg(strstr(r.err, want), "%s", r.err);
        snprintf(want, sizeof want, "%s:5: generated: expected an ISO 8601 time", path);
        ck_assert_msg(strstr(r.err, want), "%s", r.err);
        ck_assert_ptr_nonnull(strstr(r.err, "3 problems found; nothing was imported."));
        ck_assert_ptr_null(strstr(r.err, "Secret-"));
        run_done(&r);
        ck_assert_uint_eq(n_requests(), before);

        r = run("credential import /nonexistent/creds.csv");
        expect(r, 1, err, "/nonexistent/creds.csv: No such file or directory");
        run_done(&r);

        close(fd);
        unlink(path);
        strbuf_done(&b);
        server_stop();
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("tomslinkctl");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_usage, test_unreachable, test_status_and_check, test_commands, test_secret_from_pipe,
                  test_import);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
