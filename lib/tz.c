/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tz.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#define TZIF_MAX_SIZE (256 * 1024)
#define ABBR_MAX 16

typedef struct TzType {
        int32_t utoff;
        bool isdst;
        char abbr[ABBR_MAX];
} TzType;

typedef struct TzRuleDate {
        char kind;      /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
        int n, m, w, d;
        int32_t time;   /* seconds after local midnight, may be negative or > 24h */
} TzRuleDate;

typedef struct TzRule {
        TzType std, dst;
        bool has_dst;
        TzRuleDate start, end;
} TzRule;

struct Tz {
        char *name;
        size_t n_trans;
        int64_t *trans;         /* ascending Unix times */
        uint8_t *trans_type;    /* index into types */
        size_t n_types;
        TzType *types;
        bool has_rule;
        TzRule rule;            /* for times after the last transition */
};

static Tz *tz_alloc(const char *name) {
        Tz *tz = calloc(1, sizeof(Tz));
        if (!tz)
                return NULL;
        tz->name = strdup(name);
        if (!tz->name)
                return mfree(tz);
        return tz;
}

Tz *tz_free(Tz *tz) {
        if (!tz)
                return NULL;
        free(tz->name);
        free(tz->trans);
        free(tz->trans_type);
        free(tz->types);
        return mfree(tz);
}

const char *tz_name(const Tz *tz) {
        return tz->name;
}

bool tz_name_is_valid(const char *name) {
        if (isempty(name) || strlen(name) > 255 || name[0] == '/' || name[0] == '.')
                return false;
        const char *comp = name;
        for (const char *p = name; *p; p++) {
                char c = *p;
                if (c == '/') {
                        if (p == comp || (p[1] == '\0'))
                                return false;
                        comp = p + 1;
                        if (*comp == '.')
                                return false;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '+' || c == '.'))
                        return false;
        }
        return !strstr(name, "..");
}

/* ---- POSIX TZ rule strings ------------------------------------------------ */

static const char *parse_abbr(const char *p, char abbr[static ABBR_MAX]) {
        size_t n = 0;
        if (*p == '<') {
                p++;
                while (*p && *p != '>') {
                        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                              (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                                return NULL;
                        if (n + 1 >= ABBR_MAX)
                                return NULL;
                        abbr[n++] = *p++;
                }
                if (*p != '>')
                        return NULL;
                p++;
        } else
                while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
                        if (n + 1 >= ABBR_MAX)
                                return NULL;
                        abbr[n++] = *p++;
                }
        if (n < 3)
                return NULL;
        abbr[n] = '\0';
        return p;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours */
static const char *parse_hms(const char *p, int max_hours, int32_t *ret) {
        int sign = 1;
        if (*p == '+' || *p == '-')
                sign = *p++ == '-' ? -1 : 1;
        if (*p < '0' || *p > '9')
                return NULL;
        int32_t h = 0;
        while (*p >= '0' && *p <= '9') {
                h = h * 10 + (*p++ - '0');
                if (h > max_hours)
                        return NULL;
        }
        int32_t v = h * 3600;
        for (int unit = 60; *p == ':' && unit >= 1; unit /= 60) {
                p++;
                if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
                        return NULL;
                v += ((p[0] - '0') * 10 + (p[1] - '0')) * unit;
                p += 2;
        }
        *ret = sign * v;
        return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *ret) {
        int v = 0;
        if (*p < '0' || *p > '9')
                return NULL;
        while (*p >= '0' && *p <= '9') {
                v = v * 10 + (*p++ - '0');
                if (v > hi)
                        return NULL;
        }
        if (v < lo)
                return NULL;
        *ret = v;
        return p;
}

static const char *parse_rule_date(const char *p, TzRuleDate *ret) {
        TzRuleDate r = { .time = 2 * 3600 };
        if (*p == 'J') {
                r.kind = 'J';
                p = parse_num(p + 1, 1, 365, &r.n);
        } else if (*p == 'M') {
                r.kind = 'M';
                p = parse_num(p + 1, 1, 12, &r.m);
                if (p && *p == '.')
                        p = parse_num(p + 1, 1, 5, &r.w);
                else
                        p = NULL;
                if (p && *p == '.')
                        p = parse_num(p + 1, 0, 6, &r.d);
                else
                        p = NULL;
        } else {
                r.kind = 'D';
                p = parse_num(p, 0, 365, &r.n);
        }
        if (p && *p == '/')
                p = parse_hms(p + 1, 167, &r.time);
        if (p)
                *ret = r;
        return p;
}

static int parse_rule(const char *s, TzRule *ret) {
        TzRule r = {};
        int32_t off;
        const char *p = parse_abbr(s, r.std.abbr);
        if (!p || !(p = parse_hms(p, 24, &off)))
                return -EINVAL;
        r.std.utoff = -off;
        if (*p == '\0') {
                *ret = r;
                return 0;
        }
        r.has_dst = true;
        r.dst.isdst = true;
        if (!(p = parse_abbr(p, r.dst.abbr)))
                return -EINVAL;
        r.dst.utoff = r.std.utoff + 3600;
        if (*p && *p != ',') {
                if (!(p = parse_hms(p, 24, &off)))
                        return -EINVAL;
                r.dst.utoff = -off;
        }
        if (*p == '\0') {
                /* No rule given: the US rules, as glibc assumes. */
                p = ",M3.2.0,M11.1.0";
        }
        if (*p != ',' || !(p = parse_rule_date(p + 1, &r.start)))
                return -EINVAL;
        if (*p != ',' || !(p = parse_rule_date(p + 1, &r.end)))
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;
        *ret = r;
        return 0;
}

/* Day of the year (0-based) of a rule date in year y. */
static int64_t rule_yday(const TzRuleDate *r, int64_t y) {
        switch (r->kind) {
        case 'J':
                return r->n - 1 + (is_leap_year(y) && r->n >= 60 ? 1 : 0);
        case 'D':
                return r->n;
        default: {
                int64_t first = days_from_civil(y, (unsigned) r->m, 1);
                /* 1970-01-01 was a Thursday (4) */
                int wday_first = (int) (((first % 7) + 7 + 4) % 7);
                int64_t day = (r->d - wday_first + 7) % 7 + 7 * (r->w - 1);
                while (day >= days_in_month(y, (unsigned) r->m))
                        day -= 7;
                return first + day - days_from_civil(y, 1, 1);
        }
        }
}

static const TzType *rule_type_at(const TzRule *r, int64_t t) {
        if (!r->has_dst)
                return &r->std;
        int64_t y;
        unsigned mo, d;
        civil_from_days((t + r->std.utoff) / 86400 - ((t + r->std.utoff) % 86400 < 0), &y, &mo, &d);
        int64_t jan1 = days_from_civil(y, 1, 1) * 86400;
        int64_t start = jan1 + rule_yday(&r->start, y) * 86400 + r->start.time - r->std.utoff;
        int64_t end = jan1 + rule_yday(&r->end, y) * 86400 + r->end.time - r->dst.utoff;
        bool dst = start < end ? (t >= start && t < end) : (t < end || t >= start);
        return dst ? &r->dst : &r->std;
}

/* ---- TZif ------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) {
        return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

typedef struct TzifHeader {
        uint8_t version;
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} TzifHeader;

static int tzif_header(const uint8_t *p, size_t left, TzifHeader *h) {
        if (left < 44 || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        h->version = p[4];
        h->isutcnt = be32(p + 20);
        h->isstdcnt = be32(p + 24);
        h->leapcnt = be32(p + 28);
        h->timecnt = be32(p + 32);
        h->typecnt = be32(p + 36);
        h->charcnt = be32(p + 40);
        if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->charcnt > 4096 ||
            h->timecnt > 100000 || h->leapcnt > 10000 ||
            (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
            (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
                return -EBADMSG;
        return 0;
}

static size_t tzif_block_size(const TzifHeader *h, size_t timesize) {
        return (size_t) h->timecnt * timesize + h->timecnt + (size_t) h->typecnt * 6 + h->charcnt +
               (size_t) h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

int tz_load_from_data(const char *name, const void *data, size_t size, Tz **ret) {
        const uint8_t *p = data;
        size_t left = size, timesize = 4;
        TzifHeader h;
        int r;

        if (size > TZIF_MAX_SIZE)
                return -EBADMSG;
        r = tzif_header(p, left, &h);
        if (r < 0)
                return r;
        if (h.version >= '2') {
                /* skip the 32-bit block and use the 64-bit one */
                size_t skip = 44 + tzif_block_size(&h, 4);
                if (skip > left)
                        return -EBADMSG;
                p += skip;
                left -= skip;
                r = tzif_header(p, left, &h);
                if (r < 0)
                        return r;
                timesize = 8;
        }
        p += 44;
        left -= 44;
        if (tzif_block_size(&h, timesize) > left)
                return -EBADMSG;

        _cleanup_(tz_freep) Tz *tz = tz_alloc(name);
        if (!tz)
                return -ENOMEM;
        tz->n_trans = h.timecnt;
        tz->n_types = h.typecnt;
        tz->trans = calloc(MAX(h.timecnt, 1u), sizeof(int64_t));
        tz->trans_type = calloc(MAX(h.timecnt, 1u), 1);
        tz->types = calloc(h.typecnt, sizeof(TzType));
        if (!tz->trans || !tz->trans_type || !tz->types)
                return -ENOMEM;

        const uint8_t *times = p, *idx = p + (size_t) h.timecnt * timesize,
                      *ttinfo = idx + h.timecnt, *chars = ttinfo + (size_t) h.typecnt * 6;
        for (size_t i = 0; i < h.timecnt; i++) {
                tz->trans[i] = timesize == 8 ? be64(times + i * 8) : (int32_t) be32(times + i * 4);
                if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
                        return -EBADMSG;
                if (idx[i] >= h.typecnt)
                        return -EBADMSG;
                tz->trans_type[i] = idx[i];
        }
        for (size_t i = 0; i < h.typecnt; i++) {
                const uint8_t *t = ttinfo + i * 6;
                int32_t utoff = (int32_t) be32(t);
                if (utoff < -89999 || utoff > 93599 || t[4] > 1 || t[5] >= h.charcnt)
                        return -EBADMSG;
                tz->types[i].utoff = utoff;
                tz->types[i].isdst = t[4];
                size_t n = strnlen((const char *) chars + t[5], h.charcnt - t[5]);
                if (n >= h.charcnt - t[5])
                        return -EBADMSG;   /* not NUL-terminated */
                snprintf(tz->types[i].abbr, ABBR_MAX, "%.*s", (int) n, (const char *) chars + t[5]);
        }

        if (timesize == 8) {
                /* footer: \n<POSIX TZ string>\n */
                const uint8_t *f = p + tzif_block_size(&h, timesize);
                size_t fl = size - (size_t) (f - (const uint8_t *) data);
                if (fl >= 2 && f[0] == '\n') {
                        const uint8_t *nl = memchr(f + 1, '\n', fl - 1);
                        if (!nl)
                                return -EBADMSG;
                        size_t n = (size_t) (nl - f - 1);
                        if (n > 0) {
                                char rule[128];
                                if (n >= sizeof rule)
                                        return -EBADMSG;
                                memcpy(rule, f + 1, n);
                                rule[n] = '\0';
                                if (parse_rule(rule, &tz->rule) < 0)
                                        return -EBADMSG;
                                tz->has_rule = true;
                        }
                }
        }
        *ret = TAKE_PTR(tz);
        return 0;
}

int tz_load_from_rule(const char *name, const char *rule, Tz **ret) {
        _cleanup_(tz_freep) Tz *tz = tz_alloc(name);
        if (!tz)
                return -ENOMEM;
        int r = parse_rule(rule, &tz->rule);
        if (r < 0)
                return r;
        tz->has_rule = true;
        *ret = TAKE_PTR(tz);
        return 0;
}

static int read_small_file(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -ENOENT;
        if (st.st_size > TZIF_MAX_SIZE)
                return -EBADMSG;
        size_t size = (size_t) st.st_size;
        _cleanup_free_ uint8_t *buf = malloc(MAX(size, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = got;
        return 0;
}

int tz_load(const char *dir, const char *name, Tz **ret) {
        _cleanup_free_ char *path = NULL, *display = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r;

        if (isempty(name)) {
                path = strdup("/etc/localtime");
                if (!path)
                        return -ENOMEM;
                /* name the zone after the link target when it is one */
                char target[PATH_MAX];
                ssize_t n = readlink(path, target, sizeof target - 1);
                if (n > 0) {
                        target[n] = '\0';
                        const char *z = strstr(target, "zoneinfo/");
                        display = strdup(z ? z + strlen("zoneinfo/") : "localtime");
                } else
                        display = strdup("localtime");
                if (!display)
                        return -ENOMEM;
        } else {
                if (!tz_name_is_valid(name))
                        return -EINVAL;
                if (asprintf(&path, "%s/%s", dir ?: TZ_DEFAULT_DIR, name) < 0)
                        return -ENOMEM;
        }
        r = read_small_file(path, &data, &size);
        if (r < 0) {
                const char *n = display ?: name;
                /* UTC needs no database, so a system without tzdata still works. */
                if (r == -ENOENT && (streq(n, "UTC") || streq(n, "Etc/UTC") || streq(n, "localtime")))
                        return tz_load_from_rule(n, "UTC0", ret);
                return r == -EISDIR || r == -ENOTDIR ? -ENOENT : r;
        }
        return tz_load_from_data(display ?: name, data, size, ret);
}

/* ---- lookups ---------------------------------------------------------------- */

static const TzType *tz_type_at(const Tz *tz, int64_t t) {
        if (tz->n_trans == 0 || t < tz->trans[0]) {
                if (tz->n_types > 0)
                        return &tz->types[0];
                return rule_type_at(&tz->rule, t);
        }
        size_t lo = 0, hi = tz->n_trans;   /* find the last transition <= t */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (tz->trans[mid] <= t)
                        lo = mid;
                else
                        hi = mid;
        }
        if (lo == tz->n_trans - 1 && tz->has_rule)
                return rule_type_at(&tz->rule, t);
        return &tz->types[tz->trans_type[lo]];
}

int32_t tz_utoff(const Tz *tz, int64_t t) {
        return tz_type_at(tz, t)->utoff;
}

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

void tz_localtime(const Tz *tz, int64_t t, TzTime *ret) {
        const TzType *ty = tz_type_at(tz, t);
        int64_t l = t + ty->utoff;
        int64_t days = floor_div(l, 86400), secs = l - days * 86400;
        TzTime r = {
                .hour = (unsigned) (secs / 3600),
                .minute = (unsigned) (secs / 60 % 60),
                .second = (unsigned) (secs % 60),
                .wday = (unsigned) (((days % 7) + 7 + 4) % 7),
                .utoff = ty->utoff,
                .isdst = ty->isdst,
                .abbr = ty->abbr,
        };
        civil_from_days(days, &r.year, &r.month, &r.day);
        *ret = r;
}

int64_t tz_day_number(const Tz *tz, int64_t t) {
        return floor_div(t + tz_utoff(tz, t), 86400);
}

static int64_t local_of(const Tz *tz, int64_t t) {
        return t + tz_utoff(tz, t);
}

static int64_t tz_local_to_utc(const Tz *tz, int64_t l) {
        /* The offsets around l (a day either way covers every real zone's
         * transitions, which are hours apart) give the candidate instants. */
        int32_t o1 = tz_utoff(tz, l - 86400), o2 = tz_utoff(tz, l + 86400);
        int64_t c1 = l - o1, c2 = l - o2;
        bool ok1 = local_of(tz, c1) == l, ok2 = local_of(tz, c2) == l;
        if (ok1 && ok2)
                return MIN(c1, c2);
        if (ok1)
                return c1;
        if (ok2)
                return c2;
        /* l falls in a gap: the answer is the first instant whose local time
         * is past l, found by bisection between the two candidates. */
        int64_t lo = MIN(c1, c2), hi = MAX(c1, c2);
        if (local_of(tz, lo) >= l)
                return lo;
        while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (local_of(tz, mid) >= l)
                        hi = mid;
                else
                        lo = mid;
        }
        return hi;
}

int64_t tz_mktime(const Tz *tz, int64_t y, unsigned m, unsigned d, unsigned hh, unsigned mm, unsigned ss) {
        return tz_local_to_utc(tz, days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss);
}

int64_t tz_day_start(const Tz *tz, int64_t y, unsigned m, unsigned d) {
        return tz_mktime(tz, y, m, d, 0, 0, 0);
}
