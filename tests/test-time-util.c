/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "time-util.h"
#include "tz.h"

static Tz *la(void) {
        Tz *tz = NULL;
        ck_assert_int_eq(tz_load(NULL, "America/Los_Angeles", &tz), 0);
        return tz;
}

START_TEST(test_civil_roundtrip) {
        /* every day from 1600 to 2400 round-trips and advances by one */
        int64_t start = days_from_civil(1600, 1, 1), end = days_from_civil(2400, 12, 31);
        int64_t py = 1599;
        unsigned pm = 12, pd = 31;
        for (int64_t d = start; d <= end; d++) {
                int64_t y;
                unsigned m, dd;
                civil_from_days(d, &y, &m, &dd);
                check_loop(days_from_civil(y, m, dd) == d, "day %lld", (long long) d);
                check_loop(dd >= 1 && dd <= days_in_month(y, m), "day %lld", (long long) d);
                bool next_in_month = y == py && m == pm && dd == pd + 1;
                bool next_month = dd == 1 && pd == days_in_month(py, pm) && ((y == py && m == pm + 1) || (y == py + 1 && m == 1 && pm == 12));
                check_loop(next_in_month || next_month, "day %lld", (long long) d);
                py = y, pm = m, pd = dd;
        }
        ck_assert_int_eq(days_from_civil(1970, 1, 1), 0);
        ck_assert_int_eq(days_from_civil(2000, 3, 1), 11017);
        ck_assert(is_leap_year(2028) && is_leap_year(2000) && !is_leap_year(2100) && !is_leap_year(2027));
        ck_assert_uint_eq(days_in_month(2028, 2), 29);
        ck_assert_uint_eq(days_in_month(2027, 2), 28);
}
END_TEST

START_TEST(test_parse_duration) {
        usec_t u;
        ck_assert_int_eq(parse_duration("30s", &u), 0);
        ck_assert_uint_eq(u, 30 * USEC_PER_SEC);
        ck_assert_int_eq(parse_duration("15m", &u), 0);
        ck_assert_uint_eq(u, 15 * USEC_PER_MINUTE);
        ck_assert_int_eq(parse_duration("24h", &u), 0);
        ck_assert_uint_eq(u, USEC_PER_DAY);
        ck_assert_int_eq(parse_duration("7d", &u), 0);
        ck_assert_uint_eq(u, 7 * USEC_PER_DAY);
        ck_assert_int_eq(parse_duration("2w", &u), 0);
        ck_assert_uint_eq(u, 14 * USEC_PER_DAY);
        ck_assert_int_eq(parse_duration("1h30m", &u), 0);
        ck_assert_uint_eq(u, 90 * USEC_PER_MINUTE);
        ck_assert_int_eq(parse_duration("500ms", &u), 0);
        ck_assert_uint_eq(u, 500 * USEC_PER_MSEC);
        ck_assert_int_eq(parse_duration("365d", &u), 0);
        ck_assert_uint_eq(u, 365 * USEC_PER_DAY);
        ck_assert_int_eq(parse_duration("0s", &u), 0);
        ck_assert_uint_eq(u, 0);

        const char *bad[] = { "", "soon", "15", "m", "15 m", "-5m", "1.5h", "15M", "15min", "1h 30m", "5x", "s5" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(parse_duration(bad[i], &u) == -EINVAL, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(parse_duration("99999999999999999999s", &u), -ERANGE);
        ck_assert_int_eq(parse_duration("36526d", &u), -ERANGE);
        ck_assert_int_eq(parse_duration("18446744073709551615ms", &u), -ERANGE);
}
END_TEST

START_TEST(test_format_duration) {
        char buf[DURATION_MAX];
        ck_assert_str_eq(format_duration(buf, sizeof buf, 15 * USEC_PER_MINUTE), "15m");
        ck_assert_str_eq(format_duration(buf, sizeof buf, 90 * USEC_PER_MINUTE), "1h30m");
        ck_assert_str_eq(format_duration(buf, sizeof buf, 365 * USEC_PER_DAY), "365d");
        ck_assert_str_eq(format_duration(buf, sizeof buf, 0), "0s");
        ck_assert_str_eq(format_duration(buf, sizeof buf, 1500 * USEC_PER_MSEC), "1s500ms");
        ck_assert_str_eq(format_duration(buf, sizeof buf, USEC_INFINITY), "infinity");
        /* what is formatted parses back to the same value */
        const usec_t v[] = { USEC_PER_SEC, 7 * USEC_PER_DAY + 3 * USEC_PER_HOUR, 61 * USEC_PER_SEC, 100 * USEC_PER_MSEC };
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                usec_t u;
                ck_assert_int_eq(parse_duration(format_duration(buf, sizeof buf, v[i]), &u), 0);
                ck_assert_uint_eq(u, v[i]);
        }
}
END_TEST

START_TEST(test_parse_timestamp) {
        _cleanup_(tz_freep) Tz *tz = la();
        usec_t u;

        ck_assert_int_eq(parse_timestamp("2026-06-30T17:00:00-07:00", tz, &u), 0);
        ck_assert_uint_eq(u, 1782864000 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timestamp("2026-07-01T00:00:00Z", tz, &u), 0);
        ck_assert_uint_eq(u, 1782864000 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timestamp("2026-07-01T00:00Z", tz, &u), 0);
        ck_assert_uint_eq(u, 1782864000 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timestamp("2026-07-01T05:30:00+0530", tz, &u), 0);
        ck_assert_uint_eq(u, 1782864000 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timestamp("2026-07-01 00:00:00.25Z", tz, &u), 0);
        ck_assert_uint_eq(u, 1782864000 * USEC_PER_SEC + 250000);

        /* a date alone is local midnight in the zone: PDT in July, PST in January */
        ck_assert_int_eq(parse_timestamp("2026-07-01", tz, &u), 0);
        ck_assert_uint_eq(u, (1782864000 + 7 * 3600) * USEC_PER_SEC);
        ck_assert_int_eq(parse_timestamp("2027-01-15", tz, &u), 0);
        ck_assert_uint_eq(u, (usec_t) (days_from_civil(2027, 1, 15) * 86400 + 8 * 3600) * USEC_PER_SEC);
        ck_assert_int_eq(parse_timestamp("2028-02-29", tz, &u), 0);

        ck_assert_int_eq(parse_timestamp("2026-07-01T10:00:00", tz, &u), -EADDRNOTAVAIL);
        ck_assert_int_eq(parse_timestamp("2027-02-29", tz, &u), -ERANGE);
        ck_assert_int_eq(parse_timestamp("2026-13-01", tz, &u), -ERANGE);
        ck_assert_int_eq(parse_timestamp("2026-06-31", tz, &u), -ERANGE);
        ck_assert_int_eq(parse_timestamp("2026-07-01T24:00:00Z", tz, &u), -ERANGE);
        ck_assert_int_eq(parse_timestamp("1969-12-31T00:00:00Z", tz, &u), -ERANGE);
        const char *bad[] = { "", "tomorrow", "2026-7-1", "2026/07/01", "2026-07-01T", "2026-07-01T10",
                              "2026-07-01T10:00:00+7", "2026-07-01T10:00:00 UTC", "2026-07-01x", "20260701",
                              "2026-07-01T10:00:00.Z", "2026-07-01T10:00:00-07:00junk" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(parse_timestamp(bad[i], tz, &u) == -EINVAL, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_format_timestamp) {
        _cleanup_(tz_freep) Tz *tz = la();
        _cleanup_(tz_freep) Tz *utc = NULL;
        char buf[TIMESTAMP_MAX];
        ck_assert_int_eq(tz_load(NULL, "UTC", &utc), 0);

        usec_t t = 1782864000 * USEC_PER_SEC;
        ck_assert_str_eq(format_timestamp(buf, sizeof buf, tz, t), "2026-06-30T17:00:00-07:00");
        ck_assert_str_eq(format_timestamp(buf, sizeof buf, utc, t), "2026-07-01T00:00:00Z");
        ck_assert_str_eq(format_date(buf, sizeof buf, tz, t), "2026-06-30");
        ck_assert_str_eq(format_date(buf, sizeof buf, utc, t), "2026-07-01");
        /* and back */
        usec_t u;
        ck_assert_int_eq(parse_timestamp(format_timestamp(buf, sizeof buf, tz, t), tz, &u), 0);
        ck_assert_uint_eq(u, t);
        ck_assert_str_eq(format_timestamp(buf, sizeof buf, tz, 1800000000 * USEC_PER_SEC), "2027-01-15T00:00:00-08:00");

        /* an offset with seconds (Africa/Monrovia until 1972) has no ISO 8601
         * form: UTC names the same instant */
        _cleanup_(tz_freep) Tz *lmt = NULL;
        ck_assert_int_eq(tz_load_from_rule("MMT", "<-0044>0:44:30", &lmt), 0);
        ck_assert_int_eq(tz_utoff(lmt, 0), -2670);
        ck_assert_str_eq(format_timestamp(buf, sizeof buf, lmt, 0), "1970-01-01T00:00:00Z");
        ck_assert_str_eq(format_timestamp(buf, sizeof buf, lmt, t), "2026-07-01T00:00:00Z");
        ck_assert_int_eq(parse_timestamp(format_timestamp(buf, sizeof buf, lmt, t + 59 * USEC_PER_SEC), NULL, &u), 0);
        ck_assert_uint_eq(u, t + 59 * USEC_PER_SEC);
        ck_assert_str_eq(format_date(buf, sizeof buf, lmt, t), "2026-06-30");
        /* nor one of a day or more, which a POSIX rule can give */
        _cleanup_(tz_freep) Tz *far = NULL;
        ck_assert_int_eq(tz_load_from_rule("FAR", "<+2430>-24:30", &far), 0);
        ck_assert_str_eq(format_timestamp(buf, sizeof buf, far, t), "2026-07-01T00:00:00Z");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("time-util");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_civil_roundtrip, test_parse_duration, test_format_duration, test_parse_timestamp,
                  test_format_timestamp);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
