/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A small YAML document tree built from libyaml's event stream, keeping the
 * position of every node for error messages. Deliberately strict: one
 * document, nesting limited, aliases refused (they make a small file expand
 * into a huge tree and the configuration has probe: defaults instead). */

#include "macro.h"

#define YNODE_DEPTH_MAX 64
#define YNODE_COUNT_MAX 2000000

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_SEQUENCE,
        YNODE_MAPPING,
        _YNODE_TYPE_MAX,
        _YNODE_TYPE_INVALID = -EINVAL,
} YNodeType;

typedef struct YNode YNode;
struct YNode {
        YNodeType type;
        unsigned line, column;   /* 1-based */
        char *value;             /* scalars: NUL-terminated text */
        size_t length;           /* scalars: length of value (it may hold NULs) */
        bool plain;              /* scalars: unquoted, so "~", "null" or "" mean null */
        YNode **items;           /* sequences: the items; mappings: key, value, key, value... */
        size_t n_items;
};

typedef struct YNodeError {
        unsigned line, column;
        char message[256];
} YNodeError;

/* Parses data into a tree. On failure returns -EINVAL (or -ENOMEM) and
 * fills ret_error. An empty document gives *ret == NULL and 0. */
int ynode_parse(const void *data, size_t size, YNode **ret, YNodeError *ret_error);
YNode *ynode_free(YNode *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(YNode *, ynode_free);

bool ynode_is_null(const YNode *n);
const char *ynode_type_to_string(YNodeType t);
/* Mappings: number of key/value pairs, and each pair. */
static inline size_t ynode_n_pairs(const YNode *n) {
        return n->n_items / 2;
}
