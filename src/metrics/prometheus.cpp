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
            if (!isNumber(set->columnType(c))) continue;
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
    family(out, "sluice_up", "gauge", "1 while the pooler answers");
    out += "sluice_up 1\n";
    family(out, "sluice_paused", "gauge", "1 while PAUSE or SUSPEND is in effect");
    out += fmt::format("sluice_paused {}\n", process.paused ? 1 : 0);
    family(out, "sluice_clients", "gauge", "client connections, logging in or logged in");
    out += fmt::format("sluice_clients {}\n", process.clients);
    family(out, "sluice_servers", "gauge", "server connections");
    out += fmt::format("sluice_servers {}\n", process.servers);
    family(out, "sluice_open_fds", "gauge", "open file descriptors of the process");
    out += fmt::format("sluice_open_fds {}\n", process.openFds);
    family(out, "sluice_resident_memory_bytes", "gauge", "resident set size of the process");
    out += fmt::format("sluice_resident_memory_bytes {}\n", process.residentBytes);
    family(out, "sluice_uptime_seconds", "gauge", "seconds since the process started");
    out += fmt::format("sluice_uptime_seconds {:.3f}\n", process.uptimeSeconds);
    family(out, "sluice_config_reloads_total", "counter", "configuration reloads that succeeded");
    out += fmt::format("sluice_config_reloads_total {}\n", process.reloads);
    family(out, "sluice_config_reload_failures_total", "counter", "configuration reloads that failed");
    out += fmt::format("sluice_config_reload_failures_total {}\n", process.reloadFailures);
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
