#!/usr/bin/env bash
# The Debian packages whose shared libraries a binary loads: ldd's list mapped to packages with
# `dpkg -S`, one name a line, sorted. The Dockerfile's runtime stage and `make deb`'s Depends
# must name each of them (test/packaging checks both).
#
# usage: scripts/runtime_packages.sh [BINARY]   (default build/sluice)
set -euo pipefail

binary=${1:-build/sluice}
[[ -x "$binary" ]] || { echo "runtime_packages: $binary is not an executable" >&2; exit 2; }
command -v dpkg >/dev/null || { echo "runtime_packages: dpkg not found (not a Debian system)" >&2; exit 2; }

# With merged /usr, ldd's /lib/x86_64-linux-gnu/x.so is /usr/lib/... to dpkg for some packages
# and the other way round for others; the real file's name may be the one dpkg knows.
package_of() {
    local lib=$1 candidate
    for candidate in "$lib" "/usr$lib" "${lib#/usr}" "$(readlink -f "$lib")" "/usr$(readlink -f "$lib")" \
        "$(readlink -f "$lib" | sed 's#^/usr##')"; do
        [[ -n "$candidate" ]] || continue
        if out=$(dpkg -S "$candidate" 2>/dev/null); then
            # "libuv1:amd64: /usr/lib/..." -> libuv1 (diversions print extra lines; take the first)
            head -n 1 <<<"$out" | cut -d: -f1
            return 0
        fi
    done
    echo "runtime_packages: no package owns $lib" >&2
    return 1
}

missing=0
packages=()
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs; do
    if package=$(package_of "$lib"); then packages+=("$package"); else missing=1; fi
done
printf '%s\n' "${packages[@]}" | sort -u
exit "$missing"
