#include "pgbench_util.h"

#include <filesystem>
#include <regex>

#include "pg_server.h"

namespace sluice::itest {

std::string findPgbench() {
    if (const char* env = std::getenv("PG_BINDIR"); env != nullptr && *env != '\0') {
        std::string path = std::string(env) + "/pgbench";
        if (std::filesystem::exists(path)) return path;
    }
    std::string best;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
        std::string path = (entry.path() / "bin" / "pgbench").string();
        if (std::filesystem::exists(path) && path > best) best = path;
    }
    return best;
}

long long reported(const std::string& output, const std::string& label) {
    std::smatch match;
    if (std::regex_search(output, match, std::regex(label + R"(:\s*(\d+))"))) return std::stoll(match[1].str());
    return -1;
}

std::string ensurePgbenchTables() {
    static const std::string outcome = [] {
        const std::string pgbench = findPgbench();
        if (pgbench.empty()) return std::string("pgbench not found under /usr/lib/postgresql/*/bin (install postgresql)");
        const PgServer& pg = sharedPg();
        // Straight to PostgreSQL over its unix socket, as the owner of database app.
        RunResult init = run(pgbench + " -i -s 1 -q -h '" + pg.socketDir() + "' -p " + std::to_string(pg.port()) +
                                 " -U app app",
                             120);
        return init.status == 0 ? std::string() : "pgbench -i failed:\n" + init.output;
    }();
    return outcome;
}

}  // namespace sluice::itest
