#!/bin/sh
# Runs daemon-e2e.py inside a private mount namespace with its own journald.
# Needs root (mounts, and clients that drop to other uids).
set -eu
BUILD=$1; SRC=$2
if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (private mounts, clients under other uids)"
    exit 0
fi
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
"$SRC/tests/lib/with-journald.sh" "$D" /usr/bin/python3 "$SRC/tests/integration/daemon-e2e.py" "$BUILD" "$SRC"
