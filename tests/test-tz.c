/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <time.h>

#include "tests.h"
#include "tz.h"

/* Zones with every kind of rule: northern and southern DST, half-hour and
 * 45-minute offsets, negative DST (Dublin), transitions at midnight
 * (Santiago, Havana), permanent-DST rule strings (Casablanca's footer). */
static const char *const zones[] = {
        "America/Los_Angeles", "America/New_York", "Europe/London",   "Europe/Dublin",
        "Australia/Sydney",    "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns",
        "Pacific/Chatham",     "America/Santiago", "America/Havana",  "Africa/Casablanca",
        "Asia/Tokyo",          "America/Phoenix",  "UTC",             "Pacific/Kiritimati",
};

/* glibc's answer, the reference */
static void libc_localtime(int64_t t, struct tm *ret) {
        time_t tt = (time_t) t;
        check_loop(localtime_r(&tt, ret), "localtime_r failed");
}

START_TEST(test_matches_libc) {
        /* every 7h13m from 1975 to 2060 (beyond 2037 the TZif footer rule decides) */
        for (size_t z = 0; z < ELEMENTSOF(zones); z++) {
                _cleanup_(tz_freep) Tz *tz = NULL;
                ck_assert_int_eq(tz_load(NULL, zones[z], &tz), 0);
                ck_assert_str_eq(tz_name(tz), zones[z]);
                setenv("TZ", zones[z], 1);
                tzset();
                for (int64_t t = 157766400; t < 2871763200; t += 7 * 3600 + 13 * 60) {
                        struct tm tm;
                        TzTime lt;
                        libc_localtime(t, &tm);
                        tz_localtime(tz, t, &lt);
                        check_loop(lt.utoff == tm.tm_gmtoff && lt.year == tm.tm_year + 1900 &&
                                              lt.month == (unsigned) tm.tm_mon + 1 && lt.day == (unsigned) tm.tm_mday &&
                                              lt.hour == (unsigned) tm.tm_hour && lt.minute == (unsigned) tm.tm_min &&
                                              lt.wday == (unsigned) tm.tm_wday && lt.isdst == (tm.tm_isdst > 0),
                                      "%s at %lld: ours %lld-%02u-%02u %02u:%02u off %d dst %d, libc %d-%02d-%02d %02d:%02d off %ld dst %d",
                                      zones[z], (long long) t, (long long) lt.year, lt.month, lt.day, lt.hour, lt.minute,
                                      lt.utoff, lt.isdst, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                      tm.tm_min, tm.tm_gmtoff, tm.tm_isdst);
                        check_loop(streq(lt.abbr, tm.tm_zone), "%s at %lld: abbreviation %s, libc %s", zones[z],
                                   (long long) t, lt.abbr, tm.tm_zone);
                }
        }
}
END_TEST

START_TEST(test_day_start) {
        /* The first instant of each local day is a local midnight (or the end
         * of a gap at midnight), and the instant before it is on the previous
         * local day: checked for every day 2020..2040 in every zone. */
        for (size_t z = 0; z < ELEMENTSOF(zones); z++) {
                _cleanup_(tz_freep) Tz *tz = NULL;
                ck_assert_int_eq(tz_load(NULL, zones[z], &tz), 0);
                for (int64_t d = days_from_civil(2020, 1, 1); d < days_from_civil(2040, 1, 1); d++) {
                        int64_t y;
                        unsigned m, dd;
                        civil_from_days(d, &y, &m, &dd);
                        int64_t t = tz_day_start(tz, y, m, dd);
                        check_loop(tz_day_number(tz, t) == d, "%s %lld-%u-%u", zones[z], (long long) y, m, dd);
                        check_loop(tz_day_number(tz, t - 1) == d - 1, "%s %lld-%u-%u", zones[z], (long long) y, m, dd);
                }
        }
}
END_TEST

START_TEST(test_dst_days) {
        _cleanup_(tz_freep) Tz *tz = NULL;
        ck_assert_int_eq(tz_load(NULL, "America/Los_Angeles", &tz), 0);
        /* 2027-03-14 has 23 hours, 2027-11-07 has 25 */
        ck_assert_int_eq(tz_day_start(tz, 2027, 3, 15) - tz_day_start(tz, 2027, 3, 14), 23 * 3600);
        ck_assert_int_eq(tz_day_start(tz, 2027, 11, 8) - tz_day_start(tz, 2027, 11, 7), 25 * 3600);
        ck_assert_int_eq(tz_day_start(tz, 2027, 6, 2) - tz_day_start(tz, 2027, 6, 1), 24 * 3600);
        /* 02:30 on the spring-forward day does not exist: the instant after the gap (03:00 PDT) */
        int64_t t = tz_mktime(tz, 2027, 3, 14, 2, 30, 0);
        TzTime lt;
        tz_localtime(tz, t, &lt);
        ck_assert_uint_eq(lt.hour, 3);
        ck_assert_uint_eq(lt.minute, 0);
        ck_assert(lt.isdst);
        /* 01:30 on the fall-back day happens twice: the earlier one (PDT) */
        t = tz_mktime(tz, 2027, 11, 7, 1, 30, 0);
        tz_localtime(tz, t, &lt);
        ck_assert_uint_eq(lt.hour, 1);
        ck_assert(lt.isdst);
        tz_localtime(tz, t + 3600, &lt);
        ck_assert_uint_eq(lt.hour, 1);
        ck_assert(!lt.isdst);

        /* Santiago skips midnight: the day starts at 01:00 */
        _cleanup_(tz_freep) Tz *scl = NULL;
        ck_assert_int_eq(tz_load(NULL, "America/Santiago", &scl), 0);
        t = tz_day_start(scl, 2027, 9, 5);
        tz_localtime(scl, t, &lt);
        ck_assert_uint_eq(lt.day, 5);
        ck_assert_uint_eq(lt.hour, 1);
}
END_TEST

START_TEST(test_mktime_matches_libc) {
        _cleanup_(tz_freep) Tz *tz = NULL;
        ck_assert_int_eq(tz_load(NULL, "Europe/London", &tz), 0);
        setenv("TZ", "Europe/London", 1);
        tzset();
        for (int64_t d = days_from_civil(2024, 1, 1); d < days_from_civil(2030, 1, 1); d += 3) {
                int64_t y;
                unsigned m, dd;
                civil_from_days(d, &y, &m, &dd);
                struct tm tm = { .tm_year = (int) y - 1900, .tm_mon = (int) m - 1, .tm_mday = (int) dd,
                                 .tm_hour = 12, .tm_isdst = -1 };
                ck_assert_int_eq(tz_mktime(tz, y, m, dd, 12, 0, 0), (int64_t) mktime(&tm));
        }
}
END_TEST

START_TEST(test_names) {
        ck_assert(tz_name_is_valid("America/Los_Angeles"));
        ck_assert(tz_name_is_valid("UTC"));
        ck_assert(tz_name_is_valid("Etc/GMT+8"));
        const char *bad[] = { "", "/etc/passwd", "../../etc/passwd", "America/../../etc", "a//b", "a/",
                              ".hidden", "America/.x", "Los Angeles", "x\ny" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!tz_name_is_valid(bad[i]), "accepted \"%s\"", bad[i]);

        Tz *tz = NULL;
        ck_assert_int_eq(tz_load(NULL, "Mars/Olympus_Mons", &tz), -ENOENT);
        ck_assert_int_eq(tz_load(NULL, "America", &tz), -ENOENT);   /* a directory */
        ck_assert_int_eq(tz_load(NULL, "../../etc/passwd", &tz), -EINVAL);
        ck_assert_ptr_null(tz);
        /* UTC works even without a zone database */
        ck_assert_int_eq(tz_load("/nonexistent", "UTC", &tz), 0);
        ck_assert_int_eq(tz_utoff(tz, 1800000000), 0);
        tz_free(tz);
        /* the system zone */
        ck_assert_int_eq(tz_load(NULL, NULL, &tz), 0);
        ck_assert_ptr_nonnull(tz_name(tz));
        tz_free(tz);
}
END_TEST

START_TEST(test_rules) {
        _cleanup_(tz_freep) Tz *tz = NULL;
        ck_assert_int_eq(tz_load_from_rule("x", "PST8PDT,M3.2.0,M11.1.0", &tz), 0);
        ck_assert_int_eq(tz_utoff(tz, 1800000000), -8 * 3600);             /* January */
        ck_assert_int_eq(tz_utoff(tz, 1800000000 + 180 * 86400), -7 * 3600); /* July */
        tz = tz_free(tz);
        ck_assert_int_eq(tz_load_from_rule("x", "<+0530>-5:30", &tz), 0);
        ck_assert_int_eq(tz_utoff(tz, 0), 5 * 3600 + 1800);
        tz = tz_free(tz);
        /* southern hemisphere: DST over New Year */
        ck_assert_int_eq(tz_load_from_rule("x", "AEST-10AEDT,M10.1.0,M4.1.0/3", &tz), 0);
        ck_assert_int_eq(tz_utoff(tz, 1800000000), 11 * 3600);
        ck_assert_int_eq(tz_utoff(tz, 1800000000 + 180 * 86400), 10 * 3600);
        tz = tz_free(tz);
        const char *bad[] = { "", "P8", "PST", "PST8PDT,M13.1.0,M11.1.0", "PST8PDT,M3.2.0", "PST8PDT,M3.2.7,M11.1.0",
                              "PST99", "<PST8", "PST8PDT,J0,J365", "PST8PDT,M3.2.0,M11.1.0junk" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(tz_load_from_rule("x", bad[i], &tz) == -EINVAL, "accepted \"%s\"", bad[i]);
}
END_TEST

static uint8_t *read_file(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static uint8_t buf[65536];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        *ret_size = n;
        uint8_t *d = malloc(n);
        memcpy(d, buf, n);
        return d;
}

START_TEST(test_damaged_files) {
        /* Every truncation and a sweep of byte flips of a real file: never a
         * crash or an out-of-bounds read (ASan), always 0 or -EBADMSG. */
        size_t size;
        _cleanup_free_ uint8_t *data = read_file(TZ_DEFAULT_DIR "/America/Los_Angeles", &size);
        for (size_t n = 0; n < size; n++) {
                Tz *tz = NULL;
                uint8_t *copy = malloc(MAX(n, (size_t) 1));
                memcpy(copy, data, n);
                int r = tz_load_from_data("x", copy, n, &tz);
                check_loop(r == 0 || r == -EBADMSG, "truncated to %zu: %d", n, r);
                if (r == 0)
                        (void) tz_utoff(tz, 2000000000);
                tz_free(tz);
                free(copy);
        }
        srand(7);
        for (unsigned i = 0; i < 3000; i++) {
                Tz *tz = NULL;
                uint8_t *copy = malloc(size);
                memcpy(copy, data, size);
                for (unsigned k = 0; k < 4; k++)
                        copy[(size_t) rand() % size] = (uint8_t) rand();
                int r = tz_load_from_data("x", copy, size, &tz);
                check_loop(r == 0 || r == -EBADMSG, "round %u: %d", i, r);
                if (r == 0)
                        for (int64_t t = 0; t < 4000000000; t += 99999999)
                                (void) tz_utoff(tz, t);
                tz_free(tz);
                free(copy);
        }
        Tz *tz = NULL;
        ck_assert_int_eq(tz_load_from_data("x", "not a zone file at all, definitely not", 38, &tz), -EBADMSG);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("tz");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        ADD_TESTS(tc, test_matches_libc, test_day_start, test_dst_days, test_mktime_matches_libc, test_names,
                  test_rules, test_damaged_files);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
