#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The Prometheus alerting rules (packaging/prometheus) with the real
# promtool: they load and lint clean, their unit tests pass, and every
# metric they use is one that tomslinkd writes (lib/metrics.c). TAP output.
#   prometheus-rules.sh SOURCE_ROOT
set -u
src=$1
dir=$src/packaging/prometheus
n=0 fail=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done; fail=1; }

if ! command -v promtool >/dev/null 2>&1; then
    echo "1..0 # SKIP promtool not installed (apt-get install prometheus)"
    exit 0
fi

out=$(promtool check rules --lint=all --lint-fatal "$dir/tomslink.rules.yml" 2>&1) &&
    ok "promtool check rules --lint=all: $(echo "$out" | grep -o '[0-9]* rules found')" ||
    bad "promtool check rules" "$out"

# promtool resolves rule_files: relative to the test file's directory
out=$(cd "$dir" && promtool test rules tomslink.rules.test.yml 2>&1) &&
    ok "promtool test rules: every rule firing and not firing" ||
    bad "promtool test rules" "$out"

# every rule has a test that expects it to fire
missing=
for a in $(sed -n 's/^ *- alert: *//p' "$dir/tomslink.rules.yml"); do
    grep -q "alertname: $a\$" "$dir/tomslink.rules.test.yml" || { missing="$missing $a"; continue; }
    awk -v a="$a" '$0 ~ "alertname: " a "$" { f = 1; next } f && /exp_alerts: *\[\]/ { f = 0 } f && /exp_labels:/ { found = 1 } /alertname:/ { f = 0 } END { exit !found }' \
        "$dir/tomslink.rules.test.yml" || missing="$missing $a(never-fires)"
done
[ -z "$missing" ] && ok "every rule has a test where it fires" || bad "rules without a firing test:$missing"

# the metrics the rules use exist
unknown=
for m in $(grep -v '^ *#' "$dir/tomslink.rules.yml" | grep -o 'tomslink_[a-z_]*' | sort -u); do
    grep -q "\"$m\"" "$src/lib/metrics.c" || unknown="$unknown $m"
done
[ -z "$unknown" ] && ok "every metric the rules use is written by tomslinkd" || bad "unknown metrics in the rules:$unknown"

echo "1..$n"
exit $fail
