/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The journal sink: every alert as one structured journal entry, with the
 * MESSAGE_ID of its kind (see alert.h and packaging/tomslink.catalog), a
 * PRIORITY by severity and the TOMSLINK_* fields of tomslinkd(8). */

#include <stdio.h>

#include "alert.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Whether a journal socket exists to send to. */
bool journal_available(void);

/* Sends an alert. summary is alert_summary()'s text; cds_code may be NULL.
 * Returns 0, or a negative errno when the journal cannot be reached (no
 * journald): the caller then falls back to journal_fallback_alert(). */
int journal_send_alert(const Alert *a, const char *summary, const Tz *tz, const char *cds_code);
/* One line for stderr, with the "<N>" priority prefix systemd understands. */
void journal_fallback_alert(FILE *f, const Alert *a, const char *summary);
