#!/bin/sh
# run.sh BUILD_DIR SOURCE_DIR NAME: runs tests/faults/NAME.py as root inside
# a private mount namespace with its own journald (tests/lib/with-journald.sh),
# so that the test may mount a small file system over the state directory.
set -eu
BUILD=$1; SRC=$2; NAME=$3
if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (private mounts, a private journald)"
    exit 0
fi
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
PYTHONPATH="$SRC/tests/faults" PYTHONDONTWRITEBYTECODE=1 \
    "$SRC/tests/lib/with-journald.sh" "$D" /usr/bin/python3 "$SRC/tests/faults/$NAME.py" "$BUILD" "$SRC"
