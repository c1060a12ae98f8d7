#!/usr/bin/env bash
# Instructions per transaction and per SCRAM login, Sluice beside PgBouncer, counted by
# callgrind: unlike the CPU figures of bench/run.sh they do not move with the machine's
# load, so a change to the hot path shows its effect in one run (bench/README.md says how
# to read them).
#
#   bench/instructions.sh [--transactions N] [--logins N] [--log-connections]
#                         [--cache-misses] [--targets sluice,pgbouncer]
#
# Each pooler runs under `valgrind --tool=callgrind` in front of a throwaway PostgreSQL, in
# transaction mode with SCRAM and logging off (as bench/run.sh runs them). After a warm-up
# its counters are zeroed, then N one-client select-only transactions (pgbench -S -c 1,
# default 5,000) run on one connection, and the counters are dumped; then the same for N
# SCRAM logins (pgbench -C -S -c 2, default 400). --log-connections turns on
# log_connections and log_disconnections; --cache-misses adds callgrind's simulated
# instruction- and data-cache misses.
#
# Environment: SLUICE_BINARY (default build/sluice), PGBOUNCER_BINARY (default pgbouncer on
# PATH), KEEP_BENCH_DIR=1 keeps the temp dir with the callgrind files.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/pg_throwaway.sh
source "$repo/scripts/pg_throwaway.sh"
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

transactions=5000 logins=400 logging=0 cache_sim=no targets=sluice,pgbouncer
while (($#)); do
    case $1 in
        --transactions) transactions=${2:?}; shift ;;
        --logins) logins=${2:?}; shift ;;
        --log-connections) logging=1 ;;
        --cache-misses) cache_sim=yes ;;
        --targets) targets=${2:?}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "instructions: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
((logins % 2 == 0)) || { echo "instructions: --logins must be even (two clients)" >&2; exit 2; }
for tool in valgrind callgrind_control callgrind_annotate pgbench; do
    command -v "$tool" >/dev/null || { echo "instructions: $tool not found (make deps installs it)" >&2; exit 1; }
done
declare -A binary=([sluice]=${SLUICE_BINARY:-$repo/build/sluice} [pgbouncer]=${PGBOUNCER_BINARY:-$(command -v pgbouncer || true)})

work=$(mktemp -d /tmp/sluice-instructions.XXXXXX)
runner_dir "$work"
pooler_pid=""
cleanup() {
    trap - EXIT INT TERM
    stop_process "$pooler_pid" INT pooler
    pg_stop "$work/pg" >/dev/null 2>&1 || true
    if [[ "${KEEP_BENCH_DIR:-0}" == 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
set_runner || { echo "instructions: no unprivileged user to run the poolers as" >&2; exit 1; }

pg_start "$work/pg" >/dev/null || exit 1
user=bench password=bench-pw db=bench
export PGPASSWORD=$password PGSSLMODE=disable PGGSSENCMODE=disable
as_super=(psql -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" -X -q -v ON_ERROR_STOP=1 -d postgres)
"${as_super[@]}" -c "SET password_encryption = 'scram-sha-256'" -c "CREATE ROLE $user LOGIN PASSWORD '$password'" \
    -c "CREATE DATABASE $db OWNER $user"
pgbench -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$user" -i -s 1 -q "$db" >/dev/null 2>&1
printf '"%s" "%s"\n' "$user" "$("${as_super[@]}" -Atc "SELECT rolpassword FROM pg_authid WHERE rolname = '$user'")" \
    >"$work/userlist.txt"

# The counters of a dump, as callgrind_annotate totals them (without its percentages): Ir,
# and with --cache-misses then Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
totals() {
    callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {
        gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) printf "%s ", $i; exit }'
}
# Runs pgbench against the pooler, then dumps the counters into a file named after $1.
measure() {
    local part=$1
    shift
    pgbench -h 127.0.0.1 -p "$port" -U "$user" "$@" "$db" >"$work/$name.$part.pgbench" 2>&1 ||
        { echo "instructions: pgbench failed through $name:" >&2; tail -n 5 "${work}/$name.$part.pgbench" >&2; exit 1; }
    "${RUNNER[@]}" callgrind_control -d "$part" "$pooler_pid" >/dev/null 2>&1
}

printf '%-10s %22s %18s' target "instructions/tx" "instructions/login"
[[ $cache_sim == yes ]] && printf ' %14s %14s' "I1 miss/login" "D1 miss/login"
echo
for name in ${targets//,/ }; do
    [[ -x "${binary[$name]:-}" ]] || { echo "instructions: no binary for $name" >&2; exit 1; }
    port=$(free_port)
    cat >"$work/$name.ini" <<EOF
[databases]
$db = host=127.0.0.1 port=$PG_PORT dbname=$db user=$user password=$password
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 20
logfile = $work/$name.log
log_connections = $logging
log_disconnections = $logging
EOF
    [[ $name == sluice ]] && echo "workers = 1" >>"$work/$name.ini"
    chmod 0644 "$work/$name.ini" "$work/userlist.txt"
    (cd "$work" && exec "${RUNNER[@]}" valgrind --tool=callgrind --cache-sim="$cache_sim" \
        --callgrind-out-file="$work/$name.callgrind" "${binary[$name]}" "$work/$name.ini") >"$work/$name.valgrind.log" 2>&1 &
    pooler_pid=$!
    wait_listening "$port" "$pooler_pid" 120 || { echo "instructions: $name did not start" >&2; tail "$work/$name.valgrind.log" >&2; exit 1; }
    # Warm-up: the pool's servers log in, the secret and the welcome are cached.
    pgbench -h 127.0.0.1 -p "$port" -U "$user" -S -c 1 -t 300 "$db" >/dev/null 2>&1
    pgbench -h 127.0.0.1 -p "$port" -U "$user" -C -S -c 2 -t 50 "$db" >/dev/null 2>&1
    "${RUNNER[@]}" callgrind_control -z "$pooler_pid" >/dev/null 2>&1
    measure tx -S -c 1 -t "$transactions"
    "${RUNNER[@]}" callgrind_control -z "$pooler_pid" >/dev/null 2>&1
    measure login -C -S -c 2 -t $((logins / 2))
    stop_process "$pooler_pid" INT "$name"
    pooler_pid=""
    read -r -a tx <<<"$(totals "$work/$name.callgrind.1")"
    read -r -a login <<<"$(totals "$work/$name.callgrind.2")"
    printf '%-10s %22d %18d' "$name" $((tx[0] / transactions)) $((login[0] / logins))
    [[ $cache_sim == yes ]] && printf ' %14d %14d' $((login[3] / logins)) $(((login[4] + login[5]) / logins))
    echo
done
