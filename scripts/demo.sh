#!/usr/bin/env bash
# `make demo`: a throwaway PostgreSQL, Sluice in session mode in front of it, and pgbench
# through Sluice. Everything it starts is stopped and removed on exit, Ctrl-C included;
# only Sluice's log is kept (its path is printed at the end).
#
# Environment: SLUICE_BINARY (default build/sluice), DEMO_SECONDS (default 10),
# DEMO_CLIENTS (default 100), DEMO_POOL_SIZE (default 10), KEEP_DEMO_DIR=1 to keep the
# temp dir for inspection.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sluice_bin=${SLUICE_BINARY:-$repo/build/sluice}
seconds=${DEMO_SECONDS:-10}
clients=${DEMO_CLIENTS:-100}
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
for tool in pgbench psql; do
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
# Sluice logs in as the client's user with the password from auth_file (SCRAM to the server).
printf '"%s" "%s"\n' "$PG_SUPERUSER" "$PG_PASSWORD" >"$workdir/userlist.txt"
cat >"$workdir/pooler.ini" <<EOF
[databases]
demo = host=$PG_HOST port=$PG_PORT dbname=demo

[pooler]
listen_addr = 127.0.0.1
listen_port = $listen_port
unix_socket_dir = $workdir
auth_type = md5
auth_file = $workdir/userlist.txt
admin_users = $PG_SUPERUSER
stats_users = $PG_SUPERUSER
pool_mode = session
default_pool_size = $pool_size
max_client_conn = 200
logfile = $workdir/sluice.log
EOF

say "Starting Sluice: $sluice_bin $workdir/pooler.ini (session mode, pool size $pool_size, port $listen_port)"
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

say "pgbench -c $clients -j 2 -C -T $seconds -S through Sluice"
cat <<EOF
    Session mode gives a client one server for its whole session, so $clients clients that
    stayed connected would need $clients backends. With -C each transaction is a new
    connection: $clients clients take turns on $pool_size PostgreSQL backends, queueing in
    Sluice while all $pool_size are busy.
EOF
pgbench "${pooled[@]}" -c "$clients" -j 2 -C -T "$seconds" -S -n demo >"$workdir/pgbench.out" 2>&1 &
pgbench_pid=$!

# Backgrounded and waited for, so that Ctrl-C is handled at once rather than after the sleep.
sleep $((seconds / 2)) &
wait $!
say "Mid-run: backends PostgreSQL sees for database demo (at most $pool_size expected)"
psql "${direct[@]}" -d postgres -P pager=off -c "$backends_sql" || true

pgbench_status=0
wait "$pgbench_pid" || pgbench_status=$?
pgbench_pid=""
say "pgbench result (exit status $pgbench_status)"
cat "$workdir/pgbench.out"

say "Pool state after the run"
if ! psql "${pooled[@]}" -d pgbouncer -P pager=off -c "SHOW POOLS" 2>"$workdir/admin.err"; then
    echo "(admin console not available: $(head -n 1 "$workdir/admin.err"))"
    echo "Backends PostgreSQL sees for database demo instead:"
    psql "${direct[@]}" -d postgres -P pager=off -c "$backends_sql" || true
fi

say "Last lines of Sluice's log"
tail -n 10 "$workdir/sluice.log" 2>/dev/null || echo "(no log file written)"

[[ $pgbench_status -eq 0 ]] || die "pgbench through Sluice failed"
say "Demo finished; stopping Sluice and PostgreSQL"
