/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "build-config.h"
#include "config.h"
#include "strv.h"

#define DEFAULT_CONFIG TOMSLINK_SYSCONFDIR "/tomslink/tomslink.yaml"

static const char *arg_config = DEFAULT_CONFIG;
static bool arg_check_config = false;

static void help(void) {
        printf("Usage: tomslinkd [OPTIONS]\n\n"
               "Watches TOMS SIS vendor credentials: expiry, endpoint probes, alerts.\n\n"
               "  -c --config=PATH    configuration file (default %s)\n"
               "     --check-config   validate the configuration, print a summary and exit\n"
               "                      (0 when valid, 78 with every error listed when not)\n"
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
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
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

int main(int argc, char *argv[]) {
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EX_USAGE : EXIT_SUCCESS;
        if (arg_check_config)
                return check_config();
        fprintf(stderr, "tomslinkd: the service loop is not built yet; use --check-config\n");
        return EXIT_FAILURE;
}
