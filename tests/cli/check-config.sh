#!/bin/sh
# tomslinkd --check-config, --version, --help and bad arguments: output and exit codes.
set -u
D=$1; SRC=$2
fail=0; n=0
t() {   # t NAME EXPECTED_RC CMD... ; output in $out
    name=$1; want=$2; shift 2
    n=$((n + 1))
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" = "$want" ]; then echo "ok $n - $name"; else echo "not ok $n - $name (exit $rc, wanted $want)"; echo "$out" | sed 's/^/# /'; fail=1; fi
}
has() {   # has NAME TEXT
    n=$((n + 1))
    if printf '%s\n' "$out" | grep -qF -- "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1: no \"$2\" in:"; echo "$out" | sed 's/^/# /'; fail=1; fi
}

t "bundled example is valid" 0 "$D" --check-config --config "$SRC/config/tomslink.yaml"
has "says configuration OK" "configuration OK"
has "one-line summary" "2 links, e-mail off (journal only), 1 maintenance window, time zone America/Los_Angeles"

t "three errors give exit 78" 78 "$D" --check-config -c "$SRC/tests/configs/bad/three-errors.yaml"
has "unknown key with position" "three-errors.yaml:6:3: probe.retries: unknown key"
has "bad duration with position" "three-errors.yaml:7:12: probe.timeout: expected a duration like 20s, got \"20 seconds\""
has "duplicate link with position" "three-errors.yaml:11:11: links.name: duplicate link name \"district\" (first defined at line 9)"
has "error count" "configuration invalid: 3 errors"

t "missing file gives exit 78" 78 "$D" --check-config --config /nonexistent/tomslink.yaml
has "names the file" "/nonexistent/tomslink.yaml: cannot read: No such file or directory"

t "--version" 0 "$D" --version
has "version string" "tomslinkd "
t "--help" 0 "$D" --help
has "help mentions --check-config" "--check-config"
t "unknown option is a usage error" 64 "$D" --no-such-option
t "stray argument is a usage error" 64 "$D" --check-config extra

echo "1..$n"
exit $fail
