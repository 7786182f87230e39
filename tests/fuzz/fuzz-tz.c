/* SPDX-License-Identifier: GPL-2.0-or-later */

/* Time zones: the TZif parser (tz_load_from_data()), for the zone files
 * read at start, and the POSIX TZ rules (tz_load_from_rule(), also the
 * footer of a TZif file). Input: TZif data when it starts with "TZif",
 * else a rule string, which is also checked as a zone name.
 *
 * Invariants, at a set of instants (fixed ones and around the file's
 * transitions): the UTC offset is within 26 hours; the local time is a
 * valid date and time that is exactly the instant plus its offset, with
 * the right weekday and day number; converting the local time back lands
 * within the offsets' reach of the instant; a timestamp formatted in the
 * zone parses back to the same second (the protocol sends times this
 * way); a valid zone name has no "." or ".." component and is relative. */

#include "fuzz.h"
#include "tz.h"

#define OFFSET_MAX (26 * 3600)

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static void check_instant(const Tz *tz, int64_t t) {
        int32_t off = tz_utoff(tz, t);
        FUZZ_CHECK(off >= -OFFSET_MAX && off <= OFFSET_MAX, "offset %d at %lld", off, (long long) t);

        TzTime lt;
        tz_localtime(tz, t, &lt);
        FUZZ_CHECK(lt.utoff == off, "localtime offset %d, utoff %d", lt.utoff, off);
        FUZZ_CHECK(lt.month >= 1 && lt.month <= 12 && lt.day >= 1 && lt.day <= days_in_month(lt.year, lt.month) &&
                           lt.hour < 24 && lt.minute < 60 && lt.second < 60 && lt.wday < 7,
                   "%lld-%u-%u %u:%u:%u wday %u", (long long) lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second,
                   lt.wday);
        FUZZ_CHECK(lt.abbr && strlen(lt.abbr) < 16, "abbreviation");
        int64_t days = days_from_civil(lt.year, lt.month, lt.day);
        int64_t local = days * 86400 + lt.hour * 3600 + lt.minute * 60 + lt.second;
        FUZZ_CHECK(local == t + off, "local time %lld is not %lld + %d", (long long) local, (long long) t, off);
        FUZZ_CHECK(lt.wday == (unsigned) (((days % 7) + 7 + 4) % 7), "weekday");
        FUZZ_CHECK(tz_day_number(tz, t) == floor_div(t + off, 86400), "day number");

        int64_t back = tz_mktime(tz, lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second);
        FUZZ_CHECK(back >= t - 2 * OFFSET_MAX && back <= t + 2 * OFFSET_MAX, "mktime %lld for %lld", (long long) back,
                   (long long) t);
        int64_t start = tz_day_start(tz, lt.year, lt.month, lt.day);
        FUZZ_CHECK(start >= local - 2 * OFFSET_MAX - 86400 && start <= local + 2 * OFFSET_MAX, "day start");

        if (t >= 0 && t <= TIMESTAMP_MAX_SEC && lt.year <= 9999) {   /* four digits */
                char buf[TIMESTAMP_MAX];
                usec_t u;
                format_timestamp(buf, sizeof buf, tz, (usec_t) t * USEC_PER_SEC);
                int r = parse_timestamp(buf, NULL, &u);
                FUZZ_CHECK(r == 0 && u == (usec_t) t * USEC_PER_SEC, "%lld formatted as %s parses as %d %llu",
                           (long long) t, buf, r, (unsigned long long) u);
        }
}

static void check_zone(const Tz *tz, const int64_t *extra, size_t n_extra) {
        static const int64_t fixed[] = {
                INT32_MIN, -86401, -1, 0, 1, 86399, 1000000000, 1700000000, 1710054000, 1730624400,
                1750000000, 1782900000, 2000000000, INT32_MAX, 4102444800, 10000000000, TIMESTAMP_MAX_SEC,
        };
        FUZZ_CHECK(tz_name(tz), "no name");
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                check_instant(tz, fixed[i]);
        for (size_t i = 0; i < n_extra; i++)
                for (int64_t d = -1; d <= 1; d++)
                        check_instant(tz, extra[i] + d);
        /* a year in steps of about a week, in the rule's reach */
        for (int64_t t = 1767225600; t < 1767225600 + 366 * 86400; t += 7 * 86400 + 3607)
                check_instant(tz, t);
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Some transition times of the file's first block, to look around. */
static size_t some_transitions(const uint8_t *data, size_t size, int64_t *ret, size_t max) {
        size_t n = 0;
        if (size < 44)
                return 0;
        uint32_t timecnt = be32(data + 32);
        for (size_t i = 0; i < timecnt && n < max && 44 + 4 * (i + 1) <= size; i++)
                if (i < max / 2 || i + max / 2 >= timecnt)
                        ret[n++] = (int32_t) be32(data + 44 + 4 * i);
        return n;
}

static void check_name(const char *s) {
        if (!tz_name_is_valid(s))
                return;
        FUZZ_CHECK(s[0] != '/' && !strstr(s, "//") && !strstr(s, "/./") && !strstr(s, "/../") &&
                           !strneq(s, "./", 2) && !strneq(s, "../", 3) && !streq(s, ".") && !streq(s, ".."),
                   "zone name %s is valid", s);
        size_t n = strlen(s);
        FUZZ_CHECK(n <= 255 && s[n - 1] != '/' && !(n >= 2 && streq(s + n - 2, "/.")) &&
                           !(n >= 3 && streq(s + n - 3, "/..")),
                   "zone name %s is valid", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Tz *tz = NULL;
        int r;

        if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
                int64_t extra[64];
                r = tz_load_from_data("fuzz", data, size, &tz);
                FUZZ_CHECK(r == 0 || r == -EBADMSG, "tz_load_from_data: %d", r);
                if (r == 0) {
                        FUZZ_CHECK(streq(tz_name(tz), "fuzz"), "name");
                        check_zone(tz, extra, some_transitions(data, size, extra, ELEMENTSOF(extra)));
                }
        } else {
                char *s = fuzz_strndup(data, size);
                check_name(s);
                r = tz_load_from_rule("fuzz", s, &tz);
                FUZZ_CHECK(r == 0 || r == -EINVAL, "tz_load_from_rule: %d", r);
                if (r == 0)
                        check_zone(tz, NULL, 0);
                free(s);
        }
        tz_free(tz);
        return 0;
}
