#!/usr/bin/env bash
# `make deb`'s package: built from the given binary into a temp dir, then read back with
# dpkg-deb -c / -I / -x — the files a DBA needs are there, Depends names every package whose
# library the binary loads, /etc/sluice/pooler.ini is a conffile, and the packaged binary
# accepts the packaged configuration (sluice --check, auth_file pointed at the example userlist
# through SLUICE_AUTH_FILE).
# usage: check_deb.sh BINARY SOURCE_DIR        exit 77: skipped (no dpkg-deb)
set -uo pipefail

binary=$1
repo=$2
command -v dpkg-deb >/dev/null || { echo "SKIP: dpkg-deb not found"; exit 77; }
command -v dpkg >/dev/null || { echo "SKIP: dpkg not found"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-debtest.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

deb=$("$repo/scripts/make_deb.sh" "$binary" "$work" | tail -n 1) || { echo "FAIL: make_deb.sh failed"; exit 1; }
[[ -f "$deb" ]] || { echo "FAIL: no package at '$deb'"; exit 1; }

contents=$(dpkg-deb -c "$deb") || { echo "FAIL: dpkg-deb -c"; exit 1; }
for path in ./usr/bin/sluice ./usr/share/man/man1/sluice.1.gz ./usr/share/man/man5/pooler.ini.5.gz \
    ./lib/systemd/system/sluice.service ./lib/systemd/system/sluice.socket ./etc/sluice/pooler.ini ./usr/share/doc/sluice/copyright \
    ./usr/share/doc/sluice/examples/userlist.txt; do
    grep -q " $path\$" <<<"$contents" || fail "$path is not in the package"
done
grep -q '^-rwxr-xr-x root/root .* ./usr/bin/sluice$' <<<"$contents" || fail "usr/bin/sluice is not root-owned 0755"

depends=$(dpkg-deb -f "$deb" Depends)
for package in $("$repo/scripts/runtime_packages.sh" "$binary"); do
    [[ ", $depends," == *", $package,"* || ", $depends," == *", $package ("* ]] || fail "Depends lacks $package (the binary loads a library of it): $depends"
done
[[ $(dpkg-deb -f "$deb" Package) == sluice ]] || fail "Package is not sluice"
version=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is not $version"
[[ $(dpkg-deb -f "$deb" Architecture) == $(dpkg --print-architecture) ]] || fail "wrong Architecture"

dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/sluice/pooler.ini "$work/control/conffiles" || fail "/etc/sluice/pooler.ini is not a conffile"
sh -n "$work/control/postinst" || fail "postinst is not valid sh"

dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/sluice" --version | grep -q "Sluice $version" || fail "the packaged binary does not run"
check=$(SLUICE_AUTH_FILE="$work/root/usr/share/doc/sluice/examples/userlist.txt" \
    "$work/root/usr/bin/sluice" --check "$work/root/etc/sluice/pooler.ini" 2>&1) ||
    fail "sluice --check of the packaged pooler.ini: $check"
grep -qx 'unix_socket_dir = /run/sluice' "$work/root/etc/sluice/pooler.ini" || fail "packaged ini keeps the socket in /tmp"
zcat "$work/root/usr/share/man/man1/sluice.1.gz" | grep -q '^\.SH ENVIRONMENT' || fail "sluice.1 is not the man page"

if ((failures == 0)); then
    echo "deb: ok: $(basename "$deb"), Depends: $depends"
    exit 0
fi
exit 1
