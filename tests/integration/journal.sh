#!/bin/sh
# The journal sink against a real systemd-journald in a private namespace:
# every alert kind's entry is read back with journalctl -o json and its
# MESSAGE_ID, PRIORITY and TOMSLINK_* fields checked. Then, with no
# journald, the sink reports failure and the fallback lines appear.
set -eu
SEND=$1; SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$SRC/tests/lib/with-journald.sh" "$T/j" sh -c "
    '$SEND' >'$T/send.out'
    journalctl --sync
    journalctl -o json SYSLOG_IDENTIFIER=tomslinkd >'$T/entries.json'
"
/usr/bin/python3 "$SRC/tests/integration/check-journal.py" "$T/entries.json" "$SRC/lib/alert.h" "$T/count"
n=$(($(cat "$T/count") + 1))
if "$SRC/tests/lib/without-journald.sh" "$SEND" --fallback 2>"$T/fallback.err" >/dev/null; then
    echo "ok $n - without journald the sink fails and the fallback is written"
else
    echo "not ok $n - the sink did not report the missing journal"; cat "$T/fallback.err" | sed 's/^/# /'; exit 1
fi
n=$((n + 1))
if grep -qx '<4>district: SIS credential expires in 7 days (2027-03-01) \[credential-expiring\]' "$T/fallback.err" &&
   grep -qx '<6>district: TOMS endpoint unreachable after 3 failed probes (http 503) \[link-down\]' "$T/fallback.err"; then
    echo "ok $n - fallback lines carry the priority and the summary"
else
    echo "not ok $n - fallback lines"; sed 's/^/# /' "$T/fallback.err"; exit 1
fi
echo "1..$n"
