#include "conn/tracked_params.h"

#include <fmt/format.h>

#include "pool/server_params.h"

namespace sluice::conn {

namespace {
constexpr std::string_view kAlwaysTracked[] = {"client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
                                               "standard_conforming_strings", "application_name"};
}

bool listContains(std::string_view list, std::string_view name) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (pool::parameterNamesEqual(item, name)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::string quoteLiteral(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

std::string quoteIdentifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string setStatements(const ParameterChanges& changes) {
    std::string sql;
    for (const auto& [name, value] : changes) sql += fmt::format("SET {} = {};", quoteIdentifier(name), quoteLiteral(value));
    return sql;
}

bool isTrackedParameter(std::string_view name, const config::Settings& settings) {
    for (auto tracked : kAlwaysTracked)
        if (pool::parameterNamesEqual(tracked, name)) return true;
    return listContains(settings.track_extra_parameters, name);
}

void describeParameters(const pool::ServerParams& params, ConnectionRow& row) {
    auto value = [&params](std::string_view name) {
        const std::string* found = params.find(name);
        return found ? *found : std::string();
    };
    row.clientEncoding = value("client_encoding");
    row.standardConformingStrings = value("standard_conforming_strings");
    row.dateStyle = value("DateStyle");
    row.timeZone = value("TimeZone");
}

}  // namespace sluice::conn
