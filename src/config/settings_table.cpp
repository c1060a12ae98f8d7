// The settings table: names, defaults, units and reloadability follow PgBouncer 1.25's config.md
// and its SHOW CONFIG "changeable" column; only `workers`, `http_listen_addr`,
// `http_listen_port`, `log_format` and the multi-host settings (`host_probe_*`,
// `primary_wait_timeout`, `max_standby_lag`) are Sluice's own.
#include <limits>

#include "config/settings.h"

namespace sluice::config {
namespace {

constexpr bool kReload = true;    // a RELOAD or SET applies a change
constexpr bool kRestart = false;  // only a restart applies a change
constexpr bool kSupported = true;
constexpr bool kIgnored = false;  // accepted for compatibility, not acted on yet

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
constexpr int64_t kUintMax = std::numeric_limits<uint32_t>::max();

SettingDef text(std::string_view name, std::string Settings::*field, std::string_view def, bool reloadable,
                bool supported, std::string_view description) {
    return SettingDef{name, Type::String, def, "", reloadable, supported, {}, 0, 0, description, field};
}

SettingDef list(std::string_view name, std::string Settings::*field, std::string_view def, bool reloadable,
                bool supported, std::string_view description) {
    return SettingDef{name, Type::List, def, "", reloadable, supported, {}, 0, 0, description, field};
}

SettingDef integer(std::string_view name, int64_t Settings::*field, std::string_view def, int64_t min, int64_t max,
                   std::string_view unit, bool reloadable, bool supported, std::string_view description) {
    return SettingDef{name, Type::Int, def, unit, reloadable, supported, {}, min, max, description, field};
}

SettingDef boolean(std::string_view name, bool Settings::*field, std::string_view def, bool reloadable,
                   bool supported, std::string_view description) {
    return SettingDef{name, Type::Bool, def, "", reloadable, supported, {}, 0, 1, description, field};
}

SettingDef seconds(std::string_view name, double Settings::*field, std::string_view def, bool reloadable,
                   bool supported, std::string_view description) {
    return SettingDef{name, Type::Time, def, "seconds", reloadable, supported, {}, 0, kIntMax, description, field};
}

SettingDef choice(std::string_view name, std::string Settings::*field, std::string_view def,
                  std::vector<std::string_view> allowed, bool reloadable, bool supported,
                  std::string_view description) {
    return SettingDef{name, Type::Enum, def, "", reloadable, supported, std::move(allowed), 0, 0, description, field};
}

SettingDef octal(std::string_view name, int64_t Settings::*field, std::string_view def, bool reloadable,
                 bool supported, std::string_view description) {
    return SettingDef{name, Type::Octal, def, "", reloadable, supported, {}, 0, 07777, description, field};
}

const std::vector<std::string_view> kSslModes = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

std::vector<SettingDef> buildTable() {
    using S = Settings;
    return {
        list("admin_users", &S::admin_users, "", kReload, kSupported,
             "users allowed to run every admin console command"),
        boolean("application_name_add_host", &S::application_name_add_host, "0", kReload, kSupported,
                "append the client's address and port to application_name at login"),
        text("auth_dbname", &S::auth_dbname, "", kReload, kSupported,
             "database whose connection runs auth_query"),
        text("auth_file", &S::auth_file, "", kReload, kSupported,
             "file with user names and password secrets"),
        text("auth_hba_file", &S::auth_hba_file, "", kReload, kSupported,
             "pg_hba.conf-style rules used when auth_type is hba"),
        text("auth_ident_file", &S::auth_ident_file, "", kReload, kSupported,
             "user name map file for hba rules"),
        text("auth_ldap_options", &S::auth_ldap_options, "", kReload, kIgnored,
             "LDAP options used when auth_type is ldap"),
        text("auth_query", &S::auth_query,
             "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid "
             "WHERE rolname=$1 AND rolcanlogin",
             kReload, kSupported, "query that fetches a user's password secret from the database"),
        choice("auth_type", &S::auth_type, "md5",
               {"cert", "md5", "scram-sha-256", "plain", "trust", "any", "hba", "ldap", "pam"}, kReload, kSupported,
               "how clients prove who they are"),
        text("auth_user", &S::auth_user, "", kReload, kSupported,
             "user that runs auth_query for users missing from auth_file"),
        seconds("autodb_idle_timeout", &S::autodb_idle_timeout, "3600", kReload, kIgnored,
                "free databases created from the '*' entry after this long unused"),
        seconds("cancel_wait_timeout", &S::cancel_wait_timeout, "10", kReload, kSupported,
                "give up on a cancel request that could not be forwarded in this time"),
        seconds("client_idle_timeout", &S::client_idle_timeout, "0", kReload, kSupported,
                "close clients idle this long (0 = never)"),
        seconds("client_login_timeout", &S::client_login_timeout, "60", kReload, kSupported,
                "close clients that have not finished logging in after this long"),
        text("client_tls13_ciphers", &S::client_tls13_ciphers, "", kReload, kSupported,
             "TLS 1.3 cipher suites offered to clients (empty = client_tls_ciphers)"),
        text("client_tls_ca_file", &S::client_tls_ca_file, "", kReload, kSupported,
             "CA certificates that validate client certificates"),
        text("client_tls_cert_file", &S::client_tls_cert_file, "", kReload, kSupported,
             "certificate presented to clients"),
        text("client_tls_ciphers", &S::client_tls_ciphers, "default", kReload, kSupported,
             "TLS 1.2 and older ciphers offered to clients, OpenSSL syntax"),
        text("client_tls_dheparams", &S::client_tls_dheparams, "auto", kReload, kSupported,
             "DHE key exchange for client TLS: none, auto or legacy"),
        text("client_tls_ecdhcurve", &S::client_tls_ecdhcurve, "auto", kReload, kSupported,
             "elliptic curve for client ECDH: none, auto or a curve name"),
        text("client_tls_key_file", &S::client_tls_key_file, "", kReload, kSupported,
             "private key for client_tls_cert_file"),
        text("client_tls_protocols", &S::client_tls_protocols, "secure", kReload, kSupported,
             "TLS versions accepted from clients"),
        choice("client_tls_sslmode", &S::client_tls_sslmode, "disable", kSslModes, kReload, kSupported,
               "whether clients may or must use TLS"),
        text("conffile", &S::conffile, "", kReload, kIgnored,
             "configuration file read on the next reload (default: the one from the command line)"),
        integer("default_pool_size", &S::default_pool_size, "20", 0, kIntMax, "", kReload, kSupported,
                "server connections per database/user pair unless overridden"),
        boolean("disable_pqexec", &S::disable_pqexec, "0", kRestart, kSupported,
                "reject the simple query protocol"),
        seconds("dns_max_ttl", &S::dns_max_ttl, "15", kReload, kIgnored, "how long DNS answers are cached"),
        seconds("dns_nxdomain_ttl", &S::dns_nxdomain_ttl, "15", kReload, kIgnored,
                "how long DNS failures are cached"),
        seconds("dns_zone_check_period", &S::dns_zone_check_period, "0", kReload, kIgnored,
                "how often DNS zone serials are checked for changes (0 = never)"),
        seconds("host_probe_interval", &S::host_probe_interval, "1", kReload, kSupported,
                "Sluice only: how often each host of a multi-host database is asked its role"),
        seconds("host_probe_timeout", &S::host_probe_timeout, "3", kReload, kSupported,
                "Sluice only: a host that does not answer its probe within this long is down"),
        text("http_listen_addr", &S::http_listen_addr, "*", kRestart, kSupported,
             "Sluice only: address of the HTTP endpoint (/metrics, /health, /ready); '*' = all"),
        integer("http_listen_port", &S::http_listen_port, "0", 0, 65535, "", kRestart, kSupported,
                "Sluice only: port of the HTTP endpoint; 0 = off"),
        seconds("idle_transaction_timeout", &S::idle_transaction_timeout, "0", kReload, kSupported,
                "close clients idle inside a transaction this long (0 = never)"),
        list("ignore_startup_parameters", &S::ignore_startup_parameters, "", kReload, kSupported,
             "startup parameters accepted from clients and otherwise ignored"),
        text("job_name", &S::job_name, "pgbouncer", kRestart, kIgnored, "Windows service name (alias service_name)"),
        list("listen_addr", &S::listen_addr, "", kRestart, kSupported,
             "TCP addresses to listen on; '*' = all, empty = unix socket only"),
        integer("listen_backlog", &S::listen_backlog, "128", 1, kIntMax, "", kRestart, kSupported,
                "backlog passed to listen(2)"),
        integer("listen_port", &S::listen_port, "6432", 1, 65535, "", kRestart, kSupported,
                "port for TCP and the unix socket name"),
        boolean("log_connections", &S::log_connections, "1", kReload, kSupported, "log successful logins"),
        boolean("log_disconnections", &S::log_disconnections, "1", kReload, kSupported,
                "log disconnections with their reason"),
        choice("log_format", &S::log_format, "text", {"text", "json"}, kReload, kSupported,
               "Sluice only: log lines as text (PgBouncer's shape) or as JSON objects"),
        boolean("log_pooler_errors", &S::log_pooler_errors, "1", kReload, kSupported,
                "log the errors the pooler sends to clients"),
        boolean("log_stats", &S::log_stats, "1", kReload, kSupported, "log statistics every stats_period"),
        text("logfile", &S::logfile, "", kReload, kSupported, "file to log to, besides stderr"),
        text("login_notify_message", &S::login_notify_message, "", kReload, kIgnored,
             "notice sent to each client after it logs in"),
        integer("max_client_conn", &S::max_client_conn, "100", 0, kIntMax, "", kReload, kSupported,
                "maximum number of client connections"),
        integer("max_db_client_connections", &S::max_db_client_connections, "0", 0, kIntMax, "", kReload, kSupported,
                "client connections allowed per database, the admin console included (0 = unlimited)"),
        integer("max_db_connections", &S::max_db_connections, "0", 0, kIntMax, "", kReload, kSupported,
                "server connections allowed per database (0 = unlimited)"),
        integer("max_packet_size", &S::max_packet_size, "2147483647", 0, kUintMax, "bytes", kReload, kSupported,
                "largest protocol message let through: a larger one closes the connection, or with prepared "
                "statements on, when it is a Parse, Bind, Describe or Close, fails its batch (54000)"),
        integer("max_prepared_statements", &S::max_prepared_statements, "200", 0, kIntMax, "", kReload, kSupported,
                "prepared statements tracked per server connection in transaction mode (0 = off)"),
        seconds("max_standby_lag", &S::max_standby_lag, "0", kReload, kSupported,
                "Sluice only: standbys replaying further behind than this serve no reads (0 = no limit)"),
        integer("max_user_client_connections", &S::max_user_client_connections, "0", 0, kIntMax, "", kReload,
                kSupported, "client connections allowed per user, on the admin console too (0 = unlimited)"),
        integer("max_user_connections", &S::max_user_connections, "0", 0, kIntMax, "", kReload, kSupported,
                "server connections allowed per user (0 = unlimited)"),
        integer("min_pool_size", &S::min_pool_size, "0", 0, kIntMax, "", kReload, kSupported,
                "keep at least this many server connections open per pool"),
        integer("peer_id", &S::peer_id, "0", 0, 16383, "", kReload, kSupported,
                "this process's id in its [peers] group: put in cancel keys so peers forward cancels here "
                "(0 = no peering)"),
        text("pidfile", &S::pidfile, "", kRestart, kSupported, "file the process id is written to"),
        integer("pkt_buf", &S::pkt_buf, "4096", 512, kIntMax, "bytes", kRestart, kSupported,
                "size of the per-connection packet buffer"),
        seconds("pool_idle_timeout", &S::pool_idle_timeout, "0", kReload, kIgnored,
                "free a pool with no clients and no servers after this long (0 = never)"),
        choice("pool_mode", &S::pool_mode, "session", {"session", "transaction", "statement"}, kReload, kSupported,
               "when a server connection returns to the pool"),
        seconds("primary_wait_timeout", &S::primary_wait_timeout, "0", kReload, kSupported,
                "Sluice only: how long clients wait for a host of the wanted role (0 = query_wait_timeout)"),
        seconds("query_timeout", &S::query_timeout, "0", kReload, kSupported,
                "cancel queries running longer than this (0 = never)"),
        integer("query_wait_notify", &S::query_wait_notify, "5", 0, kIntMax, "seconds", kReload, kSupported,
                "send a NOTICE to a client queued for a server longer than this (0 = never)"),
        seconds("query_wait_timeout", &S::query_wait_timeout, "120", kReload, kSupported,
                "disconnect a client that waited this long for a server (0 = wait forever)"),
        integer("reserve_pool_size", &S::reserve_pool_size, "0", 0, kIntMax, "", kReload, kSupported,
                "extra server connections a pool may open when clients wait too long"),
        seconds("reserve_pool_timeout", &S::reserve_pool_timeout, "5", kReload, kSupported,
                "how long a client waits before the reserve pool is used"),
        text("resolv_conf", &S::resolv_conf, "", kRestart, kIgnored, "resolv.conf used instead of the system one"),
        integer("sbuf_loopcnt", &S::sbuf_loopcnt, "5", 0, kIntMax, "", kReload, kIgnored,
                "buffers processed per connection before serving others (0 = no limit)"),
        integer("scram_iterations", &S::scram_iterations, "4096", 1, kIntMax, "", kReload, kIgnored,
                "PBKDF2 iterations when Sluice makes a SCRAM secret"),
        seconds("server_check_delay", &S::server_check_delay, "30", kReload, kSupported,
                "run server_check_query on servers idle longer than this (0 = on every reuse)"),
        text("server_check_query", &S::server_check_query, "<empty>", kReload, kSupported,
             "query that checks an idle server is alive ('' = no check, <empty> = empty query)"),
        seconds("server_connect_timeout", &S::server_connect_timeout, "15", kReload, kSupported,
                "give up connecting and logging in to a server after this long"),
        boolean("server_fast_close", &S::server_fast_close, "0", kReload, kSupported,
                "close servers marked for reconnect as soon as their transaction ends"),
        seconds("server_idle_timeout", &S::server_idle_timeout, "600", kReload, kSupported,
                "close server connections idle this long (0 = never)"),
        seconds("server_lifetime", &S::server_lifetime, "3600", kReload, kSupported,
                "close unused server connections older than this, at most one per lifetime/pool_size "
                "in a pool (0 = use each once)"),
        seconds("server_login_retry", &S::server_login_retry, "15", kReload, kSupported,
                "wait this long after a failed server login before trying again"),
        text("server_reset_query", &S::server_reset_query, "DISCARD ALL", kReload, kSupported,
             "query that cleans a server before the next client gets it"),
        boolean("server_reset_query_always", &S::server_reset_query_always, "0", kReload, kSupported,
                "run server_reset_query in every pool mode, not only session"),
        boolean("server_round_robin", &S::server_round_robin, "0", kReload, kSupported,
                "reuse idle servers in FIFO instead of LIFO order"),
        text("server_tls13_ciphers", &S::server_tls13_ciphers, "", kReload, kSupported,
             "TLS 1.3 cipher suites offered to servers (empty = server_tls_ciphers)"),
        text("server_tls_ca_file", &S::server_tls_ca_file, "", kReload, kSupported,
             "CA certificates that validate server certificates (empty: the system's trusted CAs)"),
        text("server_tls_cert_file", &S::server_tls_cert_file, "", kReload, kSupported,
             "client certificate presented to servers"),
        text("server_tls_ciphers", &S::server_tls_ciphers, "default", kReload, kSupported,
             "TLS 1.2 and older ciphers offered to servers, OpenSSL syntax"),
        text("server_tls_key_file", &S::server_tls_key_file, "", kReload, kSupported,
             "private key for server_tls_cert_file"),
        text("server_tls_protocols", &S::server_tls_protocols, "secure", kReload, kSupported,
             "TLS versions used towards servers"),
        choice("server_tls_sslmode", &S::server_tls_sslmode, "prefer", kSslModes, kReload, kSupported,
               "whether server connections may or must use TLS"),
        text("service_name", &S::service_name, "pgbouncer", kRestart, kIgnored,
             "Windows service name (alias job_name)"),
        boolean("so_reuseport", &S::so_reuseport, "0", kRestart, kSupported,
                "set SO_REUSEPORT so several processes share the port (a rolling restart: start the new "
                "process, then SIGTERM the old one)"),
        integer("stats_period", &S::stats_period, "60", 1, kIntMax, "seconds", kReload, kSupported,
                "how often averages are computed and statistics logged"),
        list("stats_users", &S::stats_users, "", kReload, kSupported,
             "users allowed to run read-only admin console commands"),
        seconds("suspend_timeout", &S::suspend_timeout, "10", kReload, kIgnored,
                "how long SUSPEND and online restart wait for buffers to drain"),
        boolean("syslog", &S::syslog, "0", kReload, kSupported, "also log to syslog"),
        choice("syslog_facility", &S::syslog_facility, "daemon",
               {"auth", "authpriv", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5",
                "local6", "local7"},
               kReload, kSupported, "syslog facility"),
        text("syslog_ident", &S::syslog_ident, "pgbouncer", kReload, kSupported, "program name sent to syslog"),
        boolean("tcp_defer_accept", &S::tcp_defer_accept, "1", kReload, kIgnored,
                "set TCP_DEFER_ACCEPT on listening sockets"),
        boolean("tcp_keepalive", &S::tcp_keepalive, "1", kReload, kSupported, "turn on TCP keepalive"),
        integer("tcp_keepcnt", &S::tcp_keepcnt, "0", 0, kIntMax, "", kReload, kSupported,
                "keepalive probes before dropping (0 = system default)"),
        integer("tcp_keepidle", &S::tcp_keepidle, "0", 0, kIntMax, "seconds", kReload, kSupported,
                "idle time before the first keepalive probe (0 = system default)"),
        integer("tcp_keepintvl", &S::tcp_keepintvl, "0", 0, kIntMax, "seconds", kReload, kSupported,
                "time between keepalive probes (0 = system default)"),
        integer("tcp_socket_buffer", &S::tcp_socket_buffer, "0", 0, kIntMax, "bytes", kReload, kIgnored,
                "socket send and receive buffer size (0 = system default)"),
        integer("tcp_user_timeout", &S::tcp_user_timeout, "0", 0, kIntMax, "milliseconds", kReload, kSupported,
                "TCP_USER_TIMEOUT for sockets (0 = system default)"),
        list("track_extra_parameters", &S::track_extra_parameters, "IntervalStyle", kRestart, kSupported,
             "more reported parameters kept per client and restored on its server"),
        seconds("transaction_timeout", &S::transaction_timeout, "0", kReload, kSupported,
                "close clients whose transaction lasts longer than this (0 = never)"),
        text("unix_socket_dir", &S::unix_socket_dir, "/tmp", kRestart, kSupported,
             "directory of the unix socket, also used for servers without host (empty = no socket)"),
        text("unix_socket_group", &S::unix_socket_group, "", kRestart, kSupported, "group owning the unix socket"),
        octal("unix_socket_mode", &S::unix_socket_mode, "0777", kRestart, kSupported,
              "file mode of the unix socket"),
        text("user", &S::user, "", kRestart, kSupported, "unix user to switch to after startup"),
        integer("verbose", &S::verbose, "0", 0, kIntMax, "", kReload, kSupported,
                "more logging; 1 is debug, 2 and up are noise"),
        SettingDef{"workers", Type::Int, "auto", "", kRestart, kSupported, {"auto"}, 1, 256,
                   "worker threads, each with its own event loop and listening sockets; auto: one per CPU the process may use (affinity and cgroup CPU quota)",
                   &S::workers},
    };
}

}  // namespace

const std::vector<SettingDef>& settingTable() {
    static const std::vector<SettingDef> table = buildTable();
    return table;
}

}  // namespace sluice::config
