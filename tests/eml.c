/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "eml.h"

#include <stdio.h>
#include <strings.h>
#include <sys/wait.h>

#include "strbuf.h"
#include "tests.h"

#define CHECK_EML SOURCE_ROOT "/tests/lib/check_eml.py"

static json_object *eml_run(const char *arg, const char *input) {
        char tmp[] = "/tmp/tomslink-eml-XXXXXX";
        char cmd[512];
        StrBuf out = STRBUF_NULL;
        char buf[4096];
        size_t n;

        if (input) {
                int fd = mkstemp(tmp);
                ck_assert_int_ge(fd, 0);
                size_t len = strlen(input);
                ck_assert_int_eq(write(fd, input, len), (ssize_t) len);
                close(fd);
                arg = tmp;
        }
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s '%s'", CHECK_EML, arg);
        FILE *f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                strbuf_append(&out, buf, n);
        int status = pclose(f);
        if (input)
                unlink(tmp);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check_eml.py failed on %s", arg);
        json_object *j = json_tokener_parse(out.data ?: "");
        ck_assert_msg(j != NULL, "check_eml.py printed no JSON: %s", out.data ?: "");
        strbuf_done(&out);
        return j;
}

json_object *eml_parse_file(const char *path) {
        return eml_run(path, NULL);
}

json_object *eml_parse_data(const char *data) {
        return eml_run(NULL, data);
}

static json_object *member(json_object *j, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(j, key, &v))
                return NULL;
        return v;
}

const char *eml_header(json_object *j, const char *name) {
        json_object *h = member(j, "headers");
        for (size_t i = 0; h && i < json_object_array_length(h); i++) {
                json_object *kv = json_object_array_get_idx(h, i);
                if (strcasecmp(json_object_get_string(json_object_array_get_idx(kv, 0)), name) == 0)
                        return json_object_get_string(json_object_array_get_idx(kv, 1));
        }
        return NULL;
}

size_t eml_header_count(json_object *j, const char *name) {
        json_object *h = member(j, "headers");
        size_t c = 0;
        for (size_t i = 0; h && i < json_object_array_length(h); i++) {
                json_object *kv = json_object_array_get_idx(h, i);
                if (strcasecmp(json_object_get_string(json_object_array_get_idx(kv, 0)), name) == 0)
                        c++;
        }
        return c;
}

const char *eml_str(json_object *j, const char *key) {
        json_object *v = member(j, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t eml_int(json_object *j, const char *key) {
        json_object *v = member(j, key);
        ck_assert_msg(v != NULL, "no %s in the parse result", key);
        return json_object_get_int64(v);
}

bool eml_bool(json_object *j, const char *key) {
        json_object *v = member(j, key);
        ck_assert_msg(v != NULL, "no %s in the parse result", key);
        return json_object_get_boolean(v);
}

bool eml_list_has(json_object *j, const char *key, const char *s) {
        json_object *l = member(j, key);
        for (size_t i = 0; l && i < json_object_array_length(l); i++)
                if (strcasecmp(json_object_get_string(json_object_array_get_idx(l, i)), s) == 0)
                        return true;
        return false;
}

size_t eml_list_len(json_object *j, const char *key) {
        json_object *l = member(j, key);
        return l ? json_object_array_length(l) : 0;
}

char *read_file_alloc(const char *path) {
        FILE *f = fopen(path, "rb");
        StrBuf b = STRBUF_NULL;
        char buf[4096];
        size_t n;
        if (!f)
                return NULL;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                strbuf_append(&b, buf, n);
        fclose(f);
        return strbuf_steal(&b);
}
