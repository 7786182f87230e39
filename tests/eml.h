/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Reads e-mail messages back with a real mail parser: Python's email
 * package, run by tests/lib/check_eml.py under /usr/bin/python3, which
 * prints what it found as JSON. */

#include <json-c/json.h>

#include "macro.h"

/* Parses the message in a file, or in memory; aborts the test on failure. */
json_object *eml_parse_file(const char *path);
json_object *eml_parse_data(const char *data);

/* The decoded value of the first header of that name (any case), NULL if none. */
const char *eml_header(json_object *j, const char *name);
/* How many headers of that name there are. */
size_t eml_header_count(json_object *j, const char *name);
/* A string member ("body", "cte", ...) or NULL. */
const char *eml_str(json_object *j, const char *key);
int64_t eml_int(json_object *j, const char *key);
bool eml_bool(json_object *j, const char *key);
/* Whether the string array member key holds s (ignoring case). */
bool eml_list_has(json_object *j, const char *key, const char *s);
size_t eml_list_len(json_object *j, const char *key);

/* Reads a whole file; NULL when it does not exist. */
char *read_file_alloc(const char *path);
