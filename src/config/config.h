// A loaded configuration file: the [pooler] settings, [databases], [users], and the warnings
// found on the way. Loading is all-or-nothing: any error means no Config.
//
// File format (PgBouncer's pgbouncer.ini, read with inih):
//  * [pooler] and [pgbouncer] are the same section; [databases], [users], [peers]; any other
//    section is a warning and its lines are ignored.
//  * Lines starting with ';' or '#' are comments. Like PgBouncer, ';' and '#' later in a line
//    are part of the value, so `connect_query = SELECT 1; SELECT 2` keeps both statements.
//  * Setting names are case-insensitive; database and user names are not. Database and user
//    names with unusual characters may be written in double quotes ("" for a quote).
//  * `%include file` reads another file in place; a relative name is resolved against the
//    directory of the file that includes it (PgBouncer resolves it against the working directory).
//  * Unknown setting: warning "file:line: unknown setting 'x'". Bad value: error
//    "file:line: invalid value 'v' for setting 'x': <what is allowed>".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/database_entry.h"
#include "config/peer_entry.h"
#include "config/settings.h"
#include "config/user_entry.h"
#include "util/result.h"

namespace sluice::config {

struct Config {
    Settings settings = defaultSettings();
    std::map<std::string, DatabaseEntry> databases;
    std::optional<DatabaseEntry> fallbackDatabase;  // the "*" entry; its dbname is empty
    std::map<std::string, UserEntry> users;
    std::map<int, PeerEntry> peers;  // by peer id
    std::vector<std::string> warnings;
    std::string path;
    // "SLUICE_X overrides setting x" for each environment override applied (logged at start).
    std::vector<std::string> overrides;
};

Result<Config> loadConfig(const std::string& path);
// For tests and --check of generated text: `fileName` names the text in messages and is the
// base directory for relative %include.
Result<Config> parseConfigString(std::string_view text, std::string_view fileName);

enum class ApplyMode {
    Runtime,  // admin SET: restart-only settings are refused
    Startup,  // command line overrides (-v, -u): everything may be set
};

// Sets one setting by name (admin SET, command line). A setting Sluice does not support yet is
// applied but adds a warning to config.warnings. Errors carry a SQLSTATE for the admin console.
Status applySetting(Config& config, std::string_view key, std::string_view value,
                    ApplyMode mode = ApplyMode::Runtime);

// Environment overrides (issue 15): SLUICE_<SETTING>=value sets one [pooler] setting, over
// what the file says, through the same table and validation as the file (ApplyMode::Startup:
// restart-only settings too). Applied after every load, so a reload keeps them. A bad value is an
// error naming the variable; a SLUICE_ variable that names no setting is a warning.
using EnvironmentVariables = std::vector<std::pair<std::string, std::string>>;
inline constexpr std::string_view kEnvironmentPrefix = "SLUICE_";
// The process's SLUICE_* variables, in environment order.
EnvironmentVariables sluiceEnvironment();
Status applyEnvironmentOverrides(Config& config, const EnvironmentVariables& variables);

// Settings whose value differs between two snapshots (for RELOAD: log them, refuse or warn about
// the restart-only ones).
std::vector<const SettingDef*> changedSettings(const Settings& before, const Settings& after);

}  // namespace sluice::config
