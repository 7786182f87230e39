/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* libcurl's multi-socket API driven by an sd-event loop (after systemd's
 * src/import/curl-util.c): every transfer of the process runs in one
 * thread, and the loop sleeps until a socket is ready or curl's timer is
 * due. Probes and mail delivery share one CurlGlue, and with it libcurl's
 * connection cache and CA-store cache. */

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct CurlGlue CurlGlue;

/* Called when a transfer ends. The handle is still attached; the callback
 * normally calls curl_glue_remove() and frees it. CURLOPT_PRIVATE of each
 * easy handle is the place for the caller's per-transfer data. */
typedef void (*CurlGlueFinished)(CurlGlue *g, CURL *easy, CURLcode result, void *userdata);

int curl_glue_new(sd_event *event, CurlGlueFinished on_finished, void *userdata, CurlGlue **ret);
CurlGlue *curl_glue_free(CurlGlue *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(CurlGlue *, curl_glue_free);

CURLM *curl_glue_multi(CurlGlue *g);
sd_event *curl_glue_event(CurlGlue *g);
int curl_glue_add(CurlGlue *g, CURL *easy);
/* Attaches a transfer whose end is reported to its own callback (with its
 * own userdata) instead of the glue's, so that several modules (probes,
 * mail) share one glue and with it one connection and CA-store cache. */
int curl_glue_add_with(CurlGlue *g, CURL *easy, CurlGlueFinished on_finished, void *userdata);
/* Detaches a transfer (finished or not); the caller frees it. */
void curl_glue_remove(CurlGlue *g, CURL *easy);
/* Transfers currently attached. */
unsigned curl_glue_n_running(CurlGlue *g);

/* curl_global_init() once per process; safe to call repeatedly. */
int curl_glue_global_init(void);
