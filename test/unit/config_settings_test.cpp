#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "config/config.h"

namespace sluice::config {
namespace {

const SettingDef& def(std::string_view name) {
    const SettingDef* found = findSetting(name);
    if (!found) throw std::runtime_error("no setting " + std::string(name));
    return *found;
}

TEST(ConfigSettings, DefaultsMatchPgBouncer) {
    const Settings s = defaultSettings();
    EXPECT_EQ(s.listen_port, 6432);
    EXPECT_EQ(s.listen_addr, "");
    EXPECT_EQ(s.default_pool_size, 20);
    EXPECT_EQ(s.max_client_conn, 100);
    EXPECT_EQ(s.server_reset_query, "DISCARD ALL");
    EXPECT_DOUBLE_EQ(s.server_lifetime, 3600);
    EXPECT_DOUBLE_EQ(s.server_idle_timeout, 600);
    EXPECT_DOUBLE_EQ(s.query_wait_timeout, 120);
    EXPECT_DOUBLE_EQ(s.client_login_timeout, 60);
    EXPECT_DOUBLE_EQ(s.server_connect_timeout, 15);
    EXPECT_DOUBLE_EQ(s.server_check_delay, 30);
    EXPECT_DOUBLE_EQ(s.server_login_retry, 15);
    EXPECT_DOUBLE_EQ(s.reserve_pool_timeout, 5);
    EXPECT_DOUBLE_EQ(s.autodb_idle_timeout, 3600);
    EXPECT_DOUBLE_EQ(s.cancel_wait_timeout, 10);
    // 1.24 changed the default from "select 1" to an empty query, spelled <empty>.
    EXPECT_EQ(s.server_check_query, "<empty>");
    EXPECT_EQ(s.server_check_query, kEmptyQueryMarker);
    EXPECT_EQ(s.max_packet_size, 2147483647);
    EXPECT_EQ(s.pkt_buf, 4096);
    EXPECT_EQ(s.listen_backlog, 128);
    EXPECT_EQ(s.pool_mode, "session");
    EXPECT_EQ(s.auth_type, "md5");
    EXPECT_EQ(s.unix_socket_dir, "/tmp");
    EXPECT_EQ(s.unix_socket_mode, 0777);
    EXPECT_EQ(s.max_prepared_statements, 200);
    EXPECT_EQ(s.scram_iterations, 4096);
    EXPECT_EQ(s.stats_period, 60);
    EXPECT_EQ(s.sbuf_loopcnt, 5);
    EXPECT_EQ(s.track_extra_parameters, "IntervalStyle");
    EXPECT_EQ(s.client_tls_sslmode, "disable");
    EXPECT_EQ(s.server_tls_sslmode, "prefer");
    EXPECT_EQ(s.client_tls_protocols, "secure");
    EXPECT_EQ(s.syslog_facility, "daemon");
    EXPECT_EQ(s.syslog_ident, "pgbouncer");
    EXPECT_TRUE(s.log_connections);
    EXPECT_TRUE(s.log_disconnections);
    EXPECT_TRUE(s.log_pooler_errors);
    EXPECT_TRUE(s.tcp_keepalive);
    EXPECT_FALSE(s.syslog);
    EXPECT_FALSE(s.so_reuseport);
    EXPECT_EQ(s.peer_id, 0);
    EXPECT_EQ(s.workers, 0) << "workers = auto (a Sluice setting: PgBouncer is one thread)";
    EXPECT_NE(s.auth_query.find("FROM pg_authid WHERE rolname=$1"), std::string::npos);
}

TEST(ConfigSettings, EveryDefaultParsesAndRoundTrips) {
    for (const auto& d : settingTable()) {
        Settings s;
        ASSERT_TRUE(setSetting(s, d, d.defaultValue)) << d.name;
        // What SHOW CONFIG prints must be accepted back unchanged (SET after SHOW).
        const std::string shown = settingValue(s, d);
        Settings again;
        ASSERT_TRUE(setSetting(again, d, shown)) << d.name << " = " << shown;
        EXPECT_EQ(settingValue(again, d), shown) << d.name;
    }
}

TEST(ConfigSettings, TableIsSortedUniqueLowercaseAndDescribed) {
    const auto& table = settingTable();
    ASSERT_GT(table.size(), 90u);
    std::set<std::string_view> names;
    for (size_t i = 0; i < table.size(); ++i) {
        const auto& d = table[i];
        EXPECT_TRUE(names.insert(d.name).second) << "duplicate " << d.name;
        EXPECT_FALSE(d.description.empty()) << d.name;
        EXPECT_TRUE(std::none_of(d.name.begin(), d.name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
        if (i > 0) {
            EXPECT_LT(table[i - 1].name, d.name) << "table must stay alphabetical (SHOW CONFIG order)";
        }
        if (d.type == Type::Enum) {
            EXPECT_FALSE(d.allowed.empty()) << d.name;
            EXPECT_NE(std::find(d.allowed.begin(), d.allowed.end(), d.defaultValue), d.allowed.end()) << d.name;
        }
        if (d.type == Type::Int || d.type == Type::Time) {
            EXPECT_LE(d.min, d.max) << d.name;
        }
    }
}

TEST(ConfigSettings, DocumentedSettingsArePresent) {
    for (std::string_view name :
         {"logfile", "pidfile", "listen_addr", "listen_port", "unix_socket_dir", "unix_socket_mode",
          "unix_socket_group", "user", "pool_mode", "max_client_conn", "default_pool_size", "min_pool_size",
          "reserve_pool_size", "reserve_pool_timeout", "max_db_connections", "max_db_client_connections",
          "max_user_connections", "max_user_client_connections", "server_round_robin", "track_extra_parameters",
          "ignore_startup_parameters", "peer_id", "disable_pqexec", "application_name_add_host", "conffile",
          "service_name", "job_name", "stats_period", "max_prepared_statements", "scram_iterations", "auth_type",
          "auth_hba_file", "auth_ident_file", "auth_file", "auth_user", "auth_query", "auth_dbname",
          "auth_ldap_options", "syslog", "syslog_ident", "syslog_facility", "log_connections", "log_disconnections",
          "log_pooler_errors", "log_stats", "verbose", "admin_users", "stats_users", "server_reset_query",
          "server_reset_query_always", "server_check_delay", "server_check_query", "server_fast_close",
          "server_lifetime", "server_idle_timeout", "server_connect_timeout", "server_login_retry",
          "client_login_timeout", "autodb_idle_timeout", "dns_max_ttl", "dns_nxdomain_ttl", "dns_zone_check_period",
          "resolv_conf", "query_wait_notify", "client_tls_sslmode", "client_tls_key_file", "client_tls_cert_file",
          "client_tls_ca_file", "client_tls_protocols", "client_tls_ciphers", "client_tls13_ciphers",
          "client_tls_ecdhcurve", "client_tls_dheparams", "server_tls_sslmode", "server_tls_ca_file",
          "server_tls_key_file", "server_tls_cert_file", "server_tls_protocols", "server_tls_ciphers",
          "server_tls13_ciphers", "query_timeout", "query_wait_timeout", "cancel_wait_timeout", "client_idle_timeout",
          "idle_transaction_timeout", "transaction_timeout", "pkt_buf", "max_packet_size", "listen_backlog",
          "sbuf_loopcnt", "so_reuseport", "tcp_defer_accept", "tcp_socket_buffer", "tcp_keepalive", "tcp_keepcnt",
          "tcp_keepidle", "tcp_keepintvl", "tcp_user_timeout", "suspend_timeout", "workers"})
        EXPECT_NE(findSetting(name), nullptr) << name;
}

TEST(ConfigSettings, SupportedSetIsExactlyWhatSluiceImplements) {
    const std::set<std::string_view> expected = {
        "logfile", "pidfile", "listen_addr", "listen_port", "unix_socket_dir", "unix_socket_mode", "unix_socket_group",
        "user", "auth_file", "auth_type", "pool_mode", "max_client_conn", "default_pool_size", "syslog",
        "syslog_ident", "syslog_facility", "log_connections", "log_disconnections", "log_pooler_errors", "verbose",
        "server_reset_query", "server_check_query", "server_check_delay", "server_connect_timeout", "server_lifetime",
        "server_idle_timeout", "client_login_timeout", "ignore_startup_parameters", "max_packet_size",
        "listen_backlog", "tcp_keepalive", "tcp_keepcnt", "tcp_keepidle", "tcp_keepintvl", "tcp_user_timeout",
        "pkt_buf", "query_wait_timeout", "query_wait_notify", "server_login_retry", "server_round_robin",
        "track_extra_parameters", "min_pool_size", "reserve_pool_size", "reserve_pool_timeout", "max_db_connections",
        "max_db_client_connections", "max_user_connections", "max_user_client_connections", "query_timeout",
        "client_idle_timeout", "idle_transaction_timeout", "transaction_timeout", "cancel_wait_timeout",
        "server_reset_query_always", "disable_pqexec", "application_name_add_host", "workers", "server_fast_close",
        "admin_users", "stats_users", "stats_period", "log_stats", "http_listen_addr", "http_listen_port", "log_format",
        "client_tls_sslmode", "client_tls_key_file", "client_tls_cert_file", "client_tls_ca_file",
        "client_tls_protocols", "client_tls_ciphers", "client_tls13_ciphers", "client_tls_ecdhcurve",
        "client_tls_dheparams", "server_tls_sslmode", "server_tls_ca_file", "server_tls_key_file",
        "server_tls_cert_file", "server_tls_protocols", "server_tls_ciphers", "server_tls13_ciphers",
        "auth_hba_file", "auth_user", "auth_query", "auth_dbname", "auth_ident_file", "host_probe_interval",
        "host_probe_timeout", "primary_wait_timeout", "max_standby_lag", "max_prepared_statements", "so_reuseport",
        "peer_id"};
    std::set<std::string_view> supported;
    for (const auto& d : settingTable())
        if (d.supported) supported.insert(d.name);
    EXPECT_EQ(supported, expected);
}

TEST(ConfigSettings, RestartOnlySettings) {
    for (std::string_view name : {"listen_addr", "listen_port", "unix_socket_dir", "unix_socket_mode",
                                  "unix_socket_group", "user", "pidfile", "so_reuseport", "pkt_buf",
                                  "listen_backlog", "track_extra_parameters", "workers"})
        EXPECT_FALSE(def(name).reloadable) << name;
    for (std::string_view name : {"pool_mode", "default_pool_size", "max_client_conn", "server_lifetime",
                                  "log_connections", "admin_users", "auth_type", "auth_file", "peer_id"})
        EXPECT_TRUE(def(name).reloadable) << name;
}

TEST(ConfigSettings, UnitsAndTypes) {
    EXPECT_EQ(def("server_lifetime").type, Type::Time);
    EXPECT_EQ(def("server_lifetime").unit, "seconds");
    EXPECT_EQ(def("tcp_user_timeout").unit, "milliseconds");
    EXPECT_EQ(def("pkt_buf").unit, "bytes");
    EXPECT_EQ(def("unix_socket_mode").type, Type::Octal);
    EXPECT_EQ(def("admin_users").type, Type::List);
    EXPECT_EQ(def("pool_mode").type, Type::Enum);
    EXPECT_EQ(def("log_connections").type, Type::Bool);
}

TEST(ConfigSettings, FindSettingIgnoresCase) {
    ASSERT_NE(findSetting("Listen_Port"), nullptr);
    EXPECT_EQ(findSetting("LISTEN_PORT")->name, "listen_port");
    EXPECT_EQ(findSetting("no_such_setting"), nullptr);
    EXPECT_EQ(findSetting(""), nullptr);
}

TEST(ConfigSettings, Booleans) {
    Settings s;
    const auto& d = def("log_connections");
    for (std::string_view yes : {"1", "yes", "on", "true", "TRUE", "On", "Yes"}) {
        s.log_connections = false;
        ASSERT_TRUE(setSetting(s, d, yes)) << yes;
        EXPECT_TRUE(s.log_connections) << yes;
    }
    for (std::string_view no : {"0", "no", "off", "false", "FALSE", "Off"}) {
        s.log_connections = true;
        ASSERT_TRUE(setSetting(s, d, no)) << no;
        EXPECT_FALSE(s.log_connections) << no;
    }
    EXPECT_EQ(settingValue(s, d), "0");
    for (std::string_view bad : {"", "2", "maybe", "yess", " 1", "-1"}) {
        auto status = setSetting(s, d, bad);
        ASSERT_FALSE(status) << bad;
        EXPECT_NE(status.error().message.find("yes, no, on, off, true or false"), std::string::npos);
        EXPECT_NE(status.error().message.find("'log_connections'"), std::string::npos);
    }
}

TEST(ConfigSettings, IntegersAreRangeChecked) {
    Settings s;
    const auto& port = def("listen_port");
    ASSERT_TRUE(setSetting(s, port, "5433"));
    EXPECT_EQ(s.listen_port, 5433);
    ASSERT_TRUE(setSetting(s, port, "+6000"));
    EXPECT_EQ(s.listen_port, 6000);
    for (std::string_view bad : {"0", "65536", "-1", "", "12abc", "1.5", "0x10", "99999999999999999999999", "six"}) {
        auto status = setSetting(s, port, bad);
        ASSERT_FALSE(status) << bad;
        EXPECT_EQ(status.error().message,
                  "invalid value '" + std::string(bad) +
                      "' for setting 'listen_port': expected a whole number between 1 and 65535");
    }
    EXPECT_EQ(s.listen_port, 6000) << "a rejected value must not change the setting";

    ASSERT_TRUE(setSetting(s, def("max_packet_size"), "4294967295"));
    EXPECT_EQ(s.max_packet_size, 4294967295LL);
    EXPECT_FALSE(setSetting(s, def("max_packet_size"), "4294967296"));
    EXPECT_FALSE(setSetting(s, def("peer_id"), "16384"));
    EXPECT_FALSE(setSetting(s, def("workers"), "0"));
    EXPECT_FALSE(setSetting(s, def("pkt_buf"), "100"));
}

TEST(ConfigSettings, TimesAreSecondsWithFractions) {
    Settings s;
    const auto& d = def("server_lifetime");
    ASSERT_TRUE(setSetting(s, d, "0.5"));
    EXPECT_DOUBLE_EQ(s.server_lifetime, 0.5);
    EXPECT_EQ(settingValue(s, d), "0.5");
    ASSERT_TRUE(setSetting(s, d, "3600"));
    EXPECT_EQ(settingValue(s, d), "3600");
    ASSERT_TRUE(setSetting(s, d, "1e2"));
    EXPECT_DOUBLE_EQ(s.server_lifetime, 100);
    ASSERT_TRUE(setSetting(s, d, "0"));
    EXPECT_EQ(settingValue(s, d), "0");
    // PgBouncer takes no unit suffix; we do the same rather than guess.
    for (std::string_view bad : {"10s", "1min", "-1", "", "inf", "nan", "1e400", ".", "1..2", "0x10"}) {
        auto status = setSetting(s, d, bad);
        ASSERT_FALSE(status) << bad;
        EXPECT_NE(status.error().message.find("seconds"), std::string::npos) << status.error().message;
    }
}

TEST(ConfigSettings, EnumsAreCaseInsensitiveAndStoredCanonical) {
    Settings s;
    const auto& mode = def("pool_mode");
    ASSERT_TRUE(setSetting(s, mode, "Transaction"));
    EXPECT_EQ(s.pool_mode, "transaction");
    auto status = setSetting(s, mode, "sessions");
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().message,
              "invalid value 'sessions' for setting 'pool_mode': expected one of session, transaction or statement");
    EXPECT_EQ(s.pool_mode, "transaction");

    for (std::string_view type : {"cert", "md5", "scram-sha-256", "plain", "trust", "any", "hba", "ldap", "pam"})
        EXPECT_TRUE(setSetting(s, def("auth_type"), type)) << type;
    EXPECT_FALSE(setSetting(s, def("auth_type"), "password"));
    for (std::string_view mode2 : {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}) {
        EXPECT_TRUE(setSetting(s, def("client_tls_sslmode"), mode2)) << mode2;
        EXPECT_TRUE(setSetting(s, def("server_tls_sslmode"), mode2)) << mode2;
    }
    EXPECT_FALSE(setSetting(s, def("server_tls_sslmode"), "disabled"));
    EXPECT_TRUE(setSetting(s, def("syslog_facility"), "local7"));
    EXPECT_FALSE(setSetting(s, def("syslog_facility"), "local8"));
}

TEST(ConfigSettings, OctalFileMode) {
    Settings s;
    const auto& d = def("unix_socket_mode");
    ASSERT_TRUE(setSetting(s, d, "0700"));
    EXPECT_EQ(s.unix_socket_mode, 0700);
    EXPECT_EQ(settingValue(s, d), "0700");
    ASSERT_TRUE(setSetting(s, d, "0"));
    EXPECT_EQ(settingValue(s, d), "0");
    for (std::string_view bad : {"0888", "rwx", "", "077777", "-0700"}) EXPECT_FALSE(setSetting(s, d, bad)) << bad;
}

TEST(ConfigSettings, StringsAndListsKeepTheirText) {
    Settings s;
    ASSERT_TRUE(setSetting(s, def("server_reset_query"), ""));
    EXPECT_EQ(s.server_reset_query, "");
    ASSERT_TRUE(setSetting(s, def("admin_users"), "alice, bob ,,carol"));
    EXPECT_EQ(settingValue(s, def("admin_users")), "alice, bob ,,carol");
    EXPECT_EQ(splitList(s.admin_users), (std::vector<std::string>{"alice", "bob", "carol"}));
    EXPECT_TRUE(splitList("").empty());
    EXPECT_TRUE(splitList(" , ,").empty());
    EXPECT_EQ(splitList("one"), std::vector<std::string>{"one"});
}

TEST(ConfigSettings, ChangedSettingsListsOnlyDifferences) {
    Settings before = defaultSettings();
    Settings after = before;
    EXPECT_TRUE(changedSettings(before, after).empty());
    after.listen_port = 7000;
    after.pool_mode = "transaction";
    auto changed = changedSettings(before, after);
    ASSERT_EQ(changed.size(), 2u);
    EXPECT_EQ(changed[0]->name, "listen_port");
    EXPECT_EQ(changed[1]->name, "pool_mode");
}

TEST(ConfigSettings, ApplySettingAtRuntime) {
    Config config;
    ASSERT_TRUE(applySetting(config, "DEFAULT_POOL_SIZE", "50"));
    EXPECT_EQ(config.settings.default_pool_size, 50);

    auto restart = applySetting(config, "listen_port", "7000");
    ASSERT_FALSE(restart);
    EXPECT_EQ(restart.error().sqlstate, "55P02");
    EXPECT_NE(restart.error().message.find("restart"), std::string::npos);
    EXPECT_EQ(config.settings.listen_port, 6432);

    ASSERT_TRUE(applySetting(config, "listen_port", "7000", ApplyMode::Startup));
    EXPECT_EQ(config.settings.listen_port, 7000);

    auto unknown = applySetting(config, "no_such", "1");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().sqlstate, "42704");
    EXPECT_EQ(unknown.error().message, "unknown setting 'no_such'");

    auto bad = applySetting(config, "pool_mode", "bogus");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().sqlstate, "22023");

    EXPECT_TRUE(config.warnings.empty());
    ASSERT_TRUE(applySetting(config, "dns_max_ttl", "5"));
    EXPECT_DOUBLE_EQ(config.settings.dns_max_ttl, 5);
    ASSERT_EQ(config.warnings.size(), 1u);
    EXPECT_EQ(config.warnings[0], "setting dns_max_ttl is not supported yet by Sluice; it is ignored");
}

TEST(ConfigSettings, WorkersTakesANumberOrAuto) {
    const SettingDef* workers = findSetting("workers");
    ASSERT_NE(workers, nullptr);
    Settings settings = defaultSettings();
    EXPECT_EQ(settingValue(settings, *workers), "auto") << "the default: every CPU the process may use";
    ASSERT_TRUE(setSetting(settings, *workers, "1"));
    EXPECT_EQ(settingValue(settings, *workers), "1");
    ASSERT_TRUE(setSetting(settings, *workers, "auto"));
    EXPECT_EQ(settings.workers, 0) << "auto: one worker per CPU, decided at start";
    EXPECT_EQ(settingValue(settings, *workers), "auto");
    ASSERT_TRUE(setSetting(settings, *workers, "4"));
    EXPECT_EQ(settingValue(settings, *workers), "4");
    auto bad = setSetting(settings, *workers, "many");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("or auto"), std::string::npos) << bad.error().message;
    EXPECT_FALSE(setSetting(settings, *workers, "0")) << "0 is not a number of workers";
}

}  // namespace
}  // namespace sluice::config
