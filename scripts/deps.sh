#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing, the demo and the benchmark need
# (with --fuzz also those of `make fuzz`), and the Node.js drivers of the driver tests from npm.
# Idempotent: when everything is present it only says so, and it never runs `apt-get update`
# unless something has to be installed. As a non-root user it uses `sudo -n` when that works
# without a password; otherwise it prints the exact command to run and fails, so that
# `make test` stops with a clear instruction instead of a confusing compile error.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    libuv1-dev liburing-dev libssl-dev libinih-dev libspdlog-dev libfmt-dev libhttp-parser-dev
    libgtest-dev libgmock-dev libpq-dev
    postgresql postgresql-contrib pgbouncer
    openssl gnuplot-nox python3 python3-yaml
    valgrind  # callgrind: make bench-instructions (bench/instructions.sh)
    systemd  # systemd-analyze (the unit checks), systemd-socket-activate (socket activation test)
    iproute2  # ip: the network namespace of the blackhole tests
    # The driver tests (test/integration/drivers_test.cpp, scripts in test/drivers/): real
    # client libraries' named prepared statements through the pooler in transaction pooling.
    python3-psycopg libdbd-pg-perl ruby ruby-pg
    openjdk-17-jdk-headless libpostgresql-jdbc-java  # pgjdbc, run by java's single-file launcher (it needs the JDK)
)
# Node.js and npm, for node-postgres and postgres.js (installed by npm below). A node from
# elsewhere (NodeSource's nodejs, which brings its own npm) is kept: Debian's node packages
# cannot be installed beside it.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
# Only `make fuzz` (scripts/deps.sh --fuzz) needs these: clang and its libFuzzer runtime.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
if [[ "${1:-}" == "--fuzz" ]]; then
    PACKAGES+=("${FUZZ_PACKAGES[@]}")
fi

is_installed() {
    # dpkg keeps removed-but-configured packages around; only "install ok installed" counts.
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [[ "$status" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

# The Node.js drivers at the exact versions of test/drivers/node/package-lock.json, into its
# node_modules (not in git); npm runs again only when the lock file changed since.
node_drivers() {
    local dir stamp
    dir="$(cd "$(dirname "$0")/.." && pwd)/test/drivers/node"
    stamp="$dir/node_modules/.sluice-deps-lock"
    if cmp -s "$dir/package-lock.json" "$stamp"; then
        echo "deps: Node.js drivers present (test/drivers/node)"
        return
    fi
    echo "deps: npm ci in test/drivers/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
}

if ((${#missing[@]} == 0)); then
    echo "deps: all ${#PACKAGES[@]} packages present"
    node_drivers
    exit 0
fi

echo "deps: installing ${#missing[@]} missing package(s): ${missing[*]}"

install_cmd=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}")
update_cmd=(env DEBIAN_FRONTEND=noninteractive apt-get update -q)

if [[ $(id -u) -eq 0 ]]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "deps: not root and sudo needs a password (or is missing); run this as root, then retry:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

"${run[@]}" "${update_cmd[@]}" >/dev/null
"${run[@]}" "${install_cmd[@]}"

# Verify rather than trust apt's exit status: a package name that no longer exists in the
# archive must fail loudly here, not later in the build.
still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
if ((${#still_missing[@]} > 0)); then
    echo "deps: still missing after install: ${still_missing[*]}" >&2
    exit 1
fi
echo "deps: installed ${missing[*]}"

# Debian's pgbouncer package may start a system-wide PgBouncer on port 6432. Nothing here
# uses it (the benchmark runs its own, as an unprivileged user, on a free port), so stop it
# and keep it from starting at boot.
if [[ " ${missing[*]} " == *" pgbouncer "* ]]; then
    if [[ -d /run/systemd/system ]]; then
        "${run[@]}" systemctl disable --now pgbouncer >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/pgbouncer ]]; then
        "${run[@]}" /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
        "${run[@]}" update-rc.d pgbouncer disable >/dev/null 2>&1 || true
    fi
    echo "deps: disabled the pgbouncer system service"
fi

node_drivers
