# shellcheck shell=bash disable=SC2154  # run.sh's variables
# The scale scenarios of bench/run.sh that are not one plain pgbench run (sourced by it; they use
# its variables and helpers: raw, work, warm, record, target_port, start_pooler, …):
#
#   storm  pgbench -S -c 50 runs; after the warm-up and a quiet stretch, bench_idle_clients logs
#          storm_n clients in as crowd_user (256 logins in flight), and they go once all are in. The busy
#          clients' latency in the quiet seconds and in the seconds the storm overlaps.
#   copy   COPY of copy_mb MB out of a table and into another through the target, timed; the
#          pooler's CPU over each (less disturbed by a busy machine than the time) and its peak
#          RSS (VmHWM of a freshly started pooler) against its RSS before.

run_storm() {
    local t=$1
    local port out=$raw/storm.$t rc=0 note="" pid="" ready="" storm_start storm_end i
    if [[ $t != direct ]]; then
        pid=${pooler_pid[$t]}
    fi
    port=$(target_port "$t")
    rm -f "$out".agg.*
    pgbench -h 127.0.0.1 -p "$port" -U "$bench_user" -n -S -c 50 -j 2 -T "$storm_pgbench_seconds" \
        -l --aggregate-interval=1 --log-prefix="$out.agg" "$bench_db" >"$out.out" 2>&1 &
    BG_PID=$!
    sleep $((warm + storm_quiet))
    storm_start=$EPOCHREALTIME
    "$idle_tool" "host=127.0.0.1 port=$port dbname=$bench_db user=$crowd_user password=$crowd_password sslmode=disable gssencmode=disable connect_timeout=60" \
        "$storm_n" 256 "$storm_budget" >"$out.logins" 2>&1 &
    idle_pid=$!
    for ((i = 0; i < (storm_budget + 10) * 10; i++)); do
        ready=$(grep -m 1 '^READY' "$out.logins" 2>/dev/null || true)
        [[ -n "$ready" ]] && break
        alive "$idle_pid" || break
        sleep 0.1
    done
    storm_end=$EPOCHREALTIME
    stop_process "$idle_pid" TERM bench_idle_clients
    idle_pid=""
    wait "$BG_PID" || rc=$?
    BG_PID=""
    if [[ -n "$pid" ]] && ! alive "$pid"; then
        note=$(pooler_died "$t" storm)
    elif [[ -z "$ready" ]]; then
        note="bench_idle_clients did not report: $(tail -n 1 "$out.logins" 2>/dev/null)"
    fi
    record storm --scenario storm --label "${label[storm]}" --target "$t" --out "$out.out" \
        --agg-prefix "$out.agg" --ready "$ready" --storm-window "$storm_start $storm_end" \
        --warmup "$warm" --exit-status "$rc" --note "$note"
    python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
}

# Once per run: copy_src holds copy_mb MB of text (rows of 1000 bytes), copy.data the same as
# COPY's text output (what COPY FROM reads back), copy_dst receives it. Unlogged tables: the WAL
# would measure PostgreSQL's disk, not the path through the pooler.
copy_bytes=""
prepare_copy() {
    [[ -n "$copy_bytes" ]] && return 0
    echo "    preparing $copy_mb MB to copy (directly, through the unix socket)"
    "${as_super[@]}" -d "$bench_db" <<SQL
DROP TABLE IF EXISTS copy_src, copy_dst;
CREATE UNLOGGED TABLE copy_src AS SELECT repeat('x', 1000) AS line FROM generate_series(1, $((copy_mb * 1048)));
CREATE UNLOGGED TABLE copy_dst (line text);
ALTER TABLE copy_src OWNER TO $bench_user;
ALTER TABLE copy_dst OWNER TO $bench_user;
SQL
    "${as_super[@]}" -d "$bench_db" -c "\\copy copy_src TO '$work/copy.data'"
    copy_bytes=$(stat -c %s "$work/copy.data")
}

# psql running one COPY through the target; the data goes through COPY's protocol (\copy is
# COPY ... TO STDOUT / FROM STDIN, the file read or written by psql).
copy_through() {
    local port=$1 log=$2 command=$3
    run_bg "$log" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$bench_user" -d "$bench_db" -c "$command"
}

run_copy() {
    local t=$1
    local out=$raw/copy.$t port pid="" rss_before="" hwm_out="" hwm_in="" t0 t1 t2 rc=0 note="" rows
    local ticks0="" ticks1="" ticks2=""
    prepare_copy
    if [[ $t != direct ]]; then
        # Fresh, so that VmHWM is this scenario's peak.
        stop_pooler "$t"
        if ! start_pooler "$t" || ! check_target "$t"; then
            record copy --scenario copy --label "${label[copy]}" --target "$t" --note "$t did not start or refused a login"
            return
        fi
        pid=${pooler_pid[$t]}
        rss_before=$(proc_rss_kb "$pid")
    fi
    port=$(target_port "$t")
    "${as_super[@]}" -d "$bench_db" -c "TRUNCATE copy_dst"
    [[ -n "$pid" ]] && ticks0=$(proc_cpu_ticks "$pid")
    t0=$EPOCHREALTIME
    copy_through "$port" "$out.out.log" "\\copy copy_src TO '/dev/null'" || rc=$?
    t1=$EPOCHREALTIME
    [[ -n "$pid" ]] && hwm_out=$(proc_status_kb "$pid" VmHWM) && ticks1=$(proc_cpu_ticks "$pid")
    ((rc == 0)) && { copy_through "$port" "$out.in.log" "\\copy copy_dst FROM '$work/copy.data'" || rc=$?; }
    t2=$EPOCHREALTIME
    [[ -n "$pid" ]] && hwm_in=$(proc_status_kb "$pid" VmHWM) && ticks2=$(proc_cpu_ticks "$pid")
    rows=$("${as_super[@]}" -d "$bench_db" -Atc "SELECT count(*) FROM copy_dst")
    if [[ -n "$pid" ]] && ! alive "$pid"; then
        note=$(pooler_died "$t" copy)
    elif ((rc != 0)); then
        note="psql exit status $rc: $(tail -q -n 2 "$out.out.log" "$out.in.log" 2>/dev/null | tr '\n' ' ')"
    elif ((rows != copy_mb * 1048)); then
        note="copy_dst has $rows rows, not $((copy_mb * 1048))"
    fi
    record copy --scenario copy --label "${label[copy]}" --target "$t" --bytes "$copy_bytes" \
        --copy-times "$t0 $t1 $t2" --copy-ticks "$ticks0 $ticks1 $ticks2" --clk-tck "$clk_tck" \
        --rss-before-kb "$rss_before" --hwm-out-kb "$hwm_out" --hwm-in-kb "$hwm_in" --note "$note"
    python3 "$bench_dir/record.py" brief <"$records" | tail -n 1
}
