// Running a shell command from a test, with a time limit, and keeping what it printed.
#pragma once

#include <string>

namespace sluice::itest {

struct RunResult {
    int status = -1;     // exit status, 128 + N when killed by signal N
    std::string output;  // stdout and stderr
};

// Runs a shell command (its parts already quoted where needed), killed after `seconds`.
RunResult run(const std::string& command, int seconds);

}  // namespace sluice::itest
