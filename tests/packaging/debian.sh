#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian packaging agrees with the build (TAP output).
#   debian.sh SOURCE_ROOT VERSION
set -u
src=$1 version=$2
n=0 fail=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
d=$src/packaging/debian

v=$(dpkg-parsechangelog -l "$d/changelog" -S Version 2>&1)
[ "$v" = "$version" ] && ok "debian/changelog is at version $version, as meson.build" ||
    bad "debian/changelog is at version '$v', meson.build at $version"

# every library the build links is a build dependency
missing=
for p in $(sed -n "s/.*\['[^']*', '[^']*', '\([^']*\)', '[^']*'\],.*/\1/p" "$src/meson.build"); do
    grep -q "^ $p[ ,]" "$d/control" || missing="$missing $p"
done
[ -z "$missing" ] && ok "debian/control build-depends on every library of meson.build" ||
    bad "debian/control lacks build dependencies:$missing"

echo "1..$n"
exit $fail
