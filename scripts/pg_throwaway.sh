# shellcheck shell=bash
# A throwaway PostgreSQL for the demo and the benchmark. Source this file, then:
#
#   pg_start <dir> [port]   initdb into <dir>/pgdata and start it; exports PG_* (below)
#   pg_stop <dir>           fast shutdown of the server started in <dir>
#   free_port               print a TCP port on 127.0.0.1 that nothing listens on
#
# The server trusts its unix socket (in <dir>) and asks for SCRAM-SHA-256 over TCP, so a
# pooler in front of it really authenticates. Durability is switched off: the data is
# thrown away anyway, and fsync would only measure the disk.
#
# After pg_start these are exported:
#   PG_HOST=127.0.0.1  PG_PORT  PG_SOCKET_DIR=<dir>  PG_DATA=<dir>/pgdata  PG_LOG
#   PG_SUPERUSER  PG_PASSWORD  PG_BINDIR
# Settings read from the environment (all optional):
#   PG_SUPERUSER (default sluice), PG_PASSWORD (default sluice-pw),
#   PG_MAX_CONNECTIONS (default 200), PG_EXTRA_CONF (extra postgresql.conf lines),
#   PG_BINDIR (default: pg_config --bindir, else the newest /usr/lib/postgresql/*/bin).
#
# Functions return non-zero on failure instead of exiting, so a sourcing script decides.

_pgt_log() { echo "pg_throwaway: $*" >&2; }

_pgt_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        echo "$PG_BINDIR"
        return
    fi
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null)
        if [[ -x "$dir/initdb" ]]; then
            echo "$dir"
            return
        fi
    fi
    # Debian keeps the server binaries off PATH; take the newest installed major version.
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
        return
    fi
    dir=$(dirname "$(command -v initdb 2>/dev/null)" 2>/dev/null)
    [[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
    return 0  # "not found" is an empty answer, so callers under `set -e` can report it
}

# PostgreSQL refuses to run as root, so as root it runs as this unprivileged user.
_pgt_os_user() {
    if getent passwd postgres >/dev/null; then
        echo postgres
        return
    fi
    if ! getent passwd sluice-test >/dev/null; then
        useradd --system --no-create-home --shell /usr/sbin/nologin sluice-test >/dev/null 2>&1 || return 1
    fi
    echo sluice-test
}

# Runs a PostgreSQL program as the user that may run it; $1 is the working directory
# (the target user may not be able to enter the caller's current directory).
_pgt_run() {
    local cwd=$1
    shift
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$cwd" && runuser -u "$(_pgt_os_user)" -- "$@")
    else
        (cd "$cwd" && "$@")
    fi
}

free_port() {
    local port
    if command -v python3 >/dev/null 2>&1; then
        # Binding port 0 lets the kernel choose a port that is really free right now.
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null)
        if [[ -n "$port" ]]; then
            echo "$port"
            return 0
        fi
    fi
    local attempt
    for attempt in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        # A successful connect means something listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    _pgt_log "no free port found"
    return 1
}

pg_start() {
    local dir=${1:?usage: pg_start <dir> [port]}
    local port=${2:-}
    local bindir
    bindir=$(_pgt_bindir)
    if [[ -z "$bindir" ]]; then
        _pgt_log "PostgreSQL server binaries not found (install postgresql, or set PG_BINDIR)"
        return 1
    fi
    local user=${PG_SUPERUSER:-sluice}
    local password=${PG_PASSWORD:-sluice-pw}
    local data="$dir/pgdata"
    local log="$dir/postgres.log"

    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    data="$dir/pgdata"
    log="$dir/postgres.log"
    if [[ -e "$data" ]]; then
        _pgt_log "$data already exists; pg_start wants a fresh directory"
        return 1
    fi
    if [[ $(id -u) -eq 0 ]]; then
        local os_user
        os_user=$(_pgt_os_user) || {
            _pgt_log "cannot find or create an unprivileged user to run PostgreSQL as"
            return 1
        }
        chown "$os_user": "$dir" || return 1
    fi
    chmod 0700 "$dir"

    local pwfile="$dir/.pgpass-init"
    printf '%s\n' "$password" >"$pwfile"
    [[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$pwfile"
    if ! _pgt_run "$dir" "$bindir/initdb" -D "$data" -U "$user" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1; then
        _pgt_log "initdb failed:"
        cat "$dir/initdb.log" >&2
        rm -f "$pwfile"
        return 1
    fi
    rm -f "$pwfile"

    # Without an explicit port, a race for the chosen port is possible: retry with another.
    local attempt max_attempts=1
    [[ -z "$port" ]] && max_attempts=3
    for ((attempt = 1; attempt <= max_attempts; attempt++)); do
        [[ -z "${2:-}" ]] && { port=$(free_port) || return 1; }
        cat >"$data/postgresql.auto.conf" <<EOF
# written by pg_throwaway.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = ${PG_MAX_CONNECTIONS:-200}
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
${PG_EXTRA_CONF:-}
EOF
        [[ $(id -u) -eq 0 ]] && chown "$(_pgt_os_user)": "$data/postgresql.auto.conf"
        if _pgt_run "$dir" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1; then
            export PG_HOST=127.0.0.1 PG_PORT=$port PG_SOCKET_DIR=$dir PG_DATA=$data PG_LOG=$log
            export PG_SUPERUSER=$user PG_PASSWORD=$password PG_BINDIR=$bindir
            local version
            version=$("$bindir/postgres" --version 2>/dev/null | awk '{print $3}')
            _pgt_log "started PostgreSQL $version: TCP 127.0.0.1:$port (scram-sha-256), socket $dir (trust)," \
                "superuser '$user' password '$password', data $data, log $log"
            return 0
        fi
    done
    _pgt_log "PostgreSQL did not start; its log ($log):"
    tail -n 30 "$log" >&2 2>/dev/null
    return 1
}

pg_stop() {
    local dir=${1:?usage: pg_stop <dir>}
    local data="$dir/pgdata"
    [[ -f "$data/postmaster.pid" ]] || return 0
    local bindir
    bindir=$(_pgt_bindir)
    if _pgt_run "$dir" "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1; then
        _pgt_log "stopped PostgreSQL in $data"
        return 0
    fi
    # A stuck server must not outlive the script that started it.
    local pid
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
    [[ -n "$pid" ]] && kill -QUIT "$pid" 2>/dev/null
    _pgt_log "PostgreSQL in $data did not stop cleanly; sent SIGQUIT to $pid"
    return 1
}
