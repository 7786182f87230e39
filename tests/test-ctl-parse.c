/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctl-parse.h"
#include "strv.h"
#include "tests.h"

/* Splits a command line on spaces ("tomslinkctl" prepended) and parses it. */
static int parse(const char *line, CtlCommand *ret, char **ret_error) {
        static char buf[1024];
        char *argv[64] = { (char *) "tomslinkctl" };
        int argc = 1;
        snprintf(buf, sizeof buf, "%s", line);
        for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
                argv[argc++] = tok;
        return ctl_parse(argc, argv, ret, ret_error);
}

static CtlCommand ok(const char *line) {
        CtlCommand c;
        char *error = NULL;
        int r = parse(line, &c, &error);
        ck_assert_msg(r == 0, "\"%s\": %s", line, error);
        return c;
}

static void usage(const char *line, const char *want) {
        CtlCommand c;
        char *error = NULL;
        ck_assert_msg(parse(line, &c, &error) == -EINVAL, "\"%s\" was accepted", line);
        ck_assert_msg(strstr(error, want), "\"%s\": \"%s\" lacks \"%s\"", line, error, want);
        free(error);
}

START_TEST(test_every_command) {
        CtlCommand c;

        c = ok("");
        ck_assert_int_eq(c.action, CTL_STATUS);
        c = ok("status");
        ck_assert_int_eq(c.action, CTL_STATUS);
        ck_assert(!c.json);
        c = ok("status --json");
        ck_assert(c.json);
        c = ok("--json --no-legend status");
        ck_assert(c.json && c.no_legend);

        c = ok("show district");
        ck_assert_int_eq(c.action, CTL_SHOW);
        ck_assert_str_eq(c.link, "district");
        c = ok("show --json school-7");
        ck_assert(c.json);
        ck_assert_str_eq(c.link, "school-7");

        c = ok("probe district");
        ck_assert_int_eq(c.action, CTL_PROBE);
        ck_assert_str_eq(c.link, "district");
        ck_assert(!c.all);
        c = ok("probe --all --json");
        ck_assert(c.all && c.json);
        ck_assert_ptr_null(c.link);

        c = ok("credential set district --username vendor@sis.example");
        ck_assert_int_eq(c.action, CTL_CREDENTIAL_SET);
        ck_assert_str_eq(c.link, "district");
        ck_assert_str_eq(c.username, "vendor@sis.example");
        ck_assert_ptr_null(c.generated);
        c = ok("credential set --generated 2026-03-01 --username=u district");
        ck_assert_str_eq(c.generated, "2026-03-01");
        ck_assert_str_eq(c.username, "u");
        ck_assert_str_eq(c.link, "district");
        c = ok("credential set d --username u --generated 2026-03-01T09:30:00-08:00");
        ck_assert_str_eq(c.generated, "2026-03-01T09:30:00-08:00");

        c = ok("credential rotate district --username u2");
        ck_assert_int_eq(c.action, CTL_CREDENTIAL_ROTATE);
        ck_assert_str_eq(c.username, "u2");

        c = ok("credential history district");
        ck_assert_int_eq(c.action, CTL_CREDENTIAL_HISTORY);
        c = ok("credential history district --json");
        ck_assert(c.json);

        c = ok("credential import creds.csv");
        ck_assert_int_eq(c.action, CTL_CREDENTIAL_IMPORT);
        ck_assert_str_eq(c.file, "creds.csv");
        c = ok("credential import -");
        ck_assert_str_eq(c.file, "-");
        c = ok("credential import -- --odd-name.csv");
        ck_assert_str_eq(c.file, "--odd-name.csv");

        c = ok("credential export-template");
        ck_assert_int_eq(c.action, CTL_CREDENTIAL_EXPORT_TEMPLATE);

        c = ok("silence district --for 2h");
        ck_assert_int_eq(c.action, CTL_SILENCE);
        ck_assert_uint_eq(c.duration, 2 * USEC_PER_HOUR);
        ck_assert_ptr_null(c.reason);
        c = ok("silence --reason upgrade --for 1h30m district");
        ck_assert_uint_eq(c.duration, 90 * USEC_PER_MINUTE);
        ck_assert_str_eq(c.reason, "upgrade");

        c = ok("unsilence district");
        ck_assert_int_eq(c.action, CTL_UNSILENCE);
        c = ok("alerts");
        ck_assert_int_eq(c.action, CTL_ALERTS);
        c = ok("alerts --json");
        ck_assert(c.json);
        c = ok("test-email");
        ck_assert_int_eq(c.action, CTL_TEST_EMAIL);
        c = ok("reload");
        ck_assert_int_eq(c.action, CTL_RELOAD);
        c = ok("check");
        ck_assert_int_eq(c.action, CTL_CHECK);

        c = ok("--socket /tmp/t.sock status");
        ck_assert_str_eq(c.socket, "/tmp/t.sock");
        c = ok("status --socket=/tmp/u.sock");
        ck_assert_str_eq(c.socket, "/tmp/u.sock");

        c = ok("--help");
        ck_assert_int_eq(c.action, CTL_HELP);
        c = ok("credential set -h");
        ck_assert_int_eq(c.action, CTL_HELP);   /* help wins, even over missing arguments */
        c = ok("--version");
        ck_assert_int_eq(c.action, CTL_VERSION);

        ck_assert_str_eq(ctl_action_to_string(CTL_CREDENTIAL_SET), "credential set");
        ck_assert_ptr_null(ctl_action_to_string(_CTL_ACTION_MAX));
}
END_TEST

START_TEST(test_usage_errors) {
        usage("stauts", "unknown command \"stauts\"; did you mean \"status\"?");
        usage("frobnicate", "unknown command \"frobnicate\"; expected one of: status, show, probe, credential");
        usage("credential", "credential: expected one of: set, rotate, history, import, export-template");
        usage("credential sett x", "did you mean \"set\"?");
        usage("show", "show: missing LINK");
        usage("show a b", "show: unexpected argument \"b\"");
        usage("show Bad_Name", "\"Bad_Name\" is not a valid link name");
        usage("show -x", "show: unknown option \"-x\"");
        usage("status --jsn", "did you mean \"--json\"?");
        usage("status extra", "status: unexpected argument \"extra\"");
        usage("probe", "probe: give a LINK or --all");
        usage("probe a --all", "not both");
        usage("credential set district", "credential set: --username is required");
        usage("credential set --username u", "credential set: missing LINK");
        usage("credential set d --username", "--username needs a value");
        usage("credential set d --username u --username v", "--username is given more than once");
        usage("credential set d --username u --generated soon", "--generated: expected an ISO 8601 time");
        usage("credential set d --username u --generated 2026-03-01T10:00", "has a time but no UTC offset");
        usage("credential set d --username u --generated 2026-02-30", "--generated");
        usage("credential rotate d --username u --generated 2026-03-01", "unknown option \"--generated\"");
        usage("credential rotate d", "--username is required");
        usage("credential history", "missing LINK");
        usage("credential import", "missing FILE");
        usage("credential import a.csv b.csv", "unexpected argument \"b.csv\"");
        usage("credential export-template now", "unexpected argument");
        usage("silence d", "silence: --for is required");
        usage("silence --for 2h", "silence: missing LINK");
        usage("silence d --for soon", "--for: expected a duration like 30m");
        usage("silence d --for 0s", "at least 1s");
        usage("silence d --for 400d", "at most 366d");
        usage("silence d --for 1h --for 2h", "--for is given more than once");
        usage("unsilence", "missing LINK");
        usage("alerts now", "unexpected argument");
        usage("--socket", "--socket needs a value");
        usage("--socket= status", "--socket: the path is empty");
        usage("--json=yes status", "--json takes no value");
        usage("--frobnicate", "unknown option \"--frobnicate\"");
}
END_TEST

START_TEST(test_username_limits) {
        char line[700] = "credential set d --username ";
        size_t n = strlen(line);
        memset(line + n, 'u', 257);
        line[n + 257] = '\0';
        usage(line, "at most 256 bytes");
        line[n + 256] = '\0';
        CtlCommand c = ok(line);
        ck_assert_uint_eq(strlen(c.username), 256);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("ctl-parse");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_every_command, test_usage_errors, test_username_limits);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
