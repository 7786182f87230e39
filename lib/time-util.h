/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Time values, durations and ISO 8601 timestamps. All times are usec_t:
 * microseconds since the Unix epoch for wall-clock values, or since an
 * arbitrary point for monotonic/boottime ones. */

#include <time.h>

#include "macro.h"

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY (24ULL * USEC_PER_HOUR)
#define USEC_PER_WEEK (7ULL * USEC_PER_DAY)

/* Latest timestamp we accept anywhere: 9999-12-31T23:59:59Z. */
#define TIMESTAMP_MAX_SEC INT64_C(253402300799)

typedef struct Tz Tz;

usec_t now_usec(clockid_t clock);
usec_t timespec_load(const struct timespec *ts);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t days, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d);
bool is_leap_year(int64_t y);
unsigned days_in_month(int64_t y, unsigned m);

/* "30s", "15m", "24h", "7d", "2w", "500ms", or combinations like "1h30m".
 * Returns -EINVAL on a malformed string, -ERANGE on overflow. */
int parse_duration(const char *s, usec_t *ret);
/* The shortest exact rendering with the units above ("15m", "1h30m", "0s"). */
char *format_duration(char *buf, size_t n, usec_t d);
#define DURATION_MAX 64

/* ISO 8601 with an explicit offset ("2026-06-30T17:00:00-07:00",
 * "2026-06-30T17:00Z", fractional seconds allowed) or a date alone
 * ("2026-07-01"), which means local midnight in tz. A date and time
 * without an offset is refused (-EADDRNOTAVAIL) because it is ambiguous.
 * Returns -EINVAL on a malformed string, -ERANGE out of range. */
int parse_timestamp(const char *s, const Tz *tz, usec_t *ret);
/* The local time of t in tz for a text with a UTC offset in hours and
 * minutes: in UTC when the zone's offset at t has seconds or is a day or
 * more. */
typedef struct TzTime TzTime;
void localtime_for_offset(const Tz *tz, usec_t t, TzTime *ret);
/* "2027-03-01T10:00:00-08:00" in tz (see localtime_for_offset()) */
char *format_timestamp(char *buf, size_t n, const Tz *tz, usec_t t);
/* "2027-03-01" in tz */
char *format_date(char *buf, size_t n, const Tz *tz, usec_t t);
#define TIMESTAMP_MAX 40
