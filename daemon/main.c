/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "config.h"
#include "daemon-log.h"
#include "manager.h"
#include "strv.h"

#define DEFAULT_CONFIG TOMSLINK_SYSCONFDIR "/tomslink/tomslink.yaml"

static const char *arg_config = DEFAULT_CONFIG;
static bool arg_check_config = false;
static bool arg_debug = false;

static void help(void) {
        printf("Usage: tomslinkd [OPTIONS]\n\n"
               "Watches TOMS SIS vendor credentials: expiry, endpoint probes, alerts.\n\n"
               "  -c --config=PATH    configuration file (default %s)\n"
               "     --check-config   validate the configuration, print a summary and exit\n"
               "                      (0 when valid, 78 with every error listed when not)\n"
               "  -d --debug          log debug messages too\n"
               "  -h --help           show this help\n"
               "     --version        show the version\n\n"
               "See tomslinkd(8) and tomslink.yaml(5).\n",
               DEFAULT_CONFIG);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_CHECK_CONFIG };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "debug", no_argument, NULL, 'd' },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "hc:d", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("tomslinkd %s\n", TOMSLINK_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case 'd':
                        arg_debug = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "tomslinkd: unexpected argument \"%s\" (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int check_config(void) {
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r = config_load_file(arg_config, NULL, &config, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "%s\n", *e);
                if (!errors)
                        fprintf(stderr, "%s: %s\n", arg_config, strerror(-r));
                size_t n = strv_length(errors);
                fprintf(stderr, "configuration invalid: %zu error%s\n", n, n == 1 ? "" : "s");
                return EX_CONFIG;
        }
        _cleanup_free_ char *summary = config_summary(config);
        printf("configuration OK\n%s\n", summary ?: "");
        return EXIT_SUCCESS;
}

/* Secrets pass through this process's memory: no core dumps, no ptrace
 * by other processes of the same user. */
static void harden_process(void) {
        struct rlimit no_core = {};
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void) setrlimit(RLIMIT_CORE, &no_core);
        umask(0077);
}

static int run(void) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        Config *config = NULL;
        sigset_t mask;
        int r;

        r = config_load_file(arg_config, NULL, &config, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        log_error("%s", *e);
                (void) sd_notifyf(false, "STATUS=Invalid configuration %s (%zu errors)", arg_config, strv_length(errors));
                return EX_CONFIG;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = manager_new(arg_config, config, &m);
        if (r < 0) {
                config_free(config);
                log_error_errno(r, "Cannot start");
                return EXIT_FAILURE;
        }
        r = manager_start(m);
        if (r < 0) {
                (void) sd_notifyf(false, "STATUS=Failed to start: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        _cleanup_free_ char *summary = config_summary(m->config);
        log_info("tomslinkd %s started: %s; state in %s", TOMSLINK_VERSION, summary ?: "", m->state_directory);
        r = manager_run(m);
        if (r < 0) {
                log_error_errno(r, "Event loop failed");
                return EXIT_FAILURE;
        }
        log_info("Stopped");
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EX_USAGE : EXIT_SUCCESS;
        if (arg_check_config)
                return check_config();
        harden_process();
        daemon_log_setup(arg_debug);
        return run();
}
