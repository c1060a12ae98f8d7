// PgBouncer 1.25's admin console columns, literally (src/admin.c and src/stats.c at tag
// pgbouncer_1_25_2; where doc/usage.md says otherwise, e.g. PEER_POOLS' first column, the code
// wins, since clients see what it sends): names, order and type OIDs. Shared by the unit tests of the SHOW result sets and
// the integration tests of the console, so that both check against one list.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing_columns {

inline constexpr uint32_t kText = 25, kInt4 = 23, kInt8 = 20, kNumeric = 1700, kTimestamptz = 1184, kBytea = 17;
using Columns = std::vector<std::pair<std::string, uint32_t>>;


inline const Columns kPoolsColumns = {
    {"database", kText},        {"user", kText},          {"cl_active", kInt4},        {"cl_waiting", kInt4},
    {"cl_active_cancel_req", kInt4}, {"cl_waiting_cancel_req", kInt4}, {"sv_active", kInt4},
    {"sv_active_cancel", kInt4}, {"sv_being_canceled", kInt4}, {"sv_idle", kInt4},  {"sv_used", kInt4},
    {"sv_tested", kInt4},       {"sv_login", kInt4},      {"maxwait", kInt4},          {"maxwait_us", kInt4},
    {"pool_mode", kText},       {"load_balance_hosts", kText}};

inline const Columns kSocketColumns = {
    {"type", kText},          {"user", kText},         {"database", kText},
    {"replication", kText},   {"state", kText},        {"addr", kText},
    {"port", kInt4},          {"local_addr", kText},   {"local_port", kInt4},
    {"connect_time", kTimestamptz}, {"request_time", kTimestamptz}, {"wait", kInt4},
    {"wait_us", kInt4},       {"close_needed", kInt4}, {"ptr", kText},
    {"link", kText},          {"remote_pid", kInt4},   {"tls", kText},
    {"application_name", kText}, {"prepared_statements", kInt4}, {"id", kInt4}};

inline Columns socketsColumns() {
    Columns columns = kSocketColumns;
    for (const char* name : {"recv_pos", "pkt_pos", "pkt_remain", "send_pos", "send_remain", "pkt_avail", "send_avail"})
        columns.emplace_back(name, kInt4);
    return columns;
}

inline const Columns kDatabasesColumns = {
    {"name", kText},          {"host", kText},          {"port", kInt4},
    {"database", kText},      {"force_user", kText},    {"pool_size", kInt4},
    {"min_pool_size", kInt4}, {"reserve_pool_size", kInt4}, {"server_lifetime", kInt4},
    {"pool_mode", kText},     {"load_balance_hosts", kText}, {"max_connections", kInt4},
    {"current_connections", kInt4}, {"max_client_connections", kInt4}, {"current_client_connections", kInt4},
    {"paused", kInt4},        {"disabled", kInt4}};

inline const Columns kUsersColumns = {
    {"name", kText},  {"pool_size", kText}, {"reserve_pool_size", kText}, {"pool_mode", kText},
    {"max_user_connections", kInt4}, {"current_connections", kInt4}, {"max_user_client_connections", kInt4},
    {"current_client_connections", kInt4}};

inline const Columns kStatsColumns = {
    {"database", kText},
    {"total_server_assignment_count", kNumeric},
    {"total_xact_count", kNumeric},
    {"total_query_count", kNumeric},
    {"total_received", kNumeric},
    {"total_sent", kNumeric},
    {"total_xact_time", kNumeric},
    {"total_query_time", kNumeric},
    {"total_wait_time", kNumeric},
    {"total_client_parse_count", kNumeric},
    {"total_server_parse_count", kNumeric},
    {"total_bind_count", kNumeric},
    {"avg_server_assignment_count", kNumeric},
    {"avg_xact_count", kNumeric},
    {"avg_query_count", kNumeric},
    {"avg_recv", kNumeric},
    {"avg_sent", kNumeric},
    {"avg_xact_time", kNumeric},
    {"avg_query_time", kNumeric},
    {"avg_wait_time", kNumeric},
    {"avg_client_parse_count", kNumeric},
    {"avg_server_parse_count", kNumeric},
    {"avg_bind_count", kNumeric}};

inline const Columns kStatsTotalsColumns = {
    {"database", kText},           {"server_assignment_count", kNumeric}, {"xact_count", kNumeric},
    {"query_count", kNumeric},     {"bytes_received", kNumeric},          {"bytes_sent", kNumeric},
    {"xact_time", kNumeric},       {"query_time", kNumeric},              {"wait_time", kNumeric},
    {"client_parse_count", kNumeric}, {"server_parse_count", kNumeric},   {"bind_count", kNumeric}};

inline const Columns kStatsAveragesColumns = {
    {"database", kText},           {"server_assignment_count", kNumeric}, {"xact_count", kNumeric},
    {"query_count", kNumeric},     {"bytes_received", kNumeric},          {"bytes_sent", kNumeric},
    {"xact_time", kNumeric},       {"query_time", kNumeric},              {"wait_time", kNumeric},
    {"avg_client_parse_count", kNumeric}, {"avg_server_parse_count", kNumeric}, {"avg_bind_count", kNumeric}};

inline const Columns kTotalsColumns = {{"name", kText}, {"value", kNumeric}};
inline const Columns kListsColumns = {{"list", kText}, {"items", kInt4}};
inline const Columns kConfigColumns = {{"key", kText}, {"value", kText}, {"default", kText}, {"changeable", kText}};
inline const Columns kMemColumns = {{"name", kText}, {"size", kInt4}, {"used", kInt4}, {"free", kInt4}, {"memtotal", kInt4}};
inline const Columns kStateColumns = {{"key", kText}, {"value", kText}};
inline const Columns kVersionColumns = {{"version", kText}};
inline const Columns kFdsColumns = {
    {"fd", kInt4},          {"task", kText},        {"user", kText},      {"database", kText},
    {"addr", kText},        {"port", kInt4},        {"cancel", kInt8},    {"link", kInt4},
    {"client_encoding", kText}, {"std_strings", kText}, {"datestyle", kText}, {"timezone", kText},
    {"password", kText},    {"scram_client_key", kBytea}, {"scram_server_key", kBytea}};
inline const Columns kDnsHostsColumns = {{"hostname", kText}, {"ttl", kInt8}, {"addrs", kText}};
inline const Columns kDnsZonesColumns = {{"zonename", kText}, {"serial", kInt8}, {"count", kInt4}};
inline const Columns kPeersColumns = {{"peer_id", kInt4}, {"host", kText}, {"port", kInt4}, {"pool_size", kInt4}};
inline const Columns kPeerPoolsColumns = {{"peer_id", kInt4}, {"cl_active_cancel_req", kInt4},
                                   {"cl_waiting_cancel_req", kInt4}, {"sv_active_cancel", kInt4},
                                   {"sv_login", kInt4}};

}  // namespace sluice::testing_columns
