#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completion of tomslinkctl, driven as bash would drive it, with a
# stand-in tomslinkctl on PATH for the link names (TAP output).
#   completion.sh COMPLETION
set -u
completion=$1
n=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the stand-in answers "status --json" like the daemon; TOMSLINK_FAKE=down
# makes it unreachable (exit 69), as when tomslinkd is not running
mkdir "$tmp/bin"
cat > "$tmp/bin/tomslinkctl" <<'FAKE'
#!/bin/sh
echo "$*" >> "$TOMSLINK_FAKE_LOG"
[ "${TOMSLINK_FAKE:-}" = down ] && { echo "tomslinkctl: cannot connect" >&2; exit 69; }
[ "$*" = "status --json" ] || [ "$*" = "--socket /tmp/other.sock status --json" ] || exit 2
cat <<'JSON'
{"version":1,"links":[{"name":"district","state":"ok","problems":[],"expires":"2027-03-01T00:00:00-08:00","days_left":98,
"last_probe":{"class":"ok","http_status":200,"error":null,"times_ms":{"dns":1,"connect":2,"tls":5,"total":9}}},
{"name": "lincoln-high","state":"unconfigured","problems":[],"expires":null,"days_left":null,"last_probe":null}]}
JSON
FAKE
chmod +x "$tmp/bin/tomslinkctl"
export PATH="$tmp/bin:$PATH" TOMSLINK_FAKE_LOG="$tmp/log"

# shellcheck disable=SC1090
. "$completion"

expect() {   # expect "WORDS ON THE LINE" "EXPECTED REPLY" [DESCRIPTION]
    local line=$1 want=$2
    read -r -a COMP_WORDS <<< "$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line COMP_POINT=${#line}
    COMPREPLY=()
    _tomslinkctl
    local got
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd ' ')
    want=$(printf '%s\n' $want | sort | paste -sd ' ')
    n=$((n + 1))
    if [[ $got == "$want" ]]; then
        echo "ok $n - '${line}' completes to: ${want:-nothing}${3:+ ($3)}"
    else
        echo "not ok $n - '${line}' completes to '$got', wanted '$want'"
        fail=1
    fi
}

expect "tomslinkctl " "status show probe credential silence unsilence alerts test-email reload check"
expect "tomslinkctl s" "status show silence"
expect "tomslinkctl --" "--socket --json --no-legend --help --version"
expect "tomslinkctl credential " "set rotate history import export-template"
expect "tomslinkctl credential set " "district lincoln-high" "link names from the daemon"
expect "tomslinkctl credential set district --" "--username --generated --socket --help"
expect "tomslinkctl credential rotate li" "lincoln-high"
expect "tomslinkctl show " "district lincoln-high"
expect "tomslinkctl probe --" "--all --json --socket --help"
expect "tomslinkctl --socket /tmp/other.sock silence d" "district" "asks the daemon behind --socket"
expect "tomslinkctl silence district --" "--for --reason --socket --help"
expect "tomslinkctl status --" "--json --socket --help"
expect "tomslinkctl reload " ""
expect "tomslinkctl show district " "" "one link only"
TOMSLINK_FAKE=down expect "tomslinkctl show " "" "daemon unreachable: silently nothing"
n=$((n + 1))
if grep -q "^--socket /tmp/other.sock status --json$" "$tmp/log"; then echo "ok $n - link names asked with the --socket given"; else echo "not ok $n - stand-in log: $(cat "$tmp/log")"; fail=1; fi

echo "1..$n"
exit $fail
