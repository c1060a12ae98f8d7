#!/usr/bin/env bash
# Builds PgBouncer from its release tag, as a reference binary for the bench next to
# Debian's 1.18:
#
#   bench/build_pgbouncer.sh            # → /tmp/pgbouncer-1.25.2/pgbouncer
#   PGBOUNCER_BINARY=/tmp/pgbouncer-1.25.2/pgbouncer make bench
#
# Idempotent: each step is skipped when its result is there (the apt packages, the exported
# source, configure, config.mak, the binary); a finished build just prints the path. The last
# line of the output is the binary's path. When a step fails it says which, and where its log is.
#
# Environment:
#   PGBOUNCER_VERSION   default 1.25.2 (tag pgbouncer_1_25_2)
#   PGBOUNCER_SRC       default /tmp/pgbouncer-$PGBOUNCER_VERSION (source and build, in place)
#   PGBOUNCER_GIT_DIR   a git (bare) repository holding the tag; default: the mirror in
#                       /work/.mirror/pgbouncer+pgbouncer/repo if present, else a clone of
#                       https://github.com/pgbouncer/pgbouncer into /tmp/pgbouncer.git
#   SUBMODULE_MIRRORS   where to look for a submodule's repository (<owner>+<name>/repo), for
#                       tags whose lib/ (libusual) is a submodule; default /work/.mirror.
#                       1.25.2 carries libusual and uthash in its tree: no submodules.
#   CONFIGURE_ARGS      default "--without-cares --with-openssl" (DNS through libevent's evdns)
#
# Needs: autoconf automake libtool pkg-config libevent-dev libssl-dev python3 make gcc git;
# missing ones are installed with apt-get when run as root (not part of scripts/deps.sh).
set -euo pipefail

version=${PGBOUNCER_VERSION:-1.25.2}
tag=pgbouncer_${version//./_}
src=${PGBOUNCER_SRC:-/tmp/pgbouncer-$version}
mirrors=${SUBMODULE_MIRRORS:-/work/.mirror}
configure_args=${CONFIGURE_ARGS:---without-cares --with-openssl}
apt_packages=(autoconf automake libtool pkg-config libevent-dev libssl-dev python3 make gcc git)
logdir=$src.logs
jobs=$(nproc 2>/dev/null || echo 2)

step=""
say() { echo "build_pgbouncer: $*"; }
fail() {
    echo "build_pgbouncer: FAILED at step '$step': $*" >&2
    exit 1
}
on_error() {
    local rc=$2
    echo "build_pgbouncer: FAILED at step '$step' (exit status $rc)${1:+; log: $1}" >&2
    [[ -n "${1:-}" && -f "$1" ]] && tail -n 25 "$1" >&2
    exit "$rc"
}
# run_logged <log> <command...>: the command's output goes to the log; on failure, its tail.
run_logged() {
    local log=$1
    shift
    mkdir -p "$logdir"
    local rc=0
    "$@" >"$log" 2>&1 || rc=$?
    ((rc == 0)) || on_error "$log" "$rc"
}

binary_ok() { [[ -x "$src/pgbouncer" && "$("$src/pgbouncer" -V 2>/dev/null | sed -n 1p)" == "PgBouncer $version" ]]; }

if binary_ok; then
    say "already built: $("$src/pgbouncer" -V | sed -n 1p)"
    echo "$src/pgbouncer"
    exit 0
fi

# ---- packages ---------------------------------------------------------------------------
step="apt packages"
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    ((EUID == 0)) || fail "missing packages ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}"
    say "installing ${missing[*]}"
    run_logged "$logdir/apt-update.log" apt-get update
    run_logged "$logdir/apt-install.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ---- source -----------------------------------------------------------------------------
step="source ($tag)"
if [[ ! -f "$src/configure.ac" ]]; then
    git_dir=${PGBOUNCER_GIT_DIR:-}
    if [[ -z "$git_dir" && -d /work/.mirror/pgbouncer+pgbouncer/repo ]]; then
        git_dir=/work/.mirror/pgbouncer+pgbouncer/repo
    fi
    if [[ -z "$git_dir" ]]; then
        git_dir=/tmp/pgbouncer.git
        if [[ ! -d "$git_dir" ]]; then
            say "cloning https://github.com/pgbouncer/pgbouncer into $git_dir"
            run_logged "$logdir/clone.log" git clone --bare https://github.com/pgbouncer/pgbouncer "$git_dir"
        fi
    fi
    git --git-dir="$git_dir" rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null ||
        fail "tag $tag not in $git_dir (tags there: $(git --git-dir="$git_dir" tag | grep -c .)); fetch a newer snapshot"
    say "exporting $tag ($(git --git-dir="$git_dir" rev-parse --short "$tag^{commit}")) from $git_dir into $src"
    rm -rf "$src" "$src.tmp"
    mkdir -p "$src.tmp"
    git --git-dir="$git_dir" archive "$tag" | tar -x -C "$src.tmp" || fail "git archive $tag failed"
    # Submodules (libusual in lib/ before it was vendored, uthash): git archive leaves their
    # directories empty; export each at the commit the tag pins, from a mirror.
    declare -A sub_url=()
    if git --git-dir="$git_dir" show "$tag:.gitmodules" >"$src.tmp.gitmodules" 2>/dev/null; then
        while read -r key path; do
            key=${key#submodule.}
            sub_url[$path]=$(git config -f "$src.tmp.gitmodules" --get "submodule.${key%.path}.url")
        done < <(git config -f "$src.tmp.gitmodules" --get-regexp '^submodule\..*\.path$')
    fi
    rm -f "$src.tmp.gitmodules"
    while read -r _ type commit path; do
        [[ $type == commit ]] || continue
        url=${sub_url[$path]:-}
        [[ -n "$url" ]] || fail "$path is a submodule at $commit but .gitmodules has no url for it"
        url=${url%.git}
        name=$(basename "$url") owner=$(basename "$(dirname "$url")")
        sub_git=$mirrors/$owner+$name/repo
        [[ -d "$sub_git" ]] || fail "$path is a submodule ($owner/$name at $commit); put a mirror of it at $sub_git"
        say "submodule $path: $owner/$name at ${commit:0:12} from $sub_git"
        mkdir -p "$src.tmp/$path"
        git --git-dir="$sub_git" archive "$commit" | tar -x -C "$src.tmp/$path" ||
            fail "could not export $owner/$name at $commit from $sub_git"
    done < <(git --git-dir="$git_dir" ls-tree -r "$tag")
    [[ -f "$src.tmp/lib/mk/std-autogen.sh" ]] || fail "lib/ (libusual) is missing from the exported tree"
    mv "$src.tmp" "$src"
fi

# ---- autogen, configure, make -----------------------------------------------------------
cd "$src"
step="autogen"
if [[ ! -x configure ]]; then
    say "./autogen.sh (log: $logdir/autogen.log)"
    run_logged "$logdir/autogen.log" ./autogen.sh
fi
step="configure"
if [[ ! -f config.mak ]]; then
    say "./configure $configure_args (log: $logdir/configure.log)"
    # shellcheck disable=SC2086  # the arguments are words on purpose
    run_logged "$logdir/configure.log" ./configure $configure_args
fi
step="make"
say "make -j$jobs pgbouncer (log: $logdir/make.log)"
run_logged "$logdir/make.log" make -j"$jobs" pgbouncer

step="check"
binary_ok || fail "$src/pgbouncer -V says '$("$src/pgbouncer" -V 2>&1 | sed -n 1p)', not 'PgBouncer $version'"
say "built: $("$src/pgbouncer" -V | sed -n 1p) ($(grep -E '^(libevent|adns|tls)' <("$src/pgbouncer" -V) | tr '\n' ';' | sed 's/;$//; s/;/, /g'))"
echo "$src/pgbouncer"
