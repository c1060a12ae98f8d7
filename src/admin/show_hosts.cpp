#include "admin/show_hosts.h"

#include <fmt/format.h>

#include "pool/pool_target.h"

namespace sluice::admin {

namespace {

std::string stateName(const discovery::HostView& view) {
    if (view.fenced) return "fenced";
    switch (view.health) {
        case discovery::Health::Up: return "up";
        case discovery::Health::Down: return "down";
        case discovery::Health::Unknown: break;
    }
    return view.probing ? "probing" : "unknown";
}

}  // namespace

std::vector<HostRow> hostRows(const config::Config& config, const discovery::HostRegistry& registry) {
    std::vector<HostRow> rows;
    for (const auto& [name, entry] : config.databases) {
        const auto attrs = discovery::parseSessionAttrs(entry.targetSessionAttrs);
        const auto hosts = pool::resolveHosts(entry, config.settings);
        if (hosts.size() <= 1 && attrs == discovery::SessionAttrs::Any) continue;
        std::vector<discovery::HostView> views;
        for (const auto& address : hosts) {
            auto state = registry.find(address);
            views.push_back(state ? state->view() : discovery::HostView{});
        }
        uint64_t cursor = 0;
        auto inUse = discovery::chooseHost(views, attrs, discovery::LoadBalance::Disable,
                                           discovery::ChoiceLimits{config.settings.max_standby_lag}, cursor, 0);
        for (size_t i = 0; i < hosts.size(); ++i)
            rows.push_back(HostRow{name, hosts[i], views[i], inUse && *inUse == i});
    }
    return rows;
}

ResultSet showHosts(const std::vector<HostRow>& rows) {
    ResultSet set{{"database", ColumnType::Text},
                  {"host", ColumnType::Text},
                  {"port", ColumnType::Int4},
                  {"role", ColumnType::Text},
                  {"state", ColumnType::Text},
                  {"last_probe", ColumnType::Timestamptz},
                  {"probe_latency_ms", ColumnType::Numeric},
                  {"timeline", ColumnType::Int8},
                  {"replication_lag_s", ColumnType::Numeric},
                  {"servers", ColumnType::Int4},
                  {"in_use", ColumnType::Int4},
                  {"up", ColumnType::Int4},
                  {"is_primary", ColumnType::Int4}};
    for (const auto& row : rows) {
        const auto& view = row.view;
        const bool primary = view.role == discovery::Role::Primary && !view.fenced;
        set.addRow({row.database,
                    row.address.host,
                    row.address.port,
                    std::string(discovery::roleName(view.role)),
                    stateName(view),
                    view.lastProbe == TimePoint{} ? Cell(nullptr) : Cell::time(unixMicros(view.lastProbe)),
                    fmt::format("{:.3f}", view.probeLatencySeconds * 1000),
                    view.timeline == 0 ? Cell(nullptr) : Cell(static_cast<long long>(view.timeline)),
                    view.role == discovery::Role::Standby ? Cell(fmt::format("{:.3f}", view.lagSeconds)) : Cell(nullptr),
                    view.serversOpen,
                    row.inUse ? 1 : 0,
                    view.health == discovery::Health::Up ? 1 : 0,
                    primary ? 1 : 0});
    }
    return set;
}

std::map<std::string, config::HostAddress> hostsInUse(const std::vector<HostRow>& rows) {
    std::map<std::string, config::HostAddress> inUse;
    for (const auto& row : rows)
        if (row.inUse) inUse.emplace(row.database, row.address);
    return inUse;
}

bool failingOverWithin(const std::vector<HostRow>& rows, const std::string& database, double limit) {
    TimePoint since{};
    bool listed = false;
    for (const auto& row : rows) {
        if (row.database != database) continue;
        listed = true;
        if (row.inUse) return false;  // a host qualifies: not between hosts
        if (row.view.failingSince != TimePoint{} && (since == TimePoint{} || row.view.failingSince < since))
            since = row.view.failingSince;
    }
    return listed && since != TimePoint{} && (limit <= 0 || secondsSince(since) < limit);
}

}  // namespace sluice::admin
