#!/usr/bin/env bash
# `make bench-failover`: the failover drill. A throwaway primary with one synchronous
# streaming standby; writer clients insert one row per transaction; the primary is killed
# (pg_ctl stop -m immediate), the standby promoted a second later, and the writers go on.
# Run twice, each time on a fresh pair of clusters: through Sluice (a multi-host database
# entry with target_session_attrs=read-write) and straight to PostgreSQL with libpq's own
# multi-host conninfo. Prints a Markdown table and writes bench/results/failover.json,
# failover.md and failover-raw/. See bench/README.md ("Failover drill") for how to read it.
#
#   bench/failover.sh [--clients N] [--tx] [--targets sluice,libpq]
#                     [--before S] [--promote-after S] [--after S]
#
#   --clients N        writer clients (default 10), each with its own connection
#   --tx               BEGIN; INSERT; COMMIT per row instead of an autocommit INSERT
#   --targets LIST     which drills to run, in order (default sluice,libpq)
#   --before S         seconds of writing before the primary is killed (default 3)
#   --promote-after S  seconds between the kill and `pg_ctl promote` (default 1)
#   --after S          seconds of writing after the standby is writable (default 5)
#
# Environment: SLUICE_BINARY (default build/sluice), BENCH_BUILD_DIR (CMake build dir for
# the writer tool, default build), BENCH_RESULTS (default bench/results), KEEP_BENCH_DIR=1
# keeps the temp dir, SLUICE_FAILOVER_SETTINGS (extra lines for Sluice's [pooler] section,
# e.g. $'primary_wait_timeout = 10').
#
# Everything it starts (PostgreSQL, Sluice, the writers) is stopped on exit, Ctrl-C and
# failure included; every wait is bounded. A drill that cannot run (Sluice refuses the
# configuration, never reaches the new primary, ...) is reported as an error in the table
# and the run goes on. Exit status: 1 when an acknowledged commit is missing on the new
# primary (that is a correctness failure, not a figure), 2 on bad arguments, else 0.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir=$repo/bench
# shellcheck source=scripts/pg_throwaway.sh
source "$repo/scripts/pg_throwaway.sh"
# shellcheck source=bench/lib.sh
source "$bench_dir/lib.sh"

usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ---- settings -------------------------------------------------------------------------
clients=10 tx=0 targets_arg=sluice,libpq before=3 promote_after=1 after=5
while (($#)); do
    case $1 in
        --clients) clients=${2:?}; shift ;;
        --tx) tx=1 ;;
        --targets) targets_arg=${2:?}; shift ;;
        --before) before=${2:?}; shift ;;
        --promote-after) promote_after=${2:?}; shift ;;
        --after) after=${2:?}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "failover: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
for n in clients before promote_after after; do
    [[ ${!n} =~ ^[0-9]+$ ]] || { echo "failover: --${n//_/-} must be a whole number of seconds (or clients)" >&2; exit 2; }
done
((clients >= 1 && clients <= 200)) || { echo "failover: --clients must be between 1 and 200" >&2; exit 2; }
IFS=, read -r -a targets <<<"$targets_arg"
for t in "${targets[@]}"; do
    [[ $t == sluice || $t == libpq ]] || { echo "failover: unknown target '$t' (sluice, libpq)" >&2; exit 2; }
done

pool_size=5 probe_interval=1
poll_prio=()
if [[ $(id -u) -eq 0 ]]; then poll_prio=(nice -n -10); fi
drill_user=drill drill_password=drill-pw drill_db=app
promote_timeout=30  # seconds the standby gets to become writable
ready_timeout=30    # seconds every writer gets for its first commit
# The writers stop themselves after this even if the script could not signal them.
writer_max=$((before + promote_after + promote_timeout + after + 30))

sluice_bin=${SLUICE_BINARY:-$repo/build/sluice}
build_dir=${BENCH_BUILD_DIR:-$repo/build}
results=${BENCH_RESULTS:-$bench_dir/results}
for tool in psql python3 pg_config; do
    command -v "$tool" >/dev/null 2>&1 || { echo "failover: $tool not found; run 'make deps'" >&2; exit 1; }
done

# ---- process bookkeeping and cleanup --------------------------------------------------
work=$(mktemp -d /tmp/sluice-failover.XXXXXX)
chmod 0755 "$work"
mkdir -p "$work/bin"
chmod 0755 "$work/bin"
if [[ -x "$sluice_bin" ]]; then
    # A copy, so that a rebuild of build/ during the run cannot swap the binary under us.
    cp "$sluice_bin" "$work/bin/sluice"
    chmod 0755 "$work/bin/sluice"
    sluice_bin=$work/bin/sluice
else
    sluice_bin=""
fi
records=$work/records.jsonl
: >"$records"
writer_pid="" poller_pid="" sluice_pid=""
pg_dirs=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_process "$writer_pid" TERM "bench_failover_writer"
    stop_process "$poller_pid" TERM "bench_failover_writer --wait-writable"
    stop_process "$sluice_pid" INT "sluice"
    local d
    for d in "${pg_dirs[@]}"; do
        pg_stop "$d" 2>/dev/null || true
    done
    if [[ "${KEEP_BENCH_DIR:-0}" == 1 ]]; then
        echo "failover: kept $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "failover: interrupted; stopping everything" >&2; exit 130' INT
trap 'echo "failover: terminated; stopping everything" >&2; exit 143' TERM

set_runner || { echo "failover: no unprivileged user to run PostgreSQL and Sluice as" >&2; exit 1; }

# ---- the writer tool ------------------------------------------------------------------
writer=""
build_writer() {
    local log=$work/writer_build.log
    if [[ -f "$build_dir/CMakeCache.txt" ]]; then
        # A build dir configured before the target existed needs a configure run first.
        if cmake --build "$build_dir" --target bench_failover_writer >"$log" 2>&1 ||
            { cmake -S "$repo" -B "$build_dir" >>"$log" 2>&1 &&
                cmake --build "$build_dir" --target bench_failover_writer >>"$log" 2>&1; }; then
            writer=$build_dir/bench_failover_writer
        fi
    fi
    if [[ -z "$writer" ]]; then
        bench_log "CMake target bench_failover_writer unavailable (see $log); using g++"
        g++ -O2 -std=c++20 -Wall -Wextra -pthread "$bench_dir/failover_writer.cpp" -I"$(pg_config --includedir)" \
            -lpq -o "$work/bin/bench_failover_writer" >>"$log" 2>&1 || { cat "$log" >&2; return 1; }
        writer=$work/bin/bench_failover_writer
    fi
    # A copy, like the pooler's: a rebuild during the run changes nothing.
    cp "$writer" "$work/bin/writer" && writer=$work/bin/writer
}
build_writer || { echo "failover: could not build bench_failover_writer" >&2; exit 1; }

# ---- helpers --------------------------------------------------------------------------
# psql as the superuser through the unix socket of the cluster in $1 on port $2, database $3.
su_psql() {
    local dir=$1 port=$2 db=$3
    shift 3
    timeout -k 5 60 psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$PG_SUPERUSER" -d "$db" "$@"
}

# Runs a PostgreSQL program as its user from directory $1, like _pgt_run, but with setpriv
# rather than runuser (no PAM session: the kill and the promotion happen when noted).
as_pg() {
    local cwd=$1
    shift
    (cd "$cwd" && "${RUNNER[@]}" "$@")
}

# One line, no tabs, at most 400 characters: for the drill's reason field.
oneline() { tr '\n\t' '  ' | sed 's/  */ /g; s/^ //; s/ $//' | cut -c1-400; }

# Appends key=value to the drill's record file (values are single lines).
note() { printf '%s=%s\n' "$1" "$2" >>"$drill_env"; }

drill_fail() {
    drill_reason=$1
    bench_log "$drill_target: $drill_reason"
    note reason "$drill_reason"
}

primary_conf="synchronous_commit = on
full_page_writes = on
wal_level = replica
max_wal_senders = 5
log_line_prefix = '%m [%p] '"

# Starts the primary and one synchronous standby for drill $1 under dir $2. Sets p_dir,
# p_port, s_dir, s_port.
start_clusters() {
    local d=$1
    p_dir=$d/primary s_dir=$d/standby
    pg_dirs+=("$p_dir" "$s_dir")
    PG_MAX_CONNECTIONS=100 PG_EXTRA_CONF="$primary_conf" pg_start "$p_dir" || { drill_fail "the primary did not start"; return 1; }
    p_port=$PG_PORT
    su_psql "$p_dir" "$p_port" postgres >/dev/null <<SQL || { drill_fail "creating the drill's role, database and table failed"; return 1; }
SET password_encryption = 'scram-sha-256';
CREATE ROLE $drill_user LOGIN PASSWORD '$drill_password';
CREATE DATABASE $drill_db OWNER $drill_user;
\\c $drill_db
CREATE TABLE failover_drill (client int NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (client, seq));
ALTER TABLE failover_drill OWNER TO $drill_user;
SQL
    mkdir -p "$s_dir"
    [[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$s_dir"
    chmod 0700 "$s_dir"
    if ! _pgt_run "$s_dir" timeout -k 5 120 "$PG_BINDIR/pg_basebackup" -h "$p_dir" -p "$p_port" -U "$PG_SUPERUSER" \
        -D "$s_dir/pgdata" -R -X stream -c fast >"$d/pg_basebackup.log" 2>&1; then
        drill_fail "pg_basebackup failed: $(oneline <"$d/pg_basebackup.log")"
        return 1
    fi
    s_port=$(free_port)
    # The copy carries the primary's port and socket; after promotion it has no standby of
    # its own, so it must not wait for one.
    cat >>"$s_dir/pgdata/postgresql.auto.conf" <<EOF
# standby of the failover drill
port = $s_port
unix_socket_directories = '$s_dir'
synchronous_standby_names = ''
EOF
    if ! _pgt_run "$s_dir" "$PG_BINDIR/pg_ctl" -D "$s_dir/pgdata" -l "$s_dir/postgres.log" -w -t 60 start >/dev/null 2>&1; then
        drill_fail "the standby did not start: $(tail -n 5 "$s_dir/postgres.log" 2>/dev/null | oneline)"
        return 1
    fi
    # Synchronous from now on: a commit is acknowledged once the standby has it.
    su_psql "$p_dir" "$p_port" postgres -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
    local i state=""
    for ((i = 0; i < 300; i++)); do
        state=$(su_psql "$p_dir" "$p_port" postgres -c "SELECT state || '/' || sync_state FROM pg_stat_replication" 2>/dev/null || true)
        [[ $state == streaming/sync ]] && break
        sleep 0.1
    done
    if [[ $state != streaming/sync ]]; then
        drill_fail "the standby did not become a synchronous streaming standby within 30 s (pg_stat_replication: '${state:-no row}')"
        return 1
    fi
    note primary_settings "$(su_psql "$p_dir" "$p_port" postgres -F ' ' -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('synchronous_commit', 'synchronous_standby_names', 'fsync')" | oneline)"
    echo "    primary 127.0.0.1:$p_port, synchronous standby 127.0.0.1:$s_port"
}

start_sluice() {
    local d=$1 sd=$1/sluice port secret
    runner_dir "$sd"
    if [[ -z "$sluice_bin" ]]; then
        drill_fail "${SLUICE_BINARY:-build/sluice} not found; build it with 'make build'"
        return 1
    fi
    secret=$(su_psql "$p_dir" "$p_port" postgres -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$drill_user'")
    printf '"%s" "%s"\n' "$drill_user" "$secret" >"$sd/userlist.txt"
    [[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$sd/userlist.txt"
    chmod 0600 "$sd/userlist.txt"
    port=$(free_port)
    cat >"$sd/sluice.ini" <<EOF
[databases]
$drill_db = host=127.0.0.1,127.0.0.1 port=$p_port,$s_port dbname=$drill_db target_session_attrs=read-write user=$drill_user password=$drill_password

[pooler]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $sd/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = 200
host_probe_interval = $probe_interval
logfile = $sd/sluice.log
${SLUICE_FAILOVER_SETTINGS:-}
EOF
    [[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$sd/sluice.ini"
    note sluice_version "$("$sluice_bin" --version 2>/dev/null | head -n 1)"
    # --check first: a Sluice without multi-host support says here what it does not accept.
    local check_rc=0
    timeout -k 5 30 "${RUNNER[@]}" "$sluice_bin" --check "$sd/sluice.ini" >"$sd/check.log" 2>&1 || check_rc=$?
    if ((check_rc != 0)); then
        drill_fail "Sluice rejected the configuration (does this build support multi-host entries?): $(oneline <"$sd/check.log")"
        return 1
    fi
    if grep -qi 'unknown\|not supported' "$sd/check.log"; then
        note sluice_warnings "$(grep -i 'unknown\|not supported' "$sd/check.log" | oneline)"
    fi
    "${RUNNER[@]}" "$sluice_bin" "$sd/sluice.ini" >>"$sd/sluice.stderr.log" 2>&1 &
    sluice_pid=$!
    if ! wait_listening "$port" "$sluice_pid" 15; then
        drill_fail "Sluice did not listen on 127.0.0.1:$port within 15 s: $(tail -n 3 "$sd/sluice.stderr.log" "$sd/sluice.log" 2>/dev/null | grep -v '^==>' | oneline)"
        return 1
    fi
    sluice_port=$port
    local answer
    answer=$(PGCONNECT_TIMEOUT=5 timeout -k 5 20 psql -X -At "host=127.0.0.1 port=$port dbname=$drill_db user=$drill_user password=$drill_password sslmode=disable gssencmode=disable" \
        -c 'SELECT pg_is_in_recovery()' 2>"$sd/check_login.err" || true)
    if [[ $answer != f ]]; then
        drill_fail "a login through Sluice did not reach the primary (pg_is_in_recovery: '${answer:-no answer}'): $(oneline <"$sd/check_login.err")"
        return 1
    fi
    echo "    $(sed -n 's/^sluice_version=//p' "$drill_env") on 127.0.0.1:$port (transaction pooling, pool_size $pool_size, host_probe_interval $probe_interval)"
}

# ---- one drill ------------------------------------------------------------------------
run_drill() {
    drill_target=$1
    local d=$work/$1 conninfo
    drill_env=$d/drill.env drill_reason=""
    runner_dir "$d"
    : >"$drill_env"
    note target "$drill_target"
    say "Drill: $([[ $drill_target == sluice ]] && echo "through Sluice" || echo "libpq multi-host, straight to PostgreSQL")"

    start_clusters "$d" || return 0
    note primary_port "$p_port"
    note standby_port "$s_port"
    local common="dbname=$drill_db user=$drill_user password=$drill_password sslmode=disable gssencmode=disable connect_timeout=2 application_name=failover_writer"
    if [[ $drill_target == sluice ]]; then
        start_sluice "$d" || return 0
        conninfo="host=127.0.0.1 port=$sluice_port $common"
    else
        conninfo="host=127.0.0.1,127.0.0.1 port=$p_port,$s_port target_session_attrs=read-write $common"
    fi
    note conninfo "${conninfo/password=$drill_password/password=...}"

    local tx_flag=()
    ((tx)) && tx_flag=(--tx)
    "$writer" --clients "$clients" "${tx_flag[@]}" --seconds "$writer_max" --acks "$d/acks.tsv" \
        --events "$d/events.jsonl" --ready "$d/ready" "$conninfo" >"$d/summary.json" 2>"$d/writer.err" &
    writer_pid=$!
    local i
    for ((i = 0; i < ready_timeout * 10; i++)); do
        [[ -s "$d/ready" ]] && break
        alive "$writer_pid" || break
        sleep 0.1
    done
    if [[ ! -s "$d/ready" ]]; then
        stop_process "$writer_pid" TERM bench_failover_writer
        writer_pid=""
        drill_fail "the writers did not all commit once within $ready_timeout s: $(head -n 1 "$d/events.jsonl" 2>/dev/null | oneline) $(oneline <"$d/writer.err")"
        return 0
    fi
    echo "    $clients writers committing; the primary is killed in $before s"
    sleep "$before"

    # The crash.
    note kill_wall "$EPOCHREALTIME"
    as_pg "$p_dir" "$PG_BINDIR/pg_ctl" -D "$p_dir/pgdata" -m immediate -w -t 30 stop >"$d/kill.log" 2>&1 || true
    note killed_wall "$EPOCHREALTIME"
    echo "    primary killed (pg_ctl stop -m immediate); promoting the standby in $promote_after s"
    # The poller connects to the standby now, so it is polling when the promotion ends; as
    # root it runs at a higher priority, so ten writers retrying logins do not delay it.
    "${poll_prio[@]}" "$writer" --wait-writable "host=$s_dir port=$s_port dbname=postgres user=$PG_SUPERUSER connect_timeout=2" \
        $((promote_after + promote_timeout)) >"$d/writable.json" 2>&1 &
    poller_pid=$!
    sleep "$promote_after"
    note promote_wall "$EPOCHREALTIME"
    as_pg "$s_dir" "$PG_BINDIR/pg_ctl" -D "$s_dir/pgdata" -W promote >"$d/promote.log" 2>&1 || true
    local poll_rc=0
    wait "$poller_pid" || poll_rc=$?
    poller_pid=""
    if ((poll_rc != 0)); then
        drill_fail "the standby was not writable within $promote_timeout s of pg_ctl promote: $(oneline <"$d/writable.json")"
    else
        echo "    standby writable; writing $after s more"
    fi
    sleep "$after"
    stop_process "$writer_pid" TERM bench_failover_writer
    writer_pid=""

    if [[ $drill_target == sluice ]]; then
        if ! alive "$sluice_pid"; then
            local rc=0
            wait "$sluice_pid" 2>/dev/null || rc=$?
            note sluice_died "Sluice exited (status $rc) during the drill"
        fi
        stop_process "$sluice_pid" INT sluice
        sluice_pid=""
        # What Sluice last said about its hosts: the first clue when it did not follow.
        note sluice_last_host_lines "$(grep -E 'WARNING|ERROR|FATAL| host ' "$d/sluice/sluice.log" 2>/dev/null | tail -n 2 | oneline)"
    fi

    # Every acknowledged commit must be on the new primary.
    if ((poll_rc == 0)) && [[ -f "$d/acks.tsv" ]]; then
        local counts
        counts=$(su_psql "$s_dir" "$s_port" "$drill_db" <<SQL 2>"$d/check.err" | tail -n 1
CREATE TEMP TABLE acked (client int, seq bigint, wall_us bigint, mono_us bigint);
\\copy acked FROM '$d/acks.tsv'
SELECT (SELECT count(*) FROM acked),
       (SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM failover_drill f WHERE f.client = a.client AND f.seq = a.seq)),
       (SELECT count(*) FROM failover_drill),
       (SELECT count(*) FROM failover_drill f WHERE NOT EXISTS (SELECT 1 FROM acked a WHERE a.client = f.client AND a.seq = f.seq));
SQL
        )
        if [[ $counts =~ ^[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+$ ]]; then
            IFS='|' read -r c_acked c_lost c_rows c_unacked <<<"$counts"
            note checked_acked "$c_acked"
            note lost "$c_lost"
            note rows "$c_rows"
            note unacked_rows "$c_unacked"
            ((c_lost == 0)) || bench_log "$drill_target: $c_lost acknowledged commits are missing on the new primary"
        else
            note check_error "checking the rows on the new primary failed: $(oneline <"$d/check.err")"
        fi
    fi
    pg_stop "$s_dir" >/dev/null 2>&1 || true
    pg_stop "$p_dir" >/dev/null 2>&1 || true
}

# Turns one drill's files into a JSON record (one line of $records).
record_drill() {
    local d=$work/$1
    python3 - "$d" >>"$records" <<'EOF'
import json, os, sys
d = sys.argv[1]
rec = {}
for line in open(os.path.join(d, 'drill.env')):
    k, _, v = line.rstrip('\n').partition('=')
    rec[k] = v
for k in ('kill_wall', 'killed_wall', 'promote_wall'):
    if k in rec:
        rec[k] = float(rec[k])
for k in ('primary_port', 'standby_port', 'checked_acked', 'lost', 'rows', 'unacked_rows'):
    if k in rec:
        rec[k] = int(rec[k])
def load(name):
    try:
        return json.load(open(os.path.join(d, name)))
    except (OSError, ValueError):
        return None
writable = load('writable.json')
if writable and 'writable_wall_us' in writable:
    rec['writable_wall'] = writable['writable_wall_us'] / 1e6
    if writable.get('last_in_recovery_wall_us'):
        rec['writable_resolution_ms'] = (writable['writable_wall_us'] - writable['last_in_recovery_wall_us']) / 1e3
summary = load('summary.json')
if summary is not None:
    rec['writer'] = summary
elif 'reason' not in rec:
    rec['reason'] = 'the writer printed no summary: ' + open(os.path.join(d, 'writer.err')).read()[-300:]
acks = []
try:
    for line in open(os.path.join(d, 'acks.tsv')):
        f = line.split('\t')
        acks.append(int(f[2]) / 1e6)
except OSError:
    pass
acks.sort()
if 'kill_wall' in rec:
    before = [a for a in acks if a < rec['kill_wall']]
    if summary and before:
        rec['commits_per_s_before_kill'] = len(before) / max(1e-3, rec['kill_wall'] - summary['start_wall_us'] / 1e6)
if 'killed_wall' in rec:
    after = [a for a in acks if a > rec['killed_wall']]
    rec['acked_after_failover'] = len(after)
    if after:
        rec['first_commit_after_failover_wall'] = after[0]
        if 'writable_wall' in rec:
            rec['reaction_ms'] = (after[0] - rec['writable_wall']) * 1e3
        first_error = (summary or {}).get('first_error')
        if first_error:
            rec['first_error_to_new_primary_commit_ms'] = (after[0] - first_error['wall_us'] / 1e6) * 1e3
    if 'writable_wall' in rec:
        rec['kill_to_writable_ms'] = (rec['writable_wall'] - rec['kill_wall']) * 1e3
        rec['promote_to_writable_ms'] = (rec['writable_wall'] - rec['promote_wall']) * 1e3
if 'reason' not in rec and 'writable_wall' in rec and 'first_commit_after_failover_wall' not in rec:
    rec['reason'] = 'no commit went through after the failover (the target did not follow the new primary)'
if 'reason' not in rec and 'check_error' in rec:
    rec['reason'] = rec['check_error']
rec['status'] = 'error' if 'reason' in rec else 'ok'
print(json.dumps(rec))
EOF
}

# ---- the run --------------------------------------------------------------------------
pg_version=$("$(_pgt_bindir)/postgres" --version 2>/dev/null | awk '{print $3}')
sluice_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || sluice_rev="$sluice_rev+uncommitted src changes"
[[ -n "${SLUICE_BINARY:-}" ]] && sluice_rev="$SLUICE_BINARY"
say "Failover drill: $clients writers ($([[ $tx == 1 ]] && echo "BEGIN/INSERT/COMMIT" || echo "autocommit INSERT")), kill after $before s, promote $promote_after s later, $after s more; targets: ${targets[*]}"
echo "    PostgreSQL $pg_version: primary + 1 streaming standby, synchronous_standby_names = '*',"
echo "    synchronous_commit = on (fsync = off: a process crash is drilled, not a power cut)."
for t in "${targets[@]}"; do
    run_drill "$t" || drill_fail "the drill stopped unexpectedly"
    stop_process "$writer_pid" TERM bench_failover_writer; writer_pid=""
    stop_process "$poller_pid" TERM poller; poller_pid=""
    stop_process "$sluice_pid" INT sluice; sluice_pid=""
    record_drill "$t" || bench_log "$t: no record could be written"
done

# ---- report ---------------------------------------------------------------------------
mkdir -p "$results"
rm -rf "$results/failover-raw"
mkdir -p "$results/failover-raw"
for t in "${targets[@]}"; do
    mkdir -p "$results/failover-raw/$t"
    (cd "$work/$t" && find . -maxdepth 2 -type f \( -name '*.log' -o -name '*.json' -o -name '*.jsonl' -o -name '*.tsv' \
        -o -name '*.err' -o -name '*.env' -o -name '*.ini' \) -exec cp --parents {} "$results/failover-raw/$t/" \;) 2>/dev/null || true
    if [[ -f "$results/failover-raw/$t/acks.tsv" ]]; then gzip -f "$results/failover-raw/$t/acks.tsv"; fi
done
say "Results"
status=0
python3 - "$records" "$results" <<EOF || status=$?
import json, os, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
meta = {
    "clients": $clients, "mode": "$([[ $tx == 1 ]] && echo "BEGIN/INSERT/COMMIT" || echo "autocommit INSERT")",
    "before_kill_s": $before, "promote_after_s": $promote_after, "after_writable_s": $after,
    "sluice_pool_mode": "transaction", "sluice_pool_size": $pool_size, "host_probe_interval": $probe_interval,
    "sluice_extra_settings": os.environ.get("SLUICE_FAILOVER_SETTINGS", "").strip(),
    "postgresql": "$pg_version", "sluice_rev": "$sluice_rev",
    "setup": "primary + 1 streaming standby (pg_basebackup -R), synchronous_standby_names='*', synchronous_commit=on, fsync=off",
    "kill": "pg_ctl stop -m immediate", "promote": "pg_ctl promote",
    "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "load": open('/proc/loadavg').read().split()[:3],
}
names = {"sluice": "Sluice", "libpq": "libpq multi-host, direct"}

def ms(v):
    return "-" if v is None else f"{v:.0f}"
def reaction(r):
    v = r.get("reaction_ms")
    if v is None or v >= 0:
        return ms(v)
    return "~0 (†)"
def w(r, k):
    return (r.get("writer") or {}).get(k)
rows = [
    ("acknowledged commits", lambda r: w(r, "acknowledged")),
    ("commits/s before the crash", lambda r: None if r.get("commits_per_s_before_kill") is None else f"{r['commits_per_s_before_kill']:.0f}"),
    ("PostgreSQL: kill → standby writable, ms", lambda r: ms(r.get("kill_to_writable_ms"))),
    ("**reaction**: standby writable → first commit, ms", lambda r: reaction(r)),
    ("**longest write gap**, ms", lambda r: None if w(r, "longest_write_gap_ms") is None else
        ms(w(r, "longest_write_gap_ms")) + (" (open at stop)" if w(r, "gap_open_at_stop") else "")),
    ("first error → first commit on the new primary, ms", lambda r: ms(r.get("first_error_to_new_primary_commit_ms"))),
    ("**client-visible errors** (failed transactions)", lambda r: w(r, "errors")),
    ("… of which the connection stayed open", lambda r: w(r, "errors_connection_kept")),
    ("errors by SQLSTATE", lambda r: None if r.get("writer") is None else
        (", ".join(f"{k}: {v}" for k, v in w(r, "errors_by_sqlstate").items()) or "-")),
    ("connections lost", lambda r: w(r, "connections_lost")),
    ("failed connection attempts", lambda r: w(r, "connect_failures")),
    ("reconnects", lambda r: w(r, "reconnects")),
    ("**lost commits** (acknowledged, missing on the new primary)", lambda r: r.get("lost")),
    ("committed but not acknowledged (in doubt)", lambda r: r.get("unacked_rows")),
]
def cell(r, f):
    try:
        v = f(r)
    except Exception:
        v = None
    text = "-" if v is None else str(v)
    return text
lines = ["| | " + " | ".join(names.get(r["target"], r["target"]) for r in records) + " |",
         "| --- |" + " --- |" * len(records)]
lines.append("| status | " + " | ".join(r["status"] for r in records) + " |")
for label, f in rows:
    lines.append(f"| {label} | " + " | ".join(cell(r, f) for r in records) + " |")
notes = []
for r in records:
    name = names.get(r["target"], r["target"])
    if r.get("reason"):
        notes.append(f"- **{name}: error**: {r['reason']}")
    if r.get("sluice_warnings"):
        notes.append(f"- {name}: Sluice warned: {r['sluice_warnings']}")
    if r.get("status") == "error" and r.get("sluice_last_host_lines"):
        notes.append(f"- {name}: Sluice's last lines about hosts: {r['sluice_last_host_lines']}")
    if r.get("sluice_died"):
        notes.append(f"- {name}: {r['sluice_died']}")
    fe = w(r, "first_error")
    if fe:
        notes.append(f"- {name}: first error ({fe['kind']}, SQLSTATE {fe['sqlstate'] or 'none'}): {fe['message'][:200]}")
    if (r.get("reaction_ms") or 0) < 0:
        notes.append(f"- {name}: † the first commit came {-r['reaction_ms']:.0f} ms before the poller saw the standby "
                     f"writable (its poll brackets the promotion to {r.get('writable_resolution_ms', 0):.0f} ms on this "
                     f"busy machine): the target wrote at once")
    if w(r, "abandoned_at_stop"):
        notes.append(f"- {name}: {w(r, 'abandoned_at_stop')} transactions still unanswered when the writers stopped")
table = "\n".join(lines)
sluice_part = "" if not any(r["target"] == "sluice" for r in records) else (
    f"Sluice {meta['sluice_rev']} (transaction pooling, pool_size {meta['sluice_pool_size']}, "
    f"host_probe_interval {meta['host_probe_interval']}"
    + (f"; {meta['sluice_extra_settings']}" if meta['sluice_extra_settings'] else "") + "). ")
header = (f"Failover drill, {meta['date']}: {meta['clients']} writers ({meta['mode']}), PostgreSQL {meta['postgresql']}. "
          + sluice_part + f"Primary killed after {meta['before_kill_s']} s "
          f"(pg_ctl stop -m immediate), standby promoted {meta['promote_after_s']} s later, "
          f"writers stopped {meta['after_writable_s']} s after it was writable.")
md = "# Failover drill\n\n" + header + "\n\n" + table + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")
open(out + "/failover.md", "w").write(md)
json.dump({"meta": meta, "drills": records}, open(out + "/failover.json", "w"), indent=1)
print(header + "\n\n" + table + ("\n\n" + "\n".join(notes) if notes else ""))
print(f"\nwritten: {out}/failover.md, {out}/failover.json, {out}/failover-raw/")
sys.exit(1 if any((r.get("lost") or 0) > 0 for r in records) else 0)
EOF
exit "$status"
