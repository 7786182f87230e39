/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "import-file.h"

#include <assert.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "strbuf.h"
#include "strv.h"
#include "tz.h"
#include "validate.h"
#include "ynode.h"

#define CSV_FIELDS_MAX 16

typedef enum Column {
        COLUMN_LINK,
        COLUMN_USERNAME,
        COLUMN_SECRET,
        COLUMN_GENERATED,
        _COLUMN_MAX,
        _COLUMN_INVALID = -EINVAL,
} Column;

static const char *const column_names[_COLUMN_MAX] = {
        [COLUMN_LINK] = "link",
        [COLUMN_USERNAME] = "username",
        [COLUMN_SECRET] = "secret",
        [COLUMN_GENERATED] = "generated",
};

static Column column_from_string(const char *s) {
        for (int i = 0; i < _COLUMN_MAX; i++)
                if (strcasecmp(column_names[i], s) == 0)
                        return i;
        return _COLUMN_INVALID;
}

typedef struct Importer {
        const char *name;
        Tz *utc;
        ProtocolImportRow *rows;
        size_t n_rows, n_allocated;
        char **errors;
        unsigned *error_lines;  /* the line of each of errors, for sorting */
        size_t n_errors;        /* found, even beyond those kept */
        bool oom;
} Importer;

static void add_error(Importer *im, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void add_error(Importer *im, unsigned line, const char *fmt, ...) {
        StrBuf b = STRBUF_NULL;
        va_list ap;

        im->n_errors++;
        if (im->n_errors > IMPORT_FILE_ERRORS_MAX)
                return;
        if (line > 0)
                strbuf_printf(&b, "%s:%u: ", im->name, line);
        else
                strbuf_printf(&b, "%s: ", im->name);
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        char *s = strbuf_steal(&b);
        size_t n = strv_length(im->errors);
        unsigned *lines = reallocarray(im->error_lines, n + 1, sizeof(unsigned));
        if (!lines) {
                free(s);
                im->oom = true;
                return;
        }
        im->error_lines = lines;
        lines[n] = line;
        if (!s || strv_push(&im->errors, s) < 0)
                im->oom = true;
}

static char *quoted(const char *s) {
        StrBuf b = STRBUF_NULL;
        strbuf_put_quoted(&b, s, 80);
        return strbuf_steal(&b);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static void trim(char *s) {
        size_t n = strlen(s), start = 0;
        while (n > 0 && is_blank(s[n - 1]))
                s[--n] = '\0';
        while (is_blank(s[start]))
                start++;
        memmove(s, s + start, n - start + 1);
}

static void wipe_free(char *s, size_t n) {
        if (s) {
                OPENSSL_cleanse(s, n);
                free(s);
        }
}

/* Checks one row and keeps it when it is good. Takes the strings (they may
 * be NULL when missing, already reported). */
static void add_row(Importer *im, unsigned line, char *link, char *username, char *secret, size_t secret_size,
                    char *generated) {
        unsigned before = (unsigned) im->n_errors;
        usec_t t;

        if (!link)
                ;
        else if (isempty(link))
                add_error(im, line, "link: empty");
        else if (!link_name_is_valid(link)) {
                _cleanup_free_ char *q = quoted(link);
                add_error(im, line, "link: %s is not a valid link name (lowercase letters, digits and '-', at most %d "
                                    "characters, starting and ending with a letter or digit)",
                          strna(q), LINK_NAME_MAX);
        }

        if (!username)
                ;
        else if (isempty(username))
                add_error(im, line, "username: empty");
        else if (strlen(username) > PROTOCOL_USERNAME_MAX)
                add_error(im, line, "username: longer than %u bytes", PROTOCOL_USERNAME_MAX);
        else if (!string_is_safe(username) || !utf8_is_valid(username, strlen(username)))
                add_error(im, line, "username: contains control characters or invalid UTF-8");

        /* never echo any part of the secret */
        if (!secret)
                ;
        else if (secret_size == 0)
                add_error(im, line, "secret: empty");
        else if (secret_size > PROTOCOL_SECRET_MAX)
                add_error(im, line, "secret: longer than %u bytes", PROTOCOL_SECRET_MAX);
        else if (strlen(secret) != secret_size || !string_is_safe(secret) || !utf8_is_valid(secret, secret_size))
                add_error(im, line, "secret: contains control characters or invalid UTF-8");
        else if (is_blank(secret[0]) || is_blank(secret[secret_size - 1]))
                add_error(im, line, "secret: starts or ends with a space (remove it: TOMS secret keys have none)");

        if (generated && isempty(generated))
                generated = mfree(generated);
        if (generated) {
                int r = strlen(generated) > PROTOCOL_GENERATED_MAX ? -EINVAL : parse_timestamp(generated, im->utc, &t);
                _cleanup_free_ char *q = quoted(generated);
                if (r == -EADDRNOTAVAIL)
                        add_error(im, line, "generated: %s has a time but no UTC offset; add one (like -08:00 or Z) or "
                                            "give a date alone",
                                  strna(q));
                else if (r < 0)
                        add_error(im, line, "generated: expected an ISO 8601 time with offset "
                                            "(2026-03-01T09:30:00-08:00), a date (2026-03-01) or nothing for now, got %s",
                                  strna(q));
        }

        if (im->n_errors != before || !link || !username || !secret) {
                free(link);
                free(username);
                wipe_free(secret, secret_size);
                free(generated);
                return;
        }
        if (im->n_rows >= PROTOCOL_IMPORT_ROWS_MAX) {
                if (im->n_rows == PROTOCOL_IMPORT_ROWS_MAX)
                        add_error(im, line, "more than %u credentials in one import", PROTOCOL_IMPORT_ROWS_MAX);
                im->n_rows++;   /* count on, so the message comes once */
                free(link);
                free(username);
                wipe_free(secret, secret_size);
                free(generated);
                return;
        }
        if (im->n_rows >= im->n_allocated) {
                size_t n = MAX(im->n_allocated * 2, (size_t) 64);
                ProtocolImportRow *a = calloc(n, sizeof(ProtocolImportRow));
                if (!a) {
                        im->oom = true;
                        free(link);
                        free(username);
                        wipe_free(secret, secret_size);
                        free(generated);
                        return;
                }
                if (im->rows)
                        memcpy(a, im->rows, im->n_rows * sizeof(ProtocolImportRow));
                free(im->rows);
                im->rows = a;
                im->n_allocated = n;
        }
        im->rows[im->n_rows++] = (ProtocolImportRow) {
                .link = link,
                .username = username,
                .generated = generated,
                .secret = secret,
                .secret_size = secret_size,
                .line = line,
        };
}

/* ---- CSV (RFC 4180) -------------------------------------------------------------- */

typedef struct CsvRecord {
        StrBuf fields[CSV_FIELDS_MAX];
        size_t n;
        unsigned line;
} CsvRecord;

static void csv_record_clear(CsvRecord *r) {
        for (size_t i = 0; i < CSV_FIELDS_MAX; i++)
                strbuf_done_erase(&r->fields[i]);
        r->n = 0;
}

static void skip_line(const char *d, size_t size, size_t *pos, unsigned *line) {
        while (*pos < size && d[*pos] != '\n')
                (*pos)++;
        if (*pos < size) {
                (*pos)++;
                (*line)++;
        }
}

/* Reads the next record. Returns 1 with it, 0 at the end, -EINVAL after
 * reporting a malformed one (the rest of its line is skipped). */
static int csv_next(Importer *im, const char *d, size_t size, size_t *pos, unsigned *line, CsvRecord *rec) {
        csv_record_clear(rec);

        /* blank lines between records */
        for (;;) {
                if (*pos < size && d[*pos] == '\n') {
                        (*pos)++;
                        (*line)++;
                } else if (*pos + 1 < size && d[*pos] == '\r' && d[*pos + 1] == '\n') {
                        *pos += 2;
                        (*line)++;
                } else
                        break;
        }
        if (*pos >= size)
                return 0;
        rec->line = *line;

        for (;;) {
                if (rec->n >= CSV_FIELDS_MAX) {
                        add_error(im, rec->line, "more than %d fields", CSV_FIELDS_MAX);
                        skip_line(d, size, pos, line);
                        return -EINVAL;
                }
                StrBuf *f = &rec->fields[rec->n++];
                strbuf_puts(f, "");

                if (*pos < size && d[*pos] == '"') {
                        (*pos)++;
                        for (;;) {
                                if (*pos >= size) {
                                        add_error(im, rec->line, "a quoted field is not closed");
                                        return -EINVAL;
                                }
                                char c = d[(*pos)++];
                                if (c == '"') {
                                        if (*pos < size && d[*pos] == '"') {
                                                strbuf_putc(f, '"');
                                                (*pos)++;
                                                continue;
                                        }
                                        break;
                                }
                                if (c == '\n')
                                        (*line)++;
                                strbuf_putc(f, c);
                        }
                        if (*pos < size && d[*pos] != ',' && d[*pos] != '\n' &&
                            !(d[*pos] == '\r' && *pos + 1 < size && d[*pos + 1] == '\n')) {
                                add_error(im, *line, "unexpected text after a closing quote");
                                skip_line(d, size, pos, line);
                                return -EINVAL;
                        }
                } else {
                        size_t start = *pos;
                        while (*pos < size && d[*pos] != ',' && d[*pos] != '\n' &&
                               !(d[*pos] == '\r' && *pos + 1 < size && d[*pos + 1] == '\n')) {
                                if (d[*pos] == '"') {
                                        add_error(im, *line, "a quote inside an unquoted field (quote the whole "
                                                             "field and double the quote)");
                                        skip_line(d, size, pos, line);
                                        return -EINVAL;
                                }
                                (*pos)++;
                        }
                        strbuf_append(f, d + start, *pos - start);
                }
                if (strbuf_failed(f)) {
                        im->oom = true;
                        return -ENOMEM;
                }

                if (*pos < size && d[*pos] == ',') {
                        (*pos)++;
                        continue;
                }
                /* the end of the record */
                if (*pos < size && d[*pos] == '\r')
                        (*pos)++;
                if (*pos < size && d[*pos] == '\n') {
                        (*pos)++;
                        (*line)++;
                }
                return 1;
        }
}

static char *field_dup(const StrBuf *f, bool trimmed) {
        char *s = malloc(f->len + 1);
        if (!s)
                return NULL;
        memcpy(s, f->data ?: "", f->len);
        s[f->len] = '\0';
        if (trimmed)
                trim(s);
        return s;
}

static void parse_csv(Importer *im, const char *d, size_t size) {
        CsvRecord rec = {};
        size_t pos = 0;
        unsigned line = 1;
        int columns[CSV_FIELDS_MAX];
        size_t n_columns = 0;
        int r;

        /* the header */
        r = csv_next(im, d, size, &pos, &line, &rec);
        if (r <= 0) {
                if (r == 0)
                        add_error(im, 0, "empty file");
                csv_record_clear(&rec);
                return;
        }
        bool have[_COLUMN_MAX] = {};
        unsigned header_errors = (unsigned) im->n_errors;
        for (size_t i = 0; i < rec.n; i++) {
                _cleanup_free_ char *name = field_dup(&rec.fields[i], true);
                if (!name) {
                        im->oom = true;
                        break;
                }
                Column c = column_from_string(name);
                if (c < 0) {
                        _cleanup_free_ char *q = quoted(name);
                        add_error(im, rec.line, "unknown column %s; the header is " IMPORT_FILE_HEADER
                                                " (see \"tomslinkctl credential export-template\")",
                                  strna(q));
                } else if (have[c])
                        add_error(im, rec.line, "column \"%s\" appears twice", column_names[c]);
                else
                        have[c] = true;
                columns[n_columns++] = c;
        }
        for (int c = 0; c < COLUMN_GENERATED; c++)
                if (!have[c])
                        add_error(im, rec.line, "the header has no \"%s\" column; it is " IMPORT_FILE_HEADER,
                                  column_names[c]);
        if (im->n_errors != header_errors) {
                csv_record_clear(&rec);
                return;
        }

        for (;;) {
                r = csv_next(im, d, size, &pos, &line, &rec);
                if (r == 0 || r == -ENOMEM)
                        break;
                if (r < 0) {
                        if (pos >= size)
                                break;
                        continue;
                }
                if (rec.n != n_columns) {
                        add_error(im, rec.line, "expected %zu fields, got %zu", n_columns, rec.n);
                        continue;
                }
                char *v[_COLUMN_MAX] = {};
                size_t secret_size = 0;
                for (size_t i = 0; i < n_columns; i++) {
                        v[columns[i]] = field_dup(&rec.fields[i], columns[i] != COLUMN_SECRET);
                        if (!v[columns[i]])
                                im->oom = true;
                        if (columns[i] == COLUMN_SECRET)
                                secret_size = rec.fields[i].len;
                }
                if (im->oom) {
                        free(v[COLUMN_LINK]);
                        free(v[COLUMN_USERNAME]);
                        wipe_free(v[COLUMN_SECRET], secret_size);
                        free(v[COLUMN_GENERATED]);
                        break;
                }
                add_row(im, rec.line, v[COLUMN_LINK], v[COLUMN_USERNAME], v[COLUMN_SECRET], secret_size,
                        v[COLUMN_GENERATED]);
        }
        csv_record_clear(&rec);
}

/* ---- YAML ---------------------------------------------------------------------- */

static void wipe_tree(YNode *n) {
        if (!n)
                return;
        if (n->value)
                OPENSSL_cleanse(n->value, n->length);
        for (size_t i = 0; i < n->n_items; i++)
                wipe_tree(n->items[i]);
}

static void parse_yaml(Importer *im, const char *d, size_t size) {
        YNode *root = NULL;
        YNodeError e;

        int r = ynode_parse(d, size, &root, &e);
        if (r < 0) {
                if (r == -ENOMEM)
                        im->oom = true;
                else
                        add_error(im, e.line, "%u: %s", e.column, e.message);
                return;
        }
        if (!root) {
                add_error(im, 0, "empty file");
                return;
        }
        if (root->type != YNODE_SEQUENCE) {
                add_error(im, root->line, "expected a list of mappings with the keys link, username, secret and "
                                          "generated, got %s",
                          ynode_type_to_string(root->type));
                wipe_tree(root);
                ynode_free(root);
                return;
        }

        for (size_t i = 0; i < root->n_items && !im->oom; i++) {
                YNode *item = root->items[i];
                if (item->type != YNODE_MAPPING) {
                        add_error(im, item->line, "expected a mapping with the keys link, username, secret and "
                                                  "generated, got %s",
                                  ynode_type_to_string(item->type));
                        continue;
                }
                YNode *v[_COLUMN_MAX] = {};
                bool bad = false;
                for (size_t k = 0; k < ynode_n_pairs(item); k++) {
                        YNode *key = item->items[2 * k], *value = item->items[2 * k + 1];
                        Column c = key->type == YNODE_SCALAR ? column_from_string(key->value) : _COLUMN_INVALID;
                        if (c < 0) {
                                _cleanup_free_ char *q = key->type == YNODE_SCALAR ? quoted(key->value) : NULL;
                                add_error(im, key->line, "unknown key %s; the keys are link, username, secret and "
                                                         "generated",
                                          q ?: "(not a scalar)");
                                bad = true;
                                continue;
                        }
                        if (v[c]) {
                                add_error(im, key->line, "key \"%s\" appears twice", column_names[c]);
                                bad = true;
                                continue;
                        }
                        if (value->type != YNODE_SCALAR) {
                                add_error(im, value->line, "%s: expected a single value, got %s", column_names[c],
                                          ynode_type_to_string(value->type));
                                bad = true;
                                continue;
                        }
                        if (c != COLUMN_SECRET && value->length != strlen(value->value)) {
                                add_error(im, value->line, "%s: contains a NUL character", column_names[c]);
                                bad = true;
                                continue;
                        }
                        if (ynode_is_null(value) && c != COLUMN_GENERATED) {
                                add_error(im, value->line, "%s: empty", column_names[c]);
                                bad = true;
                                continue;
                        }
                        v[c] = value;
                }
                for (int c = 0; c < COLUMN_GENERATED; c++)
                        if (!v[c] && !bad) {
                                add_error(im, item->line, "missing \"%s\"", column_names[c]);
                                bad = true;
                        }
                if (bad)
                        continue;

                char *link = strdup(v[COLUMN_LINK]->value), *username = strdup(v[COLUMN_USERNAME]->value);
                char *generated = v[COLUMN_GENERATED] && !ynode_is_null(v[COLUMN_GENERATED])
                                          ? strdup(v[COLUMN_GENERATED]->value)
                                          : NULL;
                size_t secret_size = v[COLUMN_SECRET]->length;
                char *secret = malloc(secret_size + 1);
                if (!link || !username || !secret ||
                    (v[COLUMN_GENERATED] && !ynode_is_null(v[COLUMN_GENERATED]) && !generated)) {
                        im->oom = true;
                        free(link);
                        free(username);
                        free(secret);
                        free(generated);
                        break;
                }
                memcpy(secret, v[COLUMN_SECRET]->value, secret_size);
                secret[secret_size] = '\0';
                add_row(im, v[COLUMN_LINK]->line, link, username, secret, secret_size, generated);
        }
        wipe_tree(root);
        ynode_free(root);
}

/* ---- the whole file ---------------------------------------------------------------- */

static int row_cmp(const void *a, const void *b) {
        const ProtocolImportRow *x = *(const ProtocolImportRow *const *) a, *y = *(const ProtocolImportRow *const *) b;
        int c = strcmp(x->link, y->link);
        return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static void check_duplicates(Importer *im) {
        if (im->n_rows < 2 || im->n_rows > PROTOCOL_IMPORT_ROWS_MAX)
                return;
        ProtocolImportRow **sorted = calloc(im->n_rows, sizeof(ProtocolImportRow *));
        if (!sorted) {
                im->oom = true;
                return;
        }
        for (size_t i = 0; i < im->n_rows; i++)
                sorted[i] = &im->rows[i];
        qsort(sorted, im->n_rows, sizeof(ProtocolImportRow *), row_cmp);
        size_t first = 0;
        for (size_t i = 1; i < im->n_rows; i++) {
                if (!streq(sorted[i]->link, sorted[first]->link)) {
                        first = i;
                        continue;
                }
                add_error(im, sorted[i]->line, "link \"%s\" appears again (first on line %u): one credential per link",
                          sorted[i]->link, sorted[first]->line);
        }
        free(sorted);
}

typedef struct ErrorRef {
        unsigned line;
        size_t index;
} ErrorRef;

static int error_ref_cmp(const void *a, const void *b) {
        const ErrorRef *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return (x->index > y->index) - (x->index < y->index);
}

/* In line order (problems of the whole file first), stable. */
static void sort_errors(Importer *im) {
        size_t n = strv_length(im->errors);
        ErrorRef *refs = calloc(MAX(n, (size_t) 1), sizeof(ErrorRef));
        char **sorted = calloc(n + 1, sizeof(char *));
        if (!refs || !sorted) {
                free(refs);
                free(sorted);
                return;   /* unsorted, but complete */
        }
        for (size_t i = 0; i < n; i++)
                refs[i] = (ErrorRef) { .line = im->error_lines[i], .index = i };
        qsort(refs, n, sizeof(ErrorRef), error_ref_cmp);
        for (size_t i = 0; i < n; i++)
                sorted[i] = im->errors[refs[i].index];
        free(im->errors);
        im->errors = sorted;
        free(refs);
}

int import_file_parse(const char *name, const char *data, size_t size, ProtocolImportRow **ret_rows, size_t *ret_n,
                      char ***ret_errors) {
        Importer im = { .name = name ?: "-" };
        int r;

        assert(data || size == 0);
        assert(ret_rows);
        assert(ret_n);
        assert(ret_errors);

        r = tz_load_from_rule("UTC", "UTC0", &im.utc);
        if (r < 0)
                return r;

        /* a byte-order mark, as spreadsheets write */
        if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
                data += 3;
                size -= 3;
        }
        if (memchr(data, '\0', size))
                add_error(&im, 0, "the file holds NUL bytes: not a text file");
        else {
                /* YAML when the first thing that is not a comment or space
                 * starts a list; else CSV */
                size_t i = 0;
                for (;;) {
                        while (i < size && strchr(" \t\r\n", data[i]))
                                i++;
                        if (i < size && data[i] == '#') {
                                while (i < size && data[i] != '\n')
                                        i++;
                                continue;
                        }
                        break;
                }
                if (i < size && (data[i] == '-' || data[i] == '['))
                        parse_yaml(&im, data, size);
                else
                        parse_csv(&im, data, size);
        }

        if (!im.oom && im.n_errors == 0 && im.n_rows == 0)
                add_error(&im, 0, "no credentials in the file");
        check_duplicates(&im);
        tz_free(im.utc);

        if (im.oom) {
                free(im.error_lines);
                protocol_import_rows_free(im.rows, MIN(im.n_rows, im.n_allocated));
                strv_free(im.errors);
                return -ENOMEM;
        }
        if (im.n_errors > 0) {
                protocol_import_rows_free(im.rows, MIN(im.n_rows, im.n_allocated));
                sort_errors(&im);
                if (im.n_errors > IMPORT_FILE_ERRORS_MAX) {
                        char buf[128];
                        snprintf(buf, sizeof buf, "%s: ... and %zu more problems", im.name,
                                 im.n_errors - IMPORT_FILE_ERRORS_MAX);
                        (void) strv_extend(&im.errors, buf);
                }
                free(im.error_lines);
                *ret_errors = im.errors;
                return -EINVAL;
        }
        free(im.error_lines);
        *ret_rows = im.rows;
        *ret_n = im.n_rows;
        return 0;
}

int import_file_check_mode(int fd, const char *name, char **ret_error) {
        struct stat st;
        char buf[512];

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
                return 0;   /* a pipe: nobody else can read what passes through */
        if (!S_ISREG(st.st_mode)) {
                snprintf(buf, sizeof buf, "%s: not a regular file", name);
                *ret_error = strdup(buf);
                return -EINVAL;
        }
        if (st.st_mode & 0177) {
                snprintf(buf, sizeof buf,
                         "%s: the file holds secret keys but its mode is %04o; allow only its owner to read it "
                         "(chmod 600 %s) and try again",
                         name, (unsigned) (st.st_mode & 07777), name);
                *ret_error = strdup(buf);
                return -EPERM;
        }
        return 0;
}

int import_file_read(int fd, char **ret, size_t *ret_size) {
        StrBuf b = STRBUF_NULL;
        char chunk[65536];

        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = negative_errno();
                        OPENSSL_cleanse(chunk, sizeof chunk);
                        strbuf_done_erase(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t) n > IMPORT_FILE_SIZE_MAX) {
                        OPENSSL_cleanse(chunk, sizeof chunk);
                        strbuf_done_erase(&b);
                        return -EFBIG;
                }
                strbuf_append(&b, chunk, (size_t) n);
        }
        OPENSSL_cleanse(chunk, sizeof chunk);
        if (strbuf_failed(&b)) {
                strbuf_done_erase(&b);
                return -ENOMEM;
        }
        size_t size = b.len;
        char *s = strbuf_steal(&b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        *ret_size = size;
        return 0;
}
