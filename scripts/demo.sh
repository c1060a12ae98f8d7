#!/usr/bin/env bash
# `make demo`: what Sluice is for. A throwaway PostgreSQL, Sluice in transaction mode in front
# of it, and pgbench: DEMO_CLIENTS (1,000) clients through Sluice onto a pool of DEMO_POOL_SIZE
# (10) PostgreSQL backends, next to pgbench directly on PostgreSQL (where 1,000 clients do not
# even get in); then SHOW POOLS, SHOW STATS and an excerpt of /metrics, and how to try the ini.
# Everything it starts is stopped and removed on exit, Ctrl-C included; Sluice's log and the
# ini are kept (their paths are printed at the end).
#
# Environment: SLUICE_BINARY (default build/sluice), DEMO_SECONDS (default 10, per pgbench
# run), DEMO_CLIENTS (default 1000), DEMO_POOL_SIZE (default 10), KEEP_DEMO_DIR=1 to keep the
# temp dir for inspection.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sluice_bin=${SLUICE_BINARY:-$repo/build/sluice}
seconds=${DEMO_SECONDS:-10}
clients=${DEMO_CLIENTS:-1000}
pool_size=${DEMO_POOL_SIZE:-10}

# shellcheck source=scripts/pg_throwaway.sh
source "$repo/scripts/pg_throwaway.sh"

say() { printf '\n==> %s\n' "$*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

if [[ ! -x "$sluice_bin" ]]; then
    die "$sluice_bin not found; build it first with 'make'"
fi
for tool in pgbench psql curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run 'make deps'"
done

workdir=$(mktemp -d /tmp/sluice-demo.XXXXXX)
sluice_pid=""
pgbench_pid=""
kept_log=""

stop_pid() {
    # SIGTERM first (Sluice exits once its clients are gone), SIGKILL if it lingers.
    local pid=$1 name=$2
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "demo: $name (pid $pid) ignored SIGTERM for 5 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$pgbench_pid" pgbench
    stop_pid "$sluice_pid" sluice
    pg_stop "$workdir" || true
    if [[ -f "$workdir/sluice.log" ]]; then
        kept_log=/tmp/sluice-demo-$(date +%Y%m%d-%H%M%S).log
        cp "$workdir/sluice.log" "$kept_log" && echo "demo: Sluice's log is kept at $kept_log"
    fi
    if [[ -f "$workdir/pooler.ini" ]]; then
        local kept_ini
        kept_ini=/tmp/sluice-demo-$(date +%Y%m%d-%H%M%S).ini
        cp "$workdir/pooler.ini" "$kept_ini"
        echo
        echo "To try the demo's configuration yourself: $kept_ini"
        echo "  1. point its [databases] line at your PostgreSQL (the demo's throwaway one is gone),"
        echo "     and unix_socket_dir and logfile at directories that exist;"
        echo "  2. write a userlist.txt with your users (\"user\" \"password\") and set auth_file to it;"
        echo "  3. $sluice_bin --check $kept_ini && $sluice_bin $kept_ini"
        echo "  4. psql -h 127.0.0.1 -p <listen_port> as to PostgreSQL; the admin console is database pgbouncer;"
        echo "     curl http://127.0.0.1:<http_listen_port>/metrics"
        echo "  Single settings change without editing it: SLUICE_DEFAULT_POOL_SIZE=20 $sluice_bin $kept_ini"
    fi
    if [[ "${KEEP_DEMO_DIR:-0}" == 1 ]]; then
        echo "demo: kept $workdir"
    else
        rm -rf "$workdir"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "demo: interrupted; cleaning up" >&2; exit 130' INT
trap 'echo "demo: terminated; cleaning up" >&2; exit 143' TERM

say "Starting a throwaway PostgreSQL in $workdir"
pg_start "$workdir" || die "PostgreSQL did not start"
export PGPASSWORD=$PG_PASSWORD
direct=(-h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER")

psql "${direct[@]}" -d postgres -qAtc "create database demo" >/dev/null
say "pgbench -i -s 1 (directly on PostgreSQL, through its unix socket)"
pgbench "${direct[@]}" -i -s 1 -q demo 2>&1 | tail -n 1

listen_port=$(free_port)
http_port=$(free_port)
# Sluice logs in as the client's user with the password from auth_file (SCRAM to the server).
printf '"%s" "%s"\n' "$PG_SUPERUSER" "$PG_PASSWORD" >"$workdir/userlist.txt"
cat >"$workdir/pooler.ini" <<EOF
;; The ini of make demo: transaction pooling, $clients clients onto $pool_size backends.
[databases]
demo = host=$PG_HOST port=$PG_PORT dbname=demo

[pooler]
listen_addr = 127.0.0.1
listen_port = $listen_port
unix_socket_dir = $workdir
http_listen_addr = 127.0.0.1
http_listen_port = $http_port
auth_type = md5
auth_file = $workdir/userlist.txt
admin_users = $PG_SUPERUSER
stats_users = $PG_SUPERUSER
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = $((clients + 100))
logfile = $workdir/sluice.log
EOF

say "Starting Sluice: $sluice_bin $workdir/pooler.ini"
echo "    transaction mode, pool size $pool_size, port $listen_port, /metrics on port $http_port"
"$sluice_bin" "$workdir/pooler.ini" >"$workdir/sluice.stderr" 2>&1 &
sluice_pid=$!
for _ in $(seq 1 100); do
    if ! kill -0 "$sluice_pid" 2>/dev/null; then
        wait "$sluice_pid" && rc=0 || rc=$?
        sluice_pid=""
        echo "demo: Sluice exited with status $rc before listening; its output:" >&2
        cat "$workdir/sluice.stderr" >&2
        exit 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null && break
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null || {
    echo "demo: Sluice does not listen on 127.0.0.1:$listen_port after 10 s; its output:" >&2
    cat "$workdir/sluice.stderr" >&2
    exit 1
}

pooled=(-h 127.0.0.1 -p "$listen_port" -U "$PG_SUPERUSER")
backends_sql="select coalesce(state, '(none)') as state, count(*) as backends
              from pg_stat_activity where datname = 'demo' and pid <> pg_backend_pid()
              group by state order by state"
max_connections=$(psql "${direct[@]}" -d postgres -qAtc "show max_connections")

# pgbench in the background and waited for, so that Ctrl-C is handled at once.
run_pgbench() {
    local out=$1
    shift
    pgbench "$@" >"$out" 2>&1 &
    pgbench_pid=$!
    local status=0
    wait "$pgbench_pid" || status=$?
    pgbench_pid=""
    return "$status"
}
tps_of() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$1" | head -n 1; }

say "pgbench directly on PostgreSQL with $clients clients (max_connections = $max_connections)"
if run_pgbench "$workdir/direct-all.out" "${direct[@]}" -c "$clients" -j 2 -T 2 -S -n demo; then
    direct_all="$(tps_of "$workdir/direct-all.out") tps"
else
    direct_all="refused: $(grep -m1 -o 'too many clients already\|remaining connection slots are reserved[^"]*' \
        "$workdir/direct-all.out" || tail -n 1 "$workdir/direct-all.out")"
fi
echo "    $direct_all"

say "pgbench directly on PostgreSQL with $pool_size clients ($pool_size backends), $seconds s, select-only"
run_pgbench "$workdir/direct.out" "${direct[@]}" -c "$pool_size" -j 2 -T "$seconds" -S -n demo ||
    die "direct pgbench failed: $(tail -n 3 "$workdir/direct.out")"
direct_tps=$(tps_of "$workdir/direct.out")
echo "    $direct_tps tps"

say "pgbench through Sluice with $clients clients onto $pool_size backends, $seconds s, select-only"
cat <<EOF
    Transaction mode gives a client a server only for the length of each transaction, so
    $clients connected clients take turns on $pool_size PostgreSQL backends, queueing in
    Sluice while all $pool_size are busy.
EOF
pgbench "${pooled[@]}" -c "$clients" -j 2 -T "$seconds" -S -n demo >"$workdir/pgbench.out" 2>&1 &
pgbench_pid=$!
sleep $((seconds / 2 + 1)) &
wait $!
say "Mid-run: backends PostgreSQL sees for database demo (at most $pool_size expected)"
psql "${direct[@]}" -d postgres -P pager=off -c "$backends_sql" || true

pgbench_status=0
wait "$pgbench_pid" || pgbench_status=$?
pgbench_pid=""
if [[ $pgbench_status -ne 0 ]]; then
    cat "$workdir/pgbench.out"
    die "pgbench through Sluice failed"
fi
pooled_tps=$(tps_of "$workdir/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$workdir/pgbench.out")

say "Side by side (select-only)"
printf '    %-48s %s\n' "directly, $clients clients:" "$direct_all"
printf '    %-48s %s tps\n' "directly, $pool_size clients ($pool_size backends):" "$direct_tps"
printf '    %-48s %s tps, %s failed transactions\n' "through Sluice, $clients clients ($pool_size backends):" \
    "$pooled_tps" "${failed:-0}"

say "SHOW POOLS (admin console: psql -h 127.0.0.1 -p $listen_port -U $PG_SUPERUSER pgbouncer)"
psql "${pooled[@]}" -d pgbouncer -P pager=off -c "SHOW POOLS" || true
say "SHOW STATS"
psql "${pooled[@]}" -d pgbouncer -P pager=off -x -c "SHOW STATS" |
    grep -E '^(-\[|database |total_xact_count|total_query_count|total_xact_time|total_wait_time)' || true

say "An excerpt of http://127.0.0.1:$http_port/metrics (Prometheus)"
curl -fsS "http://127.0.0.1:$http_port/metrics" >"$workdir/metrics.txt" || true
grep -E '^sluice_(up|clients|servers) |^sluice_(pools_(cl_active|cl_waiting|sv_active|sv_idle)|stats_(total_xact_count|avg_wait_time))\{database="demo"' \
    "$workdir/metrics.txt" | head -n 12 || true

say "Last lines of Sluice's log"
tail -n 5 "$workdir/sluice.log" 2>/dev/null || echo "(no log file written)"

say "Demo finished; stopping Sluice and PostgreSQL"
