#!/usr/bin/env bash
# Fetch Environment Modules 5 without installing it: Debian's package conflicts with lmod
# in apt, so download the .deb and unpack it into .cache/environment-modules. The tests run
# its modulecmd.tcl with tclsh. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dest="$here/.cache/environment-modules"
if compgen -G "$dest/usr/lib/*/modulecmd.tcl" >/dev/null || [ -f "$dest/usr/lib/modulecmd.tcl" ]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work"   # apt's _apt user writes the download here
(cd "$work" && apt-get download environment-modules >/dev/null)
mkdir -p "$dest"
dpkg -x "$work"/environment-modules_*.deb "$dest"
echo "Environment Modules unpacked into $dest"
