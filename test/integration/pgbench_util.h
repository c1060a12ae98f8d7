// pgbench for the integration tests: where it is, running a command with a time limit, and
// reading the figures of its report.
#pragma once

#include <string>

namespace sluice::itest {

// PostgreSQL's pgbench ($PG_BINDIR, else the newest under /usr/lib/postgresql); "" if none.
std::string findPgbench();

struct RunResult {
    int status = -1;     // exit status, 128 + N when killed by signal N
    std::string output;  // stdout and stderr
};

// Runs a shell command (its parts already quoted where needed), killed after `seconds`.
RunResult run(const std::string& command, int seconds);

// The number after `label` in pgbench's report, -1 when the line is missing.
long long reported(const std::string& output, const std::string& label);

// pgbench's tables (scale 1) in the shared PostgreSQL's database app, made once per process:
// "" when they are there, else why not.
std::string ensurePgbenchTables();

}  // namespace sluice::itest
