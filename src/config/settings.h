// The [pooler] / [pgbouncer] settings: one typed member per setting and one declarative table
// describing them (DESIGN §5). Everything that needs a setting's name, default, unit or
// reloadability (loader, SHOW CONFIG, SET, reload diff, --settings) reads the table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/result.h"

namespace sluice::config {

// Members are named exactly like the settings so code reads like the ini file.
// Times are seconds (PgBouncer accepts fractions, no unit suffix). Enums hold their canonical
// lowercase spelling; lists hold the text as written (see splitList()).
struct Settings {
    // Generic
    std::string logfile;
    std::string pidfile;
    std::string listen_addr;
    int64_t listen_port = 0;
    std::string http_listen_addr;  // Sluice's own: the metrics and health endpoint
    int64_t http_listen_port = 0;
    std::string unix_socket_dir;
    int64_t unix_socket_mode = 0;
    std::string unix_socket_group;
    std::string user;
    std::string pool_mode;
    int64_t max_client_conn = 0;
    int64_t default_pool_size = 0;
    int64_t min_pool_size = 0;
    int64_t reserve_pool_size = 0;
    double reserve_pool_timeout = 0;
    int64_t max_db_connections = 0;
    int64_t max_db_client_connections = 0;
    int64_t max_user_connections = 0;
    int64_t max_user_client_connections = 0;
    bool server_round_robin = false;
    // Multi-host databases (Sluice's own)
    double host_probe_interval = 0;
    double host_probe_timeout = 0;
    double primary_wait_timeout = 0;
    double max_standby_lag = 0;
    std::string track_extra_parameters;
    std::string ignore_startup_parameters;
    int64_t peer_id = 0;
    bool disable_pqexec = false;
    bool application_name_add_host = false;
    std::string conffile;
    std::string service_name;
    std::string job_name;
    int64_t stats_period = 0;
    int64_t max_prepared_statements = 0;
    int64_t scram_iterations = 0;
    // Authentication
    std::string auth_type;
    std::string auth_hba_file;
    std::string auth_ident_file;
    std::string auth_file;
    std::string auth_user;
    std::string auth_query;
    std::string auth_dbname;
    std::string auth_ldap_options;
    // Logging
    bool syslog = false;
    std::string syslog_ident;
    std::string syslog_facility;
    bool log_connections = false;
    std::string log_format;  // Sluice's own: text | json
    bool log_disconnections = false;
    bool log_pooler_errors = false;
    bool log_stats = false;
    int64_t verbose = 0;
    // Console access
    std::string admin_users;
    std::string stats_users;
    // Sanity checks and timeouts
    std::string server_reset_query;
    bool server_reset_query_always = false;
    double server_check_delay = 0;
    std::string server_check_query;
    bool server_fast_close = false;
    double server_lifetime = 0;
    double server_idle_timeout = 0;
    double server_connect_timeout = 0;
    double server_login_retry = 0;
    double client_login_timeout = 0;
    double autodb_idle_timeout = 0;
    double pool_idle_timeout = 0;
    double dns_max_ttl = 0;
    double dns_nxdomain_ttl = 0;
    double dns_zone_check_period = 0;
    std::string resolv_conf;
    int64_t query_wait_notify = 0;
    std::string login_notify_message;
    double suspend_timeout = 0;
    // TLS
    std::string client_tls_sslmode;
    std::string client_tls_key_file;
    std::string client_tls_cert_file;
    std::string client_tls_ca_file;
    std::string client_tls_protocols;
    std::string client_tls_ciphers;
    std::string client_tls13_ciphers;
    std::string client_tls_ecdhcurve;
    std::string client_tls_dheparams;
    std::string server_tls_sslmode;
    std::string server_tls_ca_file;
    std::string server_tls_key_file;
    std::string server_tls_cert_file;
    std::string server_tls_protocols;
    std::string server_tls_ciphers;
    std::string server_tls13_ciphers;
    // Dangerous timeouts
    double query_timeout = 0;
    double query_wait_timeout = 0;
    double cancel_wait_timeout = 0;
    double client_idle_timeout = 0;
    double idle_transaction_timeout = 0;
    double transaction_timeout = 0;
    // Low-level network
    int64_t pkt_buf = 0;
    int64_t max_packet_size = 0;
    int64_t listen_backlog = 0;
    int64_t sbuf_loopcnt = 0;
    bool so_reuseport = false;
    bool tcp_defer_accept = false;
    int64_t tcp_socket_buffer = 0;
    bool tcp_keepalive = false;
    int64_t tcp_keepcnt = 0;
    int64_t tcp_keepidle = 0;
    int64_t tcp_keepintvl = 0;
    int64_t tcp_user_timeout = 0;
    // Sluice's own
    int64_t workers = 0;
};

enum class Type {
    String,
    Int,
    Bool,
    Time,   // seconds as double
    Enum,   // one of SettingDef::allowed, case-insensitive, stored lowercase
    Octal,  // file mode, e.g. 0777
    List,   // comma-separated, stored as written; items checked against `allowed` when it is non-empty
};

using SettingField =
    std::variant<std::string Settings::*, int64_t Settings::*, bool Settings::*, double Settings::*>;

struct SettingDef {
    std::string_view name;
    Type type = Type::String;
    std::string_view defaultValue;  // as it would be written in the ini file
    std::string_view unit;          // "seconds", "milliseconds", "bytes" or empty
    bool reloadable = true;         // false: only a restart applies a change
    bool supported = true;          // false: parsed and validated, but Sluice ignores it (with a warning)
    std::vector<std::string_view> allowed;
    int64_t min = 0;
    int64_t max = 0;
    std::string_view description;
    SettingField field;
};

// Every setting, in alphabetical order (the order SHOW CONFIG lists them).
const std::vector<SettingDef>& settingTable();
// Case-insensitive; nullptr when no such setting exists.
const SettingDef* findSetting(std::string_view name);

// Parses and validates `value`; on error the message names the allowed values or range.
Status setSetting(Settings& settings, const SettingDef& def, std::string_view value);
// The current value as SHOW CONFIG prints it.
std::string settingValue(const Settings& settings, const SettingDef& def);
// Every member set from its table default through setSetting().
Settings defaultSettings();

// server_check_query's special value (PgBouncer 1.24+, and the default): send an empty query
// ("") as the check. An empty setting means "no check at all".
inline constexpr std::string_view kEmptyQueryMarker = "<empty>";

// The admin console's pseudo-database: PgBouncer's name, and Sluice's own alias.
inline bool isConsoleDatabase(std::string_view name) { return name == "pgbouncer" || name == "sluice"; }

// The items of a List setting: split on commas, trimmed, empty items dropped.
std::vector<std::string> splitList(std::string_view list);

}  // namespace sluice::config
