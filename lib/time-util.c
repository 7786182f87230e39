/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "time-util.h"

#include <stdio.h>

#include "tz.h"

usec_t timespec_load(const struct timespec *ts) {
        return (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / 1000;
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;
        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return timespec_load(&ts);
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned) (z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = (int64_t) yoe + era * 400;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1;
        unsigned m = mp < 10 ? mp + 3 : mp - 9;
        *ret_y = y + (m <= 2);
        *ret_m = m;
        *ret_d = d;
}

bool is_leap_year(int64_t y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
        static const unsigned dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (m < 1 || m > 12)
                return 0;
        return dim[m - 1] + (m == 2 && is_leap_year(y));
}

static const struct {
        const char *suffix;
        usec_t usec;
} duration_units[] = {
        /* longest suffix first where one is a prefix of another */
        { "ms", USEC_PER_MSEC },
        { "w", USEC_PER_WEEK },
        { "d", USEC_PER_DAY },
        { "h", USEC_PER_HOUR },
        { "m", USEC_PER_MINUTE },
        { "s", USEC_PER_SEC },
};

int parse_duration(const char *s, usec_t *ret) {
        usec_t total = 0;
        const char *p = s;

        if (isempty(s))
                return -EINVAL;
        while (*p) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                uint64_t v = 0;
                while (*p >= '0' && *p <= '9') {
                        if (v > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        v = v * 10 + (uint64_t) (*p++ - '0');
                }
                size_t i;
                for (i = 0; i < ELEMENTSOF(duration_units); i++)
                        if (strneq(p, duration_units[i].suffix, strlen(duration_units[i].suffix)))
                                break;
                if (i >= ELEMENTSOF(duration_units))
                        return -EINVAL;
                p += strlen(duration_units[i].suffix);
                if (v > (USEC_INFINITY - 1) / duration_units[i].usec)
                        return -ERANGE;
                v *= duration_units[i].usec;
                if (v > USEC_INFINITY - 1 - total)
                        return -ERANGE;
                total += v;
        }
        /* more than 100 years is a typo, not a duration */
        if (total > 36525 * USEC_PER_DAY)
                return -ERANGE;
        *ret = total;
        return 0;
}

char *format_duration(char *buf, size_t n, usec_t d) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "m", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC },
        };
        size_t off = 0;
        if (n == 0)
                return buf;
        buf[0] = '\0';
        if (d == USEC_INFINITY) {
                snprintf(buf, n, "infinity");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(units) && d > 0; i++) {
                if (d < units[i].usec)
                        continue;
                usec_t v = d / units[i].usec;
                d -= v * units[i].usec;
                int k = snprintf(buf + off, n - off, "%llu%s", (unsigned long long) v, units[i].suffix);
                if (k < 0 || (size_t) k >= n - off)
                        break;
                off += (size_t) k;
        }
        if (off == 0)
                snprintf(buf, n, d > 0 ? "%lluus" : "0s", (unsigned long long) d);
        return buf;
}

static const char *parse_digits(const char *p, unsigned n, unsigned *ret) {
        unsigned v = 0;
        for (unsigned i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return NULL;
                v = v * 10 + (unsigned) (p[i] - '0');
        }
        *ret = v;
        return p + n;
}

int parse_timestamp(const char *s, const Tz *tz, usec_t *ret) {
        unsigned y, mo, d, h = 0, mi = 0, sec = 0, usec = 0;
        const char *p = s;

        if (!s || !(p = parse_digits(p, 4, &y)) || *p++ != '-' || !(p = parse_digits(p, 2, &mo)) ||
            *p++ != '-' || !(p = parse_digits(p, 2, &d)))
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
                return -ERANGE;

        if (*p == '\0') {
                /* a date alone: local midnight in tz */
                int64_t t = tz_day_start(tz, y, mo, d);
                if (t < 0 || t > TIMESTAMP_MAX_SEC)
                        return -ERANGE;
                *ret = (usec_t) t * USEC_PER_SEC;
                return 0;
        }
        if (*p != 'T' && *p != 't' && *p != ' ')
                return -EINVAL;
        p++;
        if (!(p = parse_digits(p, 2, &h)) || *p++ != ':' || !(p = parse_digits(p, 2, &mi)))
                return -EINVAL;
        if (*p == ':') {
                if (!(p = parse_digits(p + 1, 2, &sec)))
                        return -EINVAL;
                if (*p == '.' || *p == ',') {
                        p++;
                        unsigned digits = 0;
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        for (; *p >= '0' && *p <= '9'; p++, digits++)
                                if (digits < 6)
                                        usec = usec * 10 + (unsigned) (*p - '0');
                        for (; digits < 6; digits++)
                                usec *= 10;
                }
        }
        if (h > 23 || mi > 59 || sec > 60)
                return -ERANGE;
        if (sec == 60)
                sec = 59;   /* a leap second: clamp, as POSIX time cannot hold it */

        int32_t off;
        if (*p == 'Z' || *p == 'z') {
                off = 0;
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1;
                unsigned oh, om = 0;
                if (!(p = parse_digits(p, 2, &oh)))
                        return -EINVAL;
                if (*p == ':')
                        p++;
                if (*p && !(p = parse_digits(p, 2, &om)))
                        return -EINVAL;
                if (oh > 23 || om > 59)
                        return -ERANGE;
                off = sign * (int32_t) (oh * 3600 + om * 60);
        } else if (*p == '\0')
                return -EADDRNOTAVAIL;   /* no offset: ambiguous */
        else
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;

        int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
        if (t < 0 || t > TIMESTAMP_MAX_SEC)
                return -ERANGE;
        *ret = (usec_t) t * USEC_PER_SEC + usec;
        return 0;
}

/* The fields of UTC time at t (Unix seconds, not negative). */
static void utc_time(int64_t t, TzTime *ret) {
        int64_t days = t / 86400, rest = t % 86400;
        *ret = (TzTime) {
                .hour = (unsigned) (rest / 3600),
                .minute = (unsigned) (rest / 60 % 60),
                .second = (unsigned) (rest % 60),
                .wday = (unsigned) ((days % 7 + 4) % 7),   /* 1970-01-01 was a Thursday */
                .abbr = "UTC",
        };
        civil_from_days(days, &ret->year, &ret->month, &ret->day);
}

void localtime_for_offset(const Tz *tz, usec_t t, TzTime *ret) {
        tz_localtime(tz, (int64_t) (t / USEC_PER_SEC), ret);
        /* An offset written as hours and minutes cannot hold seconds, nor 24
         * hours or more: a zone whose offset has seconds (local mean time;
         * Africa/Monrovia until 1972), or a made-up one beyond a day, is
         * shown in UTC, so that the text names the same instant. */
        if (ret->utoff % 60 != 0 || ret->utoff <= -24 * 3600 || ret->utoff >= 24 * 3600)
                utc_time((int64_t) (t / USEC_PER_SEC), ret);
}

char *format_timestamp(char *buf, size_t n, const Tz *tz, usec_t t) {
        TzTime lt;
        localtime_for_offset(tz, t, &lt);
        int32_t off = lt.utoff < 0 ? -lt.utoff : lt.utoff;
        if (lt.utoff == 0)
                snprintf(buf, n, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long) lt.year, lt.month,
                         lt.day, lt.hour, lt.minute, lt.second);
        else
                snprintf(buf, n, "%04lld-%02u-%02uT%02u:%02u:%02u%c%02d:%02d", (long long) lt.year,
                         lt.month, lt.day, lt.hour, lt.minute, lt.second, lt.utoff < 0 ? '-' : '+',
                         off / 3600, off / 60 % 60);
        return buf;
}

char *format_date(char *buf, size_t n, const Tz *tz, usec_t t) {
        TzTime lt;
        tz_localtime(tz, (int64_t) (t / USEC_PER_SEC), &lt);
        snprintf(buf, n, "%04lld-%02u-%02u", (long long) lt.year, lt.month, lt.day);
        return buf;
}
