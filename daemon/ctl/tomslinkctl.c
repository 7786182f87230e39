/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <sysexits.h>

#include "build-config.h"
#include "control-client.h"
#include "control-server.h"
#include "ctl-output.h"
#include "ctl-parse.h"
#include "import-file.h"
#include "secret-input.h"
#include "strv.h"

#define DEFAULT_SOCKET TOMSLINK_RUNSTATEDIR "/tomslink/" CONTROL_SOCKET_NAME

#define EXIT_USAGE 2
#define EXIT_UNREACHABLE EX_UNAVAILABLE

#define CONNECT_TIMEOUT (5 * USEC_PER_SEC)
#define REPLY_TIMEOUT (60 * USEC_PER_SEC)
#define CHECK_TIMEOUT (10 * USEC_PER_SEC)

static void help(void) {
        printf("Usage: tomslinkctl [OPTIONS] COMMAND ...\n\n"
               "Controls tomslinkd, which watches the TOMS SIS vendor credentials.\n\n"
               "Commands:\n"
               "  status                            one row per link: state, expiry, life left, last probe\n"
               "  show LINK                         everything about one link\n"
               "  probe LINK|--all                  probe now and print the results\n"
               "  credential set LINK --username U [--generated TIME]\n"
               "                                    store a credential generated earlier\n"
               "  credential rotate LINK --username U\n"
               "                                    store a credential generated now, verified by a probe\n"
               "  credential history LINK           the rotation audit trail (never the secrets)\n"
               "  credential import FILE|-          many credentials at once (CSV or YAML), all or none\n"
               "  credential export-template        the CSV header import expects\n"
               "  silence LINK --for DURATION [--reason TEXT]\n"
               "                                    hold a link's alerts for a while\n"
               "  unsilence LINK                    end a silence\n"
               "  alerts                            open problems, silences and recent alerts\n"
               "  test-email                        send a test message through the relay\n"
               "  reload                            re-read the configuration\n"
               "  check                             monitoring plugin: one line, exit 0 OK, 1 WARNING,\n"
               "                                    2 CRITICAL, 3 UNKNOWN\n\n"
               "Options:\n"
               "     --socket PATH   the control socket (default $TOMSLINK_SOCKET, else %s)\n"
               "     --json          print the reply as JSON (field names are stable)\n"
               "     --no-legend     no column headers and summaries\n"
               "  -h --help          show this help\n"
               "     --version       show the version\n\n"
               "The secret key is read from standard input: typed twice on a terminal (not\n"
               "shown), or one line from a pipe. Exit status: 0 success, 1 failure, 2 usage,\n"
               "69 tomslinkd unreachable. See tomslinkctl(1).\n",
               DEFAULT_SOCKET);
}

static const char *socket_path(const CtlCommand *c) {
        const char *e = getenv("TOMSLINK_SOCKET");
        return c->socket ?: !isempty(e) ? e : DEFAULT_SOCKET;
}

static usec_t reply_timeout(CtlAction a) {
        switch (a) {
        case CTL_PROBE:
        case CTL_CREDENTIAL_ROTATE:
        case CTL_CREDENTIAL_IMPORT:
        case CTL_TEST_EMAIL:
                return USEC_INFINITY;   /* the daemon's own timeouts bound these */
        case CTL_CHECK:
                return CHECK_TIMEOUT;
        default:
                return REPLY_TIMEOUT;
        }
}

static ProtocolCommand command_of(CtlAction a) {
        static const ProtocolCommand map[_CTL_ACTION_MAX] = {
                [CTL_HELP] = _PROTOCOL_COMMAND_INVALID,
                [CTL_VERSION] = _PROTOCOL_COMMAND_INVALID,
                [CTL_STATUS] = PROTOCOL_COMMAND_STATUS,
                [CTL_SHOW] = PROTOCOL_COMMAND_SHOW,
                [CTL_PROBE] = PROTOCOL_COMMAND_PROBE,
                [CTL_CREDENTIAL_SET] = PROTOCOL_COMMAND_CREDENTIAL_SET,
                [CTL_CREDENTIAL_ROTATE] = PROTOCOL_COMMAND_CREDENTIAL_ROTATE,
                [CTL_CREDENTIAL_HISTORY] = PROTOCOL_COMMAND_CREDENTIAL_HISTORY,
                [CTL_CREDENTIAL_IMPORT] = PROTOCOL_COMMAND_CREDENTIAL_IMPORT,
                [CTL_CREDENTIAL_EXPORT_TEMPLATE] = _PROTOCOL_COMMAND_INVALID,
                [CTL_SILENCE] = PROTOCOL_COMMAND_SILENCE,
                [CTL_UNSILENCE] = PROTOCOL_COMMAND_UNSILENCE,
                [CTL_ALERTS] = PROTOCOL_COMMAND_ALERTS,
                [CTL_TEST_EMAIL] = PROTOCOL_COMMAND_TEST_EMAIL,
                [CTL_RELOAD] = PROTOCOL_COMMAND_RELOAD,
                [CTL_CHECK] = PROTOCOL_COMMAND_CHECK,
        };
        return a >= 0 && a < _CTL_ACTION_MAX ? map[a] : _PROTOCOL_COMMAND_INVALID;
}

/* Reports a failure to talk to the daemon; returns the exit status. A
 * socket this user may not open makes the daemon unreachable for them
 * (69), as tomslinkctl(1) says; a refusal by the daemon itself is 1. */
static int report_connection(const CtlCommand *c, const char *path, int error) {
        bool unreachable = error == -ENOENT || error == -ECONNREFUSED || error == -ENOTDIR || error == -ETIMEDOUT ||
                           error == -ENAMETOOLONG || error == -EAGAIN || error == -EACCES || error == -EPERM;
        char msg[512];

        if (error == -EACCES || error == -EPERM)
                snprintf(msg, sizeof msg, "permission denied opening %s: only root and members of group tomslink "
                                          "may use tomslinkctl",
                         path);
        else if (error == -ETIMEDOUT)
                snprintf(msg, sizeof msg, "tomslinkd at %s did not answer in time", path);
        else if (error == -ECONNRESET || error == -EPIPE)
                snprintf(msg, sizeof msg, "tomslinkd at %s closed the connection without answering", path);
        else if (unreachable)
                snprintf(msg, sizeof msg, "cannot reach tomslinkd at %s: %s (is it running? see --socket)", path,
                         strerror(-error));
        else
                snprintf(msg, sizeof msg, "talking to tomslinkd at %s failed: %s", path, strerror(-error));

        if (c->action == CTL_CHECK) {
                StrBuf b = STRBUF_NULL;
                int state = ctl_check_unknown(&b, "%s", msg);
                fputs(b.data ?: "TOMSLINK UNKNOWN\n", stdout);
                strbuf_done(&b);
                return state;
        }
        fprintf(stderr, "tomslinkctl: %s\n", msg);
        return unreachable ? EXIT_UNREACHABLE : EXIT_FAILURE;
}

static int report_failure(const CtlCommand *c, const ProtocolFailure *f) {
        if (c->action == CTL_CHECK) {
                StrBuf b = STRBUF_NULL;
                int state = ctl_check_unknown(&b, "tomslinkd: %s", f->message);
                fputs(b.data ?: "TOMSLINK UNKNOWN\n", stdout);
                strbuf_done(&b);
                return state;
        }
        _cleanup_free_ char *m = ctl_sanitize(f->message);
        fprintf(stderr, "tomslinkctl: %s\n", m ?: f->message);
        size_t n = 0;
        STRV_FOREACH(d, f->details) {
                _cleanup_free_ char *s = ctl_sanitize(*d);
                fprintf(stderr, "  %s\n", s ?: "");
                n++;
        }
        return EXIT_FAILURE;
}

/* Reads, checks and returns the rows of an import file; prints the problems. */
static int load_import(const char *file, ProtocolImportRow **ret, size_t *ret_n) {
        _cleanup_close_ int fd = -1;
        const char *name = streq(file, "-") ? "standard input" : file;
        char *data = NULL, *error = NULL;
        size_t size;
        int r;

        if (streq(file, "-"))
                fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        else
                fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                fprintf(stderr, "tomslinkctl: %s: %s\n", name, strerror(errno));
                return -errno;
        }
        if (!streq(file, "-")) {
                r = import_file_check_mode(fd, file, &error);
                if (r < 0) {
                        fprintf(stderr, "tomslinkctl: %s\n", error ?: strerror(-r));
                        free(error);
                        return r;
                }
        }
        r = import_file_read(fd, &data, &size);
        if (r < 0) {
                fprintf(stderr, "tomslinkctl: %s: %s\n", name,
                        r == -EFBIG ? "file too large" : strerror(-r));
                return r;
        }

        _cleanup_strv_free_ char **errors = NULL;
        r = import_file_parse(file, data, size, ret, ret_n, &errors);
        secret_input_free(data, size);
        if (r == -EINVAL) {
                size_t n = 0;
                STRV_FOREACH(e, errors) {
                        fprintf(stderr, "%s\n", *e);
                        n++;
                }
                fprintf(stderr, "tomslinkctl: %s: %zu problem%s found; nothing was imported.\n", name, n,
                        n == 1 ? "" : "s");
        } else if (r < 0)
                fprintf(stderr, "tomslinkctl: %s: %s\n", name, strerror(-r));
        return r;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *error = NULL;
        CtlCommand cmd;
        int r;

        (void) setlocale(LC_CTYPE, "");

        r = ctl_parse(argc, argv, &cmd, &error);
        if (r < 0) {
                fprintf(stderr, "tomslinkctl: %s\nTry \"tomslinkctl --help\".\n", error ?: strerror(-r));
                return EXIT_USAGE;
        }
        switch (cmd.action) {
        case CTL_HELP:
                help();
                return EXIT_SUCCESS;
        case CTL_VERSION:
                printf("tomslinkctl %s (protocol %d)\n", TOMSLINK_VERSION, PROTOCOL_VERSION);
                return EXIT_SUCCESS;
        case CTL_CREDENTIAL_EXPORT_TEMPLATE:
                puts(IMPORT_FILE_HEADER);
                return EXIT_SUCCESS;
        default:
                break;
        }

        const char *path = socket_path(&cmd);
        ProtocolRequest req = {
                .command = command_of(cmd.action),
                .link = (char *) cmd.link,
                .all = cmd.all,
                .username = (char *) cmd.username,
                .generated = (char *) cmd.generated,
                .duration = cmd.duration,
                .reason = (char *) cmd.reason,
        };
        ProtocolImportRow *rows = NULL;
        size_t n_rows = 0;
        _cleanup_(control_client_freep) ControlClient *client = NULL;

        /* Nothing is sent unless every row is good. */
        if (cmd.action == CTL_CREDENTIAL_IMPORT && load_import(cmd.file, &rows, &n_rows) < 0)
                return EXIT_FAILURE;

        r = control_client_connect(path, CONNECT_TIMEOUT, &client);
        if (r < 0) {
                protocol_import_rows_free(rows, n_rows);
                return report_connection(&cmd, path, r);
        }

        if (cmd.action == CTL_CREDENTIAL_SET || cmd.action == CTL_CREDENTIAL_ROTATE) {
                /* The daemon is there: now ask for the secret, on a fresh
                 * connection afterwards, since typing takes longer than the
                 * daemon waits for an idle client. */
                client = control_client_free(client);
                char prompt[128];
                snprintf(prompt, sizeof prompt, "Secret key for %s: ", cmd.link);
                r = secret_input_read(STDIN_FILENO, STDERR_FILENO, prompt, true, PROTOCOL_SECRET_MAX, &req.secret,
                                      &req.secret_size);
                if (r < 0) {
                        fprintf(stderr, "tomslinkctl: cannot read the secret key from standard input: %s\n",
                                secret_input_strerror(r));
                        return EXIT_FAILURE;
                }
                r = control_client_connect(path, CONNECT_TIMEOUT, &client);
                if (r < 0) {
                        secret_input_free(req.secret, req.secret_size);
                        return report_connection(&cmd, path, r);
                }
                if (cmd.action == CTL_CREDENTIAL_ROTATE && isatty(STDERR_FILENO))
                        fprintf(stderr, "Stored; waiting for the verification probe...\n");
        }

        _cleanup_json_ json_object *data = NULL;
        ProtocolFailure failure = PROTOCOL_FAILURE_NULL;
        if (cmd.action == CTL_CREDENTIAL_IMPORT) {
                r = control_client_import(client, rows, n_rows, reply_timeout(cmd.action), &data, &failure);
                protocol_import_rows_free(rows, n_rows);
        } else {
                r = control_client_call(client, &req, reply_timeout(cmd.action), &data, &failure);
                secret_input_free(req.secret, req.secret_size);
                req.secret = NULL;
        }
        if (r == -EREMOTEIO) {
                int status = report_failure(&cmd, &failure);
                protocol_failure_done(&failure);
                return status;
        }
        if (r < 0) {
                protocol_failure_done(&failure);
                return report_connection(&cmd, path, r);
        }

        const CtlOutput *output = ctl_output_for(cmd.action);
        const char *codeset = nl_langinfo(CODESET);
        CtlOutputOptions options = {
                .color = ctl_use_color(STDOUT_FILENO, getenv("NO_COLOR"), getenv("TERM")),
                .utf8 = codeset && streq(codeset, "UTF-8"),
                .legend = !cmd.no_legend,
        };
        StrBuf out = STRBUF_NULL;
        int status = EXIT_SUCCESS;
        if (cmd.json && cmd.action != CTL_CHECK)
                r = ctl_render_json(data, &out);
        else
                r = output->text(data, &options, &out, &failure);
        if (r < 0) {
                strbuf_done(&out);
                if (cmd.action == CTL_CHECK) {
                        StrBuf b = STRBUF_NULL;
                        status = ctl_check_unknown(&b, "%s", failure.message);
                        fputs(b.data ?: "", stdout);
                        strbuf_done(&b);
                        return status;
                }
                fprintf(stderr, "tomslinkctl: %s\n", r == -ENOMEM ? "out of memory" : failure.message);
                protocol_failure_done(&failure);
                return EXIT_FAILURE;
        }
        if (output->outcome)
                status = output->outcome(data);
        fputs(out.data ?: "", stdout);
        strbuf_done(&out);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (cmd.action != CTL_CHECK)
                        fprintf(stderr, "tomslinkctl: cannot write the output: %s\n", strerror(errno));
                return cmd.action == CTL_CHECK ? CTL_CHECK_UNKNOWN : EXIT_FAILURE;
        }
        return status;
}
