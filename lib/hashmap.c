/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hashmap.h"

typedef struct Entry {
        const char *key;        /* NULL: free slot */
        void *value;
        uint64_t hash;
} Entry;

struct Hashmap {
        Entry *entries;
        size_t cap;             /* a power of two, or 0 */
        size_t n;
};

#define HASHMAP_MIN_CAP 16U

/* FNV-1a: keys are names from the configuration, not attacker-chosen. */
static uint64_t hash_string(const char *s) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

int hashmap_new(Hashmap **ret) {
        Hashmap *h = calloc(1, sizeof(Hashmap));
        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        free(h->entries);
        return mfree(h);
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->n : 0;
}

static size_t hashmap_find(const Hashmap *h, const char *key, uint64_t hash) {
        size_t mask = h->cap - 1;
        for (size_t i = hash & mask;; i = (i + 1) & mask) {
                const Entry *e = &h->entries[i];
                if (!e->key || (e->hash == hash && streq(e->key, key)))
                        return i;
        }
}

static int hashmap_resize(Hashmap *h, size_t cap) {
        Entry *entries = calloc(cap, sizeof(Entry));
        if (!entries)
                return -ENOMEM;
        Entry *old = h->entries;
        size_t old_cap = h->cap;
        h->entries = entries;
        h->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].key)
                        h->entries[hashmap_find(h, old[i].key, old[i].hash)] = old[i];
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, const char *key, void *value) {
        uint64_t hash = hash_string(key);
        /* keep the load at most 1/2: short probe sequences */
        if ((h->n + 1) * 2 > h->cap) {
                if (h->cap > SIZE_MAX / 2 / sizeof(Entry))
                        return -ENOMEM;
                int r = hashmap_resize(h, h->cap ? h->cap * 2 : HASHMAP_MIN_CAP);
                if (r < 0)
                        return r;
        }
        size_t i = hashmap_find(h, key, hash);
        if (h->entries[i].key)
                return -EEXIST;
        h->entries[i] = (Entry) { .key = key, .value = value, .hash = hash };
        h->n++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const char *key) {
        if (!h || h->n == 0)
                return NULL;
        const Entry *e = &h->entries[hashmap_find(h, key, hash_string(key))];
        return e->key ? e->value : NULL;
}

void *hashmap_remove(Hashmap *h, const char *key) {
        if (!h || h->n == 0)
                return NULL;
        size_t mask = h->cap - 1, i = hashmap_find(h, key, hash_string(key));
        if (!h->entries[i].key)
                return NULL;
        void *value = h->entries[i].value;
        /* backward-shift deletion: move later members of the cluster into
         * the hole when their home slot is not between the hole and them */
        for (size_t j = (i + 1) & mask; h->entries[j].key; j = (j + 1) & mask) {
                size_t home = h->entries[j].hash & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        h->entries[i] = h->entries[j];
                        i = j;
                }
        }
        h->entries[i] = (Entry) {};
        h->n--;
        return value;
}

bool hashmap_iterate(const Hashmap *h, size_t *i, void **ret_value) {
        for (; h && *i < h->cap; (*i)++)
                if (h->entries[*i].key) {
                        *ret_value = h->entries[(*i)++].value;
                        return true;
                }
        return false;
}
