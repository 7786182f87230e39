#!/bin/sh
# with-journald.sh DIR CMD [ARG...]
# Runs CMD in a private mount namespace with its own systemd-journald, so
# that sd_journal_send() and journalctl inside CMD use only that journal.
# The journal files stay in DIR/log afterwards. Root: a mount namespace;
# otherwise a user namespace too. CATALOG_DIR (optional) holds *.catalog
# files compiled for journalctl -x inside.
set -eu
if [ -z "${WITH_JOURNALD_INNER:-}" ]; then
    [ "$(id -u)" = 0 ] && U="" || U="--user --map-root-user"
    exec env WITH_JOURNALD_INNER=1 unshare $U --mount --propagation private -- "$0" "$@"
fi
unset WITH_JOURNALD_INNER
D=$(realpath "$1"); shift
mkdir -p "$D/log" /run/systemd/journal /run/log /var/log/journal
mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal
mount --bind "$D/log" /run/log
mount -t tmpfs -o mode=2755 tmpfs /var/log/journal
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\nForwardToSyslog=no\nForwardToWall=no\nForwardToConsole=no\n' > "$D/journald.conf"
mount --bind "$D/journald.conf" /etc/systemd/journald.conf
if [ -n "${CATALOG_DIR:-}" ]; then
    mkdir -p /var/lib/systemd/catalog
    mount -t tmpfs tmpfs /var/lib/systemd/catalog
    mount --bind "$(realpath "$CATALOG_DIR")" /usr/lib/systemd/catalog
    journalctl --update-catalog
fi
/lib/systemd/systemd-journald >"$D/journald.stderr" 2>&1 &
JPID=$!
trap 'kill $JPID 2>/dev/null; wait $JPID 2>/dev/null || true' EXIT INT TERM
i=0
until [ -S /run/systemd/journal/socket ]; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "journald did not start" >&2; cat "$D/journald.stderr" >&2; exit 1; }
    sleep 0.05
done
rc=0; "$@" || rc=$?
journalctl --sync 2>/dev/null || true
exit $rc
