/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The configuration model (tomslink.yaml(5)) and its loader. */

#include "time-util.h"
#include "tz.h"

#define CONFIG_FILE_SIZE_MAX (16U * 1024U * 1024U)
#define CONFIG_ERRORS_MAX 200

typedef enum ProbeMethod {
        PROBE_METHOD_GET,
        PROBE_METHOD_HEAD,
        PROBE_METHOD_POST,
        _PROBE_METHOD_MAX,
        _PROBE_METHOD_INVALID = -EINVAL,
} ProbeMethod;

typedef enum ProbeAuth {
        PROBE_AUTH_BASIC,
        PROBE_AUTH_BEARER,
        PROBE_AUTH_OAUTH2,
        PROBE_AUTH_HEADER,
        _PROBE_AUTH_MAX,
        _PROBE_AUTH_INVALID = -EINVAL,
} ProbeAuth;

typedef enum StartTls {
        STARTTLS_REQUIRED,
        STARTTLS_OPTIONAL,
        STARTTLS_OFF,
        _STARTTLS_MAX,
        _STARTTLS_INVALID = -EINVAL,
} StartTls;

/* HTTP statuses 100..599 as a bit set */
typedef struct StatusSet {
        uint64_t bits[10];
} StatusSet;

static inline bool status_set_contains(const StatusSet *s, long status) {
        return status >= 0 && status < 640 && (s->bits[status / 64] >> (status % 64)) & 1;
}
static inline void status_set_add(StatusSet *s, unsigned status) {
        if (status < 640)
                s->bits[status / 64] |= UINT64_C(1) << (status % 64);
}

/* Probe settings: the defaults under probe:, inherited and overridden per link. */
typedef struct ProbeSettings {
        usec_t interval;
        usec_t timeout;
        usec_t connect_timeout;
        unsigned failures_before_alert;
        bool reuse_connections;
        bool follow_redirects;
        char *ca_file;          /* NULL: libcurl's built-in trust store */
        ProbeMethod method;
        ProbeAuth auth;
        char *auth_header;      /* auth: header */
        char *token_url;        /* auth: oauth2 */
        StatusSet expect_status;
        usec_t lifetime;        /* of a credential from its generation */
} ProbeSettings;

typedef struct LinkConfig {
        char *name;
        char *cds_code;         /* or NULL */
        char *url;
        char *host;             /* host:port of url, for per-host limits */
        ProbeSettings probe;
        char **email_to;        /* strv, may be NULL */
        char **consumers;       /* strv, may be NULL */
        unsigned line;
} LinkConfig;

typedef struct MaintenanceWindow {
        char *name;
        usec_t start, end;      /* [start, end) */
        char **links;           /* strv of link names; NULL means every link */
} MaintenanceWindow;

typedef struct EmailConfig {
        bool enabled;
        char **smtp_urls;       /* tried in order */
        StartTls starttls;
        char *username;         /* or NULL */
        char *password_file;    /* or NULL: systemd credential tomslink.smtp */
        char *from;             /* as written: "Name <addr>" or addr */
        char *from_name;        /* display name or NULL */
        char *from_address;
        char **to;
        char *ca_file;
        usec_t timeout;
} EmailConfig;

typedef struct Config {
        char *path;
        char *timezone;         /* as configured, or NULL for the system zone */
        Tz *tz;

        char *state_directory;  /* each NULL when not configured */
        char *runtime_directory;
        char *key_file;

        ProbeSettings probe;
        unsigned max_parallel;
        unsigned per_host_parallel;

        unsigned *expiry_warn_days;     /* sorted descending, unique */
        size_t n_expiry_warn_days;
        usec_t repeat;
        unsigned *cert_warn_days;       /* sorted descending, unique */
        size_t n_cert_warn_days;

        EmailConfig email;
        char *metrics_textfile;

        MaintenanceWindow *maintenance;
        size_t n_maintenance;

        LinkConfig *links;
        size_t n_links;
        LinkConfig **links_by_name;     /* sorted by name, for lookups */
} Config;

/* Loads and validates a configuration. On -EINVAL (the file is wrong) or
 * another error (it could not be read), every problem found is in
 * *ret_errors as "file:line:column: key: message" lines (a strv). tzdir
 * NULL means the system zone database. */
int config_load_file(const char *path, const char *tzdir, Config **ret, char ***ret_errors);
int config_load_string(const char *name, const void *data, size_t size, const char *tzdir,
                       Config **ret, char ***ret_errors);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

const LinkConfig *config_find_link(const Config *c, const char *name);
/* "3 links, e-mail on (2 recipients), 1 maintenance window, time zone America/Los_Angeles" */
char *config_summary(const Config *c);
/* Whether the settings that decide how a link is probed differ. */
bool link_config_probe_equal(const LinkConfig *a, const LinkConfig *b);

const char *probe_method_to_string(ProbeMethod m);
ProbeMethod probe_method_from_string(const char *s);
const char *probe_auth_to_string(ProbeAuth a);
ProbeAuth probe_auth_from_string(const char *s);
const char *starttls_to_string(StartTls s);
StartTls starttls_from_string(const char *s);
