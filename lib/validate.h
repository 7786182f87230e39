/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Checks for the names and addresses that come from users. */

#include "macro.h"

#define LINK_NAME_MAX 63

/* [a-z0-9-], 1..63 characters, starting and ending with a letter or digit */
bool link_name_is_valid(const char *s);
/* 14 digits: County-District-School code */
bool cds_code_is_valid(const char *s);
/* local@domain, printable ASCII without spaces, quotes, angle brackets or
 * commas; the domain a dotted host name (or a bracketed literal). */
bool email_address_is_valid(const char *s);
/* "Name <addr>" or "addr". Returns 0 and the parts (display name may be
 * NULL); -EINVAL when malformed or containing control characters. */
int email_from_parse(const char *s, char **ret_name, char **ret_addr);
/* No control characters at all (CR, LF, NUL, DEL, ...); UTF-8 allowed. */
bool string_is_safe(const char *s);
/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
bool utf8_is_valid(const char *s, size_t n);
/* The length of the longest valid UTF-8 prefix: n when all of s is valid. */
size_t utf8_valid_prefix(const char *s, size_t n);
bool string_is_ascii(const char *s);
/* A name HTTP accepts as a header field name (RFC 9110 token). */
bool http_header_name_is_valid(const char *s);
/* True for localhost, an address in 127.0.0.0/8 and ::1, as written in a
 * URL host; a name that merely starts with "127." is not. */
bool host_is_loopback(const char *host);
