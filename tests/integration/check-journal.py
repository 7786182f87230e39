#!/usr/bin/python3
"""Checks the journal entries written by tests/journal-send.c (TAP output)."""
import json, re, sys

entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = dict(re.findall(r'#define ALERT_MESSAGE_ID_(\w+)\s+"([0-9a-f]{32})"', open(sys.argv[2]).read()))
kind_id = {k.lower().replace("_", "-"): v for k, v in ids.items()}
n = 0
failed = False

def check(cond, what):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok"), n, "-", what)
    if not cond:
        failed = True

def value(e, k):
    v = e.get(k)
    if isinstance(v, list):   # a field with a non-UTF-8 or binary value
        v = bytes(v).decode()
    return v

check(len(entries) == 10, "10 entries read back (got %d)" % len(entries))
check(len(kind_id) == 7, "7 message ids in alert.h")
expect = [
    # kind, priority, fields that must be there, fields that must not
    ("credential-expiring", "4", {"TOMSLINK_DAYS_LEFT": "7", "TOMSLINK_EXPIRES": "2027-03-01T10:00:00-08:00",
                                  "TOMSLINK_THRESHOLD": "7", "TOMSLINK_GENERATION": "3"}, ["TOMSLINK_FAILURE"]),
    ("credential-expiring", "3", {"TOMSLINK_DAYS_LEFT": "3"}, []),
    ("credential-expired", "3", {"TOMSLINK_DAYS_LEFT": "-2", "TOMSLINK_EXPIRES": "2027-03-01T10:00:00-08:00",
                                 "TOMSLINK_REMINDER": "1"}, ["TOMSLINK_THRESHOLD"]),
    ("auth-rejected", "3", {"TOMSLINK_FAILURE": "auth", "TOMSLINK_HTTP_STATUS": "401",
                            "TOMSLINK_SINCE": "2027-02-20T08:30:00-08:00", "TOMSLINK_FAILURES": "2"}, ["TOMSLINK_DAYS_LEFT"]),
    ("link-down", "3", {"TOMSLINK_FAILURE": "timeout",
                        "TOMSLINK_ERROR": "Operation timed out after 20001 milliseconds\nwith 0 bytes received"},
     ["TOMSLINK_HTTP_STATUS"]),
    ("link-recovered", "5", {"TOMSLINK_FAILURE": "auth", "TOMSLINK_HTTP_STATUS": "401"}, []),
    ("endpoint-cert-expiring", "4", {"TOMSLINK_DAYS_LEFT": "10", "TOMSLINK_THRESHOLD": "14",
                                     "TOMSLINK_CERT_SHA256": "ab12", "TOMSLINK_CERT_SUBJECT": "CN=toms.example"}, []),
    ("mail-undeliverable", "3", {"TOMSLINK_ERROR": "451 4.3.0 Try again later"}, []),
    ("link-down", "6", {"TOMSLINK_HELD": "1", "TOMSLINK_HTTP_STATUS": "503", "TOMSLINK_FAILURE": "http"}, []),
    ("credential-expiring", "4", {"TOMSLINK_LINK": "lincoln-high", "TOMSLINK_CDS_CODE": "19647331932342",
                                  "TOMSLINK_DAYS_LEFT": "60"}, []),
]
for i, (kind, prio, fields, absent) in enumerate(expect):
    e = entries[i] if i < len(entries) else {}
    check(value(e, "MESSAGE_ID") == kind_id.get(kind), "%d %s: MESSAGE_ID" % (i, kind))
    check(value(e, "PRIORITY") == prio, "%d %s: PRIORITY %s (got %s)" % (i, kind, prio, value(e, "PRIORITY")))
    check(value(e, "TOMSLINK_ALERT") == kind, "%d %s: TOMSLINK_ALERT" % (i, kind))
    check(value(e, "SYSLOG_IDENTIFIER") == "tomslinkd", "%d %s: SYSLOG_IDENTIFIER" % (i, kind))
    check(value(e, "TOMSLINK_LINK") == fields.get("TOMSLINK_LINK", "district"), "%d %s: TOMSLINK_LINK" % (i, kind))
    check(value(e, "_TRANSPORT") == "journal", "%d %s: native journal protocol" % (i, kind))
    check(value(e, "MESSAGE", ) and value(e, "MESSAGE").startswith(fields.get("TOMSLINK_LINK", "district") + ": "),
          "%d %s: MESSAGE is the summary" % (i, kind))
    for k, v in fields.items():
        check(value(e, k) == v, "%d %s: %s=%r (got %r)" % (i, kind, k, v, value(e, k)))
    for k in absent:
        check(k not in e, "%d %s: no %s" % (i, kind, k))
check(entries and entries[0].get("MESSAGE") == "district: SIS credential expires in 7 days (2027-03-01)",
      "the subject-style summary of SPEC")
open(sys.argv[3], "w").write("%d\n" % n)
sys.exit(1 if failed else 0)
