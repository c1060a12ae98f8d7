#!/usr/bin/env bash
# Builds packaging/Dockerfile and runs the image's binary, where a container engine can: docker
# with a reachable daemon, or podman. The Debian 12 base images come from the engine's store or,
# when missing and mmdebstrap is installed, are made locally (mmdebstrap into a tarball, then
# `import`), so no registry is needed; the Dockerfile's apt-get still needs a Debian mirror.
# Skipped (exit 77) with the reason when no engine or no base can be had.
# usage: build_image.sh SOURCE_DIR
set -uo pipefail

repo=$1
engine=""
why=""
if command -v docker >/dev/null; then
    if docker info >/dev/null 2>&1; then engine=docker; else why="docker has no reachable daemon"; fi
else
    why="docker not installed"
fi
if [[ -z "$engine" ]] && command -v podman >/dev/null; then
    if podman info >/dev/null 2>&1; then engine=podman; else why="$why; podman cannot run"; fi
elif [[ -z "$engine" ]]; then
    why="$why; podman not installed"
fi
[[ -n "$engine" ]] || { echo "SKIP: no container engine: $why"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
for base in debian:12 debian:12-slim; do
    "$engine" image inspect "$base" >/dev/null 2>&1 && continue
    command -v mmdebstrap >/dev/null ||
        { echo "SKIP: $engine has no $base image and mmdebstrap is not installed to make one"; exit 77; }
    # The slim base is minbase without documentation; both need apt for the Dockerfile's RUN.
    variant=apt
    extra=()
    [[ $base == *-slim ]] && extra=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*')
    if ! mmdebstrap --quiet --variant="$variant" "${extra[@]}" bookworm "$work/base.tar" >"$work/mmdebstrap.log" 2>&1; then
        echo "SKIP: mmdebstrap could not make $base (no Debian mirror?): $(tail -n 3 "$work/mmdebstrap.log")"
        exit 77
    fi
    "$engine" import "$work/base.tar" "$base" >/dev/null || { echo "FAIL: $engine import of $base"; exit 1; }
    rm -f "$work/base.tar"
done

# An engine that answers may still be unable to start a container (seen here: podman whose crun
# may not set rlimits or finds cgroups in hybrid mode); the Dockerfile's RUN steps need one.
if ! "$engine" run --rm debian:12 true >"$work/run.log" 2>&1; then
    echo "SKIP: $engine cannot start a container here: $(tail -n 1 "$work/run.log")"
    exit 77
fi

tag=sluice:packaging-test
"$engine" build -f "$repo/packaging/Dockerfile" -t "$tag" "$repo" >"$work/build.log" 2>&1 ||
    { echo "FAIL: $engine build:"; tail -n 30 "$work/build.log"; exit 1; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
"$engine" run --rm --entrypoint /usr/bin/sluice "$tag" --version | grep -q '^Sluice ' || fail "the image's sluice does not run"
# The image's own configuration is valid (auth_file emptied: the userlist is mounted in real use).
"$engine" run --rm -e SLUICE_AUTH_FILE= "$tag" --check /etc/sluice/pooler.ini >"$work/check.log" 2>&1 ||
    fail "sluice --check of the image's pooler.ini: $(cat "$work/check.log")"
[[ $("$engine" image inspect -f '{{.Config.User}}' "$tag") == 10001:10001 ]] || fail "the image does not run as 10001"
[[ $("$engine" image inspect -f '{{.Config.StopSignal}}' "$tag") == SIGTERM ]] || fail "StopSignal is not SIGTERM"
"$engine" image rm "$tag" >/dev/null 2>&1 || true
((failures == 0)) && echo "image: ok"
exit $((failures > 0))
