/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#include "strbuf.h"

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool link_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > LINK_NAME_MAX || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

bool cds_code_is_valid(const char *s) {
        if (!s || strlen(s) != 14)
                return false;
        for (size_t i = 0; i < 14; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static bool domain_is_valid(const char *d) {
        size_t n = strlen(d), label = 0;
        if (n == 0 || n > 253)
                return false;
        if (d[0] == '[')
                return d[n - 1] == ']' && n > 2 && strspn(d + 1, "0123456789abcdefABCDEF.:IPv6") == n - 2;
        for (size_t i = 0; i < n; i++) {
                char c = d[i];
                if (c == '.') {
                        if (label == 0 || d[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!(isalnum((unsigned char) c) || (c == '-' && label > 0)) || ++label > 63)
                        return false;
        }
        return label > 0 && d[n - 1] != '-';
}

bool email_address_is_valid(const char *s) {
        if (!s || strlen(s) > 254)
                return false;
        const char *at = strrchr(s, '@');
        if (!at || at == s || at - s > 64)
                return false;
        for (const char *p = s; p < at; p++) {
                unsigned char c = (unsigned char) *p;
                if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>@[\\]", c))
                        return false;
        }
        if (s[0] == '.' || at[-1] == '.' || strstr(s, ".."))
                return false;
        return domain_is_valid(at + 1);
}

bool string_is_safe(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return utf8_is_valid(s, strlen(s));
}

bool string_is_ascii(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p >= 0x80)
                        return false;
        return true;
}

size_t utf8_valid_prefix(const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *) str;
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t len;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return i;
                if (i + len > n)
                        return i;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return i;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return i;
                i += len;
        }
        return n;
}

bool utf8_is_valid(const char *s, size_t n) {
        return utf8_valid_prefix(s, n) == n;
}

int email_from_parse(const char *s, char **ret_name, char **ret_addr) {
        _cleanup_free_ char *name = NULL, *addr = NULL;
        if (!s || !string_is_safe(s))
                return -EINVAL;
        const char *lt = strrchr(s, '<');
        if (lt) {
                const char *gt = strchr(lt, '>');
                if (!gt || gt[1] != '\0')
                        return -EINVAL;
                addr = strndup(lt + 1, (size_t) (gt - lt - 1));
                /* the display name, trimmed, without surrounding quotes */
                const char *b = s, *e = lt;
                while (b < e && *b == ' ')
                        b++;
                while (e > b && e[-1] == ' ')
                        e--;
                if (e - b >= 2 && *b == '"' && e[-1] == '"') {
                        b++;
                        e--;
                }
                if (e > b) {
                        if (memchr(b, '"', (size_t) (e - b)) || memchr(b, '<', (size_t) (e - b)) ||
                            memchr(b, '>', (size_t) (e - b)))
                                return -EINVAL;
                        name = strndup(b, (size_t) (e - b));
                        if (!name)
                                return -ENOMEM;
                }
        } else
                addr = strdup(s);
        if (!addr)
                return -ENOMEM;
        if (!email_address_is_valid(addr))
                return -EINVAL;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        if (ret_addr)
                *ret_addr = TAKE_PTR(addr);
        return 0;
}

bool http_header_name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 128)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("!#$%&'*+-.^_`|~", *p))
                        return false;
        return true;
}

bool host_is_loopback(const char *host) {
        if (!host)
                return false;
        /* 127.0.0.0/8 only as an address: "127.mail.example" is a name
         * that may resolve anywhere */
        struct in_addr a;
        if (inet_pton(AF_INET, host, &a) == 1)
                return (ntohl(a.s_addr) >> 24) == 127;
        return strcasecmp(host, "localhost") == 0 || streq(host, "::1") || streq(host, "[::1]");
}
