// Logging through spdlog in PgBouncer's line shape, so operators' greps keep working:
//   2026-11-22 07:39:16.123 UTC [4242] LOG C-12: app/app@127.0.0.1:50001 login attempt: db=app user=app tls=no
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace sluice::log {

struct Options {
    int verbose = 0;          // 0: LOG and above; 1: DEBUG; 2+: NOISE
    bool quiet = false;       // no stderr output
    std::string logfile;      // empty: none
    bool syslog = false;
    std::string syslogIdent = "sluice";
    std::string syslogFacility = "daemon";
    bool json = false;  // log_format = json: one JSON object per line (not for syslog)
};

// The JSON line for one message (exposed for its unit test): timestamp, pid, level, and for
// "C-12: db/user@addr:port text" messages the connection, database, user and client apart.
std::string jsonLine(std::string_view timestamp, int pid, std::string_view level, std::string_view message);

// (Re)configures the process-wide logger; safe to call again on reload.
void configure(const Options& options);
// Reopens the log file (after logrotate moved it).
void reopen();

}  // namespace sluice::log

// Each line holds a counted reference to the current logger for as long as it is written: a
// reload (configure) replaces the logger while workers log, and spdlog::info() and friends use
// a raw pointer that the replacement frees under them (an ASan run crashed on it after SIGHUP).
#define SLOG_INFO(...) spdlog::default_logger()->info(__VA_ARGS__)
#define SLOG_WARN(...) spdlog::default_logger()->warn(__VA_ARGS__)
#define SLOG_ERROR(...) spdlog::default_logger()->error(__VA_ARGS__)
#define SLOG_FATAL(...) spdlog::default_logger()->critical(__VA_ARGS__)
#define SLOG_DEBUG(...) spdlog::default_logger()->debug(__VA_ARGS__)
#define SLOG_NOISE(...) spdlog::default_logger()->trace(__VA_ARGS__)
