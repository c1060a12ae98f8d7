# shellcheck shell=bash
# Helpers for bench/run.sh: processes (start as the unprivileged user, stop for sure),
# /proc readings (CPU ticks, RSS) and the CPU sampler. Source after scripts/pg_throwaway.sh,
# whose _pgt_os_user names the user PostgreSQL runs as; the poolers run as that user too.

bench_log() { echo "bench: $*" >&2; }
say() { printf '\n==> %s\n' "$*"; }

# PostgreSQL and PgBouncer refuse to run as root, so as root the poolers run as the user
# PostgreSQL runs as. Sets RUNNER to the command prefix: `"${RUNNER[@]}" prog args &` is
# then a simple command, so bash execs it (setpriv execs too; runuser would fork and stay
# the parent) and $! is the pid of the program itself, whose CPU and memory we read.
RUNNER=()
set_runner() {
    RUNNER=()
    if [[ $(id -u) -eq 0 ]]; then
        local user
        user=$(_pgt_os_user) || return 1
        RUNNER=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
    fi
}

# A directory the unprivileged user owns (logs, pidfiles, ini files).
runner_dir() {
    mkdir -p "$1" || return 1
    [[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$1"
    chmod 0755 "$1"
}

# Sets the soft open-files limit of this shell (inherited by everything it starts) to
# $1, or to the hard limit if that is lower; prints the limit in force.
raise_fd_limit() {
    local want=$1 hard
    hard=$(ulimit -Hn)
    if [[ "$hard" != unlimited ]] && ((hard < want)); then
        ulimit -Hn "$want" 2>/dev/null || want=$hard
    fi
    ulimit -n "$want" 2>/dev/null || true
    ulimit -n
}

# utime + stime of a process and all its threads, in clock ticks (getconf CLK_TCK), into
# CPU_TICKS, and utime alone (the process's own code, not the kernel's) into CPU_USER_TICKS;
# no subshell, so the sampler below forks nothing.
CPU_TICKS=0 CPU_USER_TICKS=0
read_cpu_ticks() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    local -a f
    read -r -a f <<<"${stat##*) }"  # the command name may hold spaces and parentheses
    # After "pid (comm) ", field 3 (state) is f[0]; utime and stime are fields 14 and 15.
    CPU_TICKS=$((f[11] + f[12])) CPU_USER_TICKS=${f[11]}
}
proc_cpu_ticks() { read_cpu_ticks "$1" && echo "$CPU_TICKS"; }

# A "<key>: <value> kB" line of /proc/<pid>/status (VmRSS, VmHWM, …): the value in kB.
proc_status_kb() {
    local key value _
    while read -r key value _; do
        if [[ "$key" == "$2:" ]]; then
            echo "$value"
            return 0
        fi
    done 2>/dev/null <"/proc/$1/status"
    return 1
}
# Resident set size in kB.
proc_rss_kb() { proc_status_kb "$1" VmRSS; }

# Writes "<epoch seconds> <cpu ticks> <user-mode cpu ticks>" lines for pid $1 to file $2 every 0.1 s until
# stopped with cpu_sampler_stop. Builtins only (EPOCHREALTIME, read; the pause is a read
# with a timeout on a pipe nobody writes to), so sampling costs next to nothing.
# Sets CPU_SAMPLER_PID.
CPU_SAMPLER_PID=""
cpu_sampler_start() {
    local pid=$1 out=$2
    (
        trap 'exit 0' TERM
        exec {pause}<> <(:)
        while read_cpu_ticks "$pid"; do
            echo "$EPOCHREALTIME $CPU_TICKS $CPU_USER_TICKS"
            read -r -t 0.1 -u "$pause" _ || true
        done
    ) >"$out" &
    CPU_SAMPLER_PID=$!
}
cpu_sampler_stop() {
    [[ -n "$CPU_SAMPLER_PID" ]] || return 0
    kill -TERM "$CPU_SAMPLER_PID" 2>/dev/null || true
    wait "$CPU_SAMPLER_PID" 2>/dev/null || true
    CPU_SAMPLER_PID=""
}

# True while pid $1 runs; an exited child that was not reaped yet (a zombie) does not count.
alive() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Stops a child we started: signal $2 (default INT) first, then TERM, then KILL, 5 s apart.
stop_process() {
    local pid=$1 first=${2:-INT} name=${3:-process} sig i
    [[ -n "$pid" ]] || return 0
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    for sig in "$first" TERM KILL; do
        kill -"$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break 2
            sleep 0.1
        done
        bench_log "$name (pid $pid) still running 5 s after SIG$sig"
    done
    wait "$pid" 2>/dev/null || true
}

# True once a socket listens on TCP port $1 (read from /proc/net/tcp rather than probed
# with a connection, which a pooler would log as a client that went away).
port_listening() {
    local hex sl local_addr remote state rest
    printf -v hex '%04X' "$1"
    while read -r sl local_addr remote state rest; do
        [[ $state == 0A && ${local_addr##*:} == "$hex" ]] && return 0
    done </proc/net/tcp
    return 1
}

# Waits up to $3 seconds (default 10) for pid $2 to listen on port $1.
wait_listening() {
    local port=$1 pid=$2 seconds=${3:-10} i
    for ((i = 0; i < seconds * 10; i++)); do
        alive "$pid" || return 1
        port_listening "$port" && return 0
        sleep 0.1
    done
    return 1
}
