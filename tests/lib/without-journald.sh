#!/bin/sh
# without-journald.sh CMD [ARG...]
# Runs CMD where no journald listens: an empty /run/systemd/journal.
set -eu
if [ -z "${WITHOUT_JOURNALD_INNER:-}" ]; then
    [ "$(id -u)" = 0 ] && U="" || U="--user --map-root-user"
    exec env WITHOUT_JOURNALD_INNER=1 unshare $U --mount --propagation private -- "$0" "$@"
fi
unset WITHOUT_JOURNALD_INNER
mkdir -p /run/systemd/journal
mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal
exec "$@"
