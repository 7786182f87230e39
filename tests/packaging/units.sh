#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The systemd units as built: hardening score, syntax, and the sysusers.d
# file applied by systemd-sysusers to a scratch root (TAP output).
#   units.sh SERVICE SOCKET SYSUSERS SYSCONFDIR TOMSLINKD [TOMSLINKCTL]
set -u
service=$1 socket=$2 sysusers=$3 sysconfdir=$4 tomslinkd=$(realpath "$5") tomslinkctl=${6:+$(realpath "$6")}
n=0 fail=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
diag() { sed 's/^/# /'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. exposure score: at most 1.5 (--threshold is in tenths)
out=$(systemd-analyze security --offline=true --threshold=15 --no-pager "$service" 2>&1); rc=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ "$rc" = 0 ] && [ -n "$score" ]; then
    ok "systemd-analyze security: exposure $score (at most 1.5)"
else
    bad "systemd-analyze security: exposure ${score:-?} above 1.5 (exit $rc)"
    printf '%s\n' "$out" | grep -E '✗|Overall' | diag
fi

# 2. systemd-analyze verify prints nothing. It also checks that the programs
# exist, so the copies verified name the programs of this build.
mkdir "$tmp/units"
reload=$tomslinkctl
if [ -z "$reload" ] || [ ! -x "$reload" ]; then
    reload=/bin/true
    echo "# tomslinkctl is not built yet: ExecReload= verified with /bin/true in its place"
fi
sed -e "s|^ExecStart=[^ ]*tomslinkd|ExecStart=$tomslinkd|" \
    -e "s|^ExecReload=+[^ ]*tomslinkctl|ExecReload=+$reload|" "$service" > "$tmp/units/tomslinkd.service"
cp "$socket" "$tmp/units/tomslinkd.socket"
out=$(cd "$tmp/units" && systemd-analyze verify --man=no ./tomslinkd.service ./tomslinkd.socket 2>&1); rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
    ok "systemd-analyze verify of tomslinkd.service and tomslinkd.socket prints nothing"
else
    bad "systemd-analyze verify of the units (exit $rc)"
    printf '%s\n' "$out" | diag
fi

# 3. the names and files of the specification
missing=
need() {   # need FILE REGEX
    grep -Eq "$2" "$1" || missing="$missing $(basename "$1"):/$2/"
}
need "$service" '^Type=notify$'
need "$service" '^NotifyAccess=main$'
need "$service" '^WatchdogSec=[1-9]'
need "$service" '^User=tomslink$'
need "$service" '^Group=tomslink$'
need "$service" '^StateDirectory=tomslink$'
need "$service" '^RuntimeDirectory=tomslink$'
need "$service" '^ConfigurationDirectory=tomslink$'
need "$socket" '^ListenSequentialPacket=.*/tomslink/control\.sock$'
need "$socket" '^SocketUser=tomslink$'
need "$socket" '^SocketGroup=tomslink$'
need "$socket" '^SocketMode=0660$'
if [ -z "$missing" ]; then ok "the units carry the names of the specification"; else bad "the units lack:$missing"; fi

# 4. the unit starts tomslinkd on the configuration it was built for: the
# daemon's default is sysconfdir/tomslink/tomslink.yaml, the unit's
# ConfigurationDirectory= is /etc/tomslink
want=$sysconfdir/tomslink/tomslink.yaml
default=$("$tomslinkd" --help | sed -n 's/.*(default \(.*\.yaml\)).*/\1/p')
exec_start=$(sed -n 's/^ExecStart=//p' "$service")
args=
case $exec_start in *" "*) args=${exec_start#* } ;; esac
if [ "$default" != "$want" ]; then
    bad "tomslinkd's default configuration is '$default', not $want"
elif [ "$sysconfdir" = /etc ] && [ -z "$args" ]; then
    ok "the unit runs tomslinkd with its default configuration $want"
elif [ "$sysconfdir" != /etc ] && [ "$args" = "--config=$want" ]; then
    ok "the unit passes --config=$want to tomslinkd (sysconfdir is not /etc)"
else
    bad "ExecStart=$exec_start does not match the configuration $want"
fi

# 5. systemd-sysusers creates user and group tomslink
mkdir -p "$tmp/root/etc" "$tmp/root/usr/lib/sysusers.d"
cp "$sysusers" "$tmp/root/usr/lib/sysusers.d/tomslink.conf"
out=$(systemd-sysusers --root="$tmp/root" 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -q '^tomslink:x:[0-9]*:[0-9]*:TOMS link monitor:/var/lib/tomslink:/usr/sbin/nologin$' "$tmp/root/etc/passwd" &&
   grep -q '^tomslink:x:' "$tmp/root/etc/group"; then
    ok "systemd-sysusers creates system user and group tomslink"
else
    bad "systemd-sysusers (exit $rc)"
    { printf '%s\n' "$out"; cat "$tmp/root/etc/passwd" "$tmp/root/etc/group" 2>/dev/null; } | diag
fi
uid=$(sed -n 's/^tomslink:x:\([0-9]*\):.*/\1/p' "$tmp/root/etc/passwd")
if [ -n "$uid" ] && [ "$uid" -lt 1000 ]; then ok "user tomslink is a system user (uid $uid)"; else bad "uid of tomslink is '$uid'"; fi

echo "1..$n"
exit $fail
