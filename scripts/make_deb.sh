#!/usr/bin/env bash
# `make deb`: a Debian package of the built daemon, the way a DBA installs it:
#   /usr/bin/sluice, sluice(1) and pooler.ini(5), /lib/systemd/system/sluice.{service,socket},
#   /etc/sluice/pooler.ini (a conffile: the annotated example, with the unix socket in the
#   unit's RuntimeDirectory), the example userlist and README under /usr/share/doc/sluice.
# Depends is computed from the binary (scripts/runtime_packages.sh: ldd mapped to packages).
# The postinst adds the system user "sluice"; the service is installed but not enabled (a
# pooler needs its [databases] and userlist first): `systemctl enable --now sluice`.
#
# usage: scripts/make_deb.sh [BINARY [OUTDIR]]   (defaults: build/sluice, build)
# Prints the path of the .deb on its last line.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=${1:-$repo/build/sluice}
outdir=${2:-$repo/build}
for tool in dpkg-deb dpkg gzip; do
    command -v "$tool" >/dev/null || { echo "make_deb: $tool not found" >&2; exit 2; }
done
[[ -x "$binary" ]] || { echo "make_deb: $binary not found; run 'make build' first" >&2; exit 2; }

version=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[[ -n "$version" ]] || { echo "make_deb: no version in CMakeLists.txt" >&2; exit 2; }
arch=$(dpkg --print-architecture)
depends=$("$repo/scripts/runtime_packages.sh" "$binary" | paste -sd, - | sed 's/,/, /g')

stage=$(mktemp -d "${TMPDIR:-/tmp}/sluice-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/sluice_${version}_${arch}
umask 022

install -D -m 0755 "$binary" "$root/usr/bin/sluice"
strip --strip-unneeded "$root/usr/bin/sluice" 2>/dev/null || true
install -d "$root/usr/share/man/man1" "$root/usr/share/man/man5"
gzip -9n <"$repo/man/sluice.1" >"$root/usr/share/man/man1/sluice.1.gz"
gzip -9n <"$repo/man/pooler.ini.5" >"$root/usr/share/man/man5/pooler.ini.5.gz"
install -D -m 0644 "$repo/packaging/systemd/sluice.service" "$root/lib/systemd/system/sluice.service"
install -D -m 0644 "$repo/packaging/systemd/sluice.socket" "$root/lib/systemd/system/sluice.socket"

install -d "$root/etc/sluice"
# The example as it is, plus what the packaged unit needs: its /tmp is private, so the unix
# socket goes to /run/sluice.
awk '{ print } /^\[pooler\]$/ && !done {
        print ";; Packaged for sluice.service: the unit has a private /tmp; its RuntimeDirectory"
        print ";; /run/sluice holds the unix socket instead."
        print "unix_socket_dir = /run/sluice"
        done = 1 }' "$repo/etc/pooler.ini" >"$root/etc/sluice/pooler.ini"
chmod 0644 "$root/etc/sluice/pooler.ini"

doc=$root/usr/share/doc/sluice
install -D -m 0644 "$repo/README.md" "$doc/README.md"
install -D -m 0644 "$repo/etc/userlist.txt" "$doc/examples/userlist.txt"
install -D -m 0644 "$repo/packaging/README.md" "$doc/packaging.md"
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sluice
Comment: built from the Sluice repository by scripts/make_deb.sh

Files: *
Copyright: the Sluice authors
License: see the Sluice repository
COPYRIGHT

install -d "$root/DEBIAN"
echo /etc/sluice/pooler.ini >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd sluice >/dev/null; then
        adduser --system --group --no-create-home --home /nonexistent --quiet sluice
    fi
    # userlist.txt holds secrets: readable by the service's group only.
    chgrp sluice /etc/sluice && chmod 0750 /etc/sluice
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null 2>&1 || true
    fi
fi
exit 0
POSTINST
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: sluice
Version: $version
Architecture: $arch
Maintainer: Sluice developers <sluice@localhost>
Installed-Size: $installed_size
Depends: $depends, adduser
Section: database
Priority: optional
Description: PostgreSQL connection pooler, a drop-in for PgBouncer
 Sluice multiplexes many client connections onto small per-database server pools in
 session, transaction or statement mode. It reads pgbouncer.ini and userlist.txt as they
 are, speaks PgBouncer's admin console, uses every core, follows the primary of a
 replicated cluster across a failover, and serves Prometheus metrics and health probes.
CONTROL

mkdir -p "$outdir"
deb=$outdir/sluice_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
