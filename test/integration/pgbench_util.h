// pgbench for the integration tests: where it is, its tables, and the figures of its report.
#pragma once

#include <string>

#include "shell_util.h"

namespace sluice::itest {

// PostgreSQL's pgbench ($PG_BINDIR, else the newest under /usr/lib/postgresql); "" if none.
std::string findPgbench();

// The number after `label` in pgbench's report, -1 when the line is missing.
long long reported(const std::string& output, const std::string& label);

// pgbench's tables (scale 1) in the shared PostgreSQL's database app, made once per process:
// "" when they are there, else why not.
std::string ensurePgbenchTables();

}  // namespace sluice::itest
