#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The journal catalog: compiled by journalctl into a scratch root, one entry
# with a real Subject for every MESSAGE_ID of lib/alert.h (TAP output).
#   catalog.sh CATALOG ALERT_H
set -u
catalog=$1 alert_h=$2
n=0 fail=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/usr/lib/systemd/catalog"
cp "$catalog" "$tmp/usr/lib/systemd/catalog/tomslink.catalog"
if out=$(journalctl --root="$tmp" --update-catalog 2>&1) && [ -s "$tmp/var/lib/systemd/catalog/database" ]; then
    ok "journalctl --update-catalog compiles tomslink.catalog"
else
    bad "journalctl --update-catalog: $out"
fi
journalctl --root="$tmp" --list-catalog > "$tmp/list" 2>&1

ids=$(sed -n 's/^#define ALERT_MESSAGE_ID_\([A-Z_]*\) *"\([0-9a-f]\{32\}\)".*/\1=\2/p' "$alert_h")
[ "$(printf '%s\n' "$ids" | grep -c .)" = 7 ] || bad "lib/alert.h defines 7 MESSAGE_IDs, found: $ids"
for kv in $ids; do
    kind=${kv%%=*} id=${kv#*=}
    line=$(grep "^$id " "$tmp/list")
    subject=${line#* tomslink: }
    entry=$(journalctl --root="$tmp" --dump-catalog "$id" 2>&1)
    if [ -z "$line" ]; then
        bad "$kind: no catalog entry for $id"
    elif [ "$subject" = "$line" ] || [ -z "$subject" ] || printf '%s' "$line" | grep -q 'n/a'; then
        bad "$kind: entry $id has no Subject (or no Defined-By: tomslink): $line"
    elif ! printf '%s\n' "$entry" | grep -qx 'Support: man:tomslinkd(8)'; then
        bad "$kind: entry $id lacks 'Support: man:tomslinkd(8)'"
    elif [ "$(printf '%s\n' "$entry" | wc -l)" -lt 8 ]; then
        bad "$kind: entry $id has no explanation"
    else
        ok "$kind: $subject"
    fi
done

# no other entries, and only the journal fields tomslinkd writes
extra=$(grep -v -E "^($(printf '%s\n' "$ids" | sed 's/.*=//' | paste -sd '|')) " "$tmp/list")
[ -z "$extra" ] && ok "no entries other than the alert kinds" || bad "unexpected entries: $extra"
fields=$(grep -o '@[A-Z_]*@' "$catalog" | sort -u | grep -v -E '^@TOMSLINK_(LINK|ALERT|DAYS_LEFT|EXPIRES|FAILURE|HTTP_STATUS)@$')
[ -z "$fields" ] && ok "placeholders name only tomslinkd's journal fields" || bad "unknown placeholders: $fields"

echo "1..$n"
exit $fail
