/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Time zones from the system's TZif database (RFC 8536), without touching
 * the process-wide TZ: each Tz is an immutable object, so several zones can
 * be used at once and tests can pick any zone. */

#include "time-util.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"

typedef struct TzTime {
        int64_t year;
        unsigned month;  /* 1..12 */
        unsigned day;    /* 1..31 */
        unsigned hour, minute, second;
        unsigned wday;   /* 0 = Sunday */
        int32_t utoff;   /* seconds east of UTC */
        bool isdst;
        const char *abbr;
} TzTime;

/* Loads a zone by IANA name ("America/Los_Angeles"), "UTC", or, for NULL
 * or "", the system zone in /etc/localtime. Returns -EINVAL for a
 * malformed name, -ENOENT for an unknown zone, -EBADMSG for a damaged
 * file. dir NULL means TZ_DEFAULT_DIR. */
int tz_load(const char *dir, const char *name, Tz **ret);
/* Parses TZif data held in memory. */
int tz_load_from_data(const char *name, const void *data, size_t size, Tz **ret);
/* A zone from a POSIX TZ rule string alone, e.g. "PST8PDT,M3.2.0,M11.1.0". */
int tz_load_from_rule(const char *name, const char *rule, Tz **ret);
Tz *tz_free(Tz *tz);
DEFINE_TRIVIAL_CLEANUP_FUNC(Tz *, tz_free);

const char *tz_name(const Tz *tz);
bool tz_name_is_valid(const char *name);

/* UTC offset in seconds east, at Unix time t (seconds). */
int32_t tz_utoff(const Tz *tz, int64_t t);
/* Local civil time at Unix time t (seconds). */
void tz_localtime(const Tz *tz, int64_t t, TzTime *ret);
/* Local calendar day number (days since 1970-01-01 in local dates). */
int64_t tz_day_number(const Tz *tz, int64_t t);
/* The first instant (Unix seconds) of a local calendar date; where midnight
 * does not exist (a DST gap), the first instant after the gap. */
int64_t tz_day_start(const Tz *tz, int64_t y, unsigned m, unsigned d);
/* The Unix time of a local date and time; for a time in a gap, the instant
 * after the gap; for an ambiguous time, the earlier instant. */
int64_t tz_mktime(const Tz *tz, int64_t y, unsigned m, unsigned d, unsigned hh, unsigned mm, unsigned ss);
