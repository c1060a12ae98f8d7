#!/usr/bin/env bash
# Runs PgBouncer's own test suite (the pytest files of its test/ directory, from the release tag
# that bench/build_pgbouncer.sh builds) against Sluice: a drop-in check from outside, with
# PgBouncer's expectations of settings, SHOW output, errors and log lines.
#
#   bench/pgbouncer_suite.sh                      # the whole suite (about 12 minutes on 2 cores)
#   bench/pgbouncer_suite.sh test/test_admin.py   # arguments go to pytest
#   SLUICE_WORKERS=1 bench/pgbouncer_suite.sh     # one worker, as PgBouncer (the default is auto)
#   TARGET=pgbouncer bench/pgbouncer_suite.sh     # the same suite against PgBouncer itself
#
# It copies PgBouncer's built tree (bench/build_pgbouncer.sh, run first if needed) to a temp
# dir and puts a ./pgbouncer there that runs SLUICE_BINARY (default build/sluice), as the
# suite starts whatever ./pgbouncer is. The suite initdb's its own PostgreSQL, which refuses
# root: as root it runs as the postgres user. Needs Debian's python3-pytest, python3-psycopg,
# python3-pytest-asyncio, python3-pytest-timeout and python3-filelock (installed with apt-get
# when missing and run as root; not part of scripts/deps.sh, nor of the CI suite). Not run by
# CI: PgBouncer's tests include timing and internals (socket ids, debug lines) that are not an
# interface; what they found and why the rest differs is in bench/README.md.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
version=${PGBOUNCER_VERSION:-1.25.2}
src=${PGBOUNCER_SRC:-/tmp/pgbouncer-$version}
sluice=$(realpath "${SLUICE_BINARY:-$repo/build/sluice}")
target=${TARGET:-sluice}
say() { echo "pgbouncer_suite: $*"; }

[[ -x "$src/pgbouncer" ]] || "$repo/bench/build_pgbouncer.sh" >/dev/null
[[ "$target" == pgbouncer || -x "$sluice" ]] || { say "no Sluice binary at $sluice (make build)"; exit 1; }

packages=(python3-pytest python3-psycopg python3-pytest-asyncio python3-pytest-timeout python3-filelock)
if ! /usr/bin/python3 -c 'import pytest, psycopg, pytest_asyncio, pytest_timeout, filelock' 2>/dev/null; then
    [[ $(id -u) == 0 ]] || { say "needs ${packages[*]} (apt-get install as root)"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/pgbouncer-suite.XXXXXX)
cp -a "$src" "$work/tree"
if [[ "$target" == sluice ]]; then
    cp "$sluice" "$work/sluice"
    rm "$work/tree/pgbouncer"
    # SLUICE_WORKERS, when set, reaches Sluice as its `workers` setting (SLUICE_<SETTING>).
    printf '#!/bin/sh\nexec %q "$@"\n' "$work/sluice" >"$work/tree/pgbouncer"
    chmod +x "$work/tree/pgbouncer"
fi
pg_bin=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
# The suite's pyproject.toml asks for --showlocals, which makes pytest 7 on Python 3.11 crash
# while it formats some failures; one line per failure is enough here.
pytest=(/usr/bin/python3 -m pytest -q -rfEs -p no:cacheprovider -o addopts=--import-mode=prepend --tb=line
        --basetemp="$work/tmp")
run_as=()
if [[ $(id -u) == 0 ]]; then
    chown -R postgres "$work"
    run_as=(runuser -u postgres --)
fi
say "$target against PgBouncer $version's suite in $work/tree"
rc=0
(cd "$work/tree" && "${run_as[@]}" env PATH="$pg_bin:$PATH" ${SLUICE_WORKERS:+SLUICE_WORKERS=$SLUICE_WORKERS} \
    "${pytest[@]}" "${@:-test}") || rc=$?
say "kept $work (the tree, each test's pooler log under tmp/)"
exit "$rc"
