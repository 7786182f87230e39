/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ynode.h"

#include <stdarg.h>
#include <stdio.h>
#include <yaml.h>

YNode *ynode_free(YNode *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_items; i++)
                ynode_free(n->items[i]);
        free(n->items);
        free(n->value);
        return mfree(n);
}

bool ynode_is_null(const YNode *n) {
        if (!n)
                return true;
        if (n->type != YNODE_SCALAR || !n->plain)
                return false;
        return n->length == 0 || streq(n->value, "~") || streq(n->value, "null") ||
               streq(n->value, "Null") || streq(n->value, "NULL");
}

const char *ynode_type_to_string(YNodeType t) {
        switch (t) {
        case YNODE_SCALAR:
                return "a scalar";
        case YNODE_SEQUENCE:
                return "a list";
        case YNODE_MAPPING:
                return "a mapping";
        default:
                return "nothing";
        }
}

static int ynode_append(YNode *parent, YNode *child) {
        if ((parent->n_items & (parent->n_items - 1)) == 0) {   /* grow at powers of two */
                size_t cap = parent->n_items ? parent->n_items * 2 : 4;
                YNode **items = realloc(parent->items, cap * sizeof(YNode *));
                if (!items)
                        return -ENOMEM;
                parent->items = items;
        }
        parent->items[parent->n_items++] = child;
        return 0;
}

static void set_error(YNodeError *e, unsigned line, unsigned column, const char *fmt, ...) _printf_(4, 5);
static void set_error(YNodeError *e, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;
        e->line = line;
        e->column = column;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
}

int ynode_parse(const void *data, size_t size, YNode **ret, YNodeError *ret_error) {
        yaml_parser_t parser;
        YNode *stack[YNODE_DEPTH_MAX + 1];
        size_t depth = 0, count = 0;
        unsigned documents = 0;
        _cleanup_(ynode_freep) YNode *root = NULL;
        YNodeError err = {};
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, data, size);
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        for (bool done = false; !done;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(&parser, &ev)) {
                        set_error(&err, (unsigned) parser.problem_mark.line + 1,
                                  (unsigned) parser.problem_mark.column + 1, "%s",
                                  parser.problem ?: "invalid YAML");
                        if (parser.context) {
                                size_t l = strlen(err.message);
                                snprintf(err.message + l, sizeof err.message - l, " (%s)", parser.context);
                        }
                        r = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
                        break;
                }
                unsigned line = (unsigned) ev.start_mark.line + 1, col = (unsigned) ev.start_mark.column + 1;
                YNode *n = NULL;

                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++documents > 1) {
                                set_error(&err, line, col, "%s",
                                          "more than one YAML document in the file (a second \"---\")");
                                r = -EINVAL;
                        }
                        break;
                case YAML_ALIAS_EVENT:
                        set_error(&err, line, col,
                                  "alias *%s: aliases are not supported (put shared settings under probe:)",
                                  (const char *) ev.data.alias.anchor);
                        r = -EINVAL;
                        break;
                case YAML_SCALAR_EVENT:
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        if (++count > YNODE_COUNT_MAX) {
                                set_error(&err, line, col, "%s", "document has too many nodes");
                                r = -EINVAL;
                                break;
                        }
                        n = calloc(1, sizeof(YNode));
                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        n->line = line;
                        n->column = col;
                        if (ev.type == YAML_SCALAR_EVENT) {
                                n->type = YNODE_SCALAR;
                                n->length = ev.data.scalar.length;
                                n->value = malloc(n->length + 1);
                                if (!n->value) {
                                        ynode_free(n);
                                        r = -ENOMEM;
                                        break;
                                }
                                memcpy(n->value, ev.data.scalar.value, n->length);
                                n->value[n->length] = '\0';
                                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        } else
                                n->type = ev.type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQUENCE : YNODE_MAPPING;

                        if (depth == 0) {
                                ynode_free(root);
                                root = n;
                        } else if (ynode_append(stack[depth - 1], n) < 0) {
                                ynode_free(n);
                                r = -ENOMEM;
                                break;
                        }
                        if (n->type != YNODE_SCALAR) {
                                if (depth >= YNODE_DEPTH_MAX) {
                                        set_error(&err, line, col, "nesting deeper than %d levels", YNODE_DEPTH_MAX);
                                        r = -EINVAL;
                                        break;
                                }
                                stack[depth++] = n;
                        }
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        if (depth > 0)
                                depth--;
                        break;
                default:
                        break;
                }
                yaml_event_delete(&ev);
                if (r < 0)
                        break;
        }
        yaml_parser_delete(&parser);
        if (r < 0) {
                if (ret_error)
                        *ret_error = err;
                return r;
        }
        *ret = TAKE_PTR(root);
        return 0;
}
