/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Not a test: the memory floor of tomslinkd's libraries, for
 * tests/bench/daemon-scale. Loads and initialises the shared libraries
 * tomslinkd links (libcurl with its TLS and other back-ends, OpenSSL,
 * libsystemd, SQLite, libyaml, json-c) the way tomslinkd starts them, then
 * waits for SIGTERM; the caller reads its VmRSS. What tomslinkd's RSS has
 * above this is tomslinkd's own. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <systemd/sd-event.h>
#include <unistd.h>
#include <yaml.h>

int main(void) {
        sd_event *e = NULL;
        yaml_parser_t parser;
        sigset_t ss;
        int sig;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || OPENSSL_init_ssl(0, NULL) != 1 ||
            sqlite3_initialize() != SQLITE_OK || sd_event_default(&e) < 0 || !yaml_parser_initialize(&parser)) {
                fprintf(stderr, "bench-floor: a library did not initialise\n");
                return 1;
        }
        json_object_put(json_object_new_object());
        CURLM *multi = curl_multi_init();
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        printf("ready\n");
        fflush(stdout);
        sigwait(&ss, &sig);
        curl_multi_cleanup(multi);
        yaml_parser_delete(&parser);
        sd_event_unref(e);
        curl_global_cleanup();
        return 0;
}
