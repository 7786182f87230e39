/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A map from strings to pointers, for lookups by name among many objects
 * (10,000 links): open addressing with linear probing, one array, no
 * allocation per entry. The map keeps the key pointer, not a copy: a key
 * must stay valid and unchanged while its entry exists (normally it is a
 * field of the value). */

#include "macro.h"

typedef struct Hashmap Hashmap;

int hashmap_new(Hashmap **ret);
/* Frees the map, not the keys or values. */
Hashmap *hashmap_free(Hashmap *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Hashmap *, hashmap_free);

/* -EEXIST when the key is present, -ENOMEM. */
int hashmap_put(Hashmap *h, const char *key, void *value);
/* NULL when absent. */
void *hashmap_get(const Hashmap *h, const char *key);
/* Removes the entry and returns its value, NULL when absent. */
void *hashmap_remove(Hashmap *h, const char *key);
size_t hashmap_size(const Hashmap *h);

/* Visits every entry: start with *i = 0, returns false after the last.
 * The map must not change during a walk. */
bool hashmap_iterate(const Hashmap *h, size_t *i, void **ret_value);
