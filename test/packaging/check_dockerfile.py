#!/usr/bin/env python3
"""Checks packaging/Dockerfile against the binary: the runtime stage installs exactly the
Debian packages whose shared libraries the binary loads (scripts/runtime_packages.sh: ldd
mapped with dpkg -S), and it has what issue 15 asks for — a Debian 12 build stage, a Debian 12
slim runtime, a non-root numeric USER, the daemon as ENTRYPOINT, STOPSIGNAL SIGTERM, EXPOSE of
the pool and HTTP ports, a HEALTHCHECK on /health.

usage: check_dockerfile.py DOCKERFILE BINARY RUNTIME_PACKAGES_SCRIPT      exit 77: skip (no dpkg)
"""
import re
import shlex
import shutil
import subprocess
import sys

# Linked in by -DSLUICE_SANITIZE=ON builds only; a release image never has them.
SANITIZER_PACKAGES = re.compile(r"^lib(asan|ubsan|lsan|tsan)\d*$")


def stages(text):
    """[(from_line, [instructions])] with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip():
            lines.append(current.strip())
        current = ""
    result = []
    for line in lines:
        if line.upper().startswith("FROM "):
            result.append((line, []))
        elif result:
            result[-1][1].append(line)
    return result


def installed_packages(instructions):
    packages = set()
    for line in instructions:
        if not line.upper().startswith("RUN "):
            continue
        for command in re.split(r"&&|;|\|\|", line[4:]):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                for word in words[words.index("install") + 1:]:
                    if not word.startswith("-"):
                        packages.add(word)
    return packages


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    dockerfile, binary, script = sys.argv[1:]
    if not shutil.which("dpkg") or not shutil.which("ldd"):
        print("SKIP: dpkg or ldd missing: the library to package mapping needs a Debian system")
        return 77
    run = subprocess.run([script, binary], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        print("FAIL: runtime_packages.sh:", run.stderr)
        return 1
    needed = {p for p in run.stdout.split() if not SANITIZER_PACKAGES.match(p)}

    with open(dockerfile) as f:
        text = f.read()
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.MULTILINE))
    all_stages = stages(text)
    failures = []
    if len(all_stages) < 2:
        failures.append("not a multi-stage build")
    else:
        expand = lambda s: re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), s)
        build_from, runtime_from = expand(all_stages[0][0]), expand(all_stages[-1][0])
        if not re.match(r"FROM debian:12(\s|$)", build_from):
            failures.append(f"the build stage is not on debian:12: {build_from}")
        if not re.match(r"FROM debian:12-slim(\s|$)", runtime_from):
            failures.append(f"the runtime stage is not on debian:12-slim: {runtime_from}")
        runtime = all_stages[-1][1]
        installed = installed_packages(runtime)
        for package in sorted(needed - installed):
            failures.append(f"the runtime stage does not install {package}, which the binary needs")
        for package in sorted(installed - needed):
            failures.append(f"the runtime stage installs {package}, which the binary does not load")
        keyword = lambda k: [line for line in runtime if line.split()[0].upper() == k]
        users = keyword("USER")
        if not users or not re.match(r"USER\s+[1-9]\d*(:\d+)?$", users[-1]):
            failures.append("the runtime stage must end as a numeric non-root USER (runAsNonRoot checks uids)")
        if not any('"/usr/bin/sluice"' in line for line in keyword("ENTRYPOINT")):
            failures.append("ENTRYPOINT must run /usr/bin/sluice (exec form)")
        if any("-d" in shlex.split(line) for line in keyword("ENTRYPOINT") + keyword("CMD")):
            failures.append("the daemon must stay in the foreground (no -d)")
        if keyword("STOPSIGNAL") != ["STOPSIGNAL SIGTERM"]:
            failures.append("STOPSIGNAL SIGTERM missing")
        exposed = {w for line in keyword("EXPOSE") for w in line.split()[1:]}
        for port in ("6432", "9127"):
            if port not in exposed:
                failures.append(f"EXPOSE {port} missing")
        if not any("/health" in line for line in keyword("HEALTHCHECK")):
            failures.append("HEALTHCHECK on /health missing")
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print("Dockerfile: ok; runtime packages:", " ".join(sorted(needed)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
