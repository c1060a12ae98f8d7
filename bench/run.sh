#!/usr/bin/env bash
# `make bench`: PostgreSQL directly, PgBouncer and Sluice side by side on this machine, with
# pgbench and an idle-client holder; prints a table and writes bench/results/ (results.md,
# results.json, ratios.png, raw/). See bench/README.md for what is measured and how.
#
#   bench/run.sh [--quick] [--seconds N] [--scale N] [--idle-clients N] [--rounds N]
#                [--storm-logins N] [--copy-mb N]
#                [--targets direct,pgbouncer,sluice] [--scenarios lat1,sel50,...]
#
# --rounds N runs each pgbench scenario N times per target, the targets taking turns (the
# order reversed every other round); the table shows medians and the ratio is the median of
# the rounds' ratios, so a noisy stretch of the machine weighs on one round only.
#
# Two scenarios measure Sluice alone, each in a table of its own: `contention` runs
# bench_pool_contention (N threads on one shared pool, no network); `workers` runs sel50
# through Sluice with workers = 1 and 2 (--rounds times each, alternating).
#
# Environment: SLUICE_BINARY (default build/sluice), PGBOUNCER_BINARY (default pgbouncer on
# PATH), SLUICE_WORKERS (sets `workers` for Sluice; default 1, like PgBouncer's one thread —
# Sluice's own default is auto, one per CPU; the `workers` scenario sweeps 1 and 2),
# BENCH_BUILD_DIR (CMake build dir for the idle-client tool, default build),
# BENCH_RESULTS (default bench/results), KEEP_BENCH_DIR=1 keeps the temp dir,
# BENCH_SCRAM_PASSTHROUGH=1 (poolers log in to PostgreSQL with the client's SCRAM keys),
# BENCH_AUTH_FILE_PLAIN=1 (auth_file holds the plain password: a pooler derives the SCRAM
# secret itself, once or per login), BENCH_CLIENTS_PER_ADDRESS (default 20000: idle clients per
# 127.0.0.x address the poolers listen on).
#
# Everything it starts (PostgreSQL, both poolers, pgbench, the idle clients) is stopped on
# exit, Ctrl-C and failure included. A scenario that fails is reported, never fatal: this
# is a benchmark, not a test.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir=$repo/bench
# shellcheck source=scripts/pg_throwaway.sh
source "$repo/scripts/pg_throwaway.sh"
# shellcheck source=bench/lib.sh
source "$bench_dir/lib.sh"
# shellcheck source=bench/scale.sh
source "$bench_dir/scale.sh"

usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ---- settings -------------------------------------------------------------------------
mode=full seconds="" scale="" idle_n="" storm_n="" copy_mb="" targets_arg="" scenarios_arg="" rounds=1
while (($#)); do
    case $1 in
        --quick) mode=quick ;;
        --seconds) seconds=${2:?}; shift ;;
        --scale) scale=${2:?}; shift ;;
        --idle-clients) idle_n=${2:?}; shift ;;
        --storm-logins) storm_n=${2:?}; shift ;;
        --copy-mb) copy_mb=${2:?}; shift ;;
        --rounds) rounds=${2:?}; shift ;;
        --targets) targets_arg=${2:?}; shift ;;
        --scenarios) scenarios_arg=${2:?}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [[ $mode == quick ]]; then
    : "${seconds:=5}" "${scale:=1}" "${idle_n:=2000}" "${storm_n:=5000}" "${copy_mb:=100}"
    warm=1 idle_seconds=3 storm_quiet=3 contention_seconds=1
else
    : "${seconds:=20}" "${scale:=10}" "${idle_n:=50000}" "${storm_n:=5000}" "${copy_mb:=1024}"
    warm=4 idle_seconds=10 storm_quiet=6 contention_seconds=2
fi
# The storm's logins must end inside pgbench's run, whose length is fixed in advance: pgbench
# runs storm_budget seconds beyond the quiet stretch (a storm that outlasts it is reported).
storm_budget=40
storm_pgbench_seconds=$((warm + storm_quiet + storm_budget))
# Every idle client is a descriptor in the pooler (and in bench_idle_clients). Where the hard
# limit cannot be raised (no CAP_SYS_RESOURCE, e.g. in a container), fewer idle clients than
# asked are held, and the results say why.
raise_fd_limit $((idle_n + 3000 > 65536 ? idle_n + 3000 : 65536)) >/dev/null  # not in a subshell: it must stay
fd_limit=$(ulimit -n)
idle_capped=""
if ((fd_limit < idle_n + 1000)); then
    idle_capped="$idle_n idle clients asked, but the open files limit is $fd_limit and cannot be raised here (ulimit -Hn; raising it needs CAP_SYS_RESOURCE)"
    idle_n=$(((fd_limit - 1000) / 1000 * 1000))
    bench_log "$idle_capped: holding $idle_n"
fi
# One destination address and port takes at most ~28,000 connections (the ephemeral port
# range): the poolers listen on one 127.0.0.x per BENCH_CLIENTS_PER_ADDRESS (20,000) idle
# clients, which spread over them.
per_address=${BENCH_CLIENTS_PER_ADDRESS:-20000}
idle_hosts=127.0.0.1
for ((i = 2; i <= (idle_n + per_address - 1) / per_address; i++)); do idle_hosts+=",127.0.0.$i"; done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench: --rounds must be a positive number" >&2; exit 2; }
((seconds >= warm + 2)) || { echo "bench: --seconds must be at least $((warm + 2))" >&2; exit 2; }
pool_size=20
max_client_conn=$((idle_n + 2000 > 12000 ? idle_n + 2000 : 12000))
bench_user=bench bench_password=bench-pw bench_db=bench
# The storm's and the idle clients' thousands of logins come as their own role, whose SCRAM
# secret has 256 PBKDF2 rounds (bench/scram_secret.py says why); the poolers log in to
# PostgreSQL as bench all the same.
crowd_user=crowd crowd_password=crowd-pw

# Scenarios: name → label, pgbench arguments, whether PostgreSQL runs it directly.
all_scenarios=(lat1 sel50 sel1000 tpcb50 ext50 prep50 logins storm copy idle contention workers)
declare -A label=(
    [lat1]="select-only, 1 client" [sel50]="select-only, 50 clients"
    [sel1000]="select-only, 1000 clients" [tpcb50]="tpcb-like, 50 clients"
    [ext50]="select-only -M extended, 50 cl." [prep50]="select-only -M prepared, 50 cl."
    [logins]="logins: -C -S, 8 clients"
    [storm]="50 clients (-S) + $storm_n logins"
    [copy]="COPY $copy_mb MB out and in"
    [idle]="$idle_n idle clients"
    [contention]="shared pool, 1-8 threads, no network" [workers]="sel50 through Sluice, workers 1 and 2"
)
declare -A pgbench_args=(
    [lat1]="-S -c 1 -j 1" [sel50]="-S -c 50 -j 2" [sel1000]="-S -c 1000 -j 2"
    [tpcb50]="-c 50 -j 2" [ext50]="-S -M extended -c 50 -j 2" [prep50]="-S -M prepared -c 50 -j 2"
    [logins]="-C -S -c 8 -j 2" [workers]="-S -c 50 -j 2"
)
# Settings a scenario adds to both poolers' ini (a pooler is restarted when they change).
# Named prepared statements in transaction mode need the pooler to track them per server
# connection: PgBouncer 1.21+ and Sluice do with max_prepared_statements > 0.
declare -A scenario_settings=(
    [prep50]="max_prepared_statements = 200"
)
declare -A direct_skip=(
    [sel1000]="1000 backends would measure PostgreSQL's process model, not pooling"
    [storm]="$storm_n logins would be $storm_n backends, beyond max_connections"
    [idle]="$idle_n backends would exceed max_connections; there is no pooler process to weigh"
)
all_targets=(direct pgbouncer sluice)
IFS=, read -r -a scenarios <<<"${scenarios_arg:-$(IFS=,; echo "${all_scenarios[*]}")}"
IFS=, read -r -a targets <<<"${targets_arg:-$(IFS=,; echo "${all_targets[*]}")}"
for s in "${scenarios[@]}"; do [[ -n "${label[$s]:-}" ]] || { echo "bench: unknown scenario '$s' (${all_scenarios[*]})" >&2; exit 2; }; done
for t in "${targets[@]}"; do [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "bench: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }; done

sluice_bin=${SLUICE_BINARY:-$repo/build/sluice}
pgbouncer_bin=${PGBOUNCER_BINARY:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}
build_dir=${BENCH_BUILD_DIR:-$repo/build}
results=${BENCH_RESULTS:-$bench_dir/results}

[[ -x "$sluice_bin" ]] || { echo "bench: $sluice_bin not found; build it with 'make'" >&2; exit 1; }
[[ -x "$pgbouncer_bin" ]] || { echo "bench: pgbouncer not found; run 'make deps'" >&2; exit 1; }
pgbouncer_version=$("$pgbouncer_bin" --version 2>/dev/null | sed -n 1p | awk '{print $2}')
[[ -n "$pgbouncer_version" ]] || { echo "bench: $pgbouncer_bin --version printed no version" >&2; exit 1; }
# version_below <version> <major.minor>: true if the version is older.
version_below() {
    local IFS=. a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$2"
    ((${a[0]:-0} < ${b[0]:-0} || (${a[0]:-0} == ${b[0]:-0} && ${a[1]:-0} < ${b[1]:-0})))
}
# Why PgBouncer cannot run a scenario (empty: it can). 1.18 refuses to start with
# max_prepared_statements, and without it named statements break in transaction mode.
pgbouncer_cannot() {
    if [[ $1 == prep50 ]] && version_below "$pgbouncer_version" 1.21; then
        echo "PgBouncer $pgbouncer_version has no max_prepared_statements (1.21+), so -M prepared cannot run through it in transaction mode; PGBOUNCER_BINARY picks another (bench/build_pgbouncer.sh builds 1.25.2)"
    fi
}
for tool in pgbench psql python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool not found; run 'make deps'" >&2; exit 1; }
done

# ---- process bookkeeping and cleanup --------------------------------------------------
work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 0755 "$work"
# A copy, so that a rebuild of build/ during the run cannot swap the binary under us.
mkdir -p "$work/bin"
cp "$sluice_bin" "$work/bin/sluice"
chmod 0755 "$work/bin" "$work/bin/sluice"
sluice_bin=$work/bin/sluice
raw=$work/raw
mkdir -p "$raw"
pgdir=$work/pg
declare -A pooler_pid=() pooler_port=() pooler_bin=([pgbouncer]=$pgbouncer_bin [sluice]=$sluice_bin)
# The current scenario's extra ini settings, and what each running pooler was started with.
declare -A pooler_settings=()
wanted_settings=""
BG_PID="" idle_pid=""
# The workers sweep's `workers` for Sluice (over SLUICE_WORKERS), and the tag of its raw files.
sweep_workers="" run_tag=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    cpu_sampler_stop
    stop_process "$BG_PID" INT "pgbench"
    stop_process "$idle_pid" TERM "bench_idle_clients"
    local t
    for t in "${!pooler_pid[@]}"; do
        stop_process "${pooler_pid[$t]}" INT "$t"
    done
    pg_stop "$pgdir" || true
    if [[ -d "$results" ]]; then
        mkdir -p "$results/raw"
        cp "$work"/*/*.log "$results/raw/" 2>/dev/null || true
    fi
    if [[ "${KEEP_BENCH_DIR:-0}" == 1 ]]; then
        echo "bench: kept $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "bench: interrupted; stopping everything" >&2; exit 130' INT
trap 'echo "bench: terminated; stopping everything" >&2; exit 143' TERM

# run_bg <output file> <command...>: runs the command in the background, its output to the
# file, and waits, so that Ctrl-C is handled at once. (Redirecting the call itself would
# also redirect the trap's messages if a signal arrives while it waits.)
run_bg() {
    local output=$1
    shift
    "$@" >"$output" 2>&1 &
    BG_PID=$!
    local rc=0
    wait "$BG_PID" || rc=$?
    BG_PID=""
    return "$rc"
}

set_runner || { echo "bench: no unprivileged user to run the poolers as" >&2; exit 1; }

# ---- PostgreSQL ----------------------------------------------------------------------
say "Starting a throwaway PostgreSQL ($mode mode)"
echo "    Durability is relaxed for the benchmark: fsync=off, synchronous_commit=off,"
echo "    full_page_writes=off. The data is thrown away; the disk is not what is measured."
PG_MAX_CONNECTIONS=300 PG_EXTRA_CONF="shared_buffers = 256MB" pg_start "$pgdir" || exit 1
export PGPASSWORD=$bench_password PGSSLMODE=disable PGGSSENCMODE=disable
as_super=(psql -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" -X -q -v ON_ERROR_STOP=1)
"${as_super[@]}" -d postgres <<SQL
SET password_encryption = 'scram-sha-256';
CREATE ROLE $bench_user LOGIN PASSWORD '$bench_password';
CREATE DATABASE $bench_db OWNER $bench_user;
CREATE ROLE $crowd_user LOGIN PASSWORD '$(python3 "$bench_dir/scram_secret.py" "$crowd_password" 256)';
SQL
say "pgbench -i -s $scale (directly, through the unix socket)"
pgbench -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$bench_user" -i -s "$scale" -q "$bench_db" 2>&1 | tail -n 1

# Both poolers check clients against the user's SCRAM secret as PostgreSQL stores it.
authdir=$work/auth
runner_dir "$authdir"
secret=$("${as_super[@]}" -d postgres -Atc "SELECT rolpassword FROM pg_authid WHERE rolname = '$bench_user'")
[[ $secret == SCRAM-SHA-256\$* ]] || { echo "bench: $bench_user has no SCRAM secret: $secret" >&2; exit 1; }
# With BENCH_AUTH_FILE_PLAIN=1 the auth_file holds the plain password instead: a SCRAM login
# then needs a secret derived with PBKDF2, which shows whether a pooler caches it.
if [[ "${BENCH_AUTH_FILE_PLAIN:-0}" == 1 ]]; then
    client_auth="scram-sha-256 over TCP loopback, auth_file with the plain password"
    printf '"%s" "%s"\n' "$bench_user" "$bench_password" >"$authdir/userlist.txt"
else
    client_auth="scram-sha-256 over TCP loopback, auth_file with the SCRAM secret from pg_authid"
    printf '"%s" "%s"\n' "$bench_user" "$secret" >"$authdir/userlist.txt"
fi
crowd_secret=$("${as_super[@]}" -d postgres -Atc "SELECT rolpassword FROM pg_authid WHERE rolname = '$crowd_user'")
printf '"%s" "%s"\n' "$crowd_user" "$crowd_secret" >>"$authdir/userlist.txt"
[[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$authdir/userlist.txt"
chmod 0600 "$authdir/userlist.txt"

# ---- poolers -------------------------------------------------------------------------
# One ini format for both (Sluice reads the [pgbouncer] section); only ports and paths,
# and Sluice's `workers` (SLUICE_WORKERS, else 1), differ.
# Server login: the database entry names the user and its password, so both poolers log in
# to PostgreSQL with SCRAM from the password (20 logins per pool, not per client). With
# BENCH_SCRAM_PASSTHROUGH=1 the entry has neither, and a pooler must log in with the keys
# the client proved against the auth_file's SCRAM secret (PgBouncer can; Sluice 0.1 cannot).
if [[ "${BENCH_SCRAM_PASSTHROUGH:-0}" == 1 ]]; then
    server_login="SCRAM pass-through (no password in the database entry)"
    db_entry="host=127.0.0.1 port=$PG_PORT dbname=$bench_db"
else
    server_login="user=$bench_user with its password in the database entry"
    db_entry="host=127.0.0.1 port=$PG_PORT dbname=$bench_db user=$bench_user password=$bench_password"
fi
write_ini() {
    local name=$1 port=$2 dir=$3
    cat <<EOF
[databases]
$bench_db = $db_entry

[pgbouncer]
listen_addr = $idle_hosts
listen_port = $port
listen_backlog = 4096
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $authdir/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = $max_client_conn
log_connections = 0
log_disconnections = 0
logfile = $dir/$name.log
EOF
    local workers=${sweep_workers:-${SLUICE_WORKERS:-1}}
    if [[ $name == sluice ]]; then
        echo "workers = $workers"
    fi
    if [[ -n "$wanted_settings" ]]; then
        echo "$wanted_settings"
    fi
}

start_pooler() {
    local name=$1 dir=$work/$1 port
    runner_dir "$dir"
    port=$(free_port)
    write_ini "$name" "$port" "$dir" >"$dir/$name.ini"
    "${RUNNER[@]}" "${pooler_bin[$name]}" "$dir/$name.ini" >>"$dir/$name.stderr.log" 2>&1 &
    local pid=$!
    if ! wait_listening "$port" "$pid" 15; then
        bench_log "$name did not start listening on 127.0.0.1:$port; its output:"
        tail -n 20 "$dir/$name.stderr.log" "$dir/$name.log" >&2 2>/dev/null || true
        stop_process "$pid" INT "$name"
        unset "pooler_pid[$name]"
        return 1
    fi
    pooler_pid[$name]=$pid
    pooler_port[$name]=$port
    pooler_settings[$name]=$wanted_settings
}

stop_pooler() {
    [[ -n "${pooler_pid[$1]:-}" ]] || return 0
    stop_process "${pooler_pid[$1]}" INT "$1"
    unset "pooler_pid[$1]"
}

target_port() { if [[ $1 == direct ]]; then echo "$PG_PORT"; else echo "${pooler_port[$1]}"; fi; }

# The pooler is alive and lets a SCRAM login run a query.
check_target() {
    local t=$1
    if [[ $t != direct && -z "${pooler_pid[$t]:-}" ]]; then
        start_pooler "$t" || return 1
    fi
    psql -X -h 127.0.0.1 -p "$(target_port "$t")" -U "$bench_user" -d "$bench_db" -Atc 'SELECT 1' >/dev/null 2>"$raw/check.$t.err"
}

# Writes a record for a target that died during a scenario, and brings it back for the next.
pooler_died() {
    local t=$1 scenario=$2 rc=0
    wait "${pooler_pid[$t]}" 2>/dev/null || rc=$?
    unset "pooler_pid[$t]"
    bench_log "$t exited (status $rc) during '$scenario'; last lines of its log:"
    tail -n 15 "$work/$t/$t.log" "$work/$t/$t.stderr.log" >&2 2>/dev/null || true
    echo "$t exited with status $rc during this scenario"
}

for t in pgbouncer sluice; do
    [[ " ${targets[*]} " == *" $t "* ]] || continue
    start_pooler "$t" || true
done

# ---- meta ----------------------------------------------------------------------------
records=$work/records.jsonl
: >"$records"
record() { python3 "$bench_dir/record.py" "$@" >>"$records"; }
skip() { record skip --scenario "$1" --label "${label[$1]}" --target "$2" --reason "$3"; }

pgbouncer_rev=$pgbouncer_version
[[ $pgbouncer_bin != /usr/sbin/pgbouncer ]] && pgbouncer_rev="$pgbouncer_version ($pgbouncer_bin)"
sluice_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || sluice_rev="$sluice_rev+uncommitted src changes"
python3 - "$work/meta.json" <<EOF
import json, os, platform, sys
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
json.dump({
    "mode": "$mode", "seconds": $seconds, "warmup_seconds": $warm, "scale": $scale,
    "idle_clients": $idle_n, "idle_addresses": "$idle_hosts", "storm_logins": $storm_n, "copy_mb": $copy_mb,
    "idle_seconds": $idle_seconds, "pool_size": $pool_size, "rounds": $rounds,
    "pool_mode": "transaction", "auth": "$client_auth",
    "server_login": "$server_login",
    "max_client_conn": $max_client_conn, "open_files_limit": $fd_limit, "idle_capped": "$idle_capped",
    "sluice_workers": "${SLUICE_WORKERS:-1}",
    "postgresql": "$("$PG_BINDIR/postgres" --version | awk '{print $3}')",
    "pgbouncer": "$pgbouncer_rev",
    "sluice": "$("$sluice_bin" --version | awk '{print $2}') ($sluice_rev)",
    "durability": "fsync=off, synchronous_commit=off, full_page_writes=off",
    "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
    "load_at_start": open('/proc/loadavg').read().split()[:3],
    "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
}, open(sys.argv[1], 'w'), indent=1)
EOF

# ---- pgbench scenarios ---------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)

# Sessions PostgreSQL has opened in the bench database (its own count, pg_stat_database): the
# difference over a run is the server logins the pooler made in it. The workers sweep shows it,
# as a server given to another worker is closed and a new one logs in there (DESIGN §3).
backend_sessions() {
    "${as_super[@]}" -d postgres -Atc "SELECT sessions FROM pg_stat_database WHERE datname = '$bench_db'" 2>/dev/null
}

run_pgbench() {
    local scenario=$1 t=$2 port pid="" rc=0 note=""
    port=$(target_port "$t")
    local out=$raw/$scenario.$t$run_tag
    ((rounds > 1)) && out=$out.r$BENCH_ROUND
    rm -f "$out".agg.*
    if [[ $scenario == tpcb50 ]]; then
        # What pgbench does before a run unless -n, done directly so no pooler pays for it.
        "${as_super[@]}" -d "$bench_db" -c 'VACUUM pgbench_branches' -c 'VACUUM pgbench_tellers' \
            -c 'TRUNCATE pgbench_history'
    fi
    [[ $t != direct ]] && pid=${pooler_pid[$t]}
    local sessions_before="" logins=""
    [[ $scenario == workers ]] && sessions_before=$(backend_sessions)
    [[ -n "$pid" ]] && cpu_sampler_start "$pid" "$out.cpu"
    # pgbench's -T includes logging all clients in (SCRAM costs the client milliseconds), so
    # many clients get that time on top; the CPU window starts at their first transaction.
    local clients duration
    clients=$(sed -n 's/.*-c \([0-9]*\).*/\1/p' <<<"${pgbench_args[$scenario]}")
    duration=$((clients > 1 ? seconds + 2 + clients / 100 : seconds))
    # shellcheck disable=SC2086  # the arguments are words on purpose
    run_bg "$out.out" timeout -k 10 $((duration + 180)) pgbench -h 127.0.0.1 -p "$port" -U "$bench_user" -n \
        -T "$duration" ${pgbench_args[$scenario]} -l --aggregate-interval=1 --log-prefix="$out.agg" \
        "$bench_db" || rc=$?
    cpu_sampler_stop
    if [[ -n "$sessions_before" ]]; then
        local sessions_after
        sessions_after=$(backend_sessions)
        [[ -n "$sessions_after" ]] && logins=$((sessions_after - sessions_before))
    fi
    [[ $rc -eq 124 || $rc -eq 137 ]] && note="pgbench did not finish within $((duration + 180)) s (killed)"
    if [[ -n "$pid" ]] && ! alive "$pid"; then
        note=$(pooler_died "$t" "$scenario")
    fi
    record pgbench --scenario "$scenario" --label "${label[$scenario]}" --target "$t" \
        --args "${pgbench_args[$scenario]}" --out "$out.out" --agg-prefix "$out.agg" \
        --cpu "$out.cpu" --clk-tck "$clk_tck" --warmup "$warm" --exit-status "$rc" --note "$note" \
        --workers "$sweep_workers" --server-logins "$logins"
    python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
}

# ---- idle clients --------------------------------------------------------------------
idle_tool=""
build_idle_tool() {
    if [[ -f "$build_dir/CMakeCache.txt" ]] &&
        cmake --build "$build_dir" --target bench_idle_clients >"$raw/idle_tool_build.log" 2>&1; then
        idle_tool=$build_dir/bench_idle_clients
        return 0
    fi
    # No configured build dir (e.g. SLUICE_BINARY from elsewhere): compile it directly.
    bench_log "CMake target bench_idle_clients unavailable (see raw/idle_tool_build.log); using g++"
    g++ -O2 -std=c++20 -Wall -Wextra "$bench_dir/idle_clients.cpp" "$repo/test/common/libpq_logins.cpp" \
        -I"$repo/test/common" -I"$(pg_config --includedir)" -lpq \
        -o "$work/bench_idle_clients" >>"$raw/idle_tool_build.log" 2>&1 && idle_tool=$work/bench_idle_clients
}

# On a freshly started pooler (so memory kept from earlier scenarios cannot hide the cost),
# one login warms the pool; then RSS before, N clients log in and sit idle, RSS after, and
# the pooler's CPU over idle_seconds while they sit there.
run_idle() {
    local t=$1
    local out=$raw/idle.$t note="" rc=0
    if [[ -z "$idle_tool" ]]; then
        skip idle "$t" "bench_idle_clients could not be built"
        return
    fi
    stop_pooler "$t"
    if ! start_pooler "$t" || ! check_target "$t"; then
        record idle --scenario idle --label "${label[idle]}" --target "$t" --note "$t did not start or refused a login"
        return
    fi
    local pid=${pooler_pid[$t]} rss_before rss_after ticks0 ticks1 t0 t1 ready="" i
    sleep 1
    rss_before=$(proc_rss_kb "$pid")
    local conninfo="host=127.0.0.1 port=${pooler_port[$t]} dbname=$bench_db user=$crowd_user password=$crowd_password sslmode=disable gssencmode=disable connect_timeout=120"
    "$idle_tool" "$conninfo" "$idle_n" 256 300 "$idle_hosts" >"$out.out" 2>&1 &
    idle_pid=$!
    for ((i = 0; i < 3200; i++)); do  # up to 320 s; the tool gives up at 300
        ready=$(grep -m 1 '^READY' "$out.out" 2>/dev/null || true)
        [[ -n "$ready" ]] && break
        alive "$idle_pid" || break
        sleep 0.1
    done
    if [[ -n "$ready" ]] && alive "$pid"; then
        sleep 1
        read_cpu_ticks "$pid"; ticks0=$CPU_TICKS; t0=$EPOCHREALTIME
        sleep "$idle_seconds"
        read_cpu_ticks "$pid"; ticks1=$CPU_TICKS; t1=$EPOCHREALTIME
        rss_after=$(proc_rss_kb "$pid")
    fi
    stop_process "$idle_pid" TERM bench_idle_clients
    idle_pid=""
    if ! alive "$pid"; then
        note=$(pooler_died "$t" idle)
    elif [[ -z "$ready" ]]; then
        note="bench_idle_clients did not report: $(tail -n 1 "$out.out" 2>/dev/null)"
    fi
    record idle --scenario idle --label "${label[idle]}" --target "$t" --ready "$ready" \
        --rss-before-kb "${rss_before:-}" --rss-after-kb "${rss_after:-}" \
        --idle-ticks "$((${ticks1:-0} - ${ticks0:-0}))" --idle-window "${t0:-0} ${t1:-0}" \
        --clk-tck "$clk_tck" --note "$note" || rc=$?
    python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
}

# ---- Sluice alone: the shared-pool micro-benchmark and the workers sweep ---------------
# bench_pool_contention (CMake target, not in `all`): N = 1, 2, 4, 8 threads acquiring and
# releasing servers of one shared pool, no network; its table goes into the report.
run_contention() {
    local out=$raw/contention tool=$build_dir/bench_pool_contention note="" rc=0
    if [[ ! -f "$build_dir/CMakeCache.txt" ]] ||
        ! cmake --build "$build_dir" --target bench_pool_contention -j2 >"$raw/contention_build.log" 2>&1; then
        record skip --scenario contention --label "${label[contention]}" --target sluice --error \
            --reason "bench_pool_contention could not be built in $build_dir (see raw/contention_build.log)"
        return
    fi
    run_bg "$out.out" "$tool" --seconds "$contention_seconds" --warmup 0.5 --json "$out.json" || rc=$?
    ((rc == 0)) || note="bench_pool_contention exit status $rc: $(tail -n 1 "$out.out")"
    record contention --scenario contention --label "${label[contention]}" --target sluice \
        --json "$out.json" --note "$note"
    cat "$out.out"
}

# sel50 through Sluice restarted with workers = 1, then 2 (the order reversed every other
# round), so CPU per transaction can be compared between one worker and two sharing the pool.
run_workers_sweep() {
    local w order=(1 2)
    ((BENCH_ROUND % 2 == 0)) && order=(2 1)
    for w in "${order[@]}"; do
        stop_pooler sluice
        sweep_workers=$w run_tag=.w$w
        if check_target sluice; then
            run_pgbench workers sluice
        else
            record skip --scenario workers --label "${label[workers]}" --target sluice --error \
                --reason "Sluice with workers = $w is not accepting logins: $(head -n 1 "$raw/check.sluice.err" 2>/dev/null)"
            python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
        fi
    done
    stop_pooler sluice  # the next scenario starts it again with the default workers
    sweep_workers="" run_tag=""
}

# ---- the run -------------------------------------------------------------------------
say "Targets: ${targets[*]}; scenarios: ${scenarios[*]}; pgbench -T $seconds (first $warm s are warm-up), scale $scale"
echo "    Both poolers: transaction mode, default_pool_size=$pool_size, TCP 127.0.0.1,"
echo "    max_client_conn=$max_client_conn, open files limit $fd_limit."
echo "    Client login: $client_auth."
echo "    Server login: $server_login."
[[ " ${targets[*]} " == *" pgbouncer "* ]] && echo "    PgBouncer $pgbouncer_version: $pgbouncer_bin"
[[ " ${targets[*]} " == *" sluice "* ]] && echo "    Sluice $("$sluice_bin" --version | awk '{print $2}'): ${SLUICE_BINARY:-$repo/build/sluice} ($sluice_rev)"
for t in "${targets[@]}"; do
    if ! check_target "$t"; then
        bench_log "$t: a SCRAM login with SELECT 1 failed: $(head -n 3 "$raw/check.$t.err" 2>/dev/null)"
    fi
done

export BENCH_ROUND=1  # record.py notes it in every record
for scenario in "${scenarios[@]}"; do
    say "${label[$scenario]}"
    # A pooler started with other settings than this scenario's is restarted (check_target).
    wanted_settings=${scenario_settings[$scenario]:-}
    [[ -n "$wanted_settings" ]] && echo "    both poolers with: $wanted_settings"
    for t in pgbouncer sluice; do
        [[ $t == pgbouncer && -n "$(pgbouncer_cannot "$scenario")" ]] && continue  # skipped, not restarted
        if [[ -n "${pooler_pid[$t]:-}" && "${pooler_settings[$t]:-}" != "$wanted_settings" ]]; then
            stop_pooler "$t"
        fi
    done
    if [[ $scenario == idle ]]; then
        [[ " ${targets[*]} " == *" direct "* ]] && skip idle direct "${direct_skip[idle]}"
    fi
    if [[ ($scenario == idle || $scenario == storm) && -z "$idle_tool" ]]; then
        [[ " ${targets[*]} " =~ " "(pgbouncer|sluice)" " ]] && build_idle_tool
    fi
    if [[ $scenario == contention ]]; then
        run_contention  # once: no target, no PostgreSQL
        continue
    fi
    # Idle, storm and copy run once: their figures are stable, and they take a while.
    scenario_rounds=$([[ $scenario =~ ^(idle|storm|copy)$ ]] && echo 1 || echo "$rounds")
    for ((BENCH_ROUND = 1; BENCH_ROUND <= scenario_rounds; BENCH_ROUND++)); do
        ((scenario_rounds > 1)) && echo "  round $BENCH_ROUND/$scenario_rounds"
        order=("${targets[@]}")
        if ((BENCH_ROUND % 2 == 0)); then
            order=()
            for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
        fi
        if [[ $scenario == workers ]]; then
            [[ " ${targets[*]} " == *" sluice "* ]] && run_workers_sweep
            continue
        fi
        for t in "${order[@]}"; do
            if [[ $t == direct && -n "${direct_skip[$scenario]:-}" ]]; then
                [[ $scenario != idle && $BENCH_ROUND == 1 ]] && skip "$scenario" direct "${direct_skip[$scenario]}"
                continue
            fi
            if [[ $t == pgbouncer && -n "$(pgbouncer_cannot "$scenario")" ]]; then
                [[ $BENCH_ROUND == 1 ]] && skip "$scenario" pgbouncer "$(pgbouncer_cannot "$scenario")" &&
                    python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
                continue
            fi
            if [[ $scenario == idle ]]; then
                run_idle "$t"
            elif [[ $scenario == copy ]]; then
                run_copy "$t"
            elif [[ $scenario == storm && -z "$idle_tool" ]]; then
                skip storm "$t" "bench_idle_clients could not be built"
            elif [[ $scenario == storm ]] && check_target "$t"; then
                run_storm "$t"
            elif [[ $scenario != storm ]] && check_target "$t"; then
                run_pgbench "$scenario" "$t"
            else
                record skip --scenario "$scenario" --label "${label[$scenario]}" --target "$t" --error \
                    --reason "$t is not accepting logins: $(head -n 1 "$raw/check.$t.err" 2>/dev/null)"
                python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
            fi
        done
    done
done

# ---- report --------------------------------------------------------------------------
for t in pgbouncer sluice; do stop_pooler "$t"; done
pg_stop "$pgdir" || true
mkdir -p "$results"
rm -rf "$results/raw"
cp -r "$raw" "$results/raw"
rm -f "$results"/raw/*.agg.* "$results"/raw/*.cpu
say "Results"
python3 - "$work/meta.json" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
meta['load_at_end'] = open('/proc/loadavg').read().split()[:3]
json.dump(meta, open(sys.argv[1], 'w'), indent=1)
EOF
python3 "$bench_dir/report.py" --records "$records" --meta "$work/meta.json" --out "$results"
if command -v gnuplot >/dev/null 2>&1; then
    if gnuplot -e "datafile='$results/ratios.dat'; outfile='$results/ratios.png'" "$bench_dir/ratios.gp" 2>"$raw/gnuplot.err"; then
        echo "chart:    $results/ratios.png"
    else
        bench_log "gnuplot failed: $(head -n 3 "$raw/gnuplot.err")"
    fi
else
    bench_log "gnuplot not installed; no chart (run 'make deps')"
fi
