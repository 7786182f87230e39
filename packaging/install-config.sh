#!/bin/sh
# meson install script: install-config.sh EXAMPLE DIR
# Installs the example configuration as DIR/tomslink.yaml (under $DESTDIR)
# unless a file of that name exists: an administrator's configuration is
# never replaced.
set -eu
src=$1
dir=${DESTDIR:-}$2
[ -n "${MESON_INSTALL_DRY_RUN:-}" ] && exit 0
if [ -e "$dir/tomslink.yaml" ]; then
    echo "Keeping the existing $dir/tomslink.yaml"
    exit 0
fi
install -d -m 0755 "$dir"
install -m 0644 "$src" "$dir/tomslink.yaml"
echo "Installing $src to $dir/tomslink.yaml"
