#!/usr/bin/env bash
# packaging/systemd/sluice.service: Type=notify (Sluice speaks sd_notify), a reload by SIGHUP,
# the hardening options; sluice.socket beside it names the service; and — where systemd-analyze
# exists — no complaint from `systemd-analyze verify` about either (the binary's path replaced
# by one that exists here).
# usage: check_systemd_unit.sh UNIT_FILE
set -uo pipefail

unit=$1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
has() { grep -Eq "^$1\$" "$unit" || fail "$unit lacks '$1'"; }

has 'Type=notify'
has 'ExecStart=/usr/bin/sluice /etc/sluice/pooler.ini'
has 'ExecReload=/bin/kill -HUP \$MAINPID'
has 'KillSignal=SIGTERM'
has 'WatchdogSec=[0-9]+'
has 'User=sluice'
has 'NoNewPrivileges=yes'
has 'ProtectSystem=strict'
has 'ProtectHome=yes'
has 'PrivateTmp=yes'
has 'PrivateDevices=yes'
has 'CapabilityBoundingSet='
has 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'
grep -Eq '^ExecStart=.* -d( |$)' "$unit" && fail "Type=notify wants the daemon in the foreground (no -d)"

socket_unit="$(dirname "$unit")/sluice.socket"
if [[ -f $socket_unit ]]; then
    grep -Eq '^Service=sluice.service$' "$socket_unit" || fail "$socket_unit does not name sluice.service"
    grep -Eq '^ListenStream=' "$socket_unit" || fail "$socket_unit has no ListenStream"
else
    fail "$socket_unit is missing"
fi

if command -v systemd-analyze >/dev/null; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-unit.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    sed 's#/usr/bin/sluice#/bin/true#g' "$unit" >"$work/sluice.service"
    cp "$socket_unit" "$work/sluice.socket"
    out=$(cd "$work" && timeout 60 systemd-analyze verify --man=no ./sluice.service ./sluice.socket 2>&1)
    # Only complaints about our units count (not about the host's other units).
    complaints=$(grep -E 'sluice\.(service|socket)' <<<"$out")
    [[ -z "$complaints" ]] || fail "systemd-analyze verify: $complaints"
else
    echo "note: systemd-analyze not found; only the keys were checked"
fi

if ((failures == 0)); then
    echo "systemd unit: ok"
    exit 0
fi
exit 1
