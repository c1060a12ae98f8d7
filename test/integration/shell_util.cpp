#include "shell_util.h"

#include <sys/wait.h>

#include <cstdio>

namespace sluice::itest {

RunResult run(const std::string& command, int seconds) {
    RunResult result;
    std::string line = "timeout -s KILL " + std::to_string(seconds) + " " + command + " 2>&1";
    FILE* pipe = ::popen(line.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
    int raw = ::pclose(pipe);
    result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    return result;
}

}  // namespace sluice::itest
