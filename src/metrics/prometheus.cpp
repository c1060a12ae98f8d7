#include "metrics/prometheus.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

namespace sluice::metrics {

namespace {

std::string escapeLabel(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

bool isNumber(admin::ColumnType type) {
    return type == admin::ColumnType::Int4 || type == admin::ColumnType::Int8 || type == admin::ColumnType::Numeric;
}

// Which text columns become labels, under which label name.
std::string_view labelName(std::string_view show, std::string_view column) {
    // SHOW DATABASES names its entry "name" and the server's database "database".
    if (show == "databases") return column == "name" ? "database" : std::string_view{};
    if (show == "hosts" && (column == "host" || column == "port")) return column;
    if (column == "database" || column == "user") return column;
    return {};
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string prometheusText(const std::vector<ShowSet>& sets, const ProcessFacts& process) {
    std::string out;
    for (const auto& [show, set] : sets) {
        std::vector<std::pair<std::string_view, size_t>> labels;
        for (size_t c = 0; c < set->columnCount(); ++c)
            if (auto label = labelName(show, set->columnName(c)); !label.empty()) labels.emplace_back(label, c);
        for (size_t c = 0; c < set->columnCount(); ++c) {
            if (!isNumber(set->columnType(c)) || !labelName(show, set->columnName(c)).empty()) continue;
            const std::string& column = set->columnName(c);
            // Totals only grow: counters; everything else (current counts, averages) is a gauge.
            const bool counter = column.rfind("total_", 0) == 0;
            const std::string name = fmt::format("sluice_{}_{}", show, column);
            std::string showName(show);
            for (char& ch : showName) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            family(out, name, counter ? "counter" : "gauge", fmt::format("SHOW {} column {}", showName, column));
            for (const auto& row : set->rows()) {
                if (!row[c]) continue;
                std::string labelText;
                for (const auto& [label, index] : labels) {
                    if (!labelText.empty()) labelText += ',';
                    labelText += fmt::format("{}=\"{}\"", label, escapeLabel(row[index].value_or("")));
                }
                out += labelText.empty() ? fmt::format("{} {}\n", name, *row[c])
                                         : fmt::format("{}{{{}}} {}\n", name, labelText, *row[c]);
            }
        }
    }
    struct Figure {
        const char* name;
        const char* type;
        const char* help;
        std::string value;
    };
    const Figure figures[] = {
        {"sluice_up", "gauge", "1 while the pooler answers", "1"},
        {"sluice_paused", "gauge", "1 while PAUSE or SUSPEND is in effect", process.paused ? "1" : "0"},
        {"sluice_clients", "gauge", "client connections, logging in or logged in", std::to_string(process.clients)},
        {"sluice_servers", "gauge", "server connections", std::to_string(process.servers)},
        {"sluice_open_fds", "gauge", "open file descriptors of the process", std::to_string(process.openFds)},
        {"sluice_resident_memory_bytes", "gauge", "resident set size of the process",
         std::to_string(process.residentBytes)},
        {"sluice_uptime_seconds", "gauge", "seconds since the process started",
         fmt::format("{:.3f}", process.uptimeSeconds)},
        {"sluice_config_reloads_total", "counter", "configuration reloads that succeeded",
         std::to_string(process.reloads)},
        {"sluice_config_reload_failures_total", "counter", "configuration reloads that failed",
         std::to_string(process.reloadFailures)},
        {"sluice_failovers_total", "counter", "times a multi-host database's primary moved to another host",
         std::to_string(process.failovers)},
        {"sluice_host_role_changes_total", "counter", "times a probed host changed role",
         std::to_string(process.roleChanges)},
        {"sluice_server_handoffs_total", "counter",
         "idle servers handed, still logged in, to a client waiting on another worker",
         std::to_string(process.serverHandOffs)},
        {"sluice_server_giveaways_total", "counter",
         "servers closed so that a client waiting on another worker gets a new one (not handed over as they were)",
         std::to_string(process.serverGiveAways)},
    };
    for (const auto& figure : figures) {
        family(out, figure.name, figure.type, figure.help);
        out += fmt::format("{} {}\n", figure.name, figure.value);
    }
    return out;
}

void readProcFacts(ProcessFacts& facts) {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    if (statm >> size >> resident) facts.residentBytes = resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    facts.openFds = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (dirent* entry = readdir(dir))
            if (entry->d_name[0] != '.') ++facts.openFds;
        closedir(dir);
        --facts.openFds;  // the directory stream itself
    }
}

}  // namespace sluice::metrics
